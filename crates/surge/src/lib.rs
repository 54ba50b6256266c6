//! Issuance-surge detection: is an issuer issuing far more than its own history predicts?
//!
//! In February 2025 Chunghwa Telecom's HiPKI OV TLS CA, normally a few hundred certificates a day,
//! reissued about 11,700 certificates in five days, mostly for names under `gov.tw`, without
//! checking CAA. The Chrome Root Program noticed the surge first. This crate is that check:
//!
//! * counts distinct certificates per issuer per hour, by SCT or entry timestamp, and within an
//!   issuer per validation type, per public suffix and per registered domain
//!   ([`registered_domain`], [`public_suffix`]);
//! * compares sliding windows (1, 2, 4, 8 and 24 hours by default) ending at the evaluation time
//!   with a baseline that has daily and weekly seasonality (the median of the same hour-of-week
//!   over the last four weeks, scaled by a recent-level factor so steady growth is not a surge) and
//!   a robust spread (Poisson noise or the MAD of the same window in past weeks, whichever is
//!   larger);
//! * raises a [`Surge`] when a window is at least `ratio_threshold` times its baseline **and** at
//!   least `min_excess` certificates above it **and** `z_threshold` spreads above it, with the
//!   window, the ratio, the top registered domains and suffixes, and the certificate list. The
//!   surge keeps one stable key while it grows and closes after `quiet_hours` quiet hours.
//!
//! The crate is pure: no clock, no IO. The caller passes each certificate once with its
//! timestamp and evaluates at a time of its choosing, so catching up on history from the logs
//! gives the same results as tailing them live. History can be rebuilt at start-up from stored
//! hourly counts with [`SurgeDetector::seed_hourly`]; per-domain history lives only in memory, in
//! bounded maps (see [`SurgeDetector`] for the memory bound).
//!
//! # Decisions an analyst should know
//!
//! * **One open surge per issuer.** The first dimension that qualifies opens it, the issuer as a
//!   whole first; the suffixes, domains and validation types behind it are in its top lists.
//! * **A surge is measured against the baseline at its start.** Hours inside open or recently
//!   closed surges are never baseline samples, so a five-day surge does not become normal by day
//!   three, and does not mask a second one a week later.
//! * **The start is the first elevated hour** (at least `hot_ratio` × expected and `hot_z`
//!   Poisson deviations above it), not the time of detection. The key
//!   (`issuance_surge:<issuer>:<dimension>:<start hour>`) therefore survives re-evaluation and a
//!   restart that rebuilds the history from hourly counts (for issuer and validation-type
//!   surges; domain and suffix history is not stored, so after a restart such a surge reappears
//!   at the issuer level if it is big enough there).
//! * **New issuers get no baseline** until `min_history_hours` (a week) of history, and raise
//!   nothing by default: a new intermediate routinely takes over its predecessor's whole volume
//!   overnight. `new_issuer_min_certificates` turns on a one-off absolute alarm for them.
//! * **Small issuers** are protected by `min_excess`: two certificates a day becoming thirty is
//!   a large ratio but not a surge.
//!
//! ```
//! use ctwatch_surge::{IssuanceEvent, SurgeConfig, SurgeDetector, registered_domains};
//!
//! let mut detector = SurgeDetector::new(SurgeConfig::default()).unwrap();
//! let issuer = [1u8; 32];
//! let hour0 = 480_000; // hours since the Unix epoch
//! // Three weeks of history: 10 certificates an hour.
//! for hour in hour0..hour0 + 3 * 168 {
//!     detector.seed_hourly(issuer, hour, "ov", 10);
//! }
//! // Then 150 certificates under gov.tw within one hour.
//! let now = hour0 + 3 * 168;
//! for i in 0..150u64 {
//!     let names = [format!("www.agency{i}.gov.tw")];
//!     let domains = registered_domains(&names);
//!     let mut identity = [0u8; 32];
//!     identity[..8].copy_from_slice(&i.to_be_bytes());
//!     detector.observe(&IssuanceEvent {
//!         issuer,
//!         timestamp_ms: now as u64 * 3_600_000 + i * 1000,
//!         validation_type: "ov",
//!         registered_domains: &domains,
//!         cert_identity: identity,
//!     });
//! }
//! let surges = detector.close_hour(now);
//! assert_eq!(surges.len(), 1);
//! assert_eq!(surges[0].top_suffixes[0], ("gov.tw".to_string(), 150));
//! assert!(surges[0].ratio > 10.0);
//! ```

#![forbid(unsafe_code)]

mod baseline;
mod closer;
mod config;
mod detector;
mod domain;
mod series;
mod surge;

pub use closer::{CloserStats, HourCloser};
pub use config::{SurgeConfig, SurgeConfigError};
pub use detector::{DetectorStats, IssuanceEvent, SurgeDetector};
pub use domain::{public_suffix, registered_domain, registered_domains};
pub use surge::{Dimension, SURGE_KIND, Surge, SurgeReason, SurgeStatus};

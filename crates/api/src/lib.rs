//! ctwatch's operator surface: Prometheus metrics and a read-only HTTP API on one listener.
//!
//! - [`metrics::Metrics`] declares every metric family (all `ctwatch_`-prefixed, help texts
//!   naming their labels) on a registry the caller passes in, and implements
//!   [`ctwatch_monitor::MonitorObserver`] and — per log, through [`Metrics::fetch_observer`] —
//!   [`ctwatch_client::FetchObserver`].
//! - [`server`] serves `/metrics`, `/healthz`, `/readyz` and `/api/v1/{findings,issuers,logs}`
//!   with axum, reading the store through a [`ctwatch_monitor::StoreHandle`]. It listens on
//!   loopback unless a bearer token is configured.
//! - [`export`] renders findings as JSON and as the affected-certificate CSV (shared with the
//!   `ctwatch findings` CLI).
//!
//! The crate knows nothing about how logs are fetched or verified: it observes the monitor's
//! events and reads what the store holds.
//!
//! ```no_run
//! # async fn f(store: ctwatch_monitor::StoreHandle) -> Result<(), Box<dyn std::error::Error>> {
//! use ctwatch_api::{ApiConfig, ApiState, Metrics, MetricsConfig, serve};
//! use std::sync::Arc;
//! let registry = prometheus::Registry::new();
//! let metrics = Arc::new(Metrics::new(&registry, MetricsConfig::default())?);
//! let config = ApiConfig::new("127.0.0.1:9898".parse()?);
//! serve(config, ApiState::new(store, metrics), std::future::pending()).await?;
//! # Ok(()) }
//! ```

#![forbid(unsafe_code)]

pub mod export;
pub mod metrics;
pub mod server;

pub use metrics::{CrlFetchResult, Metrics, MetricsConfig, MetricsError};
pub use server::{ApiConfig, ApiError, ApiServer, ApiState, Readiness, WatchedCa, serve};

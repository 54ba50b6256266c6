//! Compromised keys, weak keys, CRLs and revocation deadlines for ctwatch: pure logic, no IO.
//!
//! The monitor fetches CRLs and files and stores state; this crate decides what they mean.
//!
//! - [`keyset`]: [`keyset::CompromisedKeySet`], keys known compromised, indexed by SPKI SHA-256
//!   and by a hash of the key material, with source, time learned and evidence; and
//!   [`keyset::classify_reuse`] for BR 6.1.1.3 (`compromised_key_reuse`).
//! - [`import`]: the `ctwatch keys import FILE` format (hex SPKI SHA-256 lines and PEM keys,
//!   certificates, requests and private keys), bad lines reported with their numbers.
//! - [`weak`]: Fermat, ROCA, shared-prime, small-factor and exponent checks on RSA keys.
//! - [`blocklist`]: lists of known private keys (Debian weak keys, badkeys), loaded by the user.
//! - [`crl`]: bounded CRL parsing with signature, issuer and CRL-number checks.
//! - [`revocation`]: BR 4.9.1.1 deadlines and the on-time / late / unrevoked / moot verdict
//!   (`revocation_overdue`).
//! - [`spki`]: the SubjectPublicKeyInfo decoding and encoding the others share.
//!
//! This crate knows nothing about HTTP, SQLite or the clock: every time is a Unix-seconds
//! argument.
//!
//! ```
//! use ctwatch_keys::keyset::{CompromisedKey, CompromisedKeySet, KeyFingerprints, KeySource};
//!
//! let spki = ctwatch_keys::spki::ed25519_spki(&[7; 32]);
//! let fingerprints = KeyFingerprints::from_spki_der(&spki).unwrap();
//! let mut set = CompromisedKeySet::new();
//! set.insert(CompromisedKey {
//!     fingerprints,
//!     source: KeySource::Manual,
//!     learned_at: 1_700_000_000,
//!     evidence: serde_json::json!({ "note": "leaked in a public repository" }),
//! });
//! assert_eq!(set.lookup(&fingerprints).len(), 1);
//! ```

pub mod blocklist;
pub mod crl;
mod hexser;
pub mod import;
pub mod keyset;
pub mod revocation;
pub mod spki;
pub mod weak;

#[cfg(test)]
mod testkeys;

//! Certificate facts for CT monitoring: pure X.509 work on top of `x509-parser`, no IO.
//!
//! - [`facts::CertFacts`]: what detectors need from a certificate or precertificate (serial,
//!   names, validity, key, policies, extensions, embedded SCTs), with per-field errors kept
//!   rather than failing the whole certificate.
//! - [`identity`]: one identity for a precertificate and its final certificate (TBS without
//!   the poison and SCT-list extensions), precert TBS reconstruction including the
//!   precert-signing-CA case.
//! - [`der`]: the minimal strict DER walker both of the above are built on.
//! - [`sct`]: verification of SCTs embedded in final certificates against log keys.
//!
//! ```no_run
//! let der: &[u8] = &[];
//! match ctwatch_cert::facts::cert_facts(der) {
//!     Ok(facts) => println!("{:?}", facts.dns_names),
//!     Err(e) => println!("malformed: {e}"),
//! }
//! ```

pub mod der;
pub mod facts;
pub mod identity;
pub mod sct;

#[cfg(test)]
mod testutil;

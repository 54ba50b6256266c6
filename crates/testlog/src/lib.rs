//! A real Certificate Transparency log for tests, benchmarks and `ctwatch demo`.
//!
//! It issues real certificates (real DER, real precertificates, real signatures), logs them in
//! one Merkle tree, and serves that tree over HTTP on 127.0.0.1 both as an RFC 6962 log and as a
//! C2SP static-ct-api (tiled) log. It grows when told to and can be told to misbehave.
//!
//! - [`CertFactory`]: a test CA (root + issuing intermediate, ECDSA P-256) issuing
//!   [`LeafSpec`]-described leaves as plain certificates, precertificates and final
//!   certificates with embedded SCTs.
//! - [`TestLog`]: the log itself (a cheaply cloneable handle): add entries, [`TestLog::publish`]
//!   signed heads, set a [`Misbehaviour`], read [`RequestStats`].
//! - [`serve`] / [`serve_local`]: the HTTP server ([`TestLogServer`]); [`log_list_json`] writes a
//!   v3 log list pointing at it.
//!
//! Invariants: entries are visible over HTTP only up to the last published size; both views
//! carry the static-ct-api `leaf_index` extension in every leaf, so they share one tree and one
//! root; only misbehaviours make the served data disagree with the tree.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use ctwatch_ct::sth::LogSigner;
//! use ctwatch_testlog::{CertFactory, LeafSpec, TestLog, now_ms, serve_local};
//!
//! let ca = CertFactory::new("Example CA")?;
//! let log = TestLog::new("argon", LogSigner::generate());
//! let issued = log.issue(&ca, &LeafSpec::new(["www.example.com"]), now_ms(), true)?;
//! log.publish();
//! let server = serve_local(vec![log.clone()]).await?;
//! println!("get-sth at {}ct/v1/get-sth", server.url_rfc6962("argon"));
//! # let _ = issued;
//! server.shutdown().await;
//! # Ok(())
//! # }
//! ```

#![forbid(unsafe_code)]

pub mod ca;
mod der;
mod log;
mod loglist;
mod respond;
mod server;
mod tree;

pub use ca::{
    BasicConstraintsMode, CertError, CertFactory, CrlEntry, LeafSpec, Precert, Serial, SubscriberKey, ValidationLevel,
    encode_sct_list,
};
pub use der::DerError;
pub use log::{
    Endpoint, IssuedCert, ListedAs, LogOptions, Misbehaviour, RateLimit, RequestStats, TestLog, TestLogError, now_ms,
};
pub use loglist::{OPERATOR_NAME, log_list_json, log_list_json_with};
pub use server::{TestLogServer, serve, serve_local};

//! HTTP clients for CT logs: RFC 6962 ([`Rfc6962Client`]) and C2SP static-ct-api
//! ([`StaticClient`]).
//!
//! This crate is the only one that talks to logs. It knows URLs, status codes, retries and
//! request budgets; it does not verify anything beyond "the bytes have the right shape" — the
//! monitor checks signatures and Merkle roots with `ctwatch-ct`.
//!
//! Every request goes through a per-log [`RequestBudget`] (a token bucket that also honours
//! `Retry-After`), is bounded in time ([`HttpConfig::timeout`]) and in size
//! ([`HttpConfig::max_response_bytes`]), and is retried with exponential backoff and jitter on
//! 429, 5xx, timeouts and connection errors. The budget adapts its rate to the log's own
//! limit from the 429s it meets, and a [`BatchSizer`] learns the log's get-entries cap from its
//! short responses.
//!
//! ```no_run
//! # async fn f() -> Result<(), ctwatch_client::FetchError> {
//! use ctwatch_client::{HttpConfig, Rfc6962Client};
//! let client = Rfc6962Client::new("http://127.0.0.1:8080/log/", &HttpConfig::default())?;
//! let sth = client.get_sth().await?;
//! println!("tree size {}", sth.head.tree_size);
//! # Ok(()) }
//! ```

mod batch;
mod budget;
mod http;
mod rfc6962;
mod tiled;

pub use batch::BatchSizer;
pub use budget::RequestBudget;
pub use http::{FetchError, FetchObserver, HttpConfig, NoopObserver, RequestOutcome, get_document};
pub use rfc6962::{RawEntry, Rfc6962Client};
pub use tiled::StaticClient;

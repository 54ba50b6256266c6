//! Alert sinks: pushing ctwatch findings to Alertmanager, to a signed JSON webhook and to a
//! command hook, at least once and without resending what a sink already acknowledged.
//!
//! The pieces:
//! - [`Sink`] is one destination. [`alertmanager::AlertmanagerSink`] posts alerts to
//!   Alertmanager's v2 API and re-sends open findings before they expire there;
//!   [`webhook::WebhookSink`] posts each finding's JSON with an HMAC-SHA256 signature and a dedup
//!   key, retrying with exponential backoff and jitter; [`command::CommandSink`] runs a program
//!   with the finding in environment variables and a JSON file.
//! - [`worker::SinkWorker`] runs delivery passes: for each sink, the findings the store says it
//!   has not acknowledged in their current state (new, seen again, or with a new status) are
//!   delivered, and each one is marked delivered only after the sink acknowledged it (a 2xx
//!   answer, exit status 0). A crash between the two resends the finding: delivery is at least
//!   once, and receivers dedupe with the finding key, `last_seen` and status.
//! - [`config::SinksConfig`] is the `[[sink]]` TOML configuration, validated into sinks by
//!   [`worker::SinkWorker::from_config`].
//!
//! The crate knows nothing of how findings are made or how the store is shared between tasks:
//! the worker reaches the store through [`StoreAccess`], which the daemon implements on its
//! store handle.
//!
//! ```no_run
//! # async fn f(store: impl ctwatch_sinks::StoreAccess) -> Result<(), Box<dyn std::error::Error>> {
//! use ctwatch_sinks::config::SinksConfig;
//! use ctwatch_sinks::worker::{SinkWorker, WorkerOptions};
//! let config: SinksConfig = toml::from_str(
//!     r#"
//!     [[sink]]
//!     type = "alertmanager"
//!     url = "http://127.0.0.1:9093"
//!     "#,
//! )?;
//! let mut worker = SinkWorker::from_config(&config, &WorkerOptions::default(), store)?;
//! let stats = worker.pass().await?;
//! println!("{} delivered", stats.delivered());
//! # Ok(()) }
//! ```

pub mod alertmanager;
pub mod command;
pub mod config;
mod http;
pub mod webhook;
pub mod worker;

use ctwatch_store::{Finding, Store, StoreError};
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

pub use http::RetryPolicy;

/// A boxed future that can move between threads: what [`Sink`] and [`StoreAccess`] return, so
/// both traits stay usable without an async-trait macro.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One destination for findings.
pub trait Sink: Send + Sync + std::fmt::Debug {
    /// The sink's stable name: delivery state is kept per name, so renaming a sink resends
    /// every finding to it.
    fn name(&self) -> &str;

    /// Deliver `findings` at `now` (Unix seconds). Returns one result per finding, in order;
    /// `Ok` means the destination acknowledged that finding.
    fn deliver<'a>(&'a self, findings: &'a [Finding], now: i64) -> BoxFuture<'a, Vec<Result<(), SinkError>>>;

    /// How often findings that are still open must be sent again, or `None` when one
    /// acknowledged delivery per change is enough. Alertmanager forgets alerts that are not
    /// re-sent before they expire.
    fn resend_interval(&self) -> Option<Duration> {
        None
    }
}

/// How the worker reaches the store: run a closure on it off the async runtime (SQLite calls
/// block). The daemon implements this on its shared store handle.
pub trait StoreAccess: Send + Sync {
    /// Run `f` with the store and return its result.
    fn with_store<R, F>(&self, f: F) -> BoxFuture<'_, Result<R, StoreError>>
    where
        R: Send + 'static,
        F: FnOnce(&mut dyn Store) -> Result<R, StoreError> + Send + 'static;
}

/// Why a delivery of one finding failed. The finding stays pending and the next pass tries
/// again.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SinkError {
    /// The request never got an HTTP answer (connection refused, timeout, TLS failure).
    #[error("POST {url}: no answer after {attempts} attempt(s): {message}")]
    Request { url: String, attempts: u32, message: String },
    /// The destination answered with a status other than 2xx.
    #[error("POST {url}: HTTP {status} after {attempts} attempt(s): {body}")]
    Status { url: String, status: u16, attempts: u32, body: String },
    /// The command could not be started or waited for.
    #[error("command {command}: {message}")]
    Command { command: String, message: String },
    /// The command ran and exited unsuccessfully.
    #[error("command {command} exited with {status}: {stderr}")]
    CommandFailed { command: String, status: String, stderr: String },
    /// The command did not finish in time and was killed.
    #[error("command {command} did not finish within {seconds} s and was killed")]
    CommandTimeout { command: String, seconds: f64 },
    /// The finding could not be encoded for the sink (e.g. a timestamp out of range).
    #[error("finding {finding_id}: {detail}")]
    Encode { finding_id: i64, detail: String },
}

/// The current time in Unix seconds (0 if the clock is before 1970).
pub(crate) fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Cut `text` to at most `max` bytes on a character boundary, marking the cut.
pub(crate) fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

#[cfg(test)]
mod tests {
    use super::truncate;

    #[test]
    fn truncate_respects_char_boundaries() {
        assert_eq!(truncate("short", 10), "short");
        assert_eq!(truncate("abcdef", 3), "abc…");
        // "é" is two bytes: a cut in its middle moves back before it.
        assert_eq!(truncate("aé", 2), "a…");
    }
}

//! HTTP delivery shared by the Alertmanager and webhook sinks: one POST, retried with
//! exponential backoff and jitter on network errors, 5xx and 429.

use crate::{SinkError, truncate};
use rand::Rng;
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderValue, RETRY_AFTER};
use std::time::Duration;

/// The `User-Agent` of every request.
pub(crate) const USER_AGENT: &str = concat!("ctwatch/", env!("CARGO_PKG_VERSION"));

/// How much of an error response body is kept in the error message.
const ERROR_BODY_BYTES: usize = 512;

/// How one HTTP delivery is retried within a pass. A delivery that still fails after
/// `max_attempts` is not given up: the finding stays pending and the next pass starts over.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Attempts per delivery and pass (at least 1).
    pub max_attempts: u32,
    /// Delay before the first retry; it doubles with every further retry.
    pub initial_backoff: Duration,
    /// Largest delay between two attempts; also caps a server's `Retry-After`.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy { max_attempts: 4, initial_backoff: Duration::from_secs(1), max_backoff: Duration::from_secs(30) }
    }
}

impl RetryPolicy {
    /// The delay before retry number `retry` (0 for the first retry): `initial_backoff × 2^retry`
    /// capped at `max_backoff`, then scaled by a random factor in [0.5, 1] so that senders that
    /// failed together do not retry in step.
    pub fn backoff(&self, retry: u32) -> Duration {
        let factor = 2u32.saturating_pow(retry.min(31));
        let ceiling = self.initial_backoff.saturating_mul(factor).min(self.max_backoff);
        ceiling.mul_f64(rand::rng().random_range(0.5..=1.0))
    }
}

/// POST `body` to `url` with `headers` (plus JSON content type and user agent), retrying per
/// `policy`. `Ok` only for a 2xx answer.
pub(crate) async fn post_with_retry(
    client: &reqwest::Client,
    url: &str,
    body: &[u8],
    headers: &HeaderMap,
    policy: &RetryPolicy,
) -> Result<(), SinkError> {
    let max_attempts = policy.max_attempts.max(1);
    let mut attempt = 0;
    loop {
        attempt += 1;
        let sent = client
            .post(url)
            .headers(headers.clone())
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .body(body.to_vec())
            .send()
            .await;
        let (error, retry_after) = match sent {
            Ok(response) if response.status().is_success() => return Ok(()),
            Ok(response) => {
                let status = response.status();
                let retry_after = retry_after(response.headers());
                let text = response.text().await.unwrap_or_default();
                let error = SinkError::Status {
                    url: url.to_string(),
                    status: status.as_u16(),
                    attempts: attempt,
                    body: truncate(text.trim(), ERROR_BODY_BYTES),
                };
                if !is_retryable(status) {
                    return Err(error);
                }
                (error, retry_after)
            }
            Err(e) => {
                let message = error_chain(&e);
                (SinkError::Request { url: url.to_string(), attempts: attempt, message }, None)
            }
        };
        if attempt >= max_attempts {
            return Err(error);
        }
        let delay = policy.backoff(attempt - 1).max(retry_after.unwrap_or_default().min(policy.max_backoff));
        tracing::debug!(url, attempt, delay_ms = delay.as_millis() as u64, %error, "delivery failed, retrying");
        tokio::time::sleep(delay).await;
    }
}

/// 5xx and 429 are worth retrying at once; other statuses are the request's fault.
fn is_retryable(status: StatusCode) -> bool {
    status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS
}

/// A `Retry-After` given in seconds (the HTTP-date form is ignored).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let seconds: u64 = headers.get(RETRY_AFTER)?.to_str().ok()?.trim().parse().ok()?;
    Some(Duration::from_secs(seconds))
}

/// An error with its sources, which is where reqwest says what actually went wrong.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        let policy = RetryPolicy {
            max_attempts: 10,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(1000),
        };
        for _ in 0..50 {
            let first = policy.backoff(0);
            assert!((Duration::from_millis(50)..=Duration::from_millis(100)).contains(&first), "{first:?}");
            let third = policy.backoff(2);
            assert!((Duration::from_millis(200)..=Duration::from_millis(400)).contains(&third), "{third:?}");
            let late = policy.backoff(40);
            assert!((Duration::from_millis(500)..=Duration::from_millis(1000)).contains(&late), "{late:?}");
        }
    }

    #[test]
    fn retryable_statuses() {
        assert!(is_retryable(StatusCode::SERVICE_UNAVAILABLE));
        assert!(is_retryable(StatusCode::TOO_MANY_REQUESTS));
        assert!(!is_retryable(StatusCode::BAD_REQUEST));
        assert!(!is_retryable(StatusCode::UNAUTHORIZED));
    }

    #[test]
    fn retry_after_in_seconds_only() {
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers), None);
        headers.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(7)));
        headers.insert(RETRY_AFTER, HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"));
        assert_eq!(retry_after(&headers), None);
    }
}

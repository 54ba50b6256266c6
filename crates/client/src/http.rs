//! The one place requests are sent: budget, timeout, bounded body, retries with backoff.

use crate::budget::RequestBudget;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// HTTP behaviour shared by every log client.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Whole-request timeout (connect + headers + body).
    pub timeout: Duration,
    /// Responses larger than this are refused: a log cannot make us allocate without bound.
    pub max_response_bytes: usize,
    /// Attempts per request before giving up (1 = no retry).
    pub max_attempts: u32,
    /// First backoff delay; doubled per attempt, with full jitter.
    pub backoff_base: Duration,
    /// Backoff ceiling, also the ceiling for a `Retry-After` we honour.
    pub backoff_max: Duration,
    pub user_agent: String,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            timeout: Duration::from_secs(30),
            max_response_bytes: 16 << 20,
            max_attempts: 6,
            backoff_base: Duration::from_millis(250),
            backoff_max: Duration::from_secs(120),
            user_agent: concat!("ctwatch/", env!("CARGO_PKG_VERSION")).to_string(),
        }
    }
}

/// Why a fetch failed after its retries.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("invalid log URL {url:?}: {detail}")]
    BadUrl { url: String, detail: String },
    #[error("{url}: HTTP {status}")]
    Status { url: String, status: u16 },
    #[error("{url}: rate limited (HTTP 429) after {attempts} attempts")]
    RateLimited { url: String, attempts: u32 },
    #[error("{url}: timed out after {timeout:?}")]
    Timeout { url: String, timeout: Duration },
    #[error("{url}: {detail}")]
    Network { url: String, detail: String },
    #[error("{url}: response larger than {limit} bytes")]
    TooLarge { url: String, limit: usize },
    #[error("{url}: malformed response: {detail}")]
    Malformed { url: String, detail: String },
}

impl FetchError {
    /// Whether the log (rather than the network or our limits) answered wrongly.
    pub fn is_log_misbehaviour(&self) -> bool {
        matches!(self, FetchError::Malformed { .. } | FetchError::TooLarge { .. })
    }
}

/// What happened to one HTTP attempt, for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestOutcome {
    /// HTTP status received.
    Status(u16),
    Timeout,
    NetworkError,
    TooLarge,
}

/// Receives one call per HTTP attempt. The daemon implements it with Prometheus counters.
pub trait FetchObserver: Send + Sync + std::fmt::Debug {
    fn on_attempt(&self, endpoint: &'static str, outcome: RequestOutcome, elapsed: Duration);
}

/// An observer that ignores everything.
#[derive(Debug, Default)]
pub struct NoopObserver;

impl FetchObserver for NoopObserver {
    fn on_attempt(&self, _: &'static str, _: RequestOutcome, _: Duration) {}
}

/// The HTTP machinery of one log.
#[derive(Debug, Clone)]
pub(crate) struct Transport {
    client: reqwest::Client,
    pub(crate) config: HttpConfig,
    pub(crate) budget: Arc<RequestBudget>,
    pub(crate) observer: Arc<dyn FetchObserver>,
}

/// A successful body, or a final non-retryable status.
pub(crate) enum Body {
    Ok(Vec<u8>),
    NotFound,
}

impl Transport {
    pub(crate) fn new(config: &HttpConfig) -> Result<Self, FetchError> {
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .user_agent(config.user_agent.clone())
            // Redirects are not followed: a log that redirects is misconfigured, and following
            // them would let a log point us at arbitrary hosts.
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(16)
            .build()
            .map_err(|e| FetchError::Network { url: String::new(), detail: e.to_string() })?;
        Ok(Transport {
            client,
            config: config.clone(),
            budget: Arc::new(RequestBudget::unlimited()),
            observer: Arc::new(NoopObserver),
        })
    }

    /// GET `url` with retries. 404 is returned as [`Body::NotFound`] when `allow_404`.
    pub(crate) async fn get(&self, endpoint: &'static str, url: &str, allow_404: bool) -> Result<Body, FetchError> {
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let sent_at = self.budget.acquire().await;
            let started = Instant::now();
            let result = self.get_once(url).await;
            let outcome = match &result {
                Ok((status, _, _)) => RequestOutcome::Status(*status),
                Err(FetchError::Timeout { .. }) => RequestOutcome::Timeout,
                Err(FetchError::TooLarge { .. }) => RequestOutcome::TooLarge,
                Err(_) => RequestOutcome::NetworkError,
            };
            self.observer.on_attempt(endpoint, outcome, started.elapsed());
            let retry_after;
            let err = match result {
                Ok((200, body, _)) => {
                    self.budget.on_success(sent_at);
                    return Ok(Body::Ok(body));
                }
                Ok((404, _, _)) if allow_404 => return Ok(Body::NotFound),
                Ok((429, _, ra)) => {
                    retry_after = ra;
                    FetchError::RateLimited { url: url.to_string(), attempts: attempt }
                }
                Ok((status, _, ra)) if status >= 500 => {
                    retry_after = ra;
                    FetchError::Status { url: url.to_string(), status }
                }
                Ok((status, _, _)) => return Err(FetchError::Status { url: url.to_string(), status }),
                Err(e @ FetchError::TooLarge { .. }) => return Err(e),
                Err(e) => {
                    retry_after = None;
                    e
                }
            };
            if attempt >= self.config.max_attempts {
                return Err(err);
            }
            let delay = match retry_after {
                Some(ra) => ra.min(self.config.backoff_max),
                None => backoff_delay(&self.config, attempt, rand::random::<f64>()),
            };
            tracing::debug!(url, attempt, ?delay, error = %err, "retrying");
            // A 429 or Retry-After concerns the whole log: pause every task of it (and, for a
            // 429, adapt the request rate to the log's limit).
            if matches!(err, FetchError::RateLimited { .. }) {
                self.budget.on_rate_limited(sent_at, delay);
            } else if retry_after.is_some() {
                self.budget.pause(delay);
            } else {
                tokio::time::sleep(delay).await;
            }
        }
    }

    async fn get_once(&self, url: &str) -> Result<(u16, Vec<u8>, Option<Duration>), FetchError> {
        let map_err = |e: reqwest::Error| {
            if e.is_timeout() {
                FetchError::Timeout { url: url.to_string(), timeout: self.config.timeout }
            } else {
                FetchError::Network { url: url.to_string(), detail: error_chain(&e) }
            }
        };
        let mut resp = self.client.get(url).send().await.map_err(map_err)?;
        let status = resp.status().as_u16();
        let retry_after =
            resp.headers().get(reqwest::header::RETRY_AFTER).and_then(|v| v.to_str().ok()).and_then(parse_retry_after);
        let limit = self.config.max_response_bytes;
        if resp.content_length().is_some_and(|len| len > limit as u64) {
            return Err(FetchError::TooLarge { url: url.to_string(), limit });
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(map_err)? {
            if body.len() + chunk.len() > limit {
                return Err(FetchError::TooLarge { url: url.to_string(), limit });
            }
            body.extend_from_slice(&chunk);
        }
        Ok((status, body, retry_after))
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(inner) = cur {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        cur = inner.source();
    }
    s
}

/// `Retry-After` as delta-seconds. (HTTP-dates are rare from logs; they are ignored and the
/// regular backoff applies.)
fn parse_retry_after(v: &str) -> Option<Duration> {
    v.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// Exponential backoff with full jitter: uniform in `[0, min(max, base·2^(attempt-1))]`, but
/// never less than 10 ms so a tight loop is impossible.
fn backoff_delay(config: &HttpConfig, attempt: u32, unit_random: f64) -> Duration {
    let exp = config.backoff_base.saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
    let cap = exp.min(config.backoff_max);
    cap.mul_f64(unit_random.clamp(0.0, 1.0)).max(Duration::from_millis(10))
}

/// GET a document (a log list) with the same limits and retries as log requests.
pub async fn get_document(url: &str, config: &HttpConfig) -> Result<Vec<u8>, FetchError> {
    let lower = url.to_ascii_lowercase();
    if !(lower.starts_with("http://") || lower.starts_with("https://")) {
        return Err(FetchError::BadUrl { url: url.to_string(), detail: "scheme must be http or https".into() });
    }
    match Transport::new(config)?.get("document", url, false).await? {
        Body::Ok(b) => Ok(b),
        Body::NotFound => Err(FetchError::Status { url: url.to_string(), status: 404 }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_parses_seconds_only() {
        assert_eq!(parse_retry_after("5"), Some(Duration::from_secs(5)));
        assert_eq!(parse_retry_after(" 12 "), Some(Duration::from_secs(12)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
        assert_eq!(parse_retry_after("-1"), None);
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let c = HttpConfig {
            backoff_base: Duration::from_millis(100),
            backoff_max: Duration::from_secs(1),
            ..Default::default()
        };
        assert_eq!(backoff_delay(&c, 1, 1.0), Duration::from_millis(100));
        assert_eq!(backoff_delay(&c, 3, 1.0), Duration::from_millis(400));
        assert_eq!(backoff_delay(&c, 10, 1.0), Duration::from_secs(1));
        assert_eq!(backoff_delay(&c, 40, 1.0), Duration::from_secs(1));
        assert_eq!(backoff_delay(&c, 3, 0.0), Duration::from_millis(10));
    }
}

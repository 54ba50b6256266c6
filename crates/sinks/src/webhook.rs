//! A generic JSON webhook: each finding is POSTed on its own as the finding's JSON (`id`, `key`,
//! `kind`, `severity`, `ca`, `issuer`, `certificate_count`, `first_seen`, `last_seen`, `status`,
//! `evidence`), with two headers:
//!
//! - `X-Ctwatch-Signature: sha256=<hex>`: HMAC-SHA256 of the exact body bytes under the shared
//!   secret. Receivers recompute it and compare in constant time.
//! - `X-Ctwatch-Delivery: <finding key>:<last_seen>:<status>`: the same for every delivery of the
//!   same state of a finding. Delivery is at least once (a crash after the receiver answered but
//!   before ctwatch recorded it resends), so receivers dedupe on this value. The status is part
//!   of it so that resolving a finding is not mistaken for a duplicate. Bytes outside printable
//!   ASCII and `%` are percent-encoded.
//!
//! Network errors, 5xx and 429 are retried with exponential backoff and jitter
//! ([`RetryPolicy`]); a finding still failing stays pending for the next pass.

use crate::http::{USER_AGENT, post_with_retry};
use crate::{BoxFuture, RetryPolicy, Sink, SinkError};
use ctwatch_store::Finding;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use ring::hmac;
use std::fmt::Write as _;
use std::time::Duration;

/// The signature header.
pub const SIGNATURE_HEADER: &str = "x-ctwatch-signature";
/// The dedup-key header.
pub const DELIVERY_HEADER: &str = "x-ctwatch-delivery";

/// Settings of a [`WebhookSink`].
#[derive(Clone)]
pub struct WebhookOptions {
    /// The sink's name (the delivery-state key).
    pub name: String,
    /// The URL findings are POSTed to.
    pub url: String,
    /// The HMAC key shared with the receiver.
    pub secret: Vec<u8>,
    /// Timeout of one HTTP request.
    pub timeout: Duration,
    pub retry: RetryPolicy,
}

impl std::fmt::Debug for WebhookOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookOptions")
            .field("name", &self.name)
            .field("url", &self.url)
            .field("secret", &"<redacted>")
            .field("timeout", &self.timeout)
            .field("retry", &self.retry)
            .finish()
    }
}

/// Posts each finding, signed, to a URL.
pub struct WebhookSink {
    options: WebhookOptions,
    key: hmac::Key,
    client: reqwest::Client,
}

impl std::fmt::Debug for WebhookSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookSink").field("options", &self.options).finish_non_exhaustive()
    }
}

impl WebhookSink {
    /// A sink posting to `options.url`. Fails only when the HTTP client cannot be built.
    pub fn new(options: WebhookOptions) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .timeout(options.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let key = hmac::Key::new(hmac::HMAC_SHA256, &options.secret);
        Ok(WebhookSink { options, key, client })
    }

    async fn deliver_one(&self, finding: &Finding) -> Result<(), SinkError> {
        let body = serde_json::to_vec(finding)
            .map_err(|e| SinkError::Encode { finding_id: finding.id, detail: e.to_string() })?;
        let mut headers = HeaderMap::new();
        let signature = format!("sha256={}", hex::encode(hmac::sign(&self.key, &body).as_ref()));
        let delivery = delivery_id(finding);
        for (name, value) in [(SIGNATURE_HEADER, signature), (DELIVERY_HEADER, delivery)] {
            let value = HeaderValue::try_from(value)
                .map_err(|e| SinkError::Encode { finding_id: finding.id, detail: format!("header {name}: {e}") })?;
            headers.insert(HeaderName::from_static(name), value);
        }
        post_with_retry(&self.client, &self.options.url, &body, &headers, &self.options.retry).await
    }

    async fn deliver_all(&self, findings: &[Finding]) -> Vec<Result<(), SinkError>> {
        let mut results = Vec::with_capacity(findings.len());
        for finding in findings {
            results.push(self.deliver_one(finding).await);
        }
        results
    }
}

impl Sink for WebhookSink {
    fn name(&self) -> &str {
        &self.options.name
    }

    fn deliver<'a>(&'a self, findings: &'a [Finding], _now: i64) -> BoxFuture<'a, Vec<Result<(), SinkError>>> {
        Box::pin(self.deliver_all(findings))
    }
}

/// The dedup key of a finding's current state: `<key>:<last_seen>:<status>`, with bytes outside
/// printable ASCII and `%` percent-encoded so that it is a valid header value.
pub fn delivery_id(finding: &Finding) -> String {
    let raw = format!("{}:{}:{}", finding.key, finding.last_seen, crate::alertmanager::status_name(finding.status));
    let mut out = String::with_capacity(raw.len());
    for byte in raw.bytes() {
        if (0x20..0x7f).contains(&byte) && byte != b'%' {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ctwatch_store::{FindingStatus, Severity};

    fn finding(key: &str) -> Finding {
        Finding {
            id: 1,
            key: key.into(),
            kind: "lint_violation".into(),
            severity: Severity::Error,
            ca: None,
            issuer: None,
            certificate_count: 1,
            first_seen: 10,
            last_seen: 20,
            status: FindingStatus::Open,
            evidence: serde_json::Value::Null,
        }
    }

    #[test]
    fn delivery_id_names_key_last_seen_and_status_and_is_header_safe() {
        assert_eq!(delivery_id(&finding("lint:abc")), "lint:abc:20:open");
        let mut resolved = finding("lint:abc");
        resolved.status = FindingStatus::Resolved;
        assert_ne!(delivery_id(&resolved), delivery_id(&finding("lint:abc")));
        let odd = delivery_id(&finding("caa:bücher.example\n100%"));
        assert_eq!(odd, "caa:b%C3%BCcher.example%0A100%25:20:open");
        assert!(HeaderValue::try_from(odd).is_ok());
    }

    #[test]
    fn debug_output_hides_the_secret() {
        let sink = WebhookSink::new(WebhookOptions {
            name: "hook".into(),
            url: "http://127.0.0.1:1/".into(),
            secret: b"hunter2".to_vec(),
            timeout: Duration::from_secs(1),
            retry: RetryPolicy::default(),
        })
        .unwrap();
        let text = format!("{sink:?}");
        assert!(!text.contains("hunter2") && text.contains("redacted"), "{text}");
    }
}

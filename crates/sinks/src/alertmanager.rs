//! Alertmanager's v2 API: every finding becomes one alert, posted to `<url>/api/v2/alerts`.
//!
//! Alertmanager identifies an alert by its label set, so the labels hold only what never
//! changes for a finding: `alertname="ctwatch_finding"`, `kind`, `ca` (absent when the finding
//! has no CA), `severity`, `finding_id` and `key`. What changes goes into annotations: `summary`,
//! `description`, `link` (the finding in ctwatch's API), `status`, `certificate_count` and
//! `last_seen`.
//!
//! An alert that is not re-sent expires at its `endsAt`. Open (and acknowledged) findings are
//! sent with `endsAt` four resend intervals ahead and re-sent every interval, the way Prometheus
//! keeps its alerts alive; a resolved finding is sent once with `endsAt` = now, which resolves
//! the alert at once. `startsAt` is the finding's first sighting.

use crate::http::{USER_AGENT, post_with_retry};
use crate::{BoxFuture, RetryPolicy, Sink, SinkError, truncate};
use ctwatch_store::{Finding, FindingStatus, Severity};
use reqwest::header::HeaderMap;
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// The `alertname` label of every ctwatch alert.
pub const ALERT_NAME: &str = "ctwatch_finding";

/// How much of the evidence JSON goes into the `description` annotation.
const EVIDENCE_BYTES: usize = 2048;

/// Settings of an [`AlertmanagerSink`].
#[derive(Debug, Clone)]
pub struct AlertmanagerOptions {
    /// The sink's name (the delivery-state key).
    pub name: String,
    /// Alertmanager's base URL, e.g. `http://127.0.0.1:9093` (a trailing `/` is fine).
    pub url: String,
    /// ctwatch's API base URL for the `link` annotation and `generatorURL`, e.g.
    /// `http://ctwatch.example:9800`; without it alerts carry no link.
    pub api_base: Option<String>,
    /// How often open findings are re-sent. Alerts carry `endsAt` four intervals ahead (at least
    /// a minute), so Alertmanager resolves them by itself when ctwatch stops sending.
    pub resend_interval: Duration,
    /// Timeout of one HTTP request.
    pub timeout: Duration,
    pub retry: RetryPolicy,
}

/// Posts findings as alerts to Alertmanager.
#[derive(Debug)]
pub struct AlertmanagerSink {
    options: AlertmanagerOptions,
    /// `<url>/api/v2/alerts`.
    endpoint: String,
    client: reqwest::Client,
}

/// One alert as Alertmanager's `postableAlert` schema has it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct PostableAlert {
    labels: BTreeMap<&'static str, String>,
    annotations: BTreeMap<&'static str, String>,
    starts_at: String,
    ends_at: String,
    #[serde(rename = "generatorURL", skip_serializing_if = "Option::is_none")]
    generator_url: Option<String>,
}

impl AlertmanagerSink {
    /// A sink posting to `options.url`. Fails only when the HTTP client cannot be built.
    pub fn new(options: AlertmanagerOptions) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .timeout(options.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let endpoint = format!("{}/api/v2/alerts", options.url.trim_end_matches('/'));
        Ok(AlertmanagerSink { options, endpoint, client })
    }

    /// The alert for `finding` as sent at `now` (Unix seconds).
    fn alert(&self, finding: &Finding, now: i64) -> Result<PostableAlert, SinkError> {
        let link = self.options.api_base.as_ref().map(|base| finding_link(base, finding.id));
        let mut labels = BTreeMap::new();
        labels.insert("alertname", ALERT_NAME.to_string());
        labels.insert("kind", finding.kind.clone());
        if let Some(ca) = finding.ca.as_ref().filter(|ca| !ca.is_empty()) {
            labels.insert("ca", ca.clone());
        }
        labels.insert("severity", severity_name(finding.severity).to_string());
        labels.insert("finding_id", finding.id.to_string());
        labels.insert("key", finding.key.clone());

        let mut annotations = BTreeMap::new();
        annotations.insert("summary", summary(finding));
        annotations.insert("description", description(finding));
        annotations.insert("status", status_name(finding.status).to_string());
        annotations.insert("certificate_count", finding.certificate_count.to_string());
        annotations.insert("last_seen", rfc3339(finding.id, finding.last_seen)?);
        if let Some(link) = &link {
            annotations.insert("link", link.clone());
        }

        let ends_at = match finding.status {
            FindingStatus::Resolved => now,
            FindingStatus::Open | FindingStatus::Acknowledged => {
                let validity =
                    i64::try_from(self.options.resend_interval.as_secs().saturating_mul(4)).unwrap_or(i64::MAX);
                now.saturating_add(validity.max(60))
            }
        };
        // Alertmanager rejects an alert that ends before it starts (a first sighting in the
        // future, from a skewed clock).
        let ends_at = ends_at.max(finding.first_seen);
        Ok(PostableAlert {
            labels,
            annotations,
            starts_at: rfc3339(finding.id, finding.first_seen)?,
            ends_at: rfc3339(finding.id, ends_at)?,
            generator_url: link,
        })
    }

    async fn post(&self, alerts: &[PostableAlert]) -> Result<(), SinkError> {
        let body =
            serde_json::to_vec(alerts).map_err(|e| SinkError::Encode { finding_id: 0, detail: e.to_string() })?;
        post_with_retry(&self.client, &self.endpoint, &body, &HeaderMap::new(), &self.options.retry).await
    }

    async fn deliver_all(&self, findings: &[Finding], now: i64) -> Vec<Result<(), SinkError>> {
        let mut results: Vec<Result<(), SinkError>> = Vec::with_capacity(findings.len());
        let mut alerts = Vec::with_capacity(findings.len());
        // Positions in `results` that have an alert in `alerts`.
        let mut encoded = Vec::with_capacity(findings.len());
        for (i, finding) in findings.iter().enumerate() {
            match self.alert(finding, now) {
                Ok(alert) => {
                    alerts.push(alert);
                    encoded.push(i);
                    results.push(Ok(()));
                }
                Err(e) => results.push(Err(e)),
            }
        }
        if alerts.is_empty() {
            return results;
        }
        match self.post(&alerts).await {
            Ok(()) => {}
            // Alertmanager validates the whole batch: one alert it refuses fails all of them.
            // Send them one by one so that only the refused ones stay pending.
            Err(SinkError::Status { status: 400, .. }) if alerts.len() > 1 => {
                for (alert, &i) in alerts.iter().zip(&encoded) {
                    if let Some(slot) = results.get_mut(i) {
                        *slot = self.post(std::slice::from_ref(alert)).await;
                    }
                }
            }
            Err(e) => {
                for &i in &encoded {
                    if let Some(slot) = results.get_mut(i) {
                        *slot = Err(e.clone());
                    }
                }
            }
        }
        results
    }
}

impl Sink for AlertmanagerSink {
    fn name(&self) -> &str {
        &self.options.name
    }

    fn deliver<'a>(&'a self, findings: &'a [Finding], now: i64) -> BoxFuture<'a, Vec<Result<(), SinkError>>> {
        Box::pin(self.deliver_all(findings, now))
    }

    fn resend_interval(&self) -> Option<Duration> {
        Some(self.options.resend_interval)
    }
}

/// `<api_base>/api/v1/findings/<id>`.
pub fn finding_link(api_base: &str, id: i64) -> String {
    format!("{}/api/v1/findings/{id}", api_base.trim_end_matches('/'))
}

fn summary(finding: &Finding) -> String {
    let ca = finding.ca.as_deref().unwrap_or("an unwatched issuer");
    let count = finding.certificate_count;
    let plural = if count == 1 { "" } else { "s" };
    format!("{} ({}) for {ca}: {count} certificate{plural}", finding.kind, severity_name(finding.severity))
}

fn description(finding: &Finding) -> String {
    let evidence = serde_json::to_string(&finding.evidence).unwrap_or_default();
    let issuer = finding.issuer.as_deref().map(|i| format!(", issuer {i}")).unwrap_or_default();
    format!(
        "ctwatch finding {} ({}){issuer}, {}. Evidence: {}",
        finding.id,
        finding.key,
        status_name(finding.status),
        truncate(&evidence, EVIDENCE_BYTES)
    )
}

/// RFC 3339 of Unix seconds, or an encoding error naming the finding.
fn rfc3339(finding_id: i64, seconds: i64) -> Result<String, SinkError> {
    OffsetDateTime::from_unix_timestamp(seconds)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .ok_or_else(|| SinkError::Encode { finding_id, detail: format!("timestamp {seconds} is out of range") })
}

/// The lowercase name of a severity, as the store and the API spell it.
pub(crate) fn severity_name(severity: Severity) -> &'static str {
    match severity {
        Severity::Info => "info",
        Severity::Warning => "warning",
        Severity::Error => "error",
        Severity::Critical => "critical",
    }
}

/// The lowercase name of a status.
pub(crate) fn status_name(status: FindingStatus) -> &'static str {
    match status {
        FindingStatus::Open => "open",
        FindingStatus::Acknowledged => "acknowledged",
        FindingStatus::Resolved => "resolved",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sink(api_base: Option<&str>) -> AlertmanagerSink {
        AlertmanagerSink::new(AlertmanagerOptions {
            name: "am".into(),
            url: "http://127.0.0.1:9093/".into(),
            api_base: api_base.map(str::to_string),
            resend_interval: Duration::from_secs(60),
            timeout: Duration::from_secs(5),
            retry: RetryPolicy::default(),
        })
        .unwrap()
    }

    fn finding(status: FindingStatus, ca: Option<&str>) -> Finding {
        Finding {
            id: 7,
            key: "caa_conflict:abc".into(),
            kind: "caa_conflict".into(),
            severity: Severity::Error,
            ca: ca.map(str::to_string),
            issuer: Some("aa".repeat(32)),
            certificate_count: 3,
            first_seen: 1_700_000_000,
            last_seen: 1_700_000_600,
            status,
            evidence: json!({"names": ["a.gov.tw"]}),
        }
    }

    #[test]
    fn open_finding_alert_has_stable_labels_and_a_future_end() {
        let sink = sink(Some("http://ctwatch.example:9800/"));
        assert_eq!(sink.endpoint, "http://127.0.0.1:9093/api/v2/alerts");
        let alert = sink.alert(&finding(FindingStatus::Open, Some("HiPKI")), 1_700_001_000).unwrap();
        let value = serde_json::to_value(&alert).unwrap();
        assert_eq!(
            value["labels"],
            json!({"alertname": "ctwatch_finding", "kind": "caa_conflict", "ca": "HiPKI", "severity": "error",
                   "finding_id": "7", "key": "caa_conflict:abc"})
        );
        assert_eq!(value["annotations"]["link"], "http://ctwatch.example:9800/api/v1/findings/7");
        assert_eq!(value["generatorURL"], "http://ctwatch.example:9800/api/v1/findings/7");
        assert_eq!(value["annotations"]["summary"], "caa_conflict (error) for HiPKI: 3 certificates");
        assert_eq!(value["startsAt"], "2023-11-14T22:13:20Z");
        // Four resend intervals after now.
        assert_eq!(value["endsAt"], "2023-11-14T22:34:00Z");
    }

    #[test]
    fn resolved_finding_ends_now_and_missing_ca_has_no_label() {
        let sink = sink(None);
        let value =
            serde_json::to_value(sink.alert(&finding(FindingStatus::Resolved, None), 1_700_001_000).unwrap()).unwrap();
        assert_eq!(value["endsAt"], "2023-11-14T22:30:00Z");
        assert!(value["labels"].get("ca").is_none());
        assert!(value["annotations"].get("link").is_none());
        assert!(value.get("generatorURL").is_none());
    }

    #[test]
    fn out_of_range_timestamp_is_an_encoding_error() {
        let mut bad = finding(FindingStatus::Open, None);
        bad.first_seen = i64::MAX;
        let err = sink(None).alert(&bad, 0).unwrap_err();
        assert!(matches!(err, SinkError::Encode { finding_id: 7, .. }), "{err}");
    }
}

//! Every metric ctwatch exports, declared in this one file on one [`prometheus::Registry`] that
//! the caller passes in (never the process-global registry).
//!
//! Metric names are a contract: the Grafana dashboard and the Prometheus alert rules use exactly
//! these names, so they change only together with them. Every name starts with `ctwatch_` and
//! every help text names the family's labels.
//!
//! Three kinds of sources feed the families:
//! - events, through [`MonitorObserver`] (tree heads, commits, misbehaviour, certificates, surge
//!   ratios) and [`FetchObserver`] (one call per HTTP attempt, see [`Metrics::fetch_observer`]),
//!   plus the inherent methods the CAA and CRL workers call ([`Metrics::on_caa_lookup`],
//!   [`Metrics::on_dns_lookup`], [`Metrics::on_crl_fetch`]);
//! - the store, read by [`Metrics::refresh`] (findings, revocation verdicts, verified sizes,
//!   malformed-entry totals);
//! - the clock, read by [`Metrics::encode`] when it renders the text format (head ages and lag
//!   in seconds).

use ctwatch_caa::CaaVerdict;
use ctwatch_cert::facts::ValidationType;
use ctwatch_client::{FetchObserver, RequestOutcome};
use ctwatch_ct::sth::TreeHead;
use ctwatch_monitor::misbehaviour::Misbehaviour;
use ctwatch_monitor::{MonitorObserver, StoreHandle};
use ctwatch_store::{CommitOutcome, FindingFilter, FindingStatus, LogStatus, Severity, Store, StoreError};
use prometheus::{GaugeVec, Histogram, HistogramOpts, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder};
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The `ca` label value of issuers that are not watched, and of CAs beyond the label cap.
pub const CA_OTHER: &str = "other";

/// Default cap on distinct `ca` label values.
pub const DEFAULT_MAX_CA_LABELS: usize = 1000;

/// Every `type` a [`Misbehaviour`] can have (its `name()`); counters are created at zero for
/// each followed log so `rate()` and `increase()` work from the first incident.
pub const MISBEHAVIOUR_TYPES: &[&str] = &[
    "bad_signature",
    "rollback",
    "inconsistent_tree_heads",
    "entries_do_not_match_root",
    "bad_response",
    "stale_tree_head",
];

/// Misbehaviour types that are a failed signature or Merkle-proof check, counted by
/// `ctwatch_log_verification_failures_total` as well.
const VERIFICATION_FAILURES: &[&str] = &["bad_signature", "inconsistent_tree_heads", "entries_do_not_match_root"];

/// Validation type label values (`ValidationType::as_str`); anything else is counted as
/// `unknown`.
const VALIDATION_TYPES: &[ValidationType] =
    &[ValidationType::Dv, ValidationType::Ov, ValidationType::Iv, ValidationType::Ev, ValidationType::Unknown];

/// CAA verdict label values.
const CAA_VERDICTS: &[CaaVerdict] = &[
    CaaVerdict::Permitted,
    CaaVerdict::PermittedUnverifiable,
    CaaVerdict::Conflict,
    CaaVerdict::CriticalUnknown,
    CaaVerdict::Indeterminate,
];

/// Finding statuses, as the API and the `status` label spell them.
const FINDING_STATUSES: &[FindingStatus] = &[FindingStatus::Open, FindingStatus::Acknowledged, FindingStatus::Resolved];

/// Recent tree heads kept per log to compute `ctwatch_log_lag_seconds`.
const MAX_HEADS: usize = 256;

/// Findings read from the store per query while refreshing.
const REFRESH_PAGE: usize = 1000;

/// The finding kinds ctwatch raises (label values of `ctwatch_findings*`).
pub const FINDING_KINDS: [&str; 10] = [
    "issuance_surge",
    "caa_conflict",
    "caa_indeterminate",
    "compromised_key_reuse",
    "lint_violation",
    "revocation_overdue",
    "log_misbehaviour",
    "invalid_sct",
    "precert_mismatch",
    "crl_problem",
];

/// What happened to one CRL fetch (`ctwatch_crl_fetches_total{result}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrlFetchResult {
    /// Fetched, verified against the issuer and recorded.
    Ok,
    /// The URL could not be fetched (network error, HTTP error, too large).
    Unreachable,
    /// The response did not parse or did not verify with any known issuer key.
    Rejected,
    /// The CRL number went backwards compared with the last accepted CRL.
    CrlNumber,
}

impl CrlFetchResult {
    /// Every result, for creating the counters at zero.
    pub const ALL: [CrlFetchResult; 4] =
        [CrlFetchResult::Ok, CrlFetchResult::Unreachable, CrlFetchResult::Rejected, CrlFetchResult::CrlNumber];

    /// The label value (the same words as the `crl_problem` finding's `what`).
    pub fn as_str(self) -> &'static str {
        match self {
            CrlFetchResult::Ok => "ok",
            CrlFetchResult::Unreachable => "unreachable",
            CrlFetchResult::Rejected => "rejected",
            CrlFetchResult::CrlNumber => "crl_number",
        }
    }
}

/// Errors of the metrics layer.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    /// A family could not be registered (most often: the registry already holds one of the same
    /// name, because two [`Metrics`] were built on one registry).
    #[error("cannot register metric family: {0}")]
    Register(#[source] prometheus::Error),
    /// The text format could not be produced.
    #[error("cannot encode metrics: {0}")]
    Encode(#[source] prometheus::Error),
}

/// How the metrics are labelled.
#[derive(Debug, Clone)]
pub struct MetricsConfig {
    /// Names of the watched CAs. Each always gets its own `ca` label value, and its per-CA
    /// counters exist (at zero) from the start.
    pub watched_cas: Vec<String>,
    /// At most this many distinct `ca` label values besides `other` (watched CAs first, then
    /// other CA names in the order they are first reported, e.g. in root-program mode). Names
    /// beyond the cap are counted under `other`, so a log full of issuers cannot blow up the
    /// number of series.
    pub max_ca_labels: usize,
    /// The `version` label of `ctwatch_build_info`.
    pub version: String,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            watched_cas: Vec::new(),
            max_ca_labels: DEFAULT_MAX_CA_LABELS,
            version: env!("CARGO_PKG_VERSION").to_string(),
        }
    }
}

/// Every metric family.
#[derive(Debug, Clone)]
struct Families {
    log_tree_size: IntGaugeVec,
    log_verified_size: IntGaugeVec,
    log_cursor: IntGaugeVec,
    log_lag_entries: IntGaugeVec,
    log_lag_seconds: GaugeVec,
    log_sth_age_seconds: GaugeVec,
    log_requests: IntCounterVec,
    log_entries_processed: IntCounterVec,
    log_malformed_entries: IntCounterVec,
    log_misbehaviour: IntCounterVec,
    log_verification_failures: IntCounterVec,
    certificates_issued: IntCounterVec,
    issuer_surge_ratio: GaugeVec,
    findings: IntGaugeVec,
    findings_raised: IntCounterVec,
    caa_lookups: IntCounterVec,
    dns_lookup_seconds: Histogram,
    crl_fetches: IntCounterVec,
    revocation_verdicts: IntGaugeVec,
    build_info: IntGaugeVec,
}

impl Families {
    /// Declare and register every family. This is the list of what ctwatch exports.
    fn register(registry: &Registry) -> Result<Families, MetricsError> {
        fn reg<C: prometheus::core::Collector + Clone + 'static>(
            registry: &Registry,
            c: Result<C, prometheus::Error>,
        ) -> Result<C, MetricsError> {
            let c = c.map_err(MetricsError::Register)?;
            registry.register(Box::new(c.clone())).map_err(MetricsError::Register)?;
            Ok(c)
        }
        let gauge =
            |name: &str, help: &str, labels: &[&str]| reg(registry, IntGaugeVec::new(Opts::new(name, help), labels));
        let fgauge =
            |name: &str, help: &str, labels: &[&str]| reg(registry, GaugeVec::new(Opts::new(name, help), labels));
        let counter =
            |name: &str, help: &str, labels: &[&str]| reg(registry, IntCounterVec::new(Opts::new(name, help), labels));
        Ok(Families {
            log_tree_size: gauge(
                "ctwatch_log_tree_size",
                "Tree size of the latest signed tree head seen from the log (signature verified). Labels: log.",
                &["log"],
            )?,
            log_verified_size: gauge(
                "ctwatch_log_verified_size",
                "Tree size of the newest tree head whose signature and consistency are verified. Labels: log.",
                &["log"],
            )?,
            log_cursor: gauge(
                "ctwatch_log_cursor",
                "Entries [0, cursor) of the log are verified and committed to the store. Labels: log.",
                &["log"],
            )?,
            log_lag_entries: gauge(
                "ctwatch_log_lag_entries",
                "Entries of the latest tree head not yet committed (tree size minus cursor). Labels: log.",
                &["log"],
            )?,
            log_lag_seconds: fgauge(
                "ctwatch_log_lag_seconds",
                "Seconds since the timestamp of the newest tree head whose entries are all committed; 0 when \
                 the cursor has reached the latest tree head. Labels: log.",
                &["log"],
            )?,
            log_sth_age_seconds: fgauge(
                "ctwatch_log_sth_age_seconds",
                "Seconds since the timestamp of the latest tree head seen from the log. Labels: log.",
                &["log"],
            )?,
            log_requests: counter(
                "ctwatch_log_requests_total",
                "HTTP requests (attempts, retries included) sent to the log. Labels: log, endpoint, status \
                 (HTTP status code, or timeout, network, too_large).",
                &["log", "endpoint", "status"],
            )?,
            log_entries_processed: counter(
                "ctwatch_log_entries_processed_total",
                "Log entries verified and committed by this process. Labels: log.",
                &["log"],
            )?,
            log_malformed_entries: counter(
                "ctwatch_log_malformed_entries_total",
                "Entries of the log that did not decode, as recorded in the store. Labels: log.",
                &["log"],
            )?,
            log_misbehaviour: counter(
                "ctwatch_log_misbehaviour_total",
                "Log misbehaviour detected by this process. Labels: log, type (bad_signature, rollback, \
                 inconsistent_tree_heads, entries_do_not_match_root, bad_response, stale_tree_head).",
                &["log", "type"],
            )?,
            log_verification_failures: counter(
                "ctwatch_log_verification_failures_total",
                "Failed signature or Merkle proof checks (bad signature, inconsistent tree heads, entries \
                 not matching the signed root). Labels: log.",
                &["log"],
            )?,
            certificates_issued: counter(
                "ctwatch_certificates_issued_total",
                "New distinct certificates (a precertificate and its certificate count once) committed by \
                 this process. Labels: ca (watched CA name, or other), validation (dv, ov, iv, ev, unknown).",
                &["ca", "validation"],
            )?,
            issuer_surge_ratio: fgauge(
                "ctwatch_issuer_surge_ratio",
                "Current issuance of the CA divided by its baseline, from the surge detector. Labels: ca.",
                &["ca"],
            )?,
            findings: gauge(
                "ctwatch_findings",
                "Findings in the store. Labels: kind, severity (info, warning, error, critical), status \
                 (open, acknowledged, resolved).",
                &["kind", "severity", "status"],
            )?,
            findings_raised: counter(
                "ctwatch_findings_raised_total",
                "Findings first stored while this process runs (merged repeats are not counted). Labels: kind.",
                &["kind"],
            )?,
            caa_lookups: counter(
                "ctwatch_caa_lookups_total",
                "CAA checks of certificate names. Labels: verdict (permitted, permitted_unverifiable, \
                 conflict, critical_unknown, indeterminate).",
                &["verdict"],
            )?,
            dns_lookup_seconds: reg(
                registry,
                Histogram::with_opts(
                    HistogramOpts::new("ctwatch_dns_lookup_seconds", "Duration of CAA DNS lookups. No labels.")
                        .buckets(vec![0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0]),
                ),
            )?,
            crl_fetches: counter(
                "ctwatch_crl_fetches_total",
                "CRL fetches. Labels: result (ok, unreachable, rejected, crl_number).",
                &["result"],
            )?,
            revocation_verdicts: gauge(
                "ctwatch_revocation_verdicts",
                "Certificates by revocation verdict in revocation_overdue findings. Labels: ca, verdict \
                 (on_time, late, unrevoked, pending, moot, wrong_reason, exempt_short_lived).",
                &["ca", "verdict"],
            )?,
            build_info: gauge("ctwatch_build_info", "Always 1. Labels: version.", &["version"])?,
        })
    }
}

/// What the metrics remember about one log between events.
#[derive(Debug, Default)]
struct LogState {
    /// Latest head seen (size, timestamp in ms).
    head: Option<(u64, u64)>,
    /// Whether `head` came from the monitor (then the store's last-seen head is older).
    head_observed: bool,
    cursor: u64,
    verified: Option<u64>,
    /// Recent heads (size, timestamp in ms) in arrival order, for the lag in seconds.
    heads: VecDeque<(u64, u64)>,
    /// Malformed entries already counted (the store's total at the last refresh).
    malformed_counted: u64,
}

impl LogState {
    /// Seconds of lag at `now_ms` (see `ctwatch_log_lag_seconds`).
    ///
    /// When no retained head is fully committed (after a restart with the cursor far behind),
    /// the age of the oldest retained head beyond the cursor is used: the true lag is at least
    /// that.
    fn lag_seconds(&self, now_ms: u64) -> Option<f64> {
        let (size, head_ms) = self.head?;
        if self.cursor >= size {
            return Some(0.0);
        }
        let committed = self.heads.iter().filter(|(s, _)| *s <= self.cursor).map(|(_, t)| *t).max();
        let beyond = self.heads.iter().filter(|(s, _)| *s > self.cursor).map(|(_, t)| *t).min();
        let reference = committed.or(beyond).unwrap_or(head_ms);
        Some(now_ms.saturating_sub(reference) as f64 / 1000.0)
    }

    /// Forget heads that no longer matter: of those the cursor has passed only the newest is
    /// needed, and at most [`MAX_HEADS`] are kept.
    fn prune_heads(&mut self) {
        let cursor = self.cursor;
        let newest_committed = self.heads.iter().filter(|(s, _)| *s <= cursor).map(|(_, t)| *t).max();
        self.heads.retain(|(s, t)| *s > cursor || Some(*t) == newest_committed);
        while self.heads.len() > MAX_HEADS {
            self.heads.pop_front();
        }
    }
}

/// The bounded set of `ca` label values.
#[derive(Debug)]
struct CaLabels {
    known: HashSet<String>,
    cap: usize,
}

impl CaLabels {
    /// The label for `ca`: its name when watched or still under the cap, otherwise `other`.
    fn label(&mut self, ca: Option<&str>) -> Option<String> {
        let name = ca?;
        if name == CA_OTHER || self.known.contains(name) {
            return Some(name.to_string());
        }
        if self.known.len() < self.cap {
            self.known.insert(name.to_string());
            return Some(name.to_string());
        }
        None
    }

    fn label_or_other(&mut self, ca: Option<&str>) -> String {
        self.label(ca).unwrap_or_else(|| CA_OTHER.to_string())
    }
}

/// Mutable state behind the families.
#[derive(Debug)]
struct State {
    logs: HashMap<String, LogState>,
    cas: CaLabels,
    /// Highest finding id seen at the last refresh (`None` before the first one).
    findings_high_water: Option<i64>,
    /// Series of `ctwatch_findings` set before, so they drop to 0 instead of disappearing.
    findings_series: HashSet<[String; 3]>,
    /// Series of `ctwatch_revocation_verdicts` set before.
    revocation_series: HashSet<[String; 2]>,
    last_refresh: Option<Instant>,
}

/// The metrics of one ctwatch process.
///
/// ```
/// use ctwatch_api::metrics::{Metrics, MetricsConfig};
/// let registry = prometheus::Registry::new();
/// let metrics = Metrics::new(&registry, MetricsConfig::default()).unwrap();
/// assert!(metrics.encode().unwrap().contains("ctwatch_build_info"));
/// ```
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    families: Families,
    state: Mutex<State>,
}

impl Metrics {
    /// Declare every family on `registry`, plus the process collector (CPU, memory, open file
    /// descriptors; Linux only). Fails when the registry already holds one of the names.
    pub fn new(registry: &Registry, config: MetricsConfig) -> Result<Metrics, MetricsError> {
        let families = Families::register(registry)?;
        #[cfg(target_os = "linux")]
        registry
            .register(Box::new(prometheus::process_collector::ProcessCollector::for_self()))
            .map_err(MetricsError::Register)?;
        families.build_info.with_label_values(&[config.version.as_str()]).set(1);
        for verdict in CAA_VERDICTS {
            families.caa_lookups.with_label_values(&[verdict.as_str()]);
        }
        // Every finding kind exists from the start (0 open, 0 raised), so alert rules and the
        // dashboard see the families before the first finding and before the first refresh.
        for kind in FINDING_KINDS {
            families.findings_raised.with_label_values(&[kind]);
            families.findings.with_label_values(&[kind, "error", "open"]).set(0);
        }
        for result in CrlFetchResult::ALL {
            families.crl_fetches.with_label_values(&[result.as_str()]);
        }
        for ca in config.watched_cas.iter().map(String::as_str).chain([CA_OTHER]) {
            for validation in VALIDATION_TYPES {
                families.certificates_issued.with_label_values(&[ca, validation.as_str()]);
            }
            // Every watched CA shows its revocation verdicts from the start (0 until a
            // revocation_overdue finding says otherwise), so dashboards and alerts see the family.
            for verdict in ["on_time", "late", "unrevoked", "moot", "wrong_reason", "pending"] {
                families.revocation_verdicts.with_label_values(&[ca, verdict]).set(0);
            }
        }
        let known: HashSet<String> = config.watched_cas.iter().cloned().collect();
        let cap = config.max_ca_labels.max(known.len());
        Ok(Metrics {
            registry: registry.clone(),
            families,
            state: Mutex::new(State {
                logs: HashMap::new(),
                cas: CaLabels { known, cap },
                findings_high_water: None,
                findings_series: HashSet::new(),
                revocation_series: HashSet::new(),
                last_refresh: None,
            }),
        })
    }

    /// The registry the families live on.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves counters that are still meaningful; keep going.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Create the per-log counters at zero (done automatically on the first event of a log).
    pub fn register_log(&self, log: &str) {
        let mut state = self.state();
        self.log_state(&mut state, log);
    }

    fn log_state<'a>(&self, state: &'a mut State, log: &str) -> &'a mut LogState {
        if !state.logs.contains_key(log) {
            let f = &self.families;
            f.log_entries_processed.with_label_values(&[log]);
            f.log_malformed_entries.with_label_values(&[log]);
            f.log_verification_failures.with_label_values(&[log]);
            for t in MISBEHAVIOUR_TYPES {
                f.log_misbehaviour.with_label_values(&[log, t]);
            }
        }
        state.logs.entry(log.to_string()).or_default()
    }

    /// The HTTP observer of one log's client: counts `ctwatch_log_requests_total{log,...}`.
    pub fn fetch_observer(&self, log: &str) -> Arc<dyn FetchObserver> {
        self.register_log(log);
        Arc::new(LogFetchObserver { log: log.to_string(), requests: self.families.log_requests.clone() })
    }

    /// One CAA check ended with `verdict`.
    pub fn on_caa_lookup(&self, verdict: CaaVerdict) {
        self.families.caa_lookups.with_label_values(&[verdict.as_str()]).inc();
    }

    /// One DNS lookup (of a CAA check) took `elapsed`.
    pub fn on_dns_lookup(&self, elapsed: Duration) {
        self.families.dns_lookup_seconds.observe(elapsed.as_secs_f64());
    }

    /// One CRL fetch ended with `result`.
    pub fn on_crl_fetch(&self, result: CrlFetchResult) {
        self.families.crl_fetches.with_label_values(&[result.as_str()]).inc();
    }

    /// Write the per-log gauges of `log` from its state.
    fn publish_log(&self, log: &str, s: &LogState) {
        let f = &self.families;
        let to_i64 = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        f.log_cursor.with_label_values(&[log]).set(to_i64(s.cursor));
        if let Some(v) = s.verified {
            f.log_verified_size.with_label_values(&[log]).set(to_i64(v));
        }
        if let Some((size, _)) = s.head {
            f.log_tree_size.with_label_values(&[log]).set(to_i64(size));
            f.log_lag_entries.with_label_values(&[log]).set(to_i64(size.saturating_sub(s.cursor)));
        }
    }

    /// Set the clock-dependent gauges (head age, lag in seconds) for `now_ms`.
    fn publish_clock(&self, now_ms: u64) {
        let state = self.state();
        for (log, s) in &state.logs {
            if let Some((_, head_ms)) = s.head {
                let age = now_ms.saturating_sub(head_ms) as f64 / 1000.0;
                self.families.log_sth_age_seconds.with_label_values(&[log]).set(age);
            }
            if let Some(lag) = s.lag_seconds(now_ms) {
                self.families.log_lag_seconds.with_label_values(&[log]).set(lag);
            }
        }
    }

    /// Render every family in the Prometheus text format, after updating the clock-dependent
    /// gauges.
    pub fn encode(&self) -> Result<String, MetricsError> {
        self.publish_clock(unix_millis());
        let mut out = String::new();
        TextEncoder::new().encode_utf8(&self.registry.gather(), &mut out).map_err(MetricsError::Encode)?;
        Ok(out)
    }

    /// Read the store's view (log status, findings) and update the families that come from it.
    pub async fn refresh(&self, store: &StoreHandle) -> Result<(), StoreError> {
        let snapshot = store.call(|s| StoreSnapshot::read(s)).await?;
        self.apply(snapshot);
        Ok(())
    }

    /// [`Metrics::refresh`], unless the last refresh is younger than `min_interval`: scrapes (or
    /// anyone polling `/metrics`) cannot turn into a stream of full findings reads.
    pub async fn refresh_if_older_than(&self, store: &StoreHandle, min_interval: Duration) -> Result<(), StoreError> {
        let due = self.state().last_refresh.is_none_or(|at| at.elapsed() >= min_interval);
        if due { self.refresh(store).await } else { Ok(()) }
    }

    fn apply(&self, snapshot: StoreSnapshot) {
        let f = &self.families;
        let mut state = self.state();
        state.last_refresh = Some(Instant::now());
        for status in &snapshot.logs {
            let log = status.name.as_str();
            let s = self.log_state(&mut state, log);
            if !s.head_observed
                && let (Some(size), Some(ts)) = (status.seen_tree_size, status.seen_timestamp_ms)
            {
                s.head = Some((size, ts));
            }
            s.cursor = s.cursor.max(status.cursor);
            s.verified = match (s.verified, status.verified_tree_size) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            };
            if status.malformed_entries > s.malformed_counted {
                let new = status.malformed_entries - s.malformed_counted;
                s.malformed_counted = status.malformed_entries;
                f.log_malformed_entries.with_label_values(&[log]).inc_by(new);
            }
            self.publish_log(log, s);
        }

        // Findings by kind, severity and status; series seen before drop to 0.
        let mut counts: HashMap<[String; 3], i64> = HashMap::new();
        for finding in &snapshot.findings {
            *counts
                .entry([
                    finding.kind.clone(),
                    severity_name(finding.severity).into(),
                    status_name(finding.status).into(),
                ])
                .or_default() += 1;
        }
        for series in &state.findings_series {
            if !counts.contains_key(series) {
                f.findings.with_label_values(series).set(0);
            }
        }
        for (series, n) in &counts {
            f.findings.with_label_values(series).set(*n);
        }
        state.findings_series.extend(counts.into_keys());

        // Raised findings: those with an id above the previous high-water mark. The first
        // refresh only sets the mark (and creates each kind's counter at zero).
        let high = snapshot.findings.iter().map(|x| x.id).max();
        match state.findings_high_water {
            None => {
                for finding in &snapshot.findings {
                    f.findings_raised.with_label_values(&[finding.kind.as_str()]);
                }
            }
            Some(mark) => {
                for finding in snapshot.findings.iter().filter(|x| x.id > mark) {
                    f.findings_raised.with_label_values(&[finding.kind.as_str()]).inc();
                }
            }
        }
        state.findings_high_water = match (state.findings_high_water, high) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b).or(Some(0)),
        };

        // Revocation verdicts: the evidence counts of revocation_overdue findings, per CA.
        let mut verdicts: HashMap<[String; 2], i64> = HashMap::new();
        for finding in &snapshot.findings {
            let Some(counts) = &finding.revocation_counts else { continue };
            let ca = state.cas.label_or_other(finding.ca.as_deref());
            for (verdict, n) in counts {
                *verdicts.entry([ca.clone(), verdict.clone()]).or_default() += i64::try_from(*n).unwrap_or(i64::MAX);
            }
        }
        for series in &state.revocation_series {
            if !verdicts.contains_key(series) {
                f.revocation_verdicts.with_label_values(series).set(0);
            }
        }
        for (series, n) in &verdicts {
            f.revocation_verdicts.with_label_values(series).set(*n);
        }
        state.revocation_series.extend(verdicts.into_keys());
    }
}

impl MonitorObserver for Metrics {
    fn on_head(&self, log: &str, head: &TreeHead) {
        let mut state = self.state();
        let s = self.log_state(&mut state, log);
        s.head = Some((head.tree_size, head.timestamp));
        s.head_observed = true;
        s.heads.push_back((head.tree_size, head.timestamp));
        s.prune_heads();
        self.publish_log(log, s);
    }

    fn on_commit(&self, log: &str, from: u64, to: u64, _outcome: &CommitOutcome) {
        let mut state = self.state();
        let s = self.log_state(&mut state, log);
        s.cursor = s.cursor.max(to);
        // A commit is verified against a signed head at least this large.
        s.verified = Some(s.verified.unwrap_or(0).max(to));
        s.prune_heads();
        self.publish_log(log, s);
        self.families.log_entries_processed.with_label_values(&[log]).inc_by(to.saturating_sub(from));
    }

    fn on_misbehaviour(&self, log: &str, m: &Misbehaviour) {
        let mut state = self.state();
        self.log_state(&mut state, log);
        drop(state);
        let kind = m.name();
        self.families.log_misbehaviour.with_label_values(&[log, kind]).inc();
        if VERIFICATION_FAILURES.contains(&kind) {
            self.families.log_verification_failures.with_label_values(&[log]).inc();
        }
    }

    fn on_certificates(&self, ca: Option<&str>, validation: &str, count: u64) {
        let ca = self.state().cas.label_or_other(ca);
        let validation = VALIDATION_TYPES.iter().map(|v| v.as_str()).find(|v| *v == validation).unwrap_or("unknown");
        self.families.certificates_issued.with_label_values(&[ca.as_str(), validation]).inc_by(count);
    }

    fn on_caa_check(&self, verdict: ctwatch_caa::CaaVerdict, elapsed: Duration) {
        self.on_caa_lookup(verdict);
        self.on_dns_lookup(elapsed);
    }

    fn on_crl_fetch(&self, result: &str) {
        if let Some(r) = CrlFetchResult::ALL.iter().find(|r| r.as_str() == result) {
            Metrics::on_crl_fetch(self, *r);
        }
    }

    fn fetch_observer(&self, log: &str) -> Option<Arc<dyn FetchObserver>> {
        Some(Metrics::fetch_observer(self, log))
    }

    fn on_surge_ratio(&self, ca: &str, ratio: f64) {
        // A CA folded into `other` has no ratio of its own: writing it there would only show
        // whichever folded CA reported last.
        if let Some(label) = self.state().cas.label(Some(ca))
            && label != CA_OTHER
        {
            self.families.issuer_surge_ratio.with_label_values(&[label.as_str()]).set(ratio);
        }
    }
}

/// `FetchObserver` of one log (see [`Metrics::fetch_observer`]).
#[derive(Debug)]
struct LogFetchObserver {
    log: String,
    requests: IntCounterVec,
}

impl FetchObserver for LogFetchObserver {
    fn on_attempt(&self, endpoint: &'static str, outcome: RequestOutcome, _elapsed: Duration) {
        let code;
        let status = match outcome {
            RequestOutcome::Status(c) => {
                code = c.to_string();
                code.as_str()
            }
            RequestOutcome::Timeout => "timeout",
            RequestOutcome::NetworkError => "network",
            RequestOutcome::TooLarge => "too_large",
        };
        self.requests.with_label_values(&[self.log.as_str(), endpoint, status]).inc();
    }
}

/// The part of a finding the metrics need.
#[derive(Debug)]
struct FindingSummary {
    id: i64,
    kind: String,
    severity: Severity,
    status: FindingStatus,
    ca: Option<String>,
    /// `evidence.counts` of a `revocation_overdue` finding.
    revocation_counts: Option<BTreeMap<String, u64>>,
}

/// What one refresh reads from the store.
#[derive(Debug)]
struct StoreSnapshot {
    logs: Vec<LogStatus>,
    findings: Vec<FindingSummary>,
}

impl StoreSnapshot {
    fn read(store: &mut dyn Store) -> Result<StoreSnapshot, StoreError> {
        let logs = store.log_status()?;
        let mut findings = Vec::new();
        let mut offset = 0;
        loop {
            let filter = FindingFilter { limit: Some(REFRESH_PAGE), offset: Some(offset), ..Default::default() };
            let page = store.findings(&filter)?;
            let n = page.len();
            findings.extend(page.into_iter().map(|f| {
                let revocation_counts = (f.kind == "revocation_overdue")
                    .then(|| f.evidence.get("counts").and_then(|c| serde_json::from_value(c.clone()).ok()))
                    .flatten();
                FindingSummary {
                    id: f.id,
                    kind: f.kind,
                    severity: f.severity,
                    status: f.status,
                    ca: f.ca,
                    revocation_counts,
                }
            }));
            if n < REFRESH_PAGE {
                break;
            }
            offset += n;
        }
        Ok(StoreSnapshot { logs, findings })
    }
}

/// A severity's name as the API and the `severity` label spell it.
pub fn severity_name(severity: Severity) -> &'static str {
    match severity {
        Severity::Info => "info",
        Severity::Warning => "warning",
        Severity::Error => "error",
        Severity::Critical => "critical",
    }
}

/// A status's name as the API and the `status` label spell it.
pub fn status_name(status: FindingStatus) -> &'static str {
    match status {
        FindingStatus::Open => "open",
        FindingStatus::Acknowledged => "acknowledged",
        FindingStatus::Resolved => "resolved",
    }
}

/// Parse a status name (`open`, `acknowledged`, `resolved`).
pub fn parse_status(name: &str) -> Option<FindingStatus> {
    FINDING_STATUSES.iter().copied().find(|s| status_name(*s) == name)
}

fn unix_millis() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn misbehaviour_types_cover_every_variant() {
        let head = TreeHead { tree_size: 1, timestamp: 1, root_hash: [0; 32] };
        let all = [
            Misbehaviour::BadSignature { head, detail: String::new() },
            Misbehaviour::Rollback { verified: head, seen: head },
            Misbehaviour::Inconsistent { verified: head, seen: head, detail: String::new() },
            Misbehaviour::EntriesDoNotMatch { head, covered: 0, detail: String::new() },
            Misbehaviour::BadResponse { detail: String::new() },
            Misbehaviour::StaleHead { head, age_secs: 0, mmd: 0 },
        ];
        let names: Vec<_> = all.iter().map(Misbehaviour::name).collect();
        assert_eq!(names, MISBEHAVIOUR_TYPES);
    }

    #[test]
    fn lag_is_measured_from_the_newest_committed_head() {
        let mut s = LogState::default();
        s.heads.extend([(10, 1_000), (20, 5_000), (30, 9_000)]);
        s.head = Some((30, 9_000));
        s.cursor = 20;
        assert_eq!(s.lag_seconds(15_000), Some(10.0));
        s.cursor = 15;
        assert_eq!(s.lag_seconds(15_000), Some(14.0));
        s.cursor = 30;
        assert_eq!(s.lag_seconds(15_000), Some(0.0));
        // Nothing retained is committed: the oldest head beyond the cursor bounds the lag.
        s.cursor = 5;
        assert_eq!(s.lag_seconds(15_000), Some(14.0));
        s.heads.clear();
        assert_eq!(s.lag_seconds(15_000), Some(6.0));
        assert_eq!(LogState::default().lag_seconds(15_000), None);
    }

    #[test]
    fn heads_are_pruned_to_the_newest_committed_one() {
        let mut s = LogState::default();
        s.heads.extend([(10, 1_000), (20, 5_000), (30, 9_000)]);
        s.cursor = 25;
        s.prune_heads();
        assert_eq!(s.heads, [(20, 5_000), (30, 9_000)]);
        for i in 0..1000 {
            s.heads.push_back((100 + i, 10_000 + i));
        }
        s.prune_heads();
        assert_eq!(s.heads.len(), MAX_HEADS);
    }

    #[test]
    fn ca_labels_are_capped_and_watched_cas_always_fit() {
        let mut cas = CaLabels { known: ["Watched".to_string()].into(), cap: 2 };
        assert_eq!(cas.label_or_other(Some("Watched")), "Watched");
        assert_eq!(cas.label_or_other(Some("First")), "First");
        assert_eq!(cas.label_or_other(Some("Second")), CA_OTHER);
        assert_eq!(cas.label_or_other(Some("First")), "First");
        assert_eq!(cas.label_or_other(None), CA_OTHER);
        assert_eq!(cas.label(Some("Second")), None);
    }

    #[test]
    fn two_metrics_on_one_registry_are_refused() {
        let registry = Registry::new();
        let _first = Metrics::new(&registry, MetricsConfig::default()).unwrap();
        assert!(matches!(Metrics::new(&registry, MetricsConfig::default()), Err(MetricsError::Register(_))));
    }

    #[test]
    fn statuses_round_trip() {
        for s in FINDING_STATUSES {
            assert_eq!(parse_status(status_name(*s)), Some(*s));
        }
        assert_eq!(parse_status("closed"), None);
    }
}

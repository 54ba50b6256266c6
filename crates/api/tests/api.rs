//! The metrics and API server, tested over HTTP on 127.0.0.1: a store in memory holds real
//! certificates (from `ctwatch_testlog::CertFactory`) and findings, the server is bound to port
//! 0, and reqwest talks to it.

use ctwatch_api::metrics::MISBEHAVIOUR_TYPES;
use ctwatch_api::{
    ApiConfig, ApiError, ApiServer, ApiState, CrlFetchResult, Metrics, MetricsConfig, Readiness, WatchedCa,
};
use ctwatch_caa::CaaVerdict;
use ctwatch_cert::facts::cert_facts;
use ctwatch_cert::identity::{certificate_identity, tbs_of_cert};
use ctwatch_client::RequestOutcome;
use ctwatch_ct::sth::TreeHead;
use ctwatch_monitor::misbehaviour::Misbehaviour;
use ctwatch_monitor::{MonitorObserver, StoreHandle};
use ctwatch_store::{
    CertificateRecord, CommitBatch, CommitOutcome, EntryRecord, FindingStatus, LogCheckpoint, LogIdentity,
    LogObservation, MalformedEntry, NewFinding, Severity, SqliteStore, Store, VerifiedHead,
};
use ctwatch_testlog::{CertFactory, LeafSpec};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::oneshot;

const ARGON: [u8; 32] = [1; 32];
const XENON: [u8; 32] = [2; 32];
const CA_NAME: &str = "Api Test CA";
/// Findings of kind `bulk`, for pagination.
const BULK: usize = 12;
/// 2020-01-01T00:00:00Z.
const OLD: i64 = 1_577_836_800;

fn now_secs() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

/// What the tests need to know about the fixture.
struct Fixture {
    store: StoreHandle,
    issuer: [u8; 32],
    serial_a: String,
    serial_b: String,
    lint_id: i64,
    caa_id: i64,
    overdue_id: i64,
    acked_id: i64,
}

fn entry(index: u64, der: &[u8], identity: [u8; 32], is_precert: bool, issuer: [u8; 32], ts_ms: u64) -> EntryRecord {
    EntryRecord {
        index,
        leaf_hash: [index as u8; 32],
        timestamp_ms: ts_ms + index,
        is_precert,
        certificate: CertificateRecord {
            identity,
            issuer_spki_sha256: Some(issuer),
            is_precert,
            der: der.to_vec(),
            facts: cert_facts(der).unwrap(),
        },
    }
}

fn finding(key: &str, kind: &str, severity: Severity, ca: Option<&str>, certs: Vec<[u8; 32]>, at: i64) -> NewFinding {
    NewFinding {
        key: key.to_string(),
        kind: kind.to_string(),
        severity,
        ca: ca.map(str::to_string),
        issuer: None,
        evidence: json!({ "key": key }),
        certificates: certs,
        seen_at: at,
    }
}

/// Two logs; certificate A (precert and final in argon, final in xenon) and B (final in argon),
/// issued now; one malformed entry in argon; findings: a lint violation about A and B, an old
/// CAA conflict of another CA, a revocation_overdue with verdict counts, and [`BULK`] `bulk`
/// findings one of which is acknowledged.
fn fixture() -> Fixture {
    let ca = CertFactory::new(CA_NAME).unwrap();
    let issuer = ca.issuer_key_hash();
    let precert = ca.precert(&LeafSpec::new(["a.example.tw", "www.a.example.tw"])).unwrap();
    let final_a = ca.final_cert(&precert, &ctwatch_testlog::encode_sct_list(&[])).unwrap();
    let identity_a = certificate_identity(&precert.leaf_tbs).unwrap();
    let cert_b = ca.x509(&LeafSpec::new(["b.example.tw"])).unwrap();
    let identity_b = certificate_identity(&tbs_of_cert(&cert_b).unwrap()).unwrap();
    let now = now_secs();
    let now_ms = now as u64 * 1000;

    let mut store = SqliteStore::open_in_memory().unwrap();
    for (log_id, name) in [(ARGON, "argon2025h1"), (XENON, "xenon2025h1")] {
        store
            .open_log(&LogIdentity { log_id, name: name.to_string(), url: format!("https://{name}.example/") })
            .unwrap();
    }
    let mut findings = vec![
        finding("caa:old", "caa_conflict", Severity::Warning, Some("Other CA"), vec![], OLD),
        finding("lint:x", "lint_violation", Severity::Error, Some(CA_NAME), vec![identity_a, identity_b], now),
    ];
    let mut overdue = finding("overdue:x", "revocation_overdue", Severity::Error, Some(CA_NAME), vec![identity_b], now);
    overdue.evidence = json!({ "counts": { "late": 2, "on_time": 1 } });
    findings.push(overdue);
    for i in 0..BULK {
        findings.push(finding(&format!("bulk:{i}"), "bulk", Severity::Info, None, vec![], now));
    }
    let malformed = MalformedEntry {
        log_id: ARGON,
        index: 3,
        leaf_hash: [3; 32],
        error: "truncated leaf".into(),
        leaf_input: vec![0, 1],
        extra_data: vec![],
    };
    let batch = CommitBatch {
        log_id: ARGON,
        previous_cursor: 0,
        checkpoint: LogCheckpoint { log_id: ARGON, cursor: 4, peaks: vec![], verified_head: None, position_ms: 0 },
        entries: vec![
            entry(0, &precert.der, identity_a, true, issuer, now_ms),
            entry(1, &final_a, identity_a, false, issuer, now_ms),
            entry(2, &cert_b, identity_b, false, issuer, now_ms),
        ],
        malformed: vec![malformed],
        issuance: vec![],
        findings,
        skipped_entries: 0,
    };
    store.commit(&batch).unwrap();
    let xenon = CommitBatch {
        log_id: XENON,
        previous_cursor: 0,
        checkpoint: LogCheckpoint { log_id: XENON, cursor: 8, peaks: vec![], verified_head: None, position_ms: 0 },
        entries: vec![entry(7, &final_a, identity_a, false, issuer, now_ms)],
        malformed: vec![],
        issuance: vec![],
        findings: vec![],
        skipped_entries: 0,
    };
    store.commit(&xenon).unwrap();
    let all = store.findings(&Default::default()).unwrap();
    let id_of = |key: &str| all.iter().find(|f| f.key == key).unwrap().id;
    let acked_id = id_of("bulk:4");
    store.set_finding_status(acked_id, FindingStatus::Acknowledged).unwrap();
    let serial = |der: &[u8]| hex::encode(cert_facts(der).unwrap().serial);
    Fixture {
        issuer,
        serial_a: serial(&final_a),
        serial_b: serial(&cert_b),
        lint_id: id_of("lint:x"),
        caa_id: id_of("caa:old"),
        overdue_id: id_of("overdue:x"),
        acked_id,
        store: StoreHandle::new(Box::new(store)),
    }
}

/// A running server and what stops it.
struct Running {
    base: String,
    metrics: Arc<Metrics>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<Result<(), ApiError>>>,
}

impl Running {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        reqwest::get(self.url(path)).await.unwrap()
    }

    async fn json(&self, path: &str) -> (u16, Value) {
        let response = self.get(path).await;
        let status = response.status().as_u16();
        let content_type = response.headers()[reqwest::header::CONTENT_TYPE].to_str().unwrap().to_string();
        assert!(content_type.starts_with("application/json"), "{path}: content type {content_type}");
        (status, response.json().await.unwrap())
    }

    async fn text(&self, path: &str) -> (u16, String) {
        let response = self.get(path).await;
        (response.status().as_u16(), response.text().await.unwrap())
    }

    /// Stop the server and check it ended cleanly.
    async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.task.take().unwrap().await.unwrap().unwrap();
    }
}

async fn start_with(fx: &Fixture, config: ApiConfig, readiness: Readiness) -> Running {
    let registry = prometheus::Registry::new();
    let metrics_config = MetricsConfig { watched_cas: vec![CA_NAME.to_string()], ..MetricsConfig::default() };
    let metrics = Arc::new(Metrics::new(&registry, metrics_config).unwrap());
    let state = ApiState::new(fx.store.clone(), metrics.clone())
        .with_readiness(readiness)
        .with_watched_cas(vec![WatchedCa { name: CA_NAME.to_string(), issuers: vec![fx.issuer] }]);
    let server = ApiServer::bind(config, state).await.unwrap();
    let addr: SocketAddr = server.local_addr();
    assert!(addr.ip().is_loopback() && addr.port() != 0);
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(server.run(async move {
        let _ = stopped.await;
    }));
    Running { base: format!("http://{addr}"), metrics, stop: Some(stop), task: Some(task) }
}

fn local_config() -> ApiConfig {
    let mut config = ApiConfig::new("127.0.0.1:0".parse().unwrap());
    // Every scrape reads the store, so changes show at once.
    config.metrics_refresh = Duration::ZERO;
    config
}

async fn start(fx: &Fixture) -> Running {
    start_with(fx, local_config(), Readiness::LogsVerified(Vec::new())).await
}

/// The value of the sample `series` (name with labels, as printed) in a text exposition.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.trim().parse().ok())
}

#[tokio::test]
async fn every_metric_family_is_exported_with_sane_values() {
    let fx = fixture();
    let server = start(&fx).await;
    let m = &server.metrics;
    let now_ms = now_secs() as u64 * 1000;

    // Drive every event once.
    m.on_head("argon2025h1", &TreeHead { tree_size: 2, timestamp: now_ms - 60_000, root_hash: [0; 32] });
    m.on_head("argon2025h1", &TreeHead { tree_size: 10, timestamp: now_ms - 5_000, root_hash: [0; 32] });
    m.on_commit("argon2025h1", 0, 4, &CommitOutcome { new_certificates: 2, new_entries: 3, new_findings: 15 });
    let head = TreeHead { tree_size: 10, timestamp: now_ms, root_hash: [1; 32] };
    m.on_misbehaviour("argon2025h1", &Misbehaviour::BadSignature { head, detail: "bad".into() });
    m.on_misbehaviour("argon2025h1", &Misbehaviour::StaleHead { head, age_secs: 90_000, mmd: 86_400 });
    m.on_certificates(Some(CA_NAME), "dv", 2);
    m.on_certificates(None, "ev", 1);
    m.on_surge_ratio(CA_NAME, 3.5);
    let fetch = m.fetch_observer("argon2025h1");
    fetch.on_attempt("get-sth", RequestOutcome::Status(200), Duration::from_millis(20));
    fetch.on_attempt("get-entries", RequestOutcome::Status(429), Duration::from_millis(20));
    fetch.on_attempt("get-entries", RequestOutcome::Timeout, Duration::from_secs(30));
    fetch.on_attempt("get-entries", RequestOutcome::NetworkError, Duration::from_millis(1));
    fetch.on_attempt("get-entries", RequestOutcome::TooLarge, Duration::from_millis(1));
    m.on_caa_lookup(CaaVerdict::Conflict);
    m.on_dns_lookup(Duration::from_millis(12));
    m.on_crl_fetch(CrlFetchResult::Ok);

    let response = server.get("/metrics").await;
    assert_eq!(response.status(), 200);
    let content_type = response.headers()[reqwest::header::CONTENT_TYPE].to_str().unwrap().to_string();
    assert!(content_type.starts_with("text/plain; version=0.0.4"), "{content_type}");
    let text = response.text().await.unwrap();

    let families = [
        ("ctwatch_log_tree_size", "gauge"),
        ("ctwatch_log_verified_size", "gauge"),
        ("ctwatch_log_cursor", "gauge"),
        ("ctwatch_log_lag_entries", "gauge"),
        ("ctwatch_log_lag_seconds", "gauge"),
        ("ctwatch_log_sth_age_seconds", "gauge"),
        ("ctwatch_log_requests_total", "counter"),
        ("ctwatch_log_entries_processed_total", "counter"),
        ("ctwatch_log_malformed_entries_total", "counter"),
        ("ctwatch_log_misbehaviour_total", "counter"),
        ("ctwatch_log_verification_failures_total", "counter"),
        ("ctwatch_certificates_issued_total", "counter"),
        ("ctwatch_issuer_surge_ratio", "gauge"),
        ("ctwatch_findings", "gauge"),
        ("ctwatch_findings_raised_total", "counter"),
        ("ctwatch_caa_lookups_total", "counter"),
        ("ctwatch_dns_lookup_seconds", "histogram"),
        ("ctwatch_crl_fetches_total", "counter"),
        ("ctwatch_revocation_verdicts", "gauge"),
        ("ctwatch_build_info", "gauge"),
    ];
    for (name, kind) in families {
        assert!(text.contains(&format!("\n# TYPE {name} {kind}\n")), "{name} ({kind}) missing:\n{text}");
        let help = text.lines().find(|l| l.starts_with(&format!("# HELP {name} "))).unwrap();
        assert!(help.contains("Labels") || help.contains("labels"), "help of {name} names no labels: {help}");
    }
    if cfg!(target_os = "linux") {
        assert!(text.contains("\n# TYPE process_cpu_seconds_total counter\n"), "process metrics missing");
        assert!(sample(&text, "process_resident_memory_bytes").is_some_and(|v| v > 0.0));
    }
    // Every ctwatch family has the prefix; nothing else is exported besides process metrics.
    for line in text.lines().filter(|l| l.starts_with("# TYPE ")) {
        let name = line.split(' ').nth(2).unwrap();
        assert!(name.starts_with("ctwatch_") || name.starts_with("process_"), "unexpected family {name}");
    }

    let argon = |name: &str| sample(&text, &format!("{name}{{log=\"argon2025h1\"}}"));
    assert_eq!(argon("ctwatch_log_tree_size"), Some(10.0));
    assert_eq!(argon("ctwatch_log_cursor"), Some(4.0));
    assert_eq!(argon("ctwatch_log_verified_size"), Some(4.0));
    assert_eq!(argon("ctwatch_log_lag_entries"), Some(6.0));
    // The newest head whose entries are all committed is the size-2 head, 60 s old.
    let lag = argon("ctwatch_log_lag_seconds").unwrap();
    assert!((59.0..120.0).contains(&lag), "lag {lag}");
    let age = argon("ctwatch_log_sth_age_seconds").unwrap();
    assert!((4.0..60.0).contains(&age), "sth age {age}");
    assert_eq!(argon("ctwatch_log_entries_processed_total"), Some(4.0));
    assert_eq!(argon("ctwatch_log_malformed_entries_total"), Some(1.0));
    assert_eq!(argon("ctwatch_log_verification_failures_total"), Some(1.0));
    // Xenon is known from the store only: cursor 8, no head seen yet.
    assert_eq!(sample(&text, "ctwatch_log_cursor{log=\"xenon2025h1\"}"), Some(8.0));
    assert_eq!(sample(&text, "ctwatch_log_malformed_entries_total{log=\"xenon2025h1\"}"), Some(0.0));
    for t in MISBEHAVIOUR_TYPES {
        let expected = if ["bad_signature", "stale_tree_head"].contains(t) { 1.0 } else { 0.0 };
        let series = format!("ctwatch_log_misbehaviour_total{{log=\"argon2025h1\",type=\"{t}\"}}");
        assert_eq!(sample(&text, &series), Some(expected), "{series}");
    }
    for (endpoint, status) in [
        ("get-sth", "200"),
        ("get-entries", "429"),
        ("get-entries", "timeout"),
        ("get-entries", "network"),
        ("get-entries", "too_large"),
    ] {
        let series =
            format!("ctwatch_log_requests_total{{endpoint=\"{endpoint}\",log=\"argon2025h1\",status=\"{status}\"}}");
        assert_eq!(sample(&text, &series), Some(1.0), "{series}");
    }
    assert_eq!(
        sample(&text, &format!("ctwatch_certificates_issued_total{{ca=\"{CA_NAME}\",validation=\"dv\"}}")),
        Some(2.0)
    );
    assert_eq!(
        sample(&text, &format!("ctwatch_certificates_issued_total{{ca=\"{CA_NAME}\",validation=\"ov\"}}")),
        Some(0.0)
    );
    assert_eq!(sample(&text, "ctwatch_certificates_issued_total{ca=\"other\",validation=\"ev\"}"), Some(1.0));
    assert_eq!(sample(&text, &format!("ctwatch_issuer_surge_ratio{{ca=\"{CA_NAME}\"}}")), Some(3.5));
    assert_eq!(
        sample(&text, "ctwatch_findings{kind=\"lint_violation\",severity=\"error\",status=\"open\"}"),
        Some(1.0)
    );
    assert_eq!(sample(&text, "ctwatch_findings{kind=\"bulk\",severity=\"info\",status=\"open\"}"), Some(11.0));
    assert_eq!(sample(&text, "ctwatch_findings{kind=\"bulk\",severity=\"info\",status=\"acknowledged\"}"), Some(1.0));
    assert_eq!(sample(&text, "ctwatch_findings_raised_total{kind=\"bulk\"}"), Some(0.0));
    assert_eq!(sample(&text, "ctwatch_caa_lookups_total{verdict=\"conflict\"}"), Some(1.0));
    assert_eq!(sample(&text, "ctwatch_caa_lookups_total{verdict=\"permitted\"}"), Some(0.0));
    assert_eq!(sample(&text, "ctwatch_dns_lookup_seconds_count"), Some(1.0));
    assert_eq!(sample(&text, "ctwatch_dns_lookup_seconds_bucket{le=\"0.025\"}"), Some(1.0));
    assert_eq!(sample(&text, "ctwatch_dns_lookup_seconds_bucket{le=\"0.01\"}"), Some(0.0));
    assert_eq!(sample(&text, "ctwatch_crl_fetches_total{result=\"ok\"}"), Some(1.0));
    assert_eq!(sample(&text, "ctwatch_crl_fetches_total{result=\"unreachable\"}"), Some(0.0));
    assert_eq!(sample(&text, &format!("ctwatch_revocation_verdicts{{ca=\"{CA_NAME}\",verdict=\"late\"}}")), Some(2.0));
    assert_eq!(
        sample(&text, &format!("ctwatch_revocation_verdicts{{ca=\"{CA_NAME}\",verdict=\"on_time\"}}")),
        Some(1.0)
    );
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(sample(&text, &format!("ctwatch_build_info{{version=\"{version}\"}}")), Some(1.0));

    // New findings show up as raised (and in the gauge); a status change moves the gauge.
    let acked = fx.acked_id;
    fx.store
        .call(move |s| {
            s.record_findings(&[finding("new:1", "caa_conflict", Severity::Error, Some(CA_NAME), vec![], now_secs())])?;
            s.set_finding_status(acked, FindingStatus::Open)
        })
        .await
        .unwrap();
    // Catching up clears the lag.
    m.on_commit("argon2025h1", 4, 10, &CommitOutcome::default());
    let (_, text) = server.text("/metrics").await;
    assert_eq!(sample(&text, "ctwatch_findings_raised_total{kind=\"caa_conflict\"}"), Some(1.0));
    assert_eq!(sample(&text, "ctwatch_findings_raised_total{kind=\"bulk\"}"), Some(0.0));
    assert_eq!(sample(&text, "ctwatch_findings{kind=\"bulk\",severity=\"info\",status=\"open\"}"), Some(12.0));
    assert_eq!(sample(&text, "ctwatch_findings{kind=\"bulk\",severity=\"info\",status=\"acknowledged\"}"), Some(0.0));
    assert_eq!(sample(&text, "ctwatch_log_lag_seconds{log=\"argon2025h1\"}"), Some(0.0));
    assert_eq!(sample(&text, "ctwatch_log_lag_entries{log=\"argon2025h1\"}"), Some(0.0));
    assert_eq!(sample(&text, "ctwatch_log_entries_processed_total{log=\"argon2025h1\"}"), Some(10.0));
    server.stop().await;
}

#[test]
fn ca_labels_are_capped_into_other() {
    let registry = prometheus::Registry::new();
    let config = MetricsConfig { watched_cas: vec!["Watched".into()], max_ca_labels: 2, ..Default::default() };
    let m = Metrics::new(&registry, config).unwrap();
    m.on_certificates(Some("Watched"), "dv", 1);
    m.on_certificates(Some("Second"), "dv", 1);
    m.on_certificates(Some("Third"), "dv", 5);
    m.on_certificates(Some("Fourth"), "bogus-validation", 7);
    m.on_surge_ratio("Fifth", 9.0);
    let text = m.encode().unwrap();
    assert_eq!(sample(&text, "ctwatch_certificates_issued_total{ca=\"Watched\",validation=\"dv\"}"), Some(1.0));
    assert_eq!(sample(&text, "ctwatch_certificates_issued_total{ca=\"Second\",validation=\"dv\"}"), Some(1.0));
    assert_eq!(sample(&text, "ctwatch_certificates_issued_total{ca=\"other\",validation=\"dv\"}"), Some(5.0));
    assert_eq!(sample(&text, "ctwatch_certificates_issued_total{ca=\"other\",validation=\"unknown\"}"), Some(7.0));
    assert!(!text.contains("Third") && !text.contains("Fourth") && !text.contains("Fifth"));
    assert!(!text.contains("ctwatch_issuer_surge_ratio{"));
}

#[tokio::test]
async fn findings_are_listed_filtered_and_paginated() {
    let fx = fixture();
    let server = start(&fx).await;

    let (status, all) = server.json("/api/v1/findings").await;
    assert_eq!(status, 200);
    let all = all["findings"].as_array().unwrap().clone();
    assert_eq!(all.len(), BULK + 3);
    let ids: Vec<i64> = all.iter().map(|f| f["id"].as_i64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "not newest first: {ids:?}");

    // Pages of 5 cover everything exactly once.
    let mut paged = Vec::new();
    let mut offset = Some(0);
    while let Some(o) = offset {
        let (status, page) = server.json(&format!("/api/v1/findings?limit=5&offset={o}")).await;
        assert_eq!(status, 200);
        paged.extend(page["findings"].as_array().unwrap().iter().map(|f| f["id"].as_i64().unwrap()));
        offset = page["next_offset"].as_u64();
        assert!(offset.is_none() || page["findings"].as_array().unwrap().len() == 5);
    }
    assert_eq!(paged, ids);
    let (_, last) = server.json("/api/v1/findings?limit=5&offset=10").await;
    assert_eq!(last["findings"].as_array().unwrap().len(), 5);
    assert_eq!(last["next_offset"], Value::Null);
    let (_, beyond) = server.json("/api/v1/findings?offset=1000").await;
    assert_eq!(beyond, json!({ "findings": [], "next_offset": null }));

    // Filters.
    let (_, lint) = server.json("/api/v1/findings?kind=lint_violation").await;
    let lint = &lint["findings"].as_array().unwrap()[0];
    assert_eq!(lint["id"], fx.lint_id);
    assert_eq!(lint["severity"], "error");
    assert_eq!(lint["status"], "open");
    assert_eq!(lint["certificate_count"], 2);
    assert_eq!(lint["ca"], CA_NAME);
    let (_, other) = server.json("/api/v1/findings?ca=Other%20CA").await;
    assert_eq!(other["findings"].as_array().unwrap().len(), 1);
    assert_eq!(other["findings"][0]["id"], fx.caa_id);
    assert_eq!(other["findings"][0]["first_seen"], "2020-01-01T00:00:00Z");
    for since in ["2021-01-01T00:00:00Z", "1609459200"] {
        let (_, recent) = server.json(&format!("/api/v1/findings?since={since}&limit=1000")).await;
        let recent = recent["findings"].as_array().unwrap();
        assert_eq!(recent.len(), BULK + 2, "since={since}");
        assert!(recent.iter().all(|f| f["id"] != fx.caa_id));
    }
    let (_, acked) = server.json("/api/v1/findings?status=acknowledged").await;
    assert_eq!(acked["findings"].as_array().unwrap().len(), 1);
    assert_eq!(acked["findings"][0]["id"], fx.acked_id);
    assert_eq!(acked["findings"][0]["status"], "acknowledged");

    // Status filtering paginates over the matching findings only.
    let mut open = Vec::new();
    let mut offset = Some(0);
    while let Some(o) = offset {
        let (_, page) = server.json(&format!("/api/v1/findings?status=open&kind=bulk&limit=4&offset={o}")).await;
        open.extend(page["findings"].as_array().unwrap().iter().map(|f| f["id"].as_i64().unwrap()));
        offset = page["next_offset"].as_u64();
    }
    assert_eq!(open.len(), BULK - 1);
    assert!(!open.contains(&fx.acked_id));
    assert!(open.windows(2).all(|w| w[0] > w[1]));
    server.stop().await;
}

#[tokio::test]
async fn bad_requests_are_json_errors() {
    let fx = fixture();
    let server = start(&fx).await;
    for (path, status, needle) in [
        ("/api/v1/findings?limit=0", 400, "limit"),
        ("/api/v1/findings?limit=1001", 400, "limit"),
        ("/api/v1/findings?limit=ten", 400, "limit"),
        ("/api/v1/findings?offset=-3", 400, "offset"),
        ("/api/v1/findings?since=yesterday", 400, "since"),
        ("/api/v1/findings?status=closed", 400, "status"),
        ("/api/v1/findings?colour=red", 400, "colour"),
        ("/api/v1/findings/abc", 400, "finding id"),
        ("/api/v1/findings/999999", 404, "999999"),
        ("/api/v1/findings/999999/certificates.csv", 404, "999999"),
        ("/api/v1/findings/x/certificates.csv", 400, "finding id"),
        ("/api/v1/nothing", 404, "no such endpoint"),
    ] {
        let (got, body) = server.json(path).await;
        assert_eq!(got, status, "{path}: {body}");
        let message = body["error"].as_str().unwrap_or_else(|| panic!("{path}: no error field in {body}"));
        assert!(message.contains(needle), "{path}: {message}");
        assert_eq!(body.as_object().unwrap().len(), 1, "{path}: {body}");
    }
    server.stop().await;
}

#[tokio::test]
async fn a_finding_comes_with_its_certificates_and_csv() {
    let fx = fixture();
    let server = start(&fx).await;
    let (status, detail) = server.json(&format!("/api/v1/findings/{}", fx.lint_id)).await;
    assert_eq!(status, 200);
    assert_eq!(detail["finding"]["id"], fx.lint_id);
    assert_eq!(detail["finding"]["kind"], "lint_violation");
    let certs = detail["certificates"].as_array().unwrap();
    assert_eq!(certs.len(), 2);
    let a = certs
        .iter()
        .find(|c| c["serial_hex"].as_str().unwrap().ends_with(&fx.serial_a[fx.serial_a.len() - 8..]))
        .unwrap();
    assert_eq!(a["dns_names"], json!(["a.example.tw", "www.a.example.tw"]));
    assert_eq!(a["has_precert"], true);
    assert_eq!(a["has_final"], true);
    assert_eq!(a["sha256"].as_str().unwrap().len(), 64);
    assert!(a["not_before"].as_str().unwrap().ends_with('Z') && a["not_after"].as_str().unwrap().ends_with('Z'));
    assert!(a["subject"].is_string());
    let entries: Vec<(String, u64, bool)> = a["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (e["log"].as_str().unwrap().to_string(), e["index"].as_u64().unwrap(), e["precert"].as_bool().unwrap())
        })
        .collect();
    for expected in [("argon2025h1", 0, true), ("argon2025h1", 1, false), ("xenon2025h1", 7, false)] {
        assert!(entries.contains(&(expected.0.to_string(), expected.1, expected.2)), "{entries:?}");
    }

    let response = server.get(&format!("/api/v1/findings/{}/certificates.csv", fx.lint_id)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()[reqwest::header::CONTENT_TYPE], "text/csv; charset=utf-8");
    let disposition = response.headers()[reqwest::header::CONTENT_DISPOSITION].to_str().unwrap().to_string();
    assert!(disposition.contains(&format!("finding-{}-certificates.csv", fx.lint_id)), "{disposition}");
    let csv = response.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], ctwatch_api::export::CSV_HEADER);
    assert_eq!(lines.len(), 3);
    let row_a = lines.iter().find(|l| l.contains("a.example.tw www.a.example.tw")).unwrap();
    assert!(row_a.contains(",argon2025h1:0,argon2025h1:1 xenon2025h1:7,"), "{row_a}");
    let row_b = lines.iter().find(|l| l.contains("b.example.tw")).unwrap();
    assert!(row_b.contains(",,argon2025h1:2,"), "{row_b}");
    let serial_b = fx.serial_b.trim_start_matches("00");
    assert!(row_b.starts_with(serial_b) || row_b.starts_with(&fx.serial_b), "{row_b} vs {serial_b}");

    // A finding without certificates: the header only.
    let (status, csv) = server.text(&format!("/api/v1/findings/{}/certificates.csv", fx.caa_id)).await;
    assert_eq!((status, csv.lines().count()), (200, 1));
    let (_, overdue) = server.json(&format!("/api/v1/findings/{}", fx.overdue_id)).await;
    assert_eq!(overdue["finding"]["evidence"]["counts"]["late"], 2);
    server.stop().await;
}

#[tokio::test]
async fn issuers_and_logs_report_the_store() {
    let fx = fixture();
    let server = start(&fx).await;
    let (status, issuers) = server.json("/api/v1/issuers").await;
    assert_eq!(status, 200);
    let ca = &issuers["issuers"][0];
    assert_eq!(ca["ca"], CA_NAME);
    assert_eq!(ca["issuer_spki_sha256"], json!([hex::encode(fx.issuer)]));
    // Two distinct certificates (A's precert and final are one).
    assert_eq!(ca["certificates_24h"], 2);
    assert_eq!(ca["certificates_7d"], 2);
    let by_validation: u64 = ca["by_validation_24h"].as_object().unwrap().values().map(|v| v.as_u64().unwrap()).sum();
    assert_eq!(by_validation, 2);

    let (status, logs) = server.json("/api/v1/logs").await;
    assert_eq!(status, 200);
    let logs = logs["logs"].as_array().unwrap();
    let argon = logs.iter().find(|l| l["name"] == "argon2025h1").unwrap();
    assert_eq!(argon["cursor"], 4);
    assert_eq!(argon["malformed_entries"], 1);
    assert_eq!(argon["log_id"], hex::encode(ARGON));
    assert_eq!(argon["verified_tree_size"], Value::Null);
    let xenon = logs.iter().find(|l| l["name"] == "xenon2025h1").unwrap();
    assert_eq!(xenon["cursor"], 8);
    server.stop().await;
}

#[tokio::test]
async fn a_token_guards_everything_but_healthz() {
    let fx = fixture();
    let mut config = local_config();
    config.token = Some("correct-horse-battery".into());
    let server = start_with(&fx, config, Readiness::LogsVerified(Vec::new())).await;
    let client = reqwest::Client::new();
    let (status, body) = server.text("/healthz").await;
    assert_eq!((status, body.as_str()), (200, "ok\n"));
    for path in ["/metrics", "/readyz", "/api/v1/findings", "/api/v1/logs", "/api/v1/issuers", "/api/v1/findings/1"] {
        let (status, body) = server.json(path).await;
        assert_eq!(status, 401, "{path}");
        assert_eq!(body["error"], "missing or invalid bearer token");
        for wrong in ["Bearer correct-horse-batterz", "Bearer correct-horse-battery2", "Basic correct-horse-battery"] {
            let response = client.get(server.url(path)).header("Authorization", wrong).send().await.unwrap();
            assert_eq!(response.status(), 401, "{path} with {wrong}");
            assert_eq!(response.headers()["www-authenticate"], "Bearer");
        }
        let response = client.get(server.url(path)).bearer_auth("correct-horse-battery").send().await.unwrap();
        assert_ne!(response.status(), 401, "{path}");
        assert!(response.status().is_success() || response.status() == 404, "{path}: {}", response.status());
    }
    server.stop().await;
}

#[tokio::test]
async fn a_public_listen_address_without_a_token_is_refused() {
    let fx = fixture();
    let registry = prometheus::Registry::new();
    let metrics = Arc::new(Metrics::new(&registry, MetricsConfig::default()).unwrap());
    let state = ApiState::new(fx.store.clone(), metrics);
    for listen in ["0.0.0.0:0", "[::]:0", "192.0.2.1:9898"] {
        let config = ApiConfig::new(listen.parse().unwrap());
        let err = ApiServer::bind(config.clone(), state.clone()).await.unwrap_err();
        assert!(matches!(err, ApiError::TokenRequired { .. }), "{listen}: {err}");
        assert!(err.to_string().contains("no bearer token"), "{err}");
        let err = ctwatch_api::serve(config, state.clone(), std::future::ready(())).await.unwrap_err();
        assert!(matches!(err, ApiError::TokenRequired { .. }));
    }
}

#[tokio::test]
async fn readyz_follows_the_readiness_rule() {
    let fx = fixture();
    let ready = Arc::new(AtomicBool::new(false));
    let flag = ready.clone();
    let server = start_with(&fx, local_config(), Readiness::Check(Arc::new(move || flag.load(Ordering::SeqCst)))).await;
    let (status, _) = server.text("/readyz").await;
    assert_eq!(status, 503);
    ready.store(true, Ordering::SeqCst);
    let (status, body) = server.text("/readyz").await;
    assert_eq!((status, body.as_str()), (200, "ready\n"));
    server.stop().await;

    // Ready once every named log has a verified tree head in the store.
    let logs = vec!["argon2025h1".to_string(), "xenon2025h1".to_string()];
    let server = start_with(&fx, local_config(), Readiness::LogsVerified(logs)).await;
    let (status, body) = server.json("/readyz").await;
    assert_eq!(status, 503);
    assert!(body["error"].as_str().unwrap().contains("argon2025h1, xenon2025h1"), "{body}");
    for (log_id, size) in [(ARGON, 10), (XENON, 8)] {
        let (status, _) = server.text("/readyz").await;
        assert_eq!(status, 503);
        let obs = LogObservation {
            log_id,
            seen_tree_size: Some(size),
            seen_timestamp_ms: Some(1_000),
            verified_head: Some(VerifiedHead {
                tree_size: size,
                timestamp_ms: 1_000,
                root_hash: [7; 32],
                signature: vec![],
            }),
            findings: vec![],
            position_ms: Some(1_000),
            at: now_secs(),
        };
        fx.store.call(move |s| s.record_observation(&obs)).await.unwrap();
    }
    let (status, _) = server.text("/readyz").await;
    assert_eq!(status, 200);
    server.stop().await;
}

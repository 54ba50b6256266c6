//! The Alertmanager sink against a real Alertmanager (Debian's `prometheus-alertmanager`)
//! started on 127.0.0.1 by the test, then read back through Alertmanager's own API.

use crate::support::{SharedStore, new_finding, now, worker};
use ctwatch_store::{FindingStatus, Severity, Store};
use serde_json::Value;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};

/// Where Debian and upstream install the binary.
const CANDIDATES: &[&str] =
    &["/usr/bin/prometheus-alertmanager", "/usr/local/bin/alertmanager", "/usr/bin/alertmanager"];

/// How long Alertmanager may take to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// The binary, or `None` after printing SKIPPED (a failure when CTWATCH_REQUIRE_DATA is set).
fn binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("CTWATCH_ALERTMANAGER") {
        return Some(PathBuf::from(path));
    }
    if let Some(found) = CANDIDATES.iter().map(PathBuf::from).find(|p| p.is_file()) {
        return Some(found);
    }
    let required = std::env::var("CTWATCH_REQUIRE_DATA").is_ok_and(|v| !v.is_empty() && v != "0");
    assert!(
        !required,
        "Alertmanager not found (install Debian's prometheus-alertmanager) and CTWATCH_REQUIRE_DATA is set"
    );
    eprintln!("SKIPPED: Alertmanager not found at {CANDIDATES:?} (apt-get install prometheus-alertmanager)");
    None
}

/// A running Alertmanager, killed (by its PID) when dropped.
struct Alertmanager {
    child: tokio::process::Child,
    url: String,
    /// Its log, for failure messages.
    log: Arc<Mutex<Vec<String>>>,
    _dir: tempfile::TempDir,
}

impl Alertmanager {
    /// Start Alertmanager on a free port with clustering off and storage in a temporary
    /// directory; returns once it logged that it is listening.
    async fn start(binary: &std::path::Path) -> Alertmanager {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("alertmanager.yml");
        std::fs::write(&config, "route:\n  receiver: blackhole\nreceivers:\n  - name: blackhole\n").unwrap();
        // The port is free when we look; another process taking it before Alertmanager binds
        // makes the start fail, so try a few ports.
        let mut last_log = Vec::new();
        for _ in 0..3 {
            let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
            let address = format!("127.0.0.1:{port}");
            let mut child = tokio::process::Command::new(binary)
                .arg(format!("--config.file={}", config.display()))
                .arg(format!("--storage.path={}", dir.path().join("data").display()))
                .arg(format!("--web.listen-address={address}"))
                .arg("--cluster.listen-address=")
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .kill_on_drop(true)
                .spawn()
                .unwrap();
            let stderr = child.stderr.take().unwrap();
            let log = Arc::new(Mutex::new(Vec::new()));
            let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
            let task_log = log.clone();
            tokio::spawn(async move {
                let mut ready = Some(ready_tx);
                let mut lines = BufReader::new(stderr).lines();
                // Keep draining after the ready line so Alertmanager never blocks on its log.
                while let Ok(Some(line)) = lines.next_line().await {
                    if line.contains("msg=\"Listening on\"")
                        && let Some(tx) = ready.take()
                    {
                        let _ = tx.send(());
                    }
                    task_log.lock().unwrap().push(line);
                }
            });
            // The sender is dropped without sending when the process exits first.
            match tokio::time::timeout(START_TIMEOUT, ready_rx).await {
                Ok(Ok(())) => return Alertmanager { child, url: format!("http://{address}"), log, _dir: dir },
                Ok(Err(_)) => last_log = log.lock().unwrap().clone(),
                Err(_) => panic!("Alertmanager did not start within {START_TIMEOUT:?}: {:?}", log.lock().unwrap()),
            }
            let _ = child.kill().await;
        }
        panic!("Alertmanager failed to start: {last_log:#?}");
    }

    /// Active alerts, via `GET /api/v2/alerts`.
    async fn alerts(&self) -> Vec<Value> {
        let response = reqwest::get(format!("{}/api/v2/alerts", self.url)).await.unwrap();
        assert!(response.status().is_success(), "{:?}", response.status());
        let mut alerts: Vec<Value> = response.json().await.unwrap();
        alerts.sort_by_key(|a| a["labels"]["finding_id"].as_str().unwrap_or("").parse::<i64>().unwrap_or(0));
        alerts
    }

    /// Kill it (SIGKILL to its PID) and reap it.
    async fn stop(mut self) {
        self.child.kill().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn findings_arrive_in_a_real_alertmanager_and_resolve() {
    let Some(binary) = binary() else { return };
    let am = Alertmanager::start(&binary).await;
    let store = SharedStore::new();
    let seen = now() - 3_600;
    let found = store.record(&[
        new_finding("caa_conflict:hipki:a.gov.tw", "caa_conflict", Severity::Error, Some("HiPKI"), seen),
        new_finding("issuance_surge:hipki", "issuance_surge", Severity::Critical, Some("HiPKI"), seen + 60),
        new_finding("caa_indeterminate:x", "caa_indeterminate", Severity::Info, Some("HiPKI"), seen),
        new_finding("log_misbehaviour:y", "log_misbehaviour", Severity::Warning, None, seen),
    ]);
    let config =
        format!("[[sink]]\ntype = \"alertmanager\"\nname = \"am\"\nurl = \"{}/\"\nresend_interval_secs = 60\n", am.url);
    let mut worker = worker(&config, &store);

    let stats = worker.pass().await.unwrap();
    assert_eq!(
        (stats.delivered(), stats.skipped(), stats.failed()),
        (3, 1, 0),
        "{stats:?} {:?}",
        am.log.lock().unwrap()
    );

    let alerts = am.alerts().await;
    assert_eq!(alerts.len(), 3, "{alerts:#?}");
    let caa = &alerts[0];
    assert_eq!(caa["labels"]["alertname"], "ctwatch_finding");
    assert_eq!(caa["labels"]["kind"], "caa_conflict");
    assert_eq!(caa["labels"]["ca"], "HiPKI");
    assert_eq!(caa["labels"]["severity"], "error");
    assert_eq!(caa["labels"]["finding_id"], found[0].id.to_string());
    assert_eq!(caa["labels"]["key"], "caa_conflict:hipki:a.gov.tw");
    let link = format!("http://ctwatch.test:9800/api/v1/findings/{}", found[0].id);
    assert_eq!(caa["annotations"]["link"], link.as_str());
    assert_eq!(caa["generatorURL"], link.as_str());
    assert_eq!(caa["annotations"]["summary"], "caa_conflict (error) for HiPKI: 0 certificates");
    assert!(caa["annotations"]["description"].as_str().unwrap().contains("a.gov.tw"));
    assert_eq!(caa["status"]["state"], "active");
    let starts =
        time::OffsetDateTime::parse(caa["startsAt"].as_str().unwrap(), &time::format_description::well_known::Rfc3339)
            .unwrap();
    assert_eq!(starts.unix_timestamp(), seen);
    assert_eq!(alerts[1]["labels"]["kind"], "issuance_surge");
    assert_eq!(alerts[1]["labels"]["severity"], "critical");
    // No CA: no `ca` label.
    assert_eq!(alerts[2]["labels"]["kind"], "log_misbehaviour");
    assert!(alerts[2]["labels"].get("ca").is_none(), "{:#?}", alerts[2]);

    // Nothing new; then a resolution ends the alert in Alertmanager.
    assert_eq!(worker.pass().await.unwrap().delivered(), 0);
    store.sync(|s| s.set_finding_status(found[1].id, FindingStatus::Resolved).unwrap());
    assert_eq!(worker.pass().await.unwrap().delivered(), 1);
    let kinds: Vec<Value> = am.alerts().await.iter().map(|a| a["labels"]["kind"].clone()).collect();
    assert_eq!(kinds, ["caa_conflict", "log_misbehaviour"]);

    // A minute on, the open ones are re-sent (and stay active); the resolved one is not.
    let stats = worker.pass_at(now() + 61).await.unwrap();
    assert_eq!((stats.delivered(), stats.resent(), stats.failed()), (0, 2, 0), "{stats:?}");
    assert_eq!(am.alerts().await.len(), 2);
    am.stop().await;
}

#[tokio::test]
async fn an_unreachable_alertmanager_leaves_findings_pending() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let store = SharedStore::new();
    let found = store.record(&[new_finding("k", "caa_conflict", Severity::Error, None, 1_000)]);
    let config = format!(
        "[[sink]]\ntype = \"alertmanager\"\nname = \"am\"\nurl = \"{url}\"\nmax_attempts = 2\nbackoff_secs = 0.001\n"
    );
    let mut worker = worker(&config, &store);
    let stats = worker.pass().await.unwrap();
    assert_eq!(stats.failed(), 1);
    assert_eq!(store.pending("am"), [found[0].id]);
}

/// A stand-in Alertmanager that refuses any batch of more than one alert, and alerts whose
/// `finding_id` is odd, with 400 (the real one answers 400 when any alert of a batch is invalid).
async fn picky_alertmanager(posts: Arc<Mutex<Vec<usize>>>) -> String {
    use axum::http::StatusCode;
    async fn alerts(
        axum::extract::State(posts): axum::extract::State<Arc<Mutex<Vec<usize>>>>,
        axum::Json(batch): axum::Json<Vec<Value>>,
    ) -> StatusCode {
        posts.lock().unwrap().push(batch.len());
        let odd = |a: &Value| {
            a["labels"]["finding_id"].as_str().and_then(|id| id.parse::<i64>().ok()).is_some_and(|id| id % 2 == 1)
        };
        if batch.len() > 1 || batch.iter().any(odd) { StatusCode::BAD_REQUEST } else { StatusCode::OK }
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = axum::Router::new().route("/api/v2/alerts", axum::routing::post(alerts)).with_state(posts);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

#[tokio::test]
async fn a_refused_batch_is_retried_alert_by_alert() {
    let posts = Arc::new(Mutex::new(Vec::new()));
    let url = picky_alertmanager(posts.clone()).await;
    let store = SharedStore::new();
    let found = store.record(&[
        new_finding("a", "caa_conflict", Severity::Error, None, 1_000),
        new_finding("b", "caa_conflict", Severity::Error, None, 1_000),
    ]);
    let config = format!("[[sink]]\ntype = \"alertmanager\"\nname = \"am\"\nurl = \"{url}\"\n");
    let mut worker = worker(&config, &store);
    let stats = worker.pass().await.unwrap();
    assert_eq!((stats.delivered(), stats.failed()), (1, 1), "{stats:?}");
    // One batch of two, then one post per alert (400 is not retried).
    assert_eq!(*posts.lock().unwrap(), [2, 1, 1]);
    let odd: Vec<i64> = found.iter().map(|f| f.id).filter(|id| id % 2 == 1).collect();
    assert_eq!(store.pending("am"), odd);
}

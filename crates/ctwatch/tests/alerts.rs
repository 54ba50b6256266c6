//! The daemon's alert sinks are woken by commits that store findings: a finding reaches a
//! webhook within seconds of the log publishing the certificate, not at the sink worker's next
//! periodic pass (every 15 s).

use ctwatch_ct::sth::LogSigner;
use ctwatch_testlog::{BasicConstraintsMode, CertFactory, LeafSpec, TestLog, now_ms, serve_local};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// The daemon, killed when the test ends (also when it fails).
struct Daemon(std::process::Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A webhook receiver on 127.0.0.1: answers every POST with 200 and sends its body on `tx`.
async fn receiver(tx: mpsc::UnboundedSender<serde_json::Value>) -> String {
    let app = axum::Router::new()
        .route(
            "/hook",
            axum::routing::post(
                |axum::extract::State(tx): axum::extract::State<mpsc::UnboundedSender<serde_json::Value>>,
                 axum::Json(alert): axum::Json<serde_json::Value>| async move {
                    let _ = tx.send(alert);
                },
            ),
        )
        .with_state(tx);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    url
}

/// A leaf no lint flags.
fn good_leaf(host: &str) -> LeafSpec {
    let mut spec = LeafSpec::new([host.to_string()]);
    spec.ocsp_url = Some("http://ocsp.example.com/".into());
    spec.ca_issuers_url = Some("http://aia.example.com/issuer.cer".into());
    spec
}

/// A leaf one lint flags: basicConstraints not critical.
fn bad_leaf(host: &str) -> LeafSpec {
    let mut spec = good_leaf(host);
    spec.basic_constraints = BasicConstraintsMode::NonCritical;
    spec
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_finding_reaches_the_webhook_well_before_the_periodic_pass() {
    // Two issuers of one watched CA, so that each bad certificate opens its own finding
    // (lint findings are per issuer and lint).
    let first = CertFactory::new("Alert CA 1").unwrap();
    let second = CertFactory::new("Alert CA 2").unwrap();
    let log = TestLog::new("alerts", LogSigner::generate());
    for i in 0..4 {
        log.issue(&first, &good_leaf(&format!("ok{i}.example.com")), now_ms() - 60_000, true).unwrap();
    }
    log.issue(&first, &bad_leaf("bad1.example.com"), now_ms() - 60_000, true).unwrap();
    log.publish();
    let server = serve_local(vec![log.clone()]).await.unwrap();
    let (tx, mut alerts) = mpsc::unbounded_channel();
    let hook = receiver(tx).await;

    let dir = tempfile::tempdir().unwrap();
    let key = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, log.log_key_spki_der());
    let issuer = |f: &CertFactory| hex::encode(ctwatch_cert::facts::spki_sha256_of_cert(f.issuer_der()).unwrap());
    let config = dir.path().join("ctwatch.toml");
    std::fs::write(
        &config,
        format!(
            "[store]\npath = \"db.sqlite\"\n[metrics]\nlisten = \"127.0.0.1:{}\"\n[fetch]\npoll_interval_secs = 0.2\n\
             [[log]]\nname = \"alerts\"\nurl = \"{}\"\nkey = \"{key}\"\n\
             [[ca]]\nname = \"Alert CA\"\nissuers = [\"{}\", \"{}\"]\n\
             [[sink]]\ntype = \"webhook\"\nurl = \"{hook}\"\nsecret = \"test\"\n",
            free_port(),
            server.url_rfc6962("alerts"),
            issuer(&first),
            issuer(&second),
        ),
    )
    .unwrap();
    let daemon = Command::new(env!("CARGO_BIN_EXE_ctwatch"))
        .args(["--log-level", "warn", "run", "--config"])
        .arg(&config)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let daemon = Daemon(daemon);

    // The finding of the backlog: its alert also shows that the sink worker has run a pass,
    // so the next periodic one is 15 s away.
    let first_alert = tokio::time::timeout(Duration::from_secs(10), alerts.recv()).await;
    let first_alert = first_alert.expect("no alert for the backlog's finding within 10 s").unwrap();
    let expected = |f: &CertFactory| format!("lint_violation:{}:e_sub_cert_basic_constraints_not_critical", issuer(f));
    assert_eq!(first_alert["key"], expected(&first), "{first_alert}");

    // A bad certificate from the other issuer, published now: a new finding.
    log.issue(&second, &bad_leaf("bad2.example.com"), now_ms(), true).unwrap();
    let published = Instant::now();
    log.publish();
    let second_alert = tokio::time::timeout(Duration::from_secs(5), alerts.recv()).await;
    let waited = published.elapsed();
    drop(daemon);
    let second_alert = second_alert.expect("no alert within 5 s of publishing: the sinks wait for their tick").unwrap();
    assert_eq!(second_alert["key"], expected(&second), "{second_alert}");
    assert!(waited < Duration::from_secs(5), "{waited:?}");
    server.shutdown().await;
}

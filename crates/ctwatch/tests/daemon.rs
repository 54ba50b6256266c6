//! The daemon end to end: `ctwatch run` against a test log serves /readyz and /metrics, every
//! metric the Grafana dashboard queries is exported with sane values, and SIGTERM drains and
//! exits 0.

use base64::Engine as _;
use ctwatch_ct::sth::LogSigner;
use ctwatch_testlog::{CertFactory, LeafSpec, TestLog, now_ms, serve_local};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Poll `f` until it returns Some or `deadline` passes.
async fn wait_for<T, F: std::future::Future<Output = Option<T>>>(
    deadline: Duration,
    mut f: impl FnMut() -> F,
) -> Option<T> {
    let start = Instant::now();
    while start.elapsed() < deadline {
        if let Some(v) = f().await {
            return Some(v);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_exports_every_dashboard_metric_and_drains_on_sigterm() {
    let ca = CertFactory::new("Daemon CA").unwrap();
    let log = TestLog::new("daemon", LogSigner::generate());
    for i in 0..40 {
        let mut spec = LeafSpec::new([format!("host{i}.example.com")]);
        spec.crl_url = Some("http://127.0.0.1:9/none.crl".into());
        log.issue(&ca, &spec, now_ms() - 60_000, i % 2 == 0).unwrap();
    }
    let size = log.publish().head.tree_size;
    let server = serve_local(vec![log.clone()]).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let key = base64::engine::general_purpose::STANDARD.encode(log.log_key_spki_der());
    let issuer = hex::encode(ctwatch_cert::facts::spki_sha256_of_cert(ca.issuer_der()).unwrap());
    let config = dir.path().join("ctwatch.toml");
    std::fs::write(
        &config,
        format!(
            "[store]\npath = \"db.sqlite\"\n[metrics]\nlisten = \"127.0.0.1:{port}\"\n[fetch]\npoll_interval_secs = 0.2\n\
             [[log]]\nname = \"daemon\"\nurl = \"{}\"\nkey = \"{key}\"\n[[ca]]\nname = \"Daemon CA\"\nissuers = [\"{issuer}\"]\n",
            server.url_rfc6962("daemon")
        ),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ctwatch"))
        .args(["run", "--config"])
        .arg(&config)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let http = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let ready = wait_for(Duration::from_secs(30), || {
        let http = http.clone();
        let url = format!("{base}/readyz");
        async move { http.get(url).send().await.ok().filter(|r| r.status() == 200).map(|_| ()) }
    })
    .await;
    assert!(ready.is_some(), "never ready");
    // Wait until the cursor reached the tree size, then check the exported families.
    let metrics = wait_for(Duration::from_secs(30), || {
        let http = http.clone();
        let url = format!("{base}/metrics");
        async move {
            let text = http.get(url).send().await.ok()?.text().await.ok()?;
            text.contains(&format!("ctwatch_log_cursor{{log=\"daemon\"}} {size}")).then_some(text)
        }
    })
    .await
    .expect("cursor never reached the tree size");
    let dashboard =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../dashboards/metrics.txt")).unwrap();
    let exported: std::collections::BTreeSet<&str> = metrics
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| l.split(['{', ' ']).next())
        .collect();
    let missing: Vec<&str> =
        dashboard.lines().map(str::trim).filter(|n| !n.is_empty() && !exported.contains(n)).collect();
    assert!(missing.is_empty(), "the dashboard queries metrics ctwatch does not export: {missing:?}");
    // Sane values.
    assert!(metrics.contains(&format!("ctwatch_log_tree_size{{log=\"daemon\"}} {size}")), "{metrics}");
    assert!(metrics.contains("ctwatch_log_lag_entries{log=\"daemon\"} 0"), "{metrics}");
    assert!(metrics.contains("ctwatch_certificates_issued_total{ca=\"Daemon CA\",validation=\"dv\"} 40"), "{metrics}");
    assert!(metrics.contains("ctwatch_build_info{version="), "{metrics}");
    let findings: serde_json::Value =
        http.get(format!("{base}/api/v1/logs")).send().await.unwrap().json().await.unwrap();
    assert_eq!(findings["logs"][0]["cursor"], size);

    // SIGTERM: drain, commit, exit 0.
    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    assert_eq!(exit.code(), Some(0));
    server.shutdown().await;
}

//! `ctwatch demo`: the main job on the embedded default (SQLite) with no network. It serves the
//! incident scenario (crates/scenario: a surge, CAA conflicts, reused compromised keys, lint
//! failures, late revocations) from two test logs (one RFC 6962, one static-ct-api), a DNS
//! server and a CRL server, all on 127.0.0.1; monitors it with metrics and the HTTP API
//! served; prints what it found; then keeps tailing the growing logs until Ctrl-C (or exits
//! with `--once`).

use anyhow::Context as _;
use ctwatch_ct::sth::LogSigner;
use ctwatch_monitor::config::{Settings, StoreLocation};
use ctwatch_monitor::{Monitor, RunMode};
use ctwatch_scenario::{HOUR, ServedScenario};
use ctwatch_testlog::{CertFactory, LeafSpec, ListedAs, TestLog, ValidationLevel, log_list_json_with, now_ms};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Printed on stdout once the scenario is processed (scripts and tests wait for it).
pub const CAUGHT_UP_MARKER: &str = "ctwatch demo: scenario processed";

/// `ctwatch demo` options.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Directory for the config and database (default: a new temporary directory).
    pub dir: Option<PathBuf>,
    /// Where metrics and the API listen.
    pub listen: SocketAddr,
    /// Exit once the scenario is processed instead of tailing.
    pub once: bool,
}

/// Run the demo.
pub async fn run_demo(opts: DemoOptions) -> anyhow::Result<ExitCode> {
    let (dir, _guard) = match &opts.dir {
        Some(d) => {
            std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
            (d.clone(), None)
        }
        None => {
            let t = tempfile::tempdir().context("creating a temporary directory")?;
            (t.path().to_path_buf(), Some(t))
        }
    };
    eprintln!("ctwatch demo: working in {}", dir.display());
    eprintln!("ctwatch demo: generating the incident scenario (about 2,000 log entries)...");
    let rfc6962 = TestLog::new("demo-rfc6962", LogSigner::generate());
    let tiled = TestLog::new("demo-tiled", LogSigner::generate());
    let now = ctwatch_monitor::follow::unix_now();
    let mut scenario = ServedScenario::start(vec![rfc6962.clone(), tiled.clone()], now)
        .await
        .context("serving the demo scenario on 127.0.0.1")?;
    eprintln!(
        "ctwatch demo: test logs at {}, DNS at {}, CRLs at http://{}/",
        scenario.server.base_url(),
        scenario.dns.addr,
        scenario.crls.addr
    );

    let list =
        log_list_json_with(&scenario.server, &[(rfc6962.clone(), ListedAs::Rfc6962), (tiled.clone(), ListedAs::Tiled)]);
    std::fs::write(dir.join("log_list.json"), list).context("writing log_list.json")?;
    let config_path = dir.join("ctwatch.toml");
    let config = demo_config(opts.listen, &scenario.detectors_toml(&dir).context("writing the CA certificates")?);
    std::fs::write(&config_path, config).context("writing ctwatch.toml")?;
    eprintln!("ctwatch demo: config {}", config_path.display());
    let settings = Settings::load(&config_path).map_err(|e| anyhow::anyhow!("{e}"))?;

    let cancel = CancellationToken::new();
    crate::cli::cancel_on_signal(cancel.clone());
    let metrics = crate::cli::new_metrics(&settings)?;
    let monitor = Monitor::with_observer(settings.clone(), open_store(&settings.store)?, metrics.clone()).await?;
    crate::cli::spawn_api(&settings, &monitor, metrics.clone(), cancel.clone()).await?;
    let summaries = monitor.run(RunMode::UntilCaughtUp, cancel.clone()).await?;
    let code = crate::cli::summarise(&summaries, RunMode::UntilCaughtUp);
    println!();
    crate::status::print_status(&settings.store, crate::cli::OutputFormat::Table)?;
    print_summary(&settings.store, &settings.config_path)?;
    println!("{CAUGHT_UP_MARKER}");
    if opts.once || cancel.is_cancelled() {
        cancel.cancel();
        scenario.server.shutdown().await;
        return Ok(code);
    }

    eprintln!(
        "ctwatch demo: tailing; the logs grow every 2 s. Try http://{}/api/v1/findings (Ctrl-C to stop)",
        opts.listen
    );
    let grower = match scenario.incidents.factories.remove("HiPKI") {
        Some(ca) => {
            let (a, b) = (rfc6962.clone(), tiled.clone());
            Some(tokio::spawn(async move { grow(&ca, &a, &b).await }))
        }
        None => None,
    };
    let location = settings.store.clone();
    let mut daemon = settings;
    daemon.partial_tile_delay = Duration::from_secs(5);
    let monitor = Monitor::with_observer(daemon, open_store(&location)?, metrics).await?;
    let result = monitor.run(RunMode::Daemon, cancel.clone()).await;
    cancel.cancel();
    if let Some(g) = grower {
        g.abort();
    }
    scenario.server.shutdown().await;
    Ok(crate::cli::summarise(&result?, RunMode::Daemon))
}

fn open_store(location: &StoreLocation) -> anyhow::Result<Box<dyn ctwatch_store::Store>> {
    location.open().with_context(|| format!("opening store {location}"))
}

/// Ten ordinary certificates of `ca` every two seconds into both logs (precertificate and final
/// certificate), under a name without CAA records.
async fn grow(ca: &CertFactory, a: &TestLog, b: &TestLog) {
    let mut i = 0u64;
    loop {
        tokio::time::sleep(Duration::from_secs(2)).await;
        for _ in 0..10 {
            i += 1;
            let mut spec = LeafSpec::new([format!("live{i}.corp.tw")]);
            spec.validation = ValidationLevel::Ov;
            let now_s = ctwatch_monitor::follow::unix_now();
            spec.not_before = now_s - 60;
            spec.not_after = now_s + 90 * 24 * HOUR;
            if ctwatch_scenario::log_certificate(ca, &[a, b], &spec, now_ms(), true).is_err() {
                return;
            }
        }
        a.publish();
        b.publish();
    }
}

fn demo_config(listen: SocketAddr, detectors: &str) -> String {
    format!(
        "# Written by `ctwatch demo`.\n\
         log_list = \"log_list.json\"\n\n\
         [store]\npath = \"ctwatch.sqlite\"\n\n\
         [fetch]\npoll_interval_secs = 1\npartial_tile_delay_secs = 0\nrequests_per_second = 200\nconcurrency = 4\n\n\
         [metrics]\nlisten = \"{listen}\"\n\n\
         {detectors}"
    )
}

fn print_summary(location: &StoreLocation, config_path: &Path) -> anyhow::Result<()> {
    let store = location.open_read_only().with_context(|| format!("opening store {location}"))?;
    let certs = store.certificate_count()?;
    let findings = store.findings(&ctwatch_store::FindingFilter { limit: Some(10_000), ..Default::default() })?;
    let mut by_kind: std::collections::BTreeMap<&str, (usize, u64)> = Default::default();
    for f in &findings {
        let e = by_kind.entry(f.kind.as_str()).or_default();
        e.0 += 1;
        e.1 += f.certificate_count;
    }
    println!("\n{certs} distinct certificates of the watched CAs stored; {} findings:", findings.len());
    for (kind, (n, certs)) in by_kind {
        println!("  {kind:<24} {n:>4} findings  {certs:>6} certificates");
    }
    println!("Details: `ctwatch findings list --config {}`", config_path.display());
    Ok(())
}

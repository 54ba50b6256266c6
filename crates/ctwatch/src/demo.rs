//! `ctwatch demo`: a self-contained run on the embedded default (SQLite) against test logs
//! served in-process on 127.0.0.1, so the main job works on a machine without network.

use anyhow::Context as _;
use base64::Engine as _;
use ctwatch_ct::sth::LogSigner;
use ctwatch_monitor::RunMode;
use ctwatch_monitor::config::Settings;
use ctwatch_testlog::{
    CertFactory, LeafSpec, ListedAs, TestLog, ValidationLevel, log_list_json_with, now_ms, serve_local,
};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

/// Certificates issued per CA in the initial scenario.
const INITIAL_CERTS: usize = 400;

/// Run the demo: build the scenario, serve it, monitor it until caught up, print the result;
/// with `keep_running`, keep growing the logs and tailing them until Ctrl-C.
pub async fn run_demo(dir: Option<PathBuf>, keep_running: bool) -> anyhow::Result<ExitCode> {
    let (dir, _guard) = match dir {
        Some(d) => {
            std::fs::create_dir_all(&d).with_context(|| format!("creating {}", d.display()))?;
            (d, None)
        }
        None => {
            let t = tempfile::tempdir().context("creating a temporary directory")?;
            (t.path().to_path_buf(), Some(t))
        }
    };
    eprintln!("ctwatch demo: working in {}", dir.display());

    let watched = CertFactory::new("Demo Watched CA").context("creating the demo CA")?;
    let other = CertFactory::new("Demo Other CA").context("creating the demo CA")?;
    let rfc6962 = TestLog::new("demo-rfc6962", LogSigner::generate());
    let tiled = TestLog::new("demo-tiled", LogSigner::generate());
    let start = now_ms() - 48 * 3_600_000;
    issue_batch(&[&rfc6962, &tiled], &watched, &other, 0, INITIAL_CERTS, start)?;
    rfc6962.publish();
    tiled.publish();
    let server = serve_local(vec![rfc6962.clone(), tiled.clone()]).await.context("starting the test log server")?;
    eprintln!("ctwatch demo: test logs at {}", server.base_url());

    let list = log_list_json_with(&server, &[(rfc6962.clone(), ListedAs::Rfc6962), (tiled.clone(), ListedAs::Tiled)]);
    std::fs::write(dir.join("log_list.json"), list).context("writing log_list.json")?;
    std::fs::write(dir.join("watched-issuer.pem"), pem("CERTIFICATE", watched.issuer_der()))
        .context("writing watched-issuer.pem")?;
    let config_path = dir.join("ctwatch.toml");
    std::fs::write(&config_path, demo_config()).context("writing ctwatch.toml")?;
    eprintln!("ctwatch demo: config {}", config_path.display());

    let settings = Settings::load(&config_path).map_err(|e| anyhow::anyhow!("{e}"))?;
    let store_path = settings.store_path.clone();
    let code =
        crate::cli::run_monitor(settings.clone(), RunMode::UntilCaughtUp, Duration::from_secs(30), false).await?;
    println!();
    crate::status::print_status(&store_path, crate::cli::OutputFormat::Table)?;
    print_summary(&store_path)?;

    if keep_running {
        eprintln!("ctwatch demo: tailing; the logs grow every 2 s (Ctrl-C to stop)");
        let grower = {
            let (a, b) = (rfc6962.clone(), tiled.clone());
            tokio::spawn(async move {
                let mut round = 0usize;
                loop {
                    tokio::time::sleep(Duration::from_secs(2)).await;
                    round += 1;
                    let offset = INITIAL_CERTS + round * 10;
                    if issue_batch(&[&a, &b], &watched, &other, offset, 10, now_ms()).is_err() {
                        break;
                    }
                    a.publish();
                    b.publish();
                }
            })
        };
        let mut daemon = settings;
        daemon.poll_interval = Duration::from_secs(1);
        daemon.partial_tile_delay = Duration::from_secs(5);
        let code = crate::cli::run_monitor(daemon, RunMode::Daemon, Duration::from_secs(30), true).await?;
        grower.abort();
        server.shutdown().await;
        return Ok(code);
    }
    server.shutdown().await;
    Ok(code)
}

/// Issue `n` certificates from each CA into every log (precert + final for most, some precert
/// only), numbered from `offset`.
fn issue_batch(
    logs: &[&TestLog],
    watched: &CertFactory,
    other: &CertFactory,
    offset: usize,
    n: usize,
    start_ms: u64,
) -> anyhow::Result<()> {
    for i in offset..offset + n {
        for (ca, domain) in [(watched, "watched-example.tw"), (other, "other-example.com")] {
            let mut spec = LeafSpec::new([format!("host{i}.{domain}"), format!("www.host{i}.{domain}")]);
            if i % 5 == 0 {
                spec.validation = ValidationLevel::Ov;
            }
            let ts = start_ms + (i as u64 % 3600) * 1000;
            let chain = ca.chain();
            let precert = ca.precert(&spec)?;
            let mut first = None;
            for log in logs {
                let idx = log.add_precert_entry(&precert.der, ca.issuer_der(), chain[1..].to_vec(), ts)?;
                first.get_or_insert(idx);
            }
            if i % 4 != 0 {
                let sct = logs[0].sct_for_entry(first.unwrap_or(0))?;
                let final_der = ca.final_cert(&precert, &ctwatch_testlog::encode_sct_list(&[sct]))?;
                for log in logs {
                    log.add_x509_entry(&final_der, chain.clone(), ts)?;
                }
            }
        }
    }
    Ok(())
}

fn demo_config() -> String {
    "# Written by `ctwatch demo`.\n\
     log_list = \"log_list.json\"\n\n\
     [store]\npath = \"ctwatch.sqlite\"\n\n\
     [fetch]\npoll_interval_secs = 1\npartial_tile_delay_secs = 0\nrequests_per_second = 200\nconcurrency = 4\n\n\
     [[ca]]\nname = \"Demo Watched CA\"\nissuers = [\"watched-issuer.pem\"]\ncaa_identifiers = [\"demo-ca.example\"]\n\n\
     [metrics]\nlisten = \"127.0.0.1:9898\"\n"
        .to_string()
}

fn print_summary(store_path: &Path) -> anyhow::Result<()> {
    use ctwatch_store::Store as _;
    let store = ctwatch_store::SqliteStore::open_read_only(store_path)?;
    let certs = store.certificate_count()?;
    let findings = store.findings(&ctwatch_store::FindingFilter::default())?;
    println!("\n{certs} distinct certificates of the watched CA stored; {} findings", findings.len());
    for f in findings.iter().take(20) {
        println!("  #{} {} [{:?}] {}", f.id, f.kind, f.severity, f.ca.as_deref().unwrap_or("-"));
    }
    Ok(())
}

fn pem(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

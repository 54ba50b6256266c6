//! `ctwatch bench rate-limited`: how much of a rate-limited, batch-capped log's allowance the
//! monitor uses.
//!
//! The test log (served by this process) allows `N` requests per second (a token bucket of
//! `N` tokens; beyond it 429 with `Retry-After`) and returns at most `K` entries per
//! get-entries. The monitor (`ctwatch run --until-caught-up`, a child process) is configured
//! with a request ceiling well above `N` and a batch size well above `K`, as a user who does not
//! know the log's limits would: it has to find both. The figures are the achieved entries per
//! second against the allowance `N·K`, the share of requests that ended in 429, and the batch
//! cap the monitor reported learning.

use anyhow::{Context as _, bail};
use ctwatch_ct::sth::LogSigner;
use ctwatch_testlog::{CertFactory, LeafSpec, ListedAs, LogOptions, RateLimit, TestLog, log_list_json_with, now_ms};
use std::io::BufRead as _;
use std::process::{Command, Stdio};
use std::time::Instant;

/// Options of `ctwatch bench rate-limited`.
#[derive(Debug, Clone)]
pub struct RateLimitedOptions {
    /// Requests per second the log allows.
    pub requests_per_second: f64,
    /// Entries per get-entries response at most.
    pub batch_cap: u64,
    /// Seconds of catch-up the log's size is chosen for (at the allowed rate).
    pub seconds: u64,
    /// The monitor's configured request ceiling, as a multiple of the allowed rate.
    pub ceiling_factor: f64,
    /// The monitor's configured batch size.
    pub batch_size: u64,
    pub runs: u32,
}

/// One measured run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RateFigures {
    pub entries: u64,
    pub wall_secs: f64,
    pub entries_per_sec: f64,
    pub allowed_entries_per_sec: f64,
    pub share_of_allowed: f64,
    pub requests: u64,
    pub rate_limited: u64,
    pub learned_cap: Option<u64>,
}

/// Build the log, serve it here, run the monitor against it `runs` times.
pub async fn rate_limited(opts: RateLimitedOptions) -> anyhow::Result<()> {
    if !opts.requests_per_second.is_finite() || opts.requests_per_second <= 0.0 || opts.batch_cap == 0 {
        bail!("--requests-per-second and --batch-cap must be positive");
    }
    let allowed = opts.requests_per_second * opts.batch_cap as f64;
    let entries = (allowed * opts.seconds as f64).ceil() as u64;
    let dir = tempfile::tempdir()?;
    let exe = std::env::current_exe().context("locating the ctwatch binary")?;
    // 1 % of the entries from the watched CA, as in the other benchmarks.
    let watched = CertFactory::new("Bench Rate Watched CA")?;
    let other = CertFactory::new("Bench Rate Other CA")?;
    let log = TestLog::with_options("rated", LogSigner::generate(), LogOptions::default());
    eprintln!("bench: generating a {entries}-entry log");
    let start = now_ms() - 86_400_000;
    let mut i = 0u64;
    while log.tree_size() < entries {
        let spec = LeafSpec::new([format!("h{i}.rate.bench.test")]);
        let ca = if i.is_multiple_of(100) { &watched } else { &other };
        if entries - log.tree_size() >= 2 {
            log.issue(ca, &spec, start + i, true)?;
        } else {
            log.issue_precert(ca, &spec, start + i)?;
        }
        i += 1;
    }
    log.publish();
    let server = ctwatch_testlog::serve_local(vec![log.clone()]).await?;
    eprintln!("bench: serving the log at {}", server.url_rfc6962(&log.name()));
    std::fs::write(dir.path().join("log_list.json"), log_list_json_with(&server, &[(log.clone(), ListedAs::Rfc6962)]))?;
    let ceiling = opts.requests_per_second * opts.ceiling_factor;
    std::fs::write(
        dir.path().join("ctwatch.toml"),
        format!(
            "log_list = \"log_list.json\"\n[store]\npath = \"ctwatch.sqlite\"\n\
             [fetch]\nrequests_per_second = {ceiling}\nconcurrency = 8\nbatch_size = {}\ncommit_entries = 8192\n\
             [[ca]]\nname = \"Bench Rate Watched CA\"\nissuers = [\"{}\"]\n",
            opts.batch_size,
            hex::encode(watched.issuer_key_hash())
        ),
    )?;
    let mut figures = Vec::new();
    for run in 0..opts.runs {
        for f in ["ctwatch.sqlite", "ctwatch.sqlite-wal", "ctwatch.sqlite-shm"] {
            let _ = std::fs::remove_file(dir.path().join(f));
        }
        // A fresh bucket per run (full, as a log seen for the first time).
        log.set_options(LogOptions {
            max_batch: opts.batch_cap,
            rate_limit: Some(RateLimit { per_second: opts.requests_per_second, burst: opts.requests_per_second }),
            ..LogOptions::default()
        });
        log.reset_stats();
        let config = dir.path().join("ctwatch.toml");
        let t0 = Instant::now();
        // Every monitor log line, with CTWATCH_BENCH_VERBOSE set (for finding where time goes).
        let verbose = std::env::var_os("CTWATCH_BENCH_VERBOSE").is_some();
        let (status, learned_cap) = tokio::task::spawn_blocking({
            let exe = exe.clone();
            move || -> anyhow::Result<_> {
                let mut child = Command::new(exe)
                    .args([
                        "--log-level",
                        if verbose {
                            "debug,hyper=info,reqwest=info"
                        } else {
                            "warn,ctwatch_monitor::follow=info,ctwatch_client=debug"
                        },
                        "run",
                        "--until-caught-up",
                        "--config",
                    ])
                    .arg(config)
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped())
                    .spawn()?;
                let stderr = child.stderr.take().context("child stderr")?;
                let mut cap = None;
                for line in std::io::BufReader::new(stderr).lines() {
                    let line = line?;
                    if line.contains("request rate adapted") || verbose {
                        eprintln!("  monitor: {}", line.trim());
                    }
                    if line.contains("batch size adapted")
                        && let Some(v) = line.split("cap=").nth(1).and_then(|r| r.split_whitespace().next())
                    {
                        cap = v.parse().ok();
                    }
                }
                Ok((child.wait()?, cap))
            }
        })
        .await??;
        let wall = t0.elapsed().as_secs_f64();
        if !status.success() {
            bail!("ctwatch run failed: {status}");
        }
        let stats = log.stats();
        let fig = RateFigures {
            entries,
            wall_secs: wall,
            entries_per_sec: entries as f64 / wall,
            allowed_entries_per_sec: allowed,
            share_of_allowed: entries as f64 / wall / allowed,
            requests: stats.total,
            rate_limited: stats.rate_limited,
            learned_cap,
        };
        eprintln!(
            "bench: run {run}: {:.0} entries/s ({:.1} % of allowed), {} requests, {} got 429",
            fig.entries_per_sec,
            fig.share_of_allowed * 100.0,
            fig.requests,
            fig.rate_limited
        );
        figures.push(fig);
    }
    server.shutdown().await;
    print_figures(&opts, &figures);
    Ok(())
}

fn print_figures(opts: &RateLimitedOptions, figures: &[RateFigures]) {
    println!(
        "log: {} requests/s x {} entries = {:.0} entries/s allowed; monitor ceiling {} requests/s, batch size {}",
        opts.requests_per_second,
        opts.batch_cap,
        opts.requests_per_second * opts.batch_cap as f64,
        opts.requests_per_second * opts.ceiling_factor,
        opts.batch_size
    );
    println!(
        "{:>9} {:>8} {:>10} {:>10} {:>9} {:>7} {:>7} {:>7}",
        "ENTRIES", "WALL s", "ENTRIES/s", "OF ALLOWED", "REQUESTS", "429", "429 %", "CAP"
    );
    for f in figures {
        println!(
            "{:>9} {:>8.1} {:>10.0} {:>9.1}% {:>9} {:>7} {:>6.2}% {:>7}",
            f.entries,
            f.wall_secs,
            f.entries_per_sec,
            f.share_of_allowed * 100.0,
            f.requests,
            f.rate_limited,
            100.0 * f.rate_limited as f64 / f.requests.max(1) as f64,
            f.learned_cap.map_or("-".to_string(), |c| c.to_string())
        );
    }
    let med = |g: fn(&RateFigures) -> f64| crate::bench::median(figures.iter().map(g).collect());
    println!(
        "\nmedians: {:.0} entries/s = {:.1} % of allowed, {:.2} % of requests got 429, cap learned in {}/{} runs",
        med(|f| f.entries_per_sec),
        med(|f| f.share_of_allowed) * 100.0,
        med(|f| 100.0 * f.rate_limited as f64 / f.requests.max(1) as f64),
        figures.iter().filter(|f| f.learned_cap == Some(opts.batch_cap)).count(),
        figures.len()
    );
}

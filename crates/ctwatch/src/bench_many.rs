//! `ctwatch bench many-logs`: the daemon tailing many growing logs. Steady-state CPU and memory
//! of the monitor process, and the latency from a log publishing a tree head that contains a bad
//! certificate to the finding being stored and the alert sink being called.
//!
//! Three processes on this machine, sharing CLOCK_REALTIME:
//! - `ctwatch bench serve-many-logs` (child) serves the RFC 6962 test logs and a DNS server for
//!   the CAA checks, and grows every log at the configured rate with a new tree head each second
//!   (the logs' publications are spread over the second). Told `inject <event> <log>` on its
//!   stdin, it logs a certificate the lints flag (basicConstraints not critical) into that log
//!   before its next publication and prints `event <event> <log> <head timestamp ms>`. Every
//!   event's certificate comes from its own issuer of the watched CA, so each event opens its
//!   own finding (lint findings are per issuer and lint). It exits when its stdin closes.
//! - `ctwatch run` (child): the daemon, poll interval 1 s, every detector on (lints, surges,
//!   compromised keys, CAA against the child's DNS server), metrics and API on, and a webhook
//!   sink pointing at this process.
//! - this process: the webhook receiver (timestamps each alert on arrival), a read-only reader
//!   of the store (timestamps each finding when it first sees it, every 100 ms), and the /proc
//!   sampler of the monitor process.
//!
//! After the monitor caught up with the logs' backlog and a warm-up, a window of `seconds` is
//! measured: CPU (utime + stime over wall time, in % of one core) and resident memory (VmRSS
//! sampled each second; VmHWM at the end), while `events` bad certificates are injected, spread
//! over the window and the logs. An event's latency is the later of its alert's arrival and its
//! finding's appearance in the store, minus its tree head's timestamp.

use crate::usage;
use anyhow::{Context as _, bail};
use ctwatch_ct::sth::LogSigner;
use ctwatch_store::FindingFilter;
use ctwatch_testlog::{
    BasicConstraintsMode, CertFactory, LeafSpec, ListedAs, LogOptions, TestLog, log_list_json_with, now_ms, serve,
};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::process::{Child, Command};

/// The lint every event's certificate fails.
const EVENT_LINT: &str = "e_sub_cert_basic_constraints_not_critical";
/// The watched CA's name in the monitor's configuration.
const WATCHED_CA: &str = "Bench Watched CA";
/// The CAA identifier the watched CA is configured with and the DNS zone permits.
const CAA_IDENTIFIER: &str = "bench-watched.example";

/// Options of `ctwatch bench many-logs`.
#[derive(Debug, Clone)]
pub struct ManyLogsOptions {
    pub logs: u32,
    /// Entries per second each log grows by.
    pub rate: u32,
    /// Length of the measured window.
    pub seconds: u64,
    /// Bad certificates injected during the window.
    pub events: u32,
    pub runs: u32,
    /// Share of entries from the watched CA.
    pub watched_percent: u32,
    /// Seconds of growth each log holds before the monitor starts.
    pub backlog_secs: u64,
    /// Seconds between catching up and the window.
    pub warmup_secs: u64,
    /// Working directory (default: temporary).
    pub dir: Option<PathBuf>,
}

/// One measured run.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ManyLogsFigures {
    pub logs: u32,
    pub window_secs: f64,
    /// Entries per second the logs grew by during the window, over all logs (the target is
    /// logs × rate: the generator may fall behind on a loaded machine).
    pub growth_entries_per_sec: f64,
    /// Monitor CPU over the window, % of one core.
    pub cpu_percent: f64,
    pub rss_mean_mib: f64,
    pub rss_max_mib: f64,
    /// VmHWM at the end of the window (includes the catch-up).
    pub rss_peak_mib: f64,
    pub events: u32,
    pub events_alerted: u32,
    pub events_stored: u32,
    /// Per event: max(alert received, finding stored) − tree head timestamp.
    pub latency_p50_ms: f64,
    pub latency_p99_ms: f64,
    pub latency_max_ms: f64,
    pub alert_p50_ms: f64,
    pub stored_p50_ms: f64,
    /// `ctwatch_findings{kind="lint_violation"}` summed over severities and statuses on a
    /// scrape after the window (the metric is refreshed from the store on scrape).
    pub metric_lint_findings: u64,
    /// Findings of the events' lint the store holds after the window.
    pub stored_lint_findings: u64,
    /// The raw latencies, ms, in event order (None: never completed).
    pub latencies_ms: Vec<Option<i64>>,
}

/// Run the benchmark `runs` times and print the figures and their medians.
pub async fn many_logs(opts: ManyLogsOptions) -> anyhow::Result<()> {
    if opts.logs == 0 || opts.rate < 2 || opts.seconds == 0 || opts.runs == 0 {
        bail!("--logs, --seconds and --runs must be positive and --rate at least 2");
    }
    let (dir, _tmp) = crate::bench::work_dir(opts.dir.as_deref())?;
    let exe = std::env::current_exe().context("locating the ctwatch binary")?;
    let mut figures = Vec::new();
    for run in 0..opts.runs {
        let run_dir = dir.join(format!("run{run}"));
        let _ = std::fs::remove_dir_all(&run_dir);
        std::fs::create_dir_all(&run_dir)?;
        let f = one_run(&exe, &run_dir, &opts).await.with_context(|| format!("run {run}"))?;
        eprintln!(
            "bench: run {run}: CPU {:.2} %, RSS {:.1} MiB max, latency p50 {:.0} ms p99 {:.0} ms, {}/{} events",
            f.cpu_percent, f.rss_max_mib, f.latency_p50_ms, f.latency_p99_ms, f.events_alerted, f.events
        );
        figures.push(f);
    }
    print_figures(&opts, &figures);
    std::fs::write(dir.join("figures.json"), serde_json::to_string_pretty(&figures)?)?;
    Ok(())
}

/// The first line `serve-many-logs` prints: where things are.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Ready {
    log_list: PathBuf,
    /// SPKI SHA-256 (hex) of the watched CA's background issuer.
    watched_issuer: String,
    /// SPKI SHA-256 (hex) of each event's issuer.
    event_issuers: Vec<String>,
    nameserver: std::net::SocketAddr,
}

/// What this process observed about the events, by event.
#[derive(Debug, Default)]
struct Observed {
    /// Tree head timestamp of the head that first contained the event's certificate.
    published_ms: HashMap<u32, i64>,
    /// When the alert for the event's finding arrived, by finding key.
    alerted_ms: HashMap<String, i64>,
    /// When the reader first saw the event's finding in the store, by finding key.
    stored_ms: HashMap<String, i64>,
}

fn finding_key(issuer: &str) -> String {
    format!("lint_violation:{issuer}:{EVENT_LINT}")
}

fn now_ms_i64() -> i64 {
    i64::try_from(now_ms()).unwrap_or(i64::MAX)
}

/// Kills its process when dropped, so that no child outlives a failed run.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.start_kill();
    }
}

async fn one_run(exe: &Path, dir: &Path, opts: &ManyLogsOptions) -> anyhow::Result<ManyLogsFigures> {
    let observed = Arc::new(Mutex::new(Observed::default()));
    let hook = start_receiver(observed.clone()).await?;

    eprintln!(
        "bench: {} logs × {} entries/s, {} s backlog, {} events",
        opts.logs, opts.rate, opts.backlog_secs, opts.events
    );
    let mut server = Command::new(exe)
        .args([
            "--log-level",
            "warn",
            "bench",
            "serve-many-logs",
            "--logs",
            &opts.logs.to_string(),
            "--rate",
            &opts.rate.to_string(),
        ])
        .args(["--events", &opts.events.to_string(), "--watched-percent", &opts.watched_percent.to_string()])
        .args(["--backlog-secs", &opts.backlog_secs.to_string(), "--dir"])
        .arg(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .context("starting the bench log server")?;
    let mut inject = server.stdin.take().context("log server stdin")?;
    let mut lines = BufReader::new(server.stdout.take().context("log server stdout")?).lines();
    let _server = Killed(server);
    let first = tokio::time::timeout(Duration::from_secs(600), lines.next_line())
        .await
        .context("the bench log server was not ready within 600 s")??
        .context("the bench log server exited before it was ready")?;
    let ready: Ready = serde_json::from_str(&first).with_context(|| format!("bench log server said {first:?}"))?;
    {
        let observed = observed.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                let words: Vec<&str> = line.split_whitespace().collect();
                if let ["event", event, _log, published] = words[..]
                    && let (Ok(event), Ok(published)) = (event.parse(), published.parse())
                    && let Ok(mut o) = observed.lock()
                {
                    o.published_ms.insert(event, published);
                }
            }
        });
    }

    let metrics_listen = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
    let issuers: Vec<String> =
        std::iter::once(&ready.watched_issuer).chain(&ready.event_issuers).map(|i| format!("\"{i}\"")).collect();
    let config = dir.join("ctwatch.toml");
    std::fs::write(
        &config,
        format!(
            "log_list = \"{}\"\n[store]\npath = \"ctwatch.sqlite\"\n[fetch]\npoll_interval_secs = 1.0\n\
             [metrics]\nlisten = \"{metrics_listen}\"\n[dns]\nnameservers = [\"{}\"]\n\
             [detectors]\nlints = true\nsurge = true\n\
             [[ca]]\nname = \"{WATCHED_CA}\"\nissuers = [{}]\ncaa_identifiers = [\"{CAA_IDENTIFIER}\"]\n\
             [[sink]]\ntype = \"webhook\"\nurl = \"{hook}\"\nsecret = \"bench\"\n",
            ready.log_list.display(),
            ready.nameserver,
            issuers.join(", ")
        ),
    )?;
    let monitor = Command::new(exe)
        .args(["--log-level", "warn", "run", "--config"])
        .arg(&config)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("monitor.log"))?)
        .kill_on_drop(true)
        .spawn()
        .context("starting ctwatch run")?;
    let pid = monitor.id().context("monitor pid")?.to_string();
    let _monitor = Killed(monitor);

    let store_location = dir.join("ctwatch.sqlite").to_string_lossy().into_owned();
    let started = Instant::now();
    wait_caught_up(&store_location, opts).await?;
    eprintln!("bench: caught up after {:.1} s; warming up {} s", started.elapsed().as_secs_f64(), opts.warmup_secs);
    tokio::time::sleep(Duration::from_secs(opts.warmup_secs)).await;

    // The window.
    let store = ctwatch_store::open_read_only(&store_location)?;
    let grown_before: u64 = seen_sizes(store.as_ref())?;
    let before = usage::read(&pid).context("reading the monitor's /proc usage")?;
    let t0 = Instant::now();
    let window = Duration::from_secs(opts.seconds);
    let mut rss = Vec::new();
    let mut next_event = 0u32;
    let mut next_sample = Duration::ZERO;
    let mut reader = StoreReader::new(store);
    let keys: Vec<String> = ready.event_issuers.iter().map(|i| finding_key(i)).collect();
    loop {
        let elapsed = t0.elapsed();
        if elapsed >= window {
            break;
        }
        // Event j is due at (j + ½)·window/events, in log j mod logs.
        while next_event < opts.events
            && elapsed >= window.mul_f64((f64::from(next_event) + 0.5) / f64::from(opts.events))
        {
            let line = format!("inject {next_event} {}\n", next_event % opts.logs);
            inject.write_all(line.as_bytes()).await.context("telling the log server to inject")?;
            inject.flush().await?;
            next_event += 1;
        }
        if elapsed >= next_sample {
            rss.push(current_rss_kib(&pid).context("reading the monitor's VmRSS")?);
            next_sample += Duration::from_secs(1);
        }
        reader.poll(&observed)?;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let wall = t0.elapsed().as_secs_f64();
    let after = usage::read(&pid).context("reading the monitor's /proc usage")?;
    let grown_after: u64 = seen_sizes(reader.store.as_ref())?;

    // Let the last events arrive (outside the measured window).
    let drain = Instant::now();
    while drain.elapsed() < Duration::from_secs(15) {
        reader.poll(&observed)?;
        let done = {
            let o = observed.lock().map_err(|_| anyhow::anyhow!("observations lock poisoned"))?;
            keys.iter().all(|k| o.alerted_ms.contains_key(k) && o.stored_ms.contains_key(k))
        };
        if done {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let metric_lint_findings = scrape_lint_findings(metrics_listen).await.unwrap_or(0);
    let stored_lint_findings = reader.lint_findings()?;

    let o = observed.lock().map_err(|_| anyhow::anyhow!("observations lock poisoned"))?;
    let mut latencies = Vec::new();
    let (mut alert, mut stored) = (Vec::new(), Vec::new());
    for (j, key) in keys.iter().enumerate() {
        let published = u32::try_from(j).ok().and_then(|j| o.published_ms.get(&j)).copied();
        let a = o.alerted_ms.get(key).copied();
        let s = o.stored_ms.get(key).copied();
        if let (Some(p), Some(a)) = (published, a) {
            alert.push((a - p) as f64);
        }
        if let (Some(p), Some(s)) = (published, s) {
            stored.push((s - p) as f64);
        }
        latencies.push(match (published, a, s) {
            (Some(p), Some(a), Some(s)) => Some(a.max(s) - p),
            _ => None,
        });
    }
    let done: Vec<f64> = latencies.iter().flatten().map(|&l| l as f64).collect();
    let mib = |kib: u64| kib as f64 / 1024.0;
    Ok(ManyLogsFigures {
        logs: opts.logs,
        window_secs: wall,
        growth_entries_per_sec: grown_after.saturating_sub(grown_before) as f64 / wall,
        cpu_percent: (after.cpu_secs() - before.cpu_secs()) / wall * 100.0,
        rss_mean_mib: mib(rss.iter().sum::<u64>() / rss.len().max(1) as u64),
        rss_max_mib: mib(rss.iter().copied().max().unwrap_or(0)),
        rss_peak_mib: mib(after.peak_rss_kib),
        events: opts.events,
        events_alerted: alert.len() as u32,
        events_stored: stored.len() as u32,
        latency_p50_ms: percentile(&done, 50.0),
        latency_p99_ms: percentile(&done, 99.0),
        latency_max_ms: done.iter().copied().fold(0.0, f64::max),
        alert_p50_ms: percentile(&alert, 50.0),
        stored_p50_ms: percentile(&stored, 50.0),
        metric_lint_findings,
        stored_lint_findings,
        latencies_ms: latencies,
    })
}

/// Wait until every log has a cursor within two seconds of growth of its latest head.
async fn wait_caught_up(location: &str, opts: &ManyLogsOptions) -> anyhow::Result<()> {
    let started = Instant::now();
    loop {
        if started.elapsed() > Duration::from_secs(600) {
            bail!("the monitor did not catch up within 600 s");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
        let Ok(store) = ctwatch_store::open_read_only(location) else { continue };
        let Ok(status) = store.log_status() else { continue };
        let caught_up = |s: &ctwatch_store::LogStatus| {
            s.cursor > 0
                && s.seen_tree_size.is_some_and(|seen| seen.saturating_sub(s.cursor) <= 2 * u64::from(opts.rate))
        };
        if status.len() == opts.logs as usize && status.iter().all(caught_up) {
            return Ok(());
        }
    }
}

/// The sum of the logs' latest tree sizes the monitor saw.
fn seen_sizes(store: &dyn ctwatch_store::Store) -> anyhow::Result<u64> {
    Ok(store.log_status()?.iter().filter_map(|s| s.seen_tree_size).sum())
}

/// Reads the events' lint findings from the store, recording when each first appears.
struct StoreReader {
    store: Box<dyn ctwatch_store::Store>,
}

impl StoreReader {
    fn new(store: Box<dyn ctwatch_store::Store>) -> Self {
        StoreReader { store }
    }

    fn lint_findings_now(&self) -> anyhow::Result<Vec<ctwatch_store::Finding>> {
        let filter = FindingFilter { kind: Some("lint_violation".into()), limit: Some(100_000), ..Default::default() };
        Ok(self.store.findings(&filter)?)
    }

    fn poll(&mut self, observed: &Mutex<Observed>) -> anyhow::Result<()> {
        let findings = self.lint_findings_now()?;
        let now = now_ms_i64();
        let mut o = observed.lock().map_err(|_| anyhow::anyhow!("observations lock poisoned"))?;
        for f in findings {
            o.stored_ms.entry(f.key).or_insert(now);
        }
        Ok(())
    }

    fn lint_findings(&self) -> anyhow::Result<u64> {
        Ok(self.lint_findings_now()?.iter().filter(|f| f.key.ends_with(EVENT_LINT)).count() as u64)
    }
}

/// VmRSS of process `pid`, KiB.
fn current_rss_kib(pid: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find(|l| l.starts_with("VmRSS:"))?.split_whitespace().nth(1)?.parse().ok()
}

/// Nearest-rank percentile (0 when empty).
fn percentile(values: &[f64], p: f64) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    if v.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
    v[rank.clamp(1, v.len()) - 1]
}

/// The webhook receiver on 127.0.0.1: answers every POST with 200 and records when each
/// finding key first arrived. Returns its URL.
async fn start_receiver(observed: Arc<Mutex<Observed>>) -> anyhow::Result<String> {
    let app = axum::Router::new()
        .route(
            "/alerts",
            axum::routing::post(
                |axum::extract::State(observed): axum::extract::State<Arc<Mutex<Observed>>>,
                 axum::Json(alert): axum::Json<serde_json::Value>| async move {
                    let arrived = now_ms_i64();
                    if let Some(key) = alert["key"].as_str()
                        && let Ok(mut o) = observed.lock()
                    {
                        o.alerted_ms.entry(key.to_string()).or_insert(arrived);
                    }
                },
            ),
        )
        .with_state(observed);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/alerts", listener.local_addr()?);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(url)
}

/// `ctwatch_findings{kind="lint_violation",...}` summed, from one scrape of /metrics.
async fn scrape_lint_findings(addr: std::net::SocketAddr) -> anyhow::Result<u64> {
    let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build()?;
    let text = client.get(format!("http://{addr}/metrics")).send().await?.error_for_status()?.text().await?;
    Ok(text
        .lines()
        .filter(|l| l.starts_with("ctwatch_findings{") && l.contains("kind=\"lint_violation\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64)
}

fn print_figures(opts: &ManyLogsOptions, figures: &[ManyLogsFigures]) {
    println!(
        "{:>4} {:>9} {:>7} {:>8} {:>8} {:>9} {:>7} {:>8} {:>8} {:>8} {:>8} {:>8}",
        "RUN",
        "GROWTH/s",
        "CPU %",
        "RSS avg",
        "RSS max",
        "RSS peak",
        "EVENTS",
        "p50 ms",
        "p99 ms",
        "max ms",
        "alert50",
        "store50"
    );
    for (i, f) in figures.iter().enumerate() {
        println!(
            "{:>4} {:>9.0} {:>7.2} {:>8.1} {:>8.1} {:>9.1} {:>3}/{:<3} {:>8.0} {:>8.0} {:>8.0} {:>8.0} {:>8.0}",
            i,
            f.growth_entries_per_sec,
            f.cpu_percent,
            f.rss_mean_mib,
            f.rss_max_mib,
            f.rss_peak_mib,
            f.events_alerted.min(f.events_stored),
            f.events,
            f.latency_p50_ms,
            f.latency_p99_ms,
            f.latency_max_ms,
            f.alert_p50_ms,
            f.stored_p50_ms
        );
    }
    let med = |g: fn(&ManyLogsFigures) -> f64| crate::bench::median(figures.iter().map(g).collect());
    println!(
        "\nmedians of {} runs ({} logs × {} entries/s, {} s window, poll 1 s):\n  \
         CPU {:.2} % of one core, RSS {:.1} MiB max ({:.1} MiB peak incl. catch-up)\n  \
         latency STH → finding stored and alert received: p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms \
         (alert p50 {:.0} ms, store p50 {:.0} ms)\n  \
         lint findings: {:.0} in the store, {:.0} in ctwatch_findings after the window",
        figures.len(),
        opts.logs,
        opts.rate,
        opts.seconds,
        med(|f| f.cpu_percent),
        med(|f| f.rss_max_mib),
        med(|f| f.rss_peak_mib),
        med(|f| f.latency_p50_ms),
        med(|f| f.latency_p99_ms),
        med(|f| f.latency_max_ms),
        med(|f| f.alert_p50_ms),
        med(|f| f.stored_p50_ms),
        med(|f| f.stored_lint_findings as f64),
        med(|f| f.metric_lint_findings as f64),
    );
}

/// Options of `ctwatch bench serve-many-logs`.
#[derive(Debug, Clone)]
pub struct ServeManyOptions {
    pub logs: u32,
    pub rate: u32,
    pub events: u32,
    pub watched_percent: u32,
    pub backlog_secs: u64,
    pub dir: PathBuf,
}

/// The certificate authorities of the generated entries.
struct Issuers {
    watched: CertFactory,
    others: Vec<CertFactory>,
    events: Vec<CertFactory>,
}

/// A leaf the lints accept, unless `bad` (then basicConstraints is not critical).
fn leaf(host: String, bad: bool) -> LeafSpec {
    let mut spec = LeafSpec::new([host]);
    spec.ocsp_url = Some("http://ocsp.bench.example.com/".into());
    spec.ca_issuers_url = Some("http://aia.bench.example.com/issuer.cer".into());
    if bad {
        spec.basic_constraints = BasicConstraintsMode::NonCritical;
    }
    spec
}

/// The entry generator: grows every log at `rate` per second, publishing each log once a
/// second at its own phase, and injects the events it is told about.
struct Generator {
    logs: Vec<TestLog>,
    issuers: Issuers,
    rate: u32,
    /// One pair (precertificate + final certificate) in this many is the watched CA's.
    watched_every: u64,
    pairs: u64,
}

impl Generator {
    /// Log `pairs` precertificate + final certificate pairs into `log`.
    fn grow(&mut self, log: usize, pairs: u64, timestamp_ms: u64) -> anyhow::Result<()> {
        for _ in 0..pairs {
            let p = self.pairs;
            self.pairs += 1;
            let (ca, host) = if p.is_multiple_of(self.watched_every) {
                (&self.issuers.watched, format!("h{p}.watched.example.com"))
            } else {
                let i = (p % self.issuers.others.len() as u64) as usize;
                (&self.issuers.others[i], format!("h{p}.other{i}.example.net"))
            };
            self.logs[log].issue(ca, &leaf(host, false), timestamp_ms, true)?;
        }
        Ok(())
    }

    /// Run until `commands` closes: every 1/logs s the next log grows by a second's entries (plus
    /// any event injected into it) and publishes.
    fn run(mut self, commands: std::sync::mpsc::Receiver<(u32, u32)>) -> anyhow::Result<()> {
        let n = self.logs.len();
        let slot = Duration::from_secs(1).div_f64(n as f64);
        let mut pending: Vec<Vec<u32>> = vec![Vec::new(); n];
        let start = Instant::now();
        let mut carry = 0u64;
        for s in 0u64.. {
            let due = start + slot.mul_f64(s as f64);
            loop {
                match commands.recv_timeout(due.saturating_duration_since(Instant::now())) {
                    Ok((event, log)) => {
                        if let Some(p) = pending.get_mut(log as usize % n) {
                            p.push(event);
                        }
                    }
                    Err(std::sync::mpsc::RecvTimeoutError::Timeout) => break,
                    Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return Ok(()),
                }
            }
            let log = (s % n as u64) as usize;
            // `rate` entries per second as pairs; an odd rate carries half a pair over.
            carry += u64::from(self.rate);
            let pairs = carry / 2;
            carry %= 2;
            let now = now_ms();
            self.grow(log, pairs, now)?;
            let events = std::mem::take(&mut pending[log]);
            for &event in &events {
                let Some(ca) = self.issuers.events.get(event as usize) else { continue };
                self.logs[log].issue(ca, &leaf(format!("e{event}.watched.example.com"), true), now, true)?;
            }
            let head = self.logs[log].publish();
            for event in events {
                println!("event {event} {log} {}", head.head.timestamp);
            }
        }
        Ok(())
    }
}

/// `ctwatch bench serve-many-logs`: generate the logs' backlog, serve them and the DNS zone,
/// print the [`Ready`] line, then grow the logs until stdin closes.
pub async fn serve_many_logs(opts: ServeManyOptions) -> anyhow::Result<()> {
    std::fs::create_dir_all(&opts.dir)?;
    let issuers = Issuers {
        watched: CertFactory::new(WATCHED_CA)?,
        others: (0..4).map(|i| CertFactory::new(&format!("Bench Other CA {i}"))).collect::<Result<_, _>>()?,
        events: (0..opts.events)
            .map(|i| CertFactory::new(&format!("Bench Watched CA E{i}")))
            .collect::<Result<_, _>>()?,
    };
    let logs: Vec<TestLog> = (0..opts.logs)
        .map(|i| TestLog::with_options(&format!("bench{i}"), LogSigner::generate(), LogOptions::default()))
        .collect();
    let mut generator = Generator {
        logs: logs.clone(),
        issuers,
        rate: opts.rate,
        watched_every: u64::from(100 / opts.watched_percent.clamp(1, 100)),
        pairs: 0,
    };
    let t0 = Instant::now();
    let backlog_pairs = opts.backlog_secs * u64::from(opts.rate) / 2;
    let backlog_ms = now_ms() - opts.backlog_secs * 1000;
    for (i, log) in logs.iter().enumerate() {
        generator.grow(i, backlog_pairs, backlog_ms)?;
        log.publish();
    }
    eprintln!(
        "bench logs: {} logs × {} backlog entries in {:.1} s",
        logs.len(),
        backlog_pairs * 2,
        t0.elapsed().as_secs_f64()
    );
    let dns = ctwatch_testdns::TestDns::start(&[&format!(
        "$ORIGIN example.com.\n@ 3600 IN SOA ns.example.com. admin.example.com. 1 3600 600 86400 300\n\
         @ 3600 IN NS ns.example.com.\nns 3600 IN A 127.0.0.1\n\
         watched 300 IN CAA 0 issue \"{CAA_IDENTIFIER}\"\n"
    )])
    .await;
    let server = serve(logs.clone(), "127.0.0.1:0".parse()?).await?;
    let listed: Vec<(TestLog, ListedAs)> = logs.iter().map(|l| (l.clone(), ListedAs::Rfc6962)).collect();
    let log_list = opts.dir.join("log_list.json");
    std::fs::write(&log_list, log_list_json_with(&server, &listed))?;
    let hex_of = |f: &CertFactory| ctwatch_cert::facts::spki_sha256_of_cert(f.issuer_der()).map(hex::encode);
    let ready = Ready {
        log_list,
        watched_issuer: hex_of(&generator.issuers.watched)?,
        event_issuers: generator.issuers.events.iter().map(hex_of).collect::<Result<_, _>>()?,
        nameserver: dns.addr,
    };
    println!("{}", serde_json::to_string(&ready)?);

    // Commands from stdin: `inject <event> <log>`; the generator stops when stdin closes.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::stdin().lines() {
            let Ok(line) = line else { break };
            let words: Vec<&str> = line.split_whitespace().collect();
            if let ["inject", event, log] = words[..]
                && let (Ok(event), Ok(log)) = (event.parse(), log.parse())
                && tx.send((event, log)).is_err()
            {
                break;
            }
        }
    });
    tokio::task::spawn_blocking(move || generator.run(rx)).await??;
    drop(dns);
    server.shutdown().await;
    Ok(())
}

//! `ctwatch bench`: reproducible catch-up benchmark against a local test log, optionally beside
//! certspotter on the same log in the same run.
//!
//! The test log runs in a child process (`ctwatch bench serve-log`) so that the monitor's CPU
//! and memory are measured alone: each `ctwatch run --until-caught-up` reports its own CPU time
//! and peak RSS from /proc; certspotter (which never exits) is sampled from /proc when it
//! prints `finished downloading entries`, then stopped.

use crate::usage::{self, Usage};
use anyhow::{Context as _, bail};
use ctwatch_ct::sth::LogSigner;
use ctwatch_testlog::{CertFactory, LeafSpec, ListedAs, LogOptions, TestLog, log_list_json_with, now_ms, serve};
use std::io::BufRead as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Which protocol the monitor reads in the benchmark.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BenchView {
    Rfc6962,
    Tiled,
}

/// Options of `ctwatch bench catch-up`.
#[derive(Debug, Clone)]
pub struct CatchUpOptions {
    pub entries: u64,
    pub watched_percent: u32,
    pub runs: u32,
    pub views: Vec<BenchView>,
    pub certspotter: Option<PathBuf>,
    pub dir: Option<PathBuf>,
}

/// One measured run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RunFigures {
    pub tool: String,
    pub view: String,
    pub entries: u64,
    pub wall_secs: f64,
    pub entries_per_sec: f64,
    pub cpu_secs: f64,
    pub cpu_us_per_entry: f64,
    pub peak_rss_mib: f64,
}

impl RunFigures {
    fn new(tool: &str, view: &str, entries: u64, wall: f64, u: Usage) -> Self {
        RunFigures {
            tool: tool.into(),
            view: view.into(),
            entries,
            wall_secs: wall,
            entries_per_sec: entries as f64 / wall.max(1e-9),
            cpu_secs: u.cpu_secs(),
            cpu_us_per_entry: u.cpu_secs() * 1e6 / entries.max(1) as f64,
            peak_rss_mib: u.peak_rss_kib as f64 / 1024.0,
        }
    }
}

/// The benchmark's working directory: `dir` (created if missing, with its name in the error) or
/// a temporary one, removed when the returned guard drops.
pub fn work_dir(dir: Option<&Path>) -> anyhow::Result<(PathBuf, Option<tempfile::TempDir>)> {
    let (dir, guard) = match dir {
        Some(d) => (d.to_path_buf(), None),
        None => {
            let t = tempfile::tempdir()?;
            (t.path().to_path_buf(), Some(t))
        }
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok((dir, guard))
}

/// Build the log in a child process, then measure.
pub fn catch_up(opts: CatchUpOptions) -> anyhow::Result<()> {
    let (dir, _tmp) = work_dir(opts.dir.as_deref())?;
    let _ = std::fs::remove_file(dir.join("ready"));
    let exe = std::env::current_exe().context("locating the ctwatch binary")?;
    eprintln!(
        "bench: generating a {}-entry log ({}% watched) in {}",
        opts.entries,
        opts.watched_percent,
        dir.display()
    );
    let mut server = Command::new(&exe)
        .args(["bench", "serve-log", "--entries", &opts.entries.to_string()])
        .args(["--watched-percent", &opts.watched_percent.to_string(), "--dir"])
        .arg(&dir)
        .stdin(Stdio::null())
        .spawn()
        .context("starting the bench log server")?;
    let result = measure(&exe, &dir, &opts);
    let _ = server.kill();
    let _ = server.wait();
    let figures = result?;
    print_figures(&figures);
    std::fs::write(dir.join("figures.json"), serde_json::to_string_pretty(&figures)?)?;
    Ok(())
}

fn measure(exe: &Path, dir: &Path, opts: &CatchUpOptions) -> anyhow::Result<Vec<RunFigures>> {
    let started = Instant::now();
    while !dir.join("ready").exists() {
        if started.elapsed() > Duration::from_secs(3600) {
            bail!("the bench log server did not become ready");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let entries: u64 = std::fs::read_to_string(dir.join("ready"))?.trim().parse().context("ready file")?;
    eprintln!("bench: log ready after {:.1}s ({entries} entries)", started.elapsed().as_secs_f64());
    let mut figures = Vec::new();
    for run in 0..opts.runs {
        for view in &opts.views {
            let name = match view {
                BenchView::Rfc6962 => "rfc6962",
                BenchView::Tiled => "tiled",
            };
            for f in ["ctwatch.sqlite", "ctwatch.sqlite-wal", "ctwatch.sqlite-shm"] {
                let _ = std::fs::remove_file(dir.join(f));
            }
            let usage_file = dir.join(format!("usage-{name}-{run}.json"));
            let _ = std::fs::remove_file(&usage_file);
            let t0 = Instant::now();
            let status = Command::new(exe)
                .args(["--log-level", "warn", "run", "--until-caught-up", "--config"])
                .arg(dir.join(format!("ctwatch-{name}.toml")))
                .env("CTWATCH_USAGE_FILE", &usage_file)
                .stdin(Stdio::null())
                .status()?;
            let wall = t0.elapsed().as_secs_f64();
            if !status.success() {
                bail!("ctwatch run ({name}) failed: {status}");
            }
            let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&usage_file)?)?;
            let u = Usage {
                cpu_user_secs: report["usage"]["cpu_user_secs"].as_f64().unwrap_or(0.0),
                cpu_system_secs: report["usage"]["cpu_system_secs"].as_f64().unwrap_or(0.0),
                peak_rss_kib: report["usage"]["peak_rss_kib"].as_u64().unwrap_or(0),
            };
            let fig = RunFigures::new("ctwatch", name, entries, wall, u);
            eprintln!("bench: run {run} ctwatch {name}: {:.0} entries/s", fig.entries_per_sec);
            figures.push(fig);
        }
        if let Some(cs) = &opts.certspotter {
            let fig = run_certspotter(cs, dir, entries)?;
            eprintln!("bench: run {run} certspotter: {:.0} entries/s", fig.entries_per_sec);
            figures.push(fig);
        }
    }
    Ok(figures)
}

/// Run certspotter until it reports being caught up, sample its usage, stop it.
fn run_certspotter(binary: &Path, dir: &Path, entries: u64) -> anyhow::Result<RunFigures> {
    let state = dir.join("certspotter-state");
    let _ = std::fs::remove_dir_all(&state);
    std::fs::create_dir_all(&state)?;
    let t0 = Instant::now();
    let mut child = Command::new(binary)
        .arg("-logs")
        .arg(dir.join("log_list-rfc6962.json"))
        .arg("-watchlist")
        .arg(dir.join("watchlist.txt"))
        .arg("-state_dir")
        .arg(&state)
        .args(["-stdout", "-verbose", "-no_save"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {}", binary.display()))?;
    let pid = child.id().to_string();
    let stderr = child.stderr.take().context("certspotter stderr")?;
    let mut sample = None;
    for line in std::io::BufReader::new(stderr).lines() {
        let line = line?;
        if line.contains("finished downloading entries") {
            sample = Some((t0.elapsed().as_secs_f64(), usage::read(&pid)));
            break;
        }
        if t0.elapsed() > Duration::from_secs(3600) {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let (wall, usage) = sample.context("certspotter never reported `finished downloading entries`")?;
    Ok(RunFigures::new("certspotter", "rfc6962", entries, wall, usage.unwrap_or_default()))
}

/// The median of `v` (the upper one of an even count; 0 when empty).
pub(crate) fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    if v.is_empty() { 0.0 } else { v[v.len() / 2] }
}

fn print_figures(figures: &[RunFigures]) {
    println!(
        "{:<12} {:<8} {:>9} {:>9} {:>12} {:>11} {:>10}",
        "TOOL", "VIEW", "ENTRIES", "WALL s", "ENTRIES/s", "CPU µs/ent", "PEAK MiB"
    );
    for f in figures {
        println!(
            "{:<12} {:<8} {:>9} {:>9.2} {:>12.0} {:>11.2} {:>10.1}",
            f.tool, f.view, f.entries, f.wall_secs, f.entries_per_sec, f.cpu_us_per_entry, f.peak_rss_mib
        );
    }
    let med = |tool: &str, view: &str, g: fn(&RunFigures) -> f64| {
        median(figures.iter().filter(|f| f.tool == tool && f.view == view).map(g).collect())
    };
    println!("\nmedians:");
    for (tool, view) in [("ctwatch", "rfc6962"), ("ctwatch", "tiled"), ("certspotter", "rfc6962")] {
        if figures.iter().any(|f| f.tool == tool && f.view == view) {
            println!(
                "  {tool:<12} {view:<8} {:>10.0} entries/s {:>8.2} CPU µs/entry {:>7.1} MiB peak",
                med(tool, view, |f| f.entries_per_sec),
                med(tool, view, |f| f.cpu_us_per_entry),
                med(tool, view, |f| f.peak_rss_mib)
            );
        }
    }
    if figures.iter().any(|f| f.tool == "certspotter") {
        let ours = med("ctwatch", "rfc6962", |f| f.entries_per_sec);
        let theirs = med("certspotter", "rfc6962", |f| f.entries_per_sec);
        let cpu_ours = med("ctwatch", "rfc6962", |f| f.cpu_us_per_entry);
        let cpu_theirs = med("certspotter", "rfc6962", |f| f.cpu_us_per_entry);
        println!(
            "  ratio (same log, same run): {:.1}x entries/s, {:.1}x less CPU per entry",
            ours / theirs.max(1e-9),
            cpu_theirs / cpu_ours.max(1e-9)
        );
    }
}

/// `ctwatch bench serve-log`: build the log, write configs, serve until killed.
pub async fn serve_log(entries: u64, watched_percent: u32, dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    let watched = CertFactory::new("Bench Watched CA")?;
    let other = CertFactory::new("Bench Other CA")?;
    // A test log caps batches like Let's Encrypt and DigiCert logs do (256).
    let log =
        TestLog::with_options("bench", LogSigner::generate(), LogOptions { max_batch: 256, ..Default::default() });
    let every = (100 / watched_percent.clamp(1, 100)) as u64;
    let start = now_ms() - 30 * 86_400_000;
    let mut i = 0u64;
    let t0 = Instant::now();
    while log.tree_size() < entries {
        let ca = if i.is_multiple_of(every) { &watched } else { &other };
        let zone = if i.is_multiple_of(every) { "watched.bench.test" } else { "other.bench.test" };
        let spec = LeafSpec::new([format!("h{i}.{zone}"), format!("www.h{i}.{zone}")]);
        let ts = start + i * 10;
        // Half the entries are precertificates, half their final certificates (as in real
        // logs); the last one may be a lone precertificate.
        if entries - log.tree_size() >= 2 {
            log.issue(ca, &spec, ts, true)?;
        } else {
            log.issue_precert(ca, &spec, ts)?;
        }
        i += 1;
        if i.is_multiple_of(20_000) {
            eprintln!(
                "bench log: {} / {entries} entries ({:.0}/s)",
                log.tree_size(),
                log.tree_size() as f64 / t0.elapsed().as_secs_f64()
            );
        }
    }
    log.publish();
    let server = serve(vec![log.clone()], "127.0.0.1:0".parse()?).await?;
    for (name, listed) in [("rfc6962", ListedAs::Rfc6962), ("tiled", ListedAs::Tiled)] {
        std::fs::write(
            dir.join(format!("log_list-{name}.json")),
            log_list_json_with(&server, &[(log.clone(), listed)]),
        )?;
        let issuer = hex::encode(ctwatch_cert::facts::spki_sha256_of_cert(watched.issuer_der())?);
        let toml = format!(
            "log_list = \"log_list-{name}.json\"\n[store]\npath = \"ctwatch.sqlite\"\n\
             [fetch]\nrequests_per_second = 100000\nconcurrency = 8\nbatch_size = 256\ncommit_entries = 8192\npartial_tile_delay_secs = 0\n\
             [[ca]]\nname = \"Bench Watched CA\"\nissuers = [\"{issuer}\"]\n"
        );
        std::fs::write(dir.join(format!("ctwatch-{name}.toml")), toml)?;
    }
    std::fs::write(dir.join("watchlist.txt"), ".watched.bench.test\n")?;
    std::fs::write(dir.join("ready"), log.published_size().to_string())?;
    eprintln!("bench log: serving {} entries at {}", log.published_size(), server.base_url());
    std::future::pending::<()>().await;
    Ok(())
}

//! Command-line interface.

use anyhow::Context as _;
use clap::{Parser, Subcommand, ValueEnum};
use ctwatch_monitor::config::Settings;
use ctwatch_monitor::{LogOutcome, Monitor, RunMode};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Exit code for configuration and usage errors (sysexits EX_USAGE).
pub const EX_USAGE: u8 = 64;
/// Exit code when `--until-caught-up` ended with some log not caught up.
pub const EX_NOT_CAUGHT_UP: u8 = 3;

/// Certificate Transparency monitor: tails CT logs for the CAs you watch and raises findings.
#[derive(Debug, Parser)]
#[command(name = "ctwatch", version, about)]
struct Cli {
    /// Log output format.
    #[arg(long, value_enum, default_value_t = LogFormat::Human, global = true)]
    log_format: LogFormat,
    /// Log filter (tracing EnvFilter syntax); overrides CTWATCH_LOG.
    #[arg(long, global = true)]
    log_level: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    Human,
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Follow the configured logs (SIGTERM/SIGINT drain in-flight work and commit).
    Run {
        #[arg(long)]
        config: PathBuf,
        /// Process every log up to the tree size seen at start, then exit (0 when all caught up).
        #[arg(long)]
        until_caught_up: bool,
        /// Seconds to wait for in-flight work after SIGTERM before exiting anyway.
        #[arg(long, default_value_t = 30)]
        grace_secs: u64,
    },
    /// Re-read entries [from, to) of a log below its cursor (e.g. after adding a CA to the
    /// watch list) with full verification; progress bar on a terminal, log lines otherwise.
    Backfill {
        #[arg(long)]
        config: PathBuf,
        /// The log's name as configured (see `ctwatch status`).
        #[arg(long)]
        log: String,
        /// First entry index.
        #[arg(long)]
        from: u64,
        /// End of the range (exclusive), at most the log's cursor.
        #[arg(long)]
        to: u64,
    },
    /// Validate a configuration file and exit (64 when invalid).
    CheckConfig { file: PathBuf },
    /// Per-log tree size, cursor and lag from the store.
    Status {
        #[arg(long)]
        config: PathBuf,
        #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
        format: OutputFormat,
    },
    /// Serve the incident scenario locally and monitor it, with metrics and the API (no network
    /// needed); then tail the growing logs until Ctrl-C.
    Demo {
        /// Directory for the demo's config and database (default: a new temporary directory).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Where metrics and the HTTP API listen while the demo runs.
        #[arg(long, default_value = "127.0.0.1:9898")]
        listen: std::net::SocketAddr,
        /// Exit once the scenario is processed instead of tailing the growing logs.
        #[arg(long)]
        once: bool,
    },
    /// List, show, export, acknowledge and resolve findings.
    Findings {
        #[command(subcommand)]
        command: crate::findings::FindingsCommand,
    },
    /// Incident-report appendix of a finding (Markdown: summary, timeline, counts, CSV).
    Report {
        id: i64,
        #[arg(long)]
        config: PathBuf,
    },
    /// Lint certificates from files (PEM blocks anywhere in the file, or DER).
    Lint {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
        format: OutputFormat,
        /// Show every lint, not only warnings and errors.
        #[arg(long)]
        all: bool,
    },
    /// CAA tools.
    Caa {
        #[command(subcommand)]
        command: CaaCommand,
    },
    /// Compromised-key tools.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// CCADB tools: build the CA-owner map, list issuers the map does not know.
    Ccadb {
        #[command(subcommand)]
        command: crate::ccadb::CcadbCommand,
    },
    /// Benchmarks (see README#performance).
    Bench {
        #[command(subcommand)]
        command: BenchCommand,
    },
}

#[derive(Debug, Subcommand)]
enum CaaCommand {
    /// Check one name on demand for a configured CA, with the configured resolvers.
    Check {
        name: String,
        #[arg(long)]
        ca: String,
        #[arg(long)]
        config: PathBuf,
        #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
        format: OutputFormat,
    },
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Import compromised keys (SPKI SHA-256 hex lines, PEM keys or certificates) and re-check
    /// stored certificates.
    Import {
        file: PathBuf,
        #[arg(long)]
        config: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum BenchCommand {
    /// Catch-up throughput on a local log of N entries: entries/s, CPU per entry, peak RSS.
    CatchUp {
        #[arg(long, default_value_t = 400_000)]
        entries: u64,
        /// Share of entries from the watched CA.
        #[arg(long, default_value_t = 1)]
        watched_percent: u32,
        /// Repetitions (report medians).
        #[arg(long, default_value_t = 3)]
        runs: u32,
        /// Protocols to measure.
        #[arg(long, value_enum, value_delimiter = ',', default_values_t = [crate::bench::BenchView::Rfc6962, crate::bench::BenchView::Tiled])]
        view: Vec<crate::bench::BenchView>,
        /// Also run certspotter (path to its binary) on the same log in the same run.
        #[arg(long)]
        certspotter: Option<PathBuf>,
        /// Working directory (default: temporary).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Against a log allowing N requests/s (429 beyond) and K entries per get-entries: achieved
    /// entries/s vs N·K, share of requests refused, batch cap learned.
    RateLimited {
        /// Requests per second the log allows (N).
        #[arg(long, default_value_t = 20.0)]
        requests_per_second: f64,
        /// Entries per get-entries response at most (K).
        #[arg(long, default_value_t = 64)]
        batch_cap: u64,
        /// Size the log for this many seconds of catch-up at the allowed rate.
        #[arg(long, default_value_t = 60)]
        seconds: u64,
        /// The monitor's configured request ceiling, as a multiple of N.
        #[arg(long, default_value_t = 4.0)]
        ceiling_factor: f64,
        /// The monitor's configured batch size.
        #[arg(long, default_value_t = 1000)]
        batch_size: u64,
        /// Repetitions (report medians).
        #[arg(long, default_value_t = 3)]
        runs: u32,
    },
    /// CAA checks of a surge (N names over D registered domains, HiPKI-like) with the monitor's
    /// CAA worker and checker against a local authoritative DNS server: names/s, queries.
    Caa {
        #[arg(long, default_value_t = 12_000)]
        names: u64,
        /// Registered domains the names are spread over.
        #[arg(long, default_value_t = 1_200)]
        domains: u64,
        /// Repetitions (report medians).
        #[arg(long, default_value_t = 3)]
        runs: u32,
        /// Override the checker's upstream query rate limit (0: none; default: the monitor's).
        #[arg(long)]
        queries_per_second: Option<u32>,
    },
    /// Database size of N watched certificates against their DER, and latency of every API
    /// route on that database.
    Api {
        #[arg(long, default_value_t = 1_000_000)]
        certificates: u64,
        /// Keep the database here and reuse it when it holds --certificates certificates.
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Requests per route.
        #[arg(long, default_value_t = 200)]
        requests: u32,
    },
    /// (internal) Generate and serve the benchmark log until killed.
    #[command(hide = true)]
    ServeLog {
        #[arg(long)]
        entries: u64,
        #[arg(long)]
        watched_percent: u32,
        #[arg(long)]
        dir: PathBuf,
    },
    /// The daemon tailing many growing logs (poll 1 s, every detector, a webhook sink): its
    /// steady-state CPU and RSS, and the latency from a tree head containing a bad certificate
    /// to the finding stored and the alert received.
    ManyLogs {
        #[arg(long, default_value_t = 40)]
        logs: u32,
        /// Entries per second each log grows by.
        #[arg(long, default_value_t = 50)]
        rate: u32,
        /// Length of the measured window, seconds.
        #[arg(long, default_value_t = 60)]
        seconds: u64,
        /// Bad certificates injected during the window, spread over it and the logs.
        #[arg(long, default_value_t = 100)]
        events: u32,
        /// Repetitions (report medians).
        #[arg(long, default_value_t = 3)]
        runs: u32,
        /// Share of entries from the watched CA.
        #[arg(long, default_value_t = 1)]
        watched_percent: u32,
        /// Seconds of growth each log holds before the monitor starts (its catch-up).
        #[arg(long, default_value_t = 10)]
        backlog_secs: u64,
        /// Seconds between catching up and the measured window.
        #[arg(long, default_value_t = 10)]
        warmup_secs: u64,
        /// Working directory (default: temporary).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// (internal) Serve growing benchmark logs; `inject <event> <log>` lines on stdin add bad
    /// certificates; exits when stdin closes.
    #[command(hide = true)]
    ServeManyLogs {
        #[arg(long)]
        logs: u32,
        #[arg(long)]
        rate: u32,
        #[arg(long)]
        events: u32,
        #[arg(long)]
        watched_percent: u32,
        #[arg(long)]
        backlog_secs: u64,
        #[arg(long)]
        dir: PathBuf,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum OutputFormat {
    Table,
    Json,
}

/// Parse arguments and run the command.
pub fn run() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    init_tracing(cli.log_format, cli.log_level.as_deref());
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the async runtime")?;
    match cli.command {
        Command::CheckConfig { file } => Ok(match Settings::load(&file) {
            Ok(s) => {
                println!(
                    "{}: OK ({} explicit logs{}, {} CAs, store {})",
                    file.display(),
                    s.logs.len(),
                    if s.log_list.is_some() { " + log list" } else { "" },
                    s.cas.len(),
                    s.store
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("ctwatch: {e}");
                ExitCode::from(EX_USAGE)
            }
        }),
        Command::Run { config, until_caught_up, grace_secs } => {
            let settings = match Settings::load(&config) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("ctwatch: {e}");
                    return Ok(ExitCode::from(EX_USAGE));
                }
            };
            let mode = if until_caught_up { RunMode::UntilCaughtUp } else { RunMode::Daemon };
            runtime.block_on(run_monitor(settings, mode, Duration::from_secs(grace_secs), mode == RunMode::Daemon))
        }
        Command::Backfill { config, log, from, to } => runtime.block_on(crate::backfill::run(&config, &log, from, to)),
        Command::Status { config, format } => {
            let settings = load_or_usage(&config)?;
            crate::status::print_status(&settings.store, format)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Report { id, config } => {
            let settings = match Settings::load(&config) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("ctwatch: {e}");
                    return Ok(ExitCode::from(EX_USAGE));
                }
            };
            crate::report::report(&settings.store, id, &mut std::io::stdout().lock())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Lint { files, format, all } => {
            let errors = crate::tools::lint_files(&files, format == OutputFormat::Json, all)?;
            Ok(if errors { ExitCode::from(2) } else { ExitCode::SUCCESS })
        }
        Command::Caa { command: CaaCommand::Check { name, ca, config, format } } => {
            runtime.block_on(crate::tools::caa_check(&config, &name, &ca, format == OutputFormat::Json))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Keys { command: KeysCommand::Import { file, config } } => {
            runtime.block_on(crate::tools::keys_import(&config, &file))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Demo { dir, listen, once } => {
            runtime.block_on(crate::demo::run_demo(crate::demo::DemoOptions { dir, listen, once }))
        }
        Command::Findings { command } => crate::findings::run(command),
        Command::Ccadb { command } => crate::ccadb::run(command),
        Command::Bench {
            command: BenchCommand::CatchUp { entries, watched_percent, runs, view, certspotter, dir },
        } => {
            crate::bench::catch_up(crate::bench::CatchUpOptions {
                entries,
                watched_percent,
                runs,
                views: view,
                certspotter,
                dir,
            })?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench {
            command:
                BenchCommand::RateLimited { requests_per_second, batch_cap, seconds, ceiling_factor, batch_size, runs },
        } => {
            runtime.block_on(crate::bench_rate::rate_limited(crate::bench_rate::RateLimitedOptions {
                requests_per_second,
                batch_cap,
                seconds,
                ceiling_factor,
                batch_size,
                runs,
            }))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench { command: BenchCommand::Caa { names, domains, runs, queries_per_second } } => {
            runtime.block_on(crate::bench_caa::caa(crate::bench_caa::CaaBenchOptions {
                names,
                domains,
                runs,
                queries_per_second,
            }))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench { command: BenchCommand::Api { certificates, dir, requests } } => {
            runtime.block_on(crate::bench_api::api(crate::bench_api::ApiBenchOptions {
                certificates,
                dir,
                requests,
            }))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench { command: BenchCommand::ServeLog { entries, watched_percent, dir } } => {
            runtime.block_on(crate::bench::serve_log(entries, watched_percent, &dir))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench {
            command:
                BenchCommand::ManyLogs {
                    logs,
                    rate,
                    seconds,
                    events,
                    runs,
                    watched_percent,
                    backlog_secs,
                    warmup_secs,
                    dir,
                },
        } => {
            runtime.block_on(crate::bench_many::many_logs(crate::bench_many::ManyLogsOptions {
                logs,
                rate,
                seconds,
                events,
                runs,
                watched_percent,
                backlog_secs,
                warmup_secs,
                dir,
            }))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench {
            command: BenchCommand::ServeManyLogs { logs, rate, events, watched_percent, backlog_secs, dir },
        } => {
            runtime.block_on(crate::bench_many::serve_many_logs(crate::bench_many::ServeManyOptions {
                logs,
                rate,
                events,
                watched_percent,
                backlog_secs,
                dir,
            }))?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn load_or_usage(path: &Path) -> anyhow::Result<Settings> {
    Settings::load(path).map_err(|e| anyhow::anyhow!("{e}"))
}

/// Run the monitor until done or signalled; map the result to an exit code. With `serve_api`
/// the metrics and HTTP API listen on `[metrics] listen` while it runs.
pub async fn run_monitor(
    settings: Settings,
    mode: RunMode,
    grace: Duration,
    serve_api: bool,
) -> anyhow::Result<ExitCode> {
    let store = settings.store.open().with_context(|| format!("opening store {}", settings.store))?;
    let metrics = new_metrics(&settings)?;
    let monitor = Monitor::with_observer(settings.clone(), store, metrics.clone()).await?;
    tracing::info!(logs = monitor.sources().len(), "following logs");
    let cancel = CancellationToken::new();
    if serve_api {
        spawn_api(&settings, &monitor, metrics, cancel.clone()).await?;
    }
    cancel_on_signal(cancel.clone());
    // Configuration valid, store open, listener bound: ready as far as systemd is concerned
    // (/readyz additionally waits for every log's verified tree head).
    crate::notify::notify("READY=1");
    let started = std::time::Instant::now();
    let run = monitor.run(mode, cancel.clone());
    tokio::pin!(run);
    let summaries = tokio::select! {
        r = &mut run => r?,
        _ = async { cancel.cancelled().await; tokio::time::sleep(grace).await } => {
            anyhow::bail!("in-flight work did not finish within {grace:?} of the signal; exiting (committed work is safe)");
        }
    };
    crate::usage::report_self(started.elapsed());
    Ok(summarise(&summaries, mode))
}

/// Print one line per log and map the outcome to the exit code.
pub fn summarise(summaries: &[ctwatch_monitor::LogSummary], mode: RunMode) -> ExitCode {
    let mut all_caught_up = true;
    for s in summaries {
        let outcome = match &s.outcome {
            LogOutcome::CaughtUp => "caught up".to_string(),
            LogOutcome::Misbehaved(m) => {
                all_caught_up = false;
                format!("stopped: log misbehaviour ({m}), finding recorded")
            }
            LogOutcome::Failed(e) => {
                all_caught_up = false;
                format!("failed: {e}")
            }
            LogOutcome::Cancelled => {
                all_caught_up = false;
                "cancelled".to_string()
            }
        };
        eprintln!(
            "{}: cursor {} / verified {}: {outcome}",
            s.name,
            s.cursor,
            s.verified_size.map_or("-".into(), |v| v.to_string())
        );
    }
    if mode == RunMode::UntilCaughtUp && !all_caught_up { ExitCode::from(EX_NOT_CAUGHT_UP) } else { ExitCode::SUCCESS }
}

/// The process's metrics, on one registry.
pub fn new_metrics(settings: &Settings) -> anyhow::Result<std::sync::Arc<ctwatch_api::Metrics>> {
    let registry = prometheus::Registry::new();
    Ok(std::sync::Arc::new(ctwatch_api::Metrics::new(
        &registry,
        ctwatch_api::MetricsConfig {
            watched_cas: settings.cas.iter().map(|c| c.name.clone()).collect(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            ..Default::default()
        },
    )?))
}

/// Serve /metrics and the HTTP API on `[metrics] listen` until `cancel`, reading `monitor`'s
/// store (the handle stays valid after the monitor ends). Returns the bound address.
pub async fn spawn_api(
    settings: &Settings,
    monitor: &Monitor,
    metrics: std::sync::Arc<ctwatch_api::Metrics>,
    cancel: CancellationToken,
) -> anyhow::Result<std::net::SocketAddr> {
    let mut config = ctwatch_api::ApiConfig::new(settings.metrics_listen);
    config.token = settings.metrics_token.clone();
    let log_names = monitor.sources().iter().map(|s| s.name.clone()).collect();
    let state = ctwatch_api::ApiState::new(monitor.store(), metrics)
        .with_readiness(ctwatch_api::Readiness::LogsVerified(log_names))
        .with_watched_cas(settings.cas.iter().map(Into::into).collect());
    let server = ctwatch_api::ApiServer::bind(config, state).await?;
    let addr = server.local_addr();
    tracing::info!(addr = %addr, "serving /metrics and /api/v1");
    eprintln!("ctwatch: metrics and API at http://{addr}/");
    let shutdown = cancel.cancelled_owned();
    tokio::spawn(async move {
        if let Err(e) = server.run(shutdown).await {
            tracing::error!(error = %e, "API server failed");
        }
    });
    Ok(addr)
}

/// Cancel `cancel` on SIGTERM or SIGINT (telling systemd we are stopping).
pub fn cancel_on_signal(cancel: CancellationToken) {
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("signal received: draining in-flight work");
        crate::notify::notify("STOPPING=1");
        cancel.cancel();
    });
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

fn init_tracing(format: LogFormat, level: Option<&str>) {
    use tracing_subscriber::EnvFilter;
    let filter = level
        .map(EnvFilter::new)
        .or_else(|| std::env::var("CTWATCH_LOG").ok().map(EnvFilter::new))
        .unwrap_or_else(|| EnvFilter::new("info"));
    use std::io::IsTerminal as _;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    let _ = match format {
        LogFormat::Human => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

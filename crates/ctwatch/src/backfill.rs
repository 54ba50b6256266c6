//! `ctwatch backfill --log NAME --from N --to M`: re-read a range of a log below its cursor
//! (after adding a CA to the watch list, say) with full verification, showing progress — a bar
//! with rate and ETA on a terminal, a log line every few seconds otherwise.

use anyhow::Context as _;
use ctwatch_monitor::config::Settings;
use ctwatch_monitor::follow::BackfillError;
use ctwatch_monitor::{Monitor, MonitorObserver};
use ctwatch_store::CommitOutcome;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal as _;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// How often the plain (non-terminal) progress line is written.
const LINE_INTERVAL: Duration = Duration::from_secs(5);

/// Progress of one backfill: drawn as a bar or written as lines, plus what the commits wrote.
#[derive(Debug)]
struct Progress {
    from: u64,
    to: u64,
    bar: Option<ProgressBar>,
    started: Instant,
    last_line: Mutex<Instant>,
    written: Mutex<CommitOutcome>,
}

impl Progress {
    fn new(from: u64, to: u64, terminal: bool) -> Progress {
        let bar = terminal.then(|| {
            let bar = ProgressBar::with_draw_target(Some(to - from), ProgressDrawTarget::stderr());
            let style = ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {wide_bar} {human_pos}/{human_len} entries {per_sec} ETA {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style);
            bar
        });
        Progress {
            from,
            to,
            bar,
            started: Instant::now(),
            last_line: Mutex::new(Instant::now()),
            written: Mutex::new(CommitOutcome::default()),
        }
    }
}

impl MonitorObserver for Progress {
    fn on_progress(&self, log: &str, done: u64, _target: u64) {
        let done = done.clamp(self.from, self.to) - self.from;
        if let Some(bar) = &self.bar {
            bar.set_position(done);
            return;
        }
        let Ok(mut last) = self.last_line.lock() else { return };
        if last.elapsed() >= LINE_INTERVAL {
            *last = Instant::now();
            let secs = self.started.elapsed().as_secs_f64().max(1e-3);
            let rate = done as f64 / secs;
            let left = (self.to - self.from).saturating_sub(done);
            let eta = if rate > 0.0 { format!("{:.0} s", left as f64 / rate) } else { "-".into() };
            tracing::info!(
                log,
                done,
                total = self.to - self.from,
                rate = format!("{rate:.0}/s"),
                eta,
                "backfill progress"
            );
        }
    }

    fn on_commit(&self, _log: &str, _from: u64, _to: u64, outcome: &CommitOutcome) {
        if let Ok(mut w) = self.written.lock() {
            w.new_certificates += outcome.new_certificates;
            w.new_entries += outcome.new_entries;
            w.new_findings += outcome.new_findings;
        }
    }
}

/// Run a backfill; exit 64 for a range or log name the configuration cannot serve.
pub async fn run(config: &Path, log: &str, from: u64, to: u64) -> anyhow::Result<ExitCode> {
    let settings = match Settings::load(config) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("ctwatch: {e}");
            return Ok(ExitCode::from(crate::cli::EX_USAGE));
        }
    };
    if from >= to {
        eprintln!("ctwatch: empty range: --from {from} must be below --to {to}");
        return Ok(ExitCode::from(crate::cli::EX_USAGE));
    }
    let store = settings.store.open().with_context(|| format!("opening store {}", settings.store))?;
    let progress = std::sync::Arc::new(Progress::new(from, to, std::io::stderr().is_terminal()));
    let monitor = Monitor::with_observer(settings, store, progress.clone()).await?;
    let cancel = CancellationToken::new();
    crate::cli::cancel_on_signal(cancel.clone());
    let result = monitor.backfill(log, from, to, &cancel).await;
    if let Some(bar) = &progress.bar {
        bar.finish_and_clear();
    }
    let written = progress.written.lock().map(|w| w.clone()).unwrap_or_default();
    match result {
        Ok(outcome) => {
            let secs = progress.started.elapsed().as_secs_f64();
            println!(
                "backfilled entries [{from}, {}) of {log}, verified against its tree of {} entries, in {secs:.1} s: \
                 {} new certificates, {} new log entries, {} new findings",
                outcome.reached, outcome.tree_size, written.new_certificates, written.new_entries, written.new_findings
            );
            println!("(CAA checks and CRL polling of the new certificates run in `ctwatch run`)");
            Ok(ExitCode::SUCCESS)
        }
        Err(BackfillError::Range(message)) => {
            eprintln!("ctwatch: {message}");
            Ok(ExitCode::from(crate::cli::EX_USAGE))
        }
        Err(e) => {
            eprintln!(
                "ctwatch: backfill of {log} stopped: {e} ({} new certificates, {} new findings were written before)",
                written.new_certificates, written.new_findings
            );
            Ok(ExitCode::from(1))
        }
    }
}

//! The delivery loop: per sink, pending findings → deliver → mark delivered.
//!
//! Invariants:
//! - A finding is marked delivered for a sink only after that sink acknowledged it, and it is
//!   marked with the `last_seen` and status that were delivered (not re-read ones), so a change
//!   made while the delivery was in flight stays pending. A crash between acknowledgement and
//!   mark resends: delivery is at least once.
//! - A finding the sink refused (or that timed out) stays pending and is tried again the next
//!   pass; it never blocks the findings after it, because a pass walks the pending findings in
//!   id order and tries each at most once.
//! - Findings below a sink's minimum severity are marked delivered without being sent, so they
//!   do not come back every pass.

use crate::alertmanager::AlertmanagerSink;
use crate::command::CommandSink;
use crate::config::{ConfigError, SinkSpec, SinkTarget, SinksConfig};
use crate::webhook::WebhookSink;
use crate::{Sink, StoreAccess, unix_now};
use ctwatch_store::{Finding, FindingStatus, Severity, StoreError};
use std::path::PathBuf;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Worker errors: only the store failing stops a pass (sink failures are counted instead).
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("store: {0}")]
    Store(#[from] StoreError),
}

/// Settings of a [`SinkWorker`] that are not per sink.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// The configuration file's directory: relative `secret_file` and `command` paths are
    /// resolved against it.
    pub base_dir: PathBuf,
    /// ctwatch's API base URL for Alertmanager links, unless a sink sets its own `api_base`.
    pub api_base: Option<String>,
    /// Findings read from the store at a time.
    pub batch_size: usize,
    /// Most batches per sink in one pass, so one pass ends even if findings keep changing.
    pub max_batches: usize,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        WorkerOptions { base_dir: PathBuf::from("."), api_base: None, batch_size: 100, max_batches: 100 }
    }
}

/// What one pass did for one sink.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SinkStats {
    pub sink: String,
    /// New or changed findings the sink acknowledged.
    pub delivered: u64,
    /// Unchanged open findings re-sent and acknowledged (Alertmanager).
    pub resent: u64,
    /// Findings below the sink's minimum severity, marked without sending.
    pub skipped: u64,
    /// Deliveries that failed; those findings stay pending.
    pub failed: u64,
    /// The first error of the pass, for logs and status pages.
    pub first_error: Option<String>,
}

/// What one pass did, per sink in configuration order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryStats {
    pub sinks: Vec<SinkStats>,
}

impl DeliveryStats {
    /// New or changed findings acknowledged, over all sinks.
    pub fn delivered(&self) -> u64 {
        self.sinks.iter().map(|s| s.delivered).sum()
    }
    /// Re-sends acknowledged, over all sinks.
    pub fn resent(&self) -> u64 {
        self.sinks.iter().map(|s| s.resent).sum()
    }
    /// Findings skipped for their severity, over all sinks.
    pub fn skipped(&self) -> u64 {
        self.sinks.iter().map(|s| s.skipped).sum()
    }
    /// Failed deliveries, over all sinks.
    pub fn failed(&self) -> u64 {
        self.sinks.iter().map(|s| s.failed).sum()
    }
}

/// A sink and the least severity it is sent.
#[derive(Debug)]
struct SinkEntry {
    sink: Box<dyn Sink>,
    min_severity: Severity,
}

/// Delivers findings from the store to sinks. See the module documentation for the rules.
pub struct SinkWorker<S> {
    sinks: Vec<SinkEntry>,
    store: S,
    batch_size: usize,
    max_batches: usize,
}

impl<S> std::fmt::Debug for SinkWorker<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SinkWorker")
            .field("sinks", &self.sinks)
            .field("batch_size", &self.batch_size)
            .field("max_batches", &self.max_batches)
            .finish_non_exhaustive()
    }
}

/// Which store query a delivery loop reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Round {
    /// New or changed findings (`pending_deliveries`).
    Changes,
    /// Unchanged open findings due for a re-send (`deliveries_to_resend`).
    Resends { delivered_before: i64 },
}

impl<S: StoreAccess> SinkWorker<S> {
    /// A worker with no sinks yet (add them with [`SinkWorker::add_sink`]).
    pub fn new(store: S, options: &WorkerOptions) -> Self {
        SinkWorker {
            sinks: Vec::new(),
            store,
            batch_size: options.batch_size.max(1),
            max_batches: options.max_batches.max(1),
        }
    }

    /// A worker for the configured sinks. Validates the configuration (reading secret files)
    /// and builds each sink.
    pub fn from_config(config: &SinksConfig, options: &WorkerOptions, store: S) -> Result<Self, ConfigError> {
        let specs = config.validate(&options.base_dir, options.api_base.as_deref())?;
        Self::from_specs(specs, options, store)
    }

    /// A worker for already validated sinks.
    pub fn from_specs(specs: Vec<SinkSpec>, options: &WorkerOptions, store: S) -> Result<Self, ConfigError> {
        let mut worker = Self::new(store, options);
        for spec in specs {
            let client_error = |name: &str, e: reqwest::Error| ConfigError::Invalid {
                key: format!("sink {name}"),
                detail: format!("cannot build its HTTP client: {e}"),
            };
            let sink: Box<dyn Sink> = match spec.target {
                SinkTarget::Alertmanager(o) => {
                    let name = o.name.clone();
                    Box::new(AlertmanagerSink::new(o).map_err(|e| client_error(&name, e))?)
                }
                SinkTarget::Webhook(o) => {
                    let name = o.name.clone();
                    Box::new(WebhookSink::new(o).map_err(|e| client_error(&name, e))?)
                }
                SinkTarget::Command(o) => Box::new(CommandSink::new(o)),
            };
            worker.add_sink(sink, spec.min_severity);
        }
        Ok(worker)
    }

    /// Add a sink that is sent findings of `min_severity` and above.
    pub fn add_sink(&mut self, sink: Box<dyn Sink>, min_severity: Severity) {
        self.sinks.push(SinkEntry { sink, min_severity });
    }

    /// The sinks' names, in order.
    pub fn sink_names(&self) -> Vec<&str> {
        self.sinks.iter().map(|e| e.sink.name()).collect()
    }

    /// One delivery pass at the current time.
    pub async fn pass(&mut self) -> Result<DeliveryStats, WorkerError> {
        self.pass_at(unix_now()).await
    }

    /// One delivery pass as if the time were `now` (Unix seconds): for every sink, deliver the
    /// findings it has not acknowledged as they are now, then re-send what is due for a re-send.
    pub async fn pass_at(&mut self, now: i64) -> Result<DeliveryStats, WorkerError> {
        let mut stats = DeliveryStats::default();
        for entry in &self.sinks {
            let mut sink_stats = SinkStats { sink: entry.sink.name().to_string(), ..SinkStats::default() };
            self.sink_round(entry, Round::Changes, now, &mut sink_stats).await?;
            if let Some(interval) = entry.sink.resend_interval() {
                let interval = i64::try_from(interval.as_secs()).unwrap_or(i64::MAX);
                let round = Round::Resends { delivered_before: now.saturating_sub(interval) };
                self.sink_round(entry, round, now, &mut sink_stats).await?;
            }
            if sink_stats.failed > 0 {
                tracing::warn!(
                    sink = %sink_stats.sink,
                    failed = sink_stats.failed,
                    error = sink_stats.first_error.as_deref().unwrap_or(""),
                    "findings not delivered; they stay pending for the next pass"
                );
            }
            if sink_stats.delivered + sink_stats.resent > 0 {
                tracing::info!(
                    sink = %sink_stats.sink,
                    delivered = sink_stats.delivered,
                    resent = sink_stats.resent,
                    "findings delivered"
                );
            }
            stats.sinks.push(sink_stats);
        }
        Ok(stats)
    }

    /// Walk the findings of one kind for one sink in id order, a batch at a time, delivering
    /// each batch. Every finding is tried at most once per pass, and refused ones do not hide
    /// the ones after them.
    async fn sink_round(
        &self,
        entry: &SinkEntry,
        round: Round,
        now: i64,
        stats: &mut SinkStats,
    ) -> Result<(), WorkerError> {
        let limit = self.batch_size;
        let mut after_id = 0;
        for _ in 0..self.max_batches {
            let name = entry.sink.name().to_string();
            let batch = self
                .store
                .with_store(move |store| match round {
                    Round::Changes => store.pending_deliveries(&name, after_id, limit),
                    Round::Resends { delivered_before } => {
                        store.deliveries_to_resend(&name, delivered_before, after_id, limit)
                    }
                })
                .await?;
            let fetched = batch.len();
            let Some(last) = batch.last() else {
                break;
            };
            after_id = last.id;
            self.deliver_batch(entry, batch, round, now, stats).await?;
            if fetched < limit {
                break;
            }
        }
        Ok(())
    }

    /// Deliver one batch and mark what was acknowledged (or skipped).
    async fn deliver_batch(
        &self,
        entry: &SinkEntry,
        batch: Vec<Finding>,
        round: Round,
        now: i64,
        stats: &mut SinkStats,
    ) -> Result<(), WorkerError> {
        let (send, skip): (Vec<Finding>, Vec<Finding>) =
            batch.into_iter().partition(|f| f.severity >= entry.min_severity);
        let mut done: Vec<(i64, i64, FindingStatus)> = skip.iter().map(|f| (f.id, f.last_seen, f.status)).collect();
        let skipped = done.len();

        let results = if send.is_empty() { Vec::new() } else { entry.sink.deliver(&send, now).await };
        let mut acknowledged = 0u64;
        for (i, finding) in send.iter().enumerate() {
            match results.get(i) {
                Some(Ok(())) => {
                    done.push((finding.id, finding.last_seen, finding.status));
                    acknowledged += 1;
                }
                Some(Err(e)) => {
                    stats.failed += 1;
                    stats.first_error.get_or_insert_with(|| e.to_string());
                }
                // A sink that returned fewer results than findings did not acknowledge the rest.
                None => {
                    stats.failed += 1;
                    stats.first_error.get_or_insert_with(|| format!("sink gave no result for finding {}", finding.id));
                }
            }
        }

        if !done.is_empty() {
            let name = entry.sink.name().to_string();
            self.store
                .with_store(move |store| {
                    for (id, last_seen, status) in done {
                        store.mark_delivered(&name, id, last_seen, status, now)?;
                    }
                    Ok(())
                })
                .await?;
        }
        // Skipped findings of a re-send round were marked again (to push them back a whole
        // interval); they count once, when first skipped.
        match round {
            Round::Changes => {
                stats.delivered += acknowledged;
                stats.skipped += skipped as u64;
            }
            Round::Resends { .. } => stats.resent += acknowledged,
        }
        Ok(())
    }

    /// Run passes every `interval` until `shutdown` is cancelled. A pass in flight is abandoned
    /// on shutdown: what it had not marked is delivered again after the restart.
    pub async fn run(mut self, interval: Duration, shutdown: CancellationToken) {
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                result = self.pass() => {
                    if let Err(e) = result {
                        tracing::warn!(error = %e, "alert sink pass failed");
                    }
                }
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(interval) => {}
            }
        }
    }
}

//! The ctwatch monitor: configuration, one follower task per log, the entry pipeline and the
//! run loop. The binary only parses arguments and calls [`Monitor::run`].
//!
//! Data flows one way: log list → [`follow::LogFollower`] per log (fetch, verify, sequence) →
//! [`process`] (decode, identify the issuer, filter by the [`watch::Watchlist`]) →
//! [`batch::BatchBuilder`] → one store transaction with the cursor that covers it.
//!
//! ```no_run
//! # async fn f() -> anyhow::Result<()> {
//! use ctwatch_monitor::{config::Settings, Monitor, RunMode};
//! let settings = Settings::load(std::path::Path::new("ctwatch.toml"))?;
//! let store = settings.store.open()?;
//! let monitor = Monitor::new(settings, store).await?;
//! let summary = monitor.run(RunMode::UntilCaughtUp, tokio_util::sync::CancellationToken::new()).await?;
//! # Ok(()) }
//! ```

pub mod batch;
pub mod caa_worker;
pub mod config;
pub mod crl_worker;
pub mod detect;
pub mod follow;
pub mod misbehaviour;
pub mod pem;
pub mod process;
pub mod retention;
pub mod revocation;
pub mod sequencer;
pub mod shard;
pub mod watch;

use crate::config::{LogSource, Settings};
use crate::follow::{LogFollower, RoundError, Shared};
use crate::misbehaviour::Misbehaviour;
use crate::watch::{KnownLogs, Watchlist};
use ctwatch_client::HttpConfig;
use ctwatch_ct::loglist::LogInfo;
use ctwatch_ct::sth::{LogKey, TreeHead};
use ctwatch_store::{CommitOutcome, Store, StoreError};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Monitor-level errors (configuration problems, the store failing).
#[derive(Debug, thiserror::Error)]
pub enum MonitorError {
    #[error("log list {source_name}: {detail}")]
    LogList { source_name: String, detail: String },
    #[error("no logs to follow: the log list selected none and no [[log]] is configured")]
    NoLogs,
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("log {log}: {error}")]
    Log { log: String, error: String },
}

/// The store shared by every task. SQLite has one writer at a time anyway; calls run on the
/// blocking pool so they never stall the runtime.
#[derive(Clone)]
pub struct StoreHandle {
    store: Arc<Mutex<Box<dyn Store>>>,
    /// One call at a time reaches the blocking pool: the others wait here, as tasks, instead
    /// of each parking a blocking thread on the lock (forty followers polling every second kept
    /// ~37 blocking threads alive).
    turn: Arc<tokio::sync::Semaphore>,
}

impl std::fmt::Debug for StoreHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StoreHandle")
    }
}

impl StoreHandle {
    pub fn new(store: Box<dyn Store>) -> Self {
        StoreHandle { store: Arc::new(Mutex::new(store)), turn: Arc::new(tokio::sync::Semaphore::new(1)) }
    }

    /// Run `f` with the store on the blocking pool.
    pub async fn call<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&mut dyn Store) -> Result<R, StoreError> + Send + 'static,
    {
        let inner = self.store.clone();
        let turn =
            self.turn.clone().acquire_owned().await.map_err(|_| StoreError::Other("store gate closed".into()))?;
        tokio::task::spawn_blocking(move || {
            // Held until the call ends, even if the caller stops waiting for it.
            let _turn = turn;
            let mut guard =
                inner.lock().map_err(|_| StoreError::Other("store lock poisoned by an earlier panic".into()))?;
            f(guard.as_mut())
        })
        .await
        .map_err(|e| StoreError::Other(format!("store task failed: {e}")))?
    }
}

impl ctwatch_sinks::StoreAccess for StoreHandle {
    fn with_store<R, F>(&self, f: F) -> ctwatch_sinks::BoxFuture<'_, Result<R, StoreError>>
    where
        R: Send + 'static,
        F: FnOnce(&mut dyn Store) -> Result<R, StoreError> + Send + 'static,
    {
        Box::pin(self.call(f))
    }
}

/// Hooks for metrics and progress display. Every method has a no-op default.
pub trait MonitorObserver: Send + Sync + std::fmt::Debug {
    /// A tree head was fetched and its signature verified.
    fn on_head(&self, _log: &str, _head: &TreeHead) {}
    /// Entries `[from, to)` were verified and committed.
    fn on_commit(&self, _log: &str, _from: u64, _to: u64, _outcome: &CommitOutcome) {}
    /// Download progress (entries processed, target).
    fn on_progress(&self, _log: &str, _done: u64, _target: u64) {}
    /// The log misbehaved.
    fn on_misbehaviour(&self, _log: &str, _m: &Misbehaviour) {}
    /// `count` new distinct certificates of a CA were committed: `ca` is the watched CA's name
    /// (`None` for an issuer that is not watched), `validation` the validation type's name
    /// (`ValidationType::as_str`).
    fn on_certificates(&self, _ca: Option<&str>, _validation: &str, _count: u64) {}
    /// The surge detector's current ratio (observed issuance over the baseline) for a CA.
    fn on_surge_ratio(&self, _ca: &str, _ratio: f64) {}
    /// One CAA name check finished with `verdict` after `elapsed`.
    fn on_caa_check(&self, _verdict: ctwatch_caa::CaaVerdict, _elapsed: Duration) {}
    /// One CRL fetch ended: "ok", "unreachable", "rejected" or "crl_number".
    fn on_crl_fetch(&self, _result: &str) {}
    /// An observer for the HTTP requests of one log's client.
    fn fetch_observer(&self, _log: &str) -> Option<Arc<dyn ctwatch_client::FetchObserver>> {
        None
    }
}

/// An observer that ignores everything.
#[derive(Debug, Default)]
pub struct NoopMonitorObserver;
impl MonitorObserver for NoopMonitorObserver {}

/// How long to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunMode {
    /// Poll forever, until cancelled.
    Daemon,
    /// Process every log up to the tree size seen at start, then return.
    UntilCaughtUp,
}

/// How one log ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogOutcome {
    CaughtUp,
    /// Stopped on misbehaviour: the cursor stays at the last verified position.
    Misbehaved(String),
    /// Gave up after repeated fetch errors.
    Failed(String),
    Cancelled,
}

/// Per-log result of a run.
#[derive(Debug, Clone)]
pub struct LogSummary {
    pub name: String,
    pub cursor: u64,
    pub verified_size: Option<u64>,
    pub outcome: LogOutcome,
}

/// The monitor.
#[derive(Debug)]
pub struct Monitor {
    settings: Settings,
    sources: Vec<LogSource>,
    shared: Shared,
}

impl Monitor {
    /// Resolve the logs (reading the log list) and prepare the shared state.
    pub async fn new(settings: Settings, store: Box<dyn Store>) -> Result<Monitor, MonitorError> {
        Self::with_observer(settings, store, Arc::new(NoopMonitorObserver)).await
    }

    /// As [`Monitor::new`], reporting to `observer`.
    pub async fn with_observer(
        settings: Settings,
        store: Box<dyn Store>,
        observer: Arc<dyn MonitorObserver>,
    ) -> Result<Monitor, MonitorError> {
        let http = HttpConfig { timeout: settings.timeout, ..HttpConfig::default() };
        let (sources, known) = resolve_logs(&settings, &http).await?;
        if sources.is_empty() {
            return Err(MonitorError::NoLogs);
        }
        let store = StoreHandle::new(store);
        let watch = Arc::new(Watchlist::new(&settings.cas, settings.all_issuers));
        let detectors = build_detectors(&settings, &sources, &store, &watch).await?;
        let issuers: std::collections::HashMap<ctwatch_ct::Hash, Vec<u8>> = settings
            .cas
            .iter()
            .flat_map(|c| c.issuer_certs.iter())
            .filter_map(|der| ctwatch_cert::facts::spki_sha256_of_cert(der).ok().map(|h| (h, der.clone())))
            .collect();
        let shared = Shared {
            store,
            watch,
            known_logs: Arc::new(known),
            observer,
            commit_entries: settings.commit_entries,
            http,
            partial_tile_delay: settings.partial_tile_delay,
            detectors,
            issuers: Arc::new(Mutex::new(issuers)),
            crl_urls: Arc::default(),
            findings_stored: Arc::default(),
        };
        Ok(Monitor { settings, sources, shared })
    }

    /// The logs that will be followed.
    pub fn sources(&self) -> &[LogSource] {
        &self.sources
    }

    /// The store, for readers that run beside the monitor (API, tests).
    pub fn store(&self) -> StoreHandle {
        self.shared.store.clone()
    }

    /// Backfill entries `[from, to)` of the log named `log`, below its cursor, with the same
    /// verification as following (see [`follow::backfill`]). Issuance is counted for newly
    /// stored certificates unless in all-issuers mode (which counted the range already).
    pub async fn backfill(
        &self,
        log: &str,
        from: u64,
        to: u64,
        cancel: &CancellationToken,
    ) -> Result<follow::BackfillOutcome, follow::BackfillError> {
        let Some(source) = self.sources.iter().find(|s| s.name == log) else {
            let names: Vec<&str> = self.sources.iter().map(|s| s.name.as_str()).collect();
            return Err(follow::BackfillError::Range(format!(
                "{log:?} is not a configured log (configured: {})",
                names.join(", ")
            )));
        };
        follow::backfill(source, self.shared.clone(), from, to, !self.settings.all_issuers, cancel).await
    }

    fn caa_worker(&self) -> Result<Option<caa_worker::CaaWorker>, MonitorError> {
        if !self.settings.caa_enabled {
            return Ok(None);
        }
        let settings = ctwatch_caa::CaaCheckerSettings {
            resolver: ctwatch_caa::ResolverSettings {
                nameservers: self.settings.nameservers.clone(),
                timeout: self.settings.dns_timeout,
                ..Default::default()
            },
            queries_per_second: self.settings.caa_queries_per_second,
            ..Default::default()
        };
        let checker = ctwatch_caa::CaaChecker::new(settings)
            .map_err(|e| MonitorError::Log { log: "[dns]".into(), error: e.to_string() })?;
        Ok(Some(caa_worker::CaaWorker::new(
            self.shared.store.clone(),
            self.shared.watch.clone(),
            checker,
            self.settings.caa_retry,
            self.settings.caa_max_attempts,
            self.shared.observer.clone(),
        )))
    }

    fn crl_worker(&self) -> crl_worker::CrlWorker {
        crl_worker::CrlWorker {
            store: self.shared.store.clone(),
            watch: self.shared.watch.clone(),
            keys: self.shared.detectors.keys.clone(),
            issuers: self.shared.issuers.clone(),
            discovered: self.shared.crl_urls.clone(),
            configured: self.settings.crl_urls.clone(),
            from_certificates: self.settings.crl_from_certificates,
            interval: self.settings.crl_interval,
            limits: ctwatch_keys::crl::CrlLimits { max_bytes: self.settings.crl_max_bytes, ..Default::default() },
            http: self.shared.http.clone(),
            last_fetch: Default::default(),
            observer: self.shared.observer.clone(),
            seeded: false,
        }
    }

    /// Follow every log until `mode` says stop or `cancel` fires. Store failures end the run
    /// with an error (nothing is skipped silently); log problems end only that log.
    ///
    /// Beside the followers run the CAA checks of stored certificates, CRL polling and the
    /// revocation-deadline evaluation: periodically in daemon mode; once, after every log caught
    /// up, in `UntilCaughtUp` mode (CAA retries of indeterminate answers included).
    ///
    /// With `[shard] instance` set, the instance follows only the logs it holds the lease of and
    /// runs the workers only while it holds the singleton lease (see [`shard`]); that needs
    /// `RunMode::Daemon`.
    pub async fn run(self, mode: RunMode, cancel: CancellationToken) -> Result<Vec<LogSummary>, MonitorError> {
        if let Some(shard) = self.settings.shard.clone() {
            if mode != RunMode::Daemon {
                return Err(MonitorError::Log {
                    log: "[shard]".into(),
                    error: "a sharded instance runs as a daemon: drop --until-caught-up, or run without \
                            [shard] instance (nothing else may follow the same logs meanwhile)"
                        .into(),
                });
            }
            return shard::run(self, shard, cancel).await;
        }
        let mut workers = tokio::task::JoinSet::new();
        let caa = if mode == RunMode::Daemon {
            self.spawn_workers(&mut workers, None, &cancel)?;
            None
        } else {
            self.caa_worker()?
        };
        let mut tasks = tokio::task::JoinSet::new();
        for source in self.sources.clone() {
            let shared = self.shared.clone();
            let cancel = cancel.clone();
            let poll = self.settings.poll_interval;
            tasks.spawn(async move { follow_log(source, shared, mode, poll, cancel, None).await });
        }
        let mut summaries = Vec::new();
        let mut fatal = None;
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok(Ok(s)) => summaries.push(s),
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "stopping: {e}");
                    cancel.cancel();
                    fatal.get_or_insert(e);
                }
                Err(e) => {
                    cancel.cancel();
                    fatal.get_or_insert(MonitorError::Log { log: "?".into(), error: format!("task failed: {e}") });
                }
            }
        }
        workers.abort_all();
        while let Some(joined) = workers.join_next().await {
            if let Ok(Err(e)) = joined {
                fatal.get_or_insert(e);
            }
        }
        if let Some(e) = fatal {
            return Err(e);
        }
        if mode == RunMode::UntilCaughtUp && !cancel.is_cancelled() {
            self.finish_checks(caa, &cancel).await?;
        }
        summaries.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(summaries)
    }

    /// Spawn the daemon's periodic workers into `workers`, until `cancel`: CAA checks, CRL
    /// polling, revocation deadlines, certificate retention, the alert sinks and, for the
    /// singleton of sharded instances, the store-fed surge detector (`tail`). Run by a single
    /// instance, or by the instance holding the singleton lease: none of this may run twice.
    fn spawn_workers(
        &self,
        workers: &mut tokio::task::JoinSet<Result<(), MonitorError>>,
        mut tail: Option<shard::CertificateTail>,
        cancel: &CancellationToken,
    ) -> Result<(), MonitorError> {
        let mut caa = self.caa_worker()?;
        let mut crl = self.crl_worker();
        let clock = self.settings.clock_start;
        let store = self.shared.store.clone();
        let retention = self.settings.certificate_retention;
        let cancel_w = cancel.clone();
        let caa_retry = self.settings.caa_retry;
        let findings_stored = self.shared.findings_stored.clone();
        workers.spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(5).min(caa_retry));
            let mut last_prune: Option<std::time::Instant> = None;
            loop {
                tokio::select! {
                    _ = cancel_w.cancelled() => return Ok::<(), MonitorError>(()),
                    _ = tick.tick() => {}
                }
                if let Some(t) = tail.as_mut() {
                    t.pass().await?;
                }
                let mut found = 0;
                if let Some(w) = caa.as_mut() {
                    found += w.pass().await?.findings;
                }
                found += crl.pass(false).await?.findings;
                found += revocation::evaluate(&store, clock, follow::unix_now()).await?;
                if found > 0 {
                    findings_stored.notify_one();
                }
                if let Some(keep) = retention
                    && last_prune.is_none_or(|t| t.elapsed() >= retention::PRUNE_INTERVAL)
                {
                    last_prune = Some(std::time::Instant::now());
                    retention::prune_expired(&store, keep, follow::unix_now()).await?;
                }
            }
        });
        if let Some(mut worker) = self.sink_worker()? {
            let cancel_s = cancel.clone();
            let findings_stored = self.shared.findings_stored.clone();
            // A pass when findings were stored, and every 15 s anyway to retry what a sink
            // refused. A notification during a pass is kept and starts the next one at once.
            workers.spawn(async move {
                loop {
                    tokio::select! {
                        _ = cancel_s.cancelled() => return Ok(()),
                        result = worker.pass() => {
                            if let Err(e) = result {
                                tracing::warn!(error = %e, "alert sink pass failed");
                            }
                        }
                    }
                    tokio::select! {
                        _ = cancel_s.cancelled() => return Ok(()),
                        _ = findings_stored.notified() => {}
                        _ = tokio::time::sleep(SINK_RETRY_INTERVAL) => {}
                    }
                }
            });
        }
        Ok(())
    }

    /// After catching up: CAA checks until nothing is due (indeterminate answers retried up to
    /// the configured attempts), one CRL pass, one revocation evaluation.
    async fn finish_checks(
        &self,
        caa: Option<caa_worker::CaaWorker>,
        cancel: &CancellationToken,
    ) -> Result<(), MonitorError> {
        if let Some(mut w) = caa {
            w.pass().await?;
            // Indeterminate certificates wait `caa_retry` after each attempt, each from the
            // end of its own check: go on until every one was answered or given up (every
            // retry counts an attempt, so this ends), waking when the next one is due.
            while let Some(due) = w.next_retry() {
                tokio::select! {
                    _ = cancel.cancelled() => break,
                    _ = tokio::time::sleep_until(due.into()) => {}
                }
                let pass = w.pass().await?;
                if pass.checked == 0 && pass.deferred == 0 {
                    // What is due lies beyond the page a pass reads: let the rest fall due.
                    tokio::select! {
                        _ = cancel.cancelled() => break,
                        _ = tokio::time::sleep(self.settings.caa_retry) => {}
                    }
                }
            }
        }
        let mut crl = self.crl_worker();
        crl.pass(true).await?;
        revocation::evaluate(&self.shared.store, self.settings.clock_start, follow::unix_now()).await?;
        if let Some(keep) = self.settings.certificate_retention {
            retention::prune_expired(&self.shared.store, keep, follow::unix_now()).await?;
        }
        if let Some(mut sinks) = self.sink_worker()? {
            let stats =
                sinks.pass().await.map_err(|e| MonitorError::Log { log: "[[sink]]".into(), error: e.to_string() })?;
            tracing::info!(?stats, "alert sinks");
        }
        Ok(())
    }

    fn sink_worker(&self) -> Result<Option<ctwatch_sinks::worker::SinkWorker<StoreHandle>>, MonitorError> {
        if self.settings.sinks.sinks.is_empty() {
            return Ok(None);
        }
        let options = ctwatch_sinks::worker::WorkerOptions {
            base_dir: self.settings.config_path.parent().map(std::path::Path::to_path_buf).unwrap_or_default(),
            api_base: Some(format!("http://{}", self.settings.metrics_listen)),
            ..Default::default()
        };
        ctwatch_sinks::worker::SinkWorker::from_config(&self.settings.sinks, &options, self.shared.store.clone())
            .map(Some)
            .map_err(|e| MonitorError::Log { log: "[[sink]]".into(), error: e.to_string() })
    }
}

/// Load compromised keys (store + configured imports) and seed the surge detector.
async fn build_detectors(
    settings: &Settings,
    sources: &[LogSource],
    store: &StoreHandle,
    watch: &Arc<Watchlist>,
) -> Result<detect::DetectorSet, MonitorError> {
    let mut set = ctwatch_keys::keyset::CompromisedKeySet::new();
    for record in store.call(|s| s.compromised_keys()).await? {
        if let Some(k) = crl_worker::from_record(&record) {
            set.insert(k);
        }
    }
    let keys = Arc::new(std::sync::RwLock::new(set));
    for file in &settings.key_imports {
        import_keys(store, watch, &keys, file).await?;
    }
    let surge = seeded_surge_stage(settings, sources, store).await?.map(|stage| Arc::new(Mutex::new(stage)));
    Ok(detect::DetectorSet { lints: settings.lints, keys, surge })
}

/// The surge stage (when surge detection is on), seeded with five weeks of the watched
/// issuers' stored hourly counts.
async fn seeded_surge_stage(
    settings: &Settings,
    sources: &[LogSource],
    store: &StoreHandle,
) -> Result<Option<detect::SurgeStage>, MonitorError> {
    let Some(config) = &settings.surge else { return Ok(None) };
    let detector = ctwatch_surge::SurgeDetector::new(config.clone())
        .map_err(|e| MonitorError::Log { log: "[detectors]".into(), error: e.to_string() })?;
    // Every followed log, from `[[log]]` and from the log list: hours close once all are past.
    let logs = sources.iter().map(|log| ctwatch_ct::sha256(&log.key_der));
    let mut stage = detect::SurgeStage::new(detector, logs);
    let now_hour = follow::unix_now() / 3600;
    let issuers: Vec<ctwatch_ct::Hash> =
        settings.cas.iter().flat_map(|c| c.issuer_spki_sha256.iter().copied()).collect();
    for issuer in issuers {
        let counts = store.call(move |s| s.issuance_counts(Some(&issuer), now_hour - 35 * 24, now_hour + 48)).await?;
        for c in counts {
            stage.seed_hourly(c.issuer_spki_sha256, c.hour, &c.validation_type, c.count);
        }
    }
    Ok(Some(stage))
}

/// What a key import did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportSummary {
    pub keys: usize,
    pub new_keys: usize,
    pub problems: Vec<String>,
    pub findings: usize,
}

/// Import a file of compromised keys (hex SPKI SHA-256 lines, PEM keys or certificates), store
/// the new ones and re-check stored certificates against them.
pub async fn import_keys(
    store: &StoreHandle,
    watch: &Arc<Watchlist>,
    keys: &Arc<std::sync::RwLock<ctwatch_keys::keyset::CompromisedKeySet>>,
    file: &std::path::Path,
) -> Result<ImportSummary, MonitorError> {
    let bytes = std::fs::read(file).map_err(|e| MonitorError::Log {
        log: file.display().to_string(),
        error: format!("cannot read key file: {e}"),
    })?;
    let report = ctwatch_keys::import::parse_import(&bytes);
    let now = follow::unix_now();
    let imported = report.to_compromised(&file.display().to_string(), now);
    let mut summary = ImportSummary {
        keys: imported.len(),
        problems: report.problems.iter().map(|p| format!("line {}: {}", p.line, p.message)).collect(),
        ..Default::default()
    };
    for p in &summary.problems {
        tracing::warn!(file = %file.display(), "{p}");
    }
    let mut new_keys = Vec::new();
    if let Ok(mut set) = keys.write() {
        for k in imported {
            if set.insert(k.clone()) != ctwatch_keys::keyset::InsertOutcome::Known {
                new_keys.push(k);
            }
        }
    }
    summary.new_keys = new_keys.len();
    if new_keys.is_empty() {
        return Ok(summary);
    }
    let findings = crl_worker::recheck_stored(store, watch, keys, &new_keys, now).await?;
    summary.findings = findings.len();
    let records: Vec<_> = new_keys.iter().map(crl_worker::to_record).collect();
    store.call(move |s| s.add_compromised_keys(&records, &findings)).await?;
    Ok(summary)
}

/// The longest the alert sinks wait between passes (they are woken at once when findings are
/// stored): what a sink refused is retried this often.
const SINK_RETRY_INTERVAL: Duration = Duration::from_secs(15);

/// Attempts per round in `UntilCaughtUp` mode before a log is given up.
const CATCH_UP_ATTEMPTS: u32 = 5;

async fn follow_log(
    source: LogSource,
    shared: Shared,
    mode: RunMode,
    poll: Duration,
    cancel: CancellationToken,
    lease: Option<ctwatch_store::LogLease>,
) -> Result<LogSummary, MonitorError> {
    let name = source.name.clone();
    let log_err = |e: RoundError| match e {
        RoundError::Store(s) => MonitorError::Store(s),
        other => MonitorError::Log { log: name.clone(), error: other.to_string() },
    };
    let mut follower = LogFollower::open(&source, shared).await.map_err(log_err)?;
    if let Some(lease) = lease {
        follower.set_lease(lease);
    }
    let mut target: Option<u64> = None;
    let mut failures = 0u32;
    let outcome = loop {
        if cancel.is_cancelled() {
            break LogOutcome::Cancelled;
        }
        let limit = if mode == RunMode::UntilCaughtUp { target } else { None };
        match follower.round(limit, &cancel).await {
            Ok(head_size) => {
                failures = 0;
                let t = *target.get_or_insert(head_size);
                if mode == RunMode::UntilCaughtUp && follower.cursor() >= t {
                    break LogOutcome::CaughtUp;
                }
                if mode == RunMode::UntilCaughtUp {
                    // Not there yet (e.g. a partial tile was left for later): go on at once.
                    continue;
                }
            }
            Err(RoundError::Store(e)) => return Err(MonitorError::Store(e)),
            Err(RoundError::Cancelled) => break LogOutcome::Cancelled,
            Err(RoundError::Misbehaved(m)) => {
                if mode == RunMode::UntilCaughtUp && m.stops_log() {
                    break LogOutcome::Misbehaved(m.name().to_string());
                }
            }
            Err(e) => {
                failures += 1;
                tracing::warn!(log = %follower.name(), error = %e, failures, "round failed");
                if mode == RunMode::UntilCaughtUp && failures >= CATCH_UP_ATTEMPTS {
                    break LogOutcome::Failed(e.to_string());
                }
                let backoff = Duration::from_millis(200u64 << failures.min(8));
                tokio::select! {
                    _ = cancel.cancelled() => break LogOutcome::Cancelled,
                    _ = tokio::time::sleep(backoff.min(poll)) => {}
                }
                continue;
            }
        }
        tokio::select! {
            _ = cancel.cancelled() => break LogOutcome::Cancelled,
            _ = tokio::time::sleep(poll) => {}
        }
    };
    Ok(LogSummary {
        name: follower.name().to_string(),
        cursor: follower.cursor(),
        verified_size: follower.verified_size(),
        outcome,
    })
}

/// Build the list of logs to follow and the key set for SCT verification.
pub async fn resolve_logs(settings: &Settings, http: &HttpConfig) -> Result<(Vec<LogSource>, KnownLogs), MonitorError> {
    let mut known = KnownLogs::default();
    let mut sources: Vec<LogSource> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for s in &settings.logs {
        if let Ok(key) = LogKey::from_spki_der(&s.key_der) {
            seen.insert(key.log_id);
            known.insert(&s.name, key);
        }
        sources.push(s.clone());
    }
    if let Some(list) = &settings.log_list {
        let bytes = load_document(list, &settings.config_path, http).await?;
        let parsed = ctwatch_ct::loglist::parse_log_list(&bytes)
            .map_err(|e| MonitorError::LogList { source_name: list.clone(), detail: e.to_string() })?;
        let now = follow::unix_now();
        for log in parsed.logs {
            let Ok(key) = LogKey::from_spki_der(&log.key) else {
                tracing::warn!(log = %log.description, "log list key not supported; skipped");
                continue;
            };
            known.insert(&log.description, key.clone());
            let follow = settings.follow_all_list_states || log.followed_by_default(now);
            if follow && seen.insert(key.log_id) {
                sources.push(source_from_list(&log, settings));
            }
        }
    }
    Ok((sources, known))
}

fn source_from_list(log: &LogInfo, settings: &Settings) -> LogSource {
    LogSource {
        name: log.description.clone(),
        endpoint: log.endpoint.clone(),
        key_der: log.key.clone(),
        mmd: log.mmd,
        fetch: settings.default_fetch.clone(),
    }
}

async fn load_document(
    location: &str,
    config_path: &std::path::Path,
    http: &HttpConfig,
) -> Result<Vec<u8>, MonitorError> {
    let err = |detail: String| MonitorError::LogList { source_name: location.to_string(), detail };
    let lower = location.to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        return ctwatch_client::get_document(location, http).await.map_err(|e| err(e.to_string()));
    }
    let path = std::path::Path::new(location);
    let path = if path.is_absolute() {
        path.to_path_buf()
    } else {
        config_path.parent().map(|d| d.join(path)).unwrap_or_else(|| path.to_path_buf())
    };
    std::fs::read(&path).map_err(|e| err(format!("{}: {e}", path.display())))
}

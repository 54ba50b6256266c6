//! Sharded instances: several ctwatch processes (`[shard] instance = "name"`) share one store,
//! normally PostgreSQL, and split the logs between them.
//!
//! Every instance runs a lease loop ([`run`]) that ticks every third of `lease_secs`:
//!
//! - it renews its **presence** lease (a lease row whose ID is [`presence_id`] of the instance
//!   name), so every instance can count the live instances;
//! - it renews the leases of the logs it follows and stops a follower whose lease could not
//!   be renewed; every commit of a follower goes through
//!   [`ctwatch_store::Store::commit_leased`], so a follower that was paused while its log moved
//!   to another instance fails with `LeaseLost`, writes nothing and is stopped;
//! - it takes free or lapsed log leases while it follows fewer than its fair share
//!   (`ceil(logs / live instances)`), and gives back one log per tick while it follows more
//!   (after an instance joined), so the logs spread out and move when an instance dies;
//! - it takes or renews the **singleton** lease ([`SINGLETON_LEASE`]): the instance holding it
//!   runs the work that must not run twice — CAA checks, CRL polling, revocation deadlines,
//!   retention, alert sinks and surge detection.
//!
//! Exactly-once: cursors move only by leased commits (and every commit checks the stored
//! cursor); certificates, issuance counts and findings are upserts keyed by identity and
//! finding key, so two instances storing the same certificate from different logs store and
//! count it once.
//!
//! Surges: a follower sees only its own logs' certificates, so in sharded mode followers do not
//! run the surge detector. The singleton feeds its detector from the store instead
//! ([`CertificateTail`]): every stored certificate, whichever instance committed it, in id
//! order. Baselines therefore aggregate across instances.

use crate::config::{LogSource, ShardSettings};
use crate::detect::SurgeStage;
use crate::follow::{Shared, unix_now};
use crate::watch::Watchlist;
use crate::{LogSummary, Monitor, MonitorError, MonitorObserver, RunMode, StoreHandle};
use ctwatch_ct::Hash;
use ctwatch_store::{CertificateRecord, EntryRecord, LogLease, StoreError, StoredCertificate};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::task::{JoinHandle, JoinSet};
use tokio_util::sync::CancellationToken;

/// The lease ID of the singleton work. The lease table takes any 32-byte ID; real log IDs are
/// SHA-256 hashes of log keys, which this readable constant is not.
pub const SINGLETON_LEASE: Hash = *b"ctwatch:singleton-workers:lease\0";

/// The lease ID an instance renews to say it is alive.
pub fn presence_id(instance: &str) -> Hash {
    ctwatch_ct::sha256(format!("ctwatch:instance-presence:{instance}").as_bytes())
}

/// How many instances hold an unexpired presence lease at `now` (at least one: this one).
pub fn live_instances(leases: &[LogLease], now: i64) -> usize {
    leases.iter().filter(|l| l.expires_at > now && l.log_id == presence_id(&l.instance)).count().max(1)
}

/// The number of logs one of `instances` instances should follow.
pub fn fair_share(logs: usize, instances: usize) -> usize {
    logs.div_ceil(instances.max(1))
}

/// A follower this instance runs under a lease.
struct Following {
    cancel: CancellationToken,
    task: JoinHandle<Result<LogSummary, MonitorError>>,
}

/// The singleton work while this instance holds its lease.
struct Singleton {
    cancel: CancellationToken,
    workers: JoinSet<Result<(), MonitorError>>,
}

/// Run `monitor` as the sharded instance `shard` until `cancel` (daemon mode). Returns the
/// summaries of the followers it ran last; leases are released on the way out so other
/// instances take the logs over at once.
pub(crate) async fn run(
    monitor: Monitor,
    shard: ShardSettings,
    cancel: CancellationToken,
) -> Result<Vec<LogSummary>, MonitorError> {
    let mut logs: Vec<(Hash, LogSource)> = Vec::new();
    for source in &monitor.sources {
        match ctwatch_ct::sth::LogKey::from_spki_der(&source.key_der) {
            Ok(key) => logs.push((key.log_id, source.clone())),
            Err(e) => tracing::warn!(log = %source.name, error = %e, "log key not usable; not followed"),
        }
    }
    // Followers leave surges to the singleton's store-fed detector.
    let mut follower_shared: Shared = monitor.shared.clone();
    follower_shared.detectors.surge = None;
    let store = monitor.shared.store.clone();
    let instance = shard.instance.clone();
    let ttl = shard.lease;
    let tick = ttl / 3;
    let presence = presence_id(&instance);
    tracing::info!(instance = %instance, logs = logs.len(), lease = ?ttl, "sharded instance starting");

    let mut following: HashMap<Hash, Following> = HashMap::new();
    let mut singleton: Option<Singleton> = None;
    let mut summaries: BTreeMap<String, LogSummary> = BTreeMap::new();
    let mut first_tick = true;
    let result: Result<(), MonitorError> = async {
        loop {
            // Followers that ended: a lost lease is normal (the log moved); anything else is
            // fatal, as in a single instance.
            let ended: Vec<Hash> = following.iter().filter(|(_, f)| f.task.is_finished()).map(|(id, _)| *id).collect();
            for id in ended {
                let Some(f) = following.remove(&id) else { continue };
                match f.task.await {
                    Ok(Ok(summary)) => {
                        summaries.insert(summary.name.clone(), summary);
                    }
                    Ok(Err(MonitorError::Store(e @ StoreError::LeaseLost { .. }))) => {
                        tracing::warn!(error = %e, "log lease lost; follower stopped");
                    }
                    Ok(Err(e)) => return Err(e),
                    Err(e) => {
                        return Err(MonitorError::Log { log: "?".into(), error: format!("follower task failed: {e}") });
                    }
                }
            }
            if let Some(s) = singleton.as_mut()
                && let Some(joined) = s.workers.try_join_next()
            {
                match joined {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => return Err(e),
                    Err(e) => {
                        return Err(MonitorError::Log { log: "?".into(), error: format!("worker task failed: {e}") });
                    }
                }
            }

            let now = unix_now();
            let name = instance.clone();
            store.call(move |s| s.acquire_log_lease(&presence, &name, ttl, now)).await?;
            let name = instance.clone();
            let holds_singleton =
                store.call(move |s| s.acquire_log_lease(&SINGLETON_LEASE, &name, ttl, now)).await?.is_some();
            match (holds_singleton, singleton.is_some()) {
                (true, false) => {
                    tracing::info!(instance = %instance, "took the singleton lease: running the workers");
                    let cancel_s = cancel.child_token();
                    let mut workers = JoinSet::new();
                    let tail = CertificateTail::new(&monitor)?;
                    monitor.spawn_workers(&mut workers, Some(tail), &cancel_s)?;
                    singleton = Some(Singleton { cancel: cancel_s, workers });
                }
                (false, true) => {
                    tracing::warn!(instance = %instance, "lost the singleton lease: stopping the workers");
                    if let Some(s) = singleton.take() {
                        stop_singleton(s).await;
                    }
                }
                _ => {}
            }

            let leases = store.call(|s| s.log_leases()).await?;
            let fair = fair_share(logs.len(), live_instances(&leases, now));

            // Renew what we follow; stop followers whose lease could not be renewed.
            let held: Vec<Hash> = following.keys().copied().collect();
            for id in held {
                let name = instance.clone();
                let renewed = store.call(move |s| s.acquire_log_lease(&id, &name, ttl, now)).await;
                match renewed {
                    Ok(Some(_)) => {}
                    Ok(None) | Err(_) => {
                        tracing::warn!(log = %hex::encode(id), result = ?renewed.err(), "lease not renewed; stopping the follower");
                        if let Some(f) = following.remove(&id) {
                            stop_follower(f, &mut summaries).await?;
                        }
                    }
                }
            }
            // More than a fair share (an instance joined): give one log back.
            if following.len() > fair
                && let Some(id) = following.keys().max().copied()
                && let Some(f) = following.remove(&id)
            {
                tracing::info!(log = %hex::encode(id), fair, "handing a log over to another instance");
                stop_follower(f, &mut summaries).await?;
                let name = instance.clone();
                store.call(move |s| s.release_log_lease(&id, &name)).await?;
            }
            // Take free logs up to the fair share. The first tick only announces this instance,
            // so instances starting together see each other before taking logs.
            if !first_tick {
                for (id, source) in &logs {
                    if following.len() >= fair {
                        break;
                    }
                    if following.contains_key(id) {
                        continue;
                    }
                    let (log_id, name) = (*id, instance.clone());
                    let Some(lease) = store.call(move |s| s.acquire_log_lease(&log_id, &name, ttl, now)).await? else {
                        continue;
                    };
                    tracing::info!(log = %source.name, epoch = lease.epoch, "took the log's lease: following");
                    let follower_cancel = cancel.child_token();
                    let task = tokio::spawn(crate::follow_log(
                        source.clone(),
                        follower_shared.clone(),
                        RunMode::Daemon,
                        monitor.settings.poll_interval,
                        follower_cancel.clone(),
                        Some(lease.clone()),
                    ));
                    following.insert(*id, Following { cancel: follower_cancel, task });
                }
            }
            first_tick = false;
            tokio::select! {
                _ = cancel.cancelled() => return Ok(()),
                _ = tokio::time::sleep(tick) => {}
            }
        }
    }
    .await;

    // Drain: stop followers (they commit what is verified), stop the workers, hand everything
    // back at once.
    let mut released: Vec<Hash> = vec![presence];
    for (id, f) in following.drain() {
        released.push(id);
        if let Err(e) = stop_follower(f, &mut summaries).await {
            tracing::warn!(error = %e, "follower failed while stopping");
        }
    }
    if let Some(s) = singleton.take() {
        released.push(SINGLETON_LEASE);
        stop_singleton(s).await;
    }
    for id in released {
        let name = instance.clone();
        if let Err(e) = store.call(move |s| s.release_log_lease(&id, &name)).await {
            tracing::warn!(error = %e, "could not release a lease; it lapses on its own");
        }
    }
    result?;
    Ok(summaries.into_values().collect())
}

/// Cancel a follower and wait for it to commit what it verified.
async fn stop_follower(f: Following, summaries: &mut BTreeMap<String, LogSummary>) -> Result<(), MonitorError> {
    f.cancel.cancel();
    match f.task.await {
        Ok(Ok(summary)) => {
            summaries.insert(summary.name.clone(), summary);
            Ok(())
        }
        Ok(Err(MonitorError::Store(StoreError::LeaseLost { .. }))) => Ok(()),
        Ok(Err(e)) => Err(e),
        Err(e) => Err(MonitorError::Log { log: "?".into(), error: format!("follower task failed: {e}") }),
    }
}

/// Cancel the singleton workers and wait for them.
async fn stop_singleton(mut s: Singleton) {
    s.cancel.cancel();
    while let Some(joined) = s.workers.join_next().await {
        if let Ok(Err(e)) = joined {
            tracing::warn!(error = %e, "singleton worker failed while stopping");
        }
    }
}

/// How long an id below the newest certificate read may stay missing before the tail stops
/// waiting for it. PostgreSQL hands out ids when rows are inserted, not when they commit, so a
/// certificate with a lower id can become visible after a higher one; an `INSERT … ON CONFLICT`
/// that merges into a stored certificate uses an id up and leaves a gap forever.
const GAP_WAIT: Duration = Duration::from_secs(60);

/// Missing ids remembered at most (the oldest are given up first).
const MAX_GAPS: usize = 100_000;

/// Certificates read per page, and pages per pass (a takeover re-reads the store in steps, so
/// the other workers are not held up).
const TAIL_PAGE: usize = 1000;
const TAIL_PAGES_PER_PASS: usize = 50;

/// The singleton's view of every stored certificate, whichever instance committed it: read from
/// the store in id order, it feeds the surge detector (so baselines and windows aggregate all
/// instances) and the CRL URLs to poll.
///
/// A new singleton starts from the first stored certificate and rebuilds the surge state from
/// them (that replaces seeding from hourly counts, which would count them twice). Surge hours
/// close as the logs' positions in the store pass them, whichever instance moved them, so the
/// surges found do not depend on which instance read what, or when.
pub struct CertificateTail {
    store: StoreHandle,
    watch: Arc<Watchlist>,
    observer: Arc<dyn MonitorObserver>,
    crl_urls: Arc<Mutex<BTreeSet<String>>>,
    /// The surge detector, when surge detection is on.
    stage: Option<SurgeStage>,
    /// The highest certificate id read.
    newest: i64,
    /// Ids below `newest` not read yet, with when they were first missed.
    gaps: BTreeMap<i64, Instant>,
}

impl std::fmt::Debug for CertificateTail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertificateTail").field("newest", &self.newest).field("gaps", &self.gaps.len()).finish()
    }
}

impl CertificateTail {
    fn new(monitor: &Monitor) -> Result<Self, MonitorError> {
        let stage = match &monitor.settings.surge {
            None => None,
            Some(config) => Some(SurgeStage::new(
                ctwatch_surge::SurgeDetector::new(config.clone())
                    .map_err(|e| MonitorError::Log { log: "[detectors]".into(), error: e.to_string() })?,
                monitor.sources().iter().map(|log| ctwatch_ct::sha256(&log.key_der)),
            )),
        };
        Ok(CertificateTail {
            store: monitor.shared.store.clone(),
            watch: monitor.shared.watch.clone(),
            observer: monitor.shared.observer.clone(),
            crl_urls: monitor.shared.crl_urls.clone(),
            stage,
            newest: 0,
            gaps: BTreeMap::new(),
        })
    }

    /// Read certificates stored since the last pass (and ones that were still missing), observe
    /// them, and record surge findings once caught up.
    pub async fn pass(&mut self) -> Result<(), StoreError> {
        let now = Instant::now();
        self.gaps.retain(|_, missed| now.duration_since(*missed) < GAP_WAIT);
        let mut after = self.gaps.keys().next().map_or(self.newest, |first| first - 1);
        // Positions first: every certificate committed with them is visible to the reads below.
        let positions = match self.stage {
            Some(_) => self.store.call(|s| s.log_status()).await?,
            None => Vec::new(),
        };
        let mut complete = false;
        for _ in 0..TAIL_PAGES_PER_PASS {
            let page = self.store.call(move |s| s.certificates(after, TAIL_PAGE)).await?;
            for cert in &page {
                self.take(cert, now);
            }
            match page.last() {
                Some(last) if page.len() == TAIL_PAGE => after = last.id,
                _ => {
                    complete = true;
                    break;
                }
            }
        }
        let Some(stage) = self.stage.as_mut() else { return Ok(()) };
        if complete {
            for log in &positions {
                if let Some(id) = hex::decode(&log.log_id).ok().and_then(|b| <Hash>::try_from(b.as_slice()).ok()) {
                    stage.set_position(id, log.position_ms);
                }
            }
        }
        let findings: Vec<_> =
            crate::batch::attributed(stage.evaluate(&HashSet::new()), &self.watch, unix_now()).collect();
        stage.publish_ratios(&self.watch, &*self.observer);
        if !findings.is_empty() {
            tracing::info!(surges = findings.len(), "issuance surges (all instances' certificates)");
            self.store.call(move |s| s.record_findings(&findings)).await?;
        }
        Ok(())
    }

    /// Observe one stored certificate and keep track of ids skipped over. Returns whether it
    /// was not read before.
    fn take(&mut self, cert: &StoredCertificate, now: Instant) -> bool {
        if cert.id > self.newest {
            // Ids between the newest read and this one are missing for now.
            let missing = (cert.id - self.newest - 1).min(MAX_GAPS as i64);
            for id in (cert.id - missing)..cert.id {
                self.gaps.insert(id, now);
            }
            while self.gaps.len() > MAX_GAPS {
                self.gaps.pop_first();
            }
            self.newest = cert.id;
        } else if self.gaps.remove(&cert.id).is_none() {
            return false; // Read before.
        }
        if let Ok(mut urls) = self.crl_urls.lock() {
            for url in &cert.facts.crl_distribution_points {
                if urls.len() < 100_000 {
                    urls.insert(url.clone());
                }
            }
        }
        if let Some(stage) = self.stage.as_mut() {
            stage.observe(&EntryRecord {
                index: 0,
                leaf_hash: [0; 32],
                timestamp_ms: cert.first_seen_ms,
                is_precert: !cert.has_final,
                certificate: CertificateRecord {
                    identity: cert.identity,
                    issuer_spki_sha256: cert.issuer_spki_sha256,
                    is_precert: !cert.has_final,
                    der: Vec::new(),
                    facts: cert.facts.clone(),
                },
            });
            // It is stored: surge findings may list it.
            stage.mark_committed([cert.identity]);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lease(log_id: Hash, instance: &str, expires_at: i64) -> LogLease {
        LogLease { log_id, instance: instance.to_string(), epoch: 1, expires_at }
    }

    #[test]
    fn live_instances_count_unexpired_presence_leases_only() {
        let leases = vec![
            lease(presence_id("a"), "a", 110),
            lease(presence_id("b"), "b", 90),
            lease(presence_id("c"), "c", 120),
            // A log lease and the singleton are not instances.
            lease([7; 32], "a", 120),
            lease(SINGLETON_LEASE, "c", 120),
            // A presence ID renewed under another name does not count.
            lease(presence_id("d"), "e", 120),
        ];
        assert_eq!(live_instances(&leases, 100), 2);
        assert_eq!(live_instances(&[], 100), 1);
    }

    #[test]
    fn fair_shares_cover_every_log() {
        assert_eq!(fair_share(6, 3), 2);
        assert_eq!(fair_share(6, 4), 2);
        assert_eq!(fair_share(7, 3), 3);
        assert_eq!(fair_share(6, 1), 6);
        assert_eq!(fair_share(0, 2), 0);
        assert_eq!(fair_share(6, 0), 6);
    }

    #[test]
    fn the_singleton_id_is_no_presence_id() {
        assert_ne!(SINGLETON_LEASE, presence_id("ctwatch:singleton-workers:lease"));
        assert_eq!(&SINGLETON_LEASE[..7], b"ctwatch");
    }
}

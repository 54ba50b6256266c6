//! One task per log: fetch and verify tree heads, download entries in parallel, restore order,
//! verify the downloaded prefix against the signed root, and commit entries with the cursor.
//!
//! The invariant this module keeps: **nothing is committed before it is verified.** A batch of
//! entries `[c, m)` is committed only after the Merkle root of `[0, m)` (from the persisted
//! compact range plus the batch's leaf hashes) is proven to be a prefix of a signed tree head:
//! equal to its root when `m` is its size, otherwise through an RFC 6962 consistency proof or,
//! for tiled logs, through the log's hash tiles. A failure leaves the cursor where it was and
//! records a `log_misbehaviour` finding.

use crate::batch::BatchBuilder;
use crate::config::{FetchSettings, LogSource};
use crate::misbehaviour::{HeadRelation, Misbehaviour, relate};
use crate::process::{EntryContext, IssuerCache, ProcessedEntry, process_rfc6962, process_tile_leaf};
use crate::sequencer::Sequencer;
use crate::watch::{KnownLogs, Watchlist};
use crate::{MonitorObserver, StoreHandle};
use ctwatch_client::{BatchSizer, FetchError, HttpConfig, RequestBudget, Rfc6962Client, StaticClient};
use ctwatch_ct::Hash;
use ctwatch_ct::loglist::LogEndpoint;
use ctwatch_ct::merkle::CompactRange;
use ctwatch_ct::sth::{LogKey, SignedTreeHead, TreeHead};
use ctwatch_store::{LogCheckpoint, LogIdentity, LogObservation, NewFinding, StoreError, VerifiedHead};
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

mod backfill;
pub use backfill::{BackfillError, BackfillOutcome, backfill};

/// Why a round stopped early.
#[derive(Debug, thiserror::Error)]
pub enum RoundError {
    #[error("log misbehaved: {}", .0.name())]
    Misbehaved(Misbehaviour),
    #[error("fetch failed: {0}")]
    Fetch(#[from] FetchError),
    #[error("store failed: {0}")]
    Store(#[from] StoreError),
    #[error("cancelled")]
    Cancelled,
    #[error("internal error: {0}")]
    Internal(String),
}

/// How a log is read.
#[derive(Debug, Clone)]
enum Access {
    Rfc6962(Rfc6962Client),
    Tiled { client: StaticClient, origin: String },
}

/// Everything shared by the followers of one monitor.
#[derive(Debug, Clone)]
pub struct Shared {
    pub store: StoreHandle,
    pub watch: Arc<Watchlist>,
    pub known_logs: Arc<KnownLogs>,
    pub observer: Arc<dyn MonitorObserver>,
    pub commit_entries: u64,
    pub http: HttpConfig,
    pub partial_tile_delay: Duration,
    pub detectors: crate::detect::DetectorSet,
    /// Issuer certificates by SPKI SHA-256 (from the configuration and from chains), to verify
    /// CRLs with.
    pub issuers: Arc<Mutex<HashMap<Hash, Vec<u8>>>>,
    /// CRL distribution points of stored certificates (polled by the CRL worker).
    pub crl_urls: Arc<Mutex<std::collections::BTreeSet<String>>>,
    /// Notified after a write that stored findings, so that the alert sinks deliver them at
    /// once instead of at their next periodic pass.
    pub findings_stored: Arc<tokio::sync::Notify>,
}

/// The follower of one log.
#[derive(Debug)]
pub struct LogFollower {
    name: String,
    log_id: Hash,
    key: LogKey,
    mmd: u64,
    fetch: FetchSettings,
    access: Access,
    shared: Shared,
    /// What the store holds: entries `[0, committed.cursor)` verified.
    committed: LogCheckpoint,
    /// Compact range of the committed entries.
    committed_range: CompactRange,
    /// Tiled logs: a partial last tile is fetched only once it stayed partial this long.
    partial_since: Option<(u64, Instant)>,
    /// Backfilling: commits write below the stored cursor and leave it where it is, with
    /// issuance counted for new certificates when the flag is set.
    backfill: Option<bool>,
    /// RFC 6962 logs: the get-entries cap learned from short responses, kept across rounds.
    batch_sizer: BatchSizer,
    /// Sharded instances: the log's lease, which every commit must still hold
    /// ([`ctwatch_store::Store::commit_leased`]).
    lease: Option<ctwatch_store::LogLease>,
}

impl LogFollower {
    /// Open the log's state in the store and build its client.
    pub async fn open(source: &LogSource, shared: Shared) -> Result<LogFollower, RoundError> {
        let key = LogKey::from_spki_der(&source.key_der)
            .map_err(|e| RoundError::Internal(format!("log {}: key: {e}", source.name)))?;
        let budget =
            Arc::new(RequestBudget::new(source.fetch.requests_per_second, source.fetch.concurrency.max(1) as u32));
        let fetch_observer = shared.observer.fetch_observer(&source.name);
        let (access, url) = match &source.endpoint {
            LogEndpoint::Rfc6962 { url } => {
                let mut c = Rfc6962Client::new(url, &shared.http)?.with_budget(budget);
                if let Some(o) = fetch_observer {
                    c = c.with_observer(o);
                }
                (Access::Rfc6962(c), url.clone())
            }
            LogEndpoint::Static { submission_url, monitoring_url } => {
                let mut c = StaticClient::new(monitoring_url, &shared.http)?.with_budget(budget);
                if let Some(o) = fetch_observer {
                    c = c.with_observer(o);
                }
                let origin = ctwatch_ct::checkpoint::origin_from_url(submission_url);
                (Access::Tiled { client: c, origin }, monitoring_url.clone())
            }
        };
        let identity = LogIdentity { log_id: key.log_id, name: source.name.clone(), url };
        let committed = shared.store.call(move |s| s.open_log(&identity)).await?;
        let committed_range = CompactRange::from_parts(committed.cursor, committed.peaks.clone()).map_err(|e| {
            RoundError::Store(StoreError::Corrupt(format!("log {}: stored compact range: {e}", source.name)))
        })?;
        if let Some(surge) = &shared.detectors.surge
            && let Ok(mut surge) = surge.lock()
        {
            surge.set_position(key.log_id, committed.position_ms);
        }
        Ok(LogFollower {
            name: source.name.clone(),
            log_id: key.log_id,
            key,
            mmd: source.mmd,
            fetch: source.fetch.clone(),
            access,
            shared,
            committed,
            committed_range,
            partial_since: None,
            backfill: None,
            batch_sizer: BatchSizer::new(source.fetch.batch_size),
            lease: None,
        })
    }

    /// Commit only while `lease` is still this instance's lease of the log (sharded
    /// instances): a commit after the lease passed to another instance fails with
    /// [`StoreError::LeaseLost`] and writes nothing.
    pub fn set_lease(&mut self, lease: ctwatch_store::LogLease) {
        self.lease = Some(lease);
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Entries verified and stored.
    pub fn cursor(&self) -> u64 {
        self.committed.cursor
    }

    /// The verified tree size.
    pub fn verified_size(&self) -> Option<u64> {
        self.committed.verified_head.as_ref().map(|h| h.tree_size)
    }

    /// One poll: fetch and check the head, then download and commit everything up to it (up to
    /// `limit` entries at most when given). Returns the verified head's size.
    ///
    /// A response that breaks the protocol (not JSON, cut short, larger than the bound, an
    /// empty or over-long get-entries batch) is recorded as a `bad_response` misbehaviour;
    /// network errors and timeouts stay plain fetch errors (they may be ours, not the log's).
    /// So is a 404 for a tile: the follower only asks for tiles (at the widths) the verified
    /// checkpoint covers, which a log must serve — a full tile that never appears while only
    /// partial ones do is a log stuck in the past.
    pub async fn round(&mut self, limit: Option<u64>, cancel: &CancellationToken) -> Result<u64, RoundError> {
        match self.round_inner(limit, cancel).await {
            Err(RoundError::Fetch(e)) if e.is_log_misbehaviour() => {
                Err(self.misbehaved(Misbehaviour::BadResponse { detail: e.to_string() }).await)
            }
            Err(RoundError::Fetch(FetchError::Status { url, status: 404 }))
                if matches!(self.access, Access::Tiled { .. }) && url.contains("/tile/") =>
            {
                let detail = format!("{url}: HTTP 404 for a tile the checkpoint covers");
                Err(self.misbehaved(Misbehaviour::BadResponse { detail }).await)
            }
            other => other,
        }
    }

    async fn round_inner(&mut self, limit: Option<u64>, cancel: &CancellationToken) -> Result<u64, RoundError> {
        let sth = self.fetch_head().await?;
        let now = unix_now();
        self.check_head(&sth, now).await?;
        let target = match limit {
            Some(l) => sth.head.tree_size.min(l),
            None => sth.head.tree_size,
        };
        if self.committed.cursor < target {
            match self.access.clone() {
                Access::Rfc6962(client) => self.download_rfc6962(&client, &sth, target, cancel).await?,
                Access::Tiled { client, .. } => self.download_tiled(&client, &sth, target, cancel).await?,
            }
        }
        Ok(sth.head.tree_size)
    }

    async fn fetch_head(&mut self) -> Result<SignedTreeHead, RoundError> {
        match &self.access {
            Access::Rfc6962(c) => {
                let sth = c.get_sth().await?;
                if let Err(e) = ctwatch_ct::sth::verify_sth(&self.key, &sth) {
                    return Err(self
                        .misbehaved(Misbehaviour::BadSignature { head: sth.head, detail: e.to_string() })
                        .await);
                }
                Ok(sth)
            }
            Access::Tiled { client, origin } => {
                let text = client.get_checkpoint().await?;
                let parsed = ctwatch_ct::checkpoint::parse_checkpoint(&text);
                let result = parsed.and_then(|cp| ctwatch_ct::checkpoint::verify_checkpoint(&cp, origin, &self.key));
                match result {
                    Ok(sth) => Ok(sth),
                    Err(e) => {
                        let head = TreeHead { tree_size: 0, timestamp: 0, root_hash: ctwatch_ct::sha256(&text) };
                        Err(self
                            .misbehaved(Misbehaviour::BadSignature { head, detail: format!("checkpoint: {e}") })
                            .await)
                    }
                }
            }
        }
    }

    /// Signature is checked; now relate the head to the verified one.
    async fn check_head(&mut self, sth: &SignedTreeHead, now: i64) -> Result<(), RoundError> {
        self.shared.observer.on_head(&self.name, &sth.head);
        let verified = self.committed.verified_head.as_ref().map(to_tree_head);
        let mut findings = Vec::new();
        let age_secs = now - (sth.head.timestamp / 1000) as i64;
        if age_secs > self.mmd as i64 {
            let m = Misbehaviour::StaleHead { head: sth.head, age_secs, mmd: self.mmd };
            self.shared.observer.on_misbehaviour(&self.name, &m);
            findings.push(m.to_finding(&self.name, &self.log_id, now));
        }
        let new_verified = match relate(verified.as_ref(), &sth.head) {
            HeadRelation::First => Some(sth.clone()),
            HeadRelation::Unchanged => None,
            HeadRelation::Rollback => {
                let v = verified.unwrap_or(sth.head);
                return Err(self.misbehaved(Misbehaviour::Rollback { verified: v, seen: sth.head }).await);
            }
            HeadRelation::SameSizeDifferentRoot => {
                let v = verified.unwrap_or(sth.head);
                let m = Misbehaviour::Inconsistent {
                    verified: v,
                    seen: sth.head,
                    detail: "same tree size, different root".into(),
                };
                return Err(self.misbehaved(m).await);
            }
            HeadRelation::Grown { from } => {
                let v = verified.unwrap_or(sth.head);
                if let Err(detail) = self.prove_consistency(from, &v, sth).await? {
                    let m = Misbehaviour::Inconsistent { verified: v, seen: sth.head, detail };
                    return Err(self.misbehaved(m).await);
                }
                Some(sth.clone())
            }
        };
        let verified_head = new_verified.as_ref().map(to_verified_head);
        if let Some(h) = &verified_head {
            self.committed.verified_head = Some(h.clone());
        }
        // Caught up with a head consistent with everything committed: the log is read up to
        // the head's time.
        let position_ms = (self.committed.cursor == sth.head.tree_size && self.backfill.is_none())
            .then_some(sth.head.timestamp)
            .filter(|&t| t > self.committed.position_ms);
        if let Some(position) = position_ms {
            self.committed.position_ms = position;
            findings.extend(self.surge_findings(Some(position), &HashSet::new(), now));
        }
        let stored_findings = !findings.is_empty();
        let obs = LogObservation {
            log_id: self.log_id,
            seen_tree_size: Some(sth.head.tree_size),
            seen_timestamp_ms: Some(sth.head.timestamp),
            verified_head,
            findings,
            position_ms,
            at: now,
        };
        self.shared.store.call(move |s| s.record_observation(&obs)).await?;
        if stored_findings {
            self.shared.findings_stored.notify_one();
        }
        Ok(())
    }

    /// Prove that the verified head (size `from`) is a prefix of `sth`. Returns `Ok(Err(why))`
    /// when the log's answer disproves it.
    async fn prove_consistency(
        &mut self,
        from: u64,
        verified: &TreeHead,
        sth: &SignedTreeHead,
    ) -> Result<Result<(), String>, RoundError> {
        match self.access.clone() {
            Access::Rfc6962(client) => {
                let proof = client.get_consistency(from, sth.head.tree_size).await?;
                Ok(ctwatch_ct::merkle::verify_consistency(
                    from,
                    sth.head.tree_size,
                    &verified.root_hash,
                    &sth.head.root_hash,
                    &proof,
                )
                .map_err(|e| e.to_string()))
            }
            Access::Tiled { client, .. } => {
                // Rebuild the new root from the verified head's right edge plus the log's
                // tiles: only possible from a position we hold the compact range for, i.e. the
                // cursor when it equals the verified size. Otherwise the check happens when the
                // entries are downloaded (their root must equal the new head's root).
                if self.committed.cursor != from {
                    return Ok(Ok(()));
                }
                let mut tiles = TileCache::default();
                let root = tiled_root(&client, &mut tiles, &self.committed_range, sth.head.tree_size).await?;
                Ok(if root == sth.head.root_hash {
                    Ok(())
                } else {
                    Err("verified tree is not a prefix of the new checkpoint's tree (tile hashes)".into())
                })
            }
        }
    }

    /// Record a misbehaviour finding and return the error that stops the round.
    async fn misbehaved(&mut self, m: Misbehaviour) -> RoundError {
        tracing::warn!(log = %self.name, kind = m.name(), ?m, "log misbehaviour");
        self.shared.observer.on_misbehaviour(&self.name, &m);
        let now = unix_now();
        let obs = LogObservation {
            log_id: self.log_id,
            seen_tree_size: None,
            seen_timestamp_ms: None,
            verified_head: None,
            findings: vec![m.to_finding(&self.name, &self.log_id, now)],
            position_ms: None,
            at: now,
        };
        if let Err(e) = self.shared.store.call(move |s| s.record_observation(&obs)).await {
            return RoundError::Store(e);
        }
        self.shared.findings_stored.notify_one();
        RoundError::Misbehaved(m)
    }

    fn entry_context(&self) -> (Hash, String, Arc<Watchlist>, Arc<KnownLogs>, crate::detect::DetectorSet) {
        (
            self.log_id,
            self.name.clone(),
            self.shared.watch.clone(),
            self.shared.known_logs.clone(),
            self.shared.detectors.clone(),
        )
    }

    /// The ordered stage: one entry, in log order.
    fn take_in_order(&self, mut item: ProcessedEntry, range: &mut CompactRange, batch: &mut BatchBuilder) {
        range.append(item.leaf_hash);
        if let Some(der) = item.issuer_der.take()
            && let Ok(spki) = ctwatch_cert::facts::spki_sha256_of_cert(&der)
            && let Ok(mut issuers) = self.shared.issuers.lock()
        {
            issuers.entry(spki).or_insert(der);
        }
        if let crate::process::Classified::Record(record, _) = &item.class
            && !record.certificate.facts.crl_distribution_points.is_empty()
            && let Ok(mut urls) = self.shared.crl_urls.lock()
        {
            for url in &record.certificate.facts.crl_distribution_points {
                if urls.len() < 100_000 {
                    urls.insert(url.clone());
                }
            }
        }
        if let crate::process::Classified::Record(record, _) = &item.class {
            let cert = &record.certificate;
            // New distinct certificates: the surge stage remembers identities; without it, a
            // final certificate with embedded SCTs is taken as already counted (its precert).
            let new = match &self.shared.detectors.surge {
                Some(surge) => surge.lock().map(|mut s| s.observe(record)).unwrap_or(false),
                None => cert.is_precert || cert.facts.embedded_scts.is_empty(),
            };
            if new {
                let ca = cert.issuer_spki_sha256.and_then(|i| self.shared.watch.ca_for(&i)).map(|c| c.name.as_str());
                self.shared.observer.on_certificates(ca, cert.facts.validation_type.as_str(), 1);
            }
        }
        batch.push(item, &self.shared.watch, unix_now());
    }

    // ---------------------------------------------------------------- RFC 6962

    async fn download_rfc6962(
        &mut self,
        client: &Rfc6962Client,
        sth: &SignedTreeHead,
        target: u64,
        cancel: &CancellationToken,
    ) -> Result<(), RoundError> {
        let concurrency = self.fetch.concurrency.max(1);
        // How far ahead of the sequencer downloads may run: bounds memory.
        let window = self.fetch.batch_size.max(1) * concurrency as u64 * 4;
        let start = self.committed.cursor;
        let mut seq: Sequencer<ProcessedEntry> = Sequencer::new(start);
        let mut next = start;
        let mut gaps: VecDeque<(u64, u64)> = VecDeque::new();
        let mut tasks: JoinSet<Result<FetchedRange, FetchError>> = JoinSet::new();
        let mut range = self.committed_range.clone();
        let mut batch = BatchBuilder::default();
        let mut failure: Option<RoundError> = None;
        loop {
            while failure.is_none() && !cancel.is_cancelled() && tasks.len() < concurrency {
                let (s, e) = if let Some(g) = gaps.pop_front() {
                    g
                } else if next < target && next < seq.next() + window {
                    let r = self.batch_sizer.plan(next, target);
                    next = r.1;
                    r
                } else {
                    break;
                };
                let client = client.clone();
                let (log_id, log_name, watch, known, detectors) = self.entry_context();
                tasks.spawn(async move {
                    let raw = client.get_entries(s, e - 1).await?;
                    let ctx = EntryContext {
                        log_id,
                        log_name: &log_name,
                        watch: &watch,
                        known_logs: &known,
                        detectors: &detectors,
                    };
                    let mut cache = IssuerCache::default();
                    let items = raw
                        .iter()
                        .enumerate()
                        .map(|(i, r)| process_rfc6962(&ctx, &mut cache, s + i as u64, &r.leaf_input, &r.extra_data))
                        .collect();
                    Ok((s, e, items))
                });
            }
            let Some(joined) = tasks.join_next().await else { break };
            match joined {
                Ok(Ok((s, e, items))) => {
                    let got = items.len() as u64;
                    if let Some(cap) = self.batch_sizer.observe(s, e - s, got) {
                        tracing::info!(log = %self.name, cap, "get-entries batch size adapted to the log's cap");
                    }
                    if s + got < e {
                        // Logs may return fewer entries than asked: fetch the rest next, in
                        // requests of the log's cap.
                        for gap in self.batch_sizer.split(s + got, e).into_iter().rev() {
                            gaps.push_front(gap);
                        }
                    }
                    if let Err(err) = seq.insert(s, items) {
                        failure.get_or_insert(RoundError::Internal(err.to_string()));
                        continue;
                    }
                    for item in seq.pop_ready() {
                        self.take_in_order(item, &mut range, &mut batch);
                        if batch.covered() >= self.shared.commit_entries && failure.is_none() {
                            let full = std::mem::take(&mut batch);
                            if let Err(e) = self.commit(full, &range, sth).await {
                                failure = Some(e);
                            }
                        }
                    }
                    self.shared.observer.on_progress(&self.name, self.committed.cursor + batch.covered(), target);
                }
                Ok(Err(e)) => {
                    failure.get_or_insert(RoundError::Fetch(e));
                }
                Err(join) => {
                    failure.get_or_insert(RoundError::Internal(format!("download task failed: {join}")));
                }
            }
        }
        // Everything in order so far is committed if it verifies, whatever stopped the loop:
        // work already done is not thrown away on an error or a shutdown.
        if !batch.is_empty()
            && !matches!(failure, Some(RoundError::Misbehaved(_)) | Some(RoundError::Store(_)))
            && let Err(e) = self.commit(batch, &range, sth).await
        {
            failure.get_or_insert(e);
        }
        if let Some(f) = failure {
            return Err(f);
        }
        if cancel.is_cancelled() && self.committed.cursor < target {
            return Err(RoundError::Cancelled);
        }
        Ok(())
    }

    /// Verify `range` (the committed entries plus `batch`) against `sth` and commit.
    async fn commit(
        &mut self,
        mut batch: BatchBuilder,
        range: &CompactRange,
        sth: &SignedTreeHead,
    ) -> Result<(), RoundError> {
        let m = range.size();
        if let Err(detail) = self.verify_prefix(range, sth).await? {
            let mis = Misbehaviour::EntriesDoNotMatch { head: sth.head, covered: m, detail };
            return Err(self.misbehaved(mis).await);
        }
        // The log is read up to its newest entry, or up to the head once caught up with it
        // (backfills read below the cursor and say nothing about the log's position).
        let position_ms = match self.backfill {
            Some(_) => self.committed.position_ms,
            None => {
                let head = if m == sth.head.tree_size { sth.head.timestamp } else { 0 };
                self.committed.position_ms.max(batch.newest_ms()).max(head)
            }
        };
        // Surges are evaluated only on verified entries, right before they commit.
        let identities = batch.identities();
        let surges = self.surge_findings(self.backfill.is_none().then_some(position_ms), &identities, unix_now());
        batch.add_findings(surges, &self.shared.watch, unix_now());
        let previous = self.committed.cursor;
        let checkpoint = LogCheckpoint {
            log_id: self.log_id,
            cursor: m,
            peaks: range.peaks().to_vec(),
            verified_head: Some(to_verified_head(sth)),
            position_ms,
        };
        let commit = batch.into_commit(self.log_id, previous, checkpoint.clone());
        let outcome = self
            .shared
            .store
            .call({
                let watch = self.shared.watch.clone();
                let backfill = self.backfill;
                let lease = self.lease.clone();
                move |s| {
                    let mut commit = commit;
                    for mut f in crate::detect::precert_mismatches(s, &commit)? {
                        f.ca = f
                            .issuer
                            .as_deref()
                            .and_then(|h| hex::decode(h).ok())
                            .and_then(|b| <Hash>::try_from(b.as_slice()).ok())
                            .and_then(|i| watch.ca_for(&i))
                            .map(|c| c.name.clone());
                        commit.findings.push(f);
                    }
                    match backfill {
                        Some(count_issuance) => s.commit_backfill(&commit, count_issuance),
                        None => match &lease {
                            Some(lease) => s.commit_leased(&commit, lease),
                            None => s.commit(&commit),
                        },
                    }
                }
            })
            .await?;
        self.committed = checkpoint;
        self.committed_range = range.clone();
        if let Some(surge) = &self.shared.detectors.surge
            && let Ok(mut surge) = surge.lock()
        {
            surge.mark_committed(identities);
        }
        self.shared.observer.on_commit(&self.name, previous, m, &outcome);
        if outcome.new_findings > 0 {
            self.shared.findings_stored.notify_one();
        }
        Ok(())
    }

    /// Moves this log's position in the surge stage (when given) and returns the surge findings
    /// of the hours that closed, with their CA names; updates the surge-ratio gauges.
    fn surge_findings(&self, position_ms: Option<u64>, in_batch: &HashSet<Hash>, now: i64) -> Vec<NewFinding> {
        let Some(surge) = &self.shared.detectors.surge else { return Vec::new() };
        let Ok(mut surge) = surge.lock() else { return Vec::new() };
        if let Some(position) = position_ms {
            surge.set_position(self.log_id, position);
        }
        let findings = surge.evaluate(in_batch);
        surge.publish_ratios(&self.shared.watch, &*self.shared.observer);
        crate::batch::attributed(findings, &self.shared.watch, now).collect()
    }

    /// `Ok(Ok(()))`: the first `range.size()` entries are a prefix of `sth`'s tree.
    async fn verify_prefix(
        &mut self,
        range: &CompactRange,
        sth: &SignedTreeHead,
    ) -> Result<Result<(), String>, RoundError> {
        let m = range.size();
        let n = sth.head.tree_size;
        if m == n {
            return Ok(if range.root() == sth.head.root_hash {
                Ok(())
            } else {
                Err(format!(
                    "root of entries [0, {m}) is {} but the tree head signs {}",
                    hex::encode(range.root()),
                    hex::encode(sth.head.root_hash)
                ))
            });
        }
        if m > n {
            return Ok(Err(format!("{m} entries downloaded for a tree of {n}")));
        }
        match self.access.clone() {
            Access::Rfc6962(client) => {
                let proof = client.get_consistency(m, n).await?;
                Ok(ctwatch_ct::merkle::verify_consistency(m, n, &range.root(), &sth.head.root_hash, &proof)
                    .map_err(|e| format!("entries [0, {m}) are not a prefix of the tree of {n}: {e}")))
            }
            Access::Tiled { client, .. } => {
                let mut tiles = TileCache::default();
                let root = tiled_root(&client, &mut tiles, range, n).await?;
                Ok(if root == sth.head.root_hash {
                    Ok(())
                } else {
                    Err(format!(
                        "entries [0, {m}) with the log's tiles give root {} but the checkpoint signs {}",
                        hex::encode(root),
                        hex::encode(sth.head.root_hash)
                    ))
                })
            }
        }
    }

    // ---------------------------------------------------------------- static-ct-api

    async fn download_tiled(
        &mut self,
        client: &StaticClient,
        sth: &SignedTreeHead,
        target: u64,
        cancel: &CancellationToken,
    ) -> Result<(), RoundError> {
        const W: u64 = ctwatch_ct::tile::TILE_WIDTH;
        let n = sth.head.tree_size;
        // Prefer full tiles: the last partial tile is fetched only when it stayed partial for
        // a while, or when the caller asked for everything up to a limit below the head.
        let mut end = target;
        if end == n && !end.is_multiple_of(W) {
            let tile = end / W;
            let waited = match self.partial_since {
                Some((t, since)) if t == tile => since.elapsed() >= self.shared.partial_tile_delay,
                _ => {
                    self.partial_since = Some((tile, Instant::now()));
                    self.shared.partial_tile_delay.is_zero()
                }
            };
            if !waited {
                end = tile * W;
            }
        }
        let start = self.committed.cursor;
        if end <= start {
            return Ok(());
        }
        let concurrency = self.fetch.concurrency.max(1);
        let first_tile = start / W;
        let last_tile = (end - 1) / W;
        let window_tiles = concurrency as u64 * 4;
        let issuers: Arc<Mutex<HashMap<Hash, Option<Hash>>>> = Arc::default();
        let mut seq: Sequencer<ProcessedEntry> = Sequencer::new(start);
        let mut next_tile = first_tile;
        let mut tasks: JoinSet<Result<(u64, Vec<ProcessedEntry>), RoundError>> = JoinSet::new();
        let mut range = self.committed_range.clone();
        let mut batch = BatchBuilder::default();
        let mut failure: Option<RoundError> = None;
        loop {
            while failure.is_none()
                && !cancel.is_cancelled()
                && tasks.len() < concurrency
                && next_tile <= last_tile
                && next_tile < seq.next() / W + window_tiles
            {
                let t = next_tile;
                next_tile += 1;
                let tile_start = t * W;
                let width = (end - tile_start).min(W);
                let skip = start.saturating_sub(tile_start);
                let client = client.clone();
                let issuers = issuers.clone();
                let (log_id, log_name, watch, known, detectors) = self.entry_context();
                tasks.spawn(async move {
                    let bytes = client.get_data_tile(t, width).await?;
                    let leaves = ctwatch_ct::wire::decode_data_tile(&bytes).map_err(|e| {
                        RoundError::Misbehaved(Misbehaviour::BadResponse {
                            detail: format!("data tile {t} (width {width}): {e}"),
                        })
                    })?;
                    if leaves.len() as u64 != width {
                        return Err(RoundError::Misbehaved(Misbehaviour::BadResponse {
                            detail: format!("data tile {t}: {} entries, expected {width}", leaves.len()),
                        }));
                    }
                    // Resolve the issuers of x509 entries by fingerprint (cached per round).
                    for leaf in &leaves {
                        if let (ctwatch_ct::wire::SignedEntry::X509(_), Some(fp)) =
                            (&leaf.entry.signed_entry, leaf.chain_fingerprints.first())
                        {
                            let known_fp = issuers.lock().map(|m| m.contains_key(fp)).unwrap_or(false);
                            if !known_fp {
                                let spki = match client.get_issuer(fp).await {
                                    Ok(der) if ctwatch_ct::sha256(&der) == *fp => {
                                        ctwatch_cert::facts::spki_sha256_of_cert(&der).ok()
                                    }
                                    Ok(_) => None,
                                    Err(FetchError::Status { status: 404, .. }) => None,
                                    Err(e) => return Err(RoundError::Fetch(e)),
                                };
                                if let Ok(mut m) = issuers.lock() {
                                    m.insert(*fp, spki);
                                }
                            }
                        }
                    }
                    let ctx = EntryContext {
                        log_id,
                        log_name: &log_name,
                        watch: &watch,
                        known_logs: &known,
                        detectors: &detectors,
                    };
                    let map = issuers.lock().map(|m| m.clone()).unwrap_or_default();
                    let items = leaves
                        .into_iter()
                        .enumerate()
                        .skip(skip as usize)
                        .map(|(i, leaf)| {
                            let issuer = leaf.chain_fingerprints.first().and_then(|fp| map.get(fp).copied().flatten());
                            process_tile_leaf(&ctx, tile_start + i as u64, leaf, issuer)
                        })
                        .collect();
                    Ok((tile_start + skip, items))
                });
            }
            let Some(joined) = tasks.join_next().await else { break };
            match joined {
                Ok(Ok((s, items))) => {
                    if let Err(err) = seq.insert(s, items) {
                        failure.get_or_insert(RoundError::Internal(err.to_string()));
                        continue;
                    }
                    for item in seq.pop_ready() {
                        self.take_in_order(item, &mut range, &mut batch);
                        // Commit on tile boundaries so the hash-tile check stays cheap.
                        if batch.covered() >= self.shared.commit_entries
                            && range.size().is_multiple_of(W)
                            && failure.is_none()
                        {
                            let full = std::mem::take(&mut batch);
                            if let Err(e) = self.commit(full, &range, sth).await {
                                failure = Some(e);
                            }
                        }
                    }
                    self.shared.observer.on_progress(&self.name, self.committed.cursor + batch.covered(), end);
                }
                Ok(Err(RoundError::Misbehaved(m))) => {
                    let e = self.misbehaved(m).await;
                    failure.get_or_insert(e);
                }
                Ok(Err(e)) => {
                    failure.get_or_insert(e);
                }
                Err(join) => {
                    failure.get_or_insert(RoundError::Internal(format!("download task failed: {join}")));
                }
            }
        }
        if !batch.is_empty()
            && !matches!(failure, Some(RoundError::Misbehaved(_)) | Some(RoundError::Store(_)))
            && let Err(e) = self.commit(batch, &range, sth).await
        {
            failure.get_or_insert(e);
        }
        if let Some(f) = failure {
            return Err(f);
        }
        if cancel.is_cancelled() && self.committed.cursor < end {
            return Err(RoundError::Cancelled);
        }
        Ok(())
    }
}

/// A downloaded range `[start, end)` asked for, and the processed entries that came back.
type FetchedRange = (u64, u64, Vec<ProcessedEntry>);

/// Hash tiles fetched during one verification.
#[derive(Debug, Default)]
struct TileCache {
    tiles: HashMap<(u8, u64, u64), Vec<Hash>>,
}

/// The root of the tree of `n` leaves whose first `range.size()` leaves we hold as `range`,
/// completing the right side from the log's hash tiles (see [`tiled_extend`]).
async fn tiled_root(
    client: &StaticClient,
    tiles: &mut TileCache,
    range: &CompactRange,
    n: u64,
) -> Result<Hash, RoundError> {
    Ok(tiled_extend(client, tiles, range.clone(), n, n).await?.root())
}

/// Extend `acc` to `upto` leaves with subtree roots read from the hash tiles of the tree of
/// `n >= upto` leaves: at each position take the largest aligned perfect subtree that fits,
/// whose root is computed from at most 128 hashes of one tile. Tile contents need no trust: a
/// wrong hash just gives a root that does not match a signed one.
async fn tiled_extend(
    client: &StaticClient,
    tiles: &mut TileCache,
    mut acc: CompactRange,
    upto: u64,
    n: u64,
) -> Result<CompactRange, RoundError> {
    let mut p = acc.size();
    while p < upto {
        let mut h = if p == 0 { 63 } else { p.trailing_zeros() };
        while h > 0 && (1u64 << h) > upto - p {
            h -= 1;
        }
        let level = (h / 8) as u8;
        let shift = 8 * u32::from(level);
        // Node indices at tree height 8·level covered by the subtree [p, p + 2^h).
        let first = p >> shift;
        let count = 1u64 << (h - shift);
        let tile_index = first / 256;
        let published = (n >> shift) - tile_index * 256;
        let width = published.min(256);
        let key = (level, tile_index, width);
        let hashes = match tiles.tiles.entry(key) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(client.get_hash_tile(level, tile_index, width).await?)
            }
        };
        let offset = (first - tile_index * 256) as usize;
        let slice = hashes
            .get(offset..offset + count as usize)
            .ok_or_else(|| RoundError::Internal(format!("hash tile {level}/{tile_index} too short")))?;
        let root = ctwatch_ct::merkle::root_from_leaf_hashes(slice);
        acc.append_subtree(h, root).map_err(|e| RoundError::Internal(format!("tile subtree: {e}")))?;
        p += 1u64 << h;
    }
    Ok(acc)
}

fn to_tree_head(v: &VerifiedHead) -> TreeHead {
    TreeHead { tree_size: v.tree_size, timestamp: v.timestamp_ms, root_hash: v.root_hash }
}

fn to_verified_head(sth: &SignedTreeHead) -> VerifiedHead {
    VerifiedHead {
        tree_size: sth.head.tree_size,
        timestamp_ms: sth.head.timestamp,
        root_hash: sth.head.root_hash,
        signature: sth.signature.clone(),
    }
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

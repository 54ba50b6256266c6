//! The detectors that run on every stored certificate inside the pipeline, so their findings
//! commit in the same transaction as the entries that caused them:
//!
//! - BR lints (`lint_violation`), grouped per (issuer, lint): 2,098 bad certificates are one
//!   finding with 2,098 certificates;
//! - compromised-key reuse (`compromised_key_reuse`), against the in-memory key set;
//! - issuance surges (`issuance_surge`), over distinct certificates by entry timestamp.
//!
//! Lints and key lookups are pure per certificate and run in the parallel download tasks; the
//! surge detector keeps state across logs and runs in the ordered stage.

use crate::watch::Watchlist;
use ctwatch_ct::Hash;
use ctwatch_keys::keyset::{CompromisedKeySet, ReuseClass, ReuseContext, classify_reuse};
use ctwatch_store::{EntryRecord, NewFinding, Severity};
use ctwatch_surge::{HourCloser, IssuanceEvent, SurgeDetector};
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, RwLock};

/// Shared detector state (one per monitor).
#[derive(Debug, Clone)]
pub struct DetectorSet {
    pub lints: bool,
    pub keys: Arc<RwLock<CompromisedKeySet>>,
    pub surge: Option<Arc<Mutex<SurgeStage>>>,
}

impl Default for DetectorSet {
    fn default() -> Self {
        DetectorSet { lints: true, keys: Arc::default(), surge: None }
    }
}

/// `lint_violation` findings for one certificate: one per failing lint, keyed by issuer and lint.
pub fn lint_findings(record: &EntryRecord) -> Vec<NewFinding> {
    let cert = &record.certificate;
    let input = ctwatch_lint::LintInput {
        der: &cert.der,
        facts: &cert.facts,
        is_precert: cert.is_precert,
        sct_timestamp_ms: Some(record.timestamp_ms),
    };
    let issuer = cert.issuer_spki_sha256.map(hex::encode).unwrap_or_else(|| "unknown".into());
    ctwatch_lint::failures(&input)
        .into_iter()
        .map(|r| {
            let info = r.lint;
            let severity = match r.status {
                ctwatch_lint::LintStatus::Error => Severity::Error,
                _ => Severity::Warning,
            };
            NewFinding {
                key: format!("lint_violation:{issuer}:{}", info.name),
                kind: "lint_violation".into(),
                severity,
                ca: None,
                issuer: None,
                evidence: serde_json::json!({
                    "lint": info.name,
                    "zlint": info.zlint,
                    "citation": info.citation,
                    "lint_severity": info.severity.as_str(),
                    "effective": info.effective,
                    "description": info.description,
                    "example_detail": r.detail,
                    "example_serial": hex::encode(&cert.facts.serial),
                }),
                certificates: vec![cert.identity],
                seen_at: 0,
            }
        })
        .collect()
}

/// `compromised_key_reuse` findings for one certificate.
pub fn key_reuse_findings(record: &EntryRecord, keys: &CompromisedKeySet, watch: &Watchlist) -> Vec<NewFinding> {
    let cert = &record.certificate;
    let matches = keys.lookup_facts(&cert.facts);
    if matches.is_empty() {
        return Vec::new();
    }
    let issuer = cert.issuer_spki_sha256.unwrap_or([0; 32]);
    let same_ca: Vec<Hash> = cert
        .issuer_spki_sha256
        .and_then(|i| watch.ca_for(&i))
        .map(|ca| ca.issuer_spki_sha256.clone())
        .unwrap_or_default();
    let ctx = ReuseContext {
        issuer_spki_sha256: issuer,
        same_ca_issuers: &same_ca,
        serial: &cert.facts.serial,
        not_before: cert.facts.not_before,
    };
    let Some(assessment) = classify_reuse(&ctx, &matches) else { return Vec::new() };
    vec![reuse_finding(cert.identity, &issuer, &cert.facts.spki_sha256, &assessment, &matches)]
}

/// The finding for a certificate whose key is compromised (also used by the re-check after a key
/// is learned).
pub fn reuse_finding(
    identity: Hash,
    issuer: &Hash,
    spki: &Hash,
    assessment: &ctwatch_keys::keyset::ReuseAssessment,
    matches: &[&ctwatch_keys::keyset::CompromisedKey],
) -> NewFinding {
    let severity = match assessment.class {
        ReuseClass::BrViolation => Severity::Critical,
        ReuseClass::Suspect => Severity::Error,
    };
    NewFinding {
        // One finding per (issuer, key): every certificate issued with that key joins it.
        key: format!("compromised_key_reuse:{}:{}", hex::encode(issuer), hex::encode(spki)),
        kind: "compromised_key_reuse".into(),
        severity,
        ca: None,
        issuer: None,
        evidence: serde_json::json!({
            "spki_sha256": hex::encode(spki),
            "class": assessment.class,
            "known_since": assessment.known_since,
            "confirmed": assessment.confirmed,
            "sources": matches.iter().map(|k| serde_json::json!({
                "source": k.source,
                "learned_at": k.learned_at,
                "evidence": k.evidence,
            })).collect::<Vec<_>>(),
        }),
        certificates: vec![identity],
        seen_at: 0,
    }
}

/// How far behind the most advanced log another log may be before it stops holding surge
/// evaluation back. Its certificates then count late (they still weigh in every later window
/// covering their hour), so a stalled or frozen log delays surge findings by at most this.
pub const SURGE_LOG_LAG_ALLOWANCE_MS: u64 = 3_600_000;

/// Surge hours up to this many certificates wait in memory for every log to pass them.
const MAX_PENDING_SURGE_EVENTS: usize = 200_000;

/// The time every log has been read up to, for closing surge hours: the slowest log's position,
/// except that logs more than [`SURGE_LOG_LAG_ALLOWANCE_MS`] behind the most advanced one are
/// not waited for. `None` without logs.
pub fn surge_watermark(positions: impl IntoIterator<Item = u64>) -> Option<u64> {
    let (min, max) = positions.into_iter().fold(None, |acc: Option<(u64, u64)>, p| match acc {
        None => Some((p, p)),
        Some((lo, hi)) => Some((lo.min(p), hi.max(p))),
    })?;
    Some(min.max(max.saturating_sub(SURGE_LOG_LAG_ALLOWANCE_MS)))
}

/// The surge detector with the dedup it needs: each distinct certificate is observed once,
/// even when it arrives as a precertificate and a final certificate, or in several logs.
///
/// Certificates wait in an [`HourCloser`] until every log feeding the stage is past the end of
/// their hour ([`surge_watermark`] of the positions given to [`SurgeStage::set_position`]);
/// each complete hour is then evaluated at its end. A surge is therefore raised after the hour
/// it is seen in closes, and the same certificates give the same surges whatever order or
/// instance they arrive through.
#[derive(Debug)]
pub struct SurgeStage {
    closer: HourCloser,
    seen: HashSet<Hash>,
    order: VecDeque<Hash>,
    /// Identities known to be in the store: a finding may only link stored certificates, and a
    /// certificate observed from another log's batch may not be committed yet.
    committed: HashSet<Hash>,
    /// Bound on remembered identities (memory: ~48 bytes each).
    max_seen: usize,
    /// How far each log feeding the stage is read (ms since the Unix epoch).
    positions: HashMap<Hash, u64>,
    /// Hours evaluated when the ratio gauges were last published (`None`: never).
    published_hours: Option<u64>,
}

impl SurgeStage {
    /// A stage fed by `logs` (none read yet).
    pub fn new(detector: SurgeDetector, logs: impl IntoIterator<Item = Hash>) -> Self {
        SurgeStage {
            closer: HourCloser::new(detector, MAX_PENDING_SURGE_EVENTS),
            seen: HashSet::new(),
            order: VecDeque::new(),
            committed: HashSet::new(),
            max_seen: 1_000_000,
            positions: logs.into_iter().map(|log| (log, 0)).collect(),
            published_hours: None,
        }
    }

    /// Seed from stored hourly counts.
    pub fn seed_hourly(&mut self, issuer: Hash, hour: i64, validation_type: &str, count: u64) {
        self.closer.detector_mut().seed_hourly(issuer, hour, validation_type, count);
    }

    /// Record that `log` is read up to `position_ms` (positions never go back). Logs the stage
    /// was not created with are ignored: a store shared with other configurations holds
    /// positions of logs this monitor does not follow.
    pub fn set_position(&mut self, log: Hash, position_ms: u64) {
        if let Some(p) = self.positions.get_mut(&log) {
            *p = (*p).max(position_ms);
        }
    }

    /// Observe one stored certificate (ignored when seen before). Returns whether it was new.
    pub fn observe(&mut self, record: &EntryRecord) -> bool {
        let cert = &record.certificate;
        if !self.seen.insert(cert.identity) {
            return false;
        }
        self.order.push_back(cert.identity);
        if self.order.len() > self.max_seen
            && let Some(old) = self.order.pop_front()
        {
            self.seen.remove(&old);
            self.committed.remove(&old);
        }
        let Some(issuer) = cert.issuer_spki_sha256 else { return true };
        let domains = ctwatch_surge::registered_domains(&cert.facts.dns_names);
        self.closer.observe(&IssuanceEvent {
            issuer,
            timestamp_ms: record.timestamp_ms,
            validation_type: cert.facts.validation_type.as_str(),
            registered_domains: &domains,
            cert_identity: cert.identity,
        });
        true
    }

    /// Record that these identities are now stored.
    pub fn mark_committed(&mut self, identities: impl IntoIterator<Item = Hash>) {
        for id in identities {
            if self.seen.contains(&id) {
                self.committed.insert(id);
            }
        }
    }

    /// Close the hours every log is past and turn surges into findings. Certificates listed
    /// are those already stored or in `in_batch`; the others join the finding when it is
    /// re-reported (every hour while open).
    pub fn evaluate(&mut self, in_batch: &HashSet<Hash>) -> Vec<NewFinding> {
        let Some(watermark) = surge_watermark(self.positions.values().copied()) else { return Vec::new() };
        self.closer
            .advance(watermark)
            .into_iter()
            .map(|s| NewFinding {
                key: s.key.clone(),
                kind: "issuance_surge".into(),
                severity: Severity::Warning,
                ca: None,
                issuer: Some(hex::encode(s.issuer)),
                evidence: s.evidence(),
                certificates: s
                    .certificates
                    .iter()
                    .filter(|id| self.committed.contains(*id) || in_batch.contains(*id))
                    .copied()
                    .collect(),
                seen_at: 0,
            })
            .collect()
    }

    /// Publish every watched CA's surge ratio (its issuers' largest) to `observer` when hours
    /// were evaluated since the last time, or never published. Publishing on every commit of
    /// every log would cost thousands of gauge updates a second with a CCADB watch list.
    pub fn publish_ratios(&mut self, watch: &Watchlist, observer: &dyn crate::MonitorObserver) {
        let hours = self.closer.stats().evaluated_hours;
        if self.published_hours == Some(hours) {
            return;
        }
        self.published_hours = Some(hours);
        for ca in watch.cas() {
            let ratio = ca.issuer_spki_sha256.iter().filter_map(|i| self.current_ratio(i)).fold(0.0f64, f64::max);
            observer.on_surge_ratio(&ca.name, ratio);
        }
    }

    /// Current surge ratio of an issuer (for metrics; updated as hours close).
    pub fn current_ratio(&self, issuer: &Hash) -> Option<f64> {
        self.closer.detector().current_ratio(issuer)
    }

    /// Counters of the hour closing (certificates waiting, late, hours evaluated).
    pub fn closer_stats(&self) -> ctwatch_surge::CloserStats {
        self.closer.stats()
    }
}

/// `precert_mismatch` findings: a final certificate (embedded SCTs) whose issuer and serial
/// match a logged precertificate with a different identity — its TBS does not correspond to
/// the precertificate the logs signed (boulder's `precert.Correspond` check). Looked up in the
/// store and in the batch itself, inside the commit's critical section.
pub fn precert_mismatches(
    store: &mut dyn ctwatch_store::Store,
    batch: &ctwatch_store::CommitBatch,
) -> Result<Vec<NewFinding>, ctwatch_store::StoreError> {
    let mut out = Vec::new();
    for e in &batch.entries {
        let cert = &e.certificate;
        if cert.is_precert || cert.facts.embedded_scts.is_empty() {
            continue;
        }
        let Some(issuer) = cert.issuer_spki_sha256 else { continue };
        let mut precerts: Vec<Hash> = store
            .certificates_by_issuer_serial(&issuer, &cert.facts.serial)?
            .into_iter()
            .filter(|c| c.identity != cert.identity && c.has_precert)
            .map(|c| c.identity)
            .collect();
        precerts.extend(batch.entries.iter().filter_map(|o| {
            let oc = &o.certificate;
            (oc.is_precert
                && oc.identity != cert.identity
                && oc.issuer_spki_sha256 == Some(issuer)
                && oc.facts.serial == cert.facts.serial)
                .then_some(oc.identity)
        }));
        precerts.sort();
        precerts.dedup();
        if precerts.is_empty() {
            continue;
        }
        let mut certificates = precerts.clone();
        certificates.push(cert.identity);
        out.push(NewFinding {
            key: format!("precert_mismatch:{}:{}", hex::encode(issuer), hex::encode(&cert.facts.serial)),
            kind: "precert_mismatch".into(),
            severity: Severity::Error,
            ca: None,
            issuer: Some(hex::encode(issuer)),
            evidence: serde_json::json!({
                "serial": hex::encode(&cert.facts.serial),
                "final_identity": hex::encode(cert.identity),
                "precert_identities": precerts.iter().map(hex::encode).collect::<Vec<_>>(),
                "log_index": e.index,
                "detail": "the final certificate's TBS without the SCT list differs from the logged precertificate's TBS without the poison",
            }),
            certificates,
            seen_at: crate::follow::unix_now(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: u64 = 3_600_000;

    #[test]
    fn the_watermark_waits_for_the_slowest_log_within_the_allowance() {
        assert_eq!(surge_watermark([]), None);
        assert_eq!(surge_watermark([5 * H]), Some(5 * H));
        assert_eq!(surge_watermark([10 * H, 10 * H - H / 2, 10 * H - H / 4]), Some(10 * H - H / 2));
        // A log further behind than the allowance is not waited for.
        assert_eq!(surge_watermark([10 * H, 3 * H]), Some(10 * H - SURGE_LOG_LAG_ALLOWANCE_MS));
        // Logs not read yet hold nothing back once another log is far ahead.
        assert_eq!(surge_watermark([0, 0]), Some(0));
        assert_eq!(surge_watermark([0, 2 * H]), Some(H));
    }

    #[test]
    fn positions_never_go_back_and_unknown_logs_are_ignored() {
        let detector = SurgeDetector::new(ctwatch_surge::SurgeConfig::default()).unwrap();
        let mut stage = SurgeStage::new(detector, [[1; 32], [2; 32]]);
        stage.set_position([1; 32], 10 * H);
        stage.set_position([1; 32], 5 * H);
        stage.set_position([2; 32], 10 * H);
        stage.set_position([3; 32], 1);
        assert_eq!(stage.positions.len(), 2);
        assert_eq!(stage.positions.get(&[1; 32]), Some(&(10 * H)));
        assert_eq!(surge_watermark(stage.positions.values().copied()), Some(10 * H));
    }
}

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
use ctwatch_surge::{IssuanceEvent, SurgeDetector};
use std::collections::{HashSet, VecDeque};
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

/// The surge detector with the dedup it needs: each distinct certificate is observed once,
/// even when it arrives as a precertificate and a final certificate, or in several logs.
#[derive(Debug)]
pub struct SurgeStage {
    detector: SurgeDetector,
    seen: HashSet<Hash>,
    order: VecDeque<Hash>,
    /// Identities known to be in the store: a finding may only link stored certificates, and a
    /// certificate observed from another log's batch may not be committed yet.
    committed: HashSet<Hash>,
    /// Bound on remembered identities (memory: ~48 bytes each).
    max_seen: usize,
    /// Newest entry timestamp observed (the detector's clock when catching up).
    latest_ms: u64,
}

impl SurgeStage {
    pub fn new(detector: SurgeDetector) -> Self {
        SurgeStage {
            detector,
            seen: HashSet::new(),
            order: VecDeque::new(),
            committed: HashSet::new(),
            max_seen: 1_000_000,
            latest_ms: 0,
        }
    }

    /// Seed from stored hourly counts.
    pub fn seed_hourly(&mut self, issuer: Hash, hour: i64, validation_type: &str, count: u64) {
        self.detector.seed_hourly(issuer, hour, validation_type, count);
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
        self.detector.observe(&IssuanceEvent {
            issuer,
            timestamp_ms: record.timestamp_ms,
            validation_type: cert.facts.validation_type.as_str(),
            registered_domains: &domains,
            cert_identity: cert.identity,
        });
        self.latest_ms = self.latest_ms.max(record.timestamp_ms);
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

    /// Evaluate at the newest entry time seen (log time, so catch-up equals live tailing) and
    /// turn surges into findings. Certificates listed are those already stored or in
    /// `in_batch`; the others join the finding when it is re-reported (every hour while open).
    pub fn evaluate(&mut self, in_batch: &HashSet<Hash>) -> Vec<NewFinding> {
        if self.latest_ms == 0 {
            return Vec::new();
        }
        self.detector
            .evaluate(self.latest_ms)
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

    /// Current surge ratio of an issuer (for metrics).
    pub fn current_ratio(&self, issuer: &Hash) -> Option<f64> {
        self.detector.current_ratio(issuer)
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

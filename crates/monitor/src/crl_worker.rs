//! CRL polling for watched issuers: revocations (for deadline verdicts) and keyCompromise
//! entries (which feed the compromised-key set and re-check stored certificates).

use crate::StoreHandle;
use crate::detect::reuse_finding;
use crate::follow::unix_now;
use crate::watch::Watchlist;
use ctwatch_ct::Hash;
use ctwatch_keys::crl::{CrlLimits, IssuerKey, ParsedCrl, parse_crl};
use ctwatch_keys::keyset::{
    CompromisedKey, CompromisedKeySet, InsertOutcome, KeyFingerprints, ReuseContext, classify_reuse,
};
use ctwatch_store::{CompromisedKeyRecord, CrlRecord, CrlState, NewFinding, RevocationRecord, Severity, StoreError};
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

/// What one CRL pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CrlPass {
    pub fetched: usize,
    pub rejected: usize,
    pub revocations: usize,
    pub keys_learned: usize,
    pub findings: usize,
}

/// Polls CRLs.
#[derive(Debug)]
pub struct CrlWorker {
    pub(crate) store: StoreHandle,
    pub(crate) watch: Arc<Watchlist>,
    pub(crate) keys: Arc<RwLock<CompromisedKeySet>>,
    pub(crate) issuers: Arc<Mutex<HashMap<Hash, Vec<u8>>>>,
    pub(crate) discovered: Arc<Mutex<BTreeSet<String>>>,
    pub(crate) configured: Vec<String>,
    pub(crate) from_certificates: bool,
    pub(crate) interval: Duration,
    pub(crate) limits: CrlLimits,
    pub(crate) http: ctwatch_client::HttpConfig,
    pub(crate) last_fetch: HashMap<String, Instant>,
    pub(crate) observer: Arc<dyn crate::MonitorObserver>,
    /// Whether the CRL URLs of certificates stored by earlier runs were added to
    /// `discovered` (once per worker: the followers add those of new certificates).
    pub(crate) seeded: bool,
}

impl CrlWorker {
    /// Fetch every URL that is due (all of them when `force`).
    pub async fn pass(&mut self, force: bool) -> Result<CrlPass, StoreError> {
        if self.from_certificates && !self.seeded {
            self.seed_from_store().await?;
        }
        let mut urls: BTreeSet<String> = self.configured.iter().cloned().collect();
        if self.from_certificates
            && let Ok(d) = self.discovered.lock()
        {
            urls.extend(d.iter().cloned());
        }
        let mut pass = CrlPass::default();
        for url in urls {
            if !force && self.last_fetch.get(&url).is_some_and(|t| t.elapsed() < self.interval) {
                continue;
            }
            self.last_fetch.insert(url.clone(), Instant::now());
            self.poll(&url, &mut pass).await?;
        }
        Ok(pass)
    }

    /// Add the CRL distribution points of every stored certificate to `discovered`: after a
    /// restart, the issuers' CRLs are polled even before their next certificate is logged.
    async fn seed_from_store(&mut self) -> Result<(), StoreError> {
        const PAGE: usize = 1000;
        let mut after = 0;
        loop {
            let page = self.store.call(move |s| s.certificates(after, PAGE)).await?;
            let Some(last) = page.last() else { break };
            after = last.id;
            if let Ok(mut urls) = self.discovered.lock() {
                for url in page.iter().flat_map(|c| c.facts.crl_distribution_points.iter()) {
                    // The same bound as the followers keep.
                    if urls.len() < 100_000 {
                        urls.insert(url.clone());
                    }
                }
            }
            if page.len() < PAGE {
                break;
            }
        }
        self.seeded = true;
        Ok(())
    }

    async fn poll(&mut self, url: &str, pass: &mut CrlPass) -> Result<(), StoreError> {
        let now = unix_now();
        // Only http(s) URLs of watched issuers' certificates or the configuration are fetched;
        // redirects are not followed and the size is bounded.
        let http = ctwatch_client::HttpConfig {
            max_response_bytes: self.limits.max_bytes,
            max_attempts: 2,
            ..self.http.clone()
        };
        let bytes = match ctwatch_client::get_document(url, &http).await {
            Ok(b) => b,
            Err(e) => {
                pass.rejected += 1;
                self.observer.on_crl_fetch("unreachable");
                // A CRL beyond the size bound is the publisher's doing, not the network's.
                let what =
                    if matches!(e, ctwatch_client::FetchError::TooLarge { .. }) { "too_large" } else { "unreachable" };
                return self.problem(url, what, &e.to_string(), now).await;
            }
        };
        let candidates: Vec<Vec<u8>> = self.issuers.lock().map(|m| m.values().cloned().collect()).unwrap_or_default();
        let mut last_error = "no issuer certificate known to verify it with".to_string();
        let mut parsed: Option<ParsedCrl> = None;
        let mut matched_issuer = false;
        for der in &candidates {
            let Ok(issuer) = IssuerKey::from_cert_der(der) else { continue };
            match parse_crl(&bytes, &issuer, &self.limits) {
                Ok(p) => {
                    parsed = Some(p);
                    break;
                }
                // Every other candidate issuer fails with a name or key-id mismatch: keep the
                // reason of the issuer the CRL names (a bad signature, a bad number), which is
                // the one that explains the rejection.
                Err(
                    e @ (ctwatch_keys::crl::CrlError::WrongIssuer { .. }
                    | ctwatch_keys::crl::CrlError::AuthorityKeyIdMismatch { .. }),
                ) => {
                    if !matched_issuer {
                        last_error = e.to_string();
                    }
                }
                Err(e) => {
                    matched_issuer = true;
                    last_error = e.to_string();
                }
            }
        }
        let Some(crl) = parsed else {
            pass.rejected += 1;
            self.observer.on_crl_fetch("rejected");
            return self.problem(url, "rejected", &last_error, now).await;
        };
        // CRL numbers must not go backwards.
        let stored = {
            let url = url.to_string();
            self.store.call(move |s| s.crl_state(&url)).await?
        };
        let mut history = ctwatch_keys::crl::CrlState::new();
        if let Some(st) = &stored {
            let previous = ParsedCrl {
                issuer_spki_sha256: st.issuer_spki_sha256,
                issuer: String::new(),
                number: st.crl_number.clone(),
                this_update: st.this_update,
                next_update: st.next_update,
                idp: None,
                is_delta: false,
                entries: Vec::new(),
            };
            let _ = history.observe(url, &previous, st.fetched_at);
        }
        if let Err(e) = history.observe(url, &crl, now) {
            pass.rejected += 1;
            self.observer.on_crl_fetch("crl_number");
            return self.problem(url, "crl_number", &e.to_string(), now).await;
        }
        pass.fetched += 1;
        self.observer.on_crl_fetch("ok");
        pass.revocations += crl.entries.len();
        let record = CrlRecord {
            state: CrlState {
                url: url.to_string(),
                issuer_spki_sha256: crl.issuer_spki_sha256,
                crl_number: crl.number.clone(),
                this_update: crl.this_update,
                next_update: crl.next_update,
                fetched_at: now,
            },
            entries: crl
                .entries
                .iter()
                .map(|e| RevocationRecord {
                    issuer_spki_sha256: crl.issuer_spki_sha256,
                    serial: e.serial.clone(),
                    revoked_at: e.revoked_at,
                    reason: e.reason,
                    first_seen_at: now,
                    crl_url: url.to_string(),
                })
                .collect(),
        };
        self.store.call(move |s| s.record_crl(&record, &[])).await?;
        self.learn_keys(url, &crl, now, pass).await
    }

    /// keyCompromise entries → keys (through stored certificates with that issuer and serial)
    /// → re-check every stored certificate with such a key.
    async fn learn_keys(&mut self, url: &str, crl: &ParsedCrl, now: i64, pass: &mut CrlPass) -> Result<(), StoreError> {
        let mut learned = Vec::new();
        for entry in crl.key_compromise_entries() {
            let (issuer, serial) = (crl.issuer_spki_sha256, entry.serial.clone());
            let certs = self.store.call(move |s| s.certificates_by_issuer_serial(&issuer, &serial)).await?;
            for cert in certs {
                let fp = KeyFingerprints::from_cert_facts(&cert.facts);
                learned.push(CompromisedKey::from_crl_entry(crl, url, entry, fp, now));
            }
        }
        let mut new_keys = Vec::new();
        if let Ok(mut set) = self.keys.write() {
            for key in learned {
                if set.insert(key.clone()) != InsertOutcome::Known {
                    new_keys.push(key);
                }
            }
        }
        if new_keys.is_empty() {
            return Ok(());
        }
        let findings = self.recheck(&new_keys, now).await?;
        pass.keys_learned += new_keys.len();
        pass.findings += findings.len();
        let records: Vec<CompromisedKeyRecord> = new_keys.iter().map(to_record).collect();
        self.store.call(move |s| s.add_compromised_keys(&records, &findings)).await?;
        Ok(())
    }

    /// Findings for stored certificates that use any of `keys`.
    pub(crate) async fn recheck(&self, keys: &[CompromisedKey], now: i64) -> Result<Vec<NewFinding>, StoreError> {
        recheck_stored(&self.store, &self.watch, &self.keys, keys, now).await
    }

    async fn problem(&self, url: &str, what: &str, detail: &str, now: i64) -> Result<(), StoreError> {
        tracing::warn!(url, what, detail, "CRL not accepted");
        let finding = NewFinding {
            key: format!("crl_problem:{url}:{what}"),
            kind: "crl_problem".into(),
            severity: Severity::Warning,
            ca: None,
            issuer: None,
            evidence: serde_json::json!({ "url": url, "problem": what, "detail": detail }),
            certificates: Vec::new(),
            seen_at: now,
        };
        self.store.call(move |s| s.record_findings(&[finding]).map(|_| ())).await
    }
}

/// Re-check stored certificates against newly learned keys.
pub async fn recheck_stored(
    store: &StoreHandle,
    watch: &Watchlist,
    set: &RwLock<CompromisedKeySet>,
    keys: &[CompromisedKey],
    now: i64,
) -> Result<Vec<NewFinding>, StoreError> {
    let mut findings = Vec::new();
    let mut seen_keys = BTreeSet::new();
    for key in keys {
        if !seen_keys.insert(key.fingerprints.spki_sha256) {
            continue;
        }
        let (spki, material) = (key.fingerprints.spki_sha256, key.fingerprints.material_sha256);
        let certs = store.call(move |s| s.certificates_by_key(&spki, material.as_ref())).await?;
        let Ok(set) = set.read() else { continue };
        for cert in certs {
            let matches = set.lookup_facts(&cert.facts);
            let issuer = cert.issuer_spki_sha256.unwrap_or([0; 32]);
            let same_ca: Vec<Hash> = watch.ca_for(&issuer).map(|c| c.issuer_spki_sha256.clone()).unwrap_or_default();
            let ctx = ReuseContext {
                issuer_spki_sha256: issuer,
                same_ca_issuers: &same_ca,
                serial: &cert.facts.serial,
                not_before: cert.facts.not_before,
            };
            if let Some(assessment) = classify_reuse(&ctx, &matches) {
                let mut f = reuse_finding(cert.identity, &issuer, &cert.facts.spki_sha256, &assessment, &matches);
                f.seen_at = now;
                f.ca = watch.ca_for(&issuer).map(|c| c.name.clone());
                f.issuer = Some(hex::encode(issuer));
                findings.push(f);
            }
        }
    }
    Ok(findings)
}

/// Store form of a compromised key (the full key, source included, is the evidence).
pub fn to_record(key: &CompromisedKey) -> CompromisedKeyRecord {
    let source = match key.source {
        ctwatch_keys::keyset::KeySource::Crl { .. } => "crl",
        ctwatch_keys::keyset::KeySource::Import { .. } => "import",
        ctwatch_keys::keyset::KeySource::WeakKey { .. } => "weak_key",
        ctwatch_keys::keyset::KeySource::Manual => "manual",
    };
    CompromisedKeyRecord {
        spki_sha256: key.fingerprints.spki_sha256,
        material_sha256: key.fingerprints.material_sha256,
        source: source.to_string(),
        learned_at: key.learned_at,
        evidence: serde_json::to_value(key).unwrap_or(serde_json::Value::Null),
    }
}

/// Back from the store form; records whose evidence is not a key are skipped with a warning.
pub fn from_record(record: &CompromisedKeyRecord) -> Option<CompromisedKey> {
    match serde_json::from_value(record.evidence.clone()) {
        Ok(k) => Some(k),
        Err(e) => {
            tracing::warn!(spki = %hex::encode(record.spki_sha256), error = %e, "stored compromised key unreadable");
            None
        }
    }
}

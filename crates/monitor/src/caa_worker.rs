//! CAA checks of stored certificates of watched CAs, after they are committed.
//!
//! DNS is asked *now*, not at issuance, so the check runs as soon as possible after a
//! certificate is stored and each finding says whether it is `confirmed` (checked within
//! max(TTL, 8 h) of issuance) or only `potential`. Indeterminate answers (SERVFAIL, timeout,
//! bogus) are never conflicts: the certificate stays pending and is retried later.

use crate::StoreHandle;
use crate::follow::unix_now;
use crate::watch::Watchlist;
use ctwatch_caa::{CaaCheck, CaaChecker, CaaVerdict};
use ctwatch_store::{NewFinding, Severity, StoreError, StoredCertificate};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// Certificates taken from the store per round.
const ROUND: usize = 256;

/// What one pass over the pending certificates did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CaaPass {
    pub checked: usize,
    pub deferred: usize,
    pub findings: usize,
}

/// The CAA worker's state: attempts and retry times of indeterminate certificates.
#[derive(Debug)]
pub struct CaaWorker {
    store: StoreHandle,
    watch: Arc<Watchlist>,
    checker: CaaChecker,
    retry: Duration,
    max_attempts: u32,
    attempts: HashMap<i64, (u32, std::time::Instant)>,
    observer: Arc<dyn crate::MonitorObserver>,
}

impl CaaWorker {
    pub fn new(
        store: StoreHandle,
        watch: Arc<Watchlist>,
        checker: CaaChecker,
        retry: Duration,
        max_attempts: u32,
        observer: Arc<dyn crate::MonitorObserver>,
    ) -> Self {
        CaaWorker { store, watch, checker, retry, max_attempts, attempts: HashMap::new(), observer }
    }

    /// When the next certificate waiting to retry an indeterminate answer falls due, if one
    /// is waiting.
    pub fn next_retry(&self) -> Option<std::time::Instant> {
        self.attempts.values().map(|(_, at)| *at + self.retry).min()
    }

    /// Check pending certificates until none is due. Returns what was done.
    pub async fn pass(&mut self) -> Result<CaaPass, StoreError> {
        let mut total = CaaPass::default();
        let mut after_skip = 0usize;
        loop {
            let pending = self.store.call(move |s| s.certificates_pending_caa(ROUND + after_skip)).await?;
            let due: Vec<StoredCertificate> = pending
                .into_iter()
                .filter(|c| self.attempts.get(&c.id).is_none_or(|(_, at)| at.elapsed() >= self.retry))
                .take(ROUND)
                .collect();
            if due.is_empty() {
                return Ok(total);
            }
            let pass = self.check_batch(due).await?;
            after_skip += pass.deferred;
            total.checked += pass.checked;
            total.deferred += pass.deferred;
            total.findings += pass.findings;
            if pass.checked == 0 {
                return Ok(total);
            }
        }
    }

    async fn check_batch(&mut self, certs: Vec<StoredCertificate>) -> Result<CaaPass, StoreError> {
        let mut done = Vec::new();
        let mut findings = Vec::new();
        let mut deferred = 0;
        let mut tasks = tokio::task::JoinSet::new();
        for cert in certs {
            let ca = cert.issuer_spki_sha256.and_then(|i| self.watch.ca_for(&i)).cloned();
            let checker = self.checker.clone();
            let observer = self.observer.clone();
            tasks.spawn(async move {
                let Some(ca) = ca.filter(|c| !c.caa_identifiers.is_empty()) else {
                    return (cert, None, Vec::new());
                };
                let mut checks = Vec::new();
                let mut names: Vec<&String> = cert.facts.dns_names.iter().collect();
                names.dedup();
                for name in names {
                    let started = std::time::Instant::now();
                    let check = checker
                        .check(name, &ca.caa_identifiers, Some(cert.facts.not_before), Some(cert.first_seen_ms))
                        .await;
                    observer.on_caa_check(check.verdict, started.elapsed());
                    checks.push(check);
                }
                (cert, Some(ca.name), checks)
            });
        }
        while let Some(joined) = tasks.join_next().await {
            let Ok((cert, ca_name, checks)) = joined else { continue };
            if checks.iter().any(|c| c.verdict == CaaVerdict::Indeterminate) {
                let entry = self.attempts.entry(cert.id).or_insert((0, std::time::Instant::now()));
                entry.0 += 1;
                entry.1 = std::time::Instant::now();
                if entry.0 < self.max_attempts {
                    deferred += 1;
                    continue;
                }
                // Given up: recorded as checked, with an indeterminate finding rather than a
                // silent drop.
                findings.extend(
                    checks
                        .iter()
                        .filter(|c| c.verdict == CaaVerdict::Indeterminate)
                        .map(|c| caa_finding(&cert, ca_name.as_deref(), c, "caa_indeterminate", Severity::Info)),
                );
            }
            self.attempts.remove(&cert.id);
            for c in &checks {
                if matches!(c.verdict, CaaVerdict::Conflict | CaaVerdict::CriticalUnknown) {
                    findings.push(caa_finding(&cert, ca_name.as_deref(), c, "caa_conflict", Severity::Error));
                }
            }
            done.push(cert.id);
        }
        let pass = CaaPass { checked: done.len(), deferred, findings: findings.len() };
        let now = unix_now();
        for f in &mut findings {
            f.seen_at = now;
        }
        self.store.call(move |s| s.record_caa(&done, Some(now), &findings)).await?;
        Ok(pass)
    }
}

/// One finding per (issuer, verdict, domain whose CAA decided): a surge of certificates under
/// one domain that forbids the CA is one finding listing them all.
fn caa_finding(
    cert: &StoredCertificate,
    ca: Option<&str>,
    check: &CaaCheck,
    kind: &str,
    severity: Severity,
) -> NewFinding {
    let issuer = cert.issuer_spki_sha256.map(hex::encode).unwrap_or_default();
    let decided_at = check.evidence.get("found_at").and_then(|v| v.as_str()).unwrap_or(&check.name).to_string();
    NewFinding {
        key: format!("{kind}:{issuer}:{}:{decided_at}", check.verdict.as_str()),
        kind: kind.to_string(),
        severity,
        ca: ca.map(str::to_string),
        issuer: Some(issuer),
        evidence: serde_json::json!({
            "verdict": check.verdict.as_str(),
            "name": check.name,
            "reason": check.reason,
            "confirmed": check.confirmed,
            "status": if check.confirmed { "confirmed" } else { "potential" },
            "dns": check.evidence,
            "serial": hex::encode(&cert.facts.serial),
        }),
        certificates: vec![cert.identity],
        seen_at: 0,
    }
}

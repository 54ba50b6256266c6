//! BR 4.9.1.1 deadlines for findings that oblige revocation, judged against what CRLs showed.

use crate::StoreHandle;
use crate::config::ClockStart;
use ctwatch_keys::revocation::{
    RevocationReason, RevocationSighting, RevocationVerdict, certificate_deadline, verdict,
};
use ctwatch_store::{FindingFilter, NewFinding, Severity, StoreError};

/// Finding kinds that oblige revocation, with their BR 4.9.1.1 reason.
pub const OBLIGING: &[(&str, RevocationReason)] = &[
    ("compromised_key_reuse", RevocationReason::KeyCompromise),
    ("caa_conflict", RevocationReason::CaaOrValidation),
    ("lint_violation", RevocationReason::Misissuance),
];

/// Evaluate every obliging finding; raise or update `revocation_overdue` findings. Returns how
/// many overdue findings were written.
pub async fn evaluate(store: &StoreHandle, clock: ClockStart, now: i64) -> Result<usize, StoreError> {
    store
        .call(move |s| {
            // What is already recorded: an unchanged verdict is not written again, so its
            // last_seen does not move and alert sinks are not re-notified.
            let existing: std::collections::HashMap<String, (u64, serde_json::Value)> = s
                .findings(&FindingFilter { kind: Some("revocation_overdue".into()), limit: Some(1_000_000), ..Default::default() })?
                .into_iter()
                .map(|f| (f.key, (f.certificate_count, f.evidence["counts"].clone())))
                .collect();
            let mut out = Vec::new();
            for (kind, reason) in OBLIGING {
                let filter = FindingFilter { kind: Some((*kind).to_string()), ..Default::default() };
                for f in s.findings(&filter)? {
                    // Warnings (e.g. lints that are only recommendations) oblige nothing.
                    if f.severity < Severity::Error {
                        continue;
                    }
                    let mut overdue = Vec::new();
                    let mut verdicts = Vec::new();
                    let mut counts = std::collections::BTreeMap::<&str, u64>::new();
                    for cert in s.finding_certificates(f.id)? {
                        let known_at = match clock {
                            ClockStart::Finding => f.first_seen,
                            ClockStart::Issuance => (cert.first_seen_ms / 1000) as i64,
                        };
                        let Some(deadline) =
                            certificate_deadline(*reason, known_at, cert.facts.not_before, cert.facts.not_after)
                        else {
                            *counts.entry("exempt_short_lived").or_default() += 1;
                            continue;
                        };
                        let issuer = cert.issuer_spki_sha256.unwrap_or([0; 32]);
                        let sighting = s.revocation(&issuer, &cert.facts.serial)?.map(|r| RevocationSighting {
                            first_seen_at: r.first_seen_at,
                            revoked_at: r.revoked_at,
                            reason: r.reason,
                            last_unlisted_this_update: None,
                        });
                        let v = verdict(deadline, cert.facts.not_after, sighting.as_ref(), now, reason.crl_reason());
                        let name = match v {
                            RevocationVerdict::OnTime => "on_time",
                            RevocationVerdict::Late { .. } => "late",
                            RevocationVerdict::Unrevoked { .. } => "unrevoked",
                            RevocationVerdict::Pending => "pending",
                            RevocationVerdict::Moot => "moot",
                            RevocationVerdict::WrongReason { .. } => "wrong_reason",
                        };
                        *counts.entry(name).or_default() += 1;
                        if v.is_violation() {
                            overdue.push(cert.identity);
                            if verdicts.len() < 1000 {
                                verdicts.push(serde_json::json!({
                                    "serial": hex::encode(&cert.facts.serial),
                                    "deadline": deadline,
                                    "verdict": v,
                                }));
                            }
                        }
                    }
                    if overdue.is_empty() {
                        continue;
                    }
                    let key = format!("revocation_overdue:{}", f.key);
                    let counts_json = serde_json::to_value(&counts).unwrap_or_default();
                    if existing.get(&key) == Some(&(overdue.len() as u64, counts_json)) {
                        continue;
                    }
                    out.push(NewFinding {
                        key,
                        kind: "revocation_overdue".into(),
                        severity: Severity::Error,
                        ca: f.ca.clone(),
                        issuer: f.issuer.clone(),
                        evidence: serde_json::json!({
                            "source_finding": f.id,
                            "source_kind": kind,
                            "reason": reason,
                            "deadline_hours": reason.allowed_secs() / 3600,
                            "clock_start": match clock { ClockStart::Finding => "finding", ClockStart::Issuance => "issuance" },
                            "counts": counts,
                            "overdue": verdicts,
                        }),
                        certificates: overdue,
                        seen_at: now,
                    });
                }
            }
            let n = out.len();
            s.record_findings(&out)?;
            Ok(n)
        })
        .await
}

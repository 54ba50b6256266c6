//! Accumulates processed entries into one [`CommitBatch`].

use crate::process::{Classified, ProcessedEntry};
use crate::watch::Watchlist;
use ctwatch_ct::Hash;
use ctwatch_store::{CommitBatch, IssuanceIncrement, LogCheckpoint, NewFinding};
use std::collections::HashMap;

/// Entries of one log between two commits.
#[derive(Debug, Default)]
pub struct BatchBuilder {
    entries: Vec<ctwatch_store::EntryRecord>,
    malformed: Vec<ctwatch_store::MalformedEntry>,
    counts: HashMap<(Hash, i64, &'static str), u64>,
    findings: Vec<NewFinding>,
    skipped: u64,
    covered: u64,
    newest_ms: u64,
}

impl BatchBuilder {
    /// Entries covered so far (stored, counted, skipped or malformed).
    pub fn covered(&self) -> u64 {
        self.covered
    }

    pub fn is_empty(&self) -> bool {
        self.covered == 0
    }

    /// The newest entry timestamp covered (ms since the Unix epoch; 0 before any).
    pub fn newest_ms(&self) -> u64 {
        self.newest_ms
    }

    /// Identities of the certificates in this batch.
    pub fn identities(&self) -> std::collections::HashSet<Hash> {
        self.entries.iter().map(|e| e.certificate.identity).collect()
    }

    /// Add findings raised outside entry processing (surges); they get the CA name from the
    /// issuer and the time.
    pub fn add_findings(&mut self, findings: Vec<NewFinding>, watch: &Watchlist, now: i64) {
        self.findings.extend(attributed(findings, watch, now));
    }

    /// Add one processed entry; findings get the CA name and the time.
    pub fn push(&mut self, entry: ProcessedEntry, watch: &Watchlist, now: i64) {
        self.covered += 1;
        self.newest_ms = self.newest_ms.max(entry.timestamp_ms);
        match entry.class {
            Classified::Record(record, findings) => {
                let ca = record
                    .certificate
                    .issuer_spki_sha256
                    .as_ref()
                    .and_then(|i| watch.ca_for(i))
                    .map(|c| c.name.clone());
                for mut f in findings {
                    f.seen_at = now;
                    f.ca = f.ca.or_else(|| ca.clone());
                    f.issuer = f.issuer.or_else(|| record.certificate.issuer_spki_sha256.map(hex::encode));
                    self.findings.push(f);
                }
                self.entries.push(*record);
            }
            Classified::Counted { issuer, hour, validation_type } => {
                *self.counts.entry((issuer, hour, validation_type)).or_default() += 1;
                self.skipped += 1;
            }
            Classified::Skipped => self.skipped += 1,
            Classified::Malformed(m) => self.malformed.push(*m),
        }
    }

    /// The store write for this batch.
    pub fn into_commit(self, log_id: Hash, previous_cursor: u64, checkpoint: LogCheckpoint) -> CommitBatch {
        let issuance = self
            .counts
            .into_iter()
            .map(|((issuer, hour, vt), count)| IssuanceIncrement {
                issuer_spki_sha256: issuer,
                hour,
                validation_type: vt.to_string(),
                count,
            })
            .collect();
        CommitBatch {
            log_id,
            previous_cursor,
            checkpoint,
            entries: self.entries,
            malformed: self.malformed,
            issuance,
            findings: self.findings,
            skipped_entries: self.skipped,
        }
    }
}

/// Findings raised outside entry processing (surges) with the time and, when missing, the CA
/// name from the issuer.
pub fn attributed(findings: Vec<NewFinding>, watch: &Watchlist, now: i64) -> impl Iterator<Item = NewFinding> {
    findings.into_iter().map(move |mut f| {
        f.seen_at = now;
        if f.ca.is_none()
            && let Some(issuer) = f.issuer.as_deref().and_then(|h| hex::decode(h).ok())
            && let Ok(issuer) = <Hash>::try_from(issuer.as_slice())
        {
            f.ca = watch.ca_for(&issuer).map(|c| c.name.clone());
        }
        f
    })
}

//! Conversions between model values and stored column values, shared by both backends: both
//! store `u64` model values in signed 64-bit columns, hashes as 32-byte binary values, enums as
//! lower-case text and certificate facts as optional JSON.

use crate::StoreError;
use crate::model::*;

/// Convert a model `u64` to a stored 64-bit integer, refusing values a BIGINT/INTEGER column cannot hold.
pub(crate) fn to_sql_int(value: u64, what: &str) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|_| StoreError::Other(format!("{what} {value} does not fit a signed 64-bit integer")))
}

/// Convert a stored integer back to a model `u64`; a negative value is corruption.
pub(crate) fn from_sql_int(value: i64, what: &str) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| StoreError::Corrupt(format!("{what} is negative ({value})")))
}

/// A stored 32-byte hash; any other length is corruption.
pub(crate) fn hash_from_blob(bytes: &[u8], what: &str) -> Result<Hash, StoreError> {
    Hash::try_from(bytes).map_err(|_| StoreError::Corrupt(format!("{what} has {} bytes, expected 32", bytes.len())))
}

/// How a log is named in messages: its name, or its ID in hex when it has none.
pub(crate) fn log_label(name: &str, log_id: &Hash) -> String {
    if name.is_empty() { hex::encode(log_id) } else { name.to_string() }
}

pub(crate) fn severity_str(severity: Severity) -> &'static str {
    match severity {
        Severity::Info => "info",
        Severity::Warning => "warning",
        Severity::Error => "error",
        Severity::Critical => "critical",
    }
}

pub(crate) fn parse_severity(text: &str) -> Result<Severity, StoreError> {
    match text {
        "info" => Ok(Severity::Info),
        "warning" => Ok(Severity::Warning),
        "error" => Ok(Severity::Error),
        "critical" => Ok(Severity::Critical),
        other => Err(StoreError::Corrupt(format!("unknown finding severity {other:?}"))),
    }
}

pub(crate) fn status_str(status: FindingStatus) -> &'static str {
    match status {
        FindingStatus::Open => "open",
        FindingStatus::Acknowledged => "acknowledged",
        FindingStatus::Resolved => "resolved",
    }
}

pub(crate) fn parse_status(text: &str) -> Result<FindingStatus, StoreError> {
    match text {
        "open" => Ok(FindingStatus::Open),
        "acknowledged" => Ok(FindingStatus::Acknowledged),
        "resolved" => Ok(FindingStatus::Resolved),
        other => Err(StoreError::Corrupt(format!("unknown finding status {other:?}"))),
    }
}

/// The facts column: `None` when the facts are exactly what `cert_facts(der)` gives (the normal
/// case: they are recomputed on read, which keeps the database near the size of the DER it
/// holds), JSON otherwise (facts supplied by a caller that differ from the DER's).
pub(crate) fn facts_json(cert: &CertificateRecord) -> Result<Option<String>, StoreError> {
    if ctwatch_cert::facts::cert_facts(&cert.der).as_ref() == Ok(&cert.facts) {
        return Ok(None);
    }
    serde_json::to_string(&cert.facts)
        .map(Some)
        .map_err(|e| StoreError::Other(format!("cannot serialize certificate facts: {e}")))
}

/// Read back a facts column written by [`facts_json`]: the stored JSON, or the facts of the DER
/// when none is stored.
pub(crate) fn decode_facts(
    id: i64,
    facts: Option<&str>,
    der: &[u8],
) -> Result<ctwatch_cert::facts::CertFacts, StoreError> {
    match facts {
        Some(text) => serde_json::from_str(text)
            .map_err(|e| StoreError::Corrupt(format!("facts of certificate {id} are not valid: {e}"))),
        None => ctwatch_cert::facts::cert_facts(der)
            .map_err(|e| StoreError::Corrupt(format!("DER of certificate {id} no longer decodes: {e}"))),
    }
}

/// Split a stored peaks value into 32-byte hashes.
pub(crate) fn decode_peaks(blob: &[u8]) -> Result<Vec<Hash>, StoreError> {
    if !blob.len().is_multiple_of(32) {
        return Err(StoreError::Corrupt(format!("peaks blob has {} bytes, not a multiple of 32", blob.len())));
    }
    blob.chunks_exact(32).map(|chunk| hash_from_blob(chunk, "peak")).collect()
}

/// A stored CRL reason code; anything outside `u8` is corruption.
pub(crate) fn reason_from_sql(reason: Option<i64>) -> Result<Option<u8>, StoreError> {
    reason
        .map(|r| u8::try_from(r).map_err(|_| StoreError::Corrupt(format!("CRL reason {r} is out of range"))))
        .transpose()
}

/// Parse stored JSON evidence, naming what it belongs to when it is not valid.
pub(crate) fn evidence_from_sql(text: &str, what: &str) -> Result<serde_json::Value, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("{what} is not valid JSON: {e}")))
}

/// Serialize evidence for storage.
pub(crate) fn evidence_to_sql(evidence: &serde_json::Value, what: &str) -> Result<String, StoreError> {
    serde_json::to_string(evidence).map_err(|e| StoreError::Other(format!("cannot serialize {what}: {e}")))
}

/// A stored optional `u64`.
pub(crate) fn opt_u64(value: Option<i64>, what: &str) -> Result<Option<u64>, StoreError> {
    value.map(|v| from_sql_int(v, what)).transpose()
}

/// A `LIMIT` value: a request above `i64::MAX` means "all".
pub(crate) fn sql_limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

/// Milliseconds in an hour: issuance is counted per hour since the Unix epoch.
pub(crate) const MS_PER_HOUR: u64 = 3_600_000;

/// The issuer key used for issuance counts of certificates whose issuer is unknown.
pub(crate) const UNKNOWN_ISSUER: Hash = [0; 32];

/// The hour since the Unix epoch of a millisecond timestamp (a `u64` divided by 3.6e6 always
/// fits an `i64`).
pub(crate) fn hour_of(timestamp_ms: u64) -> i64 {
    (timestamp_ms / MS_PER_HOUR) as i64
}

/// Check a commit against the log's lease row (`holder`, `epoch`; `None` when the log was never
/// leased), inside the commit's transaction. With a lease: it must belong to this log and still
/// be the row's (same holder, same epoch). Without one: no instance may hold the log.
pub(crate) fn check_lease(
    label: &str,
    log_id: &Hash,
    lease: Option<&LogLease>,
    row: Option<(Option<String>, i64)>,
) -> Result<(), StoreError> {
    let (holder, epoch) = match row {
        Some((holder, epoch)) => (holder, Some(epoch)),
        None => (None, None),
    };
    let Some(lease) = lease else {
        return match holder {
            None => Ok(()),
            Some(holder) => Err(StoreError::LeaseLost { log: label.to_string(), instance: None, holder: Some(holder) }),
        };
    };
    if lease.log_id != *log_id {
        return Err(StoreError::Other(format!(
            "commit for log {label} carries the lease of log {}",
            hex::encode(lease.log_id)
        )));
    }
    let current = holder.as_deref() == Some(lease.instance.as_str())
        && epoch.and_then(|e| u64::try_from(e).ok()) == Some(lease.epoch);
    if current {
        Ok(())
    } else {
        Err(StoreError::LeaseLost { log: label.to_string(), instance: Some(lease.instance.clone()), holder })
    }
}

/// When a lease taken at `now` for `ttl` lapses; refuses an empty instance name, a zero TTL and
/// times beyond `i64`.
pub(crate) fn lease_expiry(instance: &str, ttl: std::time::Duration, now: i64) -> Result<i64, StoreError> {
    if instance.is_empty() {
        return Err(StoreError::Other("a lease needs a non-empty instance name".to_string()));
    }
    if ttl.is_zero() {
        return Err(StoreError::Other("a lease needs a positive time to live".to_string()));
    }
    i64::try_from(ttl.as_secs().max(1))
        .ok()
        .and_then(|ttl| now.checked_add(ttl))
        .ok_or_else(|| StoreError::Other(format!("lease expiry {now} + {ttl:?} does not fit a 64-bit integer")))
}

/// The entry range `[start, end)` a commit writes, checked the way every backend checks it
/// before writing anything.
pub(crate) struct BatchRange<'a> {
    label: &'a str,
    start: u64,
    end: u64,
    /// How error messages name the range ("batch range", "backfill").
    name: &'static str,
}

impl<'a> BatchRange<'a> {
    /// For [`crate::Store::commit`]: the checkpoint is this log's, the batch starts at the
    /// stored cursor (`CursorMismatch` otherwise) and the cursor does not move backwards.
    pub(crate) fn for_commit(label: &'a str, stored_cursor: u64, batch: &CommitBatch) -> Result<Self, StoreError> {
        if batch.checkpoint.log_id != batch.log_id {
            return Err(StoreError::Other(format!(
                "commit for log {label} carries a checkpoint of log {}",
                hex::encode(batch.checkpoint.log_id)
            )));
        }
        if stored_cursor != batch.previous_cursor {
            return Err(StoreError::CursorMismatch {
                log: label.to_string(),
                stored: stored_cursor,
                proposed: batch.checkpoint.cursor,
                batch_start: batch.previous_cursor,
            });
        }
        let (start, end) = (batch.previous_cursor, batch.checkpoint.cursor);
        if end < start {
            return Err(StoreError::Other(format!(
                "commit for log {label} would move the cursor backwards from {start} to {end}"
            )));
        }
        Ok(BatchRange { label, start, end, name: "batch range" })
    }

    /// For [`crate::Store::commit_backfill`]: the range lies entirely below the stored cursor.
    pub(crate) fn for_backfill(label: &'a str, stored_cursor: u64, batch: &CommitBatch) -> Result<Self, StoreError> {
        let (start, end) = (batch.previous_cursor, batch.checkpoint.cursor);
        if end < start || end > stored_cursor {
            return Err(StoreError::Other(format!(
                "backfill of log {label} covers [{start}, {end}) but only entries below the cursor {stored_cursor} can be backfilled"
            )));
        }
        Ok(BatchRange { label, start, end, name: "backfill" })
    }

    /// The end of the range: the cursor after a commit.
    pub(crate) fn end(&self) -> u64 {
        self.end
    }

    /// `index` (of an entry or malformed entry, named by `what`) lies in the range.
    pub(crate) fn check(&self, index: u64, what: &str) -> Result<(), StoreError> {
        let BatchRange { label, start, end, name } = self;
        if (*start..*end).contains(&index) {
            Ok(())
        } else {
            Err(StoreError::Other(format!("{what} {index} of log {label} is outside the {name} [{start}, {end})")))
        }
    }
}

/// Findings with the same key merged into one, in order of first appearance: the certificates
/// of all (first appearance order, without repeats), the latest sighting and the last evidence,
/// which is what upserting them one by one stores. A batch raises one lint finding per
/// certificate under the same key; merged, the finding is written once per commit.
pub(crate) fn merge_findings_by_key(findings: &[NewFinding]) -> Vec<NewFinding> {
    let mut merged: Vec<NewFinding> = Vec::new();
    let mut index: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    let mut linked: Vec<std::collections::HashSet<Hash>> = Vec::new();
    for f in findings {
        match index.get(f.key.as_str()) {
            Some(&i) => {
                let (Some(m), Some(seen)) = (merged.get_mut(i), linked.get_mut(i)) else { continue };
                m.seen_at = m.seen_at.max(f.seen_at);
                m.evidence = f.evidence.clone();
                m.certificates.extend(f.certificates.iter().filter(|c| seen.insert(**c)));
            }
            None => {
                index.insert(&f.key, merged.len());
                let mut first = f.clone();
                let mut seen = std::collections::HashSet::new();
                first.certificates.retain(|c| seen.insert(*c));
                merged.push(first);
                linked.push(seen);
            }
        }
    }
    merged
}

#[cfg(test)]
mod merge_tests {
    use super::*;

    fn finding(key: &str, certificates: &[u8], seen_at: i64, evidence: i64) -> NewFinding {
        NewFinding {
            key: key.into(),
            kind: "lint_violation".into(),
            severity: Severity::Error,
            ca: None,
            issuer: None,
            evidence: serde_json::json!(evidence),
            certificates: certificates.iter().map(|&c| [c; 32]).collect(),
            seen_at,
        }
    }

    #[test]
    fn findings_with_one_key_merge_as_sequential_upserts_would() {
        let merged = merge_findings_by_key(&[
            finding("a", &[1, 2], 10, 1),
            finding("b", &[3], 11, 2),
            finding("a", &[2, 4, 4], 12, 3),
            finding("a", &[], 9, 4),
        ]);
        assert_eq!(merged.len(), 2);
        assert_eq!(merged[0].key, "a");
        assert_eq!(merged[0].certificates, vec![[1; 32], [2; 32], [4; 32]]);
        assert_eq!(merged[0].seen_at, 12);
        assert_eq!(merged[0].evidence, serde_json::json!(4));
        assert_eq!(merged[1].key, "b");
        assert_eq!(merged[1].certificates, vec![[3; 32]]);
        assert!(merge_findings_by_key(&[]).is_empty());
    }
}

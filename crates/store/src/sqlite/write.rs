//! Transactional writes: log registration, batch commits, observations, finding status, and the
//! detectors' writes (findings, compromised keys, CRLs, CAA checks).
//!
//! Every public function here runs in one `IMMEDIATE` transaction through [`in_transaction`]
//! (the write lock is taken at `BEGIN`, so a conflicting writer waits for the busy timeout instead
//! of failing mid-way) and returns an error before `COMMIT` on any problem; dropping the
//! transaction rolls everything back. Findings are written by one function, [`upsert_findings`],
//! whichever call they come with.

use super::{from_sql_int, log_label, severity_str, status_str, to_sql_int};
use crate::StoreError;
use crate::columns::{BatchRange, UNKNOWN_ISSUER, facts_json, hour_of};
use crate::model::*;
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, ffi, params};
use std::collections::HashMap;

/// A registered log's row, as the writers need it.
struct LogRow {
    id: i64,
    name: String,
    cursor: u64,
}

/// Run `write` in one `IMMEDIATE` transaction: commit when it succeeds, roll back (by dropping
/// the transaction) when it fails.
fn in_transaction<T>(
    conn: &mut Connection,
    write: impl FnOnce(&Transaction<'_>) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let value = write(&tx)?;
    tx.commit()?;
    Ok(value)
}

/// Register a log (or refresh its name and URL) and return its checkpoint.
pub(super) fn open_log(conn: &mut Connection, log: &LogIdentity) -> Result<LogCheckpoint, StoreError> {
    let checkpoint = in_transaction(conn, |tx| {
        tx.prepare_cached(
            "INSERT INTO logs (log_id, name, url, updated_at) VALUES (?1, ?2, ?3, unixepoch())
             ON CONFLICT (log_id) DO UPDATE SET name = excluded.name, url = excluded.url",
        )?
        .execute(params![&log.log_id[..], log.name, log.url])?;
        super::read::checkpoint(tx, &log.log_id)
    })?;
    checkpoint.ok_or_else(|| StoreError::Other(format!("log {} vanished after registration", log.name)))
}

/// Write a batch and move the log's cursor, in one transaction.
///
/// With a lease, the transaction first checks that the lease is still the log's (see
/// [`crate::Store::commit_leased`]); without one, that no instance holds the log.
pub(super) fn commit(
    conn: &mut Connection,
    batch: &CommitBatch,
    lease: Option<&LogLease>,
) -> Result<CommitOutcome, StoreError> {
    in_transaction(conn, |tx| commit_in(tx, batch, lease))
}

fn commit_in(tx: &Transaction<'_>, batch: &CommitBatch, lease: Option<&LogLease>) -> Result<CommitOutcome, StoreError> {
    let log = find_log(tx, &batch.log_id)?;
    let label = log_label(&log.name, &batch.log_id);
    let holder: Option<(Option<String>, i64)> = tx
        .prepare_cached("SELECT holder, epoch FROM log_leases WHERE log_id = ?1")?
        .query_row([&batch.log_id[..]], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()?;
    crate::columns::check_lease(&label, &batch.log_id, lease, holder)?;
    let range = BatchRange::for_commit(&label, log.cursor, batch)?;
    let end = range.end();
    let in_range = |index: u64, what: &str| range.check(index, what);

    let mut outcome = CommitOutcome::default();
    // Issuance increments, merged before touching the table: the monitor's counts for unstored
    // entries plus one per certificate this batch stores for the first time.
    let mut issuance: HashMap<(Hash, i64, &str), u64> = HashMap::new();
    for inc in &batch.issuance {
        *issuance.entry((inc.issuer_spki_sha256, inc.hour, inc.validation_type.as_str())).or_default() += inc.count;
    }

    let mut insert_entry = tx.prepare_cached(
        "INSERT INTO log_entries (log_ref, idx, cert_id, timestamp_ms, is_precert, leaf_hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    for entry in &batch.entries {
        in_range(entry.index, "entry")?;
        let (cert_id, inserted) = upsert_certificate(tx, entry)?;
        if inserted {
            outcome.new_certificates += 1;
            let cert = &entry.certificate;
            let issuer = cert.issuer_spki_sha256.unwrap_or(UNKNOWN_ISSUER);
            let hour = hour_of(entry.timestamp_ms);
            *issuance.entry((issuer, hour, cert.facts.validation_type.as_str())).or_default() += 1;
        }
        let index = to_sql_int(entry.index, "entry index")?;
        let timestamp = to_sql_int(entry.timestamp_ms, "entry timestamp")?;
        insert_entry
            .execute(params![log.id, index, cert_id, timestamp, entry.is_precert, &entry.leaf_hash[..]])
            .map_err(|e| duplicate_or(e, || format!("entry {} of log {label} is already stored", entry.index)))?;
        outcome.new_entries += 1;
    }

    let mut add_issuance = tx.prepare_cached(
        "INSERT INTO issuance_hourly (issuer_spki, hour, validation_type, count)
         VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (issuer_spki, hour, validation_type) DO UPDATE SET count = count + excluded.count",
    )?;
    for ((issuer, hour, validation_type), count) in &issuance {
        let count = to_sql_int(*count, "issuance count")?;
        add_issuance.execute(params![&issuer[..], hour, validation_type, count])?;
    }

    let mut insert_malformed = tx.prepare_cached(
        "INSERT INTO malformed_entries (log_ref, idx, leaf_hash, error, leaf_input, extra_data)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    for m in &batch.malformed {
        if m.log_id != batch.log_id {
            return Err(StoreError::Other(format!(
                "malformed entry {} in the commit for log {label} belongs to log {}",
                m.index,
                hex::encode(m.log_id)
            )));
        }
        in_range(m.index, "malformed entry")?;
        let index = to_sql_int(m.index, "malformed entry index")?;
        insert_malformed
            .execute(params![log.id, index, &m.leaf_hash[..], m.error, m.leaf_input, m.extra_data])
            .map_err(|e| duplicate_or(e, || format!("malformed entry {} of log {label} is already stored", m.index)))?;
    }

    outcome.new_findings = upsert_findings(tx, &batch.findings)?;

    let stored = to_sql_int(batch.entries.len() as u64, "entry count")?;
    let skipped = to_sql_int(batch.skipped_entries, "skipped entry count")?;
    let peaks: Vec<u8> = batch.checkpoint.peaks.concat();
    tx.prepare_cached(
        "UPDATE logs SET cursor = ?2, peaks = ?3, entries_stored = entries_stored + ?4,
                entries_skipped = entries_skipped + ?5, position_ms = max(position_ms, ?6), updated_at = unixepoch()
         WHERE id = ?1",
    )?
    .execute(params![
        log.id,
        to_sql_int(end, "cursor")?,
        peaks,
        stored,
        skipped,
        to_sql_int(batch.checkpoint.position_ms, "log position")?
    ])?;
    if let Some(head) = &batch.checkpoint.verified_head {
        set_verified_head(tx, log.id, head)?;
    }
    Ok(outcome)
}

/// Write a backfilled batch below the cursor, in one transaction (see
/// [`crate::Store::commit_backfill`]).
pub(super) fn commit_backfill(
    conn: &mut Connection,
    batch: &CommitBatch,
    count_issuance: bool,
) -> Result<CommitOutcome, StoreError> {
    in_transaction(conn, |tx| {
        let log = find_log(tx, &batch.log_id)?;
        let label = log_label(&log.name, &batch.log_id);
        let range = BatchRange::for_backfill(&label, log.cursor, batch)?;
        let in_range = |index: u64, what: &str| range.check(index, what);
        let mut outcome = CommitOutcome::default();
        let mut issuance: HashMap<(Hash, i64, &str), u64> = HashMap::new();
        for entry in &batch.entries {
            in_range(entry.index, "entry")?;
            let index = to_sql_int(entry.index, "entry index")?;
            let timestamp = to_sql_int(entry.timestamp_ms, "entry timestamp")?;
            let (cert_id, inserted) = upsert_certificate(tx, entry)?;
            if inserted {
                outcome.new_certificates += 1;
                if count_issuance {
                    let cert = &entry.certificate;
                    let issuer = cert.issuer_spki_sha256.unwrap_or(UNKNOWN_ISSUER);
                    let hour = hour_of(entry.timestamp_ms);
                    *issuance.entry((issuer, hour, cert.facts.validation_type.as_str())).or_default() += 1;
                }
            }
            let added = tx
                .prepare_cached(
                    "INSERT INTO log_entries (log_ref, idx, cert_id, timestamp_ms, is_precert, leaf_hash)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING",
                )?
                .execute(params![log.id, index, cert_id, timestamp, entry.is_precert, &entry.leaf_hash[..]])?;
            outcome.new_entries += added as u64;
        }
        for ((issuer, hour, validation_type), count) in &issuance {
            let count = to_sql_int(*count, "issuance count")?;
            tx.prepare_cached(
                "INSERT INTO issuance_hourly (issuer_spki, hour, validation_type, count)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (issuer_spki, hour, validation_type) DO UPDATE SET count = count + excluded.count",
            )?
            .execute(params![&issuer[..], hour, validation_type, count])?;
        }
        for m in &batch.malformed {
            in_range(m.index, "malformed entry")?;
            let index = to_sql_int(m.index, "malformed entry index")?;
            tx.prepare_cached(
                "INSERT INTO malformed_entries (log_ref, idx, leaf_hash, error, leaf_input, extra_data)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING",
            )?
            .execute(params![log.id, index, &m.leaf_hash[..], m.error, m.leaf_input, m.extra_data])?;
        }
        outcome.new_findings = upsert_findings(tx, &batch.findings)?;
        Ok(outcome)
    })
}

/// Insert the entry's certificate or merge it into the stored one with the same identity.
/// Returns the certificate's id and whether it was inserted now.
///
/// Merging sets `has_precert`/`has_final`, fills in an unknown issuer and keeps the earliest
/// timestamp; when the first final certificate arrives for a stored precertificate, the final
/// certificate's DER, facts and key hashes replace the precertificate's (the final one is what a
/// relying party sees). A new certificate starts with its CAA check pending.
fn upsert_certificate(tx: &Transaction<'_>, entry: &EntryRecord) -> Result<(i64, bool), StoreError> {
    let cert = &entry.certificate;
    let timestamp = to_sql_int(entry.timestamp_ms, "entry timestamp")?;
    let issuer = cert.issuer_spki_sha256.as_ref().map(|h| &h[..]);
    let existing = tx
        .prepare_cached(
            "SELECT id, has_precert, has_final, issuer_spki IS NULL, first_seen_ms
             FROM certificates WHERE identity = ?1",
        )?
        .query_row([&cert.identity[..]], |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, bool>(1)?,
                row.get::<_, bool>(2)?,
                row.get::<_, bool>(3)?,
                row.get::<_, i64>(4)?,
            ))
        })
        .optional()?;

    let Some((id, has_precert, has_final, issuer_unknown, first_seen)) = existing else {
        let facts = facts_json(cert)?;
        tx.prepare_cached(
            "INSERT INTO certificates (identity, issuer_spki, serial, not_before, not_after, subject,
                                       has_precert, has_final, der, facts, first_seen_ms,
                                       spki_sha256, key_material)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
        )?
        .execute(params![
            &cert.identity[..],
            issuer,
            cert.facts.serial,
            cert.facts.not_before,
            cert.facts.not_after,
            cert.facts.subject,
            cert.is_precert,
            !cert.is_precert,
            cert.der,
            facts,
            timestamp,
            &cert.facts.spki_sha256[..],
            cert.facts.key_material_sha256.as_ref().map(|h| &h[..]),
        ])?;
        return Ok((tx.last_insert_rowid(), true));
    };

    if !cert.is_precert && !has_final {
        let facts = facts_json(cert)?;
        tx.prepare_cached(
            "UPDATE certificates SET serial = ?2, not_before = ?3, not_after = ?4, subject = ?5,
                    has_final = 1, der = ?6, facts = ?7, issuer_spki = coalesce(issuer_spki, ?8),
                    first_seen_ms = min(first_seen_ms, ?9), spki_sha256 = ?10, key_material = ?11
             WHERE id = ?1",
        )?
        .execute(params![
            id,
            cert.facts.serial,
            cert.facts.not_before,
            cert.facts.not_after,
            cert.facts.subject,
            cert.der,
            facts,
            issuer,
            timestamp,
            &cert.facts.spki_sha256[..],
            cert.facts.key_material_sha256.as_ref().map(|h| &h[..]),
        ])?;
    } else if (cert.is_precert && !has_precert) || (issuer_unknown && issuer.is_some()) || timestamp < first_seen {
        tx.prepare_cached(
            "UPDATE certificates SET has_precert = has_precert | ?2,
                    issuer_spki = coalesce(issuer_spki, ?3), first_seen_ms = min(first_seen_ms, ?4)
             WHERE id = ?1",
        )?
        .execute(params![id, cert.is_precert, issuer, timestamp])?;
    }
    Ok((id, false))
}

/// Insert findings or merge them into stored ones with the same key; returns how many are new.
///
/// A new finding starts `open` with `first_seen = last_seen = seen_at`. A known one keeps its
/// status, severity and first sighting, moves `last_seen` forward and takes the new evidence.
/// Certificates are linked by identity (each must be stored already) and `certificate_count`
/// grows by the links that are new. Findings with the same key are merged first.
fn upsert_findings(tx: &Transaction<'_>, findings: &[NewFinding]) -> Result<u64, StoreError> {
    let mut new = 0;
    for finding in &crate::columns::merge_findings_by_key(findings) {
        let evidence = serde_json::to_string(&finding.evidence)
            .map_err(|e| StoreError::Other(format!("cannot serialize finding evidence: {e}")))?;
        let existing: Option<i64> = tx
            .prepare_cached("SELECT id FROM findings WHERE key = ?1")?
            .query_row([&finding.key], |row| row.get(0))
            .optional()?;
        let id = match existing {
            Some(id) => {
                tx.prepare_cached("UPDATE findings SET last_seen = max(last_seen, ?2), evidence = ?3 WHERE id = ?1")?
                    .execute(params![id, finding.seen_at, evidence])?;
                id
            }
            None => {
                tx.prepare_cached(
                    "INSERT INTO findings (key, kind, severity, ca, issuer, evidence, first_seen,
                                           last_seen, status, certificate_count)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, ?8, 0)",
                )?
                .execute(params![
                    finding.key,
                    finding.kind,
                    severity_str(finding.severity),
                    finding.ca,
                    finding.issuer,
                    evidence,
                    finding.seen_at,
                    status_str(FindingStatus::Open),
                ])?;
                new += 1;
                tx.last_insert_rowid()
            }
        };
        if finding.certificates.is_empty() {
            continue;
        }
        let mut cert_id = tx.prepare_cached("SELECT id FROM certificates WHERE identity = ?1")?;
        let mut link =
            tx.prepare_cached("INSERT OR IGNORE INTO finding_certificates (finding_id, cert_id) VALUES (?1, ?2)")?;
        let mut linked = 0i64;
        for identity in &finding.certificates {
            let cert: i64 = cert_id.query_row([&identity[..]], |row| row.get(0)).optional()?.ok_or_else(|| {
                StoreError::NotFound(format!(
                    "certificate {} of finding {} is not stored",
                    hex::encode(identity),
                    finding.key
                ))
            })?;
            linked += link.execute(params![id, cert])? as i64;
        }
        // certificate_count = pruned_certificates + links, kept without recounting the links.
        tx.prepare_cached("UPDATE findings SET certificate_count = certificate_count + ?2 WHERE id = ?1")?
            .execute([id, linked])?;
    }
    Ok(new)
}

/// Record what was seen of a log outside a commit, in one transaction.
pub(super) fn record_observation(conn: &mut Connection, obs: &LogObservation) -> Result<(), StoreError> {
    in_transaction(conn, |tx| {
        let log = find_log(tx, &obs.log_id)?;
        let size = obs.seen_tree_size.map(|s| to_sql_int(s, "seen tree size")).transpose()?;
        let timestamp = obs.seen_timestamp_ms.map(|t| to_sql_int(t, "seen timestamp")).transpose()?;
        let position = obs.position_ms.map(|t| to_sql_int(t, "log position")).transpose()?;
        tx.prepare_cached(
            "UPDATE logs SET seen_size = coalesce(?2, seen_size),
                    seen_timestamp = coalesce(?3, seen_timestamp),
                    position_ms = max(position_ms, coalesce(?4, 0)), updated_at = unixepoch()
             WHERE id = ?1",
        )?
        .execute(params![log.id, size, timestamp, position])?;
        if let Some(head) = &obs.verified_head {
            set_verified_head(tx, log.id, head)?;
        }
        upsert_findings(tx, &obs.findings)?;
        Ok(())
    })
}

/// Insert or merge findings that came without a commit; returns how many are new.
pub(super) fn record_findings(conn: &mut Connection, findings: &[NewFinding]) -> Result<u64, StoreError> {
    in_transaction(conn, |tx| upsert_findings(tx, findings))
}

/// Add compromised keys and findings in one transaction; returns how many keys were new.
///
/// A key already known from the same source is left as it is (its first `learned_at` and
/// evidence stay), except that a missing key-material hash is filled in.
pub(super) fn add_compromised_keys(
    conn: &mut Connection,
    keys: &[CompromisedKeyRecord],
    findings: &[NewFinding],
) -> Result<u64, StoreError> {
    in_transaction(conn, |tx| {
        let mut insert = tx.prepare_cached(
            "INSERT INTO compromised_keys (spki_sha256, material_sha256, source, learned_at, evidence)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (spki_sha256, source) DO NOTHING",
        )?;
        let mut fill_material = tx.prepare_cached(
            "UPDATE compromised_keys SET material_sha256 = ?3
             WHERE spki_sha256 = ?1 AND source = ?2 AND material_sha256 IS NULL",
        )?;
        let mut new = 0;
        for key in keys {
            let evidence = serde_json::to_string(&key.evidence)
                .map_err(|e| StoreError::Other(format!("cannot serialize compromised-key evidence: {e}")))?;
            let material = key.material_sha256.as_ref().map(|h| &h[..]);
            let inserted =
                insert.execute(params![&key.spki_sha256[..], material, key.source, key.learned_at, evidence])?;
            if inserted > 0 {
                new += 1;
            } else if material.is_some() {
                fill_material.execute(params![&key.spki_sha256[..], key.source, material])?;
            }
        }
        upsert_findings(tx, findings)?;
        Ok(new)
    })
}

/// Record a CRL's state, its entries and findings in one transaction.
///
/// The URL's state is replaced. A revocation already stored keeps its first sighting
/// (`first_seen_at` and the `crl_url` of that sighting, the earlier of the two if an older
/// sighting arrives late) and takes the revocation date and reason of this CRL.
pub(super) fn record_crl(conn: &mut Connection, crl: &CrlRecord, findings: &[NewFinding]) -> Result<(), StoreError> {
    in_transaction(conn, |tx| {
        let state = &crl.state;
        tx.prepare_cached(
            "INSERT INTO crl_state (url, issuer_spki, crl_number, this_update, next_update, fetched_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (url) DO UPDATE SET issuer_spki = excluded.issuer_spki,
                 crl_number = excluded.crl_number, this_update = excluded.this_update,
                 next_update = excluded.next_update, fetched_at = excluded.fetched_at",
        )?
        .execute(params![
            state.url,
            &state.issuer_spki_sha256[..],
            state.crl_number,
            state.this_update,
            state.next_update,
            state.fetched_at,
        ])?;
        let mut upsert = tx.prepare_cached(
            "INSERT INTO revocations (issuer_spki, serial, revoked_at, reason, first_seen_at, crl_url)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (issuer_spki, serial) DO UPDATE SET
                 revoked_at = excluded.revoked_at,
                 reason = excluded.reason,
                 crl_url = CASE WHEN excluded.first_seen_at < first_seen_at THEN excluded.crl_url
                                ELSE crl_url END,
                 first_seen_at = min(first_seen_at, excluded.first_seen_at)",
        )?;
        for entry in &crl.entries {
            upsert.execute(params![
                &entry.issuer_spki_sha256[..],
                entry.serial,
                entry.revoked_at,
                entry.reason,
                entry.first_seen_at,
                entry.crl_url,
            ])?;
        }
        upsert_findings(tx, findings)?;
        Ok(())
    })
}

/// Mark certificates CAA-checked at `checked_at` (leave them pending when `None`) and record
/// findings, in one transaction. An unknown certificate id is `NotFound` and writes nothing.
pub(super) fn record_caa(
    conn: &mut Connection,
    cert_ids: &[i64],
    checked_at: Option<i64>,
    findings: &[NewFinding],
) -> Result<(), StoreError> {
    in_transaction(conn, |tx| {
        let mut mark = tx.prepare_cached("UPDATE certificates SET caa_checked_at = ?2 WHERE id = ?1")?;
        let mut exists = tx.prepare_cached("SELECT 1 FROM certificates WHERE id = ?1")?;
        for &id in cert_ids {
            let found = match checked_at {
                Some(at) => mark.execute(params![id, at])? > 0,
                None => exists.exists([id])?,
            };
            if !found {
                return Err(StoreError::NotFound(format!("certificate {id}")));
            }
        }
        upsert_findings(tx, findings)?;
        Ok(())
    })
}

/// Change a finding's status; `NotFound` when there is no such finding.
pub(super) fn set_finding_status(conn: &Connection, id: i64, status: FindingStatus) -> Result<(), StoreError> {
    let changed = conn
        .prepare_cached("UPDATE findings SET status = ?2 WHERE id = ?1")?
        .execute(params![id, status_str(status)])?;
    if changed == 0 {
        return Err(StoreError::NotFound(format!("finding {id}")));
    }
    Ok(())
}

/// Record that `sink` acknowledged a finding as it was at `last_seen` with `status`, at `at`
/// (replacing an earlier acknowledgement); `NotFound` when there is no such finding.
pub(super) fn mark_delivered(
    conn: &mut Connection,
    sink: &str,
    finding_id: i64,
    last_seen: i64,
    status: FindingStatus,
    at: i64,
) -> Result<(), StoreError> {
    in_transaction(conn, |tx| {
        let exists = tx
            .prepare_cached("SELECT 1 FROM findings WHERE id = ?1")?
            .query_row([finding_id], |_| Ok(()))
            .optional()?
            .is_some();
        if !exists {
            return Err(StoreError::NotFound(format!("finding {finding_id}")));
        }
        tx.prepare_cached(
            "INSERT INTO sink_deliveries (sink, finding_id, last_seen, status, delivered_at)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (sink, finding_id) DO UPDATE SET last_seen = excluded.last_seen,
                 status = excluded.status, delivered_at = excluded.delivered_at",
        )?
        .execute(params![sink, finding_id, last_seen, status_str(status), at])?;
        Ok(())
    })
}

/// Take or renew a log's lease (see [`crate::Store::acquire_log_lease`]) in one statement: the
/// upsert's `WHERE` lets it through only when the lease is free, lapsed or already `instance`'s.
pub(super) fn acquire_log_lease(
    conn: &mut Connection,
    log_id: &Hash,
    instance: &str,
    ttl: std::time::Duration,
    now: i64,
) -> Result<Option<LogLease>, StoreError> {
    let expires_at = crate::columns::lease_expiry(instance, ttl, now)?;
    in_transaction(conn, |tx| {
        let granted: Option<i64> = tx
            .prepare_cached(
                "INSERT INTO log_leases (log_id, holder, epoch, expires_at) VALUES (?1, ?2, 1, ?3)
                 ON CONFLICT (log_id) DO UPDATE SET
                     epoch = CASE WHEN holder IS excluded.holder THEN epoch ELSE epoch + 1 END,
                     holder = excluded.holder, expires_at = excluded.expires_at
                 WHERE holder IS NULL OR holder = excluded.holder OR expires_at <= ?4
                 RETURNING epoch",
            )?
            .query_row(params![&log_id[..], instance, expires_at, now], |row| row.get(0))
            .optional()?;
        granted
            .map(|epoch| {
                Ok(LogLease {
                    log_id: *log_id,
                    instance: instance.to_string(),
                    epoch: from_sql_int(epoch, "lease epoch")?,
                    expires_at,
                })
            })
            .transpose()
    })
}

/// Release `instance`'s lease of a log; returns whether it held it.
pub(super) fn release_log_lease(conn: &mut Connection, log_id: &Hash, instance: &str) -> Result<bool, StoreError> {
    let changed = conn
        .prepare_cached("UPDATE log_leases SET holder = NULL WHERE log_id = ?1 AND holder = ?2")?
        .execute(params![&log_id[..], instance])?;
    Ok(changed > 0)
}

/// Delete up to `limit` certificates whose notAfter is before `not_after_before`, earliest
/// first, with their log entries and finding links, in one transaction. Each finding that
/// loses a link counts it in `pruned_certificates`, so its `certificate_count` stays.
pub(super) fn prune_certificates(
    conn: &mut Connection,
    not_after_before: i64,
    limit: usize,
) -> Result<PruneStats, StoreError> {
    in_transaction(conn, |tx| {
        let ids = tx
            .prepare_cached("SELECT id FROM certificates WHERE not_after < ?1 ORDER BY not_after, id LIMIT ?2")?
            .query_map(params![not_after_before, crate::columns::sql_limit(limit)], |row| row.get(0))?
            .collect::<Result<Vec<i64>, _>>()?;
        let mut entries = tx.prepare_cached("DELETE FROM log_entries WHERE cert_id = ?1")?;
        let mut count_pruned = tx.prepare_cached(
            "UPDATE findings SET pruned_certificates = pruned_certificates + 1
             WHERE id IN (SELECT finding_id FROM finding_certificates WHERE cert_id = ?1)",
        )?;
        let mut links = tx.prepare_cached("DELETE FROM finding_certificates WHERE cert_id = ?1")?;
        let mut certificate = tx.prepare_cached("DELETE FROM certificates WHERE id = ?1")?;
        let mut stats = PruneStats::default();
        for id in ids {
            stats.entries += entries.execute([id])? as u64;
            count_pruned.execute([id])?;
            stats.finding_links += links.execute([id])? as u64;
            stats.certificates += certificate.execute([id])? as u64;
        }
        Ok(stats)
    })
}

/// Store a verified tree head unless a larger one is already stored: the verified head only
/// moves forward (an equal size replaces it, so a newer timestamp of the same tree is kept).
fn set_verified_head(tx: &Transaction<'_>, log_ref: i64, head: &VerifiedHead) -> Result<(), StoreError> {
    let size = to_sql_int(head.tree_size, "verified tree size")?;
    let timestamp = to_sql_int(head.timestamp_ms, "verified timestamp")?;
    tx.prepare_cached(
        "UPDATE logs SET verified_size = ?2, verified_timestamp = ?3, verified_root = ?4,
                verified_signature = ?5
         WHERE id = ?1 AND (verified_size IS NULL OR verified_size <= ?2)",
    )?
    .execute(params![log_ref, size, timestamp, &head.root_hash[..], head.signature])?;
    Ok(())
}

fn find_log(tx: &Transaction<'_>, log_id: &Hash) -> Result<LogRow, StoreError> {
    let row = tx
        .prepare_cached("SELECT id, name, cursor FROM logs WHERE log_id = ?1")?
        .query_row([&log_id[..]], |row| Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?, row.get::<_, i64>(2)?)))
        .optional()?;
    let Some((id, name, cursor)) = row else {
        return Err(StoreError::NotFound(format!("log {} is not registered", hex::encode(log_id))));
    };
    Ok(LogRow { id, cursor: from_sql_int(cursor, "log cursor")?, name })
}

/// Turn a uniqueness violation into a clear error (a duplicate means a monitor bug); pass other
/// errors through.
fn duplicate_or(error: rusqlite::Error, message: impl FnOnce() -> String) -> StoreError {
    let duplicate = matches!(
        &error,
        rusqlite::Error::SqliteFailure(e, _)
            if e.extended_code == ffi::SQLITE_CONSTRAINT_PRIMARYKEY
                || e.extended_code == ffi::SQLITE_CONSTRAINT_UNIQUE
    );
    if duplicate { StoreError::Other(message()) } else { StoreError::Sqlite(error) }
}

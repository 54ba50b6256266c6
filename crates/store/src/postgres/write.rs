//! Transactional writes on PostgreSQL, with the same semantics as the SQLite backend's
//! (`crate::sqlite::write`): every function runs in one transaction through
//! [`in_transaction`], which commits on success, rolls back on any error and retries a
//! transaction PostgreSQL aborted as a deadlock victim or serialization failure.
//!
//! Bulk rows (certificates, log entries, issuance counts, revocations) go in one multi-row
//! `INSERT … SELECT FROM unnest(arrays) … ON CONFLICT` each: one round trip per table and batch,
//! whatever the batch size. A multi-row `ON CONFLICT DO UPDATE` may not touch a row twice, so
//! rows with the same key are merged in memory first, with the merge rules the row-by-row
//! SQLite backend applies.

use super::{pg_text, read};
use crate::StoreError;
use crate::columns::{
    BatchRange, UNKNOWN_ISSUER, check_lease, evidence_to_sql, facts_json, from_sql_int, hour_of, lease_expiry,
    log_label, severity_str, sql_limit, status_str, to_sql_int,
};
use crate::model::*;
use postgres::{Client, Transaction};
use std::collections::{HashMap, HashSet};
use std::time::Duration;

/// How often a transaction aborted by a deadlock or serialization failure is retried.
const RETRIES: u32 = 5;

/// Unix seconds on the server, as SQLite's `unixepoch()`.
const NOW_SECS: &str = "floor(extract(epoch FROM now()))::bigint";

/// A registered log's row, as the writers need it.
struct LogRow {
    id: i64,
    name: String,
    cursor: u64,
}

/// Run `write` in one transaction: commit when it succeeds, roll back (by dropping the
/// transaction) when it fails. Deadlock victims (SQLSTATE 40P01) and serialization failures
/// (40001) are retried from the start, up to [`RETRIES`] times.
pub(super) fn in_transaction<T>(
    client: &mut Client,
    mut write: impl FnMut(&mut Transaction<'_>) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    let mut attempt = 0;
    loop {
        let result = (|| {
            let mut tx = client.transaction()?;
            let value = write(&mut tx)?;
            tx.commit()?;
            Ok(value)
        })();
        match result {
            Err(StoreError::Postgres { sqlstate: Some(code), .. })
                if (code == "40P01" || code == "40001") && attempt < RETRIES =>
            {
                attempt += 1;
            }
            other => return other,
        }
    }
}

/// Register a log (or refresh its name and URL) and return its checkpoint.
pub(super) fn open_log(client: &mut Client, log: &LogIdentity) -> Result<LogCheckpoint, StoreError> {
    let checkpoint = in_transaction(client, |tx| {
        tx.execute(
            &format!(
                "INSERT INTO logs (log_id, name, url, updated_at) VALUES ($1, $2, $3, {NOW_SECS})
                 ON CONFLICT (log_id) DO UPDATE SET name = excluded.name, url = excluded.url"
            ),
            &[&&log.log_id[..], &pg_text(&log.name), &pg_text(&log.url)],
        )?;
        read::checkpoint(tx, &log.log_id)
    })?;
    checkpoint.ok_or_else(|| StoreError::Other(format!("log {} vanished after registration", log.name)))
}

/// Write a batch and move the log's cursor, in one transaction (see
/// [`crate::Store::commit`] and [`crate::Store::commit_leased`]).
pub(super) fn commit(
    client: &mut Client,
    batch: &CommitBatch,
    lease: Option<&LogLease>,
) -> Result<CommitOutcome, StoreError> {
    in_transaction(client, |tx| commit_in(tx, batch, lease))
}

/// A certificate of the batch with every entry of it merged, as the row-by-row backend would
/// have left it after the batch's entries.
struct MergedCertificate<'a> {
    /// The first entry carrying it: its issuer, hour and validation type are what issuance is
    /// counted under when the certificate is new.
    first: &'a EntryRecord,
    /// Where DER, serial, validity, subject, facts and key hashes come from: the first final
    /// certificate, else the first precertificate.
    source: &'a CertificateRecord,
    has_precert: bool,
    has_final: bool,
    /// The first known issuer in batch order.
    issuer: Option<Hash>,
    first_seen_ms: i64,
}

/// Merge the entries of the same certificate (by identity), in batch order, as the row-by-row
/// backend would have left the certificate after all of them.
fn merge_certificates(entries: &[EntryRecord]) -> Result<Vec<MergedCertificate<'_>>, StoreError> {
    let mut merged: Vec<MergedCertificate<'_>> = Vec::new();
    let mut by_identity: HashMap<Hash, usize> = HashMap::new();
    for entry in entries {
        let cert = &entry.certificate;
        let timestamp = to_sql_int(entry.timestamp_ms, "entry timestamp")?;
        match by_identity.get(&cert.identity).and_then(|&i| merged.get_mut(i)) {
            Some(m) => {
                if !cert.is_precert && !m.has_final {
                    m.source = cert;
                }
                m.has_precert |= cert.is_precert;
                m.has_final |= !cert.is_precert;
                m.issuer = m.issuer.or(cert.issuer_spki_sha256);
                m.first_seen_ms = m.first_seen_ms.min(timestamp);
            }
            None => {
                by_identity.insert(cert.identity, merged.len());
                merged.push(MergedCertificate {
                    first: entry,
                    source: cert,
                    has_precert: cert.is_precert,
                    has_final: !cert.is_precert,
                    issuer: cert.issuer_spki_sha256,
                    first_seen_ms: timestamp,
                });
            }
        }
    }
    Ok(merged)
}

fn commit_in(
    tx: &mut Transaction<'_>,
    batch: &CommitBatch,
    lease: Option<&LogLease>,
) -> Result<CommitOutcome, StoreError> {
    let log = find_log(tx, &batch.log_id, true)?;
    let label = log_label(&log.name, &batch.log_id);
    let lease_row = tx
        .query_opt("SELECT holder, epoch FROM log_leases WHERE log_id = $1 FOR SHARE", &[&&batch.log_id[..]])?
        .map(|row| -> Result<(Option<String>, i64), StoreError> { Ok((row.try_get(0)?, row.try_get(1)?)) })
        .transpose()?;
    check_lease(&label, &batch.log_id, lease, lease_row)?;
    let range = BatchRange::for_commit(&label, log.cursor, batch)?;
    let end = range.end();
    let in_range = |index: u64, what: &str| range.check(index, what);
    let end_sql = to_sql_int(end, "cursor")?;

    // Check every entry before writing anything, and merge entries of the same certificate.
    let mut seen_indexes = HashSet::new();
    for entry in &batch.entries {
        in_range(entry.index, "entry")?;
        if !seen_indexes.insert(entry.index) {
            return Err(StoreError::Other(format!("entry {} of log {label} is already stored", entry.index)));
        }
    }
    let merged = merge_certificates(&batch.entries)?;

    let mut outcome = CommitOutcome::default();
    let mut issuance: HashMap<(Hash, i64, String), u64> = HashMap::new();
    for inc in &batch.issuance {
        *issuance.entry((inc.issuer_spki_sha256, inc.hour, inc.validation_type.clone())).or_default() += inc.count;
    }

    let cert_ids = upsert_certificates(tx, &merged)?;
    for m in &merged {
        let Some(&(_, inserted)) = cert_ids.get(&m.source.identity) else {
            return Err(StoreError::Other(format!("certificate {} was not written", hex::encode(m.source.identity))));
        };
        if inserted {
            outcome.new_certificates += 1;
            let cert = &m.first.certificate;
            let issuer = cert.issuer_spki_sha256.unwrap_or(UNKNOWN_ISSUER);
            let key = (issuer, hour_of(m.first.timestamp_ms), cert.facts.validation_type.as_str().to_string());
            *issuance.entry(key).or_default() += 1;
        }
    }

    let inserted = insert_entries(tx, log.id, &label, &batch.entries, &cert_ids)?;
    if let Some(entry) = batch.entries.iter().find(|e| !inserted.contains(&e.index)) {
        return Err(StoreError::Other(format!("entry {} of log {label} is already stored", entry.index)));
    }
    outcome.new_entries = inserted.len() as u64;

    add_issuance(tx, issuance)?;
    insert_malformed(tx, batch, log.id, &label, &in_range, StoredRows::Refuse)?;
    outcome.new_findings = upsert_findings(tx, &batch.findings)?;

    let stored = to_sql_int(batch.entries.len() as u64, "entry count")?;
    let skipped = to_sql_int(batch.skipped_entries, "skipped entry count")?;
    let peaks: Vec<u8> = batch.checkpoint.peaks.concat();
    tx.execute(
        &format!(
            "UPDATE logs SET cursor = $2, peaks = $3, entries_stored = entries_stored + $4,
                    entries_skipped = entries_skipped + $5, position_ms = GREATEST(position_ms, $6),
                    updated_at = {NOW_SECS}
             WHERE id = $1"
        ),
        &[&log.id, &end_sql, &peaks, &stored, &skipped, &to_sql_int(batch.checkpoint.position_ms, "log position")?],
    )?;
    if let Some(head) = &batch.checkpoint.verified_head {
        set_verified_head(tx, log.id, head)?;
    }
    Ok(outcome)
}

/// Write a backfilled batch below the cursor, in one transaction (see
/// [`crate::Store::commit_backfill`]): entries and malformed entries already stored are left
/// alone, the cursor, compact range and verified head are not touched, and no lease is checked
/// (a backfill re-reads verified history; it never races a follower for the same rows). The
/// log's row is locked, so a backfill and a commit of the same log run one after the other.
pub(super) fn commit_backfill(
    client: &mut Client,
    batch: &CommitBatch,
    count_issuance: bool,
) -> Result<CommitOutcome, StoreError> {
    in_transaction(client, |tx| {
        let log = find_log(tx, &batch.log_id, true)?;
        let label = log_label(&log.name, &batch.log_id);
        let range = BatchRange::for_backfill(&label, log.cursor, batch)?;
        let in_range = |index: u64, what: &str| range.check(index, what);
        for entry in &batch.entries {
            in_range(entry.index, "entry")?;
        }
        let merged = merge_certificates(&batch.entries)?;
        let cert_ids = upsert_certificates(tx, &merged)?;
        let mut outcome = CommitOutcome::default();
        let mut issuance: HashMap<(Hash, i64, String), u64> = HashMap::new();
        for m in &merged {
            let Some(&(_, inserted)) = cert_ids.get(&m.source.identity) else {
                return Err(StoreError::Other(format!(
                    "certificate {} was not written",
                    hex::encode(m.source.identity)
                )));
            };
            if inserted {
                outcome.new_certificates += 1;
                if count_issuance {
                    let cert = &m.first.certificate;
                    let issuer = cert.issuer_spki_sha256.unwrap_or(UNKNOWN_ISSUER);
                    let key = (issuer, hour_of(m.first.timestamp_ms), cert.facts.validation_type.as_str().to_string());
                    *issuance.entry(key).or_default() += 1;
                }
            }
        }
        outcome.new_entries = insert_entries(tx, log.id, &label, &batch.entries, &cert_ids)?.len() as u64;
        add_issuance(tx, issuance)?;
        insert_malformed(tx, batch, log.id, &label, &in_range, StoredRows::Keep)?;
        outcome.new_findings = upsert_findings(tx, &batch.findings)?;
        Ok(outcome)
    })
}

/// Insert log entries whose certificates `cert_ids` has written, skipping (log, index) pairs
/// already stored; returns the indexes inserted now.
fn insert_entries(
    tx: &mut Transaction<'_>,
    log_ref: i64,
    label: &str,
    entries: &[EntryRecord],
    cert_ids: &HashMap<Hash, (i64, bool)>,
) -> Result<HashSet<u64>, StoreError> {
    if entries.is_empty() {
        return Ok(HashSet::new());
    }
    let mut indexes = Vec::with_capacity(entries.len());
    let mut certs = Vec::with_capacity(entries.len());
    let mut timestamps = Vec::with_capacity(entries.len());
    let mut precert = Vec::with_capacity(entries.len());
    let mut leaf_hashes: Vec<&[u8]> = Vec::with_capacity(entries.len());
    for entry in entries {
        indexes.push(to_sql_int(entry.index, "entry index")?);
        let Some(&(id, _)) = cert_ids.get(&entry.certificate.identity) else {
            return Err(StoreError::Other(format!("entry {} of log {label} lost its certificate", entry.index)));
        };
        certs.push(id);
        timestamps.push(to_sql_int(entry.timestamp_ms, "entry timestamp")?);
        precert.push(entry.is_precert);
        leaf_hashes.push(&entry.leaf_hash[..]);
    }
    tx.query(
        "INSERT INTO log_entries (log_ref, idx, cert_id, timestamp_ms, is_precert, leaf_hash)
         SELECT $1, u.idx, u.cert_id, u.timestamp_ms, u.is_precert, u.leaf_hash
         FROM unnest($2::bigint[], $3::bigint[], $4::bigint[], $5::boolean[], $6::bytea[])
              AS u (idx, cert_id, timestamp_ms, is_precert, leaf_hash)
         ON CONFLICT (log_ref, idx) DO NOTHING
         RETURNING idx",
        &[&log_ref, &indexes, &certs, &timestamps, &precert, &leaf_hashes],
    )?
    .iter()
    .map(|row| from_sql_int(row.try_get(0)?, "entry index"))
    .collect()
}

/// What writing a row that is already stored (same log and index) means.
#[derive(Clone, Copy, PartialEq, Eq)]
enum StoredRows {
    /// A duplicate is a monitor bug: fail the transaction.
    Refuse,
    /// A backfill re-reads stored history: leave the stored row alone.
    Keep,
}

/// Insert the batch's certificates or merge them into stored ones with the same identity, in
/// one statement and in batch order (so ids follow arrival). Returns each identity's id and
/// whether this transaction inserted it: `xmax = 0` holds exactly for rows the statement
/// inserted (an `ON CONFLICT` update stamps the row with the updating transaction), which stays
/// true when another instance inserts the same certificate concurrently — one of the two
/// transactions waits for the other and then updates instead.
fn upsert_certificates(
    tx: &mut Transaction<'_>,
    merged: &[MergedCertificate<'_>],
) -> Result<HashMap<Hash, (i64, bool)>, StoreError> {
    if merged.is_empty() {
        return Ok(HashMap::new());
    }
    let n = merged.len();
    let mut identity: Vec<&[u8]> = Vec::with_capacity(n);
    let mut issuer: Vec<Option<&[u8]>> = Vec::with_capacity(n);
    let mut serial: Vec<&[u8]> = Vec::with_capacity(n);
    let mut not_before: Vec<i64> = Vec::with_capacity(n);
    let mut not_after: Vec<i64> = Vec::with_capacity(n);
    let mut subject: Vec<String> = Vec::with_capacity(n);
    let mut has_precert: Vec<bool> = Vec::with_capacity(n);
    let mut has_final: Vec<bool> = Vec::with_capacity(n);
    let mut der: Vec<&[u8]> = Vec::with_capacity(n);
    let mut facts: Vec<Option<String>> = Vec::with_capacity(n);
    let mut first_seen: Vec<i64> = Vec::with_capacity(n);
    let mut spki: Vec<&[u8]> = Vec::with_capacity(n);
    let mut material: Vec<Option<&[u8]>> = Vec::with_capacity(n);
    for m in merged {
        let cert = m.source;
        identity.push(&cert.identity[..]);
        issuer.push(m.issuer.as_ref().map(|h| &h[..]));
        serial.push(&cert.facts.serial);
        not_before.push(cert.facts.not_before);
        not_after.push(cert.facts.not_after);
        subject.push(pg_text(&cert.facts.subject).into_owned());
        has_precert.push(m.has_precert);
        has_final.push(m.has_final);
        der.push(&cert.der);
        facts.push(facts_json(cert)?);
        first_seen.push(m.first_seen_ms);
        spki.push(&cert.facts.spki_sha256[..]);
        material.push(cert.facts.key_material_sha256.as_ref().map(|h| &h[..]));
    }
    let rows = tx.query(
        "INSERT INTO certificates AS c (identity, issuer_spki, serial, not_before, not_after, subject,
                                        has_precert, has_final, der, facts, first_seen_ms, spki_sha256,
                                        key_material)
         SELECT u.identity, u.issuer_spki, u.serial, u.not_before, u.not_after, u.subject, u.has_precert,
                u.has_final, u.der, u.facts, u.first_seen_ms, u.spki_sha256, u.key_material
         FROM unnest($1::bytea[], $2::bytea[], $3::bytea[], $4::bigint[], $5::bigint[], $6::text[],
                     $7::boolean[], $8::boolean[], $9::bytea[], $10::text[], $11::bigint[], $12::bytea[],
                     $13::bytea[]) WITH ORDINALITY
              AS u (identity, issuer_spki, serial, not_before, not_after, subject, has_precert, has_final,
                    der, facts, first_seen_ms, spki_sha256, key_material, ord)
         ORDER BY u.ord
         ON CONFLICT (identity) DO UPDATE SET
             serial = CASE WHEN excluded.has_final AND NOT c.has_final THEN excluded.serial ELSE c.serial END,
             not_before = CASE WHEN excluded.has_final AND NOT c.has_final THEN excluded.not_before ELSE c.not_before END,
             not_after = CASE WHEN excluded.has_final AND NOT c.has_final THEN excluded.not_after ELSE c.not_after END,
             subject = CASE WHEN excluded.has_final AND NOT c.has_final THEN excluded.subject ELSE c.subject END,
             der = CASE WHEN excluded.has_final AND NOT c.has_final THEN excluded.der ELSE c.der END,
             facts = CASE WHEN excluded.has_final AND NOT c.has_final THEN excluded.facts ELSE c.facts END,
             spki_sha256 = CASE WHEN excluded.has_final AND NOT c.has_final THEN excluded.spki_sha256
                                ELSE c.spki_sha256 END,
             key_material = CASE WHEN excluded.has_final AND NOT c.has_final THEN excluded.key_material
                                 ELSE c.key_material END,
             has_precert = c.has_precert OR excluded.has_precert,
             has_final = c.has_final OR excluded.has_final,
             issuer_spki = coalesce(c.issuer_spki, excluded.issuer_spki),
             first_seen_ms = least(c.first_seen_ms, excluded.first_seen_ms)
         RETURNING c.identity, c.id, (c.xmax = 0)",
        &[
            &identity,
            &issuer,
            &serial,
            &not_before,
            &not_after,
            &subject,
            &has_precert,
            &has_final,
            &der,
            &facts,
            &first_seen,
            &spki,
            &material,
        ],
    )?;
    let mut out = HashMap::with_capacity(rows.len());
    for row in rows {
        let identity: Vec<u8> = row.try_get(0)?;
        let identity = crate::columns::hash_from_blob(&identity, "certificate identity")?;
        out.insert(identity, (row.try_get(1)?, row.try_get(2)?));
    }
    Ok(out)
}

/// Add merged issuance increments, in key order (a fixed lock order between instances).
fn add_issuance(tx: &mut Transaction<'_>, issuance: HashMap<(Hash, i64, String), u64>) -> Result<(), StoreError> {
    if issuance.is_empty() {
        return Ok(());
    }
    let mut rows: Vec<_> = issuance.into_iter().collect();
    rows.sort();
    let mut issuers: Vec<&[u8]> = Vec::with_capacity(rows.len());
    let mut hours = Vec::with_capacity(rows.len());
    let mut types = Vec::with_capacity(rows.len());
    let mut counts = Vec::with_capacity(rows.len());
    for ((issuer, hour, validation_type), count) in &rows {
        issuers.push(&issuer[..]);
        hours.push(*hour);
        types.push(pg_text(validation_type).into_owned());
        counts.push(to_sql_int(*count, "issuance count")?);
    }
    tx.execute(
        "INSERT INTO issuance_hourly AS h (issuer_spki, hour, validation_type, count)
         SELECT * FROM unnest($1::bytea[], $2::bigint[], $3::text[], $4::bigint[])
         ON CONFLICT (issuer_spki, hour, validation_type) DO UPDATE SET count = h.count + excluded.count",
        &[&issuers, &hours, &types, &counts],
    )?;
    Ok(())
}

/// Store the batch's malformed entries (each must belong to the batch's log and range); one
/// already stored at its index fails the transaction or is left alone, as `stored` says.
fn insert_malformed(
    tx: &mut Transaction<'_>,
    batch: &CommitBatch,
    log_ref: i64,
    label: &str,
    in_range: &dyn Fn(u64, &str) -> Result<(), StoreError>,
    stored: StoredRows,
) -> Result<(), StoreError> {
    if batch.malformed.is_empty() {
        return Ok(());
    }
    let mut seen = HashSet::new();
    let mut indexes = Vec::with_capacity(batch.malformed.len());
    let mut leaf_hashes: Vec<&[u8]> = Vec::new();
    let mut errors = Vec::new();
    let mut inputs: Vec<&[u8]> = Vec::new();
    let mut extras: Vec<&[u8]> = Vec::new();
    for m in &batch.malformed {
        if m.log_id != batch.log_id {
            return Err(StoreError::Other(format!(
                "malformed entry {} in the commit for log {label} belongs to log {}",
                m.index,
                hex::encode(m.log_id)
            )));
        }
        in_range(m.index, "malformed entry")?;
        if !seen.insert(m.index) {
            if stored == StoredRows::Keep {
                continue;
            }
            return Err(StoreError::Other(format!("malformed entry {} of log {label} is already stored", m.index)));
        }
        indexes.push(to_sql_int(m.index, "malformed entry index")?);
        leaf_hashes.push(&m.leaf_hash[..]);
        errors.push(pg_text(&m.error).into_owned());
        inputs.push(&m.leaf_input);
        extras.push(&m.extra_data);
    }
    let inserted: HashSet<i64> = tx
        .query(
            "INSERT INTO malformed_entries (log_ref, idx, leaf_hash, error, leaf_input, extra_data)
             SELECT $1, u.idx, u.leaf_hash, u.error, u.leaf_input, u.extra_data
             FROM unnest($2::bigint[], $3::bytea[], $4::text[], $5::bytea[], $6::bytea[])
                  AS u (idx, leaf_hash, error, leaf_input, extra_data)
             ON CONFLICT (log_ref, idx) DO NOTHING
             RETURNING idx",
            &[&log_ref, &indexes, &leaf_hashes, &errors, &inputs, &extras],
        )?
        .iter()
        .map(|row| row.try_get(0))
        .collect::<Result<_, _>>()?;
    if stored == StoredRows::Keep {
        return Ok(());
    }
    if let Some((m, _)) = batch.malformed.iter().zip(&indexes).find(|(_, i)| !inserted.contains(i)) {
        return Err(StoreError::Other(format!("malformed entry {} of log {label} is already stored", m.index)));
    }
    Ok(())
}

/// Insert findings or merge them into stored ones with the same key; returns how many are new.
/// Same rules as the SQLite backend. The `ON CONFLICT (key)` upsert is atomic between
/// instances: a key is inserted once, and a second transaction merging the same key waits for
/// the first's row lock, so its recount of linked certificates sees the first's links.
pub(super) fn upsert_findings(tx: &mut Transaction<'_>, findings: &[NewFinding]) -> Result<u64, StoreError> {
    let mut new = 0;
    for finding in &crate::columns::merge_findings_by_key(findings) {
        let evidence = evidence_to_sql(&finding.evidence, "finding evidence")?;
        let row = tx.query_one(
            "INSERT INTO findings AS f (key, kind, severity, ca, issuer, evidence, first_seen, last_seen, status,
                                        certificate_count)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8, 0)
             ON CONFLICT (key) DO UPDATE SET last_seen = greatest(f.last_seen, excluded.last_seen),
                                             evidence = excluded.evidence
             RETURNING f.id, (f.xmax = 0)",
            &[
                &pg_text(&finding.key),
                &pg_text(&finding.kind),
                &severity_str(finding.severity),
                &finding.ca.as_deref().map(pg_text),
                &finding.issuer.as_deref().map(pg_text),
                &evidence,
                &finding.seen_at,
                &status_str(FindingStatus::Open),
            ],
        )?;
        let id: i64 = row.try_get(0)?;
        if row.try_get::<_, bool>(1)? {
            new += 1;
        }
        if finding.certificates.is_empty() {
            continue;
        }
        let identities: Vec<&[u8]> = finding.certificates.iter().map(|h| &h[..]).collect();
        let known: HashMap<Vec<u8>, i64> = tx
            .query("SELECT identity, id FROM certificates WHERE identity = ANY($1)", &[&identities])?
            .iter()
            .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
            .collect::<Result<_, StoreError>>()?;
        let mut cert_ids = Vec::with_capacity(identities.len());
        for identity in &finding.certificates {
            let Some(&cert) = known.get(&identity[..]) else {
                return Err(StoreError::NotFound(format!(
                    "certificate {} of finding {} is not stored",
                    hex::encode(identity),
                    finding.key
                )));
            };
            cert_ids.push(cert);
        }
        cert_ids.sort_unstable();
        cert_ids.dedup();
        let linked = tx.execute(
            "INSERT INTO finding_certificates (finding_id, cert_id) SELECT $1, unnest($2::bigint[])
             ON CONFLICT DO NOTHING",
            &[&id, &cert_ids],
        )?;
        // certificate_count = pruned_certificates + links, kept without recounting the links.
        let linked = i64::try_from(linked).unwrap_or(i64::MAX);
        tx.execute("UPDATE findings SET certificate_count = certificate_count + $2 WHERE id = $1", &[&id, &linked])?;
    }
    Ok(new)
}

/// Record what was seen of a log outside a commit, in one transaction.
pub(super) fn record_observation(client: &mut Client, obs: &LogObservation) -> Result<(), StoreError> {
    in_transaction(client, |tx| {
        let log = find_log(tx, &obs.log_id, false)?;
        let size = obs.seen_tree_size.map(|s| to_sql_int(s, "seen tree size")).transpose()?;
        let timestamp = obs.seen_timestamp_ms.map(|t| to_sql_int(t, "seen timestamp")).transpose()?;
        let position = obs.position_ms.map(|t| to_sql_int(t, "log position")).transpose()?;
        tx.execute(
            &format!(
                "UPDATE logs SET seen_size = coalesce($2, seen_size),
                        seen_timestamp = coalesce($3, seen_timestamp),
                        position_ms = GREATEST(position_ms, coalesce($4::BIGINT, 0)), updated_at = {NOW_SECS}
                 WHERE id = $1"
            ),
            &[&log.id, &size, &timestamp, &position],
        )?;
        if let Some(head) = &obs.verified_head {
            set_verified_head(tx, log.id, head)?;
        }
        upsert_findings(tx, &obs.findings)?;
        Ok(())
    })
}

/// Insert or merge findings that came without a commit; returns how many are new.
pub(super) fn record_findings(client: &mut Client, findings: &[NewFinding]) -> Result<u64, StoreError> {
    in_transaction(client, |tx| upsert_findings(tx, findings))
}

/// Add compromised keys and findings in one transaction; returns how many keys were new. A key
/// already known from the same source keeps its first `learned_at` and evidence; a missing
/// key-material hash is filled in.
pub(super) fn add_compromised_keys(
    client: &mut Client,
    keys: &[CompromisedKeyRecord],
    findings: &[NewFinding],
) -> Result<u64, StoreError> {
    in_transaction(client, |tx| {
        let mut new = 0;
        for key in keys {
            let evidence = evidence_to_sql(&key.evidence, "compromised-key evidence")?;
            let material = key.material_sha256.as_ref().map(|h| &h[..]);
            let source = pg_text(&key.source);
            let inserted = tx.execute(
                "INSERT INTO compromised_keys (spki_sha256, material_sha256, source, learned_at, evidence)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (spki_sha256, source) DO NOTHING",
                &[&&key.spki_sha256[..], &material, &source, &key.learned_at, &evidence],
            )?;
            if inserted > 0 {
                new += 1;
            } else if material.is_some() {
                tx.execute(
                    "UPDATE compromised_keys SET material_sha256 = $3
                     WHERE spki_sha256 = $1 AND source = $2 AND material_sha256 IS NULL",
                    &[&&key.spki_sha256[..], &source, &material],
                )?;
            }
        }
        upsert_findings(tx, findings)?;
        Ok(new)
    })
}

/// Record a CRL's state, its entries and findings in one transaction; a stored revocation
/// keeps its first sighting (as the SQLite backend). Entries for the same (issuer, serial)
/// are merged first, in order, by the same rule.
pub(super) fn record_crl(client: &mut Client, crl: &CrlRecord, findings: &[NewFinding]) -> Result<(), StoreError> {
    let mut merged: Vec<RevocationRecord> = Vec::new();
    let mut by_key: HashMap<(Hash, &[u8]), usize> = HashMap::new();
    for entry in &crl.entries {
        match by_key.get(&(entry.issuer_spki_sha256, entry.serial.as_slice())).and_then(|&i| merged.get_mut(i)) {
            Some(m) => {
                m.revoked_at = entry.revoked_at;
                m.reason = entry.reason;
                if entry.first_seen_at < m.first_seen_at {
                    m.crl_url = entry.crl_url.clone();
                    m.first_seen_at = entry.first_seen_at;
                }
            }
            None => {
                by_key.insert((entry.issuer_spki_sha256, entry.serial.as_slice()), merged.len());
                merged.push(entry.clone());
            }
        }
    }
    // A fixed order, so concurrent writers lock rows in the same order.
    merged.sort_by(|a, b| (a.issuer_spki_sha256, &a.serial).cmp(&(b.issuer_spki_sha256, &b.serial)));
    in_transaction(client, |tx| {
        let state = &crl.state;
        tx.execute(
            "INSERT INTO crl_state (url, issuer_spki, crl_number, this_update, next_update, fetched_at)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (url) DO UPDATE SET issuer_spki = excluded.issuer_spki,
                 crl_number = excluded.crl_number, this_update = excluded.this_update,
                 next_update = excluded.next_update, fetched_at = excluded.fetched_at",
            &[
                &pg_text(&state.url),
                &&state.issuer_spki_sha256[..],
                &state.crl_number,
                &state.this_update,
                &state.next_update,
                &state.fetched_at,
            ],
        )?;
        if !merged.is_empty() {
            let issuers: Vec<&[u8]> = merged.iter().map(|e| &e.issuer_spki_sha256[..]).collect();
            let serials: Vec<&[u8]> = merged.iter().map(|e| e.serial.as_slice()).collect();
            let revoked: Vec<i64> = merged.iter().map(|e| e.revoked_at).collect();
            let reasons: Vec<Option<i64>> = merged.iter().map(|e| e.reason.map(i64::from)).collect();
            let first_seen: Vec<i64> = merged.iter().map(|e| e.first_seen_at).collect();
            let urls: Vec<String> = merged.iter().map(|e| pg_text(&e.crl_url).into_owned()).collect();
            tx.execute(
                "INSERT INTO revocations AS r (issuer_spki, serial, revoked_at, reason, first_seen_at, crl_url)
                 SELECT * FROM unnest($1::bytea[], $2::bytea[], $3::bigint[], $4::bigint[], $5::bigint[], $6::text[])
                 ON CONFLICT (issuer_spki, serial) DO UPDATE SET
                     revoked_at = excluded.revoked_at,
                     reason = excluded.reason,
                     crl_url = CASE WHEN excluded.first_seen_at < r.first_seen_at THEN excluded.crl_url
                                    ELSE r.crl_url END,
                     first_seen_at = least(r.first_seen_at, excluded.first_seen_at)",
                &[&issuers, &serials, &revoked, &reasons, &first_seen, &urls],
            )?;
        }
        upsert_findings(tx, findings)?;
        Ok(())
    })
}

/// Mark certificates CAA-checked at `checked_at` (leave them pending when `None`) and record
/// findings, in one transaction. An unknown certificate id is `NotFound` and writes nothing.
pub(super) fn record_caa(
    client: &mut Client,
    cert_ids: &[i64],
    checked_at: Option<i64>,
    findings: &[NewFinding],
) -> Result<(), StoreError> {
    in_transaction(client, |tx| {
        let ids = cert_ids.to_vec();
        let found: HashSet<i64> = match checked_at {
            Some(at) => {
                tx.query("UPDATE certificates SET caa_checked_at = $2 WHERE id = ANY($1) RETURNING id", &[&ids, &at])?
            }
            None => tx.query("SELECT id FROM certificates WHERE id = ANY($1)", &[&ids])?,
        }
        .iter()
        .map(|row| row.try_get(0))
        .collect::<Result<_, _>>()?;
        if let Some(missing) = cert_ids.iter().find(|id| !found.contains(id)) {
            return Err(StoreError::NotFound(format!("certificate {missing}")));
        }
        upsert_findings(tx, findings)?;
        Ok(())
    })
}

/// Change a finding's status; `NotFound` when there is no such finding.
pub(super) fn set_finding_status(client: &mut Client, id: i64, status: FindingStatus) -> Result<(), StoreError> {
    let changed = client.execute("UPDATE findings SET status = $2 WHERE id = $1", &[&id, &status_str(status)])?;
    if changed == 0 {
        return Err(StoreError::NotFound(format!("finding {id}")));
    }
    Ok(())
}

/// Record that `sink` acknowledged a finding as it was at `last_seen` with `status`, at `at`;
/// `NotFound` when there is no such finding.
pub(super) fn mark_delivered(
    client: &mut Client,
    sink: &str,
    finding_id: i64,
    last_seen: i64,
    status: FindingStatus,
    at: i64,
) -> Result<(), StoreError> {
    in_transaction(client, |tx| {
        if tx.query_opt("SELECT 1 FROM findings WHERE id = $1", &[&finding_id])?.is_none() {
            return Err(StoreError::NotFound(format!("finding {finding_id}")));
        }
        tx.execute(
            "INSERT INTO sink_deliveries (sink, finding_id, last_seen, status, delivered_at)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (sink, finding_id) DO UPDATE SET last_seen = excluded.last_seen,
                 status = excluded.status, delivered_at = excluded.delivered_at",
            &[&pg_text(sink), &finding_id, &last_seen, &status_str(status), &at],
        )?;
        Ok(())
    })
}

/// Take or renew a log's lease in one statement (see [`crate::Store::acquire_log_lease`]):
/// the upsert's `WHERE` lets it through only when the lease is free, lapsed or already
/// `instance`'s, and the row lock makes two instances racing for a log see each other.
pub(super) fn acquire_log_lease(
    client: &mut Client,
    log_id: &Hash,
    instance: &str,
    ttl: Duration,
    now: i64,
) -> Result<Option<LogLease>, StoreError> {
    let expires_at = lease_expiry(instance, ttl, now)?;
    let holder = pg_text(instance).into_owned();
    in_transaction(client, |tx| {
        let row = tx.query_opt(
            "INSERT INTO log_leases AS l (log_id, holder, epoch, expires_at) VALUES ($1, $2, 1, $3)
             ON CONFLICT (log_id) DO UPDATE SET
                 epoch = CASE WHEN l.holder IS NOT DISTINCT FROM excluded.holder THEN l.epoch ELSE l.epoch + 1 END,
                 holder = excluded.holder, expires_at = excluded.expires_at
             WHERE l.holder IS NULL OR l.holder = excluded.holder OR l.expires_at <= $4
             RETURNING l.epoch",
            &[&&log_id[..], &holder, &expires_at, &now],
        )?;
        row.map(|row| {
            Ok(LogLease {
                log_id: *log_id,
                instance: holder.clone(),
                epoch: from_sql_int(row.try_get(0)?, "lease epoch")?,
                expires_at,
            })
        })
        .transpose()
    })
}

/// Release `instance`'s lease of a log; returns whether it held it.
pub(super) fn release_log_lease(client: &mut Client, log_id: &Hash, instance: &str) -> Result<bool, StoreError> {
    let changed = client.execute(
        "UPDATE log_leases SET holder = NULL WHERE log_id = $1 AND holder = $2",
        &[&&log_id[..], &pg_text(instance)],
    )?;
    Ok(changed > 0)
}

/// Delete up to `limit` certificates whose notAfter is before `not_after_before`, earliest
/// first, with their log entries and finding links, in one transaction (see
/// [`crate::Store::prune_certificates`]). The chosen rows are locked first, so a concurrent
/// commit that merges into one of them waits and then inserts it anew.
pub(super) fn prune_certificates(
    client: &mut Client,
    not_after_before: i64,
    limit: usize,
) -> Result<PruneStats, StoreError> {
    in_transaction(client, |tx| {
        let ids: Vec<i64> = tx
            .query(
                "SELECT id FROM certificates WHERE not_after < $1 ORDER BY not_after, id LIMIT $2 FOR UPDATE",
                &[&not_after_before, &sql_limit(limit)],
            )?
            .iter()
            .map(|row| row.try_get(0))
            .collect::<Result<_, _>>()?;
        if ids.is_empty() {
            return Ok(PruneStats::default());
        }
        let entries = tx.execute("DELETE FROM log_entries WHERE cert_id = ANY($1)", &[&ids])?;
        tx.execute(
            "UPDATE findings f SET pruned_certificates = f.pruned_certificates + p.n
             FROM (SELECT finding_id, count(*) AS n FROM finding_certificates WHERE cert_id = ANY($1)
                   GROUP BY finding_id) p
             WHERE f.id = p.finding_id",
            &[&ids],
        )?;
        let links = tx.execute("DELETE FROM finding_certificates WHERE cert_id = ANY($1)", &[&ids])?;
        let certificates = tx.execute("DELETE FROM certificates WHERE id = ANY($1)", &[&ids])?;
        Ok(PruneStats { certificates, entries, finding_links: links })
    })
}

/// Store a verified tree head unless a larger one is already stored.
fn set_verified_head(tx: &mut Transaction<'_>, log_ref: i64, head: &VerifiedHead) -> Result<(), StoreError> {
    let size = to_sql_int(head.tree_size, "verified tree size")?;
    let timestamp = to_sql_int(head.timestamp_ms, "verified timestamp")?;
    tx.execute(
        "UPDATE logs SET verified_size = $2, verified_timestamp = $3, verified_root = $4, verified_signature = $5
         WHERE id = $1 AND (verified_size IS NULL OR verified_size <= $2)",
        &[&log_ref, &size, &timestamp, &&head.root_hash[..], &head.signature],
    )?;
    Ok(())
}

/// The log's row; `lock` takes its row lock for the rest of the transaction (commits of one
/// log are serialized by it).
fn find_log(tx: &mut Transaction<'_>, log_id: &Hash, lock: bool) -> Result<LogRow, StoreError> {
    let sql = if lock {
        "SELECT id, name, cursor FROM logs WHERE log_id = $1 FOR UPDATE"
    } else {
        "SELECT id, name, cursor FROM logs WHERE log_id = $1"
    };
    let Some(row) = tx.query_opt(sql, &[&&log_id[..]])? else {
        return Err(StoreError::NotFound(format!("log {} is not registered", hex::encode(log_id))));
    };
    Ok(LogRow { id: row.try_get(0)?, name: row.try_get(1)?, cursor: from_sql_int(row.try_get(2)?, "log cursor")? })
}

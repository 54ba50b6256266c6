//! Queries on PostgreSQL, returning what the SQLite backend's queries return, in the same
//! order. Every value read back is checked: a stored value the model cannot represent is
//! [`StoreError::Corrupt`], never a panic. Text sorts bytewise (`COLLATE "C"`), as in SQLite,
//! whatever the database's collation.

use crate::StoreError;
use crate::columns::{
    decode_facts, decode_peaks, evidence_from_sql, from_sql_int, hash_from_blob, opt_u64, parse_severity, parse_status,
    reason_from_sql, sql_limit, to_sql_int,
};
use crate::model::*;
use postgres::types::ToSql;
use postgres::{GenericClient, Row};

/// The saved state of a log, or `None` when it is not registered.
pub(super) fn checkpoint(client: &mut impl GenericClient, log_id: &Hash) -> Result<Option<LogCheckpoint>, StoreError> {
    let Some(row) = client.query_opt(
        "SELECT cursor, peaks, verified_size, verified_timestamp, verified_root, verified_signature, position_ms
         FROM logs WHERE log_id = $1",
        &[&&log_id[..]],
    )?
    else {
        return Ok(None);
    };
    let cursor = from_sql_int(row.try_get(0)?, "log cursor")?;
    let peaks = decode_peaks(row.try_get::<_, &[u8]>(1)?)?;
    let size: Option<i64> = row.try_get(2)?;
    let timestamp: Option<i64> = row.try_get(3)?;
    let root: Option<&[u8]> = row.try_get(4)?;
    let signature: Option<Vec<u8>> = row.try_get(5)?;
    let verified_head = match (size, timestamp, root, signature) {
        (None, None, None, None) => None,
        (Some(size), Some(timestamp), Some(root), Some(signature)) => Some(VerifiedHead {
            tree_size: from_sql_int(size, "verified tree size")?,
            timestamp_ms: from_sql_int(timestamp, "verified timestamp")?,
            root_hash: hash_from_blob(root, "verified root hash")?,
            signature,
        }),
        _ => return Err(StoreError::Corrupt("verified tree head is partially stored".to_string())),
    };
    let position_ms = from_sql_int(row.try_get(6)?, "log position")?;
    Ok(Some(LogCheckpoint { log_id: *log_id, cursor, peaks, verified_head, position_ms }))
}

pub(super) fn log_status(client: &mut impl GenericClient) -> Result<Vec<LogStatus>, StoreError> {
    let rows = client.query(
        "SELECT l.log_id, l.name, l.url, l.cursor, l.verified_size, l.seen_size, l.seen_timestamp,
                l.entries_stored, l.entries_skipped,
                (SELECT count(*) FROM malformed_entries m WHERE m.log_ref = l.id), l.position_ms
         FROM logs l ORDER BY l.id",
        &[],
    )?;
    rows.iter()
        .map(|row| {
            Ok(LogStatus {
                log_id: hex::encode(hash_from_blob(row.try_get(0)?, "log id")?),
                name: row.try_get(1)?,
                url: row.try_get(2)?,
                cursor: from_sql_int(row.try_get(3)?, "log cursor")?,
                verified_tree_size: opt_u64(row.try_get(4)?, "verified tree size")?,
                seen_tree_size: opt_u64(row.try_get(5)?, "seen tree size")?,
                seen_timestamp_ms: opt_u64(row.try_get(6)?, "seen timestamp")?,
                entries_stored: from_sql_int(row.try_get(7)?, "entries stored")?,
                entries_skipped: from_sql_int(row.try_get(8)?, "entries skipped")?,
                malformed_entries: from_sql_int(row.try_get(9)?, "malformed entry count")?,
                position_ms: from_sql_int(row.try_get(10)?, "log position")?,
            })
        })
        .collect()
}

pub(super) fn certificate_count(client: &mut impl GenericClient) -> Result<u64, StoreError> {
    from_sql_int(client.query_one("SELECT count(*) FROM certificates", &[])?.try_get(0)?, "certificate count")
}

/// The columns [`certificate_from_row`] reads, in its order.
const CERT_COLUMNS: &str = "c.id, c.identity, c.issuer_spki, c.has_precert, c.has_final, c.der, c.facts, \
                            c.first_seen_ms";

fn certificate_from_row(row: &Row) -> Result<StoredCertificate, StoreError> {
    let id: i64 = row.try_get(0)?;
    let issuer: Option<&[u8]> = row.try_get(2)?;
    let facts: Option<&str> = row.try_get(6)?;
    let der: Vec<u8> = row.try_get(5)?;
    Ok(StoredCertificate {
        id,
        identity: hash_from_blob(row.try_get(1)?, "certificate identity")?,
        issuer_spki_sha256: issuer.map(|i| hash_from_blob(i, "certificate issuer SPKI hash")).transpose()?,
        has_precert: row.try_get(3)?,
        has_final: row.try_get(4)?,
        facts: decode_facts(id, facts, &der)?,
        der,
        first_seen_ms: from_sql_int(row.try_get(7)?, "certificate first-seen timestamp")?,
    })
}

/// Run a certificate query (selecting [`CERT_COLUMNS`] from `certificates c`) and read every row.
fn query_certificates(
    client: &mut impl GenericClient,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Vec<StoredCertificate>, StoreError> {
    client.query(sql, params)?.iter().map(certificate_from_row).collect()
}

pub(super) fn certificates(
    client: &mut impl GenericClient,
    after_id: i64,
    limit: usize,
) -> Result<Vec<StoredCertificate>, StoreError> {
    query_certificates(
        client,
        &format!("SELECT {CERT_COLUMNS} FROM certificates c WHERE c.id > $1 ORDER BY c.id LIMIT $2"),
        &[&after_id, &sql_limit(limit)],
    )
}

pub(super) fn certificate(client: &mut impl GenericClient, id: i64) -> Result<Option<StoredCertificate>, StoreError> {
    let mut found =
        query_certificates(client, &format!("SELECT {CERT_COLUMNS} FROM certificates c WHERE c.id = $1"), &[&id])?;
    Ok(found.pop())
}

pub(super) fn certificates_by_issuer_serial(
    client: &mut impl GenericClient,
    issuer: &Hash,
    serial: &[u8],
) -> Result<Vec<StoredCertificate>, StoreError> {
    query_certificates(
        client,
        &format!("SELECT {CERT_COLUMNS} FROM certificates c WHERE c.issuer_spki = $1 AND c.serial = $2 ORDER BY c.id"),
        &[&&issuer[..], &serial],
    )
}

pub(super) fn certificates_by_key(
    client: &mut impl GenericClient,
    spki_sha256: &Hash,
    material_sha256: Option<&Hash>,
) -> Result<Vec<StoredCertificate>, StoreError> {
    query_certificates(
        client,
        &format!(
            "SELECT {CERT_COLUMNS} FROM certificates c
             WHERE c.spki_sha256 = $1 OR c.key_material = $2 ORDER BY c.id"
        ),
        &[&&spki_sha256[..], &material_sha256.map(|h| &h[..])],
    )
}

pub(super) fn finding_certificates(
    client: &mut impl GenericClient,
    finding_id: i64,
) -> Result<Vec<StoredCertificate>, StoreError> {
    query_certificates(
        client,
        &format!(
            "SELECT {CERT_COLUMNS} FROM finding_certificates f JOIN certificates c ON c.id = f.cert_id
             WHERE f.finding_id = $1 ORDER BY c.id"
        ),
        &[&finding_id],
    )
}

pub(super) fn certificates_pending_caa(
    client: &mut impl GenericClient,
    limit: usize,
) -> Result<Vec<StoredCertificate>, StoreError> {
    query_certificates(
        client,
        &format!("SELECT {CERT_COLUMNS} FROM certificates c WHERE c.caa_checked_at IS NULL ORDER BY c.id LIMIT $1"),
        &[&sql_limit(limit)],
    )
}

pub(super) fn compromised_keys(client: &mut impl GenericClient) -> Result<Vec<CompromisedKeyRecord>, StoreError> {
    let rows = client.query(
        "SELECT spki_sha256, material_sha256, source, learned_at, evidence FROM compromised_keys ORDER BY id",
        &[],
    )?;
    rows.iter()
        .map(|row| {
            let material: Option<&[u8]> = row.try_get(1)?;
            Ok(CompromisedKeyRecord {
                spki_sha256: hash_from_blob(row.try_get(0)?, "compromised key SPKI hash")?,
                material_sha256: material.map(|m| hash_from_blob(m, "compromised key material hash")).transpose()?,
                source: row.try_get(2)?,
                learned_at: row.try_get(3)?,
                evidence: evidence_from_sql(row.try_get(4)?, "compromised-key evidence")?,
            })
        })
        .collect()
}

pub(super) fn crl_state(client: &mut impl GenericClient, url: &str) -> Result<Option<CrlState>, StoreError> {
    let Some(row) = client.query_opt(
        "SELECT url, issuer_spki, crl_number, this_update, next_update, fetched_at FROM crl_state WHERE url = $1",
        &[&super::pg_text(url)],
    )?
    else {
        return Ok(None);
    };
    Ok(Some(CrlState {
        url: row.try_get(0)?,
        issuer_spki_sha256: hash_from_blob(row.try_get(1)?, "CRL issuer SPKI hash")?,
        crl_number: row.try_get(2)?,
        this_update: row.try_get(3)?,
        next_update: row.try_get(4)?,
        fetched_at: row.try_get(5)?,
    }))
}

pub(super) fn revocation(
    client: &mut impl GenericClient,
    issuer: &Hash,
    serial: &[u8],
) -> Result<Option<RevocationRecord>, StoreError> {
    let Some(row) = client.query_opt(
        "SELECT revoked_at, reason, first_seen_at, crl_url FROM revocations WHERE issuer_spki = $1 AND serial = $2",
        &[&&issuer[..], &serial],
    )?
    else {
        return Ok(None);
    };
    Ok(Some(RevocationRecord {
        issuer_spki_sha256: *issuer,
        serial: serial.to_vec(),
        revoked_at: row.try_get(0)?,
        reason: reason_from_sql(row.try_get(1)?)?,
        first_seen_at: row.try_get(2)?,
        crl_url: row.try_get(3)?,
    }))
}

pub(super) fn entries_for_certificate(
    client: &mut impl GenericClient,
    cert_id: i64,
) -> Result<Vec<EntryRef>, StoreError> {
    let rows = client.query(
        "SELECT l.log_id, e.idx, e.timestamp_ms, e.is_precert
         FROM log_entries e JOIN logs l ON l.id = e.log_ref
         WHERE e.cert_id = $1 ORDER BY e.log_ref, e.idx",
        &[&cert_id],
    )?;
    rows.iter()
        .map(|row| {
            Ok(EntryRef {
                log_id: hash_from_blob(row.try_get(0)?, "log id")?,
                index: from_sql_int(row.try_get(1)?, "entry index")?,
                timestamp_ms: from_sql_int(row.try_get(2)?, "entry timestamp")?,
                is_precert: row.try_get(3)?,
            })
        })
        .collect()
}

pub(super) fn malformed_entries(
    client: &mut impl GenericClient,
    log_id: Option<&Hash>,
) -> Result<Vec<MalformedEntry>, StoreError> {
    let rows = client.query(
        "SELECT l.log_id, m.idx, m.leaf_hash, m.error, m.leaf_input, m.extra_data
         FROM malformed_entries m JOIN logs l ON l.id = m.log_ref
         WHERE $1::bytea IS NULL OR l.log_id = $1 ORDER BY m.log_ref, m.idx",
        &[&log_id.map(|h| &h[..])],
    )?;
    rows.iter()
        .map(|row| {
            Ok(MalformedEntry {
                log_id: hash_from_blob(row.try_get(0)?, "log id")?,
                index: from_sql_int(row.try_get(1)?, "malformed entry index")?,
                leaf_hash: hash_from_blob(row.try_get(2)?, "malformed entry leaf hash")?,
                error: row.try_get(3)?,
                leaf_input: row.try_get(4)?,
                extra_data: row.try_get(5)?,
            })
        })
        .collect()
}

pub(super) fn issuance_counts(
    client: &mut impl GenericClient,
    issuer: Option<&Hash>,
    from_hour: i64,
    to_hour: i64,
) -> Result<Vec<IssuanceCount>, StoreError> {
    let rows = client.query(
        "SELECT issuer_spki, hour, validation_type, count FROM issuance_hourly
         WHERE ($1::bytea IS NULL OR issuer_spki = $1) AND hour >= $2 AND hour < $3
         ORDER BY issuer_spki, hour, validation_type COLLATE \"C\"",
        &[&issuer.map(|h| &h[..]), &from_hour, &to_hour],
    )?;
    rows.iter()
        .map(|row| {
            Ok(IssuanceCount {
                issuer_spki_sha256: hash_from_blob(row.try_get(0)?, "issuance issuer")?,
                hour: row.try_get(1)?,
                validation_type: row.try_get(2)?,
                count: from_sql_int(row.try_get(3)?, "issuance count")?,
            })
        })
        .collect()
}

const FINDING_COLUMNS: &str = "f.id, f.key, f.kind, f.severity, f.ca, f.issuer, f.certificate_count, \
                               f.first_seen, f.last_seen, f.status, f.evidence";

fn finding_from_row(row: &Row) -> Result<Finding, StoreError> {
    let id: i64 = row.try_get(0)?;
    Ok(Finding {
        id,
        key: row.try_get(1)?,
        kind: row.try_get(2)?,
        severity: parse_severity(row.try_get(3)?)?,
        ca: row.try_get(4)?,
        issuer: row.try_get(5)?,
        certificate_count: from_sql_int(row.try_get(6)?, "finding certificate count")?,
        first_seen: row.try_get(7)?,
        last_seen: row.try_get(8)?,
        status: parse_status(row.try_get(9)?)?,
        evidence: evidence_from_sql(row.try_get(10)?, &format!("evidence of finding {id}"))?,
    })
}

fn query_findings(
    client: &mut impl GenericClient,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Vec<Finding>, StoreError> {
    client.query(sql, params)?.iter().map(finding_from_row).collect()
}

/// Findings matching the filter, newest (highest id) first.
pub(super) fn findings(client: &mut impl GenericClient, filter: &FindingFilter) -> Result<Vec<Finding>, StoreError> {
    // LIMIT NULL means "no limit".
    let limit: Option<i64> = filter.limit.map(sql_limit);
    let offset = to_sql_int(filter.offset.unwrap_or(0) as u64, "finding offset")?;
    query_findings(
        client,
        &format!(
            "SELECT {FINDING_COLUMNS} FROM findings f
             WHERE ($1::text IS NULL OR f.kind = $1) AND ($2::text IS NULL OR f.ca = $2)
               AND ($3::bigint IS NULL OR f.last_seen >= $3)
             ORDER BY f.id DESC LIMIT $4 OFFSET $5"
        ),
        &[&filter.kind, &filter.ca, &filter.since, &limit, &offset],
    )
}

/// One finding with the ids of its certificates, in id order.
pub(super) fn finding(client: &mut impl GenericClient, id: i64) -> Result<Option<(Finding, Vec<i64>)>, StoreError> {
    let Some(found) =
        query_findings(client, &format!("SELECT {FINDING_COLUMNS} FROM findings f WHERE f.id = $1"), &[&id])?.pop()
    else {
        return Ok(None);
    };
    let certs = client
        .query("SELECT cert_id FROM finding_certificates WHERE finding_id = $1 ORDER BY cert_id", &[&id])?
        .iter()
        .map(|row| row.try_get(0))
        .collect::<Result<Vec<i64>, _>>()?;
    Ok(Some((found, certs)))
}

/// Findings above `after_id` that `sink` has not acknowledged as they are now, lowest id first.
pub(super) fn pending_deliveries(
    client: &mut impl GenericClient,
    sink: &str,
    after_id: i64,
    limit: usize,
) -> Result<Vec<Finding>, StoreError> {
    query_findings(
        client,
        &format!(
            "SELECT {FINDING_COLUMNS} FROM findings f
             LEFT JOIN sink_deliveries d ON d.sink = $1 AND d.finding_id = f.id
             WHERE f.id > $2 AND (d.finding_id IS NULL OR f.last_seen > d.last_seen OR f.status <> d.status)
             ORDER BY f.id LIMIT $3"
        ),
        &[&super::pg_text(sink), &after_id, &sql_limit(limit)],
    )
}

/// Unresolved findings above `after_id` that `sink` acknowledged in their current state before
/// `delivered_before`, lowest id first.
pub(super) fn deliveries_to_resend(
    client: &mut impl GenericClient,
    sink: &str,
    delivered_before: i64,
    after_id: i64,
    limit: usize,
) -> Result<Vec<Finding>, StoreError> {
    query_findings(
        client,
        &format!(
            "SELECT {FINDING_COLUMNS} FROM sink_deliveries d JOIN findings f ON f.id = d.finding_id
             WHERE d.sink = $1 AND d.delivered_at < $2 AND f.id > $3 AND f.status <> 'resolved'
               AND f.last_seen <= d.last_seen AND f.status = d.status
             ORDER BY f.id LIMIT $4"
        ),
        &[&super::pg_text(sink), &delivered_before, &after_id, &sql_limit(limit)],
    )
}

/// Every held lease, by log ID.
pub(super) fn log_leases(client: &mut impl GenericClient) -> Result<Vec<LogLease>, StoreError> {
    let rows = client.query(
        "SELECT log_id, holder, epoch, expires_at FROM log_leases WHERE holder IS NOT NULL ORDER BY log_id",
        &[],
    )?;
    rows.iter()
        .map(|row| {
            Ok(LogLease {
                log_id: hash_from_blob(row.try_get(0)?, "leased log id")?,
                instance: row.try_get(1)?,
                epoch: from_sql_int(row.try_get(2)?, "lease epoch")?,
                expires_at: row.try_get(3)?,
            })
        })
        .collect()
}

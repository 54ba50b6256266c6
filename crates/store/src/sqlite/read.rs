//! Queries. Every value read back is checked: a stored value the model cannot represent (a hash
//! of the wrong length, a negative size, unparsable JSON) is reported as
//! [`StoreError::Corrupt`], never a panic.

use super::{from_sql_int, hash_from_blob, parse_severity, parse_status, to_sql_int};
use crate::StoreError;
pub(super) use crate::columns::decode_peaks;
use crate::columns::{decode_facts, opt_u64, reason_from_sql, sql_limit};
use crate::model::*;
use rusqlite::{Connection, Row, params};

/// The saved state of a log, or `None` when it is not registered.
pub(super) fn checkpoint(conn: &Connection, log_id: &Hash) -> Result<Option<LogCheckpoint>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT cursor, peaks, verified_size, verified_timestamp, verified_root, verified_signature, position_ms
         FROM logs WHERE log_id = ?1",
    )?;
    let mut rows = stmt.query([&log_id[..]])?;
    let Some(row) = rows.next()? else {
        return Ok(None);
    };
    let cursor = from_sql_int(row.get(0)?, "log cursor")?;
    let peaks = decode_peaks(&row.get::<_, Vec<u8>>(1)?)?;
    let verified_head = verified_head(row)?;
    let position_ms = from_sql_int(row.get(6)?, "log position")?;
    Ok(Some(LogCheckpoint { log_id: *log_id, cursor, peaks, verified_head, position_ms }))
}

/// Columns 2..=5 of the checkpoint query: all NULL or all set.
fn verified_head(row: &Row<'_>) -> Result<Option<VerifiedHead>, StoreError> {
    let size: Option<i64> = row.get(2)?;
    let timestamp: Option<i64> = row.get(3)?;
    let root: Option<Vec<u8>> = row.get(4)?;
    let signature: Option<Vec<u8>> = row.get(5)?;
    match (size, timestamp, root, signature) {
        (None, None, None, None) => Ok(None),
        (Some(size), Some(timestamp), Some(root), Some(signature)) => Ok(Some(VerifiedHead {
            tree_size: from_sql_int(size, "verified tree size")?,
            timestamp_ms: from_sql_int(timestamp, "verified timestamp")?,
            root_hash: hash_from_blob(&root, "verified root hash")?,
            signature,
        })),
        _ => Err(StoreError::Corrupt("verified tree head is partially stored".to_string())),
    }
}

pub(super) fn log_status(conn: &Connection) -> Result<Vec<LogStatus>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT l.log_id, l.name, l.url, l.cursor, l.verified_size, l.seen_size, l.seen_timestamp,
                l.entries_stored, l.entries_skipped,
                (SELECT count(*) FROM malformed_entries m WHERE m.log_ref = l.id), l.position_ms
         FROM logs l ORDER BY l.id",
    )?;
    let mut rows = stmt.query([])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let log_id = hash_from_blob(&row.get::<_, Vec<u8>>(0)?, "log id")?;
        out.push(LogStatus {
            log_id: hex::encode(log_id),
            name: row.get(1)?,
            url: row.get(2)?,
            cursor: from_sql_int(row.get(3)?, "log cursor")?,
            verified_tree_size: opt_u64(row.get(4)?, "verified tree size")?,
            seen_tree_size: opt_u64(row.get(5)?, "seen tree size")?,
            seen_timestamp_ms: opt_u64(row.get(6)?, "seen timestamp")?,
            entries_stored: from_sql_int(row.get(7)?, "entries stored")?,
            entries_skipped: from_sql_int(row.get(8)?, "entries skipped")?,
            malformed_entries: from_sql_int(row.get(9)?, "malformed entry count")?,
            position_ms: from_sql_int(row.get(10)?, "log position")?,
        });
    }
    Ok(out)
}

pub(super) fn certificate_count(conn: &Connection) -> Result<u64, StoreError> {
    let count: i64 = conn.prepare_cached("SELECT count(*) FROM certificates")?.query_row([], |row| row.get(0))?;
    from_sql_int(count, "certificate count")
}

/// The columns [`certificate_from_row`] reads, in its order.
const CERT_COLUMNS: &str = "c.id, c.identity, c.issuer_spki, c.has_precert, c.has_final, c.der, c.facts, \
                            c.first_seen_ms";

fn certificate_from_row(row: &Row<'_>) -> Result<StoredCertificate, StoreError> {
    let id: i64 = row.get(0)?;
    let issuer: Option<Vec<u8>> = row.get(2)?;
    let facts: Option<String> = row.get(6)?;
    let der: Vec<u8> = row.get(5)?;
    Ok(StoredCertificate {
        id,
        identity: hash_from_blob(&row.get::<_, Vec<u8>>(1)?, "certificate identity")?,
        issuer_spki_sha256: issuer.map(|i| hash_from_blob(&i, "certificate issuer SPKI hash")).transpose()?,
        has_precert: row.get(3)?,
        has_final: row.get(4)?,
        facts: decode_facts(id, facts.as_deref(), &der)?,
        der,
        first_seen_ms: from_sql_int(row.get(7)?, "certificate first-seen timestamp")?,
    })
}

/// Run a certificate query (selecting [`CERT_COLUMNS`] from `certificates c`) and read every row.
fn query_certificates(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<StoredCertificate>, StoreError> {
    let mut stmt = conn.prepare_cached(sql)?;
    let mut rows = stmt.query(params)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(certificate_from_row(row)?);
    }
    Ok(out)
}

pub(super) fn certificates(
    conn: &Connection,
    after_id: i64,
    limit: usize,
) -> Result<Vec<StoredCertificate>, StoreError> {
    query_certificates(
        conn,
        &format!("SELECT {CERT_COLUMNS} FROM certificates c WHERE c.id > ?1 ORDER BY c.id LIMIT ?2"),
        params![after_id, sql_limit(limit)],
    )
}

pub(super) fn certificate(conn: &Connection, id: i64) -> Result<Option<StoredCertificate>, StoreError> {
    let mut found =
        query_certificates(conn, &format!("SELECT {CERT_COLUMNS} FROM certificates c WHERE c.id = ?1"), [id])?;
    Ok(found.pop())
}

pub(super) fn certificates_by_issuer_serial(
    conn: &Connection,
    issuer: &Hash,
    serial: &[u8],
) -> Result<Vec<StoredCertificate>, StoreError> {
    query_certificates(
        conn,
        &format!("SELECT {CERT_COLUMNS} FROM certificates c WHERE c.issuer_spki = ?1 AND c.serial = ?2 ORDER BY c.id"),
        params![&issuer[..], serial],
    )
}

/// Certificates with this SPKI hash or (when given) this key-material hash, by id. Each side
/// of the `OR` has its own index.
pub(super) fn certificates_by_key(
    conn: &Connection,
    spki_sha256: &Hash,
    material_sha256: Option<&Hash>,
) -> Result<Vec<StoredCertificate>, StoreError> {
    query_certificates(
        conn,
        &format!(
            "SELECT {CERT_COLUMNS} FROM certificates c
             WHERE c.spki_sha256 = ?1 OR c.key_material = ?2 ORDER BY c.id"
        ),
        params![&spki_sha256[..], material_sha256.map(|h| &h[..])],
    )
}

pub(super) fn finding_certificates(conn: &Connection, finding_id: i64) -> Result<Vec<StoredCertificate>, StoreError> {
    query_certificates(
        conn,
        &format!(
            "SELECT {CERT_COLUMNS} FROM finding_certificates f JOIN certificates c ON c.id = f.cert_id
             WHERE f.finding_id = ?1 ORDER BY c.id"
        ),
        [finding_id],
    )
}

/// Certificates whose CAA check is pending, oldest (lowest id) first, from the partial index
/// `certificates_caa_pending`.
pub(super) fn certificates_pending_caa(conn: &Connection, limit: usize) -> Result<Vec<StoredCertificate>, StoreError> {
    query_certificates(
        conn,
        &format!("SELECT {CERT_COLUMNS} FROM certificates c WHERE c.caa_checked_at IS NULL ORDER BY c.id LIMIT ?1"),
        [sql_limit(limit)],
    )
}

pub(super) fn compromised_keys(conn: &Connection) -> Result<Vec<CompromisedKeyRecord>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT spki_sha256, material_sha256, source, learned_at, evidence FROM compromised_keys ORDER BY id",
    )?;
    let mut rows = stmt.query([])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let material: Option<Vec<u8>> = row.get(1)?;
        let evidence: String = row.get(4)?;
        out.push(CompromisedKeyRecord {
            spki_sha256: hash_from_blob(&row.get::<_, Vec<u8>>(0)?, "compromised key SPKI hash")?,
            material_sha256: material.map(|m| hash_from_blob(&m, "compromised key material hash")).transpose()?,
            source: row.get(2)?,
            learned_at: row.get(3)?,
            evidence: serde_json::from_str(&evidence)
                .map_err(|e| StoreError::Corrupt(format!("compromised-key evidence is not valid JSON: {e}")))?,
        });
    }
    Ok(out)
}

pub(super) fn crl_state(conn: &Connection, url: &str) -> Result<Option<CrlState>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT url, issuer_spki, crl_number, this_update, next_update, fetched_at FROM crl_state WHERE url = ?1",
    )?;
    let mut rows = stmt.query([url])?;
    let Some(row) = rows.next()? else {
        return Ok(None);
    };
    Ok(Some(CrlState {
        url: row.get(0)?,
        issuer_spki_sha256: hash_from_blob(&row.get::<_, Vec<u8>>(1)?, "CRL issuer SPKI hash")?,
        crl_number: row.get(2)?,
        this_update: row.get(3)?,
        next_update: row.get(4)?,
        fetched_at: row.get(5)?,
    }))
}

pub(super) fn revocation(
    conn: &Connection,
    issuer: &Hash,
    serial: &[u8],
) -> Result<Option<RevocationRecord>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT revoked_at, reason, first_seen_at, crl_url FROM revocations WHERE issuer_spki = ?1 AND serial = ?2",
    )?;
    let mut rows = stmt.query(params![&issuer[..], serial])?;
    let Some(row) = rows.next()? else {
        return Ok(None);
    };
    let reason: Option<i64> = row.get(1)?;
    Ok(Some(RevocationRecord {
        issuer_spki_sha256: *issuer,
        serial: serial.to_vec(),
        revoked_at: row.get(0)?,
        reason: reason_from_sql(reason)?,
        first_seen_at: row.get(2)?,
        crl_url: row.get(3)?,
    }))
}

pub(super) fn entries_for_certificate(conn: &Connection, cert_id: i64) -> Result<Vec<EntryRef>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT l.log_id, e.idx, e.timestamp_ms, e.is_precert
         FROM log_entries e JOIN logs l ON l.id = e.log_ref
         WHERE e.cert_id = ?1 ORDER BY e.log_ref, e.idx",
    )?;
    let mut rows = stmt.query([cert_id])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(EntryRef {
            log_id: hash_from_blob(&row.get::<_, Vec<u8>>(0)?, "log id")?,
            index: from_sql_int(row.get(1)?, "entry index")?,
            timestamp_ms: from_sql_int(row.get(2)?, "entry timestamp")?,
            is_precert: row.get(3)?,
        });
    }
    Ok(out)
}

pub(super) fn malformed_entries(conn: &Connection, log_id: Option<&Hash>) -> Result<Vec<MalformedEntry>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT l.log_id, m.idx, m.leaf_hash, m.error, m.leaf_input, m.extra_data
         FROM malformed_entries m JOIN logs l ON l.id = m.log_ref
         WHERE ?1 IS NULL OR l.log_id = ?1 ORDER BY m.log_ref, m.idx",
    )?;
    let mut rows = stmt.query([log_id.map(|h| &h[..])])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(MalformedEntry {
            log_id: hash_from_blob(&row.get::<_, Vec<u8>>(0)?, "log id")?,
            index: from_sql_int(row.get(1)?, "malformed entry index")?,
            leaf_hash: hash_from_blob(&row.get::<_, Vec<u8>>(2)?, "malformed entry leaf hash")?,
            error: row.get(3)?,
            leaf_input: row.get(4)?,
            extra_data: row.get(5)?,
        });
    }
    Ok(out)
}

pub(super) fn issuance_counts(
    conn: &Connection,
    issuer: Option<&Hash>,
    from_hour: i64,
    to_hour: i64,
) -> Result<Vec<IssuanceCount>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT issuer_spki, hour, validation_type, count FROM issuance_hourly
         WHERE (?1 IS NULL OR issuer_spki = ?1) AND hour >= ?2 AND hour < ?3
         ORDER BY issuer_spki, hour, validation_type",
    )?;
    let mut rows = stmt.query(params![issuer.map(|h| &h[..]), from_hour, to_hour])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(IssuanceCount {
            issuer_spki_sha256: hash_from_blob(&row.get::<_, Vec<u8>>(0)?, "issuance issuer")?,
            hour: row.get(1)?,
            validation_type: row.get(2)?,
            count: from_sql_int(row.get(3)?, "issuance count")?,
        });
    }
    Ok(out)
}

const FINDING_COLUMNS: &str = "id, key, kind, severity, ca, issuer, certificate_count, first_seen, \
                               last_seen, status, evidence";

/// [`FINDING_COLUMNS`] qualified by the alias `f`, for joins.
const FINDING_COLUMNS_F: &str = "f.id, f.key, f.kind, f.severity, f.ca, f.issuer, f.certificate_count, \
                                 f.first_seen, f.last_seen, f.status, f.evidence";

fn finding_from_row(row: &Row<'_>) -> Result<Finding, StoreError> {
    let id: i64 = row.get(0)?;
    let severity: String = row.get(3)?;
    let status: String = row.get(9)?;
    let evidence: String = row.get(10)?;
    Ok(Finding {
        id,
        key: row.get(1)?,
        kind: row.get(2)?,
        severity: parse_severity(&severity)?,
        ca: row.get(4)?,
        issuer: row.get(5)?,
        certificate_count: from_sql_int(row.get(6)?, "finding certificate count")?,
        first_seen: row.get(7)?,
        last_seen: row.get(8)?,
        status: parse_status(&status)?,
        evidence: serde_json::from_str(&evidence)
            .map_err(|e| StoreError::Corrupt(format!("evidence of finding {id} is not valid JSON: {e}")))?,
    })
}

/// Findings matching the filter, newest (highest id) first. `since` keeps findings last seen at
/// or after that time.
pub(super) fn findings(conn: &Connection, filter: &FindingFilter) -> Result<Vec<Finding>, StoreError> {
    // A negative LIMIT means "no limit" in SQLite.
    let limit = match filter.limit {
        Some(limit) => i64::try_from(limit).unwrap_or(i64::MAX),
        None => -1,
    };
    let offset = to_sql_int(filter.offset.unwrap_or(0) as u64, "finding offset")?;
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {FINDING_COLUMNS} FROM findings
         WHERE (?1 IS NULL OR kind = ?1) AND (?2 IS NULL OR ca = ?2) AND (?3 IS NULL OR last_seen >= ?3)
         ORDER BY id DESC LIMIT ?4 OFFSET ?5"
    ))?;
    let mut rows = stmt.query(params![filter.kind, filter.ca, filter.since, limit, offset])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(finding_from_row(row)?);
    }
    Ok(out)
}

/// One finding with the ids of its certificates, in id order.
pub(super) fn finding(conn: &Connection, id: i64) -> Result<Option<(Finding, Vec<i64>)>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!("SELECT {FINDING_COLUMNS} FROM findings WHERE id = ?1"))?;
    let mut rows = stmt.query([id])?;
    let Some(row) = rows.next()? else {
        return Ok(None);
    };
    let finding = finding_from_row(row)?;
    let certs = conn
        .prepare_cached("SELECT cert_id FROM finding_certificates WHERE finding_id = ?1 ORDER BY cert_id")?
        .query_map([id], |row| row.get(0))?
        .collect::<Result<Vec<i64>, _>>()?;
    Ok(Some((finding, certs)))
}

/// Findings with an id above `after_id` that `sink` has not acknowledged as they are now: never
/// delivered to it, or seen again or given another status since. Lowest id first.
pub(super) fn pending_deliveries(
    conn: &Connection,
    sink: &str,
    after_id: i64,
    limit: usize,
) -> Result<Vec<Finding>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {FINDING_COLUMNS_F} FROM findings f
         LEFT JOIN sink_deliveries d ON d.sink = ?1 AND d.finding_id = f.id
         WHERE f.id > ?2 AND (d.finding_id IS NULL OR f.last_seen > d.last_seen OR f.status <> d.status)
         ORDER BY f.id LIMIT ?3"
    ))?;
    let mut rows = stmt.query(params![sink, after_id, sql_limit(limit)])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(finding_from_row(row)?);
    }
    Ok(out)
}

/// Unresolved findings with an id above `after_id` that `sink` acknowledged in their current
/// state before `delivered_before`: the ones a sink that needs periodic re-sends must be sent
/// again. Lowest id first.
pub(super) fn deliveries_to_resend(
    conn: &Connection,
    sink: &str,
    delivered_before: i64,
    after_id: i64,
    limit: usize,
) -> Result<Vec<Finding>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {FINDING_COLUMNS_F} FROM sink_deliveries d JOIN findings f ON f.id = d.finding_id
         WHERE d.sink = ?1 AND d.delivered_at < ?2 AND f.id > ?3 AND f.status <> 'resolved'
           AND f.last_seen <= d.last_seen AND f.status = d.status
         ORDER BY f.id LIMIT ?4"
    ))?;
    let mut rows = stmt.query(params![sink, delivered_before, after_id, sql_limit(limit)])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(finding_from_row(row)?);
    }
    Ok(out)
}

/// Every held lease, by log ID.
pub(super) fn log_leases(conn: &Connection) -> Result<Vec<LogLease>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT log_id, holder, epoch, expires_at FROM log_leases WHERE holder IS NOT NULL ORDER BY log_id",
    )?;
    let mut rows = stmt.query([])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(LogLease {
            log_id: hash_from_blob(&row.get::<_, Vec<u8>>(0)?, "leased log id")?,
            instance: row.get(1)?,
            epoch: from_sql_int(row.get(2)?, "lease epoch")?,
            expires_at: row.get(3)?,
        });
    }
    Ok(out)
}

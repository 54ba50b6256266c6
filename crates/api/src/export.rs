//! Findings as documents: the JSON of a finding and of its affected certificates, and the CSV
//! affected-certificate list a CA attaches to its incident report.
//!
//! The API serves these and `ctwatch findings show/export` prints them, so both speak the same
//! format. Times are RFC 3339 in UTC. The CSV has one row per distinct certificate (a
//! precertificate and its final certificate are one row) with every log entry that carried it.

use crate::metrics::{severity_name, status_name};
use ctwatch_store::{Finding, Store, StoreError, StoredCertificate};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::io::Write;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// The CSV export's header, in column order.
pub const CSV_HEADER: &str =
    "serial_hex,issuer,subject,not_before,not_after,dns_names,precert_entries,final_entries,sha256,crtsh_url";

/// Why a finding could not be exported.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// No finding has this id.
    #[error("no finding with id {0}")]
    NotFound(i64),
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("cannot write the export: {0}")]
    Io(#[from] std::io::Error),
}

/// Unix seconds as RFC 3339 UTC (`2025-02-01T00:00:00Z`); out-of-range values are printed as
/// the number, so a corrupt row never stops a listing.
pub fn rfc3339(unix_secs: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix_secs)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| unix_secs.to_string())
}

/// Milliseconds since the epoch as RFC 3339 UTC, keeping the milliseconds.
pub fn rfc3339_ms(unix_ms: u64) -> String {
    i128::from(unix_ms)
        .checked_mul(1_000_000)
        .and_then(|ns| OffsetDateTime::from_unix_timestamp_nanos(ns).ok())
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| format!("{unix_ms}ms"))
}

/// The serial in hex: the DER INTEGER's content bytes, without the zero byte DER adds before a
/// positive number whose top bit is set (so it reads as crt.sh and CA reports print it).
pub fn serial_hex(serial: &[u8]) -> String {
    match serial {
        [0, rest @ ..] if rest.first().is_some_and(|b| b & 0x80 != 0) => hex::encode(rest),
        _ => hex::encode(serial),
    }
}

/// A finding as JSON, with RFC 3339 times.
pub fn finding_json(f: &Finding) -> Value {
    json!({
        "id": f.id,
        "key": f.key,
        "kind": f.kind,
        "severity": severity_name(f.severity),
        "ca": f.ca,
        "issuer": f.issuer,
        "certificate_count": f.certificate_count,
        "first_seen": rfc3339(f.first_seen),
        "last_seen": rfc3339(f.last_seen),
        "status": status_name(f.status),
        "evidence": f.evidence,
    })
}

/// Log names by hex log ID, from the store's registered logs.
fn log_names(store: &dyn Store) -> Result<HashMap<String, String>, StoreError> {
    Ok(store.log_status()?.into_iter().map(|l| (l.log_id, l.name)).collect())
}

/// A log's stored name, or its ID in hex when it has none.
fn log_name(names: &HashMap<String, String>, log_id: &[u8; 32]) -> String {
    let id = hex::encode(log_id);
    match names.get(&id) {
        Some(name) if !name.is_empty() => name.clone(),
        _ => id,
    }
}

fn find(store: &dyn Store, id: i64) -> Result<Finding, ExportError> {
    match store.finding(id)? {
        Some((finding, _)) => Ok(finding),
        None => Err(ExportError::NotFound(id)),
    }
}

/// One finding with its certificates (serial, names, validity, SHA-256 of the DER, and every
/// log entry that carried it): `{ "finding": {...}, "certificates": [...] }`.
pub fn finding_detail(store: &dyn Store, id: i64) -> Result<Value, ExportError> {
    let finding = find(store, id)?;
    let names = log_names(store)?;
    let mut certificates = Vec::new();
    for cert in store.finding_certificates(id)? {
        let entries: Vec<_> = store
            .entries_for_certificate(cert.id)?
            .iter()
            .map(|e| {
                json!({
                    "log": log_name(&names, &e.log_id),
                    "log_id": hex::encode(e.log_id),
                    "index": e.index,
                    "timestamp": rfc3339_ms(e.timestamp_ms),
                    "precert": e.is_precert,
                })
            })
            .collect();
        certificates.push(json!({
            "id": cert.id,
            "serial_hex": serial_hex(&cert.facts.serial),
            "issuer": cert.facts.issuer,
            "subject": cert.facts.subject,
            "dns_names": cert.facts.dns_names,
            "not_before": rfc3339(cert.facts.not_before),
            "not_after": rfc3339(cert.facts.not_after),
            "sha256": hex::encode(ctwatch_ct::sha256(&cert.der)),
            "has_precert": cert.has_precert,
            "has_final": cert.has_final,
            "first_seen": rfc3339_ms(cert.first_seen_ms),
            "entries": entries,
        }));
    }
    Ok(json!({ "finding": finding_json(&finding), "certificates": certificates }))
}

/// Write the affected-certificate CSV of finding `id` ([`CSV_HEADER`], then one row per
/// certificate, in certificate id order). Log entries are written as `log-name:index`,
/// separated by spaces.
pub fn write_certificates_csv<W: Write + ?Sized>(store: &dyn Store, id: i64, out: &mut W) -> Result<(), ExportError> {
    find(store, id)?;
    let names = log_names(store)?;
    writeln!(out, "{CSV_HEADER}")?;
    for cert in store.finding_certificates(id)? {
        let entries = store.entries_for_certificate(cert.id)?;
        let labels = |precert: bool| {
            entries
                .iter()
                .filter(|e| e.is_precert == precert)
                .map(|e| format!("{}:{}", log_name(&names, &e.log_id), e.index))
                .collect::<Vec<_>>()
                .join(" ")
        };
        let row = csv_row(&cert, &labels(true), &labels(false));
        writeln!(out, "{}", row.iter().map(|f| csv_field(f)).collect::<Vec<_>>().join(","))?;
    }
    out.flush()?;
    Ok(())
}

/// The CSV columns of one certificate, in [`CSV_HEADER`] order.
fn csv_row(cert: &StoredCertificate, precert_entries: &str, final_entries: &str) -> [String; 10] {
    let sha256 = hex::encode_upper(ctwatch_ct::sha256(&cert.der));
    [
        serial_hex(&cert.facts.serial),
        cert.facts.issuer.clone(),
        cert.facts.subject.clone(),
        rfc3339(cert.facts.not_before),
        rfc3339(cert.facts.not_after),
        cert.facts.dns_names.join(" "),
        precert_entries.to_string(),
        final_entries.to_string(),
        sha256.clone(),
        // crt.sh finds both precertificates and certificates by the SHA-256 of their DER.
        format!("https://crt.sh/?q={sha256}"),
    ]
}

/// One CSV field (RFC 4180): quoted when it holds a comma, a quote, CR or LF, with quotes
/// doubled. Values are written verbatim (names from certificates are evidence and are not
/// altered), so spreadsheet users should import the file as text.
fn csv_field(value: &str) -> std::borrow::Cow<'_, str> {
    if value.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", value.replace('"', "\"\"")).into()
    } else {
        value.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc3339_utc() {
        assert_eq!(rfc3339(1_738_368_000), "2025-02-01T00:00:00Z");
        assert_eq!(rfc3339(i64::MAX), i64::MAX.to_string());
        assert_eq!(rfc3339_ms(1_738_368_000_123), "2025-02-01T00:00:00.123Z");
        assert_eq!(rfc3339_ms(u64::MAX), format!("{}ms", u64::MAX));
    }

    #[test]
    fn csv_fields_are_quoted_only_when_needed() {
        assert_eq!(csv_field("plain value"), "plain value");
        assert_eq!(csv_field("CN=x,O=y"), "\"CN=x,O=y\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("two\nlines"), "\"two\nlines\"");
        assert_eq!(csv_field(""), "");
    }

    #[test]
    fn serials_drop_only_the_der_sign_padding() {
        assert_eq!(serial_hex(&[0x00, 0x80, 0x01]), "8001");
        assert_eq!(serial_hex(&[0x00, 0x7f]), "007f");
        assert_eq!(serial_hex(&[0x03, 0xd9]), "03d9");
        assert_eq!(serial_hex(&[0x00]), "00");
        assert_eq!(serial_hex(&[]), "");
    }
}

//! Parsers for the CCADB reports ctwatch reads, and detection of which report a file is.
//!
//! | report | recognised by the columns | gives |
//! |---|---|---|
//! | `AllCertificateRecordsCSVFormatV5` | `CA Owner`, `SHA-256 Fingerprint` | every disclosed CA certificate: owner, parent, SKI, CRLs, TLS capability |
//! | Mozilla `IncludedCACertificateReport` | `Owner`, `SHA-256 Fingerprint`, `Trust Bits` | included roots: owner, trust bits |
//! | `AllCertificatePEMsCSVFormat` | `SHA-256 Fingerprint` and `X.509 Certificate (PEM)` or `PEM Info` | the certificates themselves |
//! | crt.sh `ski_spkisha256.csv` | `Subject Key Identifier`, `SHA-256(Subject Public Key Info)` | SKI → SPKI SHA-256 |
//! | CAA identifiers | `Recognized CAA Domains` | CAA issuer domains per CA owner or certificate |

use crate::table::{Parsed, Row, Table};
use crate::{CcadbError, Fingerprint};
use base64::Engine as _;
use ctwatch_ct::Hash;
use sha2::Digest as _;
use std::io::Read;

/// Whether a CA certificate may issue TLS server certificates, and how that was learned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TlsCapability {
    /// The report's `TLS Capable` column says so.
    Capable,
    /// The report's `TLS Capable` column says it is not.
    NotCapable,
    /// Derived from trust bits (`Server Authentication`, Mozilla's `Websites`).
    TrustBits,
    /// Nothing in the report tells.
    Unknown,
}

impl TlsCapability {
    /// Whether this counts as TLS-capable.
    pub fn is_capable(self) -> bool {
        matches!(self, TlsCapability::Capable | TlsCapability::TrustBits)
    }
}

/// One CA certificate record (a row of AllCertificateRecordsCSVFormatV5 or of Mozilla's
/// IncludedCACertificateReport).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateRecord {
    /// `CA Owner` (V5) or `Owner` (Mozilla).
    pub ca_owner: String,
    /// `Subordinate CA Owner`: set when an externally operated CA runs this certificate's key.
    pub subordinate_ca_owner: Option<String>,
    /// `Certificate Name` (V5) or `Common Name or Certificate Name` (Mozilla).
    pub name: String,
    /// `Certificate Record Type`: "Root Certificate" or "Intermediate Certificate".
    pub record_type: String,
    pub sha256_fingerprint: Fingerprint,
    /// `Parent SHA-256 Fingerprint` (empty for roots).
    pub parent_sha256_fingerprint: Option<Fingerprint>,
    /// `Subject Key Identifier`, decoded from base64.
    pub subject_key_identifier: Option<Vec<u8>>,
    /// `Revocation Status` ("Revoked", "Parent Cert Revoked", ...), when not empty.
    pub revocation_status: Option<String>,
    /// `JSON Array of All Full CRL URLs` followed by `JSON Array of Partitioned CRLs`.
    pub crl_urls: Vec<String>,
    pub tls: TlsCapability,
}

impl CertificateRecord {
    /// The owner who operates this certificate's key: the subordinate CA owner when there is
    /// one, otherwise the CA owner.
    pub fn operator(&self) -> &str {
        self.subordinate_ca_owner.as_deref().unwrap_or(&self.ca_owner)
    }
}

/// One certificate of an `AllCertificatePEMsCSVFormat` report, its fingerprint checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PemRecord {
    pub sha256_fingerprint: Fingerprint,
    pub der: Vec<u8>,
}

/// One row of crt.sh's `ski_spkisha256.csv`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkiSpki {
    pub subject_key_identifier: Vec<u8>,
    pub spki_sha256: Hash,
}

/// One row of the CAA identifiers report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaaIdentifiers {
    /// `Subject`: a CA owner name or a certificate name.
    pub subject: String,
    /// `CA Owner`, when the report has that column.
    pub ca_owner: Option<String>,
    /// `SHA-256 Fingerprint`, when the report has that column.
    pub sha256_fingerprint: Option<Fingerprint>,
    /// `Recognized CAA Domains`, lowercased, without trailing dots.
    pub domains: Vec<String>,
}

/// A parsed report of any supported kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Report {
    CertificateRecords(Parsed<CertificateRecord>),
    IncludedRoots(Parsed<CertificateRecord>),
    Pems(Parsed<PemRecord>),
    SkiSpki(Parsed<SkiSpki>),
    CaaIdentifiers(Parsed<CaaIdentifiers>),
}

impl Report {
    /// A short name of the report kind, for messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Report::CertificateRecords(_) => "AllCertificateRecordsCSVFormatV5",
            Report::IncludedRoots(_) => "IncludedCACertificateReport",
            Report::Pems(_) => "AllCertificatePEMsCSVFormat",
            Report::SkiSpki(_) => "ski_spkisha256",
            Report::CaaIdentifiers(_) => "CAA identifiers",
        }
    }

    /// Rows parsed and rows rejected.
    pub fn counts(&self) -> (usize, usize) {
        fn c<T>(p: &Parsed<T>) -> (usize, usize) {
            (p.rows.len(), p.errors.len())
        }
        match self {
            Report::CertificateRecords(p) | Report::IncludedRoots(p) => c(p),
            Report::Pems(p) => c(p),
            Report::SkiSpki(p) => c(p),
            Report::CaaIdentifiers(p) => c(p),
        }
    }

    /// The rejected rows.
    pub fn errors(&self) -> &[crate::RowError] {
        match self {
            Report::CertificateRecords(p) | Report::IncludedRoots(p) => &p.errors,
            Report::Pems(p) => &p.errors,
            Report::SkiSpki(p) => &p.errors,
            Report::CaaIdentifiers(p) => &p.errors,
        }
    }
}

const PEM_COLUMNS: [&str; 2] = ["X.509 Certificate (PEM)", "PEM Info"];

/// Read any supported report, recognising it by its header.
pub fn read_report<R: Read>(input: R) -> Result<Report, CcadbError> {
    let table = Table::open(input)?;
    if table.has("CA Owner") && table.has("SHA-256 Fingerprint") && !table.has("Recognized CAA Domains") {
        certificate_records(table).map(Report::CertificateRecords)
    } else if table.has("Owner") && table.has("SHA-256 Fingerprint") && table.has("Trust Bits") {
        included_roots(table).map(Report::IncludedRoots)
    } else if table.has("SHA-256 Fingerprint") && PEM_COLUMNS.iter().any(|c| table.has(c)) {
        pems(table).map(Report::Pems)
    } else if table.has("Subject Key Identifier") && table.has("SHA-256(Subject Public Key Info)") {
        ski_spki(table).map(Report::SkiSpki)
    } else if table.has("Recognized CAA Domains") {
        caa_identifiers(table).map(Report::CaaIdentifiers)
    } else {
        Err(CcadbError::UnknownReport)
    }
}

/// Parse AllCertificateRecordsCSVFormatV5.
pub fn read_certificate_records<R: Read>(input: R) -> Result<Parsed<CertificateRecord>, CcadbError> {
    certificate_records(Table::open(input)?)
}

/// Parse Mozilla's IncludedCACertificateReport.
pub fn read_included_roots<R: Read>(input: R) -> Result<Parsed<CertificateRecord>, CcadbError> {
    included_roots(Table::open(input)?)
}

/// Parse an AllCertificatePEMsCSVFormat report.
pub fn read_pems<R: Read>(input: R) -> Result<Parsed<PemRecord>, CcadbError> {
    pems(Table::open(input)?)
}

/// Parse crt.sh's SKI → SPKI SHA-256 table.
pub fn read_ski_spki<R: Read>(input: R) -> Result<Parsed<SkiSpki>, CcadbError> {
    ski_spki(Table::open(input)?)
}

/// Parse the CAA identifiers report.
pub fn read_caa_identifiers<R: Read>(input: R) -> Result<Parsed<CaaIdentifiers>, CcadbError> {
    caa_identifiers(Table::open(input)?)
}

fn certificate_records<R: Read>(table: Table<R>) -> Result<Parsed<CertificateRecord>, CcadbError> {
    const REPORT: &str = "AllCertificateRecordsCSVFormatV5";
    table.require(REPORT, &["CA Owner", "SHA-256 Fingerprint"])?;
    table.rows(|row| {
        let mut crl_urls = json_strings(row, "JSON Array of All Full CRL URLs")?;
        for url in json_strings(row, "JSON Array of Partitioned CRLs")? {
            if !crl_urls.contains(&url) {
                crl_urls.push(url);
            }
        }
        let tls = match row.opt("TLS Capable") {
            Some(v) => {
                if parse_bool(v, "TLS Capable")? {
                    TlsCapability::Capable
                } else {
                    TlsCapability::NotCapable
                }
            }
            None => {
                let bits = format!("{};{}", row.get("Derived Trust Bits"), row.get("Trust Bits for Root Cert"));
                if bits.split(';').any(|b| b.trim().eq_ignore_ascii_case("Server Authentication")) {
                    TlsCapability::TrustBits
                } else {
                    TlsCapability::Unknown
                }
            }
        };
        Ok(CertificateRecord {
            ca_owner: row.required("CA Owner")?.to_string(),
            subordinate_ca_owner: row.opt("Subordinate CA Owner").map(str::to_string),
            name: row.get("Certificate Name").to_string(),
            record_type: row.get("Certificate Record Type").to_string(),
            sha256_fingerprint: fingerprint(row.required("SHA-256 Fingerprint")?, "SHA-256 Fingerprint")?,
            parent_sha256_fingerprint: row
                .opt("Parent SHA-256 Fingerprint")
                .map(|v| fingerprint(v, "Parent SHA-256 Fingerprint"))
                .transpose()?,
            subject_key_identifier: row
                .opt("Subject Key Identifier")
                .map(|v| base64_field(v, "Subject Key Identifier"))
                .transpose()?,
            revocation_status: row.opt("Revocation Status").map(str::to_string),
            crl_urls,
            tls,
        })
    })
}

fn included_roots<R: Read>(table: Table<R>) -> Result<Parsed<CertificateRecord>, CcadbError> {
    const REPORT: &str = "IncludedCACertificateReport";
    table.require(REPORT, &["Owner", "SHA-256 Fingerprint", "Trust Bits"])?;
    table.rows(|row| {
        let websites = row.get("Trust Bits").split(';').any(|b| b.trim().eq_ignore_ascii_case("Websites"));
        Ok(CertificateRecord {
            ca_owner: row.required("Owner")?.to_string(),
            subordinate_ca_owner: None,
            name: row.get("Common Name or Certificate Name").to_string(),
            record_type: "Root Certificate".to_string(),
            sha256_fingerprint: fingerprint(row.required("SHA-256 Fingerprint")?, "SHA-256 Fingerprint")?,
            parent_sha256_fingerprint: None,
            subject_key_identifier: None,
            revocation_status: None,
            crl_urls: Vec::new(),
            tls: if websites { TlsCapability::TrustBits } else { TlsCapability::NotCapable },
        })
    })
}

fn pems<R: Read>(table: Table<R>) -> Result<Parsed<PemRecord>, CcadbError> {
    let column = PEM_COLUMNS.iter().copied().find(|c| table.has(c)).unwrap_or(PEM_COLUMNS[0]);
    table.require("AllCertificatePEMsCSVFormat", &["SHA-256 Fingerprint", column])?;
    table.rows(|row| {
        let fp = fingerprint(row.required("SHA-256 Fingerprint")?, "SHA-256 Fingerprint")?;
        let der = pem_der(row.required(column)?).map_err(|e| format!("`{column}`: {e}"))?;
        let actual: Fingerprint = sha2::Sha256::digest(&der).into();
        if actual != fp {
            return Err(format!(
                "`SHA-256 Fingerprint` is {} but the certificate hashes to {}",
                hex::encode_upper(fp),
                hex::encode_upper(actual)
            ));
        }
        Ok(PemRecord { sha256_fingerprint: fp, der })
    })
}

fn ski_spki<R: Read>(table: Table<R>) -> Result<Parsed<SkiSpki>, CcadbError> {
    const SPKI: &str = "SHA-256(Subject Public Key Info)";
    table.require("ski_spkisha256", &["Subject Key Identifier", SPKI])?;
    table.rows(|row| {
        let ski = base64_field(row.required("Subject Key Identifier")?, "Subject Key Identifier")?;
        let spki = base64_field(row.required(SPKI)?, SPKI)?;
        let spki_sha256: Hash =
            spki.try_into().map_err(|v: Vec<u8>| format!("`{SPKI}` has {} bytes, expected 32", v.len()))?;
        Ok(SkiSpki { subject_key_identifier: ski, spki_sha256 })
    })
}

fn caa_identifiers<R: Read>(table: Table<R>) -> Result<Parsed<CaaIdentifiers>, CcadbError> {
    if !table.has("Subject") && !table.has("CA Owner") {
        return Err(CcadbError::MissingColumns { report: "CAA identifiers", missing: vec!["Subject".into()] });
    }
    table.rows(|row| {
        let subject = row.opt("Subject").or_else(|| row.opt("CA Owner")).ok_or("`Subject` is empty")?;
        let mut domains = Vec::new();
        for d in row.get("Recognized CAA Domains").split(|c: char| c == ',' || c == ';' || c.is_whitespace()) {
            let d = d.trim().trim_end_matches('.').to_ascii_lowercase();
            if d.is_empty() {
                continue;
            }
            if !d.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.') {
                return Err(format!("`Recognized CAA Domains`: {d:?} is not a domain name"));
            }
            if !domains.contains(&d) {
                domains.push(d);
            }
        }
        Ok(CaaIdentifiers {
            subject: subject.to_string(),
            ca_owner: row.opt("CA Owner").map(str::to_string),
            sha256_fingerprint: row
                .opt("SHA-256 Fingerprint")
                .map(|v| fingerprint(v, "SHA-256 Fingerprint"))
                .transpose()?,
            domains,
        })
    })
}

/// 64 hex digits, colons and spaces allowed between them.
fn fingerprint(value: &str, column: &str) -> Result<Fingerprint, String> {
    let digits: String = value.chars().filter(|c| *c != ':' && !c.is_whitespace()).collect();
    let mut out = [0u8; 32];
    hex::decode_to_slice(&digits, &mut out).map_err(|_| format!("`{column}`: {value:?} is not 64 hex digits"))?;
    Ok(out)
}

fn base64_field(value: &str, column: &str) -> Result<Vec<u8>, String> {
    base64::engine::general_purpose::STANDARD
        .decode(value)
        .map_err(|e| format!("`{column}`: {value:?} is not base64 ({e})"))
}

fn parse_bool(value: &str, column: &str) -> Result<bool, String> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "yes" | "1" => Ok(true),
        "false" | "no" | "0" => Ok(false),
        _ => Err(format!("`{column}`: expected True or False, found {value:?}")),
    }
}

/// A JSON array of strings inside a field; an empty field is an empty list.
fn json_strings(row: &Row<'_>, column: &str) -> Result<Vec<String>, String> {
    let Some(text) = row.opt(column) else { return Ok(Vec::new()) };
    let urls: Vec<String> =
        serde_json::from_str(text).map_err(|e| format!("`{column}`: not a JSON array of strings ({e})"))?;
    Ok(urls.into_iter().map(|u| u.trim().to_string()).filter(|u| !u.is_empty()).collect())
}

/// The DER of the single certificate in a PEM field. Whitespace, including blank lines inside
/// the block (seen in real reports), is ignored.
fn pem_der(text: &str) -> Result<Vec<u8>, String> {
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let start = text.find(BEGIN).ok_or("no BEGIN CERTIFICATE line")?;
    let body = text.get(start + BEGIN.len()..).unwrap_or("");
    let end = body.find(END).ok_or("no END CERTIFICATE line")?;
    let b64: String = body.get(..end).unwrap_or("").chars().filter(|c| !c.is_whitespace()).collect();
    base64::engine::general_purpose::STANDARD.decode(b64).map_err(|e| format!("invalid base64 ({e})"))
}

#[cfg(test)]
mod tests;

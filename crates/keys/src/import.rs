//! Parsing of compromised-key import files (`ctwatch keys import FILE`).
//!
//! A file may mix, in any order:
//!
//! - lines holding one SPKI SHA-256 as 64 hex digits (either case); leading and trailing
//!   whitespace, blank lines and `#` comments (whole-line or after the hash) are ignored;
//! - PEM blocks: `PUBLIC KEY` (SPKI), `RSA PUBLIC KEY` (PKCS#1), `CERTIFICATE`,
//!   `CERTIFICATE REQUEST` / `NEW CERTIFICATE REQUEST` (PKCS#10), and private keys from which
//!   the public key follows without elliptic-curve arithmetic: `RSA PRIVATE KEY` (PKCS#1),
//!   `EC PRIVATE KEY` (SEC1, when it carries its public key), and `PRIVATE KEY` (PKCS#8) with
//!   RSA, EC (public key included) or Ed25519 (public key derived from the seed).
//!
//! Any other line is reported as a problem with its line number and parsing goes on, so one
//! bad line never hides the rest of the file. Keys given as bare parts (PKCS#1, private keys)
//! are re-encoded as the canonical SPKI a CA would put in a certificate, and their material
//! hash matches other encodings of the same key anyway.

use base64::Engine;
use ctwatch_cert::der::{self, Reader};

use crate::keyset::{CompromisedKey, KeyFingerprints, KeySource};
use crate::spki::{self, PublicKey, SpkiError};

/// What an imported key was given as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImportKind {
    /// A hex SPKI SHA-256 line.
    SpkiSha256Hex,
    /// PEM `PUBLIC KEY`.
    PublicKey,
    /// PEM `RSA PUBLIC KEY`.
    RsaPublicKey,
    /// PEM `CERTIFICATE`.
    Certificate,
    /// PEM `CERTIFICATE REQUEST`.
    CertificateRequest,
    /// PEM `RSA PRIVATE KEY`.
    RsaPrivateKey,
    /// PEM `EC PRIVATE KEY`.
    EcPrivateKey,
    /// PEM `PRIVATE KEY`.
    PrivateKey,
}

/// One key read from an import file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedKey {
    /// The 1-based line it starts on.
    pub line: usize,
    /// How it was given.
    pub kind: ImportKind,
    /// Its fingerprints.
    pub fingerprints: KeyFingerprints,
    /// The DER SPKI, unless only the hash was given.
    pub spki_der: Option<Vec<u8>>,
}

/// A line or block that was not imported.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ImportProblem {
    /// The 1-based line it starts on.
    pub line: usize,
    /// What was wrong.
    pub message: String,
}

/// Everything read from one import file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// The keys, in file order.
    pub keys: Vec<ImportedKey>,
    /// The problems, in file order.
    pub problems: Vec<ImportProblem>,
}

impl ImportReport {
    /// The keys as set entries with source [`KeySource::Import`].
    pub fn to_compromised(&self, file: &str, learned_at: i64) -> Vec<CompromisedKey> {
        self.keys
            .iter()
            .map(|k| CompromisedKey {
                fingerprints: k.fingerprints,
                source: KeySource::Import { file: file.to_owned() },
                learned_at,
                evidence: serde_json::json!({ "file": file, "line": k.line, "given_as": k.kind }),
            })
            .collect()
    }
}

/// Why a PEM block was not imported.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone)]
enum BlockError {
    #[error("{0}")]
    Spki(#[from] SpkiError),
    #[error("malformed {0}")]
    Malformed(&'static str),
    #[error("{0}")]
    Unsupported(String),
}

/// Parse an import file. Never fails: problems are collected in the report.
pub fn parse_import(input: &[u8]) -> ImportReport {
    let text = String::from_utf8_lossy(input);
    let mut report = ImportReport::default();
    let mut block: Option<(usize, String, String, bool)> = None; // start, label, base64, has headers
    for (index, raw_line) in text.split('\n').enumerate() {
        let line_no = index + 1;
        let line = raw_line.trim();
        if let Some((start, label, body, headers)) = block.as_mut() {
            if let Some(end_label) = pem_marker(line, "END") {
                if end_label != label {
                    report.problems.push(ImportProblem {
                        line: line_no,
                        message: format!("PEM block started as {label:?} on line {start} ends as {end_label:?}"),
                    });
                } else if *headers {
                    report.problems.push(ImportProblem {
                        line: *start,
                        message: format!("encrypted PEM {label} is not supported"),
                    });
                } else {
                    match decode_block(label, body) {
                        Ok((kind, spki_der)) => match KeyFingerprints::from_spki_der(&spki_der) {
                            Ok(fingerprints) => report.keys.push(ImportedKey {
                                line: *start,
                                kind,
                                fingerprints,
                                spki_der: Some(spki_der),
                            }),
                            Err(e) => report.problems.push(ImportProblem { line: *start, message: e.to_string() }),
                        },
                        Err(e) => {
                            report.problems.push(ImportProblem { line: *start, message: format!("{label}: {e}") })
                        }
                    }
                }
                block = None;
            } else if line.contains(':') {
                *headers = true;
            } else {
                body.push_str(line);
            }
            continue;
        }
        if let Some(label) = pem_marker(line, "BEGIN") {
            block = Some((line_no, label.to_owned(), String::new(), false));
            continue;
        }
        let content = line.split('#').next().unwrap_or_default().trim();
        if content.is_empty() {
            continue;
        }
        match parse_hex_hash(content) {
            Some(hash) => report.keys.push(ImportedKey {
                line: line_no,
                kind: ImportKind::SpkiSha256Hex,
                fingerprints: KeyFingerprints::from_spki_sha256(hash),
                spki_der: None,
            }),
            None => {
                let shown: String = content.chars().take(40).collect();
                report.problems.push(ImportProblem {
                    line: line_no,
                    message: format!("expected 64 hex digits (an SPKI SHA-256) or a PEM block, found {shown:?}"),
                });
            }
        }
    }
    if let Some((start, label, _, _)) = block {
        report.problems.push(ImportProblem { line: start, message: format!("PEM block {label} has no END line") });
    }
    report
}

/// The label of a `-----BEGIN label-----` / `-----END label-----` line.
fn pem_marker<'a>(line: &'a str, which: &str) -> Option<&'a str> {
    line.strip_prefix("-----")?.strip_prefix(which)?.strip_prefix(' ')?.strip_suffix("-----")
}

fn parse_hex_hash(token: &str) -> Option<[u8; 32]> {
    if token.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    hex::decode_to_slice(token, &mut out).ok()?;
    Some(out)
}

/// Decode a PEM block's body and find its SPKI.
fn decode_block(label: &str, body: &str) -> Result<(ImportKind, Vec<u8>), BlockError> {
    let der = base64::engine::general_purpose::STANDARD.decode(body).map_err(|_| BlockError::Malformed("base64"))?;
    match label {
        "PUBLIC KEY" => {
            spki::parse_spki(&der)?;
            Ok((ImportKind::PublicKey, der))
        }
        "RSA PUBLIC KEY" => Ok((ImportKind::RsaPublicKey, spki_of(spki::parse_rsa_public_key(&der)?, None)?)),
        "CERTIFICATE" => ctwatch_cert::facts::spki_der_of_cert(&der)
            .map(|spki| (ImportKind::Certificate, spki))
            .map_err(|_| BlockError::Malformed("certificate")),
        "CERTIFICATE REQUEST" | "NEW CERTIFICATE REQUEST" => Ok((
            ImportKind::CertificateRequest,
            csr_spki(&der).map_err(|_| BlockError::Malformed("certificate request"))?,
        )),
        "RSA PRIVATE KEY" => Ok((ImportKind::RsaPrivateKey, spki_of(rsa_private_key(&der)?, None)?)),
        "EC PRIVATE KEY" => Ok((ImportKind::EcPrivateKey, ec_private_key(&der, None)?)),
        "PRIVATE KEY" => Ok((ImportKind::PrivateKey, pkcs8_private_key(&der)?)),
        other => Err(BlockError::Unsupported(format!("PEM label {other:?} is not supported"))),
    }
}

fn spki_of(key: PublicKey, curve_oid: Option<&[u8]>) -> Result<Vec<u8>, BlockError> {
    match (key, curve_oid) {
        (PublicKey::Rsa { modulus, exponent }, _) => Ok(spki::rsa_spki(&modulus, &exponent)),
        (PublicKey::Ec { point, .. }, Some(curve)) => Ok(spki::ec_spki(curve, &point)),
        (PublicKey::Ed25519 { key }, _) => Ok(spki::ed25519_spki(&key)),
        _ => Err(BlockError::Unsupported("key type cannot be re-encoded".to_owned())),
    }
}

/// The SPKI inside a PKCS#10 request: `SEQUENCE { SEQUENCE { version, subject, spki, ... }, ... }`.
fn csr_spki(der: &[u8]) -> Result<Vec<u8>, der::DerError> {
    let (outer, _) = der::read_tlv(der)?;
    let mut r = Reader::new(outer.content);
    let info = r.read(der::TAG_SEQUENCE)?;
    let mut i = Reader::new(info.content);
    i.read(der::TAG_INTEGER)?;
    i.read(der::TAG_SEQUENCE)?;
    Ok(i.read(der::TAG_SEQUENCE)?.raw.to_vec())
}

/// `RSAPrivateKey ::= SEQUENCE { version, modulus, publicExponent, ... }`.
fn rsa_private_key(der: &[u8]) -> Result<PublicKey, BlockError> {
    let bad = |_| BlockError::Malformed("RSAPrivateKey");
    let (seq, _) = der::read_tlv(der).map_err(bad)?;
    let mut r = Reader::new(seq.content);
    r.read(der::TAG_INTEGER).map_err(bad)?;
    let n = r.read(der::TAG_INTEGER).map_err(bad)?;
    let e = r.read(der::TAG_INTEGER).map_err(bad)?;
    Ok(PublicKey::Rsa {
        modulus: spki::unsigned_integer(n.content, "modulus")?,
        exponent: spki::unsigned_integer(e.content, "exponent")?,
    })
}

/// `ECPrivateKey ::= SEQUENCE { version 1, privateKey OCTET STRING, [0] parameters, [1] publicKey }`.
fn ec_private_key(der: &[u8], curve_from_pkcs8: Option<&[u8]>) -> Result<Vec<u8>, BlockError> {
    let bad = |_| BlockError::Malformed("ECPrivateKey");
    let (seq, _) = der::read_tlv(der).map_err(bad)?;
    let mut r = Reader::new(seq.content);
    r.read(der::TAG_INTEGER).map_err(bad)?;
    r.read(der::TAG_OCTET_STRING).map_err(bad)?;
    let mut curve = curve_from_pkcs8;
    let mut point = None;
    for item in r {
        let item = item.map_err(bad)?;
        let inner = || der::read_tlv(item.content).map(|(t, _)| t);
        match item.tag {
            0xa0 => {
                let oid = inner().map_err(bad)?;
                if oid.tag == der::TAG_OID {
                    curve = curve.or(Some(oid.content));
                }
            }
            0xa1 => {
                let bits = inner().map_err(bad)?;
                match bits.content.split_first() {
                    Some((0, p)) if bits.tag == der::TAG_BIT_STRING => point = Some(p),
                    _ => return Err(BlockError::Malformed("ECPrivateKey publicKey")),
                }
            }
            _ => {}
        }
    }
    let curve = curve.ok_or_else(|| BlockError::Unsupported("EC private key without a named curve".to_owned()))?;
    let point = point.ok_or_else(|| {
        BlockError::Unsupported("EC private key without its public key (deriving it is not supported)".to_owned())
    })?;
    Ok(spki::ec_spki(curve, point))
}

/// `PrivateKeyInfo ::= SEQUENCE { version, AlgorithmIdentifier, privateKey OCTET STRING,
/// [0] attributes OPTIONAL, [1] publicKey OPTIONAL }` (RFC 5958).
fn pkcs8_private_key(der: &[u8]) -> Result<Vec<u8>, BlockError> {
    let bad = |_| BlockError::Malformed("PKCS#8 PrivateKeyInfo");
    let (seq, _) = der::read_tlv(der).map_err(bad)?;
    let mut r = Reader::new(seq.content);
    r.read(der::TAG_INTEGER).map_err(bad)?;
    let alg = r.read(der::TAG_SEQUENCE).map_err(bad)?;
    let private = r.read(der::TAG_OCTET_STRING).map_err(bad)?;
    let mut public = None;
    for item in r {
        let item = item.map_err(bad)?;
        if item.tag == 0x81 {
            public = item.content.split_first().filter(|(unused, _)| **unused == 0).map(|(_, k)| k);
        }
    }
    let mut a = Reader::new(alg.content);
    let oid = a.read(der::TAG_OID).map_err(bad)?.content;
    let params = a.read_optional(der::TAG_OID).map_err(bad)?;
    match oid {
        spki::OID_RSA => spki_of(rsa_private_key(private.content)?, None),
        spki::OID_EC => ec_private_key(private.content, params.map(|p| p.content)),
        spki::OID_ED25519 => {
            if let Some(key) = public {
                return Ok(spki::ed25519_spki(key));
            }
            let (seed, _) = der::read_tlv(private.content).map_err(bad)?;
            if seed.tag != der::TAG_OCTET_STRING {
                return Err(BlockError::Malformed("Ed25519 private key"));
            }
            let pair = ring::signature::Ed25519KeyPair::from_seed_unchecked(seed.content)
                .map_err(|_| BlockError::Malformed("Ed25519 private key"))?;
            Ok(spki::ed25519_spki(ring::signature::KeyPair::public_key(&pair).as_ref()))
        }
        other => Err(BlockError::Unsupported(format!(
            "private keys of algorithm {} are not supported",
            der::oid_to_string(other).unwrap_or_else(|| "invalid-oid".to_owned())
        ))),
    }
}

#[cfg(test)]
mod tests;

//! Helpers shared by the integration tests: PEM and CSV reading, log keys and issuer lookup.

#![allow(dead_code)]

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use std::collections::HashMap;
use std::path::Path;

/// Every `CERTIFICATE` PEM block in `text`, decoded.
pub fn pem_certs(text: &[u8]) -> Vec<Vec<u8>> {
    let text = String::from_utf8_lossy(text);
    let mut out = Vec::new();
    let mut rest = text.as_ref();
    while let Some(start) = rest.find("-----BEGIN CERTIFICATE-----") {
        let body = &rest[start + "-----BEGIN CERTIFICATE-----".len()..];
        let end = body.find("-----END CERTIFICATE-----").expect("unterminated PEM block");
        let b64: String = body[..end].chars().filter(|c| !c.is_whitespace()).collect();
        out.push(STANDARD.decode(b64).expect("PEM base64"));
        rest = &body[end..];
    }
    out
}

/// The certificates in a `.der` file (one) or any other file (PEM blocks).
pub fn read_certs(path: &Path) -> Vec<Vec<u8>> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    if path.extension().is_some_and(|e| e == "der") { vec![bytes] } else { pem_certs(&bytes) }
}

/// RFC 4180 CSV: quoted fields may hold commas, doubled quotes and newlines.
pub fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => field.push(c),
        }
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    rows
}

pub fn b64(s: &str) -> Vec<u8> {
    STANDARD.decode(s).unwrap_or_else(|e| panic!("base64 {s:?}: {e}"))
}

/// Log ID → (description, DER SPKI) from every log list under `log_lists/`.
pub fn log_keys(log_lists: &Path) -> HashMap<[u8; 32], (String, Vec<u8>)> {
    let mut keys = HashMap::new();
    for dir in std::fs::read_dir(log_lists).unwrap() {
        let path = dir.unwrap().path().join("all_logs_list.json");
        if !path.exists() {
            continue;
        }
        let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        for op in json["operators"].as_array().unwrap() {
            for kind in ["logs", "tiled_logs"] {
                for log in op[kind].as_array().into_iter().flatten() {
                    let id: [u8; 32] = b64(log["log_id"].as_str().unwrap()).try_into().unwrap();
                    let key = b64(log["key"].as_str().unwrap());
                    assert_eq!(ctwatch_ct::sha256(&key), id, "log id of {}", log["description"]);
                    keys.insert(id, (log["description"].as_str().unwrap().to_owned(), key));
                }
            }
        }
    }
    keys
}

/// Unix seconds → `YYYY-MM-DD` (proleptic Gregorian, UTC).
pub fn ymd(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    format!("{:04}-{:02}-{:02}", if m <= 2 { y + 1 } else { y }, m, d)
}

/// Verify a TLS `DigitallySigned` (SHA-256 with ECDSA or RSA PKCS#1) with `ring` directly, for
/// tests that must not depend on `ctwatch_ct::sth::LogKey`.
pub fn ring_verify(spki_der: &[u8], message: &[u8], digitally_signed: &[u8]) -> bool {
    use ring::signature::{ECDSA_P256_SHA256_ASN1, RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};
    let [4, sig_alg, hi, lo, sig @ ..] = digitally_signed else { return false };
    if sig.len() != usize::from(u16::from_be_bytes([*hi, *lo])) {
        return false;
    }
    // The subjectPublicKey BIT STRING is the last element of the SPKI; its content after the
    // unused-bits byte is the EC point or the RSAPublicKey.
    let Some(key) = spki_public_key(spki_der) else { return false };
    let alg: &dyn ring::signature::VerificationAlgorithm = match sig_alg {
        3 => &ECDSA_P256_SHA256_ASN1,
        1 => &RSA_PKCS1_2048_8192_SHA256,
        _ => return false,
    };
    UnparsedPublicKey::new(alg, key).verify(message, sig).is_ok()
}

fn spki_public_key(spki: &[u8]) -> Option<&[u8]> {
    use ctwatch_cert::der::{Reader, TAG_BIT_STRING, TAG_SEQUENCE};
    let seq = Reader::new(spki).read(TAG_SEQUENCE).ok()?;
    let mut r = Reader::new(seq.content);
    r.read(TAG_SEQUENCE).ok()?;
    let bits = r.read(TAG_BIT_STRING).ok()?;
    bits.content.strip_prefix(&[0])
}

/// CA certificates from the CCADB snapshot, indexed for finding a leaf's issuer.
#[derive(Debug, Default)]
pub struct Issuers {
    /// SKI → SPKI SHA-256 of the CA certificates with that SKI.
    pub by_ski: HashMap<Vec<u8>, Vec<[u8; 32]>>,
    /// Subject (RFC 4514 string) → SPKI SHA-256.
    pub by_subject: HashMap<String, Vec<[u8; 32]>>,
}

impl Issuers {
    pub fn add(&mut self, der: &[u8]) {
        let Ok(facts) = ctwatch_cert::facts::cert_facts(der) else { return };
        if let Some(ski) = facts.subject_key_id {
            push_unique(self.by_ski.entry(ski).or_default(), facts.spki_sha256);
        }
        push_unique(self.by_subject.entry(facts.subject).or_default(), facts.spki_sha256);
    }

    /// Load every PEM in `AllCertificatePEMsCSVFormat/*.csv`.
    pub fn load_ccadb(dir: &Path) -> Self {
        let mut issuers = Issuers::default();
        for entry in std::fs::read_dir(dir.join("AllCertificatePEMsCSVFormat")).unwrap() {
            let path = entry.unwrap().path();
            for der in pem_certs(&std::fs::read(&path).unwrap()) {
                issuers.add(&der);
            }
        }
        issuers
    }

    /// Candidate issuer key hashes for a leaf: AKI → SKI first, then issuer name → subject.
    pub fn candidates(&self, leaf: &ctwatch_cert::facts::CertFacts) -> Vec<[u8; 32]> {
        let mut out = Vec::new();
        if let Some(aki) = &leaf.authority_key_id {
            for h in self.by_ski.get(aki).into_iter().flatten() {
                push_unique(&mut out, *h);
            }
        }
        for h in self.by_subject.get(&leaf.issuer).into_iter().flatten() {
            push_unique(&mut out, *h);
        }
        out
    }
}

fn push_unique(v: &mut Vec<[u8; 32]>, h: [u8; 32]) {
    if !v.contains(&h) {
        v.push(h);
    }
}

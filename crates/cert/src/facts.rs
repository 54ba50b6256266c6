//! Extract [`CertFacts`] from DER.
//!
//! The certificate is split with the strict DER walker in [`crate::der`] and each field is then
//! decoded on its own, so one broken field (a SAN that does not parse, a name that is not
//! valid UTF-8, an unknown time format) costs only that field: the problem is written to
//! [`CertFacts::field_errors`] and the rest is still filled in. Only a certificate whose
//! outer framing or TBSCertificate field layout cannot be walked is an `Err`.
//!
//! Performance: this runs on every log entry (about 10^5 certificates per second across two
//! cores), so each field is read once, names are formatted once (common names are collected
//! during that pass), OIDs are compared as bytes rather than formatted, and nothing is
//! re-parsed. Work is linear in the input size: 10,000 SANs or 100 KB extensions cost a
//! single pass each, and the number of field errors kept is capped.

use crate::der::{self, DerError, Reader, Tlv};
use crate::identity::{Extension, TbsFields, oid};
use ctwatch_ct::Hash;
use std::borrow::Cow;
use std::fmt::Write as _;
use x509_parser::prelude::{
    ASN1Time, AuthorityInfoAccess, AuthorityKeyIdentifier, BasicConstraints, CRLDistributionPoints,
    DistributionPointName, FromDer, GeneralName, KeyIdentifier,
};

/// Why a certificate could not be decoded at all.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone)]
pub enum CertError {
    /// The outer `Certificate` SEQUENCE could not be walked.
    #[error("certificate is not valid DER X.509: {0}")]
    Parse(String),
    /// The TBSCertificate fields could not be walked.
    #[error("TBSCertificate is not valid DER: {0}")]
    Tbs(String),
    /// The embedded SCT-list extension is malformed.
    #[error("malformed SCT list extension: {0}")]
    SctList(String),
}

/// CA/B Forum validation type from the certificate policies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ValidationType {
    /// 2.23.140.1.2.1
    Dv,
    /// 2.23.140.1.2.2
    Ov,
    /// 2.23.140.1.2.3
    Iv,
    /// 2.23.140.1.1
    Ev,
    /// None of the above.
    Unknown,
}

impl ValidationType {
    /// The lowercase name used in serialized form and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            ValidationType::Dv => "dv",
            ValidationType::Ov => "ov",
            ValidationType::Iv => "iv",
            ValidationType::Ev => "ev",
            ValidationType::Unknown => "unknown",
        }
    }
}

/// An SCT found in the embedded SCT-list extension (1.3.6.1.4.1.11129.2.4.2).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EmbeddedSct {
    /// SCT version; only 0 (v1) is decoded.
    pub version: u8,
    /// SHA-256 of the log's public key.
    pub log_id: Hash,
    /// Milliseconds since the Unix epoch.
    pub timestamp: u64,
    /// The SCT's extensions field, without its length prefix.
    pub extensions: Vec<u8>,
    /// The raw `DigitallySigned` signature.
    pub signature: Vec<u8>,
}

/// Everything the monitor and detectors read from a certificate.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CertFacts {
    /// Serial as the DER INTEGER content bytes (may be negative or oversized; kept verbatim).
    pub serial: Vec<u8>,
    /// The issuer name in RFC 4514 form: last RDN first, `,` between RDNs, `+` inside one,
    /// short names for CN, L, ST, O, OU, C, STREET, DC and UID and dotted OIDs otherwise,
    /// special characters backslash-escaped and NUL written `\00`; values that are not
    /// strings are `#` and the hex of their DER. This matches python-cryptography's
    /// `rfc4514_string()`.
    pub issuer: String,
    /// The subject name, formatted as `issuer` is.
    pub subject: String,
    /// Subject CN values, decoded; NUL bytes written as `\0` (and noted in `field_errors`).
    pub common_names: Vec<String>,
    /// SAN dNSName values, as found (lossy UTF-8 if not IA5); NUL bytes are written as the two
    /// characters `\0` and noted in `field_errors`, never dropped or truncated at.
    pub dns_names: Vec<String>,
    /// SAN iPAddress values, formatted (dotted quad or RFC 5952 IPv6).
    pub ip_addresses: Vec<String>,
    /// notBefore in Unix seconds (0 if it could not be decoded; see `field_errors`).
    pub not_before: i64,
    /// notAfter in Unix seconds (0 if it could not be decoded; see `field_errors`).
    pub not_after: i64,
    /// SHA-256 of the DER SubjectPublicKeyInfo.
    pub spki_sha256: Hash,
    /// "rsa", "ecdsa", "ed25519", "dsa" or the OID.
    pub key_algorithm: String,
    /// RSA modulus bits, EC curve bits, DSA prime bits or 256 for Ed25519, when known.
    pub key_bits: Option<u32>,
    /// EC named curve OID, if EC.
    pub key_curve: Option<String>,
    /// SHA-256 of the RSA modulus (leading zeros stripped), of the EC point, or of the raw
    /// Ed25519 key: matches a key across SPKI re-encodings.
    pub key_material_sha256: Option<Hash>,
    /// certificatePolicies policy identifiers, dotted.
    pub policy_oids: Vec<String>,
    /// The most specific CA/B Forum policy present (EV over IV over OV over DV).
    pub validation_type: ValidationType,
    /// authorityKeyIdentifier keyIdentifier bytes.
    pub authority_key_id: Option<Vec<u8>>,
    /// subjectKeyIdentifier bytes.
    pub subject_key_id: Option<Vec<u8>>,
    /// URIs from the fullName of each CRL distribution point.
    pub crl_distribution_points: Vec<String>,
    /// authorityInfoAccess id-ad-ocsp URIs.
    pub ocsp_urls: Vec<String>,
    /// authorityInfoAccess id-ad-caIssuers URIs.
    pub ca_issuer_urls: Vec<String>,
    /// basicConstraints cA=TRUE.
    pub is_ca: bool,
    /// The CT poison extension (1.3.6.1.4.1.11129.2.4.3) is present.
    pub is_precert: bool,
    /// SCTs from the SCT-list extension, in order (those before a malformed one, if any).
    pub embedded_scts: Vec<EmbeddedSct>,
    /// Problems met in individual fields, each `"<field>: <problem>"`; the rest of the facts are
    /// still valid. At most 32 are kept, then one entry counting the rest.
    pub field_errors: Vec<String>,
}

/// At most this many field errors are kept; a last entry says how many more were dropped.
const MAX_FIELD_ERRORS: usize = 32;

/// Collects field errors with a cap, so that a certificate with 10,000 bad SANs costs a
/// bounded amount of memory.
#[derive(Debug, Default)]
struct Errors {
    kept: Vec<String>,
    dropped: usize,
}

impl Errors {
    fn push(&mut self, field: &str, message: impl std::fmt::Display) {
        if self.kept.len() < MAX_FIELD_ERRORS {
            self.kept.push(format!("{field}: {message}"));
        } else {
            self.dropped += 1;
        }
    }

    fn finish(mut self) -> Vec<String> {
        if self.dropped > 0 {
            self.kept.push(format!("{} more field errors not kept", self.dropped));
        }
        self.kept
    }
}

/// The TBS fields of a certificate, walking the outer SEQUENCE leniently: a missing or odd
/// signature, or bytes after the certificate, are reported through `errors` rather than
/// failing, since the TBS is all that facts are read from.
fn lenient_tbs<'a>(der: &'a [u8], errors: Option<&mut Errors>) -> Result<TbsFields<'a>, CertError> {
    let parse_err = |e: DerError| CertError::Parse(e.to_string());
    let mut outer = Reader::new(der);
    let cert = outer.read(der::TAG_SEQUENCE).map_err(parse_err)?;
    let mut inner = Reader::new(cert.content);
    let tbs = inner.read(der::TAG_SEQUENCE).map_err(parse_err)?;
    if let Some(errors) = errors {
        if let Err(e) = outer.finish() {
            errors.push("certificate", e);
        }
        let rest =
            inner.read(der::TAG_SEQUENCE).and_then(|_| inner.read(der::TAG_BIT_STRING)).and_then(|_| inner.finish());
        if let Err(e) = rest {
            errors.push("signature", e);
        }
    }
    TbsFields::parse_content(tbs.content).map_err(|e| CertError::Tbs(e.to_string()))
}

/// Decode a DER certificate (or precertificate). Fails only when the outer structure cannot be
/// parsed; field-level problems go to `field_errors`.
pub fn cert_facts(der: &[u8]) -> Result<CertFacts, CertError> {
    let mut errors = Errors::default();
    let fields = lenient_tbs(der, Some(&mut errors))?;

    let serial = fields.serial.content.to_vec();
    if serial.is_empty() {
        errors.push("serial", "empty INTEGER");
    }

    let issuer = format_name(fields.issuer, "issuer", &mut errors, None);
    let mut common_names = Vec::new();
    let subject = format_name(fields.subject, "subject", &mut errors, Some(&mut common_names));
    let (not_before, not_after) = validity(fields.validity, &mut errors);
    let key = key_facts(fields.spki, &mut errors);

    let mut facts = CertFacts {
        serial,
        issuer,
        subject,
        common_names,
        dns_names: Vec::new(),
        ip_addresses: Vec::new(),
        not_before,
        not_after,
        spki_sha256: ctwatch_ct::sha256(fields.spki.raw),
        key_algorithm: key.algorithm,
        key_bits: key.bits,
        key_curve: key.curve,
        key_material_sha256: key.material_sha256,
        policy_oids: Vec::new(),
        validation_type: ValidationType::Unknown,
        authority_key_id: None,
        subject_key_id: None,
        crl_distribution_points: Vec::new(),
        ocsp_urls: Vec::new(),
        ca_issuer_urls: Vec::new(),
        is_ca: false,
        is_precert: false,
        embedded_scts: Vec::new(),
        field_errors: Vec::new(),
    };
    extensions(&fields, &mut facts, &mut errors);
    facts.field_errors = errors.finish();
    Ok(facts)
}

/// SHA-256 of the DER SubjectPublicKeyInfo of a certificate (an issuer's identity in CT).
pub fn spki_sha256_of_cert(der: &[u8]) -> Result<Hash, CertError> {
    Ok(ctwatch_ct::sha256(lenient_tbs(der, None)?.spki.raw))
}

/// The raw DER SubjectPublicKeyInfo of a certificate.
pub fn spki_der_of_cert(der: &[u8]) -> Result<Vec<u8>, CertError> {
    Ok(lenient_tbs(der, None)?.spki.raw.to_vec())
}

// ---------------------------------------------------------------------------------------------
// Names

/// Short names for attribute types, by the last byte of `2.5.4.x`.
fn short_name_2_5_4(last: u8) -> Option<&'static str> {
    Some(match last {
        3 => "CN",
        6 => "C",
        7 => "L",
        8 => "ST",
        9 => "STREET",
        10 => "O",
        11 => "OU",
        _ => return None,
    })
}

/// 0.9.2342.19200300.100.1.x without its last byte.
const PILOT_ATTRIBUTE_PREFIX: &[u8] = &[0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01];

/// Write the short name or dotted form of an attribute type OID.
fn write_attribute_type(out: &mut String, oid_content: &[u8]) {
    let short = match oid_content {
        [0x55, 0x04, last] => short_name_2_5_4(*last),
        [prefix @ .., 0x19] if prefix == PILOT_ATTRIBUTE_PREFIX => Some("DC"),
        [prefix @ .., 0x01] if prefix == PILOT_ATTRIBUTE_PREFIX => Some("UID"),
        _ => None,
    };
    match short {
        Some(s) => out.push_str(s),
        None => match der::oid_to_string(oid_content) {
            Some(dotted) => out.push_str(&dotted),
            None => write_hex_prefixed(out, oid_content),
        },
    }
}

fn write_hex_prefixed(out: &mut String, bytes: &[u8]) {
    out.push('#');
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
}

/// Decode a directory string. Returns the text and, if the bytes were not valid for their
/// type, what was wrong (the text is then a lossy decoding). `None` means "not a string type".
fn decode_string(tag: u8, content: &[u8]) -> Option<(Cow<'_, str>, Option<&'static str>)> {
    Some(match tag {
        // UTF8String, NumericString, PrintableString, IA5String, GraphicString, VisibleString,
        // GeneralString: all are read as UTF-8 (a superset of their legal repertoires).
        0x0c | 0x12 | 0x13 | 0x16 | 0x19 | 0x1a | 0x1b => match std::str::from_utf8(content) {
            Ok(s) => (Cow::Borrowed(s), None),
            Err(_) => (String::from_utf8_lossy(content), Some("invalid UTF-8")),
        },
        // TeletexString: in practice UTF-8 or Latin-1.
        0x14 => match std::str::from_utf8(content) {
            Ok(s) => (Cow::Borrowed(s), None),
            Err(_) => (Cow::Owned(content.iter().map(|&b| char::from(b)).collect()), None),
        },
        // BMPString: UTF-16BE.
        0x1e => {
            let units = content.chunks(2).map(|c| match c {
                [hi, lo] => u16::from_be_bytes([*hi, *lo]),
                _ => 0xdc00, // an odd trailing byte: force a decoding error
            });
            let mut problem = (!content.len().is_multiple_of(2)).then_some("odd-length BMPString");
            let s = char::decode_utf16(units)
                .map(|r| {
                    r.unwrap_or_else(|_| {
                        problem.get_or_insert("invalid UTF-16 in BMPString");
                        char::REPLACEMENT_CHARACTER
                    })
                })
                .collect();
            (Cow::Owned(s), problem)
        }
        // UniversalString: UTF-32BE.
        0x1c => {
            let mut problem =
                (!content.len().is_multiple_of(4)).then_some("UniversalString length not a multiple of 4");
            let s = content
                .chunks(4)
                .map(|c| {
                    let v = match c {
                        [a, b, c, d] => Some(u32::from_be_bytes([*a, *b, *c, *d])),
                        _ => None,
                    };
                    v.and_then(char::from_u32).unwrap_or_else(|| {
                        problem.get_or_insert("invalid code point in UniversalString");
                        char::REPLACEMENT_CHARACTER
                    })
                })
                .collect();
            (Cow::Owned(s), problem)
        }
        _ => return None,
    })
}

/// Append `value` with RFC 4514 escaping.
fn write_escaped(out: &mut String, value: &str) {
    let last = value.len().saturating_sub(1);
    for (i, c) in value.char_indices() {
        match c {
            '\\' | '"' | '+' | ',' | ';' | '<' | '>' => {
                out.push('\\');
                out.push(c);
            }
            '\0' => out.push_str("\\00"),
            '#' if i == 0 => out.push_str("\\#"),
            ' ' if i == 0 || i == last => out.push_str("\\ "),
            _ => out.push(c),
        }
    }
}

/// `value` with NUL characters written as the two characters `\0`.
fn make_nul_visible(value: &str) -> String {
    value.replace('\0', "\\0")
}

/// Format a Name (RFC 4514 order) and, for the subject, collect CN values on the way.
fn format_name(name: Tlv<'_>, field: &str, errors: &mut Errors, mut cns: Option<&mut Vec<String>>) -> String {
    let mut out = String::with_capacity(name.content.len());
    // RFC 4514 writes the last RDN first; collect the RDN slices, then walk them backwards.
    let mut rdns: Vec<Tlv<'_>> = Vec::new();
    for rdn in Reader::new(name.content) {
        match rdn {
            Ok(rdn) if rdn.tag == der::TAG_SET => rdns.push(rdn),
            Ok(rdn) => errors.push(field, format_args!("RDN has tag 0x{:02x}, expected SET", rdn.tag)),
            Err(e) => {
                errors.push(field, e);
                break;
            }
        }
    }
    let cn_start = cns.as_ref().map_or(0, |c| c.len());
    for (n, rdn) in rdns.iter().rev().enumerate() {
        if n > 0 {
            out.push(',');
        }
        let rdn_cn_start = cns.as_ref().map_or(0, |c| c.len());
        for (k, atv) in Reader::new(rdn.content).enumerate() {
            if k > 0 {
                out.push('+');
            }
            let parsed = atv.and_then(|atv| {
                let mut r = Reader::new(atv.content);
                let oid = r.read(der::TAG_OID)?;
                let value = r.read_any()?;
                r.finish()?;
                Ok((oid.content, value))
            });
            let (oid_content, value) = match parsed {
                Ok(p) => p,
                Err(e) => {
                    errors.push(field, format_args!("attribute: {e}"));
                    break;
                }
            };
            write_attribute_type(&mut out, oid_content);
            out.push('=');
            let Some((text, problem)) = decode_string(value.tag, value.content) else {
                write_hex_prefixed(&mut out, value.raw);
                continue;
            };
            if let Some(problem) = problem {
                errors.push(field, problem);
            }
            write_escaped(&mut out, &text);
            if let Some(cns) = cns.as_deref_mut()
                && oid_content == [0x55, 0x04, 0x03]
            {
                if text.contains('\0') {
                    errors.push("subject CN", "contains NUL bytes (written as \\0)");
                    cns.push(make_nul_visible(&text));
                } else {
                    cns.push(text.into_owned());
                }
            }
        }
        // The RDNs are walked last-first; reversing each RDN's CNs here and the whole list
        // below leaves the CNs in certificate order.
        if let Some(cns) = cns.as_deref_mut() {
            cns.get_mut(rdn_cn_start..).unwrap_or_default().reverse();
        }
    }
    if let Some(cns) = cns {
        cns.get_mut(cn_start..).unwrap_or_default().reverse();
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Validity

fn validity(tlv: Tlv<'_>, errors: &mut Errors) -> (i64, i64) {
    let mut r = Reader::new(tlv.content);
    let mut one = |name: &str| -> i64 {
        let time = r
            .read_any()
            .map_err(|e| e.to_string())
            .and_then(|t| ASN1Time::from_der(t.raw).map(|(_, time)| time.timestamp()).map_err(|e| e.to_string()));
        time.unwrap_or_else(|e| {
            errors.push(name, e);
            0
        })
    };
    let not_before = one("notBefore");
    let not_after = one("notAfter");
    if let Err(e) = r.finish() {
        errors.push("validity", e);
    }
    (not_before, not_after)
}

// ---------------------------------------------------------------------------------------------
// Keys

const OID_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
const OID_EC: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
const OID_ED25519: &[u8] = &[0x2b, 0x65, 0x70];
const OID_DSA: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x38, 0x04, 0x01];

/// Key size in bits of the named curves seen in the WebPKI, by OID content.
fn curve_bits(curve: &[u8]) -> Option<u32> {
    Some(match curve {
        [0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07] => 256, // P-256
        [0x2b, 0x81, 0x04, 0x00, 0x22] => 384,                   // P-384
        [0x2b, 0x81, 0x04, 0x00, 0x23] => 521,                   // P-521
        [0x2b, 0x81, 0x04, 0x00, 0x21] => 224,                   // P-224
        [0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x01] => 192, // P-192
        [0x2b, 0x81, 0x04, 0x00, 0x0a] => 256,                   // secp256k1
        [0x2b, 0x24, 0x03, 0x03, 0x02, 0x08, 0x01, 0x01, 0x07] => 256, // brainpoolP256r1
        [0x2b, 0x24, 0x03, 0x03, 0x02, 0x08, 0x01, 0x01, 0x0b] => 384, // brainpoolP384r1
        [0x2b, 0x24, 0x03, 0x03, 0x02, 0x08, 0x01, 0x01, 0x0d] => 512, // brainpoolP512r1
        _ => return None,
    })
}

#[derive(Debug, Default)]
struct KeyFacts {
    algorithm: String,
    bits: Option<u32>,
    curve: Option<String>,
    material_sha256: Option<Hash>,
}

/// An INTEGER's magnitude bytes (leading zero bytes removed) and bit length.
fn unsigned_magnitude(content: &[u8]) -> (&[u8], u32) {
    let skip = content.iter().take_while(|&&b| b == 0).count();
    let m = content.get(skip..).unwrap_or_default();
    let bits = match m.first() {
        None => 0,
        Some(&top) => {
            let whole = u32::try_from(m.len() - 1).unwrap_or(u32::MAX / 16).saturating_mul(8);
            whole.saturating_add(8 - top.leading_zeros())
        }
    };
    (m, bits)
}

fn key_facts(spki: Tlv<'_>, errors: &mut Errors) -> KeyFacts {
    let mut facts = KeyFacts::default();
    let mut walk = || -> Result<(), DerError> {
        let mut r = Reader::new(spki.content);
        let alg = r.read(der::TAG_SEQUENCE)?;
        let key_bits = r.read(der::TAG_BIT_STRING)?;
        r.finish()?;
        let mut a = Reader::new(alg.content);
        let alg_oid = a.read(der::TAG_OID)?.content;
        let params = if a.is_empty() { None } else { Some(a.read_any()?) };
        facts.algorithm = match alg_oid {
            OID_RSA => "rsa".to_owned(),
            OID_EC => "ecdsa".to_owned(),
            OID_ED25519 => "ed25519".to_owned(),
            OID_DSA => "dsa".to_owned(),
            other => der::oid_to_string(other).unwrap_or_else(|| "invalid-oid".to_owned()),
        };
        let key = match key_bits.content.split_first() {
            Some((0, key)) => key,
            _ => {
                errors.push("subjectPublicKey", "BIT STRING is empty or has unused bits");
                return Ok(());
            }
        };
        match alg_oid {
            OID_RSA => {
                let mut k = Reader::new(key);
                let seq = k.read(der::TAG_SEQUENCE)?;
                let modulus = Reader::new(seq.content).read(der::TAG_INTEGER)?;
                let (m, bits) = unsigned_magnitude(modulus.content);
                facts.bits = Some(bits);
                facts.material_sha256 = Some(ctwatch_ct::sha256(m));
            }
            OID_EC => {
                match params {
                    Some(p) if p.tag == der::TAG_OID => {
                        facts.curve = der::oid_to_string(p.content);
                        facts.bits = curve_bits(p.content);
                    }
                    _ => errors.push("subjectPublicKey", "EC parameters are not a named curve"),
                }
                if facts.bits.is_none() && key.first() == Some(&0x04) && key.len() > 1 {
                    // An uncompressed point holds two coordinates of the field size.
                    facts.bits = u32::try_from((key.len() - 1) / 2 * 8).ok();
                }
                facts.material_sha256 = Some(ctwatch_ct::sha256(key));
            }
            OID_ED25519 => {
                facts.bits = Some(256);
                facts.material_sha256 = Some(ctwatch_ct::sha256(key));
            }
            OID_DSA => {
                if let Some(p) = params.filter(|p| p.tag == der::TAG_SEQUENCE) {
                    let prime = Reader::new(p.content).read(der::TAG_INTEGER)?;
                    facts.bits = Some(unsigned_magnitude(prime.content).1);
                }
            }
            _ => {}
        }
        Ok(())
    };
    if let Err(e) = walk() {
        errors.push("subjectPublicKeyInfo", e);
    }
    facts
}

// ---------------------------------------------------------------------------------------------
// Extensions

/// Bits for the extensions whose duplicates are reported.
fn extension_bit(oid_content: &[u8]) -> Option<(u16, &'static str)> {
    Some(match oid_content {
        oid::SUBJECT_ALT_NAME => (1, "subjectAltName"),
        oid::SUBJECT_KEY_ID => (1 << 1, "subjectKeyIdentifier"),
        oid::AUTHORITY_KEY_ID => (1 << 2, "authorityKeyIdentifier"),
        oid::BASIC_CONSTRAINTS => (1 << 3, "basicConstraints"),
        oid::CRL_DISTRIBUTION_POINTS => (1 << 4, "cRLDistributionPoints"),
        oid::AUTHORITY_INFO_ACCESS => (1 << 5, "authorityInfoAccess"),
        oid::CERTIFICATE_POLICIES => (1 << 6, "certificatePolicies"),
        oid::POISON => (1 << 7, "ctPoison"),
        oid::SCT_LIST => (1 << 8, "ctSCTList"),
        _ => return None,
    })
}

fn extensions(fields: &TbsFields<'_>, facts: &mut CertFacts, errors: &mut Errors) {
    let reader = match fields.extension_reader() {
        Ok(r) => r,
        Err(e) => {
            errors.push("extensions", e);
            return;
        }
    };
    let mut seen: u16 = 0;
    for tlv in reader {
        let ext = match tlv.and_then(Extension::parse) {
            Ok(ext) => ext,
            Err(e) => {
                errors.push("extensions", e);
                continue;
            }
        };
        let Some((bit, name)) = extension_bit(ext.oid) else {
            continue;
        };
        if seen & bit != 0 {
            errors.push(name, "duplicate extension; the first one is used");
            continue;
        }
        seen |= bit;
        let value = ext.value;
        match ext.oid {
            oid::SUBJECT_ALT_NAME => subject_alt_names(value, facts, errors),
            oid::SUBJECT_KEY_ID => {
                if let Some(ki) = complete(name, KeyIdentifier::from_der(value), errors) {
                    facts.subject_key_id = Some(ki.0.to_vec());
                }
            }
            oid::AUTHORITY_KEY_ID => {
                if let Some(aki) = complete(name, AuthorityKeyIdentifier::from_der(value), errors) {
                    facts.authority_key_id = aki.key_identifier.map(|k| k.0.to_vec());
                }
            }
            oid::BASIC_CONSTRAINTS => {
                if let Some(bc) = complete(name, BasicConstraints::from_der(value), errors) {
                    facts.is_ca = bc.ca;
                }
            }
            oid::CRL_DISTRIBUTION_POINTS => {
                if let Some(points) = complete(name, CRLDistributionPoints::from_der(value), errors) {
                    for point in points.points {
                        if let Some(DistributionPointName::FullName(names)) = point.distribution_point {
                            collect_uris(name, &names, &mut facts.crl_distribution_points, errors);
                        }
                    }
                }
            }
            oid::AUTHORITY_INFO_ACCESS => {
                if let Some(aia) = complete(name, AuthorityInfoAccess::from_der(value), errors) {
                    for desc in aia.accessdescs {
                        let target = match desc.access_method.as_bytes() {
                            oid::AD_OCSP => &mut facts.ocsp_urls,
                            oid::AD_CA_ISSUERS => &mut facts.ca_issuer_urls,
                            _ => continue,
                        };
                        collect_uris(name, std::slice::from_ref(&desc.access_location), target, errors);
                    }
                }
            }
            oid::CERTIFICATE_POLICIES => policies(value, facts, errors),
            oid::POISON => {
                facts.is_precert = true;
                if value != [0x05, 0x00] {
                    errors.push(name, "value is not NULL");
                }
            }
            oid::SCT_LIST => {
                let (scts, problem) = crate::sct::parse_sct_list_partial(value);
                facts.embedded_scts = scts;
                if let Some(problem) = problem {
                    errors.push(name, problem);
                }
            }
            _ => {}
        }
    }
}

/// The value of an x509-parser result, reporting a parse error or trailing bytes.
fn complete<T, E: std::fmt::Debug>(
    name: &str,
    result: Result<(&[u8], T), x509_parser::nom::Err<E>>,
    errors: &mut Errors,
) -> Option<T> {
    match result {
        Ok((rest, value)) => {
            if !rest.is_empty() {
                errors.push(name, format_args!("{} trailing bytes", rest.len()));
            }
            Some(value)
        }
        Err(e) => {
            errors.push(name, e);
            None
        }
    }
}

fn collect_uris(name: &str, names: &[GeneralName<'_>], out: &mut Vec<String>, errors: &mut Errors) {
    for general_name in names {
        match general_name {
            GeneralName::URI(uri) => out.push((*uri).to_owned()),
            GeneralName::Invalid(tag, bytes) if tag.0 == 6 => {
                errors.push(name, "URI is not valid UTF-8");
                out.push(String::from_utf8_lossy(bytes).into_owned());
            }
            _ => {}
        }
    }
}

fn subject_alt_names(value: &[u8], facts: &mut CertFacts, errors: &mut Errors) {
    const FIELD: &str = "subjectAltName";
    let mut r = Reader::new(value);
    let seq = match r.read(der::TAG_SEQUENCE) {
        Ok(seq) => seq,
        Err(e) => return errors.push(FIELD, e),
    };
    if let Err(e) = r.finish() {
        errors.push(FIELD, e);
    }
    for (i, name) in Reader::new(seq.content).enumerate() {
        let name = match name {
            Ok(name) => name,
            Err(e) => return errors.push(FIELD, format_args!("entry {i}: {e}")),
        };
        match name.tag {
            // dNSName [2] IMPLICIT IA5String.
            0x82 => {
                let text = match std::str::from_utf8(name.content) {
                    Ok(s) => Cow::Borrowed(s),
                    Err(_) => {
                        errors.push(FIELD, format_args!("dNSName {i} is not valid UTF-8"));
                        String::from_utf8_lossy(name.content)
                    }
                };
                if text.contains('\0') {
                    errors.push(FIELD, format_args!("dNSName {i} contains NUL bytes (written as \\0)"));
                    facts.dns_names.push(make_nul_visible(&text));
                } else {
                    facts.dns_names.push(text.into_owned());
                }
            }
            // iPAddress [7] IMPLICIT OCTET STRING.
            0x87 => match name.content {
                &[a, b, c, d] => facts.ip_addresses.push(std::net::Ipv4Addr::new(a, b, c, d).to_string()),
                bytes => match <[u8; 16]>::try_from(bytes) {
                    Ok(v6) => facts.ip_addresses.push(std::net::Ipv6Addr::from(v6).to_string()),
                    Err(_) => errors.push(FIELD, format_args!("iPAddress {i} has {} bytes", bytes.len())),
                },
            },
            // A dNSName or iPAddress in constructed (BER) form is not decoded.
            0xa2 | 0xa7 => errors.push(FIELD, format_args!("entry {i} uses constructed encoding")),
            _ => {}
        }
    }
}

const POLICY_EV: &[u8] = &[0x67, 0x81, 0x0c, 0x01, 0x01];
const POLICY_DV: &[u8] = &[0x67, 0x81, 0x0c, 0x01, 0x02, 0x01];
const POLICY_OV: &[u8] = &[0x67, 0x81, 0x0c, 0x01, 0x02, 0x02];
const POLICY_IV: &[u8] = &[0x67, 0x81, 0x0c, 0x01, 0x02, 0x03];

fn policies(value: &[u8], facts: &mut CertFacts, errors: &mut Errors) {
    const FIELD: &str = "certificatePolicies";
    let mut walk = || -> Result<(), DerError> {
        let mut r = Reader::new(value);
        let seq = r.read(der::TAG_SEQUENCE)?;
        r.finish()?;
        for info in Reader::new(seq.content) {
            let info = info?;
            let id = Reader::new(info.content).read(der::TAG_OID)?.content;
            let rank = match id {
                POLICY_EV => 4,
                POLICY_IV => 3,
                POLICY_OV => 2,
                POLICY_DV => 1,
                _ => 0,
            };
            let current = match facts.validation_type {
                ValidationType::Ev => 4,
                ValidationType::Iv => 3,
                ValidationType::Ov => 2,
                ValidationType::Dv => 1,
                ValidationType::Unknown => 0,
            };
            if rank > current {
                facts.validation_type = match rank {
                    4 => ValidationType::Ev,
                    3 => ValidationType::Iv,
                    2 => ValidationType::Ov,
                    _ => ValidationType::Dv,
                };
            }
            match der::oid_to_string(id) {
                Some(dotted) => facts.policy_oids.push(dotted),
                None => errors.push(FIELD, "malformed policy OID"),
            }
        }
        Ok(())
    };
    if let Err(e) = walk() {
        errors.push(FIELD, e);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::*;

    fn facts_with(exts: &[Vec<u8>]) -> CertFacts {
        cert_facts(&cert(&tbs_with(&name("ca"), &name("leaf"), &p256_spki(), Some(exts)))).unwrap()
    }

    #[test]
    fn basic_fields() {
        let der = cert(&tbs_with(&name("ca"), &name("leaf"), &p256_spki(), None));
        let f = cert_facts(&der).unwrap();
        assert_eq!(f.serial, [1, 2, 3]);
        assert_eq!((f.issuer.as_str(), f.subject.as_str()), ("CN=ca", "CN=leaf"));
        assert_eq!(f.common_names, ["leaf"]);
        assert_eq!((f.not_before, f.not_after), (1_672_531_200, 1_704_067_200));
        assert_eq!(f.spki_sha256, ctwatch_ct::sha256(&p256_spki()));
        assert_eq!((f.key_algorithm.as_str(), f.key_bits), ("ecdsa", Some(256)));
        assert_eq!(f.key_curve.as_deref(), Some("1.2.840.10045.3.1.7"));
        let mut point = vec![0x04];
        point.extend([0x11; 64]);
        assert_eq!(f.key_material_sha256, Some(ctwatch_ct::sha256(&point)));
        assert_eq!(f.validation_type, ValidationType::Unknown);
        assert!(!f.is_ca && !f.is_precert && f.embedded_scts.is_empty());
        assert!(f.field_errors.is_empty(), "{:?}", f.field_errors);
        assert_eq!(spki_der_of_cert(&der).unwrap(), p256_spki());
        assert_eq!(spki_sha256_of_cert(&der).unwrap(), f.spki_sha256);
    }

    #[test]
    fn rsa_and_ed25519_keys() {
        // 2048-bit modulus with the DER sign byte, as every real RSA key has.
        let mut modulus = vec![0x00, 0xc5];
        modulus.extend([0x5a; 255]);
        let mut rsa_key = tlv(der::TAG_INTEGER, &modulus);
        rsa_key.extend(tlv(der::TAG_INTEGER, &[1, 0, 1]));
        let mut bits = vec![0];
        bits.extend(tlv(der::TAG_SEQUENCE, &rsa_key));
        let mut alg = tlv(der::TAG_OID, OID_RSA);
        alg.extend([0x05, 0x00]);
        let mut spki = tlv(der::TAG_SEQUENCE, &alg);
        spki.extend(tlv(der::TAG_BIT_STRING, &bits));
        let spki = tlv(der::TAG_SEQUENCE, &spki);
        let f = cert_facts(&cert(&tbs_with(&name("ca"), &name("leaf"), &spki, None))).unwrap();
        assert_eq!((f.key_algorithm.as_str(), f.key_bits, f.key_curve.as_deref()), ("rsa", Some(2048), None));
        assert_eq!(f.key_material_sha256, Some(ctwatch_ct::sha256(&modulus[1..])));

        let mut spki = tlv(der::TAG_SEQUENCE, &tlv(der::TAG_OID, OID_ED25519));
        let mut key = vec![0];
        key.extend([9; 32]);
        spki.extend(tlv(der::TAG_BIT_STRING, &key));
        let spki = tlv(der::TAG_SEQUENCE, &spki);
        let f = cert_facts(&cert(&tbs_with(&name("ca"), &name("leaf"), &spki, None))).unwrap();
        assert_eq!((f.key_algorithm.as_str(), f.key_bits), ("ed25519", Some(256)));
        assert_eq!(f.key_material_sha256, Some(ctwatch_ct::sha256(&[9; 32])));

        // An unknown algorithm is named by OID; a BIT STRING with unused bits is reported.
        let mut spki = tlv(der::TAG_SEQUENCE, &tlv(der::TAG_OID, &[0x2a, 0x03]));
        spki.extend(tlv(der::TAG_BIT_STRING, &[3, 0xf8]));
        let spki = tlv(der::TAG_SEQUENCE, &spki);
        let f = cert_facts(&cert(&tbs_with(&name("ca"), &name("leaf"), &spki, None))).unwrap();
        assert_eq!((f.key_algorithm.as_str(), f.key_bits, f.key_material_sha256), ("1.2.3", None, None));
        assert_eq!(f.field_errors, ["subjectPublicKey: BIT STRING is empty or has unused bits"]);
    }

    #[test]
    fn magnitude_bits() {
        assert_eq!(unsigned_magnitude(&[]), (&[][..], 0));
        assert_eq!(unsigned_magnitude(&[0, 0]), (&[][..], 0));
        assert_eq!(unsigned_magnitude(&[0, 1]), (&[1][..], 1));
        assert_eq!(unsigned_magnitude(&[0x80, 0]), (&[0x80, 0][..], 16));
        assert_eq!(unsigned_magnitude(&[0x00, 0x7f, 0xff]), (&[0x7f, 0xff][..], 15));
    }

    #[test]
    fn name_formatting_matches_rfc4514() {
        const O: &[u8] = &[0x55, 0x04, 0x0a];
        const C: &[u8] = &[0x55, 0x04, 0x06];
        const DC: &[u8] = &[0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x19];
        const EMAIL: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01];
        let subject = name_of(&[
            (C, 0x13, b"US"),
            (DC, 0x16, b"example"),
            (O, 0x0c, b"A, B + \"C\" <D>; E\\"),
            (O, 0x1e, &[0x00, 0x41, 0x00, 0xe9]),             // BMPString "Aé"
            (O, 0x1c, &[0, 0, 0, 0x42, 0, 0x01, 0xf6, 0x00]), // UniversalString "B😀"
            (O, 0x14, &[0x4d, 0xfc]),                         // TeletexString, Latin-1 "Mü"
            (O, 0x0c, b"#lead and trail "),
            (O, 0x0c, b" space"),
            (EMAIL, 0x16, b"a@b.c"),
            (O, 0x02, &[0x05]), // not a string
            (CN, 0x0c, b"last"),
        ]);
        let f = cert_facts(&cert(&tbs_with(&name("ca"), &subject, &p256_spki(), None))).unwrap();
        assert_eq!(
            f.subject,
            "CN=last,O=#020105,1.2.840.113549.1.9.1=a@b.c,O=\\ space,O=\\#lead and trail\\ ,O=Mü,O=B😀,O=Aé,\
             O=A\\, B \\+ \\\"C\\\" \\<D\\>\\; E\\\\,DC=example,C=US"
        );
        assert_eq!(f.common_names, ["last"]);
        assert!(f.field_errors.is_empty(), "{:?}", f.field_errors);

        // A multi-valued RDN joins with '+', in encoded order; CNs keep certificate order.
        let mut rdn = Vec::new();
        for cn in ["a", "b"] {
            let mut atv = tlv(der::TAG_OID, CN);
            atv.extend(tlv(0x13, cn.as_bytes()));
            rdn.extend(tlv(der::TAG_SEQUENCE, &atv));
        }
        let mut content = tlv(der::TAG_SET, &rdn);
        content.extend(&name("c")[2..]);
        let subject = tlv(der::TAG_SEQUENCE, &content);
        let f = cert_facts(&cert(&tbs_with(&name("ca"), &subject, &p256_spki(), None))).unwrap();
        assert_eq!(f.subject, "CN=c,CN=a+CN=b");
        assert_eq!(f.common_names, ["a", "b", "c"]);
    }

    #[test]
    fn bad_name_strings_are_field_errors() {
        let subject = name_of(&[
            (CN, 0x0c, b"bad\xff"),
            (CN, 0x1e, &[0x00, 0x41, 0x00]),
            (CN, 0x1e, &[0xd8, 0x00]),
            (CN, 0x1c, &[0x00, 0x11, 0x00, 0x00]),
            (CN, 0x0c, b"nul\0here"),
        ]);
        let f = cert_facts(&cert(&tbs_with(&name("ca"), &subject, &p256_spki(), None))).unwrap();
        assert_eq!(f.common_names, ["bad\u{fffd}", "A\u{fffd}", "\u{fffd}", "\u{fffd}", "nul\\0here"]);
        assert!(f.subject.starts_with("CN=nul\\00here,"), "{}", f.subject);
        // Reported in the RFC 4514 order the name is walked in (last RDN first).
        assert_eq!(
            f.field_errors,
            [
                "subject CN: contains NUL bytes (written as \\0)",
                "subject: invalid code point in UniversalString",
                "subject: invalid UTF-16 in BMPString",
                "subject: odd-length BMPString",
                "subject: invalid UTF-8",
            ]
        );
        // A broken RDN structure keeps what came before it.
        let mut content = name("ok")[2..].to_vec();
        content.extend(tlv(der::TAG_SEQUENCE, &[]));
        let subject = tlv(der::TAG_SEQUENCE, &content);
        let f = cert_facts(&cert(&tbs_with(&name("ca"), &subject, &p256_spki(), None))).unwrap();
        assert_eq!(f.common_names, ["ok"]);
        assert_eq!(f.field_errors, ["subject: RDN has tag 0x30, expected SET"]);
    }

    #[test]
    fn subject_alt_names() {
        let f = facts_with(&[san(&[
            (0x82, b"example.com"),
            (0x87, &[192, 0, 2, 1]),
            (0x87, &[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]),
            (0x81, b"mail@example.com"),
            (0x86, b"https://example.com/"),
            (0x82, b"nul\0.example.com"),
            (0x82, b"bad\xfe.example.com"),
            (0x87, &[1, 2, 3]),
        ])]);
        assert_eq!(f.dns_names, ["example.com", "nul\\0.example.com", "bad\u{fffd}.example.com"]);
        assert_eq!(f.ip_addresses, ["192.0.2.1", "2001:db8::1"]);
        assert_eq!(
            f.field_errors,
            [
                "subjectAltName: dNSName 5 contains NUL bytes (written as \\0)",
                "subjectAltName: dNSName 6 is not valid UTF-8",
                "subjectAltName: iPAddress 7 has 3 bytes",
            ]
        );
        // A SAN that is not a SEQUENCE, or that breaks halfway, keeps the names before it.
        let f = facts_with(&[ext(oid::SUBJECT_ALT_NAME, false, &[0x04, 0x00])]);
        assert!(f.dns_names.is_empty());
        assert_eq!(f.field_errors.len(), 1);
        let mut broken = tlv(0x82, b"a.example");
        broken.extend([0x82, 0x05, b'b']);
        let f = facts_with(&[ext(oid::SUBJECT_ALT_NAME, false, &tlv(der::TAG_SEQUENCE, &broken))]);
        assert_eq!(f.dns_names, ["a.example"]);
        assert!(f.field_errors[0].starts_with("subjectAltName: entry 1:"), "{:?}", f.field_errors);
    }

    #[test]
    fn many_sans_and_big_extensions_are_linear_and_bounded() {
        let names: Vec<Vec<u8>> = (0..10_000).map(|i| format!("host{i}.example.com").into_bytes()).collect();
        let entries: Vec<(u8, &[u8])> = names.iter().map(|n| (0x82, n.as_slice())).collect();
        let unknown = ext(&[0x2a, 0x03, 0x04], false, &vec![0xab; 100_000]);
        let start = std::time::Instant::now();
        let f = facts_with(&[san(&entries), unknown.clone()]);
        assert_eq!(f.dns_names.len(), 10_000);
        assert_eq!(f.dns_names[9_999], "host9999.example.com");
        assert!(f.field_errors.is_empty());

        // 10,000 NUL names: every name kept, the error list capped.
        let names: Vec<Vec<u8>> = (0..10_000).map(|i| format!("h{i}\0x").into_bytes()).collect();
        let entries: Vec<(u8, &[u8])> = names.iter().map(|n| (0x82, n.as_slice())).collect();
        let f = facts_with(&[san(&entries), unknown]);
        assert_eq!(f.dns_names.len(), 10_000);
        assert_eq!(f.field_errors.len(), MAX_FIELD_ERRORS + 1);
        assert_eq!(
            f.field_errors.last().unwrap(),
            &format!("{} more field errors not kept", 10_000 - MAX_FIELD_ERRORS)
        );
        // Generous even for an unoptimised build; a quadratic walk over 10^4 names would not fit.
        assert!(start.elapsed() < std::time::Duration::from_secs(5), "{:?}", start.elapsed());
    }

    #[test]
    fn extensions() {
        const DV: &[u8] = &[0x67, 0x81, 0x0c, 0x01, 0x02, 0x01];
        let policies = |oids: &[&[u8]]| {
            let infos: Vec<u8> = oids.iter().flat_map(|o| tlv(der::TAG_SEQUENCE, &tlv(der::TAG_OID, o))).collect();
            ext(oid::CERTIFICATE_POLICIES, false, &tlv(der::TAG_SEQUENCE, &infos))
        };
        let bc = ext(oid::BASIC_CONSTRAINTS, true, &tlv(der::TAG_SEQUENCE, &[0x01, 0x01, 0xff]));
        let ski = ext(oid::SUBJECT_KEY_ID, false, &tlv(der::TAG_OCTET_STRING, &[7; 20]));
        let aki = ext(oid::AUTHORITY_KEY_ID, false, &tlv(der::TAG_SEQUENCE, &tlv(0x80, &[8; 20])));
        let f = facts_with(&[policies(&[DV, &[0x2a, 0x03]]), bc, ski, aki]);
        assert_eq!(f.policy_oids, ["2.23.140.1.2.1", "1.2.3"]);
        assert_eq!(f.validation_type, ValidationType::Dv);
        assert!(f.is_ca);
        assert_eq!(f.subject_key_id, Some(vec![7; 20]));
        assert_eq!(f.authority_key_id, Some(vec![8; 20]));
        assert!(f.field_errors.is_empty(), "{:?}", f.field_errors);

        // The most specific type wins whatever the order.
        let f = facts_with(&[policies(&[POLICY_EV, POLICY_OV, DV])]);
        assert_eq!(f.validation_type, ValidationType::Ev);
        let f = facts_with(&[policies(&[DV, POLICY_IV, POLICY_OV])]);
        assert_eq!(f.validation_type, ValidationType::Iv);
        assert_eq!(ValidationType::Iv.as_str(), "iv");

        // Duplicates: first used, reported. Broken extension values: reported, rest kept.
        let f = facts_with(&[
            san(&[(0x82, b"first.example")]),
            san(&[(0x82, b"second.example")]),
            ext(oid::BASIC_CONSTRAINTS, false, &[0x30, 0x03, 0x01]),
            ext(oid::AUTHORITY_KEY_ID, false, &[0xff]),
            tlv(der::TAG_SEQUENCE, &tlv(der::TAG_OID, &[0x55, 0x1d, 0x0f])),
            ext(oid::SUBJECT_KEY_ID, false, &tlv(der::TAG_OCTET_STRING, &[1])),
        ]);
        assert_eq!(f.dns_names, ["first.example"]);
        assert_eq!(f.subject_key_id, Some(vec![1]));
        assert_eq!(f.field_errors.len(), 4, "{:?}", f.field_errors);
        assert!(f.field_errors[0].starts_with("subjectAltName: duplicate"));
        assert!(f.field_errors[1].starts_with("basicConstraints: "));
        assert!(f.field_errors[2].starts_with("authorityKeyIdentifier: "));
        assert!(f.field_errors[3].starts_with("extensions: "));
    }

    #[test]
    fn poison_and_scts() {
        let f = facts_with(&[poison()]);
        assert!(f.is_precert && f.field_errors.is_empty());
        let f = facts_with(&[ext(oid::POISON, true, &[0x04, 0x00])]);
        assert!(f.is_precert);
        assert_eq!(f.field_errors, ["ctPoison: value is not NULL"]);

        let a = sct_bytes(1, 1_700_000_000_000, &[], &[0xaa; 71]);
        let b = sct_bytes(2, 1_700_000_000_001, &[1, 2], &[0xbb; 70]);
        let f = facts_with(&[sct_list_ext(&[a, b.clone()])]);
        assert_eq!(f.embedded_scts.len(), 2);
        assert_eq!(f.embedded_scts[0].log_id, [1; 32]);
        assert_eq!(f.embedded_scts[0].timestamp, 1_700_000_000_000);
        let mut ds = vec![4, 3, 0, 71];
        ds.extend([0xaa; 71]);
        assert_eq!(f.embedded_scts[0].signature, ds);
        assert_eq!(f.embedded_scts[1].extensions, [1, 2]);
        assert!(f.field_errors.is_empty());

        // An SCT of unknown version is skipped and reported; the others are kept.
        let mut v2 = sct_bytes(3, 5, &[], &[1]);
        v2[0] = 1;
        let f = facts_with(&[sct_list_ext(&[v2, b])]);
        assert_eq!(f.embedded_scts.len(), 1);
        assert_eq!(f.field_errors, ["ctSCTList: SCT 0: unsupported SCT version 1"]);
    }

    #[test]
    fn outer_structure() {
        let good = cert(&tbs_with(&name("ca"), &name("leaf"), &p256_spki(), None));
        let mut trailing = good.clone();
        trailing.push(0);
        let f = cert_facts(&trailing).unwrap();
        assert_eq!(f.field_errors, ["certificate: 1 unexpected bytes after the last element"]);

        // A certificate without signature fields still gives facts.
        let fields = crate::identity::split_certificate(&good).unwrap();
        let unsigned = tlv(der::TAG_SEQUENCE, fields.tbs.raw);
        let f = cert_facts(&unsigned).unwrap();
        assert_eq!(f.field_errors, ["signature: expected tag 0x30, found end of input"]);

        assert!(matches!(cert_facts(&[]), Err(CertError::Parse(_))));
        assert!(matches!(cert_facts(b"not a certificate"), Err(CertError::Parse(_))));
        assert!(matches!(cert_facts(&tlv(der::TAG_SEQUENCE, &tlv(der::TAG_SEQUENCE, &[]))), Err(CertError::Tbs(_))));
        assert!(spki_sha256_of_cert(&[0x30, 0x00]).is_err());
    }

    #[test]
    fn every_truncation_and_corruption_is_safe() {
        let der = cert(&tbs_with(
            &name("ca"),
            &name("leaf"),
            &p256_spki(),
            Some(&[
                san(&[(0x82, b"a.example"), (0x87, &[1, 2, 3, 4])]),
                poison(),
                sct_list_ext(&[sct_bytes(1, 2, &[3], &[4; 8])]),
                ext(oid::AUTHORITY_INFO_ACCESS, false, &[0x30, 0x00]),
                ext(oid::CRL_DISTRIBUTION_POINTS, false, &[0x30, 0x00]),
            ]),
        ));
        assert!(cert_facts(&der).unwrap().field_errors.is_empty());
        for cut in 0..der.len() {
            let _ = cert_facts(&der[..cut]);
            let _ = spki_sha256_of_cert(&der[..cut]);
        }
        // Flip every byte: whatever comes out, nothing panics.
        let mut copy = der.clone();
        for i in 0..copy.len() {
            for x in [0x00, 0xff, 0x80] {
                let old = copy[i];
                copy[i] = x;
                let _ = cert_facts(&copy);
                copy[i] = old;
            }
        }
    }
}

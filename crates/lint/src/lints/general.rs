//! Whole-certificate lints: encoding, version, serial, signature algorithm, validity, the CT
//! timestamp, and the subject attributes the validation type allows.

use super::keys::magnitude;
use super::{NA, Outcome, oid};
use crate::cert::Cert;
use ctwatch_cert::facts::ValidationType;
use x509_parser::prelude::ParsedExtension;

/// The byte-exact signature AlgorithmIdentifier encodings BR 7.1.3.2.1 allows.
const ALLOWED_SIGNATURE_ALGORITHMS: &[&[u8]] = &[
    // RSASSA-PKCS1-v1_5 with SHA-256, SHA-384, SHA-512.
    &[0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b, 0x05, 0x00],
    &[0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0c, 0x05, 0x00],
    &[0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0d, 0x05, 0x00],
    // RSASSA-PSS with SHA-256, SHA-384, SHA-512 (MGF1 with the same hash, salt = hash length).
    &PSS_SHA256,
    &PSS_SHA384,
    &PSS_SHA512,
    // ECDSA with SHA-256, SHA-384, SHA-512.
    &[0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02],
    &[0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03],
    &[0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x04],
];

/// RSASSA-PSS parameters for one hash: the hash OID's last byte (1, 2, 3) and salt length.
const fn pss(hash: u8, salt: u8) -> [u8; 67] {
    [
        0x30, 0x41, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a, 0x30, 0x34, 0xa0, 0x0f, 0x30,
        0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, hash, 0x05, 0x00, 0xa1, 0x1c, 0x30, 0x1a,
        0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x08, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48,
        0x01, 0x65, 0x03, 0x04, 0x02, hash, 0x05, 0x00, 0xa2, 0x03, 0x02, 0x01, salt,
    ]
}
const PSS_SHA256: [u8; 67] = pss(0x01, 0x20);
const PSS_SHA384: [u8; 67] = pss(0x02, 0x30);
const PSS_SHA512: [u8; 67] = pss(0x03, 0x40);

/// The extensions whose decoding errors [`CertFacts::field_errors`](crate::CertFacts) reports
/// and that the lints do not deep-parse themselves.
const FACTS_DECODED_EXTENSIONS: &[&str] = &[
    "subjectKeyIdentifier: ",
    "authorityKeyIdentifier: ",
    "cRLDistributionPoints: ",
    "authorityInfoAccess: ",
    "ctSCTList: ",
];

pub(crate) fn unparseable(c: &Cert<'_>) -> Outcome {
    if let Err(e) = &c.x509 {
        return Outcome::Fail(format!("x509-parser: {e}"));
    }
    let positions =
        [c.index.san, c.index.basic_constraints, c.index.key_usage, c.index.ext_key_usage, c.index.policies];
    if positions.iter().flatten().count() != c.decoded.iter().count() {
        return Outcome::Fail("an extension is not a valid Extension SEQUENCE".into());
    }
    for ext in c.decoded.iter() {
        if let ParsedExtension::ParseError { error } = ext.parsed_extension() {
            return Outcome::Fail(format!("extension {}: {error}", ext.oid));
        }
    }
    let facts_error = c
        .facts
        .field_errors
        .iter()
        .find(|e| FACTS_DECODED_EXTENSIONS.iter().any(|p| e.starts_with(p)) && !e.contains("duplicate extension"));
    match facts_error {
        Some(e) => Outcome::Fail(e.clone()),
        None => Outcome::Pass,
    }
}

pub(crate) fn version_not_v3(c: &Cert<'_>) -> Outcome {
    match c.parsed() {
        Ok(x) if x.tbs_certificate.version.0 == 2 => Outcome::Pass,
        Ok(x) => Outcome::Fail(format!("certificate version is v{}", u64::from(x.tbs_certificate.version.0) + 1)),
        Err(outcome) => outcome,
    }
}

pub(crate) fn serial_not_positive(c: &Cert<'_>) -> Outcome {
    let serial = &c.facts.serial;
    if serial.first().is_some_and(|b| b & 0x80 != 0) {
        Outcome::Fail(format!("serial 0x{} is negative", hex::encode(serial)))
    } else if magnitude(serial).is_empty() {
        Outcome::Fail("serial is zero".into())
    } else {
        Outcome::Pass
    }
}

pub(crate) fn serial_too_long(c: &Cert<'_>) -> Outcome {
    // The length of the minimal DER encoding: a positive value whose top bit is set needs a
    // leading zero octet, so 20 octets allow values up to 2^159 - 1 (as zlint and pkilint count).
    let serial = &c.facts.serial;
    let encoded = match magnitude(serial) {
        _ if serial.first().is_some_and(|b| b & 0x80 != 0) => serial.len(),
        value => value.len() + usize::from(value.first().is_some_and(|b| b & 0x80 != 0)),
    };
    if encoded > 20 { Outcome::Fail(format!("serial number needs {encoded} octets")) } else { Outcome::Pass }
}

pub(crate) fn serial_low_entropy(c: &Cert<'_>) -> Outcome {
    let value = magnitude(&c.facts.serial);
    if value.len() < 8 { Outcome::Fail(format!("serial value has {} octets", value.len())) } else { Outcome::Pass }
}

pub(crate) fn weak_signature_hash(c: &Cert<'_>) -> Outcome {
    let Some(algorithms) = c.algorithms else {
        return Outcome::NotApplicable(Some("certificate DER could not be walked"));
    };
    match oid::WEAK_SIGNATURES.iter().find(|(o, _)| *o == algorithms.outer_signature_oid) {
        Some((_, name)) => Outcome::Fail(format!("signed with {name}")),
        None => Outcome::Pass,
    }
}

pub(crate) fn signature_encoding(c: &Cert<'_>) -> Outcome {
    let Some(algorithms) = c.algorithms else {
        return Outcome::NotApplicable(Some("certificate DER could not be walked"));
    };
    for (field, der) in
        [("signatureAlgorithm", algorithms.outer_signature), ("tbsCertificate.signature", algorithms.tbs_signature)]
    {
        if !ALLOWED_SIGNATURE_ALGORITHMS.contains(&der) {
            return Outcome::Fail(format!("{field} {} is not an allowed encoding", hex::encode(der)));
        }
    }
    Outcome::Pass
}

pub(crate) fn signature_mismatch(c: &Cert<'_>) -> Outcome {
    match c.algorithms {
        Some(a) if a.outer_signature == a.tbs_signature => Outcome::Pass,
        Some(_) => Outcome::Fail("signatureAlgorithm and tbsCertificate.signature differ".into()),
        None => Outcome::NotApplicable(Some("certificate DER could not be walked")),
    }
}

/// The validity period in seconds, notAfter - notBefore + 1 (RFC 5280 4.1.2.5 and BR 6.3.2
/// count both ends), or the outcome when the dates are unknown.
fn validity_seconds(c: &Cert<'_>) -> Result<i64, Outcome> {
    let facts = c.facts;
    if facts.field_errors.iter().any(|e| e.starts_with("validity")) {
        return Err(Outcome::NotApplicable(Some("validity could not be decoded")));
    }
    Ok(facts.not_after.saturating_sub(facts.not_before).saturating_add(1))
}

pub(crate) fn validity_negative(c: &Cert<'_>) -> Outcome {
    match validity_seconds(c) {
        Ok(s) if s <= 0 => Outcome::Fail("notAfter is before notBefore".into()),
        Ok(_) => Outcome::Pass,
        Err(outcome) => outcome,
    }
}

/// Fail when the validity period exceeds `days` days of 86,400 seconds (BR 6.3.2: any part of a
/// day more counts as a day).
fn validity_over(c: &Cert<'_>, days: i64) -> Outcome {
    match validity_seconds(c) {
        Ok(s) if s > days * 86_400 => {
            Outcome::Fail(format!("validity period is {} days {} s, over {days} days", s / 86_400, s % 86_400))
        }
        Ok(_) => Outcome::Pass,
        Err(outcome) => outcome,
    }
}

pub(crate) fn validity_over_398(c: &Cert<'_>) -> Outcome {
    validity_over(c, 398)
}
pub(crate) fn validity_over_397(c: &Cert<'_>) -> Outcome {
    validity_over(c, 397)
}
pub(crate) fn validity_over_200(c: &Cert<'_>) -> Outcome {
    validity_over(c, 200)
}
pub(crate) fn validity_over_199(c: &Cert<'_>) -> Outcome {
    validity_over(c, 199)
}
pub(crate) fn validity_over_100(c: &Cert<'_>) -> Outcome {
    validity_over(c, 100)
}
pub(crate) fn validity_over_99(c: &Cert<'_>) -> Outcome {
    validity_over(c, 99)
}
pub(crate) fn validity_over_47(c: &Cert<'_>) -> Outcome {
    validity_over(c, 47)
}
pub(crate) fn validity_over_46(c: &Cert<'_>) -> Outcome {
    validity_over(c, 46)
}

pub(crate) fn not_before_far_from_sct(c: &Cert<'_>) -> Outcome {
    const LIMIT_MS: i128 = 48 * 3600 * 1000;
    let timestamp = c.input.sct_timestamp_ms.or_else(|| c.facts.embedded_scts.iter().map(|s| s.timestamp).min());
    let Some(timestamp) = timestamp else {
        return NA;
    };
    if c.facts.field_errors.iter().any(|e| e.starts_with("validity")) {
        return Outcome::NotApplicable(Some("validity could not be decoded"));
    }
    let delta = i128::from(c.facts.not_before) * 1000 - i128::from(timestamp);
    if delta.abs() > LIMIT_MS {
        let hours = delta / 3_600_000;
        Outcome::Fail(format!("notBefore is {hours} h from the CT timestamp {timestamp} ms"))
    } else {
        Outcome::Pass
    }
}

/// The subject attribute type OIDs, or the outcome when the subject cannot be read.
fn subject_has(c: &Cert<'_>, attribute: &[u8]) -> Result<bool, Outcome> {
    let x = c.parsed()?;
    Ok(x.tbs_certificate.subject.iter_attributes().any(|a| a.attr_type().as_bytes() == attribute))
}

pub(crate) fn dv_subject_attributes(c: &Cert<'_>) -> Outcome {
    if c.facts.validation_type != ValidationType::Dv {
        return NA;
    }
    let x = match c.parsed() {
        Ok(x) => x,
        Err(outcome) => return outcome,
    };
    let allowed = [oid::AT_COUNTRY, oid::AT_COMMON_NAME];
    match x.tbs_certificate.subject.iter_attributes().find(|a| !allowed.contains(&a.attr_type().as_bytes())) {
        Some(a) => Outcome::Fail(format!("DV subject has attribute {}", a.attr_type())),
        None => Outcome::Pass,
    }
}

pub(crate) fn dv_with_org(c: &Cert<'_>) -> Outcome {
    if c.facts.validation_type != ValidationType::Dv {
        return NA;
    }
    match subject_has(c, oid::AT_ORGANIZATION) {
        Ok(true) => Outcome::Fail("DV subject has organizationName".into()),
        Ok(false) => Outcome::Pass,
        Err(outcome) => outcome,
    }
}

pub(crate) fn ov_without_org(c: &Cert<'_>) -> Outcome {
    if c.facts.validation_type != ValidationType::Ov {
        return NA;
    }
    match subject_has(c, oid::AT_ORGANIZATION) {
        Ok(true) => Outcome::Pass,
        Ok(false) => Outcome::Fail("OV subject has no organizationName".into()),
        Err(outcome) => outcome,
    }
}

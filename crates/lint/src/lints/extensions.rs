//! Extension lints: presence, criticality and content of basicConstraints, keyUsage,
//! extKeyUsage, certificatePolicies, AIA, CRL DP and the CT extensions.

use super::{NA, Outcome, oid};
use crate::cert::{Cert, PublicKey};
use ctwatch_cert::facts::ValidationType;
use x509_parser::prelude::{ExtendedKeyUsage, ParsedExtension, X509Extension};

/// Pass when a required extension is `present`, else fail; not applicable when the certificate
/// did not parse, since absence cannot then be told from undecodability.
fn require(c: &Cert<'_>, present: bool, what: &str) -> Outcome {
    if let Err(outcome) = c.parsed() {
        return outcome;
    }
    if present { Outcome::Pass } else { Outcome::Fail(format!("no {what} extension")) }
}

pub(crate) fn duplicate_extension(c: &Cert<'_>) -> Outcome {
    let x = match c.parsed() {
        Ok(x) => x,
        Err(outcome) => return outcome,
    };
    let exts = x.tbs_certificate.extensions();
    let duplicate = if exts.len() <= 32 {
        exts.iter().enumerate().find(|(i, e)| exts.iter().skip(i + 1).any(|f| f.oid == e.oid)).map(|(_, e)| &e.oid)
    } else {
        let mut oids: Vec<_> = exts.iter().map(|e| &e.oid).collect();
        oids.sort_unstable_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        oids.windows(2).find(|w| w.first() == w.last()).and_then(|w| w.first().copied())
    };
    match duplicate {
        Some(oid) => Outcome::Fail(format!("extension {oid} appears more than once")),
        None => Outcome::Pass,
    }
}

pub(crate) fn basic_constraints_not_critical(c: &Cert<'_>) -> Outcome {
    match c.decoded.basic_constraints.as_ref() {
        Some(e) if e.critical => Outcome::Pass,
        Some(_) => Outcome::Fail("basicConstraints is not critical".into()),
        None => c.parsed().err().unwrap_or(NA),
    }
}

pub(crate) fn is_ca(c: &Cert<'_>) -> Outcome {
    if c.x509.is_err() && !c.facts.is_ca {
        return Outcome::NotApplicable(Some("certificate could not be parsed"));
    }
    if c.basic_constraints_ca() { Outcome::Fail("basicConstraints cA is TRUE".into()) } else { Outcome::Pass }
}

fn key_usage_outcome(c: &Cert<'_>, bad: impl Fn(&x509_parser::extensions::KeyUsage) -> bool, what: &str) -> Outcome {
    match c.key_usage() {
        Some(ku) if bad(ku) => Outcome::Fail(what.into()),
        Some(_) => Outcome::Pass,
        None if c.index.key_usage.is_some() => Outcome::NotApplicable(Some("keyUsage could not be decoded")),
        None => c.parsed().err().unwrap_or(NA),
    }
}

pub(crate) fn ku_cert_sign(c: &Cert<'_>) -> Outcome {
    key_usage_outcome(c, |ku| ku.key_cert_sign(), "keyUsage has keyCertSign")
}

pub(crate) fn ku_crl_sign(c: &Cert<'_>) -> Outcome {
    key_usage_outcome(c, |ku| ku.crl_sign(), "keyUsage has cRLSign")
}

pub(crate) fn ecdsa_ku_no_digital_signature(c: &Cert<'_>) -> Outcome {
    if !matches!(c.key, Some(PublicKey::Ec { .. })) {
        return NA;
    }
    key_usage_outcome(c, |ku| !ku.digital_signature(), "ECDSA keyUsage lacks digitalSignature")
}

/// The names of the keyUsage bits set in `ku` that are not in `allowed`.
fn bits_outside(ku: &x509_parser::extensions::KeyUsage, allowed: &[&str]) -> Vec<&'static str> {
    let bits = [
        ("digitalSignature", ku.digital_signature()),
        ("nonRepudiation", ku.non_repudiation()),
        ("keyEncipherment", ku.key_encipherment()),
        ("dataEncipherment", ku.data_encipherment()),
        ("keyAgreement", ku.key_agreement()),
        ("keyCertSign", ku.key_cert_sign()),
        ("cRLSign", ku.crl_sign()),
        ("encipherOnly", ku.encipher_only()),
        ("decipherOnly", ku.decipher_only()),
    ];
    bits.into_iter().filter(|(name, set)| *set && !allowed.contains(name)).map(|(name, _)| name).collect()
}

/// Fail when keyUsage has a bit outside what BR 7.1.2.7.11 allows for the key type.
fn ku_allowed_for_key(c: &Cert<'_>, ec: bool, allowed: &[&str]) -> Outcome {
    if !matches!((c.key, ec), (Some(PublicKey::Ec { .. }), true) | (Some(PublicKey::Rsa { .. }), false)) {
        return NA;
    }
    match c.key_usage() {
        Some(ku) => match bits_outside(ku, allowed).as_slice() {
            [] => Outcome::Pass,
            bits => Outcome::Fail(format!(
                "keyUsage has {} for an {} key",
                bits.join(", "),
                if ec { "ECDSA" } else { "RSA" }
            )),
        },
        None if c.index.key_usage.is_some() => Outcome::NotApplicable(Some("keyUsage could not be decoded")),
        None => c.parsed().err().unwrap_or(NA),
    }
}

pub(crate) fn ku_prohibited_for_ecdsa(c: &Cert<'_>) -> Outcome {
    ku_allowed_for_key(c, true, &["digitalSignature", "keyAgreement"])
}

pub(crate) fn ku_prohibited_for_rsa(c: &Cert<'_>) -> Outcome {
    ku_allowed_for_key(c, false, &["digitalSignature", "keyEncipherment", "dataEncipherment"])
}

fn eku<'c>(c: &'c Cert<'_>) -> Result<&'c ExtendedKeyUsage<'c>, Outcome> {
    c.parsed()?;
    match c.decoded.ext_key_usage.as_ref().map(X509Extension::parsed_extension) {
        Some(ParsedExtension::ExtendedKeyUsage(eku)) => Ok(eku),
        Some(_) => Err(Outcome::NotApplicable(Some("extKeyUsage could not be decoded"))),
        None => Err(NA),
    }
}

pub(crate) fn eku_missing(c: &Cert<'_>) -> Outcome {
    require(c, c.index.ext_key_usage.is_some(), "extKeyUsage")
}

pub(crate) fn eku_no_server_auth(c: &Cert<'_>) -> Outcome {
    match eku(c) {
        Ok(eku) if eku.server_auth => Outcome::Pass,
        Ok(_) => Outcome::Fail("extKeyUsage lacks id-kp-serverAuth".into()),
        Err(outcome) => outcome,
    }
}

pub(crate) fn eku_any(c: &Cert<'_>) -> Outcome {
    match eku(c) {
        Ok(eku) if eku.any => Outcome::Fail("extKeyUsage has anyExtendedKeyUsage".into()),
        Ok(_) => Outcome::Pass,
        Err(outcome) => outcome,
    }
}

pub(crate) fn policies_missing(c: &Cert<'_>) -> Outcome {
    require(c, c.index.policies.is_some(), "certificatePolicies")
}

pub(crate) fn reserved_policy_missing(c: &Cert<'_>) -> Outcome {
    if c.facts.policy_oids.is_empty() {
        return NA;
    }
    if c.facts.validation_type == ValidationType::Unknown {
        Outcome::Fail(format!("no CA/B Forum reserved policy among {}", c.facts.policy_oids.join(", ")))
    } else {
        Outcome::Pass
    }
}

/// The scheme of a URI (the part before the first `:`), if it has one.
fn scheme(uri: &str) -> Option<&str> {
    let (scheme, _) = uri.split_once(':')?;
    let valid = scheme.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
        && scheme.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    valid.then_some(scheme)
}

fn is_http(uri: &str) -> bool {
    scheme(uri).is_some_and(|s| s.eq_ignore_ascii_case("http"))
}

pub(crate) fn cps_uri_not_http(c: &Cert<'_>) -> Outcome {
    if let Err(outcome) = c.parsed() {
        return outcome;
    }
    let policies = match c.decoded.policies.as_ref().map(X509Extension::parsed_extension) {
        Some(ParsedExtension::CertificatePolicies(p)) => p,
        Some(_) => return Outcome::NotApplicable(Some("certificatePolicies could not be decoded")),
        None => return NA,
    };
    let mut seen = false;
    for qualifier in policies.iter().flat_map(|p| p.policy_qualifiers.iter().flatten()) {
        if qualifier.policy_qualifier_id.as_bytes() != oid::QT_CPS {
            continue;
        }
        seen = true;
        // The qualifier is an IA5String TLV.
        let text = match ctwatch_cert::der::read_tlv(qualifier.qualifier) {
            Ok((tlv, _)) if tlv.tag == 0x16 => std::str::from_utf8(tlv.content).ok(),
            _ => None,
        };
        match text {
            Some(uri)
                if scheme(uri).is_some_and(|s| s.eq_ignore_ascii_case("http") || s.eq_ignore_ascii_case("https")) => {}
            Some(uri) => return Outcome::Fail(format!("CPS URI {uri:?} is not http or https")),
            None => return Outcome::Fail("CPS URI qualifier is not an IA5String".into()),
        }
    }
    if seen { Outcome::Pass } else { NA }
}

pub(crate) fn aia_missing(c: &Cert<'_>) -> Outcome {
    require(c, c.index.aia.is_some(), "authorityInformationAccess")
}

fn all_http(urls: &[String], what: &str) -> Outcome {
    if urls.is_empty() {
        return NA;
    }
    match urls.iter().find(|u| !is_http(u)) {
        Some(url) => Outcome::Fail(format!("{what} {url:?} is not an http URL")),
        None => Outcome::Pass,
    }
}

pub(crate) fn aia_ocsp_not_http(c: &Cert<'_>) -> Outcome {
    all_http(&c.facts.ocsp_urls, "OCSP location")
}

pub(crate) fn aia_ca_issuers_not_http(c: &Cert<'_>) -> Outcome {
    all_http(&c.facts.ca_issuer_urls, "caIssuers location")
}

pub(crate) fn crl_dp_not_http(c: &Cert<'_>) -> Outcome {
    all_http(&c.facts.crl_distribution_points, "CRL distribution point")
}

pub(crate) fn poison(c: &Cert<'_>) -> Outcome {
    if !c.is_precert() {
        return NA;
    }
    if let Err(outcome) = c.parsed() {
        return outcome;
    }
    match c.ext(|i| i.poison) {
        None => Outcome::Fail("precertificate without the CT poison extension".into()),
        Some(e) if !e.critical => Outcome::Fail("CT poison extension is not critical".into()),
        Some(e) if e.value != [0x05, 0x00] => Outcome::Fail("CT poison extension value is not NULL".into()),
        Some(_) => Outcome::Pass,
    }
}

pub(crate) fn precert_with_sct_list(c: &Cert<'_>) -> Outcome {
    if !c.is_precert() {
        return NA;
    }
    if let Err(outcome) = c.parsed() {
        return outcome;
    }
    if c.index.sct_list.is_some() {
        Outcome::Fail("precertificate has an embedded SCT list".into())
    } else {
        Outcome::Pass
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_schemes() {
        assert_eq!(scheme("http://x"), Some("http"));
        assert_eq!(scheme("HTTPS://x"), Some("HTTPS"));
        assert_eq!(scheme("ldap://x"), Some("ldap"));
        assert_eq!(scheme("www.example.com/cps"), None);
        assert_eq!(scheme("1http://x"), None);
        assert!(is_http("HTTP://ocsp.example"));
        assert!(!is_http("https://ocsp.example"));
    }
}

//! subjectAltName and commonName lints.
//!
//! The dNSName and iPAddress values come from [`CertFacts`](crate::CertFacts), which decodes them
//! leniently, so these lints still run on a certificate `x509-parser` rejects.

use super::{NA, Outcome, first_failing};
use crate::cert::Cert;
use crate::dns;
use ctwatch_cert::facts::ValidationType;
use x509_parser::prelude::{GeneralName, ParsedExtension};

/// The SAN's GeneralNames, or the outcome when there is no decodable SAN.
fn san_names<'c, 'a>(c: &'c Cert<'a>) -> Result<&'c [GeneralName<'a>], Outcome> {
    c.parsed()?;
    match c.decoded.san.as_ref().map(|e| e.parsed_extension()) {
        Some(ParsedExtension::SubjectAlternativeName(san)) => Ok(&san.general_names),
        Some(_) => Err(Outcome::NotApplicable(Some("subjectAltName could not be decoded"))),
        None => Err(NA),
    }
}

fn general_name_type(name: &GeneralName<'_>) -> &'static str {
    match name {
        GeneralName::OtherName(..) => "otherName",
        GeneralName::RFC822Name(_) => "rfc822Name",
        GeneralName::DNSName(_) => "dNSName",
        GeneralName::X400Address(_) => "x400Address",
        GeneralName::DirectoryName(_) => "directoryName",
        GeneralName::EDIPartyName(_) => "ediPartyName",
        GeneralName::URI(_) => "uniformResourceIdentifier",
        GeneralName::IPAddress(_) => "iPAddress",
        GeneralName::RegisteredID(_) => "registeredID",
        GeneralName::Invalid(..) => "undecodable GeneralName",
    }
}

pub(crate) fn san_missing(c: &Cert<'_>) -> Outcome {
    if let Err(outcome) = c.parsed() {
        return outcome;
    }
    match c.index.san {
        Some(_) => Outcome::Pass,
        None => Outcome::Fail("no subjectAltName extension".into()),
    }
}

pub(crate) fn san_prohibited_type(c: &Cert<'_>) -> Outcome {
    let names = match san_names(c) {
        Ok(names) => names,
        Err(outcome) => return outcome,
    };
    match names.iter().find(|n| !matches!(n, GeneralName::DNSName(_) | GeneralName::IPAddress(_))) {
        Some(n) => Outcome::Fail(format!("subjectAltName contains a {}", general_name_type(n))),
        None => Outcome::Pass,
    }
}

pub(crate) fn ev_san_not_dns(c: &Cert<'_>) -> Outcome {
    if c.facts.validation_type != ValidationType::Ev {
        return NA;
    }
    let names = match san_names(c) {
        Ok(names) => names,
        Err(outcome) => return outcome,
    };
    match names.iter().find(|n| !matches!(n, GeneralName::DNSName(_))) {
        Some(n) => Outcome::Fail(format!("EV subjectAltName contains a {}", general_name_type(n))),
        None => Outcome::Pass,
    }
}

pub(crate) fn cn_not_in_san(c: &Cert<'_>) -> Outcome {
    let facts = c.facts;
    if facts.common_names.is_empty() {
        return NA;
    }
    let san = c.decoded.san.as_ref();
    if c.index.san.is_some()
        && !san.is_some_and(|e| matches!(e.parsed_extension(), ParsedExtension::SubjectAlternativeName(_)))
    {
        return Outcome::NotApplicable(Some("subjectAltName could not be decoded"));
    }
    let in_san = |cn: &String| facts.dns_names.contains(cn) || facts.ip_addresses.contains(cn);
    match facts.common_names.iter().find(|cn| !in_san(cn)) {
        Some(cn) => Outcome::Fail(format!("commonName {cn:?} is not a SAN value")),
        None => Outcome::Pass,
    }
}

/// Run a per-dNSName predicate: not applicable without dNSNames, else fail on the first match.
fn each_dns_name(c: &Cert<'_>, fails: impl Fn(&str) -> bool, what: &str) -> Outcome {
    if c.facts.dns_names.is_empty() {
        return NA;
    }
    match first_failing(&c.facts.dns_names, fails) {
        Some(name) => Outcome::Fail(format!("dNSName {name:?} {what}")),
        None => Outcome::Pass,
    }
}

pub(crate) fn underscore(c: &Cert<'_>) -> Outcome {
    each_dns_name(c, |n| n.contains('_'), "contains an underscore")
}

pub(crate) fn bad_label_character(c: &Cert<'_>) -> Outcome {
    each_dns_name(
        c,
        |n| dns::has_bad_label_character(n).is_some(),
        "has a label that is not letters, digits and hyphens",
    )
}

pub(crate) fn empty_label(c: &Cert<'_>) -> Outcome {
    each_dns_name(c, dns::has_empty_label, "has an empty label")
}

pub(crate) fn label_too_long(c: &Cert<'_>) -> Outcome {
    each_dns_name(c, |n| dns::long_label(n).is_some(), "has a label longer than 63 octets")
}

pub(crate) fn name_too_long(c: &Cert<'_>) -> Outcome {
    each_dns_name(c, |n| n.len() > 253, "is longer than 253 octets")
}

pub(crate) fn wildcard_not_leftmost(c: &Cert<'_>) -> Outcome {
    each_dns_name(c, dns::wildcard_not_leftmost, "has a wildcard outside the leftmost label")
}

pub(crate) fn partial_wildcard(c: &Cert<'_>) -> Outcome {
    each_dns_name(c, dns::partial_wildcard, "has a partial-label wildcard")
}

pub(crate) fn dns_name_is_ip(c: &Cert<'_>) -> Outcome {
    each_dns_name(c, dns::is_ip_text, "is an IP address")
}

pub(crate) fn uppercase(c: &Cert<'_>) -> Outcome {
    each_dns_name(c, |n| n.bytes().any(|b| b.is_ascii_uppercase()), "has uppercase letters")
}

pub(crate) fn internal_name(c: &Cert<'_>) -> Outcome {
    each_dns_name(c, dns::is_internal_name, "does not end in a public top-level domain")
}

pub(crate) fn reserved_ip(c: &Cert<'_>) -> Outcome {
    if c.facts.ip_addresses.is_empty() {
        return NA;
    }
    for text in &c.facts.ip_addresses {
        if let Some(why) = text.parse().ok().and_then(dns::reserved_ip) {
            return Outcome::Fail(format!("iPAddress {text} is {why}"));
        }
    }
    Outcome::Pass
}

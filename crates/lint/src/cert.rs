//! The one parse of a certificate that every lint reads.
//!
//! [`Cert::new`] parses the DER once with `x509-parser`, walks the outer framing with the strict
//! DER walker of `ctwatch-cert` for the raw AlgorithmIdentifier encodings and the public key,
//! and indexes the extensions the lints look at, so a lint is a few field reads.
//!
//! Only the extensions a lint decodes (subjectAltName, basicConstraints, keyUsage, extKeyUsage,
//! certificatePolicies) are deep-parsed; the others are read from [`CertFacts`], which has
//! already decoded them. Deep-parsing every extension (the SCT list above all) would double the
//! cost of the parse, which is most of the cost of linting.

use crate::lints::{Outcome, oid};
use crate::{LintInfo, LintInput};
use ctwatch_cert::der::{self, Reader};
use ctwatch_cert::facts::CertFacts;
use ctwatch_cert::identity::{TbsFields, split_certificate};
use x509_parser::nom::Parser as _;
use x509_parser::prelude::{FromDer, ParsedExtension, X509Certificate, X509CertificateParser, X509Extension};

/// Raw DER encodings of the AlgorithmIdentifiers BR 7.1.3 constrains.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RawAlgorithms<'a> {
    /// `Certificate.signatureAlgorithm`, the whole TLV.
    pub outer_signature: &'a [u8],
    /// The OID content bytes of `Certificate.signatureAlgorithm`.
    pub outer_signature_oid: &'a [u8],
    /// `TBSCertificate.signature`, the whole TLV.
    pub tbs_signature: &'a [u8],
    /// `SubjectPublicKeyInfo.algorithm`, the whole TLV.
    pub spki_algorithm: &'a [u8],
}

/// The subject public key, decoded as far as the key lints need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PublicKey<'a> {
    /// rsaEncryption: the INTEGER contents of the modulus and public exponent, as encoded.
    Rsa { modulus: &'a [u8], exponent: &'a [u8] },
    /// id-ecPublicKey: the named-curve OID content, if the parameters are a named curve.
    Ec { curve: Option<&'a [u8]> },
    /// Any other algorithm.
    Other,
}

/// Positions (in the extension list) of the first instance of each extension a lint reads.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct ExtIndex {
    pub san: Option<usize>,
    pub basic_constraints: Option<usize>,
    pub key_usage: Option<usize>,
    pub ext_key_usage: Option<usize>,
    pub policies: Option<usize>,
    pub aia: Option<usize>,
    pub crl_dp: Option<usize>,
    pub poison: Option<usize>,
    pub sct_list: Option<usize>,
}

impl ExtIndex {
    fn build(all: &[X509Extension<'_>]) -> Self {
        let mut e = ExtIndex::default();
        for (i, ext) in all.iter().enumerate() {
            let slot = match ext.oid.as_bytes() {
                oid::SUBJECT_ALT_NAME => &mut e.san,
                oid::BASIC_CONSTRAINTS => &mut e.basic_constraints,
                oid::KEY_USAGE => &mut e.key_usage,
                oid::EXT_KEY_USAGE => &mut e.ext_key_usage,
                oid::CERTIFICATE_POLICIES => &mut e.policies,
                oid::AUTHORITY_INFO_ACCESS => &mut e.aia,
                oid::CRL_DISTRIBUTION_POINTS => &mut e.crl_dp,
                oid::CT_POISON => &mut e.poison,
                oid::CT_SCT_LIST => &mut e.sct_list,
                _ => continue,
            };
            slot.get_or_insert(i);
        }
        e
    }
}

/// The deep-parsed extensions (first instance of each), for the lints that decode them.
#[derive(Debug, Default)]
pub(crate) struct Decoded<'a> {
    pub san: Option<X509Extension<'a>>,
    pub basic_constraints: Option<X509Extension<'a>>,
    pub key_usage: Option<X509Extension<'a>>,
    pub ext_key_usage: Option<X509Extension<'a>>,
    pub policies: Option<X509Extension<'a>>,
}

impl<'a> Decoded<'a> {
    /// Deep-parse the extensions at the indexed positions. `raw` is every Extension TLV in
    /// order, when the strict walker could split them; otherwise the whole certificate is
    /// parsed again with deep extension parsing (only malformed certificates get there).
    fn new(der: &'a [u8], index: &ExtIndex, raw: Option<Vec<&'a [u8]>>) -> Self {
        let slots = [index.san, index.basic_constraints, index.key_usage, index.ext_key_usage, index.policies];
        let mut found: [Option<X509Extension<'a>>; 5] = Default::default();
        match raw {
            Some(raw) => {
                for (slot, position) in found.iter_mut().zip(slots) {
                    *slot = position
                        .and_then(|p| raw.get(p))
                        .and_then(|tlv| X509Extension::from_der(tlv).ok())
                        .map(|(_, ext)| ext);
                }
            }
            None => {
                if let Ok((_, full)) = X509Certificate::from_der(der) {
                    let all = full.tbs_certificate.extensions();
                    for (slot, position) in found.iter_mut().zip(slots) {
                        *slot = position.and_then(|p| all.get(p)).cloned();
                    }
                }
            }
        }
        let [san, basic_constraints, key_usage, ext_key_usage, policies] = found;
        Decoded { san, basic_constraints, key_usage, ext_key_usage, policies }
    }

    /// Every deep-parsed extension.
    pub fn iter(&self) -> impl Iterator<Item = &X509Extension<'a>> {
        [&self.san, &self.basic_constraints, &self.key_usage, &self.ext_key_usage, &self.policies].into_iter().flatten()
    }
}

/// A certificate as the lints see it.
#[derive(Debug)]
pub(crate) struct Cert<'a> {
    pub input: &'a LintInput<'a>,
    pub facts: &'a CertFacts,
    /// The `x509-parser` parse (extensions not deep-parsed), or why it failed.
    pub x509: Result<X509Certificate<'a>, String>,
    /// The deep-parsed extensions.
    pub decoded: Decoded<'a>,
    /// Raw AlgorithmIdentifiers, when the strict DER walk succeeded.
    pub algorithms: Option<RawAlgorithms<'a>>,
    /// The subject public key, when its DER could be walked.
    pub key: Option<PublicKey<'a>>,
    /// Where the extensions the lints read are (all `None` when the certificate did not parse).
    pub index: ExtIndex,
    /// Whether the certificate is a CA by its own extensions (cA=TRUE and keyCertSign).
    pub is_ca_cert: bool,
}

impl<'a> Cert<'a> {
    /// Parse `input.der` once.
    pub fn new(input: &'a LintInput<'a>) -> Self {
        let mut parser = X509CertificateParser::new().with_deep_parse_extensions(false);
        let x509 = match parser.parse(input.der) {
            Ok((_, cert)) => Ok(cert),
            Err(e) => Err(e.to_string()),
        };
        let walked =
            split_certificate(input.der).ok().and_then(|parts| Some((parts, TbsFields::parse(parts.tbs.raw).ok()?)));
        let (algorithms, key, raw_extensions) = match &walked {
            Some((parts, fields)) => {
                (raw_algorithms(parts.signature_algorithm, fields), public_key(fields.spki), raw_extensions(fields))
            }
            None => (None, None, None),
        };
        let index = x509.as_ref().map(|x| ExtIndex::build(x.tbs_certificate.extensions())).unwrap_or_default();
        let decoded = match &x509 {
            Ok(_) => Decoded::new(input.der, &index, raw_extensions),
            Err(_) => Decoded::default(),
        };
        let mut cert = Cert { input, facts: input.facts, x509, decoded, algorithms, key, index, is_ca_cert: false };
        cert.is_ca_cert = cert.key_usage().is_some_and(|ku| ku.key_cert_sign()) && cert.basic_constraints_ca();
        cert
    }

    /// Run one lint: every lint is not applicable to a CA certificate.
    pub fn run(&self, info: &LintInfo) -> Outcome {
        if self.is_ca_cert {
            return Outcome::NotApplicable(Some("certificate is a CA certificate"));
        }
        (info.check)(self)
    }

    /// The parsed certificate, or the not-applicable outcome to return when it did not parse.
    pub fn parsed(&self) -> Result<&X509Certificate<'a>, Outcome> {
        self.x509.as_ref().map_err(|_| Outcome::NotApplicable(Some("certificate could not be parsed")))
    }

    /// The extension (not deep-parsed: OID, criticality and value) at the position `pick`
    /// chooses from the index, e.g. `c.ext(|i| i.poison)`.
    pub fn ext(&self, pick: impl FnOnce(&ExtIndex) -> Option<usize>) -> Option<&X509Extension<'a>> {
        let position = pick(&self.index)?;
        self.x509.as_ref().ok()?.tbs_certificate.extensions().get(position)
    }

    /// The decoded keyUsage, if present and decodable.
    pub fn key_usage(&self) -> Option<&x509_parser::extensions::KeyUsage> {
        match self.decoded.key_usage.as_ref()?.parsed_extension() {
            ParsedExtension::KeyUsage(ku) => Some(ku),
            _ => None,
        }
    }

    /// basicConstraints cA, from the parse when there is one, else from the facts.
    pub fn basic_constraints_ca(&self) -> bool {
        match &self.x509 {
            Ok(_) => match self.decoded.basic_constraints.as_ref().map(|e| e.parsed_extension()) {
                Some(ParsedExtension::BasicConstraints(bc)) => bc.ca,
                _ => false,
            },
            Err(_) => self.facts.is_ca,
        }
    }

    /// Whether the entry is a precertificate (by the log entry type or the poison extension).
    pub fn is_precert(&self) -> bool {
        self.input.is_precert || self.facts.is_precert
    }
}

/// Every Extension TLV, in order, if the extensions can be walked.
fn raw_extensions<'a>(fields: &TbsFields<'a>) -> Option<Vec<&'a [u8]>> {
    let mut r = fields.extension_reader().ok()?;
    let mut out = Vec::new();
    while !r.is_empty() {
        out.push(r.read_any().ok()?.raw);
    }
    Some(out)
}

/// The raw outer signature algorithm, TBS signature and SPKI algorithm.
fn raw_algorithms<'a>(outer: der::Tlv<'a>, fields: &TbsFields<'a>) -> Option<RawAlgorithms<'a>> {
    let spki_algorithm = Reader::new(fields.spki.content).read(der::TAG_SEQUENCE).ok()?.raw;
    let outer_signature_oid = Reader::new(outer.content).read(der::TAG_OID).ok()?.content;
    Some(RawAlgorithms {
        outer_signature: outer.raw,
        outer_signature_oid,
        tbs_signature: fields.signature.raw,
        spki_algorithm,
    })
}

/// Decode the SubjectPublicKeyInfo far enough for the key lints.
fn public_key(spki: der::Tlv<'_>) -> Option<PublicKey<'_>> {
    let mut r = Reader::new(spki.content);
    let algorithm = r.read(der::TAG_SEQUENCE).ok()?;
    let key_bits = r.read(der::TAG_BIT_STRING).ok()?.content;
    let mut a = Reader::new(algorithm.content);
    let algorithm_oid = a.read(der::TAG_OID).ok()?.content;
    Some(match algorithm_oid {
        oid::RSA_ENCRYPTION => {
            let (unused, key) = key_bits.split_first()?;
            if *unused != 0 {
                return None;
            }
            let mut outer = Reader::new(key);
            let mut k = Reader::new(outer.read(der::TAG_SEQUENCE).ok()?.content);
            let modulus = k.read(der::TAG_INTEGER).ok()?.content;
            let exponent = k.read(der::TAG_INTEGER).ok()?.content;
            PublicKey::Rsa { modulus, exponent }
        }
        oid::EC_PUBLIC_KEY => PublicKey::Ec { curve: a.read(der::TAG_OID).ok().map(|t| t.content) },
        _ => PublicKey::Other,
    })
}

//! Test certificates: a compliant DV subscriber certificate built with rcgen, variations of its
//! parameters, and DER surgery for what rcgen cannot express (RSA keys, odd algorithm
//! identifiers, versions, serials, duplicate extensions).

use ctwatch_cert::der::{self, Reader};
use ctwatch_cert::facts::cert_facts;
use ctwatch_cert::identity::{TbsFields, split_certificate};
use ctwatch_lint::{LintInput, LintResult};
use rcgen::{
    CertificateParams, CrlDistributionPoint, CustomExtension, DistinguishedName, DnType, DnValue,
    ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose, SanType, SerialNumber,
};
use std::sync::OnceLock;
use time::OffsetDateTime;

/// notBefore of the base certificate: 2025-06-01T00:00:00Z (BR 2.0 rules, before SC-081).
pub const BASE_NOT_BEFORE: i64 = 1_748_736_000;
pub const DAY: i64 = 86_400;

pub const OID_DV: &[u8] = &[0x67, 0x81, 0x0c, 0x01, 0x02, 0x01];
pub const OID_OV: &[u8] = &[0x67, 0x81, 0x0c, 0x01, 0x02, 0x02];
pub const OID_EV: &[u8] = &[0x67, 0x81, 0x0c, 0x01, 0x01];
const OID_QT_CPS: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x02, 0x01];
const OID_AD_OCSP: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01];
const OID_AD_CA_ISSUERS: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x02];

pub const ARCS_CP: &[u64] = &[2, 5, 29, 32];
pub const ARCS_AIA: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 1, 1];
pub const ARCS_BC: &[u64] = &[2, 5, 29, 19];
pub const ARCS_SAN: &[u64] = &[2, 5, 29, 17];
pub const ARCS_POISON: &[u64] = &[1, 3, 6, 1, 4, 1, 11129, 2, 4, 3];
pub const ARCS_SCT_LIST: &[u64] = &[1, 3, 6, 1, 4, 1, 11129, 2, 4, 2];

pub fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    der::write_tlv(&mut out, tag, content);
    out
}

fn seq(parts: &[&[u8]]) -> Vec<u8> {
    tlv(0x30, &parts.concat())
}

/// certificatePolicies content with one policy and, optionally, a CPS URI qualifier.
pub fn policies(policy: &[u8], cps: Option<&str>) -> Vec<u8> {
    let oid = tlv(0x06, policy);
    let info = match cps {
        Some(uri) => seq(&[&oid, &seq(&[&seq(&[&tlv(0x06, OID_QT_CPS), &tlv(0x16, uri.as_bytes())])])]),
        None => seq(&[&oid]),
    };
    seq(&[&info])
}

/// authorityInfoAccess content with an OCSP and a caIssuers URI.
pub fn aia(ocsp: &str, ca_issuers: &str) -> Vec<u8> {
    seq(&[
        &seq(&[&tlv(0x06, OID_AD_OCSP), &tlv(0x86, ocsp.as_bytes())]),
        &seq(&[&tlv(0x06, OID_AD_CA_ISSUERS), &tlv(0x86, ca_issuers.as_bytes())]),
    ])
}

pub fn custom(arcs: &[u64], critical: bool, content: Vec<u8>) -> CustomExtension {
    let mut ext = CustomExtension::from_oid_content(arcs, content);
    ext.set_criticality(critical);
    ext
}

pub fn dns(name: &str) -> SanType {
    SanType::DnsName(name.to_string().try_into().expect("IA5 name"))
}

pub fn time_at(unix: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(unix).expect("valid time")
}

/// The parameters of a compliant DV subscriber certificate: C and CN subject, SAN with the CN,
/// critical KU digitalSignature, EKU serverAuth, critical basicConstraints cA=FALSE, DV policy
/// with an http CPS URI, AIA and CRL DP over http, 16-octet serial, 90 days of validity.
pub fn base_params() -> CertificateParams {
    let mut p = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    // countryName is a PrintableString (X.520); rcgen's default would be UTF8String.
    dn.push(DnType::CountryName, DnValue::PrintableString("US".try_into().expect("printable")));
    dn.push(DnType::CommonName, "www.example.com");
    p.distinguished_name = dn;
    p.subject_alt_names = vec![dns("www.example.com"), dns("example.com")];
    p.not_before = time_at(BASE_NOT_BEFORE);
    p.not_after = time_at(BASE_NOT_BEFORE + 90 * DAY - 1);
    p.serial_number = Some(SerialNumber::from(vec![0x5a; 16]));
    p.is_ca = IsCa::ExplicitNoCa;
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    p.crl_distribution_points = vec![CrlDistributionPoint { uris: vec!["http://crl.example.net/1.crl".into()] }];
    p.custom_extensions = vec![
        custom(ARCS_CP, false, policies(OID_DV, Some("http://cps.example.net/"))),
        custom(ARCS_AIA, false, aia("http://ocsp.example.net", "http://ca.example.net/ca.crt")),
    ];
    p
}

fn p256_key() -> &'static KeyPair {
    static KEY: OnceLock<KeyPair> = OnceLock::new();
    KEY.get_or_init(|| KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("P-256 key"))
}

fn p384_key() -> &'static KeyPair {
    static KEY: OnceLock<KeyPair> = OnceLock::new();
    KEY.get_or_init(|| KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).expect("P-384 key"))
}

/// Sign `params` with a P-256 key (self-signed: the lints do not look at the issuer).
pub fn build(params: &CertificateParams) -> Vec<u8> {
    params.self_signed(p256_key()).expect("rcgen signs").der().to_vec()
}

/// Sign `params` with a P-384 key.
pub fn build_p384(params: &CertificateParams) -> Vec<u8> {
    params.self_signed(p384_key()).expect("rcgen signs").der().to_vec()
}

/// A certificate split into owned fields for surgery.
#[derive(Debug, Clone)]
pub struct Parts {
    pub version: Option<Vec<u8>>,
    pub serial: Vec<u8>,
    pub tbs_signature: Vec<u8>,
    pub issuer: Vec<u8>,
    pub validity: Vec<u8>,
    pub subject: Vec<u8>,
    pub spki: Vec<u8>,
    /// Each Extension TLV.
    pub extensions: Vec<Vec<u8>>,
    pub signature_algorithm: Vec<u8>,
    pub signature: Vec<u8>,
}

impl Parts {
    pub fn of(der: &[u8]) -> Parts {
        let cert = split_certificate(der).expect("certificate splits");
        let f = TbsFields::parse(cert.tbs.raw).expect("TBS splits");
        let mut extensions = Vec::new();
        let mut r = f.extension_reader().expect("extensions");
        while !r.is_empty() {
            extensions.push(r.read_any().expect("extension").raw.to_vec());
        }
        Parts {
            version: f.version.map(|v| v.raw.to_vec()),
            serial: f.serial.raw.to_vec(),
            tbs_signature: f.signature.raw.to_vec(),
            issuer: f.issuer.raw.to_vec(),
            validity: f.validity.raw.to_vec(),
            subject: f.subject.raw.to_vec(),
            spki: f.spki.raw.to_vec(),
            extensions,
            signature_algorithm: cert.signature_algorithm.raw.to_vec(),
            signature: cert.signature.raw.to_vec(),
        }
    }

    pub fn der(&self) -> Vec<u8> {
        let mut tbs = self.version.clone().unwrap_or_default();
        for field in [&self.serial, &self.tbs_signature, &self.issuer, &self.validity, &self.subject, &self.spki] {
            tbs.extend_from_slice(field);
        }
        if !self.extensions.is_empty() {
            tbs.extend(tlv(0xa3, &tlv(0x30, &self.extensions.concat())));
        }
        seq(&[&tlv(0x30, &tbs), &self.signature_algorithm, &self.signature])
    }

    /// Set both signature AlgorithmIdentifiers.
    pub fn set_signature_algorithm(&mut self, der: &[u8]) {
        self.tbs_signature = der.to_vec();
        self.signature_algorithm = der.to_vec();
    }

    /// The position of the extension with this OID content.
    pub fn find_extension(&self, oid: &[u8]) -> Option<usize> {
        self.extensions.iter().position(|e| {
            let mut r = Reader::new(e);
            let content = r.read(0x30).map(|t| t.content).unwrap_or_default();
            Reader::new(content).read(0x06).map(|t| t.content == oid).unwrap_or(false)
        })
    }
}

pub const SHA256_WITH_RSA: &[u8] =
    &[0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b, 0x05, 0x00];
pub const SHA1_WITH_RSA: &[u8] =
    &[0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x05, 0x05, 0x00];

/// An rsaEncryption SPKI with a modulus of `bits` bits (top bit set, odd) and exponent `e`.
pub fn rsa_spki(bits: usize, e: u64) -> Vec<u8> {
    let bytes = bits.div_ceil(8);
    let mut modulus = vec![0xa5u8; bytes];
    let top_bits = bits - (bytes - 1) * 8;
    modulus[0] = 1u8 << (top_bits - 1) | 0x01;
    if let Some(last) = modulus.last_mut() {
        *last |= 1;
    }
    let integer = |magnitude: &[u8]| {
        let mut content = Vec::new();
        if magnitude.first().is_some_and(|b| b & 0x80 != 0) {
            content.push(0);
        }
        content.extend_from_slice(magnitude);
        tlv(0x02, &content)
    };
    let e_bytes = e.to_be_bytes();
    let e_start = e_bytes.iter().position(|&b| b != 0).unwrap_or(7);
    let key = seq(&[&integer(&modulus), &integer(&e_bytes[e_start..])]);
    let mut bit_string = vec![0];
    bit_string.extend(key);
    let algorithm = &[0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00];
    seq(&[algorithm, &tlv(0x03, &bit_string)])
}

/// An RSA subscriber certificate (base parameters, RSA SPKI and sha256WithRSAEncryption).
pub fn rsa_cert(bits: usize, e: u64) -> Vec<u8> {
    let mut parts = Parts::of(&build(&base_params()));
    parts.spki = rsa_spki(bits, e);
    parts.set_signature_algorithm(SHA256_WITH_RSA);
    parts.der()
}

/// What a test feeds the linter besides the DER.
#[derive(Debug, Clone, Copy, Default)]
pub struct Entry {
    pub is_precert: bool,
    pub sct_timestamp_ms: Option<u64>,
}

/// Lint a certificate and return the result of one lint.
pub fn result_of(der: &[u8], entry: Entry, lint: &str) -> LintResult {
    let facts = cert_facts(der).expect("facts");
    let input =
        LintInput { der, facts: &facts, is_precert: entry.is_precert, sct_timestamp_ms: entry.sct_timestamp_ms };
    ctwatch_lint::lint(&input).into_iter().find(|r| r.lint.name == lint).expect("lint is registered")
}

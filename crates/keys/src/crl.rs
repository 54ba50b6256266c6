//! CRLs of watched issuers: bounded parsing, signature and issuer checks, and the CRL-number
//! history per URL.
//!
//! [`parse_crl`] accepts a DER CRL only when all of this holds: it is no larger than
//! [`CrlLimits::max_bytes`] and lists at most [`CrlLimits::max_entries`] entries; it is one
//! DER `CertificateList` with nothing after it; its issuer name is byte-for-byte the issuer
//! certificate's subject; its authorityKeyIdentifier (when both sides have one) equals the
//! issuer's subjectKeyIdentifier; the inner and outer signature algorithms agree; the
//! signature verifies under the issuer's key (RSA PKCS#1 v1.5 with SHA-256/384/512, ECDSA P-256
//! or P-384 with SHA-256/384, Ed25519); it has no unrecognised critical extension (RFC 5280
//! 5.2); and it is not an indirect CRL (BR 7.2.2.1), whose entries could belong to another
//! issuer. Serials are kept as the DER INTEGER content bytes, which BR 7.2.2 requires to be
//! byte-for-byte the certificate's serial and which is how `CertFacts::serial` stores it.
//!
//! [`CrlState`] remembers, per URL, the highest CRL number seen, and reports a CRL whose
//! number went backwards (BR 7.2.2: "a strictly increasing sequence") or repeated with a
//! different thisUpdate.

use std::collections::BTreeMap;

use ctwatch_ct::Hash;
use num_bigint::BigUint;
use x509_parser::prelude::{
    CertificateRevocationList, DistributionPointName, FromDer, GeneralName, ParsedExtension, X509Certificate,
};

use crate::spki;

/// Size limits applied before and while parsing a CRL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CrlLimits {
    /// Largest CRL accepted, in bytes.
    pub max_bytes: usize,
    /// Most entries accepted.
    pub max_entries: usize,
}

impl Default for CrlLimits {
    /// 64 MiB and 2,000,000 entries: above the largest public WebPKI CRLs, whose issuers
    /// partition them well before that.
    fn default() -> Self {
        CrlLimits { max_bytes: 64 << 20, max_entries: 2_000_000 }
    }
}

/// Why a CRL was not accepted, or why its history is suspicious.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone)]
pub enum CrlError {
    /// The CRL is larger than the limit (checked before parsing).
    #[error("CRL is {size} bytes, more than the {limit} accepted")]
    TooLarge {
        /// Its size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The CRL has more entries than the limit.
    #[error("CRL lists {count} entries, more than the {limit} accepted")]
    TooManyEntries {
        /// How many.
        count: usize,
        /// The limit.
        limit: usize,
    },
    /// The bytes are not a DER CRL.
    #[error("malformed CRL: {0}")]
    Malformed(String),
    /// The issuer certificate could not be read.
    #[error("malformed issuer certificate: {0}")]
    BadIssuerCertificate(String),
    /// The CRL names a different issuer than the certificate given to verify it.
    #[error("CRL issuer {crl_issuer:?} is not the issuer certificate's subject {expected:?}")]
    WrongIssuer {
        /// The CRL's issuer name.
        crl_issuer: String,
        /// The issuer certificate's subject.
        expected: String,
    },
    /// The CRL's authorityKeyIdentifier is not the issuer's subjectKeyIdentifier.
    #[error("CRL authorityKeyIdentifier {crl} is not the issuer's subjectKeyIdentifier {issuer}")]
    AuthorityKeyIdMismatch {
        /// The CRL's key identifier, hex.
        crl: String,
        /// The issuer's, hex.
        issuer: String,
    },
    /// The signature algorithm is not supported, or does not fit the issuer's key.
    #[error("unsupported signature algorithm {algorithm} for a {key} issuer key")]
    UnsupportedSignatureAlgorithm {
        /// The algorithm OID.
        algorithm: String,
        /// The issuer key type (and curve).
        key: String,
    },
    /// The TBS and outer signature algorithms differ.
    #[error("tbsCertList signature algorithm differs from the outer signatureAlgorithm")]
    SignatureAlgorithmMismatch,
    /// The signature does not verify under the issuer's key.
    #[error("CRL signature does not verify under the issuer's key")]
    BadSignature,
    /// A critical extension this parser does not know.
    #[error("unrecognised critical CRL extension {0}")]
    UnknownCriticalExtension(String),
    /// An indirect CRL (not allowed by BR 7.2.2.1).
    #[error("indirect CRLs are not supported (BR 7.2.2.1 forbids them)")]
    IndirectCrl,
    /// The CRL number is lower than one already seen at this URL.
    #[error("CRL number at {url} went backwards from {previous} to {found}")]
    CrlNumberWentBackwards {
        /// The CRL URL.
        url: String,
        /// The highest number seen before (decimal).
        previous: String,
        /// The number now (decimal).
        found: String,
    },
    /// The same CRL number was reused for a CRL with a different thisUpdate.
    #[error("CRL number {number} at {url} was reused with a different thisUpdate")]
    CrlNumberRepeated {
        /// The CRL URL.
        url: String,
        /// The number (decimal).
        number: String,
    },
}

/// The issuer a CRL is checked against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuerKey {
    /// The issuer's subject name, DER.
    pub subject_der: Vec<u8>,
    /// The issuer's SubjectPublicKeyInfo, DER.
    pub spki_der: Vec<u8>,
    /// The issuer's subjectKeyIdentifier, if it has one.
    pub subject_key_id: Option<Vec<u8>>,
}

impl IssuerKey {
    /// Read the subject, SPKI and subjectKeyIdentifier of a DER issuer certificate.
    pub fn from_cert_der(der: &[u8]) -> Result<Self, CrlError> {
        let (_, cert) = X509Certificate::from_der(der).map_err(|e| CrlError::BadIssuerCertificate(e.to_string()))?;
        let subject_key_id = cert.iter_extensions().find_map(|ext| match ext.parsed_extension() {
            ParsedExtension::SubjectKeyIdentifier(kid) => Some(kid.0.to_vec()),
            _ => None,
        });
        Ok(IssuerKey {
            subject_der: cert.subject().as_raw().to_vec(),
            spki_der: cert.public_key().raw.to_vec(),
            subject_key_id,
        })
    }

    /// SHA-256 of the issuer's SPKI.
    pub fn spki_sha256(&self) -> Hash {
        ctwatch_ct::sha256(&self.spki_der)
    }
}

/// One revoked certificate.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RevokedEntry {
    /// The serial as DER INTEGER content bytes.
    #[serde(with = "crate::hexser::bytes")]
    pub serial: Vec<u8>,
    /// revocationDate (Unix seconds).
    pub revoked_at: i64,
    /// reasonCode, if present.
    pub reason: Option<u8>,
    /// invalidityDate (Unix seconds), if present.
    pub invalidity_date: Option<i64>,
}

/// The Issuing Distribution Point extension of a (partitioned) CRL.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct IssuingDistributionPoint {
    /// URIs of the distributionPoint fullName.
    pub uris: Vec<String>,
    /// onlyContainsUserCerts.
    pub only_user_certs: bool,
    /// onlyContainsCACerts.
    pub only_ca_certs: bool,
    /// onlySomeReasons is present.
    pub only_some_reasons: bool,
}

/// A CRL that passed every check of [`parse_crl`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ParsedCrl {
    /// SHA-256 of the SPKI whose key verified the signature.
    #[serde(with = "crate::hexser::hash")]
    pub issuer_spki_sha256: Hash,
    /// The issuer name, RFC 4514 as x509-parser formats it.
    pub issuer: String,
    /// The CRL number as a big-endian magnitude (`None` if absent, which BR 7.2.2 forbids).
    #[serde(with = "crate::hexser::opt_bytes", default)]
    pub number: Option<Vec<u8>>,
    /// thisUpdate (Unix seconds).
    pub this_update: i64,
    /// nextUpdate (Unix seconds).
    pub next_update: Option<i64>,
    /// The Issuing Distribution Point, for partitioned CRLs.
    pub idp: Option<IssuingDistributionPoint>,
    /// Whether this is a delta CRL (deltaCRLIndicator present).
    pub is_delta: bool,
    /// The entries, in CRL order.
    pub entries: Vec<RevokedEntry>,
}

impl ParsedCrl {
    /// Whether the CRL is past its nextUpdate at `now`.
    pub fn is_stale(&self, now: i64) -> bool {
        self.next_update.is_some_and(|n| now > n)
    }

    /// The entries with reasonCode keyCompromise (1): the CRL's contribution to the
    /// compromised-key set.
    pub fn key_compromise_entries(&self) -> impl Iterator<Item = &RevokedEntry> {
        self.entries.iter().filter(|e| e.reason == Some(1))
    }

    /// The CRL number in decimal, or `none`.
    pub fn number_string(&self) -> String {
        self.number.as_deref().map(|n| BigUint::from_bytes_be(n).to_string()).unwrap_or_else(|| "none".to_owned())
    }
}

const OID_CRL_NUMBER: &str = "2.5.29.20";
const OID_DELTA_CRL: &str = "2.5.29.27";
const OID_IDP: &str = "2.5.29.28";
const OID_AKI: &str = "2.5.29.35";
const OID_ISSUER_ALT_NAME: &str = "2.5.29.18";
const OID_FRESHEST_CRL: &str = "2.5.29.46";
const OID_REASON_CODE: &str = "2.5.29.21";
const OID_INVALIDITY_DATE: &str = "2.5.29.24";

/// Parse `der` as a CRL issued by `issuer` and check it (see the module documentation).
pub fn parse_crl(der: &[u8], issuer: &IssuerKey, limits: &CrlLimits) -> Result<ParsedCrl, CrlError> {
    if der.len() > limits.max_bytes {
        return Err(CrlError::TooLarge { size: der.len(), limit: limits.max_bytes });
    }
    check_framing(der)?;
    let (rest, crl) = CertificateRevocationList::from_der(der).map_err(|e| CrlError::Malformed(e.to_string()))?;
    if !rest.is_empty() {
        return Err(CrlError::Malformed(format!("{} bytes after the CRL", rest.len())));
    }
    let count = crl.tbs_cert_list.revoked_certificates.len();
    if count > limits.max_entries {
        return Err(CrlError::TooManyEntries { count, limit: limits.max_entries });
    }
    if crl.tbs_cert_list.issuer.as_raw() != issuer.subject_der.as_slice() {
        let expected = x509_parser::x509::X509Name::from_der(&issuer.subject_der)
            .map(|(_, n)| n.to_string())
            .unwrap_or_else(|_| hex::encode(&issuer.subject_der));
        return Err(CrlError::WrongIssuer { crl_issuer: crl.tbs_cert_list.issuer.to_string(), expected });
    }
    let mut aki = None;
    let mut number = None;
    let mut idp = None;
    let mut is_delta = false;
    for ext in crl.tbs_cert_list.extensions() {
        match ext.oid.to_id_string().as_str() {
            OID_CRL_NUMBER => match ext.parsed_extension() {
                ParsedExtension::CRLNumber(n) => number = Some(n.to_bytes_be()),
                _ => return Err(CrlError::Malformed("unreadable cRLNumber".to_owned())),
            },
            OID_DELTA_CRL => is_delta = true,
            OID_AKI => {
                if let ParsedExtension::AuthorityKeyIdentifier(a) = ext.parsed_extension() {
                    aki = a.key_identifier.as_ref().map(|k| k.0.to_vec());
                }
            }
            OID_IDP => match ext.parsed_extension() {
                ParsedExtension::IssuingDistributionPoint(p) => {
                    if p.indirect_crl {
                        return Err(CrlError::IndirectCrl);
                    }
                    let mut uris = Vec::new();
                    if let Some(DistributionPointName::FullName(names)) = &p.distribution_point {
                        for name in names {
                            if let GeneralName::URI(uri) = name {
                                uris.push((*uri).to_owned());
                            }
                        }
                    }
                    idp = Some(IssuingDistributionPoint {
                        uris,
                        only_user_certs: p.only_contains_user_certs,
                        only_ca_certs: p.only_contains_ca_certs,
                        only_some_reasons: p.only_some_reasons.is_some(),
                    });
                }
                _ => return Err(CrlError::Malformed("unreadable issuingDistributionPoint".to_owned())),
            },
            OID_ISSUER_ALT_NAME | OID_FRESHEST_CRL => {}
            other if ext.critical => return Err(CrlError::UnknownCriticalExtension(other.to_owned())),
            _ => {}
        }
    }
    if let (Some(crl_kid), Some(issuer_kid)) = (&aki, &issuer.subject_key_id)
        && crl_kid != issuer_kid
    {
        return Err(CrlError::AuthorityKeyIdMismatch { crl: hex::encode(crl_kid), issuer: hex::encode(issuer_kid) });
    }
    verify_signature(&crl, &issuer.spki_der)?;
    let mut entries = Vec::with_capacity(count);
    for entry in crl.iter_revoked_certificates() {
        for ext in entry.extensions() {
            let oid = ext.oid.to_id_string();
            if ext.critical && oid != OID_REASON_CODE && oid != OID_INVALIDITY_DATE {
                return Err(CrlError::UnknownCriticalExtension(oid));
            }
        }
        entries.push(RevokedEntry {
            serial: entry.raw_serial().to_vec(),
            revoked_at: entry.revocation_date.timestamp(),
            reason: entry.reason_code().map(|(_, r)| r.0),
            invalidity_date: entry.invalidity_date().map(|(_, t)| t.timestamp()),
        });
    }
    Ok(ParsedCrl {
        issuer_spki_sha256: issuer.spki_sha256(),
        issuer: crl.tbs_cert_list.issuer.to_string(),
        number,
        this_update: crl.tbs_cert_list.this_update.timestamp(),
        next_update: crl.tbs_cert_list.next_update.map(|t| t.timestamp()),
        idp,
        is_delta,
        entries,
    })
}

/// Strict DER framing of `CertificateList ::= SEQUENCE { tbsCertList SEQUENCE,
/// signatureAlgorithm SEQUENCE, signatureValue BIT STRING }` with nothing after it. x509-parser
/// is lenient about the encoding of the (unsigned) outer signatureAlgorithm; this requires it
/// to be byte-for-byte the signed one.
fn check_framing(der: &[u8]) -> Result<(), CrlError> {
    use ctwatch_cert::der as d;
    let malformed = |e: d::DerError| CrlError::Malformed(e.to_string());
    let (outer, rest) = d::read_tlv(der).map_err(malformed)?;
    if outer.tag != d::TAG_SEQUENCE {
        return Err(malformed(d::DerError::UnexpectedTag { expected: d::TAG_SEQUENCE, found: outer.tag }));
    }
    if !rest.is_empty() {
        return Err(CrlError::Malformed(format!("{} bytes after the CRL", rest.len())));
    }
    let mut r = d::Reader::new(outer.content);
    let tbs = r.read(d::TAG_SEQUENCE).map_err(malformed)?;
    let outer_alg = r.read(d::TAG_SEQUENCE).map_err(malformed)?;
    r.read(d::TAG_BIT_STRING).map_err(malformed)?;
    r.finish().map_err(malformed)?;
    let mut t = d::Reader::new(tbs.content);
    t.read_optional(d::TAG_INTEGER).map_err(malformed)?;
    let inner_alg = t.read(d::TAG_SEQUENCE).map_err(malformed)?;
    // RFC 5280 5.1.1.2: the two AlgorithmIdentifiers MUST be identical.
    if inner_alg.raw != outer_alg.raw {
        return Err(CrlError::SignatureAlgorithmMismatch);
    }
    Ok(())
}

/// Check the CRL's signature with ring.
fn verify_signature(crl: &CertificateRevocationList<'_>, issuer_spki: &[u8]) -> Result<(), CrlError> {
    use ring::signature as sig;

    if crl.tbs_cert_list.signature != crl.signature_algorithm {
        return Err(CrlError::SignatureAlgorithmMismatch);
    }
    let key = spki::parse_spki(issuer_spki).map_err(|e| CrlError::BadIssuerCertificate(e.to_string()))?;
    let algorithm_oid = crl.signature_algorithm.algorithm.to_id_string();
    let curve = match &key {
        spki::PublicKey::Ec { curve, .. } => curve.as_deref(),
        _ => None,
    };
    let (algorithm, key_bytes): (&'static dyn sig::VerificationAlgorithm, Vec<u8>) =
        match (algorithm_oid.as_str(), &key, curve) {
            ("1.2.840.113549.1.1.11", spki::PublicKey::Rsa { .. }, _) => {
                (&sig::RSA_PKCS1_2048_8192_SHA256, rsa_key(&key))
            }
            ("1.2.840.113549.1.1.12", spki::PublicKey::Rsa { .. }, _) => {
                (&sig::RSA_PKCS1_2048_8192_SHA384, rsa_key(&key))
            }
            ("1.2.840.113549.1.1.13", spki::PublicKey::Rsa { .. }, _) => {
                (&sig::RSA_PKCS1_2048_8192_SHA512, rsa_key(&key))
            }
            ("1.2.840.10045.4.3.2", spki::PublicKey::Ec { point, .. }, Some("1.2.840.10045.3.1.7")) => {
                (&sig::ECDSA_P256_SHA256_ASN1, point.clone())
            }
            ("1.2.840.10045.4.3.3", spki::PublicKey::Ec { point, .. }, Some("1.2.840.10045.3.1.7")) => {
                (&sig::ECDSA_P256_SHA384_ASN1, point.clone())
            }
            ("1.2.840.10045.4.3.2", spki::PublicKey::Ec { point, .. }, Some("1.3.132.0.34")) => {
                (&sig::ECDSA_P384_SHA256_ASN1, point.clone())
            }
            ("1.2.840.10045.4.3.3", spki::PublicKey::Ec { point, .. }, Some("1.3.132.0.34")) => {
                (&sig::ECDSA_P384_SHA384_ASN1, point.clone())
            }
            ("1.3.101.112", spki::PublicKey::Ed25519 { key }, _) => (&sig::ED25519, key.clone()),
            _ => {
                let key_name = match curve {
                    Some(c) => format!("{} ({c})", key.algorithm()),
                    None => key.algorithm().to_owned(),
                };
                return Err(CrlError::UnsupportedSignatureAlgorithm { algorithm: algorithm_oid, key: key_name });
            }
        };
    if crl.signature_value.unused_bits != 0 {
        return Err(CrlError::BadSignature);
    }
    sig::UnparsedPublicKey::new(algorithm, key_bytes)
        .verify(crl.tbs_cert_list.as_ref(), &crl.signature_value.data)
        .map_err(|_| CrlError::BadSignature)
}

/// The PKCS#1 RSAPublicKey ring wants for RSA verification.
fn rsa_key(key: &spki::PublicKey) -> Vec<u8> {
    match key {
        spki::PublicKey::Rsa { modulus, exponent } => {
            let mut numbers = Vec::new();
            spki::write_unsigned_integer(&mut numbers, modulus);
            spki::write_unsigned_integer(&mut numbers, exponent);
            let mut out = Vec::new();
            ctwatch_cert::der::write_tlv(&mut out, ctwatch_cert::der::TAG_SEQUENCE, &numbers);
            out
        }
        _ => Vec::new(),
    }
}

/// What ctwatch remembers of the CRLs fetched from one URL.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CrlHistory {
    /// The highest CRL number accepted (big-endian magnitude).
    #[serde(with = "crate::hexser::opt_bytes", default)]
    pub number: Option<Vec<u8>>,
    /// thisUpdate of that CRL.
    pub this_update: i64,
    /// When it was fetched.
    pub fetched_at: i64,
    /// The issuer key that verified it.
    #[serde(with = "crate::hexser::hash")]
    pub issuer_spki_sha256: Hash,
}

/// How a newly fetched CRL relates to the history of its URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrlProgress {
    /// The first CRL seen from this URL.
    First,
    /// A newer CRL (higher number, or newer thisUpdate when numbers are absent).
    Newer,
    /// The same CRL again (same number and thisUpdate).
    Unchanged,
}

/// CRL-number histories by URL; serializable so the monitor can persist it.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CrlState {
    /// The history of each URL.
    pub by_url: BTreeMap<String, CrlHistory>,
}

impl CrlState {
    /// An empty state.
    pub fn new() -> Self {
        Self::default()
    }

    /// Record a verified CRL fetched from `url` at `fetched_at`. A CRL whose number went
    /// backwards, or whose number repeats with a different thisUpdate, is an error and leaves
    /// the state unchanged; when a number is missing, thisUpdate alone must not go backwards.
    pub fn observe(&mut self, url: &str, crl: &ParsedCrl, fetched_at: i64) -> Result<CrlProgress, CrlError> {
        let record = CrlHistory {
            number: crl.number.clone(),
            this_update: crl.this_update,
            fetched_at,
            issuer_spki_sha256: crl.issuer_spki_sha256,
        };
        let Some(previous) = self.by_url.get(url) else {
            self.by_url.insert(url.to_owned(), record);
            return Ok(CrlProgress::First);
        };
        let decimal =
            |n: Option<&[u8]>| n.map(|b| BigUint::from_bytes_be(b).to_string()).unwrap_or_else(|| "none".into());
        let progress = match (previous.number.as_deref(), crl.number.as_deref()) {
            (Some(old), Some(new)) => {
                let (old_n, new_n) = (BigUint::from_bytes_be(old), BigUint::from_bytes_be(new));
                if new_n < old_n {
                    return Err(CrlError::CrlNumberWentBackwards {
                        url: url.to_owned(),
                        previous: old_n.to_string(),
                        found: new_n.to_string(),
                    });
                }
                if new_n == old_n {
                    if crl.this_update != previous.this_update {
                        return Err(CrlError::CrlNumberRepeated { url: url.to_owned(), number: new_n.to_string() });
                    }
                    CrlProgress::Unchanged
                } else {
                    CrlProgress::Newer
                }
            }
            (old, new) => {
                if crl.this_update < previous.this_update {
                    return Err(CrlError::CrlNumberWentBackwards {
                        url: url.to_owned(),
                        previous: format!("{} (thisUpdate {})", decimal(old), previous.this_update),
                        found: format!("{} (thisUpdate {})", decimal(new), crl.this_update),
                    });
                }
                if crl.this_update == previous.this_update { CrlProgress::Unchanged } else { CrlProgress::Newer }
            }
        };
        if progress == CrlProgress::Newer {
            self.by_url.insert(url.to_owned(), record);
        }
        Ok(progress)
    }
}

#[cfg(test)]
mod tests;

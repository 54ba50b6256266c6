//! Test certificate authorities and the leaf certificates they issue.
//!
//! A [`CertFactory`] is one CA: a self-signed root and an intermediate that issues leaves, both
//! ECDSA P-256. It issues plain certificates ([`CertFactory::x509`]), precertificates carrying
//! the critical CT poison ([`CertFactory::precert`]) and the matching final certificates
//! ([`CertFactory::final_cert`]), built from the precertificate's own TBS bytes with the poison
//! swapped for an SCT list, so that the two TBSs without their CT extension are byte-identical
//! (RFC 6962 §3.1).
//!
//! Leaves reuse one subscriber key by default: ECDSA key generation costs far more than signing,
//! and a benchmark needs hundreds of thousands of certificates.

use std::sync::Arc;

use ctwatch_ct::{Hash, sha256};
use rcgen::{
    BasicConstraints, CertificateParams, CrlDistributionPoint, CustomExtension, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, PublicKeyData, SanType, SerialNumber, SigningKey,
};

use crate::der;

/// OID arcs of the CT poison extension (RFC 6962 §3.1).
pub const POISON_OID: &[u64] = &[1, 3, 6, 1, 4, 1, 11129, 2, 4, 3];
/// OID arcs of the embedded SCT list extension (RFC 6962 §3.3).
pub const SCT_LIST_OID: &[u64] = &[1, 3, 6, 1, 4, 1, 11129, 2, 4, 2];
const BASIC_CONSTRAINTS_OID: &[u64] = &[2, 5, 29, 19];
const SUBJECT_KEY_IDENTIFIER_OID: &[u64] = &[2, 5, 29, 14];
const CERTIFICATE_POLICIES_OID: &[u64] = &[2, 5, 29, 32];
const AUTHORITY_INFO_ACCESS_OID: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 1, 1];
const CPS_QUALIFIER_OID: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 2, 1];
const OCSP_ACCESS_OID: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 48, 1];
const CA_ISSUERS_ACCESS_OID: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 48, 2];
const BUSINESS_CATEGORY_OID: &[u64] = &[2, 5, 4, 15];
const SUBJECT_SERIAL_NUMBER_OID: &[u64] = &[2, 5, 4, 5];

/// Certificate generation failed.
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    /// rcgen refused the parameters or failed to sign.
    #[error("certificate generation failed: {0}")]
    Rcgen(#[from] rcgen::Error),
    /// A certificate given to us (or produced by rcgen) did not have the DER shape expected.
    #[error(transparent)]
    Der(#[from] der::DerError),
    /// The [`LeafSpec`] cannot be turned into a certificate.
    #[error("invalid leaf specification: {0}")]
    InvalidSpec(String),
}

/// A subscriber (leaf) key pair, ECDSA P-256. Cheap to clone: clones share the key.
#[derive(Debug, Clone)]
pub struct SubscriberKey(Arc<KeyPair>);

impl SubscriberKey {
    /// Generate a fresh ECDSA P-256 key (slow compared to issuing: reuse keys).
    pub fn generate() -> Result<Self, CertError> {
        Ok(Self(Arc::new(KeyPair::generate()?)))
    }

    /// Load a key from PKCS#8 DER (for example one saved by [`SubscriberKey::pkcs8_der`]).
    pub fn from_pkcs8_der(pkcs8: &[u8]) -> Result<Self, CertError> {
        Ok(Self(Arc::new(KeyPair::try_from(pkcs8)?)))
    }

    /// The private key as PKCS#8 DER.
    pub fn pkcs8_der(&self) -> Vec<u8> {
        self.0.serialize_der()
    }

    /// The public key as DER SubjectPublicKeyInfo, as it appears in certificates.
    pub fn spki_der(&self) -> Vec<u8> {
        self.0.subject_public_key_info()
    }

    /// SHA-256 of [`SubscriberKey::spki_der`]: the key fingerprint compromised-key lists use.
    pub fn spki_sha256(&self) -> Hash {
        sha256(&self.spki_der())
    }
}

/// How the leaf's serial number is chosen.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Serial {
    /// 16 random bytes (top bit cleared so the INTEGER stays positive), as CAs do.
    #[default]
    Random,
    /// This number.
    Number(u64),
    /// These big-endian bytes (the high bit should be clear for a positive serial).
    Bytes(Vec<u8>),
}

/// The validation level, expressed as the CA/Browser Forum policy OID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ValidationLevel {
    /// Domain validated, 2.23.140.1.2.1.
    #[default]
    Dv,
    /// Organization validated, 2.23.140.1.2.2 (the subject gets O and C).
    Ov,
    /// Individual validated, 2.23.140.1.2.3.
    Iv,
    /// Extended validation, 2.23.140.1.1 (the subject gets O, C, businessCategory, serialNumber).
    Ev,
}

impl ValidationLevel {
    /// The policy OID arcs.
    pub fn policy_oid(self) -> &'static [u64] {
        match self {
            ValidationLevel::Dv => &[2, 23, 140, 1, 2, 1],
            ValidationLevel::Ov => &[2, 23, 140, 1, 2, 2],
            ValidationLevel::Iv => &[2, 23, 140, 1, 2, 3],
            ValidationLevel::Ev => &[2, 23, 140, 1, 1],
        }
    }
}

/// How (and whether) a leaf carries basicConstraints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BasicConstraintsMode {
    /// `cA FALSE`, marked critical, as the Baseline Requirements want.
    #[default]
    Critical,
    /// `cA FALSE`, not marked critical (the CFCA 2024 incident).
    NonCritical,
    /// No basicConstraints extension at all.
    Absent,
}

/// What to put in one leaf certificate. Build with [`LeafSpec::new`] and adjust the fields.
#[derive(Debug, Clone)]
pub struct LeafSpec {
    /// DNS names for the SAN; the first is also the subject CN. Must not be empty.
    pub dns_names: Vec<String>,
    /// notBefore, Unix seconds.
    pub not_before: i64,
    /// notAfter, Unix seconds.
    pub not_after: i64,
    /// The serial number.
    pub serial: Serial,
    /// The subscriber key; `None` uses the factory's shared default key.
    pub key: Option<SubscriberKey>,
    /// The CA/B Forum policy OID in certificatePolicies.
    pub validation: ValidationLevel,
    /// basicConstraints presence and criticality.
    pub basic_constraints: BasicConstraintsMode,
    /// A CPS qualifier on the policy, written verbatim as an IA5String (it may lack a scheme, as
    /// in the Hongkong Post 2024 incident). Must be ASCII.
    pub cps_uri: Option<String>,
    /// A CRL distribution point URL.
    pub crl_url: Option<String>,
    /// An AIA OCSP URL.
    pub ocsp_url: Option<String>,
    /// An AIA caIssuers URL.
    pub ca_issuers_url: Option<String>,
}

impl LeafSpec {
    /// A DV leaf for `dns_names`, valid from one hour ago for 90 days, random serial, default
    /// key, critical basicConstraints, no CPS/CRL/AIA URLs.
    pub fn new<S: Into<String>>(dns_names: impl IntoIterator<Item = S>) -> Self {
        let now = unix_now();
        LeafSpec {
            dns_names: dns_names.into_iter().map(Into::into).collect(),
            not_before: now - 3600,
            not_after: now - 3600 + 90 * 86_400,
            serial: Serial::Random,
            key: None,
            validation: ValidationLevel::Dv,
            basic_constraints: BasicConstraintsMode::Critical,
            cps_uri: None,
            crl_url: None,
            ocsp_url: None,
            ca_issuers_url: None,
        }
    }
}

/// A precertificate, with what its log entry needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Precert {
    /// The precertificate DER (with the critical poison extension), signed by the issuer.
    pub der: Vec<u8>,
    /// Its TBSCertificate with the poison removed: the `tbs_certificate` of the log entry and of
    /// the SCT signature input.
    pub leaf_tbs: Vec<u8>,
    /// SHA-256 of the issuer's SubjectPublicKeyInfo.
    pub issuer_key_hash: Hash,
}

/// One CA certificate with its key and the parameters rcgen needs to issue under it.
#[derive(Debug)]
struct CaCert {
    params: CertificateParams,
    key: KeyPair,
    der: Vec<u8>,
}

/// A test CA (root + issuing intermediate, ECDSA P-256) with a default subscriber key.
///
/// `CertFactory` is `Send + Sync`: benchmarks may issue from several threads at once.
#[derive(Debug)]
pub struct CertFactory {
    name: String,
    root: CaCert,
    issuer: CaCert,
    issuer_spki_der: Vec<u8>,
    issuer_key_hash: Hash,
    /// SHA-256 of the issuer and root certificates.
    chain_fingerprints: [Hash; 2],
    default_key: SubscriberKey,
}

impl CertFactory {
    /// Create a CA named `name`: root "`name` Root CA" and issuer "`name` Issuing CA"
    /// (O = `name`), valid from 2020 to 2040, plus a fresh default subscriber key.
    pub fn new(name: &str) -> Result<Self, CertError> {
        let root_key = KeyPair::generate()?;
        let root_params = ca_params(name, &format!("{name} Root CA"), None)?;
        let root_der = root_params.self_signed(&root_key)?.der().to_vec();
        let root_issuer = Issuer::from_params(&root_params, &root_key);

        let issuer_key = KeyPair::generate()?;
        let issuer_params = ca_params(name, &format!("{name} Issuing CA"), Some(0))?;
        let issuer_der = issuer_params.signed_by(&issuer_key, &root_issuer)?.der().to_vec();
        let issuer_spki_der = issuer_key.subject_public_key_info();
        let issuer_key_hash = sha256(&issuer_spki_der);
        Ok(CertFactory {
            name: name.to_owned(),
            chain_fingerprints: [sha256(&issuer_der), sha256(&root_der)],
            root: CaCert { params: root_params, key: root_key, der: root_der },
            issuer: CaCert { params: issuer_params, key: issuer_key, der: issuer_der },
            issuer_spki_der,
            issuer_key_hash,
            default_key: SubscriberKey::generate()?,
        })
    }

    /// The name given to [`CertFactory::new`].
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The self-signed root certificate, DER.
    pub fn root_der(&self) -> &[u8] {
        &self.root.der
    }

    /// The issuing intermediate certificate, DER.
    pub fn issuer_der(&self) -> &[u8] {
        &self.issuer.der
    }

    /// The issuing intermediate's SubjectPublicKeyInfo, DER.
    pub fn issuer_spki_der(&self) -> &[u8] {
        &self.issuer_spki_der
    }

    /// SHA-256 of the issuer's SPKI: the `issuer_key_hash` of precert entries.
    pub fn issuer_key_hash(&self) -> Hash {
        self.issuer_key_hash
    }

    /// The chain a leaf is logged with: issuer first, then the root.
    pub fn chain(&self) -> Vec<Vec<u8>> {
        vec![self.issuer.der.clone(), self.root.der.clone()]
    }

    /// SHA-256 fingerprints of [`CertFactory::chain`]: what a static-ct-api TileLeaf lists.
    pub fn chain_fingerprints(&self) -> [Hash; 2] {
        self.chain_fingerprints
    }

    /// The chain with its fingerprints, borrowed.
    pub(crate) fn chain_with_fingerprints(&self) -> [(&[u8], Hash); 2] {
        [(&self.issuer.der, self.chain_fingerprints[0]), (&self.root.der, self.chain_fingerprints[1])]
    }

    /// The key leaves use when their spec names none.
    pub fn default_key(&self) -> &SubscriberKey {
        &self.default_key
    }

    /// Issue a plain certificate (no poison, no SCTs) for x509_entry logging.
    pub fn x509(&self, spec: &LeafSpec) -> Result<Vec<u8>, CertError> {
        self.issue(spec, &[])
    }

    /// Issue a precertificate: `spec`'s leaf with the critical poison extension (value ASN.1
    /// NULL) as its last extension.
    pub fn precert(&self, spec: &LeafSpec) -> Result<Precert, CertError> {
        let mut poison = CustomExtension::from_oid_content(POISON_OID, vec![0x05, 0x00]);
        poison.set_criticality(true);
        let der = self.issue(spec, &[poison])?;
        let parts = der::certificate_parts(&der)?;
        let leaf_tbs = der::replace_extension(parts.tbs, &der::oid_content(POISON_OID), None)?;
        Ok(Precert { der, leaf_tbs, issuer_key_hash: self.issuer_key_hash })
    }

    /// Issue the final certificate of `precert` (which this factory issued): the precert's TBS
    /// with the poison replaced, in place, by a non-critical SCT-list extension holding
    /// `sct_list` (a TLS `SignedCertificateTimestampList`, see [`encode_sct_list`]), signed again
    /// by the issuer. Serial, validity, key, names and extension order are the precert's.
    pub fn final_cert(&self, precert: &Precert, sct_list: &[u8]) -> Result<Vec<u8>, CertError> {
        let parts = der::certificate_parts(&precert.der)?;
        let sct_extension = der::extension(SCT_LIST_OID, false, &der::tlv(der::OCTET_STRING, sct_list));
        let tbs = der::replace_extension(parts.tbs, &der::oid_content(POISON_OID), Some(&sct_extension))?;
        let signature = self.issuer.key.sign(&tbs)?;
        Ok(der::assemble_certificate(&tbs, parts.signature_algorithm, &signature))
    }

    fn issue(&self, spec: &LeafSpec, trailing: &[CustomExtension]) -> Result<Vec<u8>, CertError> {
        let key = spec.key.as_ref().unwrap_or(&self.default_key);
        let params = leaf_params(spec, &key.0, trailing)?;
        let issuer = Issuer::from_params(&self.issuer.params, &self.issuer.key);
        Ok(params.signed_by(key.0.as_ref(), &issuer)?.der().to_vec())
    }
}

/// One revoked certificate for [`CertFactory::crl`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrlEntry {
    /// The certificate's serial as DER INTEGER content bytes (`CertFacts::serial`).
    pub serial: Vec<u8>,
    /// revocationDate, Unix seconds.
    pub revoked_at: i64,
    /// CRLReason code (1 = keyCompromise, 4 = superseded, ...), if any.
    pub reason: Option<u8>,
}

impl CertFactory {
    /// A CRL of the issuing CA, signed by it: number, thisUpdate/nextUpdate (Unix seconds) and
    /// the revoked certificates.
    pub fn crl(
        &self,
        number: u64,
        this_update: i64,
        next_update: i64,
        entries: &[CrlEntry],
    ) -> Result<Vec<u8>, CertError> {
        use rcgen::{CertificateRevocationListParams, KeyIdMethod, RevocationReason, RevokedCertParams, SerialNumber};
        let time = |t: i64| {
            time::OffsetDateTime::from_unix_timestamp(t).map_err(|e| CertError::InvalidSpec(format!("time {t}: {e}")))
        };
        let reason = |code: u8| match code {
            0 => Some(RevocationReason::Unspecified),
            1 => Some(RevocationReason::KeyCompromise),
            2 => Some(RevocationReason::CaCompromise),
            3 => Some(RevocationReason::AffiliationChanged),
            4 => Some(RevocationReason::Superseded),
            5 => Some(RevocationReason::CessationOfOperation),
            6 => Some(RevocationReason::CertificateHold),
            9 => Some(RevocationReason::PrivilegeWithdrawn),
            _ => None,
        };
        let mut revoked = Vec::with_capacity(entries.len());
        for e in entries {
            revoked.push(RevokedCertParams {
                serial_number: SerialNumber::from_slice(&e.serial),
                revocation_time: time(e.revoked_at)?,
                reason_code: e.reason.and_then(reason),
                invalidity_date: None,
            });
        }
        let params = CertificateRevocationListParams {
            this_update: time(this_update)?,
            next_update: time(next_update)?,
            crl_number: SerialNumber::from(number),
            issuing_distribution_point: None,
            revoked_certs: revoked,
            key_identifier_method: KeyIdMethod::Sha256,
        };
        let issuer = Issuer::from_params(&self.issuer.params, &self.issuer.key);
        Ok(params.signed_by(&issuer)?.der().to_vec())
    }
}

/// Encode a TLS `SignedCertificateTimestampList` from serialized SCTs (RFC 6962 §3.3): a u16
/// total length, then each SCT with a u16 length.
pub fn encode_sct_list(scts: &[Vec<u8>]) -> Vec<u8> {
    let mut body = Vec::new();
    for sct in scts {
        body.extend_from_slice(&(sct.len() as u16).to_be_bytes());
        body.extend_from_slice(sct);
    }
    let mut out = Vec::with_capacity(body.len() + 2);
    out.extend_from_slice(&(body.len() as u16).to_be_bytes());
    out.extend_from_slice(&body);
    out
}

fn ca_params(org: &str, common_name: &str, path_len: Option<u8>) -> Result<CertificateParams, CertError> {
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CountryName, "US");
    dn.push(DnType::OrganizationName, org);
    dn.push(DnType::CommonName, common_name);
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(match path_len {
        Some(len) => BasicConstraints::Constrained(len),
        None => BasicConstraints::Unconstrained,
    });
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    params.use_authority_key_identifier_extension = path_len.is_some();
    params.not_before = rcgen::date_time_ymd(2020, 1, 1);
    params.not_after = rcgen::date_time_ymd(2040, 1, 1);
    params.serial_number = Some(SerialNumber::from(random_serial()));
    Ok(params)
}

fn leaf_params(spec: &LeafSpec, key: &KeyPair, trailing: &[CustomExtension]) -> Result<CertificateParams, CertError> {
    let first =
        spec.dns_names.first().ok_or_else(|| CertError::InvalidSpec("a leaf needs at least one DNS name".into()))?;
    let mut params = CertificateParams::default();
    params.subject_alt_names = spec
        .dns_names
        .iter()
        .map(|name| Ok(SanType::DnsName(name.as_str().try_into()?)))
        .collect::<Result<Vec<_>, rcgen::Error>>()?;
    let mut dn = DistinguishedName::new();
    if spec.validation != ValidationLevel::Dv {
        dn.push(DnType::CountryName, "US");
        dn.push(DnType::OrganizationName, "Test Subscriber Inc.");
    }
    if spec.validation == ValidationLevel::Ev {
        dn.push(DnType::CustomDnType(BUSINESS_CATEGORY_OID.to_vec()), "Private Organization");
        dn.push(DnType::CustomDnType(SUBJECT_SERIAL_NUMBER_OID.to_vec()), "1234567");
    }
    dn.push(DnType::CommonName, first.as_str());
    params.distinguished_name = dn;
    params.not_before = unix_to_datetime(spec.not_before)?;
    params.not_after = unix_to_datetime(spec.not_after)?;
    params.serial_number = Some(match &spec.serial {
        Serial::Random => SerialNumber::from(random_serial()),
        Serial::Number(n) => SerialNumber::from(*n),
        Serial::Bytes(bytes) => SerialNumber::from_slice(bytes),
    });
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth, ExtendedKeyUsagePurpose::ClientAuth];
    params.use_authority_key_identifier_extension = true;
    if let Some(url) = &spec.crl_url {
        params.crl_distribution_points = vec![CrlDistributionPoint { uris: vec![url.clone()] }];
    }

    let mut custom = Vec::new();
    match spec.basic_constraints {
        // rcgen writes the subject key identifier and a critical, empty basicConstraints.
        BasicConstraintsMode::Critical => params.is_ca = IsCa::ExplicitNoCa,
        BasicConstraintsMode::NonCritical | BasicConstraintsMode::Absent => {
            params.is_ca = IsCa::NoCa;
            let ski = der::tlv(der::OCTET_STRING, &params.key_identifier(key));
            custom.push(CustomExtension::from_oid_content(SUBJECT_KEY_IDENTIFIER_OID, ski));
            if spec.basic_constraints == BasicConstraintsMode::NonCritical {
                custom.push(CustomExtension::from_oid_content(BASIC_CONSTRAINTS_OID, der::tlv(der::SEQUENCE, &[])));
            }
        }
    }
    custom.push(CustomExtension::from_oid_content(
        CERTIFICATE_POLICIES_OID,
        certificate_policies(spec.validation, spec.cps_uri.as_deref())?,
    ));
    if spec.ocsp_url.is_some() || spec.ca_issuers_url.is_some() {
        custom.push(CustomExtension::from_oid_content(
            AUTHORITY_INFO_ACCESS_OID,
            authority_info_access(spec.ocsp_url.as_deref(), spec.ca_issuers_url.as_deref())?,
        ));
    }
    custom.extend_from_slice(trailing);
    params.custom_extensions = custom;
    Ok(params)
}

/// `certificatePolicies` with the CA/B policy, carrying a CPS qualifier when given.
fn certificate_policies(level: ValidationLevel, cps_uri: Option<&str>) -> Result<Vec<u8>, CertError> {
    let mut info = der::oid(level.policy_oid());
    if let Some(uri) = cps_uri {
        let mut qualifier = der::oid(CPS_QUALIFIER_OID);
        qualifier.extend_from_slice(&der::tlv(der::IA5_STRING, ascii(uri, "CPS URI")?));
        info.extend_from_slice(&der::tlv(der::SEQUENCE, &der::tlv(der::SEQUENCE, &qualifier)));
    }
    Ok(der::tlv(der::SEQUENCE, &der::tlv(der::SEQUENCE, &info)))
}

/// `authorityInfoAccess` with OCSP and/or caIssuers URIs (GeneralName `[6]`).
fn authority_info_access(ocsp: Option<&str>, ca_issuers: Option<&str>) -> Result<Vec<u8>, CertError> {
    let mut descriptions = Vec::new();
    for (method, uri) in [(OCSP_ACCESS_OID, ocsp), (CA_ISSUERS_ACCESS_OID, ca_issuers)] {
        if let Some(uri) = uri {
            let mut description = der::oid(method);
            description.extend_from_slice(&der::tlv(0x86, ascii(uri, "AIA URI")?));
            descriptions.extend_from_slice(&der::tlv(der::SEQUENCE, &description));
        }
    }
    Ok(der::tlv(der::SEQUENCE, &descriptions))
}

fn ascii<'a>(text: &'a str, what: &str) -> Result<&'a [u8], CertError> {
    if text.is_ascii() {
        Ok(text.as_bytes())
    } else {
        Err(CertError::InvalidSpec(format!("{what} {text:?} is not ASCII")))
    }
}

fn unix_to_datetime(secs: i64) -> Result<time::OffsetDateTime, CertError> {
    time::OffsetDateTime::from_unix_timestamp(secs)
        .map_err(|e| CertError::InvalidSpec(format!("time {secs} is out of range: {e}")))
}

/// 16 random bytes with the top bit cleared (a positive INTEGER) and a non-zero first byte (so
/// DER keeps all 16 bytes).
fn random_serial() -> Vec<u8> {
    let mut bytes: [u8; 16] = rand::random();
    bytes[0] = (bytes[0] & 0x7f) | 0x01;
    bytes.to_vec()
}

/// The current time, Unix seconds.
pub(crate) fn unix_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use x509_parser::prelude::{FromDer, X509Certificate};

    const POISON: &str = "1.3.6.1.4.1.11129.2.4.3";
    const SCT_LIST: &str = "1.3.6.1.4.1.11129.2.4.2";

    fn parse(der: &[u8]) -> X509Certificate<'_> {
        let (rest, cert) = X509Certificate::from_der(der).expect("rcgen output parses");
        assert!(rest.is_empty());
        cert
    }

    fn verify_signed_by(cert_der: &[u8], issuer_der: &[u8]) {
        let cert = parse(cert_der);
        let issuer = parse(issuer_der);
        let key = ring::signature::UnparsedPublicKey::new(
            &ring::signature::ECDSA_P256_SHA256_ASN1,
            issuer.tbs_certificate.subject_pki.subject_public_key.data.as_ref(),
        );
        key.verify(cert.tbs_certificate.as_ref(), cert.signature_value.data.as_ref()).expect("signature verifies");
    }

    /// Extensions as (oid, critical, value), without the CT ones.
    fn other_extensions<'a>(cert: &'a X509Certificate<'_>) -> Vec<(String, bool, &'a [u8])> {
        cert.extensions()
            .iter()
            .map(|e| (e.oid.to_id_string(), e.critical, e.value))
            .filter(|(oid, _, _)| oid != POISON && oid != SCT_LIST)
            .collect()
    }

    #[test]
    fn precert_and_final_share_everything_but_the_ct_extension() {
        let factory = CertFactory::new("Test CA").unwrap();
        let spec =
            LeafSpec { crl_url: Some("http://crl.example/1.crl".into()), ..LeafSpec::new(["a.example", "b.example"]) };
        let precert = factory.precert(&spec).unwrap();
        let sct_list = encode_sct_list(&[vec![1, 2, 3], vec![4, 5]]);
        assert_eq!(sct_list, vec![0, 9, 0, 3, 1, 2, 3, 0, 2, 4, 5]);
        let final_der = factory.final_cert(&precert, &sct_list).unwrap();

        let pre = parse(&precert.der);
        let fin = parse(&final_der);
        let (p, f) = (&pre.tbs_certificate, &fin.tbs_certificate);
        assert_eq!(p.version, f.version);
        assert_eq!(p.raw_serial(), f.raw_serial());
        assert_eq!(p.signature, f.signature);
        assert_eq!(p.issuer.as_raw(), f.issuer.as_raw());
        assert_eq!(p.validity, f.validity);
        assert_eq!(p.subject.as_raw(), f.subject.as_raw());
        assert_eq!(p.subject_pki.raw, f.subject_pki.raw);
        assert_eq!(other_extensions(&pre), other_extensions(&fin));

        // The poison is the critical ASN.1 NULL, last; the SCT list takes its place.
        let last = p.extensions().last().unwrap();
        assert_eq!((last.oid.to_id_string().as_str(), last.critical, last.value), (POISON, true, &[5u8, 0][..]));
        let last = f.extensions().last().unwrap();
        assert_eq!(last.oid.to_id_string(), SCT_LIST);
        assert!(!last.critical);
        assert_eq!(last.value, der::tlv(der::OCTET_STRING, &sct_list).as_slice());
        assert!(f.extensions().iter().all(|e| e.oid.to_id_string() != POISON));

        // Byte for byte: both TBSs without their CT extension are the log entry's TBS.
        let final_tbs = der::certificate_parts(&final_der).unwrap().tbs;
        let stripped = der::replace_extension(final_tbs, &der::oid_content(SCT_LIST_OID), None).unwrap();
        assert_eq!(stripped, precert.leaf_tbs);
        assert_ne!(precert.leaf_tbs, der::certificate_parts(&precert.der).unwrap().tbs);

        verify_signed_by(&precert.der, factory.issuer_der());
        verify_signed_by(&final_der, factory.issuer_der());
        verify_signed_by(factory.issuer_der(), factory.root_der());
        verify_signed_by(factory.root_der(), factory.root_der());
        assert_eq!(precert.issuer_key_hash, sha256(parse(factory.issuer_der()).tbs_certificate.subject_pki.raw));
    }

    #[test]
    fn leaf_options_show_up_in_the_certificate() {
        let factory = CertFactory::new("Options CA").unwrap();
        let key = SubscriberKey::generate().unwrap();
        let spec = LeafSpec {
            not_before: 1_700_000_000,
            not_after: 1_700_000_000 + 30 * 86_400,
            serial: Serial::Number(0x1234),
            key: Some(key.clone()),
            validation: ValidationLevel::Ev,
            basic_constraints: BasicConstraintsMode::NonCritical,
            cps_uri: Some("www.ecert.gov.hk/cps".into()),
            crl_url: Some("http://crl.example/ca.crl".into()),
            ocsp_url: Some("http://ocsp.example".into()),
            ca_issuers_url: Some("http://ca.example/issuer.der".into()),
            ..LeafSpec::new(["ev.example"])
        };
        let der = factory.x509(&spec).unwrap();
        let cert = parse(&der);
        let tbs = &cert.tbs_certificate;
        assert_eq!(tbs.raw_serial(), &[0x12, 0x34]);
        assert_eq!(tbs.validity.not_before.timestamp(), 1_700_000_000);
        assert_eq!(tbs.validity.not_after.timestamp(), 1_700_000_000 + 30 * 86_400);
        assert_eq!(tbs.subject_pki.raw, key.spki_der().as_slice());
        assert_ne!(key.spki_sha256(), factory.default_key().spki_sha256());
        let bc = tbs.basic_constraints().unwrap().expect("basicConstraints present");
        assert!(!bc.critical);
        assert!(!bc.value.ca);
        assert!(cert.extensions().iter().all(|e| e.oid.to_id_string() != POISON && e.oid.to_id_string() != SCT_LIST));

        let find = |oid: &str| cert.extensions().iter().find(|e| e.oid.to_id_string() == oid).map(|e| e.value.to_vec());
        let policies = find("2.5.29.32").expect("certificatePolicies");
        let ev_oid = der::oid(&[2, 23, 140, 1, 1]);
        assert!(policies.windows(ev_oid.len()).any(|w| w == ev_oid));
        assert!(policies.windows(20).any(|w| w == b"www.ecert.gov.hk/cps"));
        assert!(find("2.5.29.31").expect("CRL DP").windows(25).any(|w| w == b"http://crl.example/ca.crl"));
        let aia = find("1.3.6.1.5.5.7.1.1").expect("AIA");
        assert!(aia.windows(19).any(|w| w == b"http://ocsp.example"));
        assert!(find("2.5.29.14").is_some(), "subject key identifier kept without basicConstraints by rcgen");
        assert!(cert.subject().iter_organization().next().is_some());

        let absent =
            factory.x509(&LeafSpec { basic_constraints: BasicConstraintsMode::Absent, ..spec.clone() }).unwrap();
        assert!(parse(&absent).tbs_certificate.basic_constraints().unwrap().is_none());
        let critical = factory.x509(&LeafSpec { basic_constraints: BasicConstraintsMode::Critical, ..spec }).unwrap();
        assert!(parse(&critical).tbs_certificate.basic_constraints().unwrap().unwrap().critical);
    }

    #[test]
    fn defaults_are_a_dv_leaf_with_the_shared_key_and_random_serials() {
        let factory = CertFactory::new("Default CA").unwrap();
        let a = factory.x509(&LeafSpec::new(["x.example"])).unwrap();
        let b = factory.x509(&LeafSpec::new(["x.example"])).unwrap();
        let (a, b) = (parse(&a), parse(&b));
        assert_eq!(a.tbs_certificate.subject_pki.raw, factory.default_key().spki_der().as_slice());
        assert_eq!(a.tbs_certificate.subject_pki.raw, b.tbs_certificate.subject_pki.raw);
        assert_ne!(a.tbs_certificate.raw_serial(), b.tbs_certificate.raw_serial());
        assert_eq!(a.tbs_certificate.raw_serial().len(), 16);
        let policies = a.extensions().iter().find(|e| e.oid.to_id_string() == "2.5.29.32").unwrap().value;
        let dv = der::oid(&[2, 23, 140, 1, 2, 1]);
        assert!(policies.windows(dv.len()).any(|w| w == dv));
        assert!(a.tbs_certificate.basic_constraints().unwrap().unwrap().critical);
        let key = SubscriberKey::from_pkcs8_der(&factory.default_key().pkcs8_der()).unwrap();
        assert_eq!(key.spki_der(), factory.default_key().spki_der());
    }

    #[test]
    fn bad_specs_are_errors() {
        let factory = CertFactory::new("Bad CA").unwrap();
        assert!(matches!(factory.x509(&LeafSpec::new(Vec::<String>::new())), Err(CertError::InvalidSpec(_))));
        let spec = LeafSpec { cps_uri: Some("http://ünicode.example".into()), ..LeafSpec::new(["a.example"]) };
        assert!(matches!(factory.x509(&spec), Err(CertError::InvalidSpec(_))));
        let spec = LeafSpec { not_after: i64::MAX, ..LeafSpec::new(["a.example"]) };
        assert!(factory.x509(&spec).is_err());
        assert!(SubscriberKey::from_pkcs8_der(b"not a key").is_err());
        let precert = Precert { der: vec![0x30, 0x00], leaf_tbs: Vec::new(), issuer_key_hash: [0; 32] };
        assert!(factory.final_cert(&precert, &[]).is_err());
    }
}

#[cfg(test)]
mod crl_tests {
    use super::*;

    #[test]
    // The signature itself is verified by ctwatch-keys in the end-to-end scenario.
    fn crl_names_the_issuer_and_lists_entries() {
        use x509_parser::prelude::FromDer as _;
        let ca = CertFactory::new("CRL CA").unwrap();
        let entries = vec![
            CrlEntry { serial: vec![0x01, 0x02], revoked_at: 1_700_000_000, reason: Some(1) },
            CrlEntry { serial: vec![0x7f], revoked_at: 1_700_000_100, reason: None },
        ];
        let der = ca.crl(7, 1_700_000_200, 1_700_086_600, &entries).unwrap();
        let (_, crl) = x509_parser::revocation_list::CertificateRevocationList::from_der(&der).unwrap();
        assert_eq!(crl.iter_revoked_certificates().count(), 2);
        assert_eq!(crl.crl_number().map(|n| n.to_u64_digits()), Some(vec![7]));
        let (_, issuer) = x509_parser::certificate::X509Certificate::from_der(ca.issuer_der()).unwrap();
        assert_eq!(crl.issuer(), issuer.subject());
    }
}

//! Extract [`CertFacts`] from DER.

use ctwatch_ct::Hash;

/// Why a certificate could not be decoded at all.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone)]
pub enum CertError {
    #[error("certificate is not valid DER X.509: {0}")]
    Parse(String),
    #[error("TBSCertificate is not valid DER: {0}")]
    Tbs(String),
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
    pub version: u8,
    pub log_id: Hash,
    /// Milliseconds since the Unix epoch.
    pub timestamp: u64,
    pub extensions: Vec<u8>,
    /// The raw `DigitallySigned` signature.
    pub signature: Vec<u8>,
}

/// Everything the monitor and detectors read from a certificate.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CertFacts {
    /// Serial as the DER INTEGER content bytes (may be negative or oversized; kept verbatim).
    pub serial: Vec<u8>,
    /// RFC 4514-ish string forms.
    pub issuer: String,
    pub subject: String,
    /// Subject CN values.
    pub common_names: Vec<String>,
    /// SAN dNSName values, as found (lossy UTF-8 if not IA5).
    pub dns_names: Vec<String>,
    /// SAN iPAddress values, formatted.
    pub ip_addresses: Vec<String>,
    /// Unix seconds.
    pub not_before: i64,
    pub not_after: i64,
    /// SHA-256 of the DER SubjectPublicKeyInfo.
    pub spki_sha256: Hash,
    /// "rsa", "ecdsa", "ed25519", "dsa" or the OID.
    pub key_algorithm: String,
    /// RSA modulus bits or EC curve bits, when known.
    pub key_bits: Option<u32>,
    /// EC named curve OID, if EC.
    pub key_curve: Option<String>,
    /// SHA-256 of the RSA modulus (leading zeros stripped) or of the EC point: matches a key
    /// across SPKI re-encodings.
    pub key_material_sha256: Option<Hash>,
    pub policy_oids: Vec<String>,
    pub validation_type: ValidationType,
    pub authority_key_id: Option<Vec<u8>>,
    pub subject_key_id: Option<Vec<u8>>,
    pub crl_distribution_points: Vec<String>,
    pub ocsp_urls: Vec<String>,
    pub ca_issuer_urls: Vec<String>,
    /// basicConstraints cA=TRUE.
    pub is_ca: bool,
    /// The CT poison extension (1.3.6.1.4.1.11129.2.4.3) is present.
    pub is_precert: bool,
    pub embedded_scts: Vec<EmbeddedSct>,
    /// Problems met in individual fields; the rest of the facts are still valid.
    pub field_errors: Vec<String>,
}

/// Decode a DER certificate (or precertificate). Fails only when the outer structure cannot be
/// parsed; field-level problems go to `field_errors`.
pub fn cert_facts(der: &[u8]) -> Result<CertFacts, CertError> {
    todo!()
}

/// SHA-256 of the DER SubjectPublicKeyInfo of a certificate (an issuer's identity in CT).
pub fn spki_sha256_of_cert(der: &[u8]) -> Result<Hash, CertError> {
    todo!()
}

/// The raw DER SubjectPublicKeyInfo of a certificate.
pub fn spki_der_of_cert(der: &[u8]) -> Result<Vec<u8>, CertError> {
    todo!()
}

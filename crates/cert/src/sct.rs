//! Verification of SCTs embedded in final certificates.

use crate::facts::EmbeddedSct;
use ctwatch_ct::sth::LogKey;
use ctwatch_ct::Hash;

/// The outcome for one embedded SCT.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", tag = "verdict")]
pub enum SctVerdict {
    Valid { log_id: Hash, timestamp: u64 },
    /// The log is not in the key set given.
    UnknownLog { log_id: Hash },
    Invalid { log_id: Hash, timestamp: u64, reason: String },
}

/// The bytes an SCT over a precert entry signs (RFC 6962 §3.2 `digitally-signed struct`):
/// version, signature_type 0, timestamp, entry_type 1, issuer_key_hash, tbs (u24), extensions.
pub fn precert_sct_signed_data(sct: &EmbeddedSct, issuer_key_hash: &Hash, precert_tbs: &[u8]) -> Vec<u8> {
    todo!()
}

/// Verify every SCT embedded in `final_cert_der` issued by the CA whose SPKI SHA-256 is
/// `issuer_key_hash`. `key_for` looks up a log key by log ID.
pub fn verify_embedded_scts(
    final_cert_der: &[u8],
    issuer_key_hash: &Hash,
    key_for: &dyn Fn(&Hash) -> Option<LogKey>,
) -> Result<Vec<SctVerdict>, crate::facts::CertError> {
    todo!()
}

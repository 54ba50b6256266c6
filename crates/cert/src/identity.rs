//! Certificate identity and precertificate TBS reconstruction (RFC 6962 §3.1–3.2).

use crate::facts::CertError;
use ctwatch_ct::Hash;

/// OID 1.3.6.1.4.1.11129.2.4.3 (CT poison).
pub const POISON_OID: &str = "1.3.6.1.4.1.11129.2.4.3";
/// OID 1.3.6.1.4.1.11129.2.4.2 (embedded SCT list).
pub const SCT_LIST_OID: &str = "1.3.6.1.4.1.11129.2.4.2";
/// OID 1.3.6.1.4.1.11129.2.4.4 (Precertificate Signing Certificate EKU).
pub const PRECERT_SIGNING_EKU_OID: &str = "1.3.6.1.4.1.11129.2.4.4";

/// The TBSCertificate DER of a certificate.
pub fn tbs_of_cert(cert_der: &[u8]) -> Result<Vec<u8>, CertError> {
    todo!()
}

/// A TBSCertificate with the poison and SCT-list extensions removed (and the extensions field
/// dropped if it becomes empty), re-encoded as DER. For a final certificate this is exactly the
/// `tbs_certificate` its precertificate's log entry carries (when no precert signing CA was used).
pub fn strip_ct_extensions(tbs_der: &[u8]) -> Result<Vec<u8>, CertError> {
    todo!()
}

/// The identity shared by a precertificate and its final certificate: SHA-256 of
/// [`strip_ct_extensions`] of the TBS. For a precert log entry pass the entry's
/// `tbs_certificate`; for an x509 entry pass the certificate's TBS.
pub fn certificate_identity(tbs_der: &[u8]) -> Result<Hash, CertError> {
    todo!()
}

/// The `tbs_certificate` a precert log entry carries for `precert_der`: poison removed and, if
/// `signing_ca_der` is a Precertificate Signing Certificate, issuer and authority key
/// identifier replaced with the signing CA's issuer and authority key identifier.
pub fn precert_leaf_tbs(precert_der: &[u8], signing_ca_der: Option<&[u8]>) -> Result<Vec<u8>, CertError> {
    todo!()
}

/// Whether a certificate carries the Precertificate Signing Certificate EKU.
pub fn is_precert_signing_ca(cert_der: &[u8]) -> bool {
    todo!()
}

//! Embedded SCTs: decoding the SCT-list extension and verifying its SCTs (RFC 6962 §3.2–3.3).
//!
//! An SCT embedded in a final certificate was issued over the precertificate, so the signed
//! data is a `precert_entry`: the issuer's key hash and the final certificate's TBS with the
//! SCT-list extension removed (which is the precertificate's TBS without its poison, when the
//! precertificate was issued directly by the final certificate's issuer).

use crate::der::{self, Reader};
use crate::facts::{CertError, EmbeddedSct};
use crate::identity::{self, Extension, TbsFields};
use ctwatch_ct::Hash;
use ctwatch_ct::sth::LogKey;

/// The outcome for one embedded SCT.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", tag = "verdict")]
pub enum SctVerdict {
    /// The log's signature verifies.
    Valid { log_id: Hash, timestamp: u64 },
    /// The log is not in the key set given.
    UnknownLog { log_id: Hash },
    /// The log is known but the signature does not verify (or cannot be checked).
    Invalid { log_id: Hash, timestamp: u64, reason: String },
}

/// A big-endian reader over TLS presentation-language bytes.
struct TlsReader<'a>(&'a [u8]);

impl<'a> TlsReader<'a> {
    fn bytes(&mut self, n: usize, what: &str) -> Result<&'a [u8], String> {
        let (head, rest) =
            self.0.split_at_checked(n).ok_or_else(|| format!("{what}: need {n} bytes, {} left", self.0.len()))?;
        self.0 = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], String> {
        let bytes = self.bytes(N, what)?;
        <[u8; N]>::try_from(bytes).map_err(|_| format!("{what}: short read"))
    }

    fn vec16(&mut self, what: &str) -> Result<&'a [u8], String> {
        let len = u16::from_be_bytes(self.array(what)?);
        self.bytes(usize::from(len), what)
    }
}

/// Decode one serialized SCT (without its list length prefix).
fn parse_sct(bytes: &[u8]) -> Result<EmbeddedSct, String> {
    let mut r = TlsReader(bytes);
    let [version] = r.array::<1>("version")?;
    if version != 0 {
        return Err(format!("unsupported SCT version {version}"));
    }
    let log_id = r.array::<32>("log_id")?;
    let timestamp = u64::from_be_bytes(r.array("timestamp")?);
    let extensions = r.vec16("extensions")?.to_vec();
    let signature_start = r.0;
    r.array::<2>("signature algorithm")?;
    r.vec16("signature")?;
    if !r.0.is_empty() {
        return Err(format!("{} bytes after the signature", r.0.len()));
    }
    Ok(EmbeddedSct { version, log_id, timestamp, extensions, signature: signature_start.to_vec() })
}

/// Decode the SCT-list extension value (an OCTET STRING holding a TLS
/// `SignedCertificateTimestampList`). Returns the SCTs decoded before the first problem and
/// that problem, if any; SCTs of an unknown version are skipped and reported.
pub(crate) fn parse_sct_list_partial(ext_value: &[u8]) -> (Vec<EmbeddedSct>, Option<String>) {
    let mut scts = Vec::new();
    let mut outer = Reader::new(ext_value);
    let list = match outer.read(der::TAG_OCTET_STRING).and_then(|o| outer.finish().map(|()| o)) {
        Ok(o) => o.content,
        Err(e) => return (scts, Some(e.to_string())),
    };
    let mut r = TlsReader(list);
    let body = match r.vec16("list") {
        Ok(body) if r.0.is_empty() => body,
        Ok(_) => return (scts, Some(format!("{} bytes after the list", r.0.len()))),
        Err(e) => return (scts, Some(e)),
    };
    let mut items = TlsReader(body);
    let mut problem = None;
    while !items.0.is_empty() {
        let index = scts.len();
        let item = match items.vec16("SCT") {
            Ok(item) => item,
            Err(e) => return (scts, Some(format!("SCT {index}: {e}"))),
        };
        match parse_sct(item) {
            Ok(sct) => scts.push(sct),
            Err(e) => {
                problem.get_or_insert(format!("SCT {index}: {e}"));
            }
        }
    }
    (scts, problem)
}

/// Decode the SCT-list extension value strictly: any problem is an error.
pub fn parse_sct_list(ext_value: &[u8]) -> Result<Vec<EmbeddedSct>, CertError> {
    match parse_sct_list_partial(ext_value) {
        (scts, None) => Ok(scts),
        (_, Some(problem)) => Err(CertError::SctList(problem)),
    }
}

/// Append `len` as a big-endian integer of `width` bytes, saturating at the largest value.
fn push_len(out: &mut Vec<u8>, len: usize, width: usize) {
    let max = (1u64 << (8 * width)) - 1;
    let value = u64::try_from(len).unwrap_or(u64::MAX).min(max);
    out.extend_from_slice(value.to_be_bytes().get(8 - width..).unwrap_or_default());
}

/// The bytes an SCT over a precert entry signs (RFC 6962 §3.2 `digitally-signed struct`):
/// version, signature_type 0, timestamp, entry_type 1, issuer_key_hash, tbs (u24), extensions.
///
/// A TBS over 2^24-1 bytes or extensions over 2^16-1 bytes cannot be encoded; their lengths
/// are written saturated, so such data can never verify ([`verify_embedded_scts`] reports it
/// as invalid before getting here).
pub fn precert_sct_signed_data(sct: &EmbeddedSct, issuer_key_hash: &Hash, precert_tbs: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + 1 + 8 + 2 + 32 + 3 + precert_tbs.len() + 2 + sct.extensions.len());
    out.push(sct.version);
    out.push(0); // signature_type = certificate_timestamp
    out.extend_from_slice(&sct.timestamp.to_be_bytes());
    out.extend_from_slice(&1u16.to_be_bytes()); // entry_type = precert_entry
    out.extend_from_slice(issuer_key_hash);
    push_len(&mut out, precert_tbs.len(), 3);
    out.extend_from_slice(precert_tbs);
    push_len(&mut out, sct.extensions.len(), 2);
    out.extend_from_slice(&sct.extensions);
    out
}

/// The SCTs embedded in a certificate (empty when it has no SCT-list extension).
pub fn embedded_scts_of_cert(cert_der: &[u8]) -> Result<Vec<EmbeddedSct>, CertError> {
    let cert = identity::split_certificate(cert_der)?;
    let fields = TbsFields::parse(cert.tbs.raw)?;
    for tlv in fields.extension_reader()? {
        let ext = Extension::parse(tlv?)?;
        if ext.oid == identity::oid::SCT_LIST {
            return parse_sct_list(ext.value);
        }
    }
    Ok(Vec::new())
}

/// Verify every SCT embedded in `final_cert_der` issued by the CA whose SPKI SHA-256 is
/// `issuer_key_hash`. `key_for` looks up a log key by log ID.
///
/// Fails only when the certificate or its SCT list cannot be decoded; each SCT gets its own
/// verdict otherwise.
pub fn verify_embedded_scts(
    final_cert_der: &[u8],
    issuer_key_hash: &Hash,
    key_for: &dyn Fn(&Hash) -> Option<LogKey>,
) -> Result<Vec<SctVerdict>, CertError> {
    let scts = embedded_scts_of_cert(final_cert_der)?;
    if scts.is_empty() {
        return Ok(Vec::new());
    }
    let tbs = identity::strip_ct_extensions(identity::split_certificate(final_cert_der)?.tbs.raw)?;
    let verdicts = scts
        .iter()
        .map(|sct| {
            let Some(key) = key_for(&sct.log_id) else {
                return SctVerdict::UnknownLog { log_id: sct.log_id };
            };
            let invalid = |reason: String| SctVerdict::Invalid { log_id: sct.log_id, timestamp: sct.timestamp, reason };
            if tbs.len() > 0xff_ffff {
                return invalid(format!("TBS of {} bytes is too long for a log entry", tbs.len()));
            }
            let message = precert_sct_signed_data(sct, issuer_key_hash, &tbs);
            match key.verify_digitally_signed(&message, &sct.signature) {
                Ok(()) => SctVerdict::Valid { log_id: sct.log_id, timestamp: sct.timestamp },
                Err(e) => invalid(e.to_string()),
            }
        })
        .collect();
    Ok(verdicts)
}

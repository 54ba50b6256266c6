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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::*;
    use ring::rand::SystemRandom;
    use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};

    fn sct(extensions: &[u8]) -> EmbeddedSct {
        EmbeddedSct {
            version: 0,
            log_id: [9; 32],
            timestamp: 0x0102_0304_0506_0708,
            extensions: extensions.to_vec(),
            signature: vec![4, 3, 0, 0],
        }
    }

    #[test]
    fn signed_data_layout() {
        let data = precert_sct_signed_data(&sct(&[0xee]), &[7; 32], &[0x30, 0x00]);
        let mut expected = vec![0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0, 1];
        expected.extend([7; 32]);
        expected.extend([0, 0, 2, 0x30, 0x00, 0, 1, 0xee]);
        assert_eq!(data, expected);
    }

    #[test]
    fn lengths_saturate() {
        let mut out = Vec::new();
        push_len(&mut out, 0x01_0000, 2);
        push_len(&mut out, 0x12_3456, 3);
        push_len(&mut out, usize::MAX, 3);
        assert_eq!(out, [0xff, 0xff, 0x12, 0x34, 0x56, 0xff, 0xff, 0xff]);
    }

    /// The extension value (OCTET STRING content) of an SCT-list extension.
    fn list_value(scts: &[Vec<u8>]) -> Vec<u8> {
        let ext_der = sct_list_ext(scts);
        let (tlv, _) = der::read_tlv(&ext_der).unwrap();
        Extension::parse(tlv).unwrap().value.to_vec()
    }

    #[test]
    fn list_parsing_strict_and_partial() {
        let a = sct_bytes(1, 10, &[], &[1, 2, 3]);
        let b = sct_bytes(2, 20, &[5], &[4, 5]);
        let value = list_value(&[a.clone(), b]);
        let scts = parse_sct_list(&value).unwrap();
        assert_eq!(scts.len(), 2);
        assert_eq!(scts[0].signature, [4, 3, 0, 3, 1, 2, 3]);
        assert_eq!((scts[1].log_id, scts[1].timestamp, scts[1].extensions.as_slice()), ([2; 32], 20, &[5][..]));
        assert_eq!(parse_sct_list(&list_value(&[])).unwrap(), []);

        // Every truncation (with the outer lengths fixed up or not) fails cleanly.
        for cut in 0..value.len() {
            assert!(parse_sct_list(&value[..cut]).is_err(), "cut {cut}");
        }
        for cut in 0..a.len() {
            let (kept, problem) = parse_sct_list_partial(&list_value(&[sct_bytes(3, 1, &[], &[1]), a[..cut].to_vec()]));
            assert_eq!(kept.len(), 1, "cut {cut}");
            assert!(problem.unwrap().starts_with("SCT 1:"), "cut {cut}");
        }
        // Extra bytes inside one SCT, or after the list.
        let mut long = a.clone();
        long.push(0);
        assert_eq!(
            parse_sct_list(&list_value(&[long])),
            Err(CertError::SctList("SCT 0: 1 bytes after the signature".into()))
        );
        let mut inner = Reader::new(&value).read(der::TAG_OCTET_STRING).unwrap().content.to_vec();
        inner.push(0);
        let mut padded = Vec::new();
        der::write_tlv(&mut padded, der::TAG_OCTET_STRING, &inner);
        assert!(parse_sct_list(&padded).is_err());
        // Not an OCTET STRING.
        assert!(parse_sct_list(&[0x30, 0x00]).is_err());
    }

    /// A certificate whose SCT is signed by a freshly generated P-256 log key.
    #[test]
    fn verify_round_trip_with_generated_log_key() {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng).unwrap();
        let log_key = LogKey::from_spki_der(&p256_spki_with(pair.public_key().as_ref())).unwrap();

        let issuer_key_hash = [0x42; 32];
        let san = san(&[(0x82, b"example.com")]);
        let precert_tbs = tbs("ca", Some(std::slice::from_ref(&san)));
        let mut unsigned = sct(&[]);
        unsigned.log_id = log_key.log_id;
        let message = precert_sct_signed_data(&unsigned, &issuer_key_hash, &precert_tbs);
        let sig = pair.sign(&rng, &message).unwrap();
        let mut ds = vec![4, 3];
        ds.extend((sig.as_ref().len() as u16).to_be_bytes());
        ds.extend(sig.as_ref());
        let mut serialized = vec![0];
        serialized.extend(log_key.log_id);
        serialized.extend(unsigned.timestamp.to_be_bytes());
        serialized.extend([0, 0]);
        serialized.extend(&ds);
        let other_log = sct_bytes(0x77, 1, &[], &[4, 3, 0, 1, 0]);

        let final_cert = cert(&tbs("ca", Some(&[san.clone(), sct_list_ext(&[serialized, other_log])])));
        let key_for = |id: &Hash| (*id == log_key.log_id).then(|| log_key.clone());
        let verdicts = verify_embedded_scts(&final_cert, &issuer_key_hash, &key_for).unwrap();
        assert_eq!(
            verdicts,
            [
                SctVerdict::Valid { log_id: log_key.log_id, timestamp: unsigned.timestamp },
                SctVerdict::UnknownLog { log_id: [0x77; 32] },
            ]
        );
        let json = serde_json::to_value(&verdicts[1]).unwrap();
        assert_eq!(json["verdict"], "unknown_log");

        // A different issuer, or a final certificate whose other fields changed, does not verify.
        let verdicts = verify_embedded_scts(&final_cert, &[0x43; 32], &key_for).unwrap();
        assert!(matches!(verdicts[0], SctVerdict::Invalid { .. }), "{verdicts:?}");
        let scts = embedded_scts_of_cert(&final_cert).unwrap();
        let altered = cert(&tbs("other ca", Some(&[san, sct_list_ext(&[sct_bytes(0, 0, &[], &[])])])));
        assert_eq!(embedded_scts_of_cert(&altered).unwrap().len(), 1);
        let mut altered_list = Vec::new();
        for s in &scts {
            let mut b = vec![0];
            b.extend(s.log_id);
            b.extend(s.timestamp.to_be_bytes());
            b.extend([0, 0]);
            b.extend(&s.signature);
            altered_list.push(b);
        }
        let altered = cert(&tbs("other ca", Some(&[sct_list_ext(&altered_list)])));
        let verdicts = verify_embedded_scts(&altered, &issuer_key_hash, &key_for).unwrap();
        assert!(matches!(verdicts[0], SctVerdict::Invalid { .. }), "{verdicts:?}");
    }

    #[test]
    fn certificates_without_or_with_broken_sct_lists() {
        let plain = cert(&tbs("ca", None));
        assert_eq!(verify_embedded_scts(&plain, &[0; 32], &|_| None).unwrap(), []);
        let broken = cert(&tbs("ca", Some(&[ext(identity::oid::SCT_LIST, false, &[0x04, 0x01, 0x00])])));
        assert!(matches!(verify_embedded_scts(&broken, &[0; 32], &|_| None), Err(CertError::SctList(_))));
        assert!(matches!(verify_embedded_scts(&[0x30], &[0; 32], &|_| None), Err(CertError::Parse(_))));
    }
}

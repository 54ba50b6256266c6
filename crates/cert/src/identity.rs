//! Certificate identity and precertificate TBS reconstruction (RFC 6962 §3.1–3.2).
//!
//! Everything here works on the DER framing only, through the strict walker in
//! [`crate::der`]: the TBSCertificate is split into its fields, some fields or extensions are
//! dropped or replaced, and the rest is copied byte for byte with freshly computed lengths.
//! Nothing is decoded that does not need to be, so an odd but well-framed field (a strange
//! name string, an unknown extension) passes through untouched.

use crate::der::{self, DerError, Reader, Tlv};
use crate::facts::CertError;
use ctwatch_ct::Hash;

/// OID 1.3.6.1.4.1.11129.2.4.3 (CT poison).
pub const POISON_OID: &str = "1.3.6.1.4.1.11129.2.4.3";
/// OID 1.3.6.1.4.1.11129.2.4.2 (embedded SCT list).
pub const SCT_LIST_OID: &str = "1.3.6.1.4.1.11129.2.4.2";
/// OID 1.3.6.1.4.1.11129.2.4.4 (Precertificate Signing Certificate EKU).
pub const PRECERT_SIGNING_EKU_OID: &str = "1.3.6.1.4.1.11129.2.4.4";

/// DER content bytes of the OIDs this crate matches on (comparing bytes avoids formatting).
pub(crate) mod oid {
    pub const POISON: &[u8] = &[0x2b, 0x06, 0x01, 0x04, 0x01, 0xd6, 0x79, 0x02, 0x04, 0x03];
    pub const SCT_LIST: &[u8] = &[0x2b, 0x06, 0x01, 0x04, 0x01, 0xd6, 0x79, 0x02, 0x04, 0x02];
    pub const PRECERT_SIGNING_EKU: &[u8] = &[0x2b, 0x06, 0x01, 0x04, 0x01, 0xd6, 0x79, 0x02, 0x04, 0x04];
    pub const SUBJECT_KEY_ID: &[u8] = &[0x55, 0x1d, 0x0e];
    pub const SUBJECT_ALT_NAME: &[u8] = &[0x55, 0x1d, 0x11];
    pub const BASIC_CONSTRAINTS: &[u8] = &[0x55, 0x1d, 0x13];
    pub const CRL_DISTRIBUTION_POINTS: &[u8] = &[0x55, 0x1d, 0x1f];
    pub const CERTIFICATE_POLICIES: &[u8] = &[0x55, 0x1d, 0x20];
    pub const AUTHORITY_KEY_ID: &[u8] = &[0x55, 0x1d, 0x23];
    pub const EXTENDED_KEY_USAGE: &[u8] = &[0x55, 0x1d, 0x25];
    pub const AUTHORITY_INFO_ACCESS: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x01, 0x01];
    pub const AD_OCSP: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01];
    pub const AD_CA_ISSUERS: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x02];
}

impl From<DerError> for CertError {
    fn from(e: DerError) -> Self {
        CertError::Tbs(e.to_string())
    }
}

/// The outer `Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue }`.
#[derive(Debug, Clone, Copy)]
pub struct CertificateParts<'a> {
    pub tbs: Tlv<'a>,
    pub signature_algorithm: Tlv<'a>,
    pub signature: Tlv<'a>,
}

/// Split a DER certificate into its three parts. The certificate must fill `cert_der` exactly.
pub fn split_certificate(cert_der: &[u8]) -> Result<CertificateParts<'_>, CertError> {
    let parse = || -> Result<CertificateParts<'_>, DerError> {
        let mut outer = Reader::new(cert_der);
        let cert = outer.read(der::TAG_SEQUENCE)?;
        outer.finish()?;
        let mut inner = Reader::new(cert.content);
        let tbs = inner.read(der::TAG_SEQUENCE)?;
        let signature_algorithm = inner.read(der::TAG_SEQUENCE)?;
        let signature = inner.read(der::TAG_BIT_STRING)?;
        inner.finish()?;
        Ok(CertificateParts { tbs, signature_algorithm, signature })
    };
    parse().map_err(|e| CertError::Parse(e.to_string()))
}

/// The fields of a TBSCertificate, each as its whole TLV.
#[derive(Debug, Clone, Copy)]
pub struct TbsFields<'a> {
    /// `[0] EXPLICIT Version`, absent for v1.
    pub version: Option<Tlv<'a>>,
    pub serial: Tlv<'a>,
    pub signature: Tlv<'a>,
    pub issuer: Tlv<'a>,
    pub validity: Tlv<'a>,
    pub subject: Tlv<'a>,
    pub spki: Tlv<'a>,
    /// `[1] IMPLICIT UniqueIdentifier`.
    pub issuer_uid: Option<Tlv<'a>>,
    /// `[2] IMPLICIT UniqueIdentifier`.
    pub subject_uid: Option<Tlv<'a>>,
    /// The `[3] EXPLICIT` wrapper around the `SEQUENCE OF Extension`.
    pub extensions: Option<Tlv<'a>>,
}

impl<'a> TbsFields<'a> {
    /// Split TBSCertificate content (the bytes inside its SEQUENCE) into its fields.
    pub fn parse_content(content: &'a [u8]) -> Result<Self, DerError> {
        let mut r = Reader::new(content);
        let fields = TbsFields {
            version: r.read_optional(0xa0)?,
            serial: r.read(der::TAG_INTEGER)?,
            signature: r.read(der::TAG_SEQUENCE)?,
            issuer: r.read(der::TAG_SEQUENCE)?,
            validity: r.read(der::TAG_SEQUENCE)?,
            subject: r.read(der::TAG_SEQUENCE)?,
            spki: r.read(der::TAG_SEQUENCE)?,
            issuer_uid: r.read_optional(0x81)?,
            subject_uid: r.read_optional(0x82)?,
            extensions: r.read_optional(0xa3)?,
        };
        r.finish()?;
        Ok(fields)
    }

    /// Split a whole TBSCertificate DER (which must fill `tbs_der` exactly).
    pub fn parse(tbs_der: &'a [u8]) -> Result<Self, CertError> {
        let mut outer = Reader::new(tbs_der);
        let tbs = outer.read(der::TAG_SEQUENCE)?;
        outer.finish()?;
        Ok(Self::parse_content(tbs.content)?)
    }

    /// The extensions, in order. An absent `[3]` gives an empty reader; a `[3]` that does not
    /// hold exactly one SEQUENCE is an error.
    pub fn extension_reader(&self) -> Result<Reader<'a>, DerError> {
        let Some(wrapper) = self.extensions else {
            return Ok(Reader::new(&[]));
        };
        let mut r = Reader::new(wrapper.content);
        let seq = r.read(der::TAG_SEQUENCE)?;
        r.finish()?;
        Ok(Reader::new(seq.content))
    }
}

/// One `Extension ::= SEQUENCE { extnID, critical BOOLEAN DEFAULT FALSE, extnValue }`.
#[derive(Debug, Clone, Copy)]
pub struct Extension<'a> {
    /// The whole extension TLV.
    pub raw: &'a [u8],
    /// The OID content bytes.
    pub oid: &'a [u8],
    /// The critical BOOLEAN TLV, when encoded.
    pub critical_tlv: Option<Tlv<'a>>,
    /// The content of the extnValue OCTET STRING.
    pub value: &'a [u8],
}

impl<'a> Extension<'a> {
    /// Decode one extension TLV. BOOLEAN contents other than 0x00/0xff are tolerated here
    /// (some historic CAs wrote 0x01); [`Extension::critical`] reads any non-zero as true.
    pub fn parse(tlv: Tlv<'a>) -> Result<Self, DerError> {
        if tlv.tag != der::TAG_SEQUENCE {
            return Err(DerError::UnexpectedTag { expected: der::TAG_SEQUENCE, found: tlv.tag });
        }
        let mut r = Reader::new(tlv.content);
        let oid = r.read(der::TAG_OID)?.content;
        let critical_tlv = r.read_optional(der::TAG_BOOLEAN)?;
        let value = r.read(der::TAG_OCTET_STRING)?.content;
        r.finish()?;
        Ok(Extension { raw: tlv.raw, oid, critical_tlv, value })
    }

    /// Whether the extension is marked critical.
    pub fn critical(&self) -> bool {
        self.critical_tlv.is_some_and(|t| t.content.iter().any(|&b| b != 0))
    }
}

/// The TBSCertificate DER of a certificate.
pub fn tbs_of_cert(cert_der: &[u8]) -> Result<Vec<u8>, CertError> {
    Ok(split_certificate(cert_der)?.tbs.raw.to_vec())
}

/// What [`rebuild_tbs`] should change.
struct TbsEdit<'a> {
    /// Drop extensions whose OID content is one of these.
    drop: &'a [&'a [u8]],
    /// Replace the issuer Name TLV.
    issuer: Option<&'a [u8]>,
    /// Authority key identifier handling: `Some(Some(v))` = set the AKI extnValue content to
    /// `v` (replacing in place, or appending when absent); `Some(None)` = remove it.
    aki: Option<Option<&'a [u8]>>,
}

/// Re-encode a TBSCertificate with `edit` applied; every other byte is copied unchanged.
fn rebuild_tbs(tbs_der: &[u8], edit: &TbsEdit<'_>) -> Result<Vec<u8>, CertError> {
    let fields = TbsFields::parse(tbs_der)?;
    let mut exts: Vec<u8> = Vec::with_capacity(fields.extensions.map_or(0, |e| e.content.len()));
    let mut aki_seen = false;
    for tlv in fields.extension_reader()? {
        let ext = Extension::parse(tlv?)?;
        if edit.drop.contains(&ext.oid) {
            continue;
        }
        match edit.aki {
            Some(new_aki) if ext.oid == oid::AUTHORITY_KEY_ID => {
                aki_seen = true;
                if let Some(value) = new_aki {
                    write_extension(&mut exts, ext.oid, ext.critical_tlv, value);
                }
            }
            _ => exts.extend_from_slice(ext.raw),
        }
    }
    if let Some(Some(value)) = edit.aki
        && !aki_seen
    {
        write_extension(&mut exts, oid::AUTHORITY_KEY_ID, None, value);
    }

    let issuer = edit.issuer.unwrap_or(fields.issuer.raw);
    let leading: [&[u8]; 7] = [
        fields.version.map_or(&[][..], |t| t.raw),
        fields.serial.raw,
        fields.signature.raw,
        issuer,
        fields.validity.raw,
        fields.subject.raw,
        fields.spki.raw,
    ];
    let trailing: [&[u8]; 2] =
        [fields.issuer_uid.map_or(&[][..], |t| t.raw), fields.subject_uid.map_or(&[][..], |t| t.raw)];
    let seq_len = der::header_len(exts.len()) + exts.len();
    let ext_len = if exts.is_empty() { 0 } else { der::header_len(seq_len) + seq_len };
    let content_len = leading.iter().chain(trailing.iter()).map(|p| p.len()).sum::<usize>() + ext_len;

    let mut out = Vec::with_capacity(der::header_len(content_len) + content_len);
    der::write_header(&mut out, der::TAG_SEQUENCE, content_len);
    for part in leading.iter().chain(trailing.iter()) {
        out.extend_from_slice(part);
    }
    if !exts.is_empty() {
        der::write_header(&mut out, 0xa3, seq_len);
        der::write_tlv(&mut out, der::TAG_SEQUENCE, &exts);
    }
    Ok(out)
}

/// Append an Extension with the given OID content, critical TLV and extnValue content.
fn write_extension(out: &mut Vec<u8>, oid_content: &[u8], critical: Option<Tlv<'_>>, value: &[u8]) {
    let oid_len = der::header_len(oid_content.len()) + oid_content.len();
    let crit_len = critical.map_or(0, |t| t.raw.len());
    let value_len = der::header_len(value.len()) + value.len();
    der::write_header(out, der::TAG_SEQUENCE, oid_len + crit_len + value_len);
    der::write_tlv(out, der::TAG_OID, oid_content);
    if let Some(c) = critical {
        out.extend_from_slice(c.raw);
    }
    der::write_tlv(out, der::TAG_OCTET_STRING, value);
}

/// Find the extnValue content of the first extension with OID content `wanted` in a TBS.
fn find_extension<'a>(fields: &TbsFields<'a>, wanted: &[u8]) -> Result<Option<&'a [u8]>, DerError> {
    for tlv in fields.extension_reader()? {
        let ext = Extension::parse(tlv?)?;
        if ext.oid == wanted {
            return Ok(Some(ext.value));
        }
    }
    Ok(None)
}

/// A TBSCertificate with the poison and SCT-list extensions removed (and the extensions field
/// dropped if it becomes empty), re-encoded as DER. For a final certificate this is exactly the
/// `tbs_certificate` its precertificate's log entry carries (when no precert signing CA was used).
pub fn strip_ct_extensions(tbs_der: &[u8]) -> Result<Vec<u8>, CertError> {
    rebuild_tbs(tbs_der, &TbsEdit { drop: &[oid::POISON, oid::SCT_LIST], issuer: None, aki: None })
}

/// The identity shared by a precertificate and its final certificate: SHA-256 of
/// [`strip_ct_extensions`] of the TBS. For a precert log entry pass the entry's
/// `tbs_certificate`; for an x509 entry pass the certificate's TBS.
pub fn certificate_identity(tbs_der: &[u8]) -> Result<Hash, CertError> {
    Ok(ctwatch_ct::sha256(&strip_ct_extensions(tbs_der)?))
}

/// The `tbs_certificate` a precert log entry carries for `precert_der`: poison removed and, if
/// `signing_ca_der` is a Precertificate Signing Certificate, issuer and authority key
/// identifier replaced with the signing CA's issuer and authority key identifier.
///
/// The authority key identifier follows what deployed logs do (certificate-transparency-go):
/// when the precertificate has one, its value becomes the signing CA's; if the signing CA has
/// none, the precertificate's is removed; if only the signing CA has one, it is appended. A
/// `signing_ca_der` without the Precertificate Signing EKU is ignored, since the precert was
/// then issued by the real CA.
pub fn precert_leaf_tbs(precert_der: &[u8], signing_ca_der: Option<&[u8]>) -> Result<Vec<u8>, CertError> {
    let precert = split_certificate(precert_der)?;
    let Some(ca_der) = signing_ca_der.filter(|ca| is_precert_signing_ca(ca)) else {
        return rebuild_tbs(precert.tbs.raw, &TbsEdit { drop: &[oid::POISON], issuer: None, aki: None });
    };
    let ca = split_certificate(ca_der)?;
    let ca_fields = TbsFields::parse(ca.tbs.raw)?;
    let ca_aki = find_extension(&ca_fields, oid::AUTHORITY_KEY_ID)?;
    rebuild_tbs(
        precert.tbs.raw,
        &TbsEdit { drop: &[oid::POISON], issuer: Some(ca_fields.issuer.raw), aki: Some(ca_aki) },
    )
}

/// Whether a certificate carries the Precertificate Signing Certificate EKU.
pub fn is_precert_signing_ca(cert_der: &[u8]) -> bool {
    let check = || -> Result<bool, CertError> {
        let cert = split_certificate(cert_der)?;
        let fields = TbsFields::parse(cert.tbs.raw)?;
        let Some(eku) = find_extension(&fields, oid::EXTENDED_KEY_USAGE)? else {
            return Ok(false);
        };
        let mut r = Reader::new(eku);
        let seq = r.read(der::TAG_SEQUENCE)?;
        for purpose in Reader::new(seq.content) {
            let purpose = purpose?;
            if purpose.tag == der::TAG_OID && purpose.content == oid::PRECERT_SIGNING_EKU {
                return Ok(true);
            }
        }
        Ok(false)
    };
    check().unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{cert, ext, poison, tbs, tlv};

    fn san() -> Vec<u8> {
        crate::testutil::san(&[(0x82, b"example.com")])
    }
    fn sct_list(len: usize) -> Vec<u8> {
        ext(oid::SCT_LIST, false, &tlv(der::TAG_OCTET_STRING, &vec![0u8; len]))
    }

    #[test]
    fn precert_and_final_share_identity() {
        let precert = tbs("ca", Some(&[san(), poison()]));
        let final_ = tbs("ca", Some(&[san(), sct_list(300)]));
        let bare = tbs("ca", Some(&[san()]));
        assert_eq!(strip_ct_extensions(&precert).unwrap(), bare);
        assert_eq!(strip_ct_extensions(&final_).unwrap(), bare);
        assert_eq!(certificate_identity(&precert).unwrap(), certificate_identity(&final_).unwrap());
        assert_eq!(certificate_identity(&bare).unwrap(), ctwatch_ct::sha256(&bare));
        let other = tbs("other ca", Some(&[san(), poison()]));
        assert_ne!(certificate_identity(&other).unwrap(), certificate_identity(&precert).unwrap());
    }

    #[test]
    fn extensions_wrapper_dropped_when_empty() {
        let only_ct = tbs("ca", Some(&[poison(), sct_list(10)]));
        assert_eq!(strip_ct_extensions(&only_ct).unwrap(), tbs("ca", None));
        // No [3] at all: unchanged.
        assert_eq!(strip_ct_extensions(&tbs("ca", None)).unwrap(), tbs("ca", None));
    }

    #[test]
    fn lengths_re_encoded_across_length_classes() {
        // Removing a big SCT list moves the TBS and [3] lengths from 2-byte to 1-byte forms.
        for size in [0usize, 50, 100, 200, 300, 70_000] {
            let with = tbs("ca", Some(&[san(), sct_list(size)]));
            let stripped = strip_ct_extensions(&with).unwrap();
            assert_eq!(stripped, tbs("ca", Some(&[san()])), "size {size}");
            // And the other way round: stripping the poison from a large TBS keeps a large SAN.
            let big_san = ext(oid::SUBJECT_ALT_NAME, false, &vec![0x30; size]);
            let with = tbs("ca", Some(&[big_san.clone(), poison()]));
            assert_eq!(strip_ct_extensions(&with).unwrap(), tbs("ca", Some(&[big_san])));
        }
    }

    #[test]
    fn every_truncation_is_an_error() {
        let full = tbs("ca", Some(&[san(), poison(), sct_list(150)]));
        for cut in 0..full.len() {
            assert!(strip_ct_extensions(&full[..cut]).is_err(), "cut {cut}");
            assert!(TbsFields::parse(&full[..cut]).is_err(), "cut {cut}");
        }
        let c = cert(&full);
        for cut in 0..c.len() {
            assert!(tbs_of_cert(&c[..cut]).is_err(), "cut {cut}");
            assert!(precert_leaf_tbs(&c[..cut], None).is_err(), "cut {cut}");
            assert!(!is_precert_signing_ca(&c[..cut]));
        }
        assert_eq!(tbs_of_cert(&c).unwrap(), full);
    }

    #[test]
    fn malformed_structures_rejected() {
        // Trailing byte after the TBS.
        let mut t = tbs("ca", None);
        t.push(0);
        assert!(strip_ct_extensions(&t).is_err());
        // An element after the extensions.
        let mut c = TbsFields::parse(&tbs("ca", Some(&[san()]))).unwrap().serial.raw.to_vec();
        c.extend(tlv(der::TAG_INTEGER, &[1]));
        assert!(TbsFields::parse_content(&c).is_err());
        // [3] holding something other than a single SEQUENCE.
        let inner = tbs("ca", None);
        let fields = TbsFields::parse(&inner).unwrap();
        let mut content: Vec<u8> =
            [fields.version.unwrap().raw, fields.serial.raw, fields.signature.raw, fields.issuer.raw].concat();
        content.extend([fields.validity.raw, fields.subject.raw, fields.spki.raw].concat());
        content.extend(tlv(0xa3, &[tlv(der::TAG_SEQUENCE, &san()), tlv(der::TAG_SEQUENCE, &[])].concat()));
        assert!(strip_ct_extensions(&tlv(der::TAG_SEQUENCE, &content)).is_err());
        // An extension without extnValue.
        let bad_ext = tlv(der::TAG_SEQUENCE, &tlv(der::TAG_OID, oid::POISON));
        assert!(strip_ct_extensions(&tbs("ca", Some(&[bad_ext]))).is_err());
        // Certificate with trailing data.
        let mut c = cert(&tbs("ca", None));
        c.push(0);
        assert!(matches!(tbs_of_cert(&c), Err(CertError::Parse(_))));
    }

    #[test]
    fn unique_ids_kept() {
        let base = tbs("ca", None);
        let fields = TbsFields::parse(&base).unwrap();
        let mut content: Vec<u8> = [
            fields.version.unwrap().raw,
            fields.serial.raw,
            fields.signature.raw,
            fields.issuer.raw,
            fields.validity.raw,
            fields.subject.raw,
            fields.spki.raw,
        ]
        .concat();
        content.extend(tlv(0x81, &[0, 0xaa]));
        content.extend(tlv(0x82, &[0, 0xbb]));
        let no_ext = tlv(der::TAG_SEQUENCE, &content);
        content.extend(tlv(0xa3, &tlv(der::TAG_SEQUENCE, &poison())));
        let with = tlv(der::TAG_SEQUENCE, &content);
        let parsed = TbsFields::parse(&with).unwrap();
        assert!(parsed.issuer_uid.is_some() && parsed.subject_uid.is_some());
        assert_eq!(strip_ct_extensions(&with).unwrap(), no_ext);
    }

    fn signing_ca(aki: Option<&[u8]>, eku: bool) -> Vec<u8> {
        let mut exts = Vec::new();
        if eku {
            let purposes = tlv(der::TAG_SEQUENCE, &tlv(der::TAG_OID, oid::PRECERT_SIGNING_EKU));
            exts.push(ext(oid::EXTENDED_KEY_USAGE, false, &purposes));
        }
        if let Some(aki) = aki {
            exts.push(ext(oid::AUTHORITY_KEY_ID, false, aki));
        }
        cert(&tbs("root", Some(&exts)))
    }

    #[test]
    fn precert_signing_ca_rewrites_issuer_and_aki() {
        let precert_aki = tlv(der::TAG_SEQUENCE, &tlv(0x80, &[1; 20]));
        let ca_aki = tlv(der::TAG_SEQUENCE, &tlv(0x80, &[2; 20]));
        let precert =
            cert(&tbs("signing ca", Some(&[ext(oid::AUTHORITY_KEY_ID, false, &precert_aki), poison(), san()])));

        // Without a signing CA, or with an ordinary CA: poison removed only.
        let plain = tbs("signing ca", Some(&[ext(oid::AUTHORITY_KEY_ID, false, &precert_aki), san()]));
        assert_eq!(precert_leaf_tbs(&precert, None).unwrap(), plain);
        let ordinary = signing_ca(Some(&ca_aki), false);
        assert!(!is_precert_signing_ca(&ordinary));
        assert_eq!(precert_leaf_tbs(&precert, Some(&ordinary)).unwrap(), plain);

        let ca = signing_ca(Some(&ca_aki), true);
        assert!(is_precert_signing_ca(&ca));
        let expected = tbs("root", Some(&[ext(oid::AUTHORITY_KEY_ID, false, &ca_aki), san()]));
        assert_eq!(precert_leaf_tbs(&precert, Some(&ca)).unwrap(), expected);

        // Signing CA without an AKI: the precert's is removed.
        let ca = signing_ca(None, true);
        assert_eq!(precert_leaf_tbs(&precert, Some(&ca)).unwrap(), tbs("root", Some(&[san()])));

        // Precert without an AKI: the signing CA's is appended.
        let precert = cert(&tbs("signing ca", Some(&[poison(), san()])));
        let ca = signing_ca(Some(&ca_aki), true);
        let expected = tbs("root", Some(&[san(), ext(oid::AUTHORITY_KEY_ID, false, &ca_aki)]));
        assert_eq!(precert_leaf_tbs(&precert, Some(&ca)).unwrap(), expected);
    }

    #[test]
    fn precert_leaf_keeps_sct_list_and_critical_flag() {
        let aki = tlv(der::TAG_SEQUENCE, &tlv(0x80, &[1; 4]));
        let precert = cert(&tbs("ca", Some(&[ext(oid::AUTHORITY_KEY_ID, true, &aki), poison(), sct_list(3)])));
        let ca = signing_ca(Some(&[0x30, 0x00]), true);
        let out = precert_leaf_tbs(&precert, Some(&ca)).unwrap();
        assert_eq!(out, tbs("root", Some(&[ext(oid::AUTHORITY_KEY_ID, true, &[0x30, 0x00]), sct_list(3)])));
    }

    #[test]
    fn critical_flag_reading() {
        let e = ext(oid::POISON, true, &[5, 0]);
        let (t, _) = der::read_tlv(&e).unwrap();
        assert!(Extension::parse(t).unwrap().critical());
        let e = ext(oid::POISON, false, &[5, 0]);
        let (t, _) = der::read_tlv(&e).unwrap();
        assert!(!Extension::parse(t).unwrap().critical());
    }
}

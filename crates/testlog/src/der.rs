//! The little DER this crate needs: writing the few extensions rcgen cannot express, and
//! walking a certificate to swap the CT poison for an SCT list without touching anything else.
//!
//! Only low-tag-number, definite-length DER is understood (every certificate element is).
//! Readers return [`DerError`] on malformed input; nothing here panics on input bytes.

/// A DER structure did not have the expected shape.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed DER ({what}): {detail}")]
pub struct DerError {
    /// The element being read.
    pub what: &'static str,
    /// What went wrong.
    pub detail: String,
}

fn err(what: &'static str, detail: impl Into<String>) -> DerError {
    DerError { what, detail: detail.into() }
}

/// DER tag of SEQUENCE.
pub const SEQUENCE: u8 = 0x30;
/// DER tag of OCTET STRING.
pub const OCTET_STRING: u8 = 0x04;
/// DER tag of OBJECT IDENTIFIER.
pub const OID: u8 = 0x06;
/// DER tag of BOOLEAN.
pub const BOOLEAN: u8 = 0x01;
/// DER tag of BIT STRING.
pub const BIT_STRING: u8 = 0x03;
/// DER tag of IA5String.
pub const IA5_STRING: u8 = 0x16;
/// DER tag of the `[3] EXPLICIT` extensions field of a TBSCertificate.
pub const EXTENSIONS_FIELD: u8 = 0xa3;
/// DER tag of the `[0] EXPLICIT` version field of a TBSCertificate.
pub const VERSION_FIELD: u8 = 0xa0;

/// Append a DER length to `out`.
fn push_length(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
        return;
    }
    let bytes = len.to_be_bytes();
    let skip = bytes.iter().take_while(|b| **b == 0).count();
    let significant = &bytes[skip..];
    out.push(0x80 | significant.len() as u8);
    out.extend_from_slice(significant);
}

/// Encode one tag-length-value element.
pub fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + 6);
    out.push(tag);
    push_length(&mut out, content.len());
    out.extend_from_slice(content);
    out
}

/// Encode the content octets of an OBJECT IDENTIFIER (without tag and length).
///
/// Arcs must describe a valid OID (first arc 0..=2, second below 40 unless the first is 2); the
/// callers only pass constants.
pub fn oid_content(arcs: &[u64]) -> Vec<u8> {
    let mut out = Vec::new();
    let (first, second) = match arcs {
        [a, b, ..] => (*a, *b),
        [a] => (*a, 0),
        [] => (0, 0),
    };
    let mut push_arc = |mut value: u64| {
        let mut groups = vec![(value & 0x7f) as u8];
        value >>= 7;
        while value > 0 {
            groups.push(0x80 | (value & 0x7f) as u8);
            value >>= 7;
        }
        groups.reverse();
        out.extend_from_slice(&groups);
    };
    push_arc(first * 40 + second);
    for arc in arcs.iter().skip(2) {
        push_arc(*arc);
    }
    out
}

/// Encode a full OBJECT IDENTIFIER element.
pub fn oid(arcs: &[u64]) -> Vec<u8> {
    tlv(OID, &oid_content(arcs))
}

/// Encode an X.509 `Extension` (`extnID`, optional `critical TRUE`, `extnValue`), where
/// `value_der` is the DER that the OCTET STRING wraps.
pub fn extension(arcs: &[u64], critical: bool, value_der: &[u8]) -> Vec<u8> {
    let mut content = oid(arcs);
    if critical {
        content.extend_from_slice(&tlv(BOOLEAN, &[0xff]));
    }
    content.extend_from_slice(&tlv(OCTET_STRING, value_der));
    tlv(SEQUENCE, &content)
}

/// One element read from DER input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Element<'a> {
    /// The identifier octet.
    pub tag: u8,
    /// The content octets.
    pub content: &'a [u8],
    /// The whole encoding: tag, length and content.
    pub whole: &'a [u8],
}

/// Read one element from the front of `input`, returning it and the bytes after it.
pub fn read_element<'a>(input: &'a [u8], what: &'static str) -> Result<(Element<'a>, &'a [u8]), DerError> {
    let (&tag, rest) = input.split_first().ok_or_else(|| err(what, "unexpected end of input"))?;
    if tag & 0x1f == 0x1f {
        return Err(err(what, "high tag numbers are not supported"));
    }
    let (&first_len, rest) = rest.split_first().ok_or_else(|| err(what, "missing length"))?;
    let (len, rest) = if first_len < 0x80 {
        (usize::from(first_len), rest)
    } else {
        let count = usize::from(first_len & 0x7f);
        if count == 0 || count > 4 {
            return Err(err(what, format!("unsupported length encoding 0x{first_len:02x}")));
        }
        let len_bytes = rest.get(..count).ok_or_else(|| err(what, "truncated length"))?;
        let len = len_bytes.iter().fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, rest.get(count..).unwrap_or_default())
    };
    let content =
        rest.get(..len).ok_or_else(|| err(what, format!("length {len} exceeds the {} bytes left", rest.len())))?;
    let header_len = input.len() - rest.len();
    let whole = input.get(..header_len + len).ok_or_else(|| err(what, "length overflow"))?;
    Ok((Element { tag, content, whole }, rest.get(len..).unwrap_or_default()))
}

/// Read one element of the given tag that must fill `input` exactly.
pub fn read_only_element<'a>(input: &'a [u8], tag: u8, what: &'static str) -> Result<Element<'a>, DerError> {
    let (element, rest) = read_element(input, what)?;
    if element.tag != tag {
        return Err(err(what, format!("expected tag 0x{tag:02x}, found 0x{:02x}", element.tag)));
    }
    if !rest.is_empty() {
        return Err(err(what, format!("{} trailing bytes", rest.len())));
    }
    Ok(element)
}

/// All elements in `content`, in order.
pub fn read_all<'a>(mut content: &'a [u8], what: &'static str) -> Result<Vec<Element<'a>>, DerError> {
    let mut out = Vec::new();
    while !content.is_empty() {
        let (element, rest) = read_element(content, what)?;
        out.push(element);
        content = rest;
    }
    Ok(out)
}

/// The signed parts of a `Certificate`: TBSCertificate and signatureAlgorithm (each as its
/// whole encoding).
#[derive(Debug, Clone, Copy)]
pub struct CertificateParts<'a> {
    /// The whole `TBSCertificate` element.
    pub tbs: &'a [u8],
    /// The whole `signatureAlgorithm` element.
    pub signature_algorithm: &'a [u8],
}

/// Split a DER certificate into its top-level parts (checking there are exactly three).
pub fn certificate_parts(cert_der: &[u8]) -> Result<CertificateParts<'_>, DerError> {
    let cert = read_only_element(cert_der, SEQUENCE, "Certificate")?;
    match read_all(cert.content, "Certificate")?.as_slice() {
        [tbs, alg, sig] if tbs.tag == SEQUENCE && alg.tag == SEQUENCE && sig.tag == BIT_STRING => {
            Ok(CertificateParts { tbs: tbs.whole, signature_algorithm: alg.whole })
        }
        other => Err(err(
            "Certificate",
            format!("expected 3 elements (SEQUENCE, SEQUENCE, BIT STRING), found {}", other.len()),
        )),
    }
}

/// The SubjectPublicKeyInfo (whole element) of a DER certificate.
pub fn certificate_spki(cert_der: &[u8]) -> Result<&[u8], DerError> {
    let tbs = read_only_element(certificate_parts(cert_der)?.tbs, SEQUENCE, "TBSCertificate")?;
    let fields = read_all(tbs.content, "TBSCertificate")?;
    // version is optional; then serial, signature, issuer, validity, subject, spki.
    let skip = usize::from(fields.first().is_some_and(|f| f.tag == VERSION_FIELD));
    let spki =
        fields.get(skip + 5).ok_or_else(|| err("TBSCertificate", "too few fields to hold a subjectPublicKeyInfo"))?;
    if spki.tag != SEQUENCE {
        return Err(err("subjectPublicKeyInfo", format!("expected SEQUENCE, found tag 0x{:02x}", spki.tag)));
    }
    Ok(spki.whole)
}

/// Rewrite a TBSCertificate's extension list: the extension whose OID has content octets
/// `oid_content` is replaced by `replacement` (an encoded `Extension`), or removed when
/// `replacement` is `None`. Every other byte of the TBS is kept as it was; the extensions field
/// is dropped if it becomes empty. Fails if the extension is not present.
pub fn replace_extension(tbs_der: &[u8], oid_content: &[u8], replacement: Option<&[u8]>) -> Result<Vec<u8>, DerError> {
    let tbs = read_only_element(tbs_der, SEQUENCE, "TBSCertificate")?;
    let fields = read_all(tbs.content, "TBSCertificate")?;
    let mut new_content = Vec::with_capacity(tbs.content.len() + replacement.map_or(0, <[u8]>::len));
    let mut found = false;
    for field in &fields {
        if field.tag != EXTENSIONS_FIELD {
            new_content.extend_from_slice(field.whole);
            continue;
        }
        let list = read_only_element(field.content, SEQUENCE, "Extensions")?;
        let mut new_list = Vec::with_capacity(list.content.len());
        for ext in read_all(list.content, "Extension")? {
            let (ext_oid, _) = read_element(read_only_element(ext.whole, SEQUENCE, "Extension")?.content, "extnID")?;
            if ext_oid.tag == OID && ext_oid.content == oid_content && !found {
                found = true;
                if let Some(replacement) = replacement {
                    new_list.extend_from_slice(replacement);
                }
            } else {
                new_list.extend_from_slice(ext.whole);
            }
        }
        if !new_list.is_empty() {
            new_content.extend_from_slice(&tlv(EXTENSIONS_FIELD, &tlv(SEQUENCE, &new_list)));
        }
    }
    if !found {
        return Err(err("Extensions", "the extension to replace is not present"));
    }
    Ok(tlv(SEQUENCE, &new_content))
}

/// Assemble a `Certificate` from an encoded TBS, an encoded signature algorithm and the raw
/// signature bytes.
pub fn assemble_certificate(tbs: &[u8], signature_algorithm: &[u8], signature: &[u8]) -> Vec<u8> {
    let mut bits = Vec::with_capacity(signature.len() + 1);
    bits.push(0); // no unused bits
    bits.extend_from_slice(signature);
    let mut content = Vec::with_capacity(tbs.len() + signature_algorithm.len() + bits.len() + 8);
    content.extend_from_slice(tbs);
    content.extend_from_slice(signature_algorithm);
    content.extend_from_slice(&tlv(BIT_STRING, &bits));
    tlv(SEQUENCE, &content)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_use_the_shortest_form() {
        assert_eq!(tlv(0x04, &[1, 2]), vec![0x04, 2, 1, 2]);
        let long = vec![0u8; 300];
        let encoded = tlv(0x04, &long);
        assert_eq!(&encoded[..4], &[0x04, 0x82, 0x01, 0x2c]);
        assert_eq!(encoded.len(), 304);
        let (element, rest) = read_element(&encoded, "test").unwrap();
        assert_eq!(element.content.len(), 300);
        assert!(rest.is_empty());
    }

    #[test]
    fn oids_encode_like_the_standard_examples() {
        // 1.3.6.1.4.1.11129.2.4.3, the CT poison.
        assert_eq!(oid(&[1, 3, 6, 1, 4, 1, 11129, 2, 4, 3]), hex(b"060a2b06010401d679020403"));
        // 2.23.140.1.2.1, the DV policy.
        assert_eq!(oid(&[2, 23, 140, 1, 2, 1]), hex(b"060667810c010201"));
    }

    #[test]
    fn truncated_input_is_an_error_not_a_panic() {
        for input in
            [&[][..], &[0x30], &[0x30, 0x85, 1, 1, 1, 1, 1], &[0x30, 0x82, 0x01], &[0x30, 0x05, 0x00], &[0x1f, 0]]
        {
            assert!(read_element(input, "test").is_err(), "{input:?}");
        }
        assert!(certificate_parts(&[0x30, 0x00]).is_err());
        assert!(certificate_spki(&[0x30, 0x03, 0x30, 0x01, 0x00]).is_err());
    }

    #[test]
    fn replace_extension_keeps_other_fields_and_drops_an_empty_list() {
        let ext_a = extension(&[1, 2, 3], false, &[0x05, 0x00]);
        let ext_b = extension(&[1, 2, 4], true, &[0x05, 0x00]);
        let mut exts = ext_a.clone();
        exts.extend_from_slice(&ext_b);
        let mut tbs_content = tlv(0x02, &[7]);
        tbs_content.extend_from_slice(&tlv(EXTENSIONS_FIELD, &tlv(SEQUENCE, &exts)));
        let tbs = tlv(SEQUENCE, &tbs_content);

        let without_b = replace_extension(&tbs, &oid_content(&[1, 2, 4]), None).unwrap();
        let mut expected = tlv(0x02, &[7]);
        expected.extend_from_slice(&tlv(EXTENSIONS_FIELD, &tlv(SEQUENCE, &ext_a)));
        assert_eq!(without_b, tlv(SEQUENCE, &expected));

        let replaced = replace_extension(&tbs, &oid_content(&[1, 2, 3]), Some(&ext_b)).unwrap();
        let mut both_b = ext_b.clone();
        both_b.extend_from_slice(&ext_b);
        let mut expected = tlv(0x02, &[7]);
        expected.extend_from_slice(&tlv(EXTENSIONS_FIELD, &tlv(SEQUENCE, &both_b)));
        assert_eq!(replaced, tlv(SEQUENCE, &expected));

        let none_left = replace_extension(&without_b, &oid_content(&[1, 2, 3]), None).unwrap();
        assert_eq!(none_left, tlv(SEQUENCE, &tlv(0x02, &[7])));
        assert!(replace_extension(&none_left, &oid_content(&[1, 2, 3]), None).is_err());
    }

    fn hex(text: &[u8]) -> Vec<u8> {
        text.chunks(2).map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap()).collect()
    }
}

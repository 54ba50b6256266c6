//! Builders for synthetic DER certificates used by the unit tests.

use crate::der;
use crate::identity::oid;

pub fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    der::write_tlv(&mut out, tag, content);
    out
}

pub fn ext(oid_content: &[u8], critical: bool, value: &[u8]) -> Vec<u8> {
    let mut inner = tlv(der::TAG_OID, oid_content);
    if critical {
        inner.extend(tlv(der::TAG_BOOLEAN, &[0xff]));
    }
    inner.extend(tlv(der::TAG_OCTET_STRING, value));
    tlv(der::TAG_SEQUENCE, &inner)
}

/// A Name from (attribute OID content, string tag, value bytes) RDNs in certificate order.
pub fn name_of(rdns: &[(&[u8], u8, &[u8])]) -> Vec<u8> {
    let mut content = Vec::new();
    for (oid_content, tag, value) in rdns {
        let mut atv = tlv(der::TAG_OID, oid_content);
        atv.extend(tlv(*tag, value));
        content.extend(tlv(der::TAG_SET, &tlv(der::TAG_SEQUENCE, &atv)));
    }
    tlv(der::TAG_SEQUENCE, &content)
}

pub const CN: &[u8] = &[0x55, 0x04, 0x03];

pub fn name(cn: &str) -> Vec<u8> {
    name_of(&[(CN, 0x0c, cn.as_bytes())])
}

pub fn p256_spki() -> Vec<u8> {
    let mut point = vec![0x04];
    point.extend([0x11; 64]);
    p256_spki_with(&point)
}

/// A P-256 SubjectPublicKeyInfo for an uncompressed point.
pub fn p256_spki_with(point: &[u8]) -> Vec<u8> {
    let mut alg = tlv(der::TAG_OID, &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01]);
    alg.extend(tlv(der::TAG_OID, &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07]));
    let bits = [&[0u8][..], point].concat();
    let mut spki = tlv(der::TAG_SEQUENCE, &alg);
    spki.extend(tlv(der::TAG_BIT_STRING, &bits));
    tlv(der::TAG_SEQUENCE, &spki)
}

/// A TBS with the given issuer, subject and SPKI TLVs and extensions (None = no `[3]`).
pub fn tbs_with(issuer: &[u8], subject: &[u8], spki: &[u8], exts: Option<&[Vec<u8>]>) -> Vec<u8> {
    let mut c = tlv(0xa0, &tlv(der::TAG_INTEGER, &[2]));
    c.extend(tlv(der::TAG_INTEGER, &[0x01, 0x02, 0x03]));
    c.extend(tlv(der::TAG_SEQUENCE, &tlv(der::TAG_OID, &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02])));
    c.extend(issuer);
    let mut validity = tlv(0x17, b"230101000000Z");
    validity.extend(tlv(0x18, b"20240101000000Z"));
    c.extend(tlv(der::TAG_SEQUENCE, &validity));
    c.extend(subject);
    c.extend(spki);
    if let Some(exts) = exts {
        c.extend(tlv(0xa3, &tlv(der::TAG_SEQUENCE, &exts.concat())));
    }
    tlv(der::TAG_SEQUENCE, &c)
}

/// A TBS issued by `issuer` to CN=leaf with a small placeholder key.
pub fn tbs(issuer: &str, exts: Option<&[Vec<u8>]>) -> Vec<u8> {
    let spki = tlv(der::TAG_SEQUENCE, &tlv(der::TAG_BIT_STRING, &[0, 4, 1, 2]));
    tbs_with(&name(issuer), &name("leaf"), &spki, exts)
}

pub fn cert(tbs: &[u8]) -> Vec<u8> {
    let mut c = tbs.to_vec();
    c.extend(tlv(der::TAG_SEQUENCE, &tlv(der::TAG_OID, &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02])));
    c.extend(tlv(der::TAG_BIT_STRING, &[0, 1, 2, 3]));
    tlv(der::TAG_SEQUENCE, &c)
}

pub fn san(names: &[(u8, &[u8])]) -> Vec<u8> {
    let content: Vec<u8> = names.iter().flat_map(|(tag, value)| tlv(*tag, value)).collect();
    ext(oid::SUBJECT_ALT_NAME, false, &tlv(der::TAG_SEQUENCE, &content))
}

pub fn poison() -> Vec<u8> {
    ext(oid::POISON, true, &[0x05, 0x00])
}

/// An SCT-list extension holding the given serialized SCTs.
pub fn sct_list_ext(scts: &[Vec<u8>]) -> Vec<u8> {
    let mut body = Vec::new();
    for sct in scts {
        body.extend((sct.len() as u16).to_be_bytes());
        body.extend(sct);
    }
    let mut list = (body.len() as u16).to_be_bytes().to_vec();
    list.extend(body);
    ext(oid::SCT_LIST, false, &tlv(der::TAG_OCTET_STRING, &list))
}

/// A serialized v1 SCT.
pub fn sct_bytes(log_byte: u8, timestamp: u64, extensions: &[u8], signature: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8];
    out.extend([log_byte; 32]);
    out.extend(timestamp.to_be_bytes());
    out.extend((extensions.len() as u16).to_be_bytes());
    out.extend(extensions);
    out.extend([4, 3]);
    out.extend((signature.len() as u16).to_be_bytes());
    out.extend(signature);
    out
}

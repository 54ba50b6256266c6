//! Public keys inside a DER SubjectPublicKeyInfo: decoding the parts the key checks need and
//! encoding an SPKI from bare key parts (for keys imported as PKCS#1 or private keys).
//!
//! The key-material hash computed here is the same value as
//! `ctwatch_cert::facts::CertFacts::key_material_sha256`: SHA-256 of the RSA modulus with its
//! leading zero bytes removed, of the EC point exactly as encoded in the BIT STRING, or of the
//! raw Ed25519 key. Tests check the two against each other on real and generated certificates.

use ctwatch_cert::der::{self, Reader};
use ctwatch_ct::Hash;

/// rsaEncryption, 1.2.840.113549.1.1.1 (OID content bytes).
pub(crate) const OID_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
/// id-ecPublicKey, 1.2.840.10045.2.1.
pub(crate) const OID_EC: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
/// id-Ed25519, 1.3.101.112.
pub(crate) const OID_ED25519: &[u8] = &[0x2b, 0x65, 0x70];
/// prime256v1 / P-256, 1.2.840.10045.3.1.7 (OID content bytes, for [`ec_spki`]).
pub const OID_P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
/// secp384r1 / P-384, 1.3.132.0.34 (OID content bytes, for [`ec_spki`]).
pub const OID_P384: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x22];

/// Why a SubjectPublicKeyInfo or key structure could not be decoded.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone)]
pub enum SpkiError {
    /// The DER framing is broken.
    #[error("malformed DER in {structure}: {source}")]
    Der {
        /// Which structure was being read.
        structure: &'static str,
        /// The framing error.
        source: der::DerError,
    },
    /// The subjectPublicKey BIT STRING is empty or has unused bits.
    #[error("subjectPublicKey BIT STRING is empty or has unused bits")]
    BitString,
    /// The RSA modulus or exponent is negative (its first content byte has the top bit set).
    #[error("RSA {0} is a negative INTEGER")]
    NegativeInteger(&'static str),
}

fn der_err(structure: &'static str) -> impl Fn(der::DerError) -> SpkiError {
    move |source| SpkiError::Der { structure, source }
}

/// A decoded public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicKey {
    /// An RSA key; both numbers are big-endian magnitudes without leading zero bytes.
    Rsa {
        /// The modulus n.
        modulus: Vec<u8>,
        /// The public exponent e.
        exponent: Vec<u8>,
    },
    /// An EC key.
    Ec {
        /// The named curve, dotted, when the parameters are a named curve.
        curve: Option<String>,
        /// The point as encoded in the BIT STRING (0x04 || X || Y, or compressed).
        point: Vec<u8>,
    },
    /// An Ed25519 key (32 raw bytes when well formed).
    Ed25519 {
        /// The raw key bytes.
        key: Vec<u8>,
    },
    /// Any other algorithm, by dotted OID (or `invalid-oid`).
    Other {
        /// The algorithm OID.
        algorithm: String,
    },
}

impl PublicKey {
    /// The key-material hash (see the module documentation); `None` for other algorithms.
    pub fn material_sha256(&self) -> Option<Hash> {
        match self {
            PublicKey::Rsa { modulus, .. } => Some(ctwatch_ct::sha256(modulus)),
            PublicKey::Ec { point, .. } => Some(ctwatch_ct::sha256(point)),
            PublicKey::Ed25519 { key } => Some(ctwatch_ct::sha256(key)),
            PublicKey::Other { .. } => None,
        }
    }

    /// A short name of the algorithm: `rsa`, `ecdsa`, `ed25519` or the OID.
    pub fn algorithm(&self) -> &str {
        match self {
            PublicKey::Rsa { .. } => "rsa",
            PublicKey::Ec { .. } => "ecdsa",
            PublicKey::Ed25519 { .. } => "ed25519",
            PublicKey::Other { algorithm } => algorithm,
        }
    }
}

/// Strip leading zero bytes from an unsigned big-endian number.
pub(crate) fn magnitude(bytes: &[u8]) -> &[u8] {
    let skip = bytes.iter().take_while(|&&b| b == 0).count();
    bytes.get(skip..).unwrap_or_default()
}

/// The magnitude of a non-negative DER INTEGER's content.
pub(crate) fn unsigned_integer(content: &[u8], what: &'static str) -> Result<Vec<u8>, SpkiError> {
    if content.first().is_some_and(|&b| b & 0x80 != 0) {
        return Err(SpkiError::NegativeInteger(what));
    }
    Ok(magnitude(content).to_vec())
}

/// Decode a PKCS#1 `RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }`.
pub fn parse_rsa_public_key(der: &[u8]) -> Result<PublicKey, SpkiError> {
    let err = der_err("RSAPublicKey");
    let (seq, rest) = der::read_tlv(der).map_err(&err)?;
    if seq.tag != der::TAG_SEQUENCE {
        return Err(err(der::DerError::UnexpectedTag { expected: der::TAG_SEQUENCE, found: seq.tag }));
    }
    if !rest.is_empty() {
        return Err(err(der::DerError::TrailingData(rest.len())));
    }
    let mut r = Reader::new(seq.content);
    let n = r.read(der::TAG_INTEGER).map_err(&err)?;
    let e = r.read(der::TAG_INTEGER).map_err(&err)?;
    r.finish().map_err(&err)?;
    Ok(PublicKey::Rsa {
        modulus: unsigned_integer(n.content, "modulus")?,
        exponent: unsigned_integer(e.content, "exponent")?,
    })
}

/// The algorithm OID, optional parameters and key bytes of an SPKI.
struct SpkiParts<'a> {
    oid: &'a [u8],
    params: Option<der::Tlv<'a>>,
    key: &'a [u8],
}

fn spki_parts(der: &[u8]) -> Result<SpkiParts<'_>, SpkiError> {
    let err = der_err("SubjectPublicKeyInfo");
    let (spki, rest) = der::read_tlv(der).map_err(&err)?;
    if spki.tag != der::TAG_SEQUENCE {
        return Err(err(der::DerError::UnexpectedTag { expected: der::TAG_SEQUENCE, found: spki.tag }));
    }
    if !rest.is_empty() {
        return Err(err(der::DerError::TrailingData(rest.len())));
    }
    let mut r = Reader::new(spki.content);
    let alg = r.read(der::TAG_SEQUENCE).map_err(&err)?;
    let bits = r.read(der::TAG_BIT_STRING).map_err(&err)?;
    r.finish().map_err(&err)?;
    let mut a = Reader::new(alg.content);
    let oid = a.read(der::TAG_OID).map_err(&err)?.content;
    let params = if a.is_empty() { None } else { Some(a.read_any().map_err(&err)?) };
    let key = match bits.content.split_first() {
        Some((0, key)) => key,
        _ => return Err(SpkiError::BitString),
    };
    Ok(SpkiParts { oid, params, key })
}

/// Decode the key in a DER SubjectPublicKeyInfo. The whole input must be one SPKI.
pub fn parse_spki(der: &[u8]) -> Result<PublicKey, SpkiError> {
    let parts = spki_parts(der)?;
    Ok(match parts.oid {
        OID_RSA => parse_rsa_public_key(parts.key)?,
        OID_EC => PublicKey::Ec {
            curve: parts.params.filter(|p| p.tag == der::TAG_OID).and_then(|p| der::oid_to_string(p.content)),
            point: parts.key.to_vec(),
        },
        OID_ED25519 => PublicKey::Ed25519 { key: parts.key.to_vec() },
        other => PublicKey::Other { algorithm: der::oid_to_string(other).unwrap_or_else(|| "invalid-oid".to_owned()) },
    })
}

/// The key-material hash of an SPKI computed exactly as `ctwatch_cert` computes
/// `key_material_sha256`, including its leniency: an RSA key needs only a readable modulus
/// (the exponent is not looked at), and an EC point is hashed whatever its parameters.
pub fn material_sha256(der: &[u8]) -> Option<Hash> {
    let parts = spki_parts(der).ok()?;
    match parts.oid {
        OID_RSA => {
            let (seq, _) = der::read_tlv(parts.key).ok()?;
            if seq.tag != der::TAG_SEQUENCE {
                return None;
            }
            let modulus = Reader::new(seq.content).read(der::TAG_INTEGER).ok()?;
            Some(ctwatch_ct::sha256(magnitude(modulus.content)))
        }
        OID_EC | OID_ED25519 => Some(ctwatch_ct::sha256(parts.key)),
        _ => None,
    }
}

/// Encode a DER INTEGER for a non-negative big-endian magnitude.
pub(crate) fn write_unsigned_integer(out: &mut Vec<u8>, magnitude_bytes: &[u8]) {
    let m = magnitude(magnitude_bytes);
    let mut content = Vec::with_capacity(m.len() + 1);
    if m.first().is_none_or(|&b| b & 0x80 != 0) {
        content.push(0);
    }
    content.extend_from_slice(m);
    der::write_tlv(out, der::TAG_INTEGER, &content);
}

fn spki_from(alg_content: &[u8], key: &[u8]) -> Vec<u8> {
    let mut alg = Vec::new();
    der::write_tlv(&mut alg, der::TAG_SEQUENCE, alg_content);
    let mut bits = Vec::with_capacity(key.len() + 1);
    bits.push(0);
    bits.extend_from_slice(key);
    let mut body = alg;
    der::write_tlv(&mut body, der::TAG_BIT_STRING, &bits);
    let mut out = Vec::with_capacity(body.len() + 4);
    der::write_tlv(&mut out, der::TAG_SEQUENCE, &body);
    out
}

/// The canonical DER SPKI of an RSA key (rsaEncryption with NULL parameters), as CAs encode
/// it in certificates.
pub fn rsa_spki(modulus: &[u8], exponent: &[u8]) -> Vec<u8> {
    let mut alg = Vec::new();
    der::write_tlv(&mut alg, der::TAG_OID, OID_RSA);
    alg.extend_from_slice(&[0x05, 0x00]);
    let mut numbers = Vec::new();
    write_unsigned_integer(&mut numbers, modulus);
    write_unsigned_integer(&mut numbers, exponent);
    let mut key = Vec::new();
    der::write_tlv(&mut key, der::TAG_SEQUENCE, &numbers);
    spki_from(&alg, &key)
}

/// The DER SPKI of an EC key on the named curve `curve_oid` (OID content bytes).
pub fn ec_spki(curve_oid: &[u8], point: &[u8]) -> Vec<u8> {
    let mut alg = Vec::new();
    der::write_tlv(&mut alg, der::TAG_OID, OID_EC);
    der::write_tlv(&mut alg, der::TAG_OID, curve_oid);
    spki_from(&alg, point)
}

/// The DER SPKI of an Ed25519 key.
pub fn ed25519_spki(key: &[u8]) -> Vec<u8> {
    let mut alg = Vec::new();
    der::write_tlv(&mut alg, der::TAG_OID, OID_ED25519);
    spki_from(&alg, key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rsa_spki_round_trips_and_strips_zeros() {
        let spki = rsa_spki(&[0, 0, 0xc3, 1, 2], &[1, 0, 1]);
        let key = parse_spki(&spki).unwrap();
        assert_eq!(key, PublicKey::Rsa { modulus: vec![0xc3, 1, 2], exponent: vec![1, 0, 1] });
        assert_eq!(key.material_sha256(), Some(ctwatch_ct::sha256(&[0xc3, 1, 2])));
        assert_eq!(material_sha256(&spki), key.material_sha256());
        // The modulus got a leading zero so it stays positive.
        assert!(spki.windows(4).any(|w| w == [0x02, 0x04, 0x00, 0xc3]));
    }

    #[test]
    fn ec_and_ed25519_round_trip() {
        let point = [4u8; 65];
        let key = parse_spki(&ec_spki(OID_P256, &point)).unwrap();
        assert_eq!(key, PublicKey::Ec { curve: Some("1.2.840.10045.3.1.7".into()), point: point.to_vec() });
        let key = parse_spki(&ed25519_spki(&[7; 32])).unwrap();
        assert_eq!(key.material_sha256(), Some(ctwatch_ct::sha256(&[7; 32])));
        assert_eq!(key.algorithm(), "ed25519");
    }

    #[test]
    fn malformed_inputs_are_errors() {
        assert!(parse_spki(&[]).is_err());
        assert!(parse_spki(&[0x30, 0x00]).is_err());
        let mut good = ed25519_spki(&[1; 32]);
        good.push(0);
        assert!(matches!(parse_spki(&good), Err(SpkiError::Der { .. })));
        // Unused bits in the BIT STRING.
        let mut bad = ed25519_spki(&[1; 32]);
        let pos = bad.windows(3).position(|w| w == [der::TAG_BIT_STRING, 33, 0]).unwrap();
        bad[pos + 2] = 1;
        assert_eq!(parse_spki(&bad), Err(SpkiError::BitString));
        assert_eq!(material_sha256(&bad), None);
        // A negative modulus.
        let mut numbers = Vec::new();
        der::write_tlv(&mut numbers, der::TAG_INTEGER, &[0x80, 1]);
        der::write_tlv(&mut numbers, der::TAG_INTEGER, &[3]);
        let mut pkcs1 = Vec::new();
        der::write_tlv(&mut pkcs1, der::TAG_SEQUENCE, &numbers);
        assert_eq!(parse_rsa_public_key(&pkcs1), Err(SpkiError::NegativeInteger("modulus")));
        // Every truncation of a valid SPKI fails cleanly.
        let spki = rsa_spki(&[0xab; 256], &[1, 0, 1]);
        for cut in 0..spki.len() {
            assert!(parse_spki(&spki[..cut]).is_err(), "cut {cut}");
        }
    }
}

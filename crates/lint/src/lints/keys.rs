//! Subject public key lints (BR 6.1.5, 6.1.6, 7.1.3.1).

use super::{NA, Outcome, oid};
use crate::cert::{Cert, PublicKey};

/// The byte-exact SubjectPublicKeyInfo AlgorithmIdentifier encodings BR 7.1.3.1 allows.
const ALLOWED_SPKI_ALGORITHMS: &[(&str, &[u8])] = &[
    ("rsaEncryption", &[0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00]),
    (
        "P-256",
        &[
            0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d,
            0x03, 0x01, 0x07,
        ],
    ),
    (
        "P-384",
        &[0x30, 0x10, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22],
    ),
    (
        "P-521",
        &[0x30, 0x10, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23],
    ),
];

/// An INTEGER's content without leading zero octets (its magnitude, for a positive value).
pub(crate) fn magnitude(integer: &[u8]) -> &[u8] {
    let start = integer.iter().position(|&b| b != 0).unwrap_or(integer.len());
    integer.get(start..).unwrap_or_default()
}

/// The bit length of a big-endian magnitude.
fn bit_length(magnitude: &[u8]) -> usize {
    match magnitude.first() {
        Some(&top) => (magnitude.len() - 1) * 8 + (8 - top.leading_zeros() as usize),
        None => 0,
    }
}

fn rsa<'a>(c: &Cert<'a>) -> Result<(&'a [u8], &'a [u8]), Outcome> {
    match c.key {
        Some(PublicKey::Rsa { modulus, exponent }) => Ok((magnitude(modulus), magnitude(exponent))),
        Some(_) => Err(NA),
        None => Err(Outcome::NotApplicable(Some("public key could not be decoded"))),
    }
}

pub(crate) fn spki_encoding(c: &Cert<'_>) -> Outcome {
    let Some(algorithms) = c.algorithms else {
        return Outcome::NotApplicable(Some("certificate DER could not be walked"));
    };
    if ALLOWED_SPKI_ALGORITHMS.iter().any(|(_, der)| *der == algorithms.spki_algorithm) {
        Outcome::Pass
    } else {
        Outcome::Fail(format!("SPKI algorithm {} is not an allowed encoding", hex::encode(algorithms.spki_algorithm)))
    }
}

pub(crate) fn rsa_modulus_short(c: &Cert<'_>) -> Outcome {
    match rsa(c) {
        Ok((n, _)) if bit_length(n) < 2048 => Outcome::Fail(format!("RSA modulus has {} bits", bit_length(n))),
        Ok(_) => Outcome::Pass,
        Err(outcome) => outcome,
    }
}

pub(crate) fn rsa_modulus_not_multiple_of_8(c: &Cert<'_>) -> Outcome {
    match rsa(c) {
        Ok((n, _)) if !bit_length(n).is_multiple_of(8) => {
            Outcome::Fail(format!("RSA modulus has {} bits", bit_length(n)))
        }
        Ok(_) => Outcome::Pass,
        Err(outcome) => outcome,
    }
}

pub(crate) fn rsa_exponent_even(c: &Cert<'_>) -> Outcome {
    match rsa(c) {
        Ok((_, e)) if e.last().is_none_or(|b| b & 1 == 0) => {
            Outcome::Fail(format!("RSA exponent 0x{} is even", hex::encode(e)))
        }
        Ok(_) => Outcome::Pass,
        Err(outcome) => outcome,
    }
}

pub(crate) fn rsa_exponent_small(c: &Cert<'_>) -> Outcome {
    match rsa(c) {
        Ok((_, e)) if bit_length(e) <= 2 && e.first().is_none_or(|&b| b < 3) => {
            Outcome::Fail(format!("RSA exponent 0x{} is less than 3", hex::encode(e)))
        }
        Ok(_) => Outcome::Pass,
        Err(outcome) => outcome,
    }
}

pub(crate) fn rsa_exponent_range(c: &Cert<'_>) -> Outcome {
    match rsa(c) {
        Ok((_, e)) => {
            // 2^16 + 1 ..= 2^256 - 1: at least 17 bits and not 0x010000, at most 256 bits.
            let bits = bit_length(e);
            let too_small = bits < 17 || e == [0x01, 0x00, 0x00];
            if too_small || bits > 256 {
                Outcome::Fail(format!("RSA exponent 0x{} is outside 2^16+1 ..= 2^256-1", hex::encode(e)))
            } else {
                Outcome::Pass
            }
        }
        Err(outcome) => outcome,
    }
}

pub(crate) fn ec_curve(c: &Cert<'_>) -> Outcome {
    match c.key {
        Some(PublicKey::Ec { curve: Some(curve) }) if [oid::P256, oid::P384, oid::P521].contains(&curve) => {
            Outcome::Pass
        }
        Some(PublicKey::Ec { curve: Some(curve) }) => Outcome::Fail(format!(
            "EC curve {} is not P-256, P-384 or P-521",
            ctwatch_cert::der::oid_to_string(curve).unwrap_or_else(|| hex::encode(curve))
        )),
        Some(PublicKey::Ec { curve: None }) => Outcome::Fail("EC key parameters are not a named curve".into()),
        Some(_) => NA,
        None => Outcome::NotApplicable(Some("public key could not be decoded")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_helpers() {
        assert_eq!(magnitude(&[0, 0, 1, 0]), &[1, 0]);
        assert_eq!(magnitude(&[0]), &[] as &[u8]);
        assert_eq!(bit_length(&[0x01, 0x00, 0x01]), 17);
        assert_eq!(bit_length(&[0x80; 256]), 2048);
        assert_eq!(bit_length(&[]), 0);
    }
}

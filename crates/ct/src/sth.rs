//! Tree heads and their signatures (RFC 6962 §3.5, §3.2 `DigitallySigned`).
//!
//! A log signs with ECDSA P-256 or RSA (2048 bits or more), always over SHA-256. The signature
//! travels as a TLS `DigitallySigned`: `hash u8 | signature u8 | signature<0..2^16-1>`.
//! [`LogKey`] verifies such blobs; [`LogSigner`] makes them (for test logs).

use ring::signature::{self, KeyPair};
use x509_parser::oid_registry::{OID_EC_P256, OID_KEY_TYPE_EC_PUBLIC_KEY, OID_PKCS1_RSAENCRYPTION};
use x509_parser::prelude::FromDer;
use x509_parser::public_key::PublicKey;
use x509_parser::x509::SubjectPublicKeyInfo;

use crate::Hash;

/// `HashAlgorithm.sha256` in a `DigitallySigned`.
pub const HASH_SHA256: u8 = 4;
/// `SignatureAlgorithm.rsa` in a `DigitallySigned`.
pub const SIG_RSA: u8 = 1;
/// `SignatureAlgorithm.ecdsa` in a `DigitallySigned`.
pub const SIG_ECDSA: u8 = 3;

/// The DER prefix of a P-256 SubjectPublicKeyInfo, up to the 65-byte uncompressed point:
/// `SEQUENCE { SEQUENCE { id-ecPublicKey, prime256v1 }, BIT STRING (0 unused bits) ... }`.
const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce,
    0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

/// The three numbers a signed tree head commits to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TreeHead {
    /// Number of leaves.
    pub tree_size: u64,
    /// Milliseconds since the Unix epoch.
    pub timestamp: u64,
    /// MTH of the tree.
    pub root_hash: Hash,
}

/// A tree head with its raw `DigitallySigned` signature (as it appears in get-sth's
/// `tree_head_signature` or inside a checkpoint's RFC6962NoteSignature).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedTreeHead {
    /// What is signed.
    pub head: TreeHead,
    /// TLS `DigitallySigned` over [`tree_head_signature_input`].
    pub signature: Vec<u8>,
}

/// Signature/key errors.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignatureError {
    /// The SPKI is not DER, or not an ECDSA P-256 / RSA ≥ 2048-bit key.
    #[error("unsupported or malformed public key: {0}")]
    BadKey(String),
    /// The `DigitallySigned` structure does not parse.
    #[error("malformed DigitallySigned: {0}")]
    Malformed(String),
    /// The algorithms named in the `DigitallySigned` are not SHA-256 with the key's algorithm.
    #[error("hash/signature algorithm {hash}/{sig} does not match the log key")]
    AlgorithmMismatch {
        /// `HashAlgorithm` byte found.
        hash: u8,
        /// `SignatureAlgorithm` byte found.
        sig: u8,
    },
    /// The signature is well formed but wrong.
    #[error("signature does not verify")]
    Invalid,
}

/// The log key algorithms RFC 6962 allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAlgorithm {
    /// ECDSA on NIST P-256 with SHA-256 (`DigitallySigned` algorithms 4/3).
    EcdsaP256,
    /// RSASSA-PKCS1-v1_5 with SHA-256 (`DigitallySigned` algorithms 4/1).
    Rsa,
}

impl KeyAlgorithm {
    /// The `SignatureAlgorithm` byte of this key type.
    pub fn signature_algorithm(self) -> u8 {
        match self {
            KeyAlgorithm::EcdsaP256 => SIG_ECDSA,
            KeyAlgorithm::Rsa => SIG_RSA,
        }
    }
}

/// A decoded TLS `DigitallySigned`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigitallySigned {
    /// `HashAlgorithm` (4 = SHA-256).
    pub hash_algorithm: u8,
    /// `SignatureAlgorithm` (1 = RSA, 3 = ECDSA).
    pub signature_algorithm: u8,
    /// The signature (DER ECDSA-Sig-Value or RSA signature block).
    pub signature: Vec<u8>,
}

impl DigitallySigned {
    /// Decode a `DigitallySigned` occupying exactly `bytes` (the u16 length must cover the rest).
    pub fn decode(bytes: &[u8]) -> Result<Self, SignatureError> {
        let [hash_algorithm, signature_algorithm, hi, lo, signature @ ..] = bytes else {
            return Err(SignatureError::Malformed(format!("need at least 4 bytes, found {}", bytes.len())));
        };
        let declared = usize::from(u16::from_be_bytes([*hi, *lo]));
        if declared != signature.len() {
            return Err(SignatureError::Malformed(format!(
                "signature length field says {declared} bytes, {} follow",
                signature.len()
            )));
        }
        Ok(Self {
            hash_algorithm: *hash_algorithm,
            signature_algorithm: *signature_algorithm,
            signature: signature.to_vec(),
        })
    }

    /// TLS encoding.
    pub fn encode(&self) -> Vec<u8> {
        digitally_signed(self.hash_algorithm, self.signature_algorithm, &self.signature)
    }
}

/// Encode a TLS `DigitallySigned`: `hash_alg | sig_alg | u16 length | signature`.
///
/// # Panics
///
/// Panics if `signature` is 64 KiB or longer (no real signature is).
pub fn digitally_signed(hash_alg: u8, sig_alg: u8, signature: &[u8]) -> Vec<u8> {
    let len = u16::try_from(signature.len()).expect("signature longer than 65535 bytes");
    let mut out = Vec::with_capacity(4 + signature.len());
    out.push(hash_alg);
    out.push(sig_alg);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(signature);
    out
}

/// A log's public key, parsed from its DER SubjectPublicKeyInfo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogKey {
    /// DER SubjectPublicKeyInfo as published in the log list.
    pub spki_der: Vec<u8>,
    /// SHA-256 of `spki_der`: the RFC 6962 LogID.
    pub log_id: Hash,
    /// Key type.
    pub algorithm: KeyAlgorithm,
    /// The raw key `ring` verifies with (EC point, or PKCS#1 RSAPublicKey).
    raw_key: Vec<u8>,
}

impl LogKey {
    /// Parse a DER SPKI. Accepts id-ecPublicKey with prime256v1 (uncompressed point) and
    /// rsaEncryption with a modulus of 2048 to 8192 bits; rejects trailing bytes.
    pub fn from_spki_der(spki_der: &[u8]) -> Result<Self, SignatureError> {
        let (rest, spki) = SubjectPublicKeyInfo::from_der(spki_der)
            .map_err(|e| SignatureError::BadKey(format!("SPKI is not valid DER: {e}")))?;
        if !rest.is_empty() {
            return Err(SignatureError::BadKey(format!("{} trailing bytes after the SPKI", rest.len())));
        }
        let oid = &spki.algorithm.algorithm;
        let raw_key = spki.subject_public_key.data.to_vec();
        let algorithm = if *oid == OID_KEY_TYPE_EC_PUBLIC_KEY {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .ok_or_else(|| SignatureError::BadKey("EC key without a named curve".into()))?;
            if curve != OID_EC_P256 {
                return Err(SignatureError::BadKey(format!("EC curve {curve} is not P-256 (1.2.840.10045.3.1.7)")));
            }
            if raw_key.len() != 65 || raw_key.first() != Some(&0x04) {
                return Err(SignatureError::BadKey("P-256 key is not a 65-byte uncompressed point".into()));
            }
            KeyAlgorithm::EcdsaP256
        } else if *oid == OID_PKCS1_RSAENCRYPTION {
            let bits = match spki.parsed() {
                Ok(PublicKey::RSA(rsa)) => rsa.key_size(),
                _ => return Err(SignatureError::BadKey("malformed RSAPublicKey".into())),
            };
            if !(2048..=8192).contains(&bits) {
                return Err(SignatureError::BadKey(format!("RSA modulus of {bits} bits is outside 2048..=8192")));
            }
            KeyAlgorithm::Rsa
        } else {
            return Err(SignatureError::BadKey(format!(
                "key algorithm {oid} is neither id-ecPublicKey nor rsaEncryption"
            )));
        };
        Ok(Self { spki_der: spki_der.to_vec(), log_id: crate::sha256(spki_der), algorithm, raw_key })
    }

    /// Verify a TLS `DigitallySigned` blob over `message` with this key (SHA-256 only).
    pub fn verify_digitally_signed(&self, message: &[u8], digitally_signed: &[u8]) -> Result<(), SignatureError> {
        let ds = DigitallySigned::decode(digitally_signed)?;
        if ds.hash_algorithm != HASH_SHA256 || ds.signature_algorithm != self.algorithm.signature_algorithm() {
            return Err(SignatureError::AlgorithmMismatch { hash: ds.hash_algorithm, sig: ds.signature_algorithm });
        }
        let alg: &dyn signature::VerificationAlgorithm = match self.algorithm {
            KeyAlgorithm::EcdsaP256 => &signature::ECDSA_P256_SHA256_ASN1,
            KeyAlgorithm::Rsa => &signature::RSA_PKCS1_2048_8192_SHA256,
        };
        signature::UnparsedPublicKey::new(alg, &self.raw_key)
            .verify(message, &ds.signature)
            .map_err(|_| SignatureError::Invalid)
    }
}

/// The bytes an STH signature covers: version 0, signature_type 1 (tree_hash), timestamp,
/// tree_size, root.
pub fn tree_head_signature_input(head: &TreeHead) -> Vec<u8> {
    let mut out = Vec::with_capacity(50);
    out.push(0); // Version v1.
    out.push(1); // SignatureType tree_hash.
    out.extend_from_slice(&head.timestamp.to_be_bytes());
    out.extend_from_slice(&head.tree_size.to_be_bytes());
    out.extend_from_slice(&head.root_hash);
    out
}

/// Verify an STH's signature.
pub fn verify_sth(key: &LogKey, sth: &SignedTreeHead) -> Result<(), SignatureError> {
    key.verify_digitally_signed(&tree_head_signature_input(&sth.head), &sth.signature)
}

/// DER SubjectPublicKeyInfo of a P-256 key from its 65-byte uncompressed point.
pub fn p256_spki_der(point: &[u8; 65]) -> Vec<u8> {
    let mut out = P256_SPKI_PREFIX.to_vec();
    out.extend_from_slice(point);
    out
}

/// An ECDSA P-256 log signing key, for test logs and tests. Signatures are DER
/// ECDSA-Sig-Values wrapped in a `DigitallySigned` (SHA-256, ECDSA).
pub struct LogSigner {
    key_pair: signature::EcdsaKeyPair,
    pkcs8: Vec<u8>,
    spki_der: Vec<u8>,
    rng: ring::rand::SystemRandom,
}

impl std::fmt::Debug for LogSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogSigner").field("log_id", &hex::encode(self.log_id())).finish_non_exhaustive()
    }
}

impl LogSigner {
    /// A fresh random key.
    ///
    /// # Panics
    ///
    /// Panics if the operating system's random number generator fails.
    pub fn generate() -> Self {
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = signature::EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_ASN1_SIGNING, &rng)
            .expect("the system random number generator failed");
        Self::from_pkcs8(pkcs8.as_ref()).expect("ring rejected a key it just generated")
    }

    /// Load a PKCS#8 (v1 or v2) P-256 private key.
    pub fn from_pkcs8(pkcs8: &[u8]) -> Result<Self, SignatureError> {
        let rng = ring::rand::SystemRandom::new();
        let key_pair = signature::EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8, &rng)
            .map_err(|e| SignatureError::BadKey(format!("not a P-256 PKCS#8 key: {e}")))?;
        let point: &[u8; 65] = key_pair
            .public_key()
            .as_ref()
            .try_into()
            .map_err(|_| SignatureError::BadKey("public point is not 65 bytes".into()))?;
        let spki_der = p256_spki_der(point);
        Ok(Self { key_pair, pkcs8: pkcs8.to_vec(), spki_der, rng })
    }

    /// The PKCS#8 private key, to persist a test log's identity.
    pub fn pkcs8_der(&self) -> &[u8] {
        &self.pkcs8
    }

    /// DER SubjectPublicKeyInfo of the public key (what a log list publishes as `key`).
    pub fn spki_der(&self) -> &[u8] {
        &self.spki_der
    }

    /// The RFC 6962 LogID: SHA-256 of the SPKI.
    pub fn log_id(&self) -> Hash {
        crate::sha256(&self.spki_der)
    }

    /// The verifying key.
    pub fn log_key(&self) -> LogKey {
        LogKey {
            spki_der: self.spki_der.clone(),
            log_id: self.log_id(),
            algorithm: KeyAlgorithm::EcdsaP256,
            raw_key: self.key_pair.public_key().as_ref().to_vec(),
        }
    }

    /// Sign `message`, returning a complete `DigitallySigned` (4/3).
    ///
    /// # Panics
    ///
    /// Panics if the operating system's random number generator fails.
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        let sig = self.key_pair.sign(&self.rng, message).expect("ECDSA signing failed (random number generator)");
        digitally_signed(HASH_SHA256, SIG_ECDSA, sig.as_ref())
    }

    /// Sign a tree head.
    pub fn sign_tree_head(&self, head: &TreeHead) -> SignedTreeHead {
        SignedTreeHead { head: *head, signature: self.sign(&tree_head_signature_input(head)) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    fn b64(s: &str) -> Vec<u8> {
        let clean: String = s.split_whitespace().collect();
        base64::engine::general_purpose::STANDARD.decode(clean).unwrap()
    }

    /// A 2048-bit RSA key generated for these tests with `openssl genrsa 2048` (PKCS#8 DER).
    const RSA_PKCS8_B64: &str = "
        MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQDfG1W6L+9QPSQc2svkCaiml3bp8mdr8NzoE7fcqb0VliMG
        zPAx7kWgoG4tXHHFp8wbT5ZN6U2qImmVkIipHeB3eIoKGCJ/shVKcKny/TveuWI0UB/nf8uJ+zk+vJDGnqb1XBmZ89jVvr5Q
        +pxoABGEubgVEUTLG+Sd0pK4lwzmyDkyEuh8Lylx3IH1iWoBS8yyy3J4IXSAxon7wvPelHFb44/4bbPhT1QX2glG4y059Ha4
        RmWVuUhWSSTgDl6yEy7cpNZ6muAPBYVhWhoFS7mAtzkr23CT4+XTtBj9nbyIHOYLR6xQ6AjMVIN9IuWZCGkUBmPRNe7Pq0iI
        rjujlXf1AgMBAAECggEAOnt01lBYX+UXAUVNKuJpRfnwHtT+zSmfDmqUyI/p062+UrsHv17g+4DyQIu5+wDIHOSY1qVwSUep
        +52eZQ5C165OKOU4rdZlhFTSB7LfrbtUhbf3FPzHwsyKrepJ3PabdzeEMnnb/fN4+csnko9qCCuSmFsleERAgio/cYmOxTN7
        ZVaRnR8Hozj5veOrP08AS6uWnxyo3ObS/CPnWQY26MgklkolHHmZu3rrFXB2mDcbta9W/95608zMnkbuGly7RsifmpXv8z93
        LG341j9SBpEOBimeXhbZx5tH2N8r8tVsrCH5JXBEatyT1r9i2pjOOn5xFDu6g6/LMmrF+OA/pQKBgQD8x5iBV8dH3n46rUnB
        aWf0BX4b5WcjDubejawu+KjlJG3/yNXthan5fSrOqZqjwzWQmht6ynbdSsr2GA04diKCh28iOM8iJKru98pOXA3WaMQyuuyU
        8DDTk9OdFyRaw9U9lqn1EH9IiAXQs0rhs4X81ayLIptHXztTpHnH6vJPTwKBgQDh8vceJHDe3+kH3JdTElIJfFI8jxKY82QT
        Ka0IY9U5w697QdY5CK0lADdovtHEqLdcEdAvIYyeiq+yEOWAKbAQWMmo0vonQRtK9ywkeSai0sIuytOjoKQvrIpu/jKdicjK
        XS4+zuUnhTDAAGlI95cvDUTbIXxgi2uMILjVuLGTewKBgQCcFVbazuuzOfQxoRzAu6g/qkCTUxRbNnFiDJK8Mjh/vP3bChTm
        ZDlvX1VWZK2i3v+tOSssp+W7gNpQGMvZCEEI3j3GINPtnjyZ8BFQT1EQCoLTXE6HLMTJcCcjgc2l6fQ64lQxiS0/CRamJn9f
        XC2oz/uJsiW1bV1BqXa09iMGywKBgBuyzzxwty17QXPnRN24JzpmdSZbW6pIXAJFX6Lhqif0pzRy87H2MFOS3TgH/GshS6kL
        vfupHzXoRnWLwLafZaf7Wm1Jv8TEJHZiKpUmDOh08b0OvDcY4Ee/3RCSNN4/H9A+8AZfEpRvrXQ8GKwLPgtUkxZR2o9zR/Hb
        qQz6ITq1AoGAH24WTPBSQmUrxSvYjfofIYV3ZCw4KlBX8+p1e/b1Xg4Sl4lLu1Gx88uWfpFPBE+Ym0bpOw//OuOzae5+hnN5
        sQ5avS1RZz9PoLgt7jMmLf2QbHmWYn8EfFX2uF/HaDsEm4rRnCBloi7IkNRzvLgoQggWbDQiavU6vniQMyakAJ4=
    ";
    /// Its SubjectPublicKeyInfo (`openssl rsa -pubout -outform DER`).
    const RSA_SPKI_B64: &str = "
        MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA3xtVui/vUD0kHNrL5Amoppd26fJna/Dc6BO33Km9FZYjBszwMe5F
        oKBuLVxxxafMG0+WTelNqiJplZCIqR3gd3iKChgif7IVSnCp8v073rliNFAf53/Lifs5PryQxp6m9VwZmfPY1b6+UPqcaAAR
        hLm4FRFEyxvkndKSuJcM5sg5MhLofC8pcdyB9YlqAUvMsstyeCF0gMaJ+8Lz3pRxW+OP+G2z4U9UF9oJRuMtOfR2uEZllblI
        Vkkk4A5eshMu3KTWeprgDwWFYVoaBUu5gLc5K9twk+Pl07QY/Z28iBzmC0esUOgIzFSDfSLlmQhpFAZj0TXuz6tIiK47o5V3
        9QIDAQAB
    ";
    /// `openssl dgst -sha256 -sign` with the RSA key over `tree_head_signature_input(&head())`.
    const RSA_SIG_B64: &str = "
        GgFEtK2+mH9BtKu48ZqPNCxO9ApJnYHk62XlGqjacX5IMG3VVikKT6U8PpGyE3mXHbctWCngpvbay8AvmvadJ51Vv5AUOhXJ
        FXF9mUJWksZcfEpPmOM9nD9jL2V6dEXXhVhOdPayXUu2/FeymF303AMy1t/Uv+PRXs9WjRG/i/HpS/WZIUg+27cX8RBpV0K2
        lcXaNpF9itP6w4DvORpaR8EmWvOquHHhEnQsRgAvq/Cc+HLM4nADKrcdYLVfbDmSHA9lt6jRIxvhulvviiVmjrDprJw0gtPR
        70xQ7yxteEFyPSQToS1csOX5ZUON67TZwBD7BWghKZCROkJPsiExbA==
    ";
    /// A P-256 key made with `openssl ecparam -name prime256v1 -genkey` (SPKI DER) and its
    /// `openssl dgst -sha256 -sign` signature over `tree_head_signature_input(&head())`.
    const EC_SPKI_B64: &str = "
        MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEsemF7xFbDSd5D0uLhwVdcyuc7ZH7N36Z1VS7YOqi/6kLKjAmZdE0mNwo1Iz4
        XBI1pXxg5VHPZ34wf54gZZThaQ==
    ";
    const EC_SIG_B64: &str = "
        MEYCIQClkR7DdtHwOdDQG2NY9yz9N4tksiajG+47EzVjFJ3ZgwIhAJsZwlW43i+CwKLXLaFpCjiL16k7DQbPLBwdJ5PjtkvJ
    ";

    /// The tree head the openssl signatures above cover.
    fn head() -> TreeHead {
        TreeHead { tree_size: 1_234_567, timestamp: 1_700_000_000_000, root_hash: crate::sha256(b"ctwatch test root") }
    }

    #[test]
    fn signature_input_layout() {
        let input = tree_head_signature_input(&head());
        assert_eq!(input.len(), 50);
        assert_eq!(&input[..2], &[0, 1]);
        assert_eq!(&input[2..10], &1_700_000_000_000u64.to_be_bytes());
        assert_eq!(&input[10..18], &1_234_567u64.to_be_bytes());
        assert_eq!(&input[18..], &head().root_hash);
    }

    #[test]
    fn digitally_signed_encoding() {
        assert_eq!(digitally_signed(4, 3, b"abc"), vec![4, 3, 0, 3, b'a', b'b', b'c']);
        let ds = DigitallySigned::decode(&[4, 1, 0, 2, 9, 9]).unwrap();
        assert_eq!((ds.hash_algorithm, ds.signature_algorithm), (4, 1));
        assert_eq!(ds.signature, vec![9, 9]);
        assert_eq!(ds.encode(), vec![4, 1, 0, 2, 9, 9]);
        for bad in [&[][..], &[4, 3, 0], &[4, 3, 0, 2, 1], &[4, 3, 0, 1, 1, 1]] {
            assert!(matches!(DigitallySigned::decode(bad), Err(SignatureError::Malformed(_))));
        }
    }

    #[test]
    fn openssl_ec_signature_verifies() {
        let key = LogKey::from_spki_der(&b64(EC_SPKI_B64)).unwrap();
        assert_eq!(key.algorithm, KeyAlgorithm::EcdsaP256);
        assert_eq!(key.log_id, crate::sha256(&b64(EC_SPKI_B64)));
        let sth = SignedTreeHead { head: head(), signature: digitally_signed(4, 3, &b64(EC_SIG_B64)) };
        verify_sth(&key, &sth).unwrap();
        let mut other = sth.clone();
        other.head.tree_size += 1;
        assert_eq!(verify_sth(&key, &other), Err(SignatureError::Invalid));
        let wrong_alg = SignedTreeHead { signature: digitally_signed(4, 1, &b64(EC_SIG_B64)), ..sth };
        assert_eq!(verify_sth(&key, &wrong_alg), Err(SignatureError::AlgorithmMismatch { hash: 4, sig: 1 }));
    }

    #[test]
    fn openssl_rsa_signature_verifies() {
        let key = LogKey::from_spki_der(&b64(RSA_SPKI_B64)).unwrap();
        assert_eq!(key.algorithm, KeyAlgorithm::Rsa);
        let sig = b64(RSA_SIG_B64);
        let sth = SignedTreeHead { head: head(), signature: digitally_signed(4, 1, &sig) };
        verify_sth(&key, &sth).unwrap();
        let mut tampered = sig.clone();
        tampered[100] ^= 1;
        let bad = SignedTreeHead { head: head(), signature: digitally_signed(4, 1, &tampered) };
        assert_eq!(verify_sth(&key, &bad), Err(SignatureError::Invalid));
        for (hash, alg) in [(4, 3), (2, 1), (5, 1)] {
            let bad = SignedTreeHead { head: head(), signature: digitally_signed(hash, alg, &sig) };
            assert_eq!(verify_sth(&key, &bad), Err(SignatureError::AlgorithmMismatch { hash, sig: alg }));
        }
    }

    #[test]
    fn rsa_signatures_made_with_ring_verify() {
        let pair = ring::signature::RsaKeyPair::from_pkcs8(&b64(RSA_PKCS8_B64)).unwrap();
        let key = LogKey::from_spki_der(&b64(RSA_SPKI_B64)).unwrap();
        let rng = ring::rand::SystemRandom::new();
        let message = b"any message";
        let mut sig = vec![0u8; pair.public().modulus_len()];
        pair.sign(&ring::signature::RSA_PKCS1_SHA256, &rng, message, &mut sig).unwrap();
        key.verify_digitally_signed(message, &digitally_signed(4, 1, &sig)).unwrap();
        assert_eq!(
            key.verify_digitally_signed(b"another message", &digitally_signed(4, 1, &sig)),
            Err(SignatureError::Invalid)
        );
    }

    #[test]
    fn log_signer_roundtrip() {
        let signer = LogSigner::generate();
        let key = signer.log_key();
        assert_eq!(key.spki_der, signer.spki_der());
        assert_eq!(key.log_id, signer.log_id());
        // The SPKI we build parses back to the same key.
        let parsed = LogKey::from_spki_der(signer.spki_der()).unwrap();
        assert_eq!(parsed, key);
        let sth = signer.sign_tree_head(&head());
        verify_sth(&key, &sth).unwrap();
        // Tampering with any part of the head or signature fails.
        let mut other = sth.clone();
        other.head.timestamp += 1;
        assert_eq!(verify_sth(&key, &other), Err(SignatureError::Invalid));
        let mut other = sth.clone();
        other.head.root_hash[0] ^= 1;
        assert_eq!(verify_sth(&key, &other), Err(SignatureError::Invalid));
        let mut other = sth.clone();
        let last = other.signature.len() - 1;
        other.signature[last] ^= 1;
        assert_eq!(verify_sth(&key, &other), Err(SignatureError::Invalid));
        // Algorithm bytes must say SHA-256/ECDSA.
        let mut other = sth.clone();
        other.signature[0] = 2;
        assert_eq!(verify_sth(&key, &other), Err(SignatureError::AlgorithmMismatch { hash: 2, sig: 3 }));
        let mut other = sth.clone();
        other.signature[1] = 1;
        assert_eq!(verify_sth(&key, &other), Err(SignatureError::AlgorithmMismatch { hash: 4, sig: 1 }));
        // The length field must match exactly.
        let mut other = sth.clone();
        other.signature.push(0);
        assert!(matches!(verify_sth(&key, &other), Err(SignatureError::Malformed(_))));
        // Another signer's signature fails.
        let stranger = LogSigner::generate();
        assert_ne!(stranger.log_id(), signer.log_id());
        assert_eq!(verify_sth(&stranger.log_key(), &sth), Err(SignatureError::Invalid));
        // Reloading from PKCS#8 keeps the identity.
        let reloaded = LogSigner::from_pkcs8(signer.pkcs8_der()).unwrap();
        assert_eq!(reloaded.log_id(), signer.log_id());
        verify_sth(&key, &reloaded.sign_tree_head(&head())).unwrap();
        assert!(format!("{signer:?}").contains(&hex::encode(signer.log_id())));
    }

    #[test]
    fn bad_keys_are_rejected() {
        let ec = b64(EC_SPKI_B64);
        assert!(matches!(LogKey::from_spki_der(&[]), Err(SignatureError::BadKey(_))));
        assert!(matches!(LogKey::from_spki_der(b"not der"), Err(SignatureError::BadKey(_))));
        let mut trailing = ec.clone();
        trailing.push(0);
        assert!(matches!(LogKey::from_spki_der(&trailing), Err(SignatureError::BadKey(_))));
        for cut in 0..ec.len() {
            assert!(LogKey::from_spki_der(&ec[..cut]).is_err(), "cut at {cut}");
        }
        // P-384 (secp384r1) is not an allowed curve: a P-384 SPKI header with a dummy point.
        let mut p384 = vec![
            0x30, 0x76, 0x30, 0x10, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x05, 0x2b, 0x81, 0x04,
            0x00, 0x22, 0x03, 0x62, 0x00, 0x04,
        ];
        p384.extend_from_slice(&[1u8; 96]);
        let err = LogKey::from_spki_der(&p384).unwrap_err();
        assert!(matches!(&err, SignatureError::BadKey(m) if m.contains("not P-256")), "{err}");
        // A compressed P-256 point is rejected.
        let mut compressed = vec![
            0x30, 0x39, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48,
            0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x22, 0x00, 0x02,
        ];
        compressed.extend_from_slice(&[1u8; 32]);
        assert!(matches!(LogKey::from_spki_der(&compressed), Err(SignatureError::BadKey(_))));
        // Ed25519 is not an RFC 6962 log key.
        let mut ed25519 = vec![0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00];
        ed25519.extend_from_slice(&[5u8; 32]);
        assert!(matches!(LogKey::from_spki_der(&ed25519), Err(SignatureError::BadKey(_))));
    }

    #[test]
    fn p256_spki_prefix_matches_openssl() {
        let ec = b64(EC_SPKI_B64);
        let point: [u8; 65] = ec[26..].try_into().unwrap();
        assert_eq!(p256_spki_der(&point), ec);
    }
}

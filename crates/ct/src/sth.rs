//! Tree heads and their signatures (RFC 6962 §3.5, §3.2 `DigitallySigned`).

use crate::Hash;

/// The three numbers a signed tree head commits to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TreeHead {
    pub tree_size: u64,
    /// Milliseconds since the Unix epoch.
    pub timestamp: u64,
    pub root_hash: Hash,
}

/// A tree head with its raw `DigitallySigned` signature (as it appears in get-sth's
/// `tree_head_signature` or inside a checkpoint's RFC6962NoteSignature).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedTreeHead {
    pub head: TreeHead,
    pub signature: Vec<u8>,
}

/// Signature/key errors.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignatureError {
    #[error("unsupported or malformed public key: {0}")]
    BadKey(String),
    #[error("malformed DigitallySigned: {0}")]
    Malformed(String),
    #[error("hash/signature algorithm {hash}/{sig} does not match the log key")]
    AlgorithmMismatch { hash: u8, sig: u8 },
    #[error("signature does not verify")]
    Invalid,
}

/// The log key algorithms RFC 6962 allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAlgorithm {
    EcdsaP256,
    Rsa,
}

/// A log's public key, parsed from its DER SubjectPublicKeyInfo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogKey {
    /// DER SubjectPublicKeyInfo as published in the log list.
    pub spki_der: Vec<u8>,
    /// SHA-256 of `spki_der`: the RFC 6962 LogID.
    pub log_id: Hash,
    pub algorithm: KeyAlgorithm,
    /// The raw key `ring` verifies with (EC point, or PKCS#1 RSAPublicKey).
    raw_key: Vec<u8>,
}

impl LogKey {
    /// Parse a DER SPKI. Accepts id-ecPublicKey with prime256v1 and rsaEncryption.
    pub fn from_spki_der(spki_der: &[u8]) -> Result<Self, SignatureError> {
        todo!()
    }

    /// Verify a TLS `DigitallySigned` blob over `message` with this key (SHA-256 only).
    pub fn verify_digitally_signed(&self, message: &[u8], digitally_signed: &[u8]) -> Result<(), SignatureError> {
        todo!()
    }
}

/// The bytes an STH signature covers: version 0, signature_type 1 (tree_hash), timestamp,
/// tree_size, root.
pub fn tree_head_signature_input(head: &TreeHead) -> Vec<u8> {
    todo!()
}

/// Verify an STH's signature.
pub fn verify_sth(key: &LogKey, sth: &SignedTreeHead) -> Result<(), SignatureError> {
    key.verify_digitally_signed(&tree_head_signature_input(&sth.head), &sth.signature)
}

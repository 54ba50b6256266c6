//! C2SP signed-note checkpoints as served by static-ct-api logs at `<monitoring>/checkpoint`.

use crate::sth::{LogKey, SignedTreeHead};
use crate::Hash;

/// Checkpoint parse/verify errors.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CheckpointError {
    #[error("malformed checkpoint: {0}")]
    Malformed(String),
    #[error("checkpoint origin {found:?} is not the expected {expected:?}")]
    WrongOrigin { expected: String, found: String },
    #[error("no signature from the log key (key id {key_id})")]
    NoSignature { key_id: String },
    #[error("signature does not verify: {0}")]
    BadSignature(#[from] crate::sth::SignatureError),
}

/// One `— <name> <base64>` signature line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteSignature {
    pub name: String,
    pub key_id: [u8; 4],
    /// The bytes after the key ID.
    pub signature: Vec<u8>,
}

/// A parsed (not yet verified) checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub origin: String,
    pub tree_size: u64,
    pub root_hash: Hash,
    /// Extension lines after the root, verbatim.
    pub extensions: Vec<String>,
    /// The note text that signatures cover: everything up to and including the newline before
    /// the blank line.
    pub body: String,
    pub signatures: Vec<NoteSignature>,
}

/// Parse a signed note checkpoint (strict: trailing newline, blank line, well-formed
/// signature lines, decimal size without leading zeros, 32-byte root).
pub fn parse_checkpoint(text: &[u8]) -> Result<Checkpoint, CheckpointError> {
    todo!()
}

/// static-ct-api key ID: first 4 bytes of SHA-256(origin ‖ 0x0A ‖ 0x05 ‖ log_id).
pub fn rfc6962_note_key_id(origin: &str, log_id: &Hash) -> [u8; 4] {
    todo!()
}

/// Find the log's RFC6962NoteSignature (timestamp u64 ‖ DigitallySigned), check origin, verify
/// it as an STH signature, and return the signed tree head. Unknown signatures are ignored.
pub fn verify_checkpoint(
    checkpoint: &Checkpoint,
    expected_origin: &str,
    key: &LogKey,
) -> Result<SignedTreeHead, CheckpointError> {
    todo!()
}

/// Produce a signed checkpoint text (used by the test log). `sign` signs the STH signature
/// input and returns a DigitallySigned blob.
pub fn format_checkpoint(origin: &str, sth: &SignedTreeHead, log_id: &Hash) -> String {
    todo!()
}

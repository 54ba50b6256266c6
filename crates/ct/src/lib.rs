//! Pure Certificate Transparency types and math: no IO, no async, no SQLite.
//!
//! This crate knows the bytes of RFC 6962 and C2SP static-ct-api and nothing about how they
//! travel. Its main parts:
//!
//! - [`merkle`]: leaf and node hashes, [`merkle::CompactRange`] (the right edge of a tree being
//!   built leaf by leaf), consistency and inclusion proof verification (RFC 6962 §2.1).
//! - [`wire`]: `MerkleTreeLeaf` / `TimestampedEntry`, `extra_data` chains and static-ct-api
//!   `TileLeaf` decoding and encoding.
//! - [`sth`]: tree heads, log public keys ([`sth::LogKey`]), `DigitallySigned` verification,
//!   and [`sth::LogSigner`], a P-256 signing key for test logs.
//! - [`checkpoint`]: signed-note checkpoints of tiled logs (parse, verify, format).
//! - [`tile`]: tile path naming.
//! - [`loglist`]: Chrome/Apple v3 log lists.
//!
//! Every parser takes untrusted bytes and returns an error value; none of them panics.
//!
//! ```
//! use ctwatch_ct::merkle::{leaf_hash, CompactRange};
//! let mut tree = CompactRange::new();
//! tree.append(leaf_hash(b"first"));
//! tree.append(leaf_hash(b"second"));
//! assert_eq!(tree.size(), 2);
//! ```

pub mod checkpoint;
pub mod loglist;
pub mod merkle;
pub mod sth;
pub mod tile;
pub mod wire;

/// A SHA-256 digest: Merkle hashes, log IDs, SPKI fingerprints.
pub type Hash = [u8; 32];

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> Hash {
    use sha2::Digest;
    sha2::Sha256::digest(data).into()
}

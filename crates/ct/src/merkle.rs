//! RFC 6962 §2.1 Merkle tree math.

use crate::Hash;

/// Errors from proof verification.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProofError {
    /// The sizes or indices given cannot describe a proof (e.g. `first > second`).
    #[error("invalid proof parameters: {0}")]
    InvalidInput(String),
    /// The proof has the wrong number of hashes for the tree sizes.
    #[error("proof has {found} hashes, expected {expected}")]
    WrongLength { expected: usize, found: usize },
    /// The proof does not lead to the expected root(s).
    #[error("proof does not verify: {0}")]
    Mismatch(String),
}

/// SHA-256(0x00 ‖ leaf_input).
pub fn leaf_hash(leaf_input: &[u8]) -> Hash {
    todo!()
}

/// SHA-256(0x01 ‖ left ‖ right).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    todo!()
}

/// Root of a tree from all its leaf hashes (MTH of RFC 6962 §2.1). The empty tree's root is
/// SHA-256 of the empty string.
pub fn root_from_leaf_hashes(leaves: &[Hash]) -> Hash {
    todo!()
}

/// The right edge of a Merkle tree of `size` leaves: one hash per set bit of `size`, largest
/// subtree first. Appending a leaf costs O(log n) hashes; the root is available at any size.
/// It is what a monitor persists with its cursor so a restart resumes verification.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CompactRange {
    size: u64,
    /// Roots of the perfect subtrees that make up the tree, largest (leftmost) first.
    peaks: Vec<Hash>,
}

impl CompactRange {
    /// The empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Rebuild from persisted parts; fails when `peaks.len()` is not the popcount of `size`.
    pub fn from_parts(size: u64, peaks: Vec<Hash>) -> Result<Self, ProofError> {
        todo!()
    }

    /// Number of leaves covered.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Subtree roots, largest first (for persistence).
    pub fn peaks(&self) -> &[Hash] {
        &self.peaks
    }

    /// Append one leaf hash.
    pub fn append(&mut self, leaf: Hash) {
        todo!()
    }

    /// Append the root of a perfect subtree of `2^height` leaves. The current size must be a
    /// multiple of `2^height` (used with static-ct-api hash tiles).
    pub fn append_subtree(&mut self, height: u32, root: Hash) -> Result<(), ProofError> {
        todo!()
    }

    /// MTH of the leaves appended so far.
    pub fn root(&self) -> Hash {
        todo!()
    }
}

/// Verify an RFC 6962 consistency proof between a tree of `first` leaves with root
/// `first_root` and a tree of `second` leaves with root `second_root` (RFC 9162 §2.1.4.2
/// algorithm). `first == second` requires an empty proof and equal roots; `first == 0` an empty
/// proof.
pub fn verify_consistency(
    first: u64,
    second: u64,
    first_root: &Hash,
    second_root: &Hash,
    proof: &[Hash],
) -> Result<(), ProofError> {
    todo!()
}

/// Verify an inclusion (audit) proof of `leaf` at `index` in a tree of `size` leaves.
pub fn verify_inclusion(
    index: u64,
    size: u64,
    leaf: &Hash,
    root: &Hash,
    proof: &[Hash],
) -> Result<(), ProofError> {
    todo!()
}

/// Compute a consistency proof from the full list of leaf hashes (used by the test log).
pub fn consistency_proof(first: u64, leaves: &[Hash]) -> Vec<Hash> {
    todo!()
}

/// Compute an inclusion proof from the full list of leaf hashes (used by the test log).
pub fn inclusion_proof(index: u64, leaves: &[Hash]) -> Vec<Hash> {
    todo!()
}

//! The log's Merkle tree, kept as every level of complete subtree hashes so that roots, proofs
//! and static-ct-api hash tiles at any size cost O(log² n) lookups instead of rehashing.

use ctwatch_ct::merkle::node_hash;
use ctwatch_ct::{Hash, sha256};

/// All complete-subtree hashes of a tree: `levels[k][i]` is the root of leaves
/// `[i·2^k, (i+1)·2^k)`. Level 0 holds the leaf hashes.
#[derive(Debug, Clone, Default)]
pub(crate) struct Tree {
    levels: Vec<Vec<Hash>>,
}

impl Tree {
    /// Number of leaves.
    pub(crate) fn size(&self) -> u64 {
        self.levels.first().map_or(0, |l| l.len() as u64)
    }

    /// Append one leaf hash, completing whatever subtrees it completes.
    pub(crate) fn push(&mut self, leaf: Hash) {
        let mut level = 0;
        let mut hash = leaf;
        loop {
            if self.levels.len() == level {
                self.levels.push(Vec::new());
            }
            let nodes = &mut self.levels[level];
            nodes.push(hash);
            if !nodes.len().is_multiple_of(2) {
                return;
            }
            hash = node_hash(&nodes[nodes.len() - 2], &nodes[nodes.len() - 1]);
            level += 1;
        }
    }

    /// The leaf hash at `index`.
    pub(crate) fn leaf(&self, index: u64) -> Option<Hash> {
        self.levels.first()?.get(usize::try_from(index).ok()?).copied()
    }

    /// Complete-subtree hashes at `level`, indices `[start, start + count)`, if all exist.
    pub(crate) fn nodes(&self, level: usize, start: u64, count: u64) -> Option<&[Hash]> {
        let start = usize::try_from(start).ok()?;
        let end = start.checked_add(usize::try_from(count).ok()?)?;
        self.levels.get(level)?.get(start..end)
    }

    /// MTH of leaves `[start, start + size)` (`size > 0`, within the tree). Every range the
    /// RFC 6962 recursion asks for has a power-of-two-aligned left part, so this is a handful of
    /// lookups.
    fn range_hash(&self, start: u64, size: u64) -> Hash {
        if size.is_power_of_two() && start.is_multiple_of(size) {
            let level = size.trailing_zeros() as usize;
            if let Some(hash) = self.nodes(level, start / size, 1).and_then(<[Hash]>::first) {
                return *hash;
            }
        }
        let k = split_point(size);
        node_hash(&self.range_hash(start, k), &self.range_hash(start + k, size - k))
    }

    /// The root of the first `size` leaves (`size <= self.size()`).
    pub(crate) fn root(&self, size: u64) -> Hash {
        if size == 0 { sha256(&[]) } else { self.range_hash(0, size.min(self.size())) }
    }

    /// The RFC 6962 §2.1.1 audit path of leaf `index` in the tree of the first `size` leaves.
    pub(crate) fn inclusion_proof(&self, index: u64, size: u64) -> Vec<Hash> {
        let mut proof = Vec::new();
        self.path(index, 0, size, &mut proof);
        proof
    }

    fn path(&self, index: u64, start: u64, size: u64, proof: &mut Vec<Hash>) {
        if size <= 1 {
            return;
        }
        let k = split_point(size);
        if index < start + k {
            self.path(index, start, k, proof);
            proof.push(self.range_hash(start + k, size - k));
        } else {
            self.path(index, start + k, size - k, proof);
            proof.push(self.range_hash(start, k));
        }
    }

    /// The RFC 6962 §2.1.2 consistency proof from the first `first` leaves to the first
    /// `second` (empty when `first` is 0 or equals `second`).
    pub(crate) fn consistency_proof(&self, first: u64, second: u64) -> Vec<Hash> {
        let mut proof = Vec::new();
        if first > 0 && first < second {
            self.subproof(first, 0, second, true, &mut proof);
        }
        proof
    }

    fn subproof(&self, m: u64, start: u64, size: u64, complete: bool, proof: &mut Vec<Hash>) {
        if m == size {
            if !complete {
                proof.push(self.range_hash(start, size));
            }
            return;
        }
        let k = split_point(size);
        if m <= k {
            self.subproof(m, start, k, complete, proof);
            proof.push(self.range_hash(start + k, size - k));
        } else {
            self.subproof(m - k, start + k, size - k, false, proof);
            proof.push(self.range_hash(start, k));
        }
    }
}

/// The largest power of two strictly smaller than `size` (`size >= 2`).
fn split_point(size: u64) -> u64 {
    if size < 2 { 0 } else { 1 << (63 - (size - 1).leading_zeros()) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ctwatch_ct::merkle::{consistency_proof, inclusion_proof, leaf_hash, root_from_leaf_hashes};

    fn leaves(n: u64) -> Vec<Hash> {
        (0..n).map(|i| leaf_hash(&i.to_be_bytes())).collect()
    }

    #[test]
    fn split_point_is_the_largest_smaller_power_of_two() {
        assert_eq!(split_point(2), 1);
        assert_eq!(split_point(3), 2);
        assert_eq!(split_point(4), 2);
        assert_eq!(split_point(5), 4);
        assert_eq!(split_point(1 << 40), 1 << 39);
    }

    #[test]
    fn roots_and_proofs_agree_with_the_ct_crate() {
        let all = leaves(70);
        let mut tree = Tree::default();
        assert_eq!(tree.root(0), sha256(&[]));
        for leaf in &all {
            tree.push(*leaf);
        }
        for size in 1..=70u64 {
            let prefix = &all[..size as usize];
            assert_eq!(tree.root(size), root_from_leaf_hashes(prefix), "root of {size}");
            for index in [0, size / 2, size - 1] {
                assert_eq!(tree.inclusion_proof(index, size), inclusion_proof(index, prefix), "path {index}/{size}");
            }
            for first in [1, size / 3, size / 2, size - 1] {
                if first > 0 && first < size {
                    assert_eq!(
                        tree.consistency_proof(first, size),
                        consistency_proof(first, prefix),
                        "{first}->{size}"
                    );
                }
            }
        }
    }
}

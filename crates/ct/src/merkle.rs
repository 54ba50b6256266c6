//! RFC 6962 §2.1 (and RFC 9162 §2.1) Merkle tree math.
//!
//! Hashes are SHA-256 with one-byte domain separation: leaves are `SHA-256(0x00 ‖ input)` and
//! interior nodes `SHA-256(0x01 ‖ left ‖ right)`. A tree of `n` leaves splits at the largest
//! power of two strictly smaller than `n`, so every tree is a sequence of perfect subtrees whose
//! sizes are the set bits of `n`, largest first; [`CompactRange`] stores exactly those roots.
//!
//! Verification follows RFC 9162 §2.1.3.2 and §2.1.4.2. Proof *generation*
//! ([`inclusion_proof`], [`consistency_proof`]) follows the recursive definitions of RFC 6962
//! §2.1.1 and §2.1.2 over the full leaf list; it costs O(n) per call and is meant for test logs.

use crate::Hash;

/// Errors from proof verification and compact-range bookkeeping.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProofError {
    /// The sizes or indices given cannot describe a proof (e.g. `first > second`).
    #[error("invalid proof parameters: {0}")]
    InvalidInput(String),
    /// The proof has the wrong number of hashes for the tree sizes.
    #[error("proof has {found} hashes, expected {expected}")]
    WrongLength {
        /// The number of hashes the tree sizes call for.
        expected: usize,
        /// The number of hashes the proof has.
        found: usize,
    },
    /// The proof does not lead to the expected root(s).
    #[error("proof does not verify: {0}")]
    Mismatch(String),
}

/// SHA-256(0x00 ‖ leaf_input).
pub fn leaf_hash(leaf_input: &[u8]) -> Hash {
    use sha2::Digest;
    let mut hasher = sha2::Sha256::new();
    hasher.update([0x00]);
    hasher.update(leaf_input);
    hasher.finalize().into()
}

/// SHA-256(0x01 ‖ left ‖ right).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    use sha2::Digest;
    let mut hasher = sha2::Sha256::new();
    hasher.update([0x01]);
    hasher.update(left);
    hasher.update(right);
    hasher.finalize().into()
}

/// The largest power of two strictly smaller than `n` (`n` must be at least 2): where RFC 6962
/// splits a tree of `n` leaves.
fn split_point(n: usize) -> usize {
    debug_assert!(n >= 2);
    let k = 1usize << (usize::BITS - 1 - (n - 1).leading_zeros());
    debug_assert!(k < n && 2 * k >= n);
    k
}

/// Root of a tree from all its leaf hashes (MTH of RFC 6962 §2.1). The empty tree's root is
/// SHA-256 of the empty string.
pub fn root_from_leaf_hashes(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => crate::sha256(&[]),
        1 => leaves[0],
        n => {
            let k = split_point(n);
            node_hash(&root_from_leaf_hashes(&leaves[..k]), &root_from_leaf_hashes(&leaves[k..]))
        }
    }
}

/// The right edge of a Merkle tree of `size` leaves: one hash per set bit of `size`, largest
/// subtree first. Appending a leaf costs O(log n) hashes; the root is available at any size.
/// It is what a monitor persists with its cursor so a restart resumes verification.
///
/// Invariant: `peaks.len() == size.count_ones()`, and `peaks[i]` is the root of the perfect
/// subtree for the `i`-th set bit of `size` counted from the most significant one.
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
        let expected = size.count_ones() as usize;
        if peaks.len() != expected {
            return Err(ProofError::InvalidInput(format!(
                "a compact range of size {size} has {expected} subtree roots, got {}",
                peaks.len()
            )));
        }
        Ok(Self { size, peaks })
    }

    /// Build the compact range of a whole leaf list.
    pub fn from_leaf_hashes(leaves: &[Hash]) -> Self {
        let mut range = Self::new();
        for leaf in leaves {
            range.append(*leaf);
        }
        range
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
    ///
    /// # Panics
    ///
    /// Panics if the tree already has `u64::MAX` leaves.
    pub fn append(&mut self, leaf: Hash) {
        self.push_subtree(0, leaf);
    }

    /// Append the root of a perfect subtree of `2^height` leaves. The current size must be a
    /// multiple of `2^height` (used with static-ct-api hash tiles).
    pub fn append_subtree(&mut self, height: u32, root: Hash) -> Result<(), ProofError> {
        if height >= 64 {
            return Err(ProofError::InvalidInput(format!("subtree height {height} is too large")));
        }
        let width = 1u64 << height;
        if !self.size.is_multiple_of(width) {
            return Err(ProofError::InvalidInput(format!(
                "cannot append a subtree of {width} leaves at size {}: size is not a multiple of it",
                self.size
            )));
        }
        if self.size.checked_add(width).is_none() {
            return Err(ProofError::InvalidInput(format!(
                "appending {width} leaves to {} overflows the tree size",
                self.size
            )));
        }
        self.push_subtree(height, root);
        Ok(())
    }

    /// Push a subtree root of the given height; the caller has checked alignment and overflow.
    fn push_subtree(&mut self, height: u32, root: Hash) {
        // Every existing peak covers at least 2^height leaves (alignment), so the new root goes
        // to the right and merges with its left neighbour for as long as the bits of the old
        // size at its level are set, exactly like carrying in binary addition.
        let mut carry = self.size >> height;
        self.peaks.push(root);
        while carry & 1 == 1 {
            // Two or more peaks are present whenever a carry happens; the `if let` only keeps
            // this free of indexing.
            if let (Some(right), Some(left)) = (self.peaks.pop(), self.peaks.pop()) {
                self.peaks.push(node_hash(&left, &right));
            }
            carry >>= 1;
        }
        self.size = self.size.checked_add(1u64 << height).expect("Merkle tree size overflows u64");
    }

    /// MTH of the leaves appended so far.
    pub fn root(&self) -> Hash {
        let mut peaks = self.peaks.iter().rev();
        let Some(last) = peaks.next() else {
            return crate::sha256(&[]);
        };
        peaks.fold(*last, |acc, peak| node_hash(peak, &acc))
    }
}

/// Number of bits needed to represent `x` (0 for 0).
fn bit_len(x: u64) -> u32 {
    u64::BITS - x.leading_zeros()
}

/// Split an inclusion proof for `index` in a tree of `size` leaves into the number of hashes
/// below the point where the path leaves the right border (`inner`) and the number of
/// border hashes above it (`border`).
fn decompose_inclusion(index: u64, size: u64) -> (u32, u32) {
    let inner = bit_len(index ^ (size - 1));
    let border = (index >> inner).count_ones();
    (inner, border)
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
    if first > second {
        return Err(ProofError::InvalidInput(format!(
            "first tree size {first} is larger than second tree size {second}"
        )));
    }
    if first == second || first == 0 {
        if !proof.is_empty() {
            return Err(ProofError::WrongLength { expected: 0, found: proof.len() });
        }
        if first == second && first_root != second_root {
            return Err(ProofError::Mismatch(format!("trees of equal size {first} have different roots")));
        }
        return Ok(());
    }

    // The proof starts with the root of the largest perfect subtree on the right edge of the
    // first tree, unless the first tree is itself perfect: then that root is `first_root`.
    let shift = first.trailing_zeros();
    let (inner, border) = decompose_inclusion(first - 1, second);
    let inner = inner - shift;
    let first_is_perfect = first == 1u64 << shift;
    let expected = (inner + border) as usize + usize::from(!first_is_perfect);
    if proof.len() != expected {
        return Err(ProofError::WrongLength { expected, found: proof.len() });
    }
    let (seed, rest) = if first_is_perfect {
        (*first_root, proof)
    } else {
        match proof.split_first() {
            Some((seed, rest)) => (*seed, rest),
            None => return Err(ProofError::WrongLength { expected, found: 0 }),
        }
    };

    let mut fn_ = (first - 1) >> shift;
    let mut sn = (second - 1) >> shift;
    let mut fr = seed;
    let mut sr = seed;
    for c in rest {
        if sn == 0 {
            return Err(ProofError::Mismatch("consistency proof is too long".into()));
        }
        if fn_ & 1 == 1 || fn_ == sn {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn != 0 {
        return Err(ProofError::Mismatch("consistency proof is too short".into()));
    }
    if &fr != first_root {
        return Err(ProofError::Mismatch(format!("proof does not lead to the root of the tree of size {first}")));
    }
    if &sr != second_root {
        return Err(ProofError::Mismatch(format!("proof does not lead to the root of the tree of size {second}")));
    }
    Ok(())
}

/// Compute the root an inclusion proof leads to (RFC 9162 §2.1.3.2), after checking its length.
fn root_from_inclusion_proof(index: u64, size: u64, leaf: &Hash, proof: &[Hash]) -> Result<Hash, ProofError> {
    if index >= size {
        return Err(ProofError::InvalidInput(format!("leaf index {index} is not within a tree of size {size}")));
    }
    let (inner, border) = decompose_inclusion(index, size);
    let expected = (inner + border) as usize;
    if proof.len() != expected {
        return Err(ProofError::WrongLength { expected, found: proof.len() });
    }
    let mut fn_ = index;
    let mut sn = size - 1;
    let mut r = *leaf;
    for p in proof {
        if sn == 0 {
            return Err(ProofError::Mismatch("inclusion proof is too long".into()));
        }
        if fn_ & 1 == 1 || fn_ == sn {
            r = node_hash(p, &r);
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn != 0 {
        return Err(ProofError::Mismatch("inclusion proof is too short".into()));
    }
    Ok(r)
}

/// Verify an inclusion (audit) proof of `leaf` at `index` in a tree of `size` leaves.
pub fn verify_inclusion(index: u64, size: u64, leaf: &Hash, root: &Hash, proof: &[Hash]) -> Result<(), ProofError> {
    let computed = root_from_inclusion_proof(index, size, leaf, proof)?;
    if &computed != root {
        return Err(ProofError::Mismatch(format!(
            "inclusion proof for leaf {index} does not lead to the root of the tree of size {size}"
        )));
    }
    Ok(())
}

/// The compact range of the first `index` leaves, read off a verified inclusion proof of leaf
/// `index` in a tree of `size` leaves: the proof's left siblings are exactly the perfect
/// subtrees that make up `[0, index)`. With it a monitor can start verifying at `index` without
/// downloading what comes before (a backfill of `[index, m)`: append the range's leaves, then
/// prove `[0, m)` a prefix of a signed tree head).
///
/// The proof is verified against `root` first, so the result is as trustworthy as `root`.
pub fn compact_range_before(
    index: u64,
    size: u64,
    leaf: &Hash,
    root: &Hash,
    proof: &[Hash],
) -> Result<CompactRange, ProofError> {
    verify_inclusion(index, size, leaf, root, proof)?;
    let mut fn_ = index;
    let mut sn = size - 1;
    // Left siblings, smallest (lowest) first.
    let mut left = Vec::new();
    for p in proof {
        if fn_ & 1 == 1 || fn_ == sn {
            // A left sibling. When the node is the last of its level (fn_ == sn, even) it has
            // no sibling there: the element is the left sibling of the ancestor reached by
            // climbing while the node is a left child.
            left.push(*p);
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    left.reverse();
    CompactRange::from_parts(index, left)
}

/// Compute a consistency proof from the tree of the first `first` leaves to the tree of all
/// `leaves` (RFC 6962 §2.1.2 `PROOF(first, D[n])`). The proof is empty when `first` is 0, equal
/// to `leaves.len()`, or larger (an invalid request the caller should reject beforehand).
pub fn consistency_proof(first: u64, leaves: &[Hash]) -> Vec<Hash> {
    let mut proof = Vec::new();
    match usize::try_from(first) {
        Ok(m) if m > 0 && m < leaves.len() => subproof(m, leaves, true, &mut proof),
        _ => {}
    }
    proof
}

/// RFC 6962 `SUBPROOF(m, D[n], b)`, appending to `out` in proof order.
fn subproof(m: usize, leaves: &[Hash], complete: bool, out: &mut Vec<Hash>) {
    let n = leaves.len();
    if m == n {
        if !complete {
            out.push(root_from_leaf_hashes(leaves));
        }
        return;
    }
    // Here 0 < m < n, so n >= 2.
    let k = split_point(n);
    if m <= k {
        subproof(m, &leaves[..k], complete, out);
        out.push(root_from_leaf_hashes(&leaves[k..]));
    } else {
        subproof(m - k, &leaves[k..], false, out);
        out.push(root_from_leaf_hashes(&leaves[..k]));
    }
}

/// Compute an inclusion proof for the leaf at `index` in the tree of all `leaves` (RFC 6962
/// §2.1.1 `PATH(index, D[n])`). The proof is empty when `index` is out of range (an invalid
/// request the caller should reject beforehand) or the tree has one leaf.
pub fn inclusion_proof(index: u64, leaves: &[Hash]) -> Vec<Hash> {
    let mut proof = Vec::new();
    if let Ok(m) = usize::try_from(index)
        && m < leaves.len()
    {
        path(m, leaves, &mut proof);
    }
    proof
}

/// RFC 6962 `PATH(m, D[n])`, appending to `out` in proof order (leaf level first).
fn path(m: usize, leaves: &[Hash], out: &mut Vec<Hash>) {
    let n = leaves.len();
    if n <= 1 {
        return;
    }
    let k = split_point(n);
    if m < k {
        path(m, &leaves[..k], out);
        out.push(root_from_leaf_hashes(&leaves[k..]));
    } else {
        path(m - k, &leaves[k..], out);
        out.push(root_from_leaf_hashes(&leaves[..k]));
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn compact_range_before_matches_the_leaves_for_every_index_and_size() {
        let leaves: Vec<Hash> = (0..70u32).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        for size in 1..=leaves.len() {
            let tree = &leaves[..size];
            let root = root_from_leaf_hashes(tree);
            for index in 0..size {
                let proof = inclusion_proof(index as u64, tree);
                let range = compact_range_before(index as u64, size as u64, &tree[index], &root, &proof)
                    .unwrap_or_else(|e| panic!("index {index} size {size}: {e}"));
                assert_eq!(range, CompactRange::from_leaf_hashes(&tree[..index]), "index {index} size {size}");
                // Appending the rest gives the signed root.
                let mut rest = range.clone();
                for leaf in &tree[index..] {
                    rest.append(*leaf);
                }
                assert_eq!(rest.root(), root);
            }
        }
    }

    #[test]
    fn compact_range_before_rejects_a_proof_that_does_not_verify() {
        let leaves: Vec<Hash> = (0..13u32).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        let root = root_from_leaf_hashes(&leaves);
        let mut proof = inclusion_proof(6, &leaves);
        assert!(compact_range_before(6, 13, &leaves[6], &root, &proof).is_ok());
        assert!(compact_range_before(6, 13, &leaves[7], &root, &proof).is_err());
        assert!(compact_range_before(7, 13, &leaves[6], &root, &proof).is_err());
        assert!(compact_range_before(6, 13, &leaves[6], &[0; 32], &proof).is_err());
        proof[0][0] ^= 1;
        assert!(compact_range_before(6, 13, &leaves[6], &root, &proof).is_err());
        assert!(compact_range_before(13, 13, &leaves[6], &root, &[]).is_err());
    }
    use super::*;

    /// Leaf hashes of `n` distinct synthetic leaves.
    fn leaves(n: usize) -> Vec<Hash> {
        (0..n).map(|i| leaf_hash(format!("leaf {i}").as_bytes())).collect()
    }

    fn hex32(s: &str) -> Hash {
        hex::decode(s).unwrap().try_into().unwrap()
    }

    /// The eight leaf inputs of the RFC 6962 reference test vectors (also used by
    /// certificate-transparency-go and Trillian), and the roots of their prefixes.
    const RFC6962_INPUTS: [&str; 8] =
        ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"];
    const RFC6962_ROOTS: [&str; 8] = [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];

    #[test]
    fn empty_tree_root_is_sha256_of_nothing() {
        let empty = hex32("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        assert_eq!(root_from_leaf_hashes(&[]), empty);
        assert_eq!(CompactRange::new().root(), empty);
    }

    #[test]
    fn rfc6962_reference_roots() {
        let hashes: Vec<Hash> = RFC6962_INPUTS.iter().map(|h| leaf_hash(&hex::decode(h).unwrap())).collect();
        let mut range = CompactRange::new();
        for (i, expected) in RFC6962_ROOTS.iter().enumerate() {
            range.append(hashes[i]);
            assert_eq!(root_from_leaf_hashes(&hashes[..=i]), hex32(expected), "size {}", i + 1);
            assert_eq!(range.root(), hex32(expected), "compact range size {}", i + 1);
        }
    }

    #[test]
    fn rfc6962_reference_inclusion_and_consistency() {
        // Known RFC 6962 reference proofs for the 8-leaf tree.
        let hashes: Vec<Hash> = RFC6962_INPUTS.iter().map(|h| leaf_hash(&hex::decode(h).unwrap())).collect();
        let proof = inclusion_proof(0, &hashes);
        assert_eq!(
            proof,
            vec![
                hex32("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
                hex32("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
                hex32("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
            ]
        );
        let proof = consistency_proof(1, &hashes);
        assert_eq!(
            proof,
            vec![
                hex32("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
                hex32("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
                hex32("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
            ]
        );
        let proof = consistency_proof(6, &hashes);
        assert_eq!(
            proof,
            vec![
                hex32("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
                hex32("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
                hex32("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
            ]
        );
    }

    #[test]
    fn compact_range_root_matches_at_every_size() {
        let all = leaves(300);
        let mut range = CompactRange::new();
        for n in 1..=all.len() {
            range.append(all[n - 1]);
            assert_eq!(range.size(), n as u64);
            assert_eq!(range.peaks().len(), (n as u64).count_ones() as usize);
            assert_eq!(range.root(), root_from_leaf_hashes(&all[..n]), "size {n}");
            assert_eq!(CompactRange::from_leaf_hashes(&all[..n]), range);
        }
    }

    #[test]
    fn compact_range_peaks_are_perfect_subtree_roots() {
        let all = leaves(45); // 45 = 32 + 8 + 4 + 1
        let range = CompactRange::from_leaf_hashes(&all);
        assert_eq!(
            range.peaks(),
            &[
                root_from_leaf_hashes(&all[..32]),
                root_from_leaf_hashes(&all[32..40]),
                root_from_leaf_hashes(&all[40..44]),
                all[44],
            ]
        );
    }

    #[test]
    fn from_parts_checks_popcount() {
        let all = leaves(13);
        let range = CompactRange::from_leaf_hashes(&all);
        let rebuilt = CompactRange::from_parts(13, range.peaks().to_vec()).unwrap();
        assert_eq!(rebuilt, range);
        assert!(matches!(CompactRange::from_parts(13, range.peaks()[1..].to_vec()), Err(ProofError::InvalidInput(_))));
        assert!(CompactRange::from_parts(12, range.peaks().to_vec()).is_err());
        assert_eq!(CompactRange::from_parts(0, vec![]).unwrap(), CompactRange::new());
        // Appending after a rebuild continues the same tree.
        let mut resumed = CompactRange::from_parts(13, range.peaks().to_vec()).unwrap();
        let more = leaves(20);
        resumed.append(more[13]);
        let mut direct = all.clone();
        direct.push(more[13]);
        assert_eq!(resumed.root(), root_from_leaf_hashes(&direct));
    }

    #[test]
    fn append_subtree_equals_appending_leaves() {
        let all = leaves(1024);
        for height in 0..=6u32 {
            let width = 1usize << height;
            // Start from several aligned prefixes and append a few subtrees.
            for start_blocks in 0..5usize {
                let start = start_blocks * width;
                let mut by_subtree = CompactRange::from_leaf_hashes(&all[..start]);
                let mut end = start;
                for _ in 0..3 {
                    let root = root_from_leaf_hashes(&all[end..end + width]);
                    by_subtree.append_subtree(height, root).unwrap();
                    end += width;
                    let by_leaf = CompactRange::from_leaf_hashes(&all[..end]);
                    assert_eq!(by_subtree, by_leaf, "height {height}, end {end}");
                }
            }
        }
        // Tile-sized (height 8) subtrees, as with static-ct-api level-0 tiles.
        let mut tiles = CompactRange::new();
        tiles.append_subtree(8, root_from_leaf_hashes(&all[..256])).unwrap();
        tiles.append_subtree(8, root_from_leaf_hashes(&all[256..512])).unwrap();
        for leaf in &all[512..520] {
            tiles.append(*leaf);
        }
        tiles.append_subtree(3, root_from_leaf_hashes(&all[520..528])).unwrap();
        assert_eq!(tiles.root(), root_from_leaf_hashes(&all[..528]));
    }

    #[test]
    fn append_subtree_rejects_misalignment() {
        let all = leaves(8);
        let mut range = CompactRange::from_leaf_hashes(&all[..3]);
        let before = range.clone();
        assert!(matches!(range.append_subtree(1, all[0]), Err(ProofError::InvalidInput(_))));
        assert!(range.append_subtree(2, all[0]).is_err());
        assert!(range.append_subtree(64, all[0]).is_err());
        assert_eq!(range, before, "a rejected append must not change the range");
        // Height 0 is always aligned.
        range.append_subtree(0, all[3]).unwrap();
        assert_eq!(range.root(), root_from_leaf_hashes(&all[..4]));
        // Overflow is rejected, not a panic.
        let mut huge = CompactRange::from_parts(1u64 << 63, vec![all[0]]).unwrap();
        assert!(huge.append_subtree(63, all[1]).is_err());
    }

    #[test]
    fn inclusion_proofs_verify_for_all_sizes_and_indices() {
        let all = leaves(70);
        for size in 1..=all.len() {
            let tree = &all[..size];
            let root = root_from_leaf_hashes(tree);
            for index in 0..size {
                let proof = inclusion_proof(index as u64, tree);
                let (s, i) = (size as u64, index as u64);
                verify_inclusion(i, s, &tree[index], &root, &proof)
                    .unwrap_or_else(|e| panic!("size {size} index {index}: {e}"));
                // Wrong leaf, wrong root, wrong index, tampered, truncated, extended.
                let other = leaf_hash(b"not in the tree");
                assert!(verify_inclusion(i, s, &other, &root, &proof).is_err());
                assert!(verify_inclusion(i, s, &tree[index], &other, &proof).is_err());
                if size > 1 {
                    let wrong_index = (i + 1) % s;
                    assert!(verify_inclusion(wrong_index, s, &tree[index], &root, &proof).is_err());
                }
                for k in 0..proof.len() {
                    let mut bad = proof.clone();
                    bad[k][0] ^= 1;
                    assert!(verify_inclusion(i, s, &tree[index], &root, &bad).is_err());
                }
                if !proof.is_empty() {
                    let short = &proof[..proof.len() - 1];
                    assert!(matches!(
                        verify_inclusion(i, s, &tree[index], &root, short),
                        Err(ProofError::WrongLength { .. })
                    ));
                }
                let mut long = proof.clone();
                long.push(root);
                assert!(verify_inclusion(i, s, &tree[index], &root, &long).is_err());
                // A proof against a different tree size fails.
                if size < all.len() {
                    let bigger = root_from_leaf_hashes(&all[..size + 1]);
                    assert!(verify_inclusion(i, s + 1, &tree[index], &bigger, &proof).is_err());
                }
            }
            assert!(matches!(
                verify_inclusion(size as u64, size as u64, &all[0], &root, &[]),
                Err(ProofError::InvalidInput(_))
            ));
        }
        assert!(inclusion_proof(5, &all[..5]).is_empty());
        assert!(verify_inclusion(0, 0, &all[0], &all[0], &[]).is_err());
    }

    #[test]
    fn consistency_proofs_verify_for_all_pairs() {
        let all = leaves(70);
        let roots: Vec<Hash> = (0..=all.len()).map(|n| root_from_leaf_hashes(&all[..n])).collect();
        let junk = leaf_hash(b"junk");
        for second in 1..=all.len() {
            let tree = &all[..second];
            for first in 0..=second {
                let proof = consistency_proof(first as u64, tree);
                let (f, s) = (first as u64, second as u64);
                verify_consistency(f, s, &roots[first], &roots[second], &proof)
                    .unwrap_or_else(|e| panic!("{first} -> {second}: {e}"));
                if first == 0 {
                    assert!(proof.is_empty());
                    continue;
                }
                assert!(verify_consistency(f, s, &junk, &roots[second], &proof).is_err());
                assert!(verify_consistency(f, s, &roots[first], &junk, &proof).is_err());
                for k in 0..proof.len() {
                    let mut bad = proof.clone();
                    bad[k][31] ^= 0x80;
                    assert!(
                        verify_consistency(f, s, &roots[first], &roots[second], &bad).is_err(),
                        "{first} -> {second}: tampered hash {k} accepted"
                    );
                }
                if !proof.is_empty() {
                    let short = &proof[..proof.len() - 1];
                    assert!(verify_consistency(f, s, &roots[first], &roots[second], short).is_err());
                }
                let mut long = proof.clone();
                long.push(junk);
                assert!(verify_consistency(f, s, &roots[first], &roots[second], &long).is_err());
                // The proof does not fit other sizes.
                if first > 1 && first < second {
                    assert!(verify_consistency(f - 1, s, &roots[first - 1], &roots[second], &proof).is_err());
                }
            }
        }
    }

    #[test]
    fn consistency_edge_cases() {
        let all = leaves(10);
        let r5 = root_from_leaf_hashes(&all[..5]);
        let r10 = root_from_leaf_hashes(&all);
        assert!(matches!(verify_consistency(10, 5, &r10, &r5, &[]), Err(ProofError::InvalidInput(_))));
        assert!(verify_consistency(5, 5, &r5, &r5, &[]).is_ok());
        assert!(matches!(verify_consistency(5, 5, &r5, &r10, &[]), Err(ProofError::Mismatch(_))));
        assert!(matches!(
            verify_consistency(5, 5, &r5, &r5, &[r5]),
            Err(ProofError::WrongLength { expected: 0, found: 1 })
        ));
        assert!(verify_consistency(0, 10, &r5, &r10, &[]).is_ok());
        assert!(verify_consistency(0, 10, &r5, &r10, &[r5]).is_err());
        assert!(consistency_proof(11, &all).is_empty());
        assert!(consistency_proof(10, &all).is_empty());
    }

    #[test]
    fn proofs_for_larger_trees() {
        // A few spot checks on a tree that is not tiny, including the last leaf and big jumps.
        let all = leaves(1000);
        let root = root_from_leaf_hashes(&all);
        for index in [0usize, 1, 255, 256, 511, 777, 998, 999] {
            let proof = inclusion_proof(index as u64, &all);
            verify_inclusion(index as u64, 1000, &all[index], &root, &proof).unwrap();
        }
        for first in [1usize, 2, 3, 256, 257, 511, 512, 513, 999] {
            let proof = consistency_proof(first as u64, &all);
            let first_root = root_from_leaf_hashes(&all[..first]);
            verify_consistency(first as u64, 1000, &first_root, &root, &proof).unwrap();
        }
    }

    #[test]
    fn known_four_entry_root() {
        use base64::Engine;
        let Some(dir) = ctwatch_testdata::data_dir("ct_rfc6962/ctgo_scanner_four_entries") else {
            return;
        };
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("get-entries_0-3.json")).unwrap()).unwrap();
        let b64 = base64::engine::general_purpose::STANDARD;
        let hashes: Vec<Hash> = json["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| leaf_hash(&b64.decode(e["leaf_input"].as_str().unwrap()).unwrap()))
            .collect();
        assert_eq!(hashes.len(), 4);
        let expected = b64.decode("A26tmgcaUJpkFXFpkzCS8bJ29cQBEgExKAYFL8hiJ5E=").unwrap();
        assert_eq!(root_from_leaf_hashes(&hashes).to_vec(), expected);
        assert_eq!(CompactRange::from_leaf_hashes(&hashes).root().to_vec(), expected);
        // The STH shipped with the test data has a different (wrong) root.
        let wrong = b64.decode("0JBu0CkZnKXc1niEndDaqqgCRHucCfVt1/WBAXs/5T8=").unwrap();
        assert_ne!(root_from_leaf_hashes(&hashes).to_vec(), wrong);
    }
}

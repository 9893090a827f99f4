//! Tree roots, inclusion proofs and consistency proofs from stored hashes, exactly RFC 9162
//! §2.1.1, §2.1.3.1 and §2.1.4.1.
//!
//! The RFC defines the proofs recursively over the whole tree; here the recursion is walked down
//! once on sizes alone, which yields O(log n) subtree ranges. All of them are perfect (one stored
//! hash each) except at most one on the tree's right edge, composed from the perfect subtrees of
//! its binary decomposition. Nothing rebuilds the tree.

use super::node::split_point;
use super::plan::Plan;
use super::{HashReader, MerkleError, NodeId};
use crate::hash::{Hash, TreeHasher};

/// The root of the tree of the first `size` leaves (RFC 9162 §2.1.1 `MTH`).
///
/// Works for every size up to the stored one, so past checkpoints can be recomputed.
///
/// # Errors
/// [`MerkleError::NotStored`] if the store holds fewer than `size` leaves; store failures.
pub fn root<H, R>(hasher: &H, reader: &R, size: u64) -> Result<Hash, MerkleError>
where
    H: TreeHasher,
    R: HashReader + ?Sized,
{
    if size == 0 {
        return Ok(hasher.empty_root());
    }
    let mut plan = Plan::default();
    plan.push_range(0, size);
    let hashes = plan.resolve(hasher, reader, size)?;
    Ok(hashes[0])
}

/// The inclusion proof of leaf `index` in the tree of `size` leaves (RFC 9162 §2.1.3.1
/// `PATH(m, D[n])`), ordered from the leaf's sibling up to the root's child.
///
/// # Errors
/// [`MerkleError::IndexOutOfRange`] if `index >= size`; [`MerkleError::NotStored`] if the store
/// holds fewer than `size` leaves; store failures.
pub fn inclusion_proof<H, R>(
    hasher: &H,
    reader: &R,
    index: u64,
    size: u64,
) -> Result<Vec<Hash>, MerkleError>
where
    H: TreeHasher,
    R: HashReader + ?Sized,
{
    inclusion_proof_with_leaf(hasher, reader, index, size).map(|(_, proof)| proof)
}

/// The leaf hash at `index` and its inclusion proof in the tree of `size` leaves, in one read:
/// what the node's `GET /v1/proof/inclusion` answers.
///
/// # Errors
/// As [`inclusion_proof`].
pub fn inclusion_proof_with_leaf<H, R>(
    hasher: &H,
    reader: &R,
    index: u64,
    size: u64,
) -> Result<(Hash, Vec<Hash>), MerkleError>
where
    H: TreeHasher,
    R: HashReader + ?Sized,
{
    if index >= size {
        return Err(MerkleError::IndexOutOfRange { index, size });
    }
    // The leaf itself is read too: the node serves it with the proof, and when `index` is the
    // last leaf no proof hash covers it, so without it a too-large `size` would go unnoticed.
    let mut plan = Plan::default();
    plan.push_node(NodeId::leaf(index));
    let mut ranges = inclusion_ranges(index, size);
    ranges.reverse();
    for (start, end) in ranges {
        plan.push_range(start, end);
    }
    let mut hashes = plan.resolve(hasher, reader, size)?;
    let leaf = hashes.remove(0);
    Ok((leaf, hashes))
}

/// The consistency proof from the tree of `from` leaves to the tree of `to` leaves (RFC 9162
/// §2.1.4.1 `PROOF(m, D[n])`).
///
/// The proof is empty, and nothing is read, when `from == to` or `from == 0`: the RFC defines no
/// hashes there, so sizes beyond the stored tree are not detected in that case.
///
/// # Errors
/// [`MerkleError::SizesReversed`] if `from > to`; [`MerkleError::NotStored`] if the store holds
/// fewer than `to` leaves; store failures.
pub fn consistency_proof<H, R>(
    hasher: &H,
    reader: &R,
    from: u64,
    to: u64,
) -> Result<Vec<Hash>, MerkleError>
where
    H: TreeHasher,
    R: HashReader + ?Sized,
{
    if from > to {
        return Err(MerkleError::SizesReversed { from, to });
    }
    if from == 0 || from == to {
        return Ok(Vec::new());
    }
    let mut plan = Plan::default();
    let mut ranges = consistency_ranges(from, to);
    ranges.reverse();
    for (start, end) in ranges {
        plan.push_range(start, end);
    }
    plan.resolve(hasher, reader, to)
}

/// The leaf ranges of `PATH(index, D[0:size])`, root side first. Requires `index < size`.
///
/// Iterating the RFC recursion: in `D[lo:hi]` with split `k`, the proof of a leaf on the left
/// ends with `MTH(D[lo+k:hi])`, of a leaf on the right with `MTH(D[lo:lo+k])`. Only a right
/// range with `hi == size` can be non-perfect, and `hi` shrinks for good after the first one.
pub(crate) fn inclusion_ranges(index: u64, size: u64) -> Vec<(u64, u64)> {
    let (mut lo, mut hi) = (0, size);
    let mut ranges = Vec::with_capacity(64);
    while hi - lo > 1 {
        let mid = lo + split_point(hi - lo);
        if index < mid {
            ranges.push((mid, hi));
            hi = mid;
        } else {
            ranges.push((lo, mid));
            lo = mid;
        }
    }
    ranges
}

/// The leaf ranges of `SUBPROOF(from, D[0:to], true)`, root side first. Requires
/// `0 < from < to`.
///
/// In `D[lo:hi]` with split `k`: if `from <= lo + k` the proof ends with `MTH(D[lo+k:hi])` and
/// recurses left; otherwise it ends with `MTH(D[lo:lo+k])` and recurses right, where the old tree's
/// own subtree is no longer a complete tree (`b = false`), so once `from == hi` the subtree
/// `MTH(D[lo:hi])` itself is the proof's first hash.
pub(crate) fn consistency_ranges(from: u64, to: u64) -> Vec<(u64, u64)> {
    let (mut lo, mut hi, mut whole_old_tree) = (0, to, true);
    let mut ranges = Vec::with_capacity(64);
    // Invariant: lo < from <= hi, so `hi - lo >= 2` whenever `from < hi`.
    while from != hi {
        let mid = lo + split_point(hi - lo);
        if from <= mid {
            ranges.push((mid, hi));
            hi = mid;
        } else {
            ranges.push((lo, mid));
            lo = mid;
            whole_old_tree = false;
        }
    }
    if !whole_old_tree {
        ranges.push((lo, hi));
    }
    ranges
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inclusion_ranges_match_the_rfc_example() {
        // RFC 9162 §2.1.5: the path for d0 in the 7-leaf tree is [b, h, l] = leaf 1, [2,4), [4,7).
        assert_eq!(inclusion_ranges(0, 7), [(4, 7), (2, 4), (1, 2)]);
        // Path for d3 is [c, g, l].
        assert_eq!(inclusion_ranges(3, 7), [(4, 7), (0, 2), (2, 3)]);
        // Path for d4 is [f, j, k].
        assert_eq!(inclusion_ranges(4, 7), [(0, 4), (6, 7), (5, 6)]);
        assert!(inclusion_ranges(0, 1).is_empty());
    }

    #[test]
    fn consistency_ranges_match_the_rfc_example() {
        // RFC 9162 §2.1.5: PROOF(3, D[7]) = [c, d, g, l]; PROOF(4, D[7]) = [l];
        // PROOF(6, D[7]) = [i, j, k].
        assert_eq!(consistency_ranges(3, 7), [(4, 7), (0, 2), (3, 4), (2, 3)]);
        assert_eq!(consistency_ranges(4, 7), [(4, 7)]);
        assert_eq!(consistency_ranges(6, 7), [(0, 4), (6, 7), (4, 6)]);
    }

    #[test]
    fn ranges_are_logarithmic_at_the_largest_sizes() {
        assert_eq!(inclusion_ranges(0, u64::MAX).len(), 64);
        assert_eq!(inclusion_ranges(u64::MAX - 1, u64::MAX).len(), 63);
        assert!(consistency_ranges(u64::MAX - 1, u64::MAX).len() <= 65);
        assert!(consistency_ranges(1, u64::MAX).len() <= 65);
    }
}

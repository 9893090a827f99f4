//! Inclusion and consistency proof verification, exactly RFC 9162 §2.1.3.2 and §2.1.4.2.
//!
//! These are pure functions over untrusted input: every malformed proof is an error, never a panic.

use crate::hash::{Hash, TreeHasher};

/// Why a Merkle proof was rejected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// The leaf index is not inside the tree.
    #[error("leaf index {index} is not below tree size {size}")]
    IndexOutOfRange { index: u64, size: u64 },
    /// A consistency proof was asked from a larger tree to a smaller one.
    #[error("consistency from size {from} to smaller size {to}")]
    SizesReversed { from: u64, to: u64 },
    /// The proof has more or fewer hashes than the sizes call for.
    #[error("proof has {got} hashes where the sizes call for {expected}")]
    WrongLength { expected: usize, got: usize },
    /// The proof is well formed but does not lead to the expected root.
    #[error("proof leads to root {computed:?}, expected {expected:?}")]
    RootMismatch { computed: Hash, expected: Hash },
    /// Two trees of the same size with different roots: not the same log.
    #[error("same size {size} but different roots")]
    SameSizeDifferentRoots { size: u64 },
    /// A consistency proof from the empty tree to a larger one: it would prove nothing, since
    /// every tree extends the empty one. A client that trusts size 0 needs no proof.
    #[error("no consistency proof from the empty tree (to size {to}) proves anything")]
    FromEmptyTree { to: u64 },
}

/// Number of hashes in an inclusion proof for `index` in a tree of `size` (RFC 9162 shape).
pub fn inclusion_proof_len(index: u64, size: u64) -> usize {
    if index >= size {
        return 0;
    }
    let inner = inner_proof_len(index, size);
    let border = high_bits(index, inner).count_ones() as usize;
    inner + border
}

/// Number of hashes in a consistency proof from `from` to `to`, for `0 < from < to`.
pub fn consistency_proof_len(from: u64, to: u64) -> usize {
    if from == 0 || from >= to {
        return 0;
    }
    let inner = inner_proof_len(from - 1, to);
    let shift = (from - 1).trailing_ones() as usize;
    let border = high_bits(from - 1, inner).count_ones() as usize;
    let start = usize::from(from != 1u64 << shift) + inner + border;
    start - shift
}

/// Height of the part of the path where the leaf's and the last leaf's paths differ.
fn inner_proof_len(index: u64, size: u64) -> usize {
    (64 - (index ^ (size - 1)).leading_zeros()) as usize
}

/// `value >> shift`, where a shift by 64 (paths that differ at the top bit, sizes above 2^63)
/// leaves nothing rather than overflowing: a plain `>>` panics there in debug builds and, in
/// release, shifts by `64 % 64 = 0` and gets the proof length wrong.
fn high_bits(value: u64, shift: usize) -> u64 {
    u32::try_from(shift)
        .ok()
        .and_then(|s| value.checked_shr(s))
        .unwrap_or(0)
}

/// Computes the root that an inclusion proof leads to, or why it cannot lead to any root.
///
/// # Errors
/// [`ProofError::IndexOutOfRange`] or [`ProofError::WrongLength`].
pub fn root_from_inclusion_proof<H: TreeHasher>(
    hasher: &H,
    index: u64,
    size: u64,
    leaf_hash: &Hash,
    proof: &[Hash],
) -> Result<Hash, ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let expected = inclusion_proof_len(index, size);
    if proof.len() != expected {
        return Err(ProofError::WrongLength {
            expected,
            got: proof.len(),
        });
    }
    let (mut fn_, mut sn) = (index, size - 1);
    let mut r = *leaf_hash;
    for p in proof {
        if sn == 0 {
            return Err(ProofError::WrongLength {
                expected,
                got: proof.len(),
            });
        }
        if fn_ & 1 == 1 || fn_ == sn {
            r = hasher.hash_children(p, &r);
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            r = hasher.hash_children(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn != 0 {
        return Err(ProofError::WrongLength {
            expected,
            got: proof.len(),
        });
    }
    Ok(r)
}

/// Verifies that `leaf_hash` is the leaf at `index` of the tree of `size` leaves with `root`.
///
/// # Errors
/// A [`ProofError`] saying why the proof does not hold.
pub fn verify_inclusion<H: TreeHasher>(
    hasher: &H,
    index: u64,
    size: u64,
    leaf_hash: &Hash,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    let computed = root_from_inclusion_proof(hasher, index, size, leaf_hash, proof)?;
    if computed != *root {
        return Err(ProofError::RootMismatch {
            computed,
            expected: *root,
        });
    }
    Ok(())
}

/// Verifies that the tree of `to` leaves with `to_root` extends the tree of `from` leaves with
/// `from_root`.
///
/// Equal sizes need an empty proof and equal roots (0 to 0 included). From size 0 to a larger
/// size there is no proof to check and the answer is always [`ProofError::FromEmptyTree`], as in
/// RFC 9162 and transparency-dev/merkle: a client that trusts the empty tree needs none.
///
/// # Errors
/// A [`ProofError`] saying why the proof does not hold.
pub fn verify_consistency<H: TreeHasher>(
    hasher: &H,
    from: u64,
    to: u64,
    from_root: &Hash,
    to_root: &Hash,
    proof: &[Hash],
) -> Result<(), ProofError> {
    if from > to {
        return Err(ProofError::SizesReversed { from, to });
    }
    if from == to {
        if !proof.is_empty() {
            return Err(ProofError::WrongLength {
                expected: 0,
                got: proof.len(),
            });
        }
        if from_root != to_root {
            return Err(ProofError::SameSizeDifferentRoots { size: from });
        }
        return Ok(());
    }
    if from == 0 {
        // RFC 9162 §2.1.4 defines proofs for 0 < first < second only, and transparency-dev/merkle
        // rejects every proof from the empty tree: accepting one would let a caller believe it
        // checked something about a root it never compared.
        return Err(ProofError::FromEmptyTree { to });
    }
    let expected = consistency_proof_len(from, to);
    if proof.len() != expected {
        return Err(ProofError::WrongLength {
            expected,
            got: proof.len(),
        });
    }
    // When `from` is a power of two, its root is the first hash of the walk (step 2).
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if from.is_power_of_two() {
        path.push(*from_root);
    }
    path.extend_from_slice(proof);
    let (mut fn_, mut sn) = (from - 1, to - 1);
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    let (mut fr, mut sr) = (path[0], path[0]);
    for c in &path[1..] {
        if sn == 0 {
            return Err(ProofError::WrongLength {
                expected,
                got: proof.len(),
            });
        }
        if fn_ & 1 == 1 || fn_ == sn {
            fr = hasher.hash_children(c, &fr);
            sr = hasher.hash_children(c, &sr);
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            sr = hasher.hash_children(&sr, c);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn != 0 {
        return Err(ProofError::WrongLength {
            expected,
            got: proof.len(),
        });
    }
    if fr != *from_root {
        return Err(ProofError::RootMismatch {
            computed: fr,
            expected: *from_root,
        });
    }
    if sr != *to_root {
        return Err(ProofError::RootMismatch {
            computed: sr,
            expected: *to_root,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proof_lengths_above_2_pow_63_do_not_overflow() {
        // The paths of leaf 0 and of the last leaf split at the very top: inner height 64.
        let size = (1u64 << 63) + 1;
        assert_eq!(inclusion_proof_len(0, size), 64);
        assert_eq!(inclusion_proof_len(size - 1, size), 1);
        assert_eq!(inclusion_proof_len(0, u64::MAX), 64);
        assert_eq!(consistency_proof_len(1, size), 64);
        assert_eq!(consistency_proof_len(3, size), 65);
        let root = Hash::default();
        let proof = vec![Hash::default(); 64];
        assert!(verify_inclusion(&crate::Blake3, 0, size, &root, &proof, &root).is_err());
        assert!(verify_consistency(&crate::Blake3, 3, size, &root, &root, &proof).is_err());
    }

    #[test]
    fn no_proof_from_the_empty_tree_is_accepted() {
        let empty = crate::Blake3.empty_root();
        let one = crate::Blake3.hash_leaf(b"leaf");
        // The proof a prover would send (none), the tree's own root as the old one, and junk.
        for (old, proof) in [
            (empty, vec![]),
            (one, vec![]),
            (empty, vec![one]),
            (one, vec![empty, one]),
        ] {
            assert_eq!(
                verify_consistency(&crate::Blake3, 0, 1, &old, &one, &proof),
                Err(ProofError::FromEmptyTree { to: 1 })
            );
        }
        // Same size is a root comparison, not a proof from the empty tree.
        assert_eq!(
            verify_consistency(&crate::Blake3, 0, 0, &empty, &empty, &[]),
            Ok(())
        );
        assert_eq!(
            verify_consistency(&crate::Blake3, 0, 0, &empty, &one, &[]),
            Err(ProofError::SameSizeDifferentRoots { size: 0 })
        );
    }
}

//! Appending leaves: a pure function from the tree's right edge and new leaf hashes to the
//! hashes to persist (Tessera's `Integrate`).

use super::node::decompose;
use super::plan::{fold_right, read_exact};
use super::{HashReader, MerkleError, NodeId};
use crate::hash::{Hash, TreeHasher};

/// What appending leaves produced: the new tree and the hashes the caller must persist.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Integration {
    /// The tree size after the append.
    pub new_size: u64,
    /// The root of the tree of `new_size` leaves.
    pub root: Hash,
    /// Every new leaf hash and every perfect subtree the append completed, in the order they
    /// were completed (per level, ascending index). Persist all of them, atomically with
    /// whatever records the new size.
    pub writes: Vec<(NodeId, Hash)>,
}

/// Appends `leaf_hashes` to the stored tree of `from_size` leaves.
///
/// Reads only the tree's right edge (the `popcount(from_size)` perfect subtrees of its binary
/// decomposition, one call) and writes nothing itself: the caller persists
/// [`Integration::writes`]. Amortised, each leaf costs one interior hash and two writes.
///
/// # Errors
/// [`MerkleError::SizeOverflow`] if the tree would exceed `u64::MAX` leaves;
/// [`MerkleError::NotStored`] if the store holds fewer than `from_size` leaves; store failures.
pub fn integrate<H, R>(
    hasher: &H,
    reader: &R,
    from_size: u64,
    leaf_hashes: &[Hash],
) -> Result<Integration, MerkleError>
where
    H: TreeHasher,
    R: HashReader + ?Sized,
{
    let overflow = || MerkleError::SizeOverflow {
        size: from_size,
        added: leaf_hashes.len(),
    };
    let added = u64::try_from(leaf_hashes.len()).map_err(|_| overflow())?;
    let new_size = from_size.checked_add(added).ok_or_else(overflow)?;

    let mut edge_ids = Vec::with_capacity(64);
    decompose(0, from_size, &mut edge_ids);
    let edge_hashes = read_exact(reader, &edge_ids, from_size)?;

    // The right edge as a stack of perfect subtrees, levels strictly decreasing: appending a leaf
    // is a binary increment, each carry completing (and hashing) one perfect subtree.
    let mut stack: Vec<(u8, Hash)> = edge_ids
        .iter()
        .map(|id| id.level)
        .zip(edge_hashes)
        .collect();
    let mut writes = Vec::with_capacity(leaf_hashes.len().saturating_mul(2));
    // A bounded range: `from_size..` would step past `u64::MAX` after the last leaf.
    for (index, leaf) in (from_size..new_size).zip(leaf_hashes) {
        writes.push((NodeId::leaf(index), *leaf));
        stack.push((0, *leaf));
        while let [.., (left_level, left), (right_level, right)] = stack[..] {
            if left_level != right_level {
                break;
            }
            stack.truncate(stack.len() - 2);
            let level = left_level + 1;
            let parent = hasher.hash_children(&left, &right);
            // The completed subtree ends at `index`; a carry to level 64 would need 2^64 leaves.
            writes.push((NodeId::new(level, index >> level), parent));
            stack.push((level, parent));
        }
    }

    let root = if stack.is_empty() {
        hasher.empty_root()
    } else {
        let parts: Vec<Hash> = stack.iter().map(|&(_, hash)| hash).collect();
        fold_right(hasher, &parts)
    };
    Ok(Integration {
        new_size,
        root,
        writes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::Sha256;
    use crate::merkle::MemoryStore;

    #[test]
    fn first_leaves_complete_the_expected_subtrees() {
        let store = MemoryStore::new();
        let leaves: Vec<Hash> = (0u8..4).map(|i| Sha256.hash_leaf(&[i])).collect();
        let out = integrate(&Sha256, &store, 0, &leaves).unwrap();
        let ids: Vec<NodeId> = out.writes.iter().map(|(id, _)| *id).collect();
        assert_eq!(
            ids,
            [
                NodeId::leaf(0),
                NodeId::leaf(1),
                NodeId::new(1, 0),
                NodeId::leaf(2),
                NodeId::leaf(3),
                NodeId::new(1, 1),
                NodeId::new(2, 0),
            ]
        );
        assert_eq!(out.new_size, 4);
        assert_eq!(out.root, out.writes[6].1);
    }

    #[test]
    fn appending_nothing_recomputes_the_root() {
        let store = MemoryStore::new();
        let out = integrate(&Sha256, &store, 0, &[]).unwrap();
        assert_eq!(out.root, Sha256.empty_root());
        assert!(out.writes.is_empty());
    }

    #[test]
    fn a_size_beyond_the_store_is_reported() {
        let store = MemoryStore::new();
        let err = integrate(&Sha256, &store, 3, &[Hash::default()]).unwrap_err();
        assert!(
            matches!(err, MerkleError::NotStored { size: 3, .. }),
            "{err}"
        );
    }
}

//! A compact range: the root of a growing tree from O(log n) hashes, for whoever reads a log from
//! the start and needs every root on the way (the audit tool's replay, synthetic logs).
//!
//! It keeps the perfect subtrees of the size's binary decomposition, largest first (one per set
//! bit); appending a leaf merges equal-sized neighbours like a binary counter, and the root folds
//! them right to left, exactly as RFC 9162 splits a tree. Memory: 32 bytes per set bit of the
//! size, at most 64 hashes.

use super::plan::fold_right;
use crate::hash::{Hash, TreeHasher};

/// The right edge of an RFC 9162 tree that has grown from empty.
#[derive(Clone, Debug)]
pub struct CompactRange<H> {
    hasher: H,
    size: u64,
    /// Perfect subtree roots, largest (leftmost) first; `size`'s set bits, high to low.
    peaks: Vec<Hash>,
}

impl<H: TreeHasher> CompactRange<H> {
    /// The empty tree.
    pub fn new(hasher: H) -> Self {
        Self {
            hasher,
            size: 0,
            peaks: Vec::with_capacity(64),
        }
    }

    /// Leaves appended so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends one leaf hash (`hash_leaf` of the leaf bytes).
    pub fn push(&mut self, leaf_hash: Hash) {
        let mut node = leaf_hash;
        // Each trailing one bit of the old size is a peak of the new leaf's height to merge.
        let mut merges = self.size.trailing_ones();
        while merges > 0 {
            let Some(left) = self.peaks.pop() else { break };
            node = self.hasher.hash_children(&left, &node);
            merges -= 1;
        }
        self.peaks.push(node);
        self.size += 1;
    }

    /// The tree's root (`H("")` when empty).
    pub fn root(&self) -> Hash {
        if self.peaks.is_empty() {
            return self.hasher.empty_root();
        }
        fold_right(&self.hasher, &self.peaks)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Sha256;
    use crate::merkle::MemoryStore;

    #[test]
    fn roots_equal_the_stored_tree_for_every_size_up_to_300() {
        let mut compact = CompactRange::new(Sha256);
        let mut store = MemoryStore::new();
        assert_eq!(compact.root(), Sha256.empty_root());
        for i in 0u64..300 {
            let leaf = Sha256.hash_leaf(&i.to_be_bytes());
            compact.push(leaf);
            let stored = store.append(&Sha256, &[leaf]).unwrap().root;
            assert_eq!(compact.root(), stored, "size {}", i + 1);
            assert_eq!(compact.peaks.len() as u32, compact.size().count_ones());
        }
    }
}

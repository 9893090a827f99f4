//! A read plan: which stored hashes an operation needs, fetched in one call, then folded.
//!
//! Every operation first lists the subtree hashes it needs (pure arithmetic on sizes), then reads
//! all of their perfect parts at once, then composes each non-perfect subtree by folding its
//! parts. This is what keeps reads at O(log n) ids and one store round trip per operation.

use super::node::decompose;
use super::{HashReader, MerkleError, NodeId};
use crate::hash::{Hash, TreeHasher};

/// The subtree hashes an operation needs, as groups of perfect subtrees to fold.
#[derive(Debug, Default)]
pub(crate) struct Plan {
    ids: Vec<NodeId>,
    /// End offset in `ids` of each group; group `i` is `ids[ends[i-1]..ends[i]]`.
    ends: Vec<usize>,
}

impl Plan {
    /// Adds the RFC 9162 hash of leaves `[start, end)` (an aligned, non-empty subtree).
    pub(crate) fn push_range(&mut self, start: u64, end: u64) {
        debug_assert!(start < end);
        decompose(start, end, &mut self.ids);
        self.ends.push(self.ids.len());
    }

    /// Adds one stored node as it is.
    pub(crate) fn push_node(&mut self, id: NodeId) {
        self.ids.push(id);
        self.ends.push(self.ids.len());
    }

    /// Reads every id in one call and returns one hash per group, in the order added.
    ///
    /// `size` is the tree size the operation is about, to say which tree is missing.
    pub(crate) fn resolve<H, R>(
        &self,
        hasher: &H,
        reader: &R,
        size: u64,
    ) -> Result<Vec<Hash>, MerkleError>
    where
        H: TreeHasher,
        R: HashReader + ?Sized,
    {
        let parts = read_exact(reader, &self.ids, size)?;
        let mut start = 0;
        let mut out = Vec::with_capacity(self.ends.len());
        for &end in &self.ends {
            out.push(fold_right(hasher, &parts[start..end]));
            start = end;
        }
        Ok(out)
    }
}

/// Reads `ids` in one call and checks that the store kept its side of the contract.
pub(crate) fn read_exact<R: HashReader + ?Sized>(
    reader: &R,
    ids: &[NodeId],
    size: u64,
) -> Result<Vec<Hash>, MerkleError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let hashes = reader
        .read_hashes(ids)
        .map_err(|e| MerkleError::from_store(size, e))?;
    if hashes.len() != ids.len() {
        return Err(MerkleError::WrongReadCount {
            asked: ids.len(),
            got: hashes.len(),
        });
    }
    Ok(hashes)
}

/// `H(p0, H(p1, … H(pk-2, pk-1)))`: the RFC 9162 hash of a range from the perfect subtrees of
/// its binary decomposition, largest first. Callers never pass an empty slice.
pub(crate) fn fold_right<H: TreeHasher>(hasher: &H, parts: &[Hash]) -> Hash {
    let mut iter = parts.iter().rev();
    let Some(&last) = iter.next() else {
        // Unreachable by construction; the empty range's hash is the empty tree's root.
        return hasher.empty_root();
    };
    iter.fold(last, |acc, left| hasher.hash_children(left, &acc))
}

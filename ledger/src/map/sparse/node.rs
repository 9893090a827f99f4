//! The nodes of the path-compressed tree, and the hash of a subtree at a given depth.
//!
//! A [`Node`] is a non-empty subtree: a [`Leaf`] (exactly one key, hashed the same at any depth:
//! leaf lifting) or an [`Internal`] node where both sides are non-empty. An internal node records
//! `split`, the depth whose bit separates its two sides, and `at`, the depth of the subtree root it
//! stands for; the depths between `at` and `split` are the folded placeholder chain, where all its
//! keys share their bits. Its cached `hash` is the subtree's hash at depth `at`, the one its parent
//! needs, so rebuilding a parent never re-hashes an unchanged sibling's chain. A node that moves to
//! another depth (a key inserted or deleted above it) is copied with the chain re-hashed
//! ([`Node::at_depth`]); that is why versions may share a node only at the same depth.
//!
//! No node stores its key prefix: the chain's bits are those of any key below it
//! ([`Node::any_key`]), and where a lookup leaves the tree is found by comparing the key with the
//! leaf that its own bits lead to ([`Node::leaf_for`]), as in a crit-bit tree.

use std::sync::Arc;

use crate::hash::Hash;
use crate::map::hasher::PLACEHOLDER;
use crate::map::store::PruneStats;
use crate::map::{
    KEY_BITS, MapKey, common_prefix, internal_hash, key_bit as bit, leaf_hash, value_hash,
};

/// A non-empty subtree, shared between versions behind an [`Arc`].
///
/// 16 bytes (a tag and a pointer), so an internal node with its two children and its hash is 72
/// bytes.
#[derive(Clone)]
pub(super) enum Node {
    Leaf(Arc<Leaf>),
    Internal(Arc<Internal>),
    /// A bucket kept in the store (a paged map, `paged.rs`): every key under one `bits`-bit
    /// prefix, at least two of them, known here only by its hash.
    Stub(Arc<Stub>),
}

/// What a key's bits lead to at the bottom of the tree in memory.
pub(super) enum Bottom<'a> {
    Leaf(&'a Leaf),
    Stub(&'a Stub),
}

/// A bucket whose keys are in the store: the subtree of every key sharing the first `bits` bits
/// of `prefix`, standing at depth `at <= bits`.
pub(super) struct Stub {
    /// The subtree's hash at depth `at`: `inner` folded up the placeholder chain.
    hash: Hash,
    /// The bucket's hash at depth `bits`, which its keys in the store must give.
    inner: Hash,
    /// A key of the bucket: its first `bits` bits are the bucket's.
    prefix: MapKey,
    bits: u8,
    at: u8,
}

impl Stub {
    pub(super) fn prefix(&self) -> &MapKey {
        &self.prefix
    }

    pub(super) fn bits(&self) -> usize {
        usize::from(self.bits)
    }

    pub(super) fn at(&self) -> usize {
        usize::from(self.at)
    }

    pub(super) fn hash(&self) -> &Hash {
        &self.hash
    }

    pub(super) fn inner(&self) -> &Hash {
        &self.inner
    }

    /// Whether `key` is one of this bucket's keys' prefix: in the bucket, or absent from it.
    pub(super) fn holds(&self, key: &MapKey) -> bool {
        common_prefix(key, &self.prefix) >= self.bits()
    }
}

/// One key and its value.
pub(super) struct Leaf {
    key: MapKey,
    /// `leaf_hash(key, value_hash(value))`, kept because every update whose path passes this leaf
    /// as a sibling needs it (recomputing costs two hashes of the value and the leaf).
    hash: Hash,
    /// Boxed rather than copied next to the key: `apply` moves the caller's `Vec` in, so populating
    /// a map allocates no second copy of the values (and leaves no freed copies in the heap).
    value: Box<[u8]>,
}

/// A subtree with keys on both sides of `split`.
pub(super) struct Internal {
    /// The subtree's hash at depth `at`: the hash of the split, folded up the placeholder chain.
    hash: Hash,
    /// The depth whose bit sends a key left (0) or right (1); `at <= split < 256`.
    split: u8,
    /// The depth this node's `hash` stands at: its parent's split plus one, or 0 at the root.
    at: u8,
    left: Node,
    right: Node,
}

impl Leaf {
    pub(super) fn key(&self) -> &MapKey {
        &self.key
    }

    pub(super) fn value(&self) -> &[u8] {
        &self.value
    }
}

impl Node {
    pub(super) fn leaf(key: MapKey, value: Box<[u8]>) -> Self {
        let hash = leaf_hash(&key, &value_hash(&value).0);
        Self::Leaf(Arc::new(Leaf { key, hash, value }))
    }

    /// The subtree's hash at the depth it stands at (any depth for a leaf).
    pub(super) fn hash(&self) -> &Hash {
        match self {
            Self::Leaf(leaf) => &leaf.hash,
            Self::Internal(node) => &node.hash,
            Self::Stub(stub) => &stub.hash,
        }
    }

    /// The depth that splits this subtree's keys; [`KEY_BITS`] for a leaf, which has one key,
    /// and the bucket's depth for a stub (its keys part somewhere below it).
    pub(super) fn split(&self) -> usize {
        match self {
            Self::Leaf(_) => KEY_BITS,
            Self::Internal(node) => usize::from(node.split),
            Self::Stub(stub) => stub.bits(),
        }
    }

    /// The leaf or stub that `key`'s bits lead to. Every key below a node shares that node's
    /// prefix, so `key` is in the tree iff this is its own leaf or a stub holding it, and
    /// otherwise leaves the tree's paths at the first bit where it differs from this one's key.
    pub(super) fn leaf_for(&self, key: &MapKey) -> Bottom<'_> {
        let mut node = self;
        loop {
            match node {
                Self::Leaf(leaf) => return Bottom::Leaf(leaf),
                Self::Stub(stub) => return Bottom::Stub(stub),
                Self::Internal(internal) => node = internal.child(bit(key, internal.split.into())),
            }
        }
    }

    /// A key of this subtree, which gives the bits of its placeholder chain.
    pub(super) fn any_key(&self) -> &MapKey {
        let mut node = self;
        loop {
            match node {
                Self::Leaf(leaf) => return &leaf.key,
                Self::Stub(stub) => return &stub.prefix,
                Self::Internal(internal) => node = &internal.left,
            }
        }
    }

    /// Whether `self` and `other` are the same node, not merely equal ones.
    pub(super) fn is(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Leaf(a), Self::Leaf(b)) => Arc::ptr_eq(a, b),
            (Self::Internal(a), Self::Internal(b)) => Arc::ptr_eq(a, b),
            (Self::Stub(a), Self::Stub(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }

    /// The internal node, if this is one.
    pub(super) fn as_internal(&self) -> Option<&Internal> {
        match self {
            Self::Internal(node) => Some(node),
            Self::Leaf(_) | Self::Stub(_) => None,
        }
    }

    /// This subtree standing at depth `at`: itself if it already does (or is a leaf), otherwise a
    /// copy whose chain is re-hashed to the new depth.
    pub(super) fn at_depth(&self, at: usize) -> Self {
        match self {
            Self::Internal(node) if usize::from(node.at) != at => Self::internal(
                usize::from(node.split),
                at,
                node.left.clone(),
                node.right.clone(),
                self.any_key(),
                KEY_BITS,
            ),
            Self::Stub(stub) if stub.at() != at => {
                Self::stub(stub.inner, stub.prefix, stub.bits(), at)
            }
            _ => self.clone(),
        }
    }

    /// The stub of the bucket whose hash at depth `bits` is `inner`, standing at `at`.
    pub(super) fn stub(inner: Hash, prefix: MapKey, bits: usize, at: usize) -> Self {
        Self::Stub(Arc::new(Stub {
            hash: fold_chain(inner, &prefix, bits, at),
            inner,
            prefix,
            // `at <= bits < 256`, as for an internal node's depths.
            bits: u8::try_from(bits).unwrap_or(u8::MAX),
            at: u8::try_from(at).unwrap_or(u8::MAX),
        }))
    }

    /// The subtree at depth `at` whose keys are those of `left` and `right`, split at `split`
    /// (both children standing at `split + 1`). One side empty lifts the other up to `at`, which
    /// is how a deletion re-lifts a lone leaf; `prefix` is a key sharing the subtree's bits above
    /// `split`, for the chain. A split at or below `bits` (a paged map's bucket depth), standing
    /// at or above it, makes a stub: the keys' subtree is hashed and let go, for the store holds
    /// them. `bits` is [`KEY_BITS`] for a map wholly in memory.
    pub(super) fn join(
        split: usize,
        at: usize,
        left: Option<Self>,
        right: Option<Self>,
        prefix: &MapKey,
        bits: usize,
    ) -> Option<Self> {
        match (left, right) {
            (Some(left), Some(right)) => Some(Self::internal(split, at, left, right, prefix, bits)),
            (Some(only), None) | (None, Some(only)) => Some(only.at_depth(at)),
            (None, None) => None,
        }
    }

    fn internal(
        split: usize,
        at: usize,
        left: Self,
        right: Self,
        prefix: &MapKey,
        bits: usize,
    ) -> Self {
        let own = internal_hash(&left.hash().0, &right.hash().0);
        // The bucket's top node (standing at or above its depth) collapses; the nodes below it,
        // built on the way, are dropped with it.
        if split >= bits && at <= bits {
            let inner = fold_chain(own, prefix, split, bits);
            return Self::stub(inner, *prefix, bits, at);
        }
        Self::Internal(Arc::new(Internal {
            hash: fold_chain(own, prefix, split, at),
            // Callers keep `at <= split < 256` (a split is a bit where two distinct keys differ);
            // saturating keeps the conversion total.
            split: u8::try_from(split).unwrap_or(u8::MAX),
            at: u8::try_from(at).unwrap_or(u8::MAX),
            left,
            right,
        }))
    }
}

impl Internal {
    pub(super) fn split(&self) -> usize {
        usize::from(self.split)
    }

    pub(super) fn at(&self) -> usize {
        usize::from(self.at)
    }

    pub(super) fn left(&self) -> &Node {
        &self.left
    }

    pub(super) fn right(&self) -> &Node {
        &self.right
    }

    /// The child on side `right` of the split.
    pub(super) fn child(&self, right: bool) -> &Node {
        if right { &self.right } else { &self.left }
    }

    /// The subtree's hash at its split depth, below the chain.
    pub(super) fn split_hash(&self) -> Hash {
        internal_hash(&self.left.hash().0, &self.right.hash().0)
    }
}

/// The hash at depth `at` of a subtree whose hash at depth `from` is `hash` and whose keys all
/// follow `prefix`'s bits from `at` to `from`: each level above pairs it with an empty sibling.
pub(super) fn fold_chain(mut hash: Hash, prefix: &MapKey, from: usize, at: usize) -> Hash {
    for depth in (at..from).rev() {
        hash = if bit(prefix, depth) {
            internal_hash(&PLACEHOLDER, &hash.0)
        } else {
            internal_hash(&hash.0, &PLACEHOLDER)
        };
    }
    hash
}

/// Drops `node`, counting what this frees: the nodes (and values, one per leaf) that no other
/// version or snapshot holds. What another handle still shares is left alone, subtree and all.
pub(super) fn release(node: Node, freed: &mut PruneStats) {
    match node {
        Node::Leaf(leaf) => {
            if Arc::into_inner(leaf).is_some() {
                freed.nodes += 1;
                freed.values += 1;
            }
        }
        Node::Internal(internal) => {
            if let Some(internal) = Arc::into_inner(internal) {
                freed.nodes += 1;
                release(internal.left, freed);
                release(internal.right, freed);
            }
        }
        Node::Stub(stub) => {
            if Arc::into_inner(stub).is_some() {
                freed.nodes += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The memory budget (about 300 bytes per account) rests on these sizes.
    #[test]
    fn nodes_are_compact() {
        assert_eq!(size_of::<Node>(), 16);
        assert_eq!(size_of::<Option<Node>>(), 16);
        assert_eq!(size_of::<Internal>(), 72);
        assert_eq!(size_of::<Leaf>(), 80);
        assert_eq!(size_of::<Stub>(), 98);
    }

    #[test]
    fn a_chain_folds_with_the_prefix_bits() {
        let key = [0b0100_0000; 32];
        let h = Hash([7; 32]);
        // Bit 1 is set: the subtree is the right child at depth 1; bit 0 is clear: left at depth 0.
        let one_up = internal_hash(&PLACEHOLDER, &h.0);
        let two_up = internal_hash(&one_up.0, &PLACEHOLDER);
        assert_eq!(fold_chain(h, &key, 2, 0), two_up);
        assert_eq!(fold_chain(h, &key, 2, 2), h);
    }
}

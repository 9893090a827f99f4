//! Addresses of the perfect subtrees that a tree store holds.

use std::fmt;
use std::ops::Range;

/// The hash of the *perfect* subtree of `2^level` leaves covering
/// `[index << level, (index + 1) << level)`; level 0 holds the leaf hashes.
///
/// Only perfect subtrees are ever stored, so a stored hash never changes once written: the
/// subtree it commits to is complete. The right edge of a tree whose size is not a power of two
/// is composed on the fly from the perfect subtrees of the size's binary decomposition.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId {
    /// Height above the leaves: 0 for leaf hashes, at most 63 in any tree of up to `u64::MAX`
    /// leaves.
    pub level: u8,
    /// Position among the nodes of that level, counting from the left.
    pub index: u64,
}

impl NodeId {
    /// The node at `level` and `index`.
    pub const fn new(level: u8, index: u64) -> Self {
        Self { level, index }
    }

    /// The leaf hash at `index`.
    pub const fn leaf(index: u64) -> Self {
        Self { level: 0, index }
    }

    /// The leaves this subtree covers, or `None` for an id that no tree of at most `u64::MAX`
    /// leaves can contain (its range would end beyond `u64::MAX`).
    pub fn leaves(&self) -> Option<Range<u64>> {
        let width = 1u64.checked_shl(u32::from(self.level))?;
        let start = self.index.checked_mul(width)?;
        let end = start.checked_add(width)?;
        Some(start..end)
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "node (level {}, index {})", self.level, self.index)
    }
}

/// The largest power of two strictly below `n`: RFC 9162's split point `k`. Requires `n >= 2`.
pub(crate) fn split_point(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1u64 << (63 - (n - 1).leading_zeros())
}

/// Appends the perfect subtrees whose right fold is the RFC 9162 hash of leaves `[start, end)`.
///
/// `start` must be a multiple of the smallest power of two that is at least `end - start`, as
/// every subtree of the RFC recursion is: the subtrees are then the set bits of `end - start`,
/// largest first, which is exactly how the RFC splits such a range.
pub(crate) fn decompose(start: u64, end: u64, out: &mut Vec<NodeId>) {
    debug_assert!(start <= end);
    let mut pos = start;
    let mut rest = end - start;
    while rest != 0 {
        let level = 63 - rest.leading_zeros();
        debug_assert_eq!(pos & ((1u64 << level) - 1), 0, "unaligned range");
        // `level < 64` and the cast cannot truncate; `pos + width <= end` cannot overflow.
        out.push(NodeId::new(level as u8, pos >> level));
        pos += 1u64 << level;
        rest -= 1u64 << level;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leaves_covers_the_subtree_and_rejects_impossible_ids() {
        assert_eq!(NodeId::leaf(7).leaves(), Some(7..8));
        assert_eq!(NodeId::new(8, 2).leaves(), Some(512..768));
        assert_eq!(NodeId::new(63, 0).leaves(), Some(0..1 << 63));
        assert_eq!(NodeId::new(63, 1).leaves(), None);
        assert_eq!(NodeId::new(64, 0).leaves(), None);
        assert_eq!(NodeId::leaf(u64::MAX).leaves(), None);
        assert_eq!(
            NodeId::leaf(u64::MAX - 1).leaves(),
            Some(u64::MAX - 1..u64::MAX)
        );
    }

    #[test]
    fn split_point_is_the_largest_power_of_two_below() {
        assert_eq!(split_point(2), 1);
        assert_eq!(split_point(3), 2);
        assert_eq!(split_point(4), 2);
        assert_eq!(split_point(5), 4);
        assert_eq!(split_point(u64::MAX), 1 << 63);
    }

    #[test]
    fn decompose_follows_the_set_bits() {
        let mut ids = Vec::new();
        decompose(0, 13, &mut ids);
        assert_eq!(
            ids,
            [NodeId::new(3, 0), NodeId::new(2, 2), NodeId::new(0, 12)]
        );
        ids.clear();
        decompose(8, 11, &mut ids);
        assert_eq!(ids, [NodeId::new(1, 4), NodeId::new(0, 10)]);
        ids.clear();
        decompose(0, u64::MAX, &mut ids);
        assert_eq!(ids.len(), 64);
        assert_eq!(ids[0], NodeId::new(63, 0));
        assert_eq!(ids[63], NodeId::leaf(u64::MAX - 1));
        ids.clear();
        decompose(5, 5, &mut ids);
        assert!(ids.is_empty());
    }
}

//! Applying one version's batch: every touched node is rebuilt once, by one recursive descent over
//! the sorted batch, so that a batch of `k` updates costs about `k · (depth − log2 k)` node
//! hashes instead of `k · depth`, and building a map from nothing hashes each node exactly once.
//!
//! The descent has to know, at each node, which keys of the batch leave its subtree inside its
//! placeholder chain (they create a new split above it). Nodes keep no prefix, so [`prepare`] finds
//! it per key first: the depth where the key parts from the leaf its own bits lead to.

use std::mem;

use super::node::Node;
use crate::map::{KEY_BITS, common_prefix, key_bit as bit};
use crate::map::{MapKey, MapUpdate};

/// How many descents [`prepare`] interleaves.
const LANES: usize = 16;

/// One key's change, with where the key leaves the tree as it was.
pub(super) struct Op {
    key: MapKey,
    value: Option<Vec<u8>>,
    /// The number of leading bits the key shares with the leaf its bits lead to in the old tree:
    /// [`KEY_BITS`] if the key is present. On the way down, a node whose split is deeper than
    /// this is a node the key does not belong under.
    parts_at: usize,
}

/// A batch ready for [`apply`], and how it changes the number of keys.
pub(super) struct Batch {
    pub(super) ops: Vec<Op>,
    pub(super) inserted: usize,
    pub(super) deleted: usize,
}

/// Sorts the updates by key, keeps each key's last update, drops deletions of absent keys, and
/// locates each key in the tree `root`.
pub(super) fn prepare(root: Option<&Node>, mut updates: Vec<MapUpdate>) -> Batch {
    // Stable, so that among equal keys the caller's last update comes last; `dedup_by` then keeps
    // the first of each run, so it takes the later value each time it drops one.
    updates.sort_by_key(|update| update.0);
    updates.dedup_by(|later, kept| {
        let same = later.0 == kept.0;
        if same {
            mem::swap(&mut later.1, &mut kept.1);
        }
        same
    });
    let mut batch = Batch {
        ops: Vec::with_capacity(updates.len()),
        inserted: 0,
        deleted: 0,
    };
    for chunk in updates.chunks_mut(LANES) {
        // The descents run in lockstep, one level of each in turn: their loads do not depend on
        // one another, so the processor overlaps their cache misses, which is most of their cost
        // in a large map (measured at 10^6 keys, batches of 1,000: one descent at a time took a
        // fifth of an update; in lockstep, updates/s rose from ~170k to ~220k).
        let mut nodes = [root; LANES];
        loop {
            let mut moved = false;
            for (node, (key, _)) in nodes.iter_mut().zip(chunk.iter()) {
                if let Some(internal) = node.and_then(Node::as_internal) {
                    *node = Some(internal.child(bit(key, internal.split())));
                    moved = true;
                }
            }
            if !moved {
                break;
            }
        }
        for (node, (key, value)) in nodes.iter().zip(chunk.iter_mut()) {
            let parts_at = match node {
                Some(Node::Leaf(leaf)) => common_prefix(key, leaf.key()),
                _ => 0,
            };
            let present = parts_at == KEY_BITS;
            match (&value, present) {
                (None, false) => continue,
                (None, true) => batch.deleted += 1,
                (Some(_), false) => batch.inserted += 1,
                (Some(_), true) => {}
            }
            batch.ops.push(Op {
                key: *key,
                value: value.take(),
                parts_at,
            });
        }
    }
    batch
}

/// The tree `root` with `ops` (from [`prepare`] on the same tree) applied.
pub(super) fn apply(root: Option<&Node>, ops: &mut [Op]) -> Option<Node> {
    match root {
        None => build(ops, 0),
        Some(root) => update(root, 0, ops),
    }
}

/// `node` with `ops` applied, standing at depth `at`. Every op's key has the bits that lead to
/// `node`'s place, above `at`.
fn update(node: &Node, at: usize, ops: &mut [Op]) -> Option<Node> {
    let Some(first) = ops.first() else {
        return Some(node.at_depth(at));
    };
    let prefix = first.key;
    let split = node.split();
    // Keys that part from `node`'s keys above its split: the shallowest of them makes a new split
    // there, with `node` on one side and those keys (all inserts) on the other.
    let parting = ops
        .iter()
        .map(|op| op.parts_at)
        .filter(|&d| d < split)
        .min();
    if let Some(depth) = parting {
        let ones = ops.partition_point(|op| !bit(&op.key, depth));
        let (zeros, ones) = ops.split_at_mut(ones);
        // Only the keys that part exactly here have the bit `node`'s keys do not.
        let new_keys_right = ones.first().is_some_and(|op| op.parts_at == depth);
        let (left, right) = if new_keys_right {
            (update(node, depth + 1, zeros), build(ones, depth + 1))
        } else {
            (build(zeros, depth + 1), update(node, depth + 1, ones))
        };
        return Node::join(depth, at, left, right, &prefix);
    }
    match node {
        Node::Leaf(_) => {
            // Every op here has the leaf's key (nothing parts from it), so there is one, unless
            // the batch was not deduplicated, in which case the last one wins.
            let Some(op) = ops.last_mut() else {
                return Some(node.clone());
            };
            let new = Node::leaf(op.key, op.value.take()?.into_boxed_slice());
            // Rewritten with the value it had: keep sharing the old leaf. Comparing the hashes
            // rather than the values spares reading the old value, a cache miss per update.
            Some(if new.hash() == node.hash() {
                node.clone()
            } else {
                new
            })
        }
        Node::Internal(internal) => {
            let ones = ops.partition_point(|op| !bit(&op.key, split));
            let (zeros, ones) = ops.split_at_mut(ones);
            let left = update(internal.left(), split + 1, zeros);
            let right = update(internal.right(), split + 1, ones);
            // Nothing changed below (values rewritten unchanged): keep sharing this node.
            let same = |new: &Option<Node>, old| new.as_ref().is_some_and(|new| new.is(old));
            if internal.at() == at && same(&left, internal.left()) && same(&right, internal.right())
            {
                return Some(node.clone());
            }
            Node::join(split, at, left, right, &prefix)
        }
    }
}

/// A new subtree at depth `at` of `ops`' keys, none of which is in the tree yet (a deletion among
/// them is a no-op).
fn build(ops: &mut [Op], at: usize) -> Option<Node> {
    match ops {
        [] => None,
        [op] => {
            let value = op.value.take()?;
            Some(Node::leaf(op.key, value.into_boxed_slice()))
        }
        [first, .., last] => {
            let prefix = first.key;
            // Sorted keys: the first and the last share exactly what all of them share.
            let split = common_prefix(&first.key, &last.key);
            if split >= KEY_BITS {
                // Equal keys, which `prepare` never leaves: the last one wins.
                let at_last = ops.len() - 1;
                return build(&mut ops[at_last..], at);
            }
            let ones = ops.partition_point(|op| !bit(&op.key, split));
            let (zeros, ones) = ops.split_at_mut(ones);
            Node::join(
                split,
                at,
                build(zeros, split + 1),
                build(ones, split + 1),
                &prefix,
            )
        }
    }
}

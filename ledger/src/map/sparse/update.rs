//! Applying one version's batch: every touched node is rebuilt once, by one recursive descent over
//! the sorted batch, so that a batch of `k` updates costs about `k · (depth − log2 k)` node
//! hashes instead of `k · depth`, and building a map from nothing hashes each node exactly once.
//!
//! The descent has to know, at each node, which keys of the batch leave its subtree inside its
//! placeholder chain (they create a new split above it). Nodes keep no prefix, so [`prepare`] finds
//! it per key first: the depth where the key parts from the leaf its own bits lead to.

use std::cmp::Ordering;
use std::mem;

use super::node::{Bottom, Node, Stub, fold_chain};
use crate::hash::Hash;
use crate::map::{
    KEY_BITS, MapError, common_prefix, internal_hash, key_bit as bit, leaf_hash, value_hash,
};
use crate::map::{MapKey, MapUpdate};

/// How many descents [`prepare`] interleaves.
const LANES: usize = 16;

/// One key's change, with where the key leaves the tree as it was.
pub(super) struct Op {
    key: MapKey,
    value: Option<Vec<u8>>,
    /// The number of leading bits the key shares with the leaf its bits lead to in the old tree:
    /// [`KEY_BITS`] if the key is present (or in a stub's bucket, which is rebuilt whole). On the
    /// way down, a node whose split is deeper than this is a node the key does not belong under.
    parts_at: usize,
    /// The leaf hash of `value`, when it is already known (a stored row, checked on reading).
    known: Option<Hash>,
}

impl Op {
    /// A key of a bucket rebuilt from the store, or loaded at start: present, kept as it is.
    pub(super) fn present(key: MapKey, value: Vec<u8>) -> Self {
        Self {
            key,
            value: Some(value),
            parts_at: KEY_BITS,
            known: None,
        }
    }

    /// The leaf hash of the op's value; `None` for a deletion.
    fn leaf_hash(&self) -> Option<Hash> {
        let value = self.value.as_deref()?;
        Some(
            self.known
                .unwrap_or_else(|| leaf_hash(&self.key, &value_hash(value).0)),
        )
    }

    pub(super) fn key(&self) -> &MapKey {
        &self.key
    }
}

/// A key's value before and after a batch, for a paged map's journal.
pub(super) type Change = (MapKey, Option<Box<[u8]>>, Option<Box<[u8]>>);

/// A batch ready for [`apply`], and how it changes the number of keys.
pub(super) struct Batch {
    pub(super) ops: Vec<Op>,
    pub(super) inserted: usize,
    pub(super) deleted: usize,
    /// Every key the batch changes, with its old and new value: filled for a paged map only.
    pub(super) changes: Vec<Change>,
}

/// Where a paged map's buckets come from: the keys and values of a stub's bucket at the map's
/// latest version, in key order.
pub(super) trait Rows {
    fn rows(&self, stub: &Stub) -> Result<Vec<(MapKey, Vec<u8>)>, MapError>;
}

/// Sorts the updates by key, keeps each key's last update, drops deletions of absent keys, and
/// locates each key in the tree `root`. A key in a stub's bucket brings the whole bucket in from
/// `rows` (checked against the stub's hash), as ops that keep every other key as it is, so that
/// [`apply`] rebuilds the bucket and hashes it again.
///
/// # Errors
/// What `rows` fails with, or [`MapError::Corrupt`] if a bucket's rows do not give its stub's
/// hash; the tree is untouched either way.
pub(super) fn prepare(
    root: Option<&Node>,
    mut updates: Vec<MapUpdate>,
    rows: Option<&dyn Rows>,
) -> Result<Batch, MapError> {
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
    let mut bottoms: Vec<Option<Bottom<'_>>> = Vec::with_capacity(updates.len());
    for chunk in updates.chunks(LANES) {
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
        bottoms.extend(
            nodes
                .iter()
                .zip(chunk)
                .map(|(node, (key, _))| node.map(|node| node.leaf_for(key))),
        );
    }
    let mut batch = Batch {
        ops: Vec::with_capacity(updates.len()),
        inserted: 0,
        deleted: 0,
        changes: Vec::new(),
    };
    let journal = rows.is_some();
    let mut updates = updates.into_iter().zip(bottoms).peekable();
    while let Some(((key, value), bottom)) = updates.next() {
        let (parts_at, old) = match bottom {
            None => (0, None),
            Some(Bottom::Leaf(leaf)) => {
                let parts_at = common_prefix(&key, leaf.key());
                (parts_at, (parts_at == KEY_BITS).then(|| leaf.value()))
            }
            Some(Bottom::Stub(stub)) if !stub.holds(&key) => {
                (common_prefix(&key, stub.prefix()), None)
            }
            Some(Bottom::Stub(stub)) => {
                let mut group = vec![(key, value)];
                while let Some(((next, _), Some(Bottom::Stub(same)))) = updates.peek()
                    && std::ptr::eq(*same, stub)
                    && same.holds(next)
                {
                    if let Some((update, _)) = updates.next() {
                        group.push(update);
                    }
                }
                let rows = rows
                    .ok_or_else(|| MapError::Corrupt("a stub in a map without a store".into()))?;
                bucket(&mut batch, stub, rows.rows(stub)?, group, journal)?;
                continue;
            }
        };
        let present = parts_at == KEY_BITS;
        match (&value, present) {
            (None, false) => continue,
            (None, true) => batch.deleted += 1,
            (Some(_), false) => batch.inserted += 1,
            (Some(_), true) => {}
        }
        if journal {
            batch
                .changes
                .push((key, old.map(Box::from), value.as_deref().map(Box::from)));
        }
        batch.ops.push(Op {
            key,
            value,
            parts_at,
            known: None,
        });
    }
    Ok(batch)
}

/// Adds to `batch` the ops that rebuild `stub`'s bucket: its stored `rows` (after checking that
/// they give the stub's hash) with `updates` (sorted, all in the bucket) merged in.
fn bucket(
    batch: &mut Batch,
    stub: &Stub,
    rows: Vec<(MapKey, Vec<u8>)>,
    updates: Vec<MapUpdate>,
    journal: bool,
) -> Result<(), MapError> {
    let bits = stub.bits();
    // Each stored row is hashed once: for the check here, and again as a leaf of the rebuilt
    // bucket if it is kept.
    let rows: Vec<(MapKey, Vec<u8>, Hash)> = rows
        .into_iter()
        .map(|(key, value)| {
            let hash = leaf_hash(&key, &value_hash(&value).0);
            (key, value, hash)
        })
        .collect();
    let held: Vec<(MapKey, Hash)> = rows.iter().map(|(key, _, hash)| (*key, *hash)).collect();
    if rows.iter().any(|(key, _, _)| !stub.holds(key))
        || rows.len() < 2
        || hash_at(&held, bits) != *stub.inner()
    {
        return Err(MapError::Corrupt(format!(
            "the {} stored keys of the bucket of {} ({bits} bits) do not give the map's hash of it",
            rows.len(),
            crate::hash::Hash(*stub.prefix()),
        )));
    }
    let mut rows = rows.into_iter().peekable();
    let mut updates = updates.into_iter().peekable();
    loop {
        let order = match (rows.peek(), updates.peek()) {
            (None, None) => return Ok(()),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (Some((row, _, _)), Some((update, _))) => row.cmp(update),
        };
        let (key, old, value) = match order {
            Ordering::Less => {
                let Some((key, value, hash)) = rows.next() else {
                    continue;
                };
                batch.ops.push(Op {
                    known: Some(hash),
                    ..Op::present(key, value)
                });
                continue;
            }
            Ordering::Equal => {
                let (Some((key, old, _)), Some((_, value))) = (rows.next(), updates.next()) else {
                    continue;
                };
                if value.is_none() {
                    batch.deleted += 1;
                }
                (key, Some(old), value)
            }
            Ordering::Greater => {
                let Some((key, value)) = updates.next() else {
                    continue;
                };
                if value.is_none() {
                    continue;
                }
                batch.inserted += 1;
                (key, None, value)
            }
        };
        if journal {
            batch.changes.push((
                key,
                old.map(Vec::into_boxed_slice),
                value.as_deref().map(Box::from),
            ));
        }
        batch.ops.push(Op {
            key,
            value,
            parts_at: KEY_BITS,
            known: None,
        });
    }
}

/// The tree `root` with `ops` (from [`prepare`] on the same tree) applied.
pub(super) fn apply(root: Option<&Node>, ops: &mut [Op], bits: usize) -> Option<Node> {
    match root {
        None => build(ops, 0, bits),
        Some(root) => update(root, 0, ops, bits),
    }
}

/// `node` with `ops` applied, standing at depth `at`. Every op's key has the bits that lead to
/// `node`'s place, above `at`.
fn update(node: &Node, at: usize, ops: &mut [Op], bits: usize) -> Option<Node> {
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
            (
                update(node, depth + 1, zeros, bits),
                build(ones, depth + 1, bits),
            )
        } else {
            (
                build(zeros, depth + 1, bits),
                update(node, depth + 1, ones, bits),
            )
        };
        return Node::join(depth, at, left, right, &prefix, bits);
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
        Node::Stub(_) => {
            // Every op here is in the bucket, which `prepare` brought in whole.
            let new = bucket_node(ops, at, bits);
            // Rewritten with the values it had: keep sharing the old stub.
            if let Some(Node::Stub(_)) = &new
                && new.as_ref().map(Node::hash) == Some(node.hash())
            {
                return Some(node.clone());
            }
            new
        }
        Node::Internal(internal) => {
            let ones = ops.partition_point(|op| !bit(&op.key, split));
            let (zeros, ones) = ops.split_at_mut(ones);
            let left = update(internal.left(), split + 1, zeros, bits);
            let right = update(internal.right(), split + 1, ones, bits);
            // Nothing changed below (values rewritten unchanged): keep sharing this node.
            let same = |new: &Option<Node>, old| new.as_ref().is_some_and(|new| new.is(old));
            if internal.at() == at && same(&left, internal.left()) && same(&right, internal.right())
            {
                return Some(node.clone());
            }
            Node::join(split, at, left, right, &prefix, bits)
        }
    }
}

/// A new subtree at depth `at` of `ops`' keys, none of which is in the tree yet (a deletion among
/// them is a no-op).
pub(super) fn build(ops: &mut [Op], at: usize, bits: usize) -> Option<Node> {
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
                return build(&mut ops[at_last..], at, bits);
            }
            let ones = ops.partition_point(|op| !bit(&op.key, split));
            let (zeros, ones) = ops.split_at_mut(ones);
            Node::join(
                split,
                at,
                build(zeros, split + 1, bits),
                build(ones, split + 1, bits),
                &prefix,
                bits,
            )
        }
    }
}

/// The bucket of `ops`' keys (all under one `bits`-bit prefix, in key order; deletions ignored)
/// standing at `at <= bits`: a stub if two or more keys remain, hashed without building its
/// nodes, else the lone leaf or nothing.
pub(super) fn bucket_node(ops: &mut [Op], at: usize, bits: usize) -> Option<Node> {
    let mut kept = ops.iter_mut().filter(|op| op.value.is_some());
    let (first, second) = (kept.next()?, kept.next());
    if second.is_none() {
        let value = first.value.take()?;
        return Some(Node::leaf(first.key, value.into_boxed_slice()));
    }
    let leaves: Vec<(MapKey, Hash)> = ops
        .iter()
        .filter_map(|op| Some((op.key, op.leaf_hash()?)))
        .collect();
    let prefix = leaves.first()?.0;
    Some(Node::stub(hash_at(&leaves, bits), prefix, bits, at))
}

/// The hash at depth `depth` of the subtree of `leaves` (sorted keys sharing their bits above
/// `depth`, each with its leaf hash): the tree's rules, without its nodes.
pub(super) fn hash_at(leaves: &[(MapKey, Hash)], depth: usize) -> Hash {
    match leaves {
        [] => Hash(crate::map::hasher::PLACEHOLDER),
        [(_, hash)] => *hash,
        [(first, _), .., (last, _)] => {
            let split = common_prefix(first, last);
            let ones = leaves.partition_point(|(key, _)| !bit(key, split));
            let own = internal_hash(
                &hash_at(&leaves[..ones], split + 1).0,
                &hash_at(&leaves[ones..], split + 1).0,
            );
            fold_chain(own, first, split, depth)
        }
    }
}

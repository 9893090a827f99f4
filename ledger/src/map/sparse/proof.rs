//! Proofs from the compressed tree, unfolded into the binary tree's levels: a placeholder chain
//! gives one [`EMPTY_MAP_ROOT`] sibling per level, which is what `jmt` (and
//! [`crate::verify::verify_map_proof`]) expect.

use super::node::{Node, fold_chain};
use crate::hash::Hash;
use crate::map::proof::{MAP_PROOF_FORMAT, MapLeaf, MapProof};
use crate::map::{EMPTY_MAP_ROOT, MapKey, value_hash};
use crate::map::{KEY_BITS, common_prefix, key_bit as bit};

/// The value of `key` in the tree `root` and the proof of it (inclusion, or non-inclusion ending
/// at another key's leaf or at an empty subtree).
pub(super) fn prove(root: Option<&Node>, key: &MapKey) -> (Option<Vec<u8>>, MapProof) {
    let mut siblings = Vec::new();
    let mut leaf = None;
    let mut value = None;
    if let Some(root) = root {
        // Where the key leaves the tree, found once from the leaf its bits lead to; that leaf is
        // below every node on the way, so its key also gives their chains' bits.
        let nearest = root.leaf_for(key);
        let parts_at = common_prefix(key, nearest.key());
        let mut node = root;
        let mut at = 0;
        loop {
            let Some(internal) = node.as_internal() else {
                // A leaf: the key's own, or the only key in the subtree the key would be in.
                leaf = Some(MapLeaf {
                    key_hash: Hash(*nearest.key()),
                    value_hash: value_hash(nearest.value()),
                });
                if parts_at == KEY_BITS {
                    value = Some(nearest.value().to_vec());
                }
                break;
            };
            let split = internal.split();
            if parts_at < split {
                // The key's path turns off this node's chain at `parts_at` into an empty subtree,
                // whose sibling is this node's subtree one level down.
                siblings.extend(std::iter::repeat_n(
                    EMPTY_MAP_ROOT,
                    parts_at.saturating_sub(at),
                ));
                let below = fold_chain(internal.split_hash(), nearest.key(), split, parts_at + 1);
                siblings.push(below);
                break;
            }
            siblings.extend(std::iter::repeat_n(
                EMPTY_MAP_ROOT,
                split.saturating_sub(at),
            ));
            let right = bit(key, split);
            siblings.push(*internal.child(!right).hash());
            node = internal.child(right);
            at = split + 1;
        }
    }
    // Collected from the root down; the wire format runs from the leaf up.
    siblings.reverse();
    (
        value,
        MapProof {
            version: MAP_PROOF_FORMAT,
            leaf,
            siblings,
        },
    )
}

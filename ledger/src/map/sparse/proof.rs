//! Proofs from the compressed tree, unfolded into the binary tree's levels: a placeholder chain
//! gives one [`EMPTY_MAP_ROOT`] sibling per level, which is what `jmt` (and
//! [`crate::verify::verify_map_proof`]) expect.

use super::node::{Bottom, Node, Stub, fold_chain};
use crate::hash::Hash;
use crate::map::proof::{MAP_PROOF_FORMAT, MapLeaf, MapProof};
use crate::map::{EMPTY_MAP_ROOT, MapError, MapKey, value_hash};
use crate::map::{KEY_BITS, common_prefix, key_bit as bit};

/// The value of `key` in the tree `root` and the proof of it (inclusion, or non-inclusion ending
/// at another key's leaf or at an empty subtree). A stub holding the key is replaced by its
/// bucket's subtree from `expand` (standing where the stub stands, its hash checked by `expand`).
///
/// # Errors
/// What `expand` fails with.
pub(super) fn prove(
    root: Option<&Node>,
    key: &MapKey,
    expand: impl FnOnce(&Stub) -> Result<Node, MapError>,
) -> Result<(Option<Vec<u8>>, MapProof), MapError> {
    let mut siblings = Vec::new();
    let mut leaf = None;
    let mut value = None;
    if let Some(root) = root {
        // Where the key leaves the tree, found once from the leaf its bits lead to; that leaf is
        // below every node on the way, so its key also gives their chains' bits.
        let bucket = match root.leaf_for(key) {
            Bottom::Stub(stub) if stub.holds(key) => Some(expand(stub)?),
            _ => None,
        };
        let (nearest_key, nearest) = match (root.leaf_for(key), &bucket) {
            (_, Some(bucket)) => match bucket.leaf_for(key) {
                Bottom::Leaf(leaf) => (*leaf.key(), Some(leaf)),
                Bottom::Stub(stub) => (*stub.prefix(), None),
            },
            (Bottom::Leaf(leaf), None) => (*leaf.key(), Some(leaf)),
            (Bottom::Stub(stub), None) => (*stub.prefix(), None),
        };
        let parts_at = common_prefix(key, &nearest_key);
        let mut node = root;
        let mut at = 0;
        loop {
            if let (Node::Stub(_), Some(bucket)) = (node, &bucket) {
                node = bucket;
            }
            let (split, split_hash) = match node {
                Node::Leaf(_) => {
                    // A leaf: the key's own, or the only key in the subtree the key would be in.
                    if let Some(nearest) = nearest {
                        leaf = Some(MapLeaf {
                            key_hash: Hash(*nearest.key()),
                            value_hash: value_hash(nearest.value()),
                        });
                        if parts_at == KEY_BITS {
                            value = Some(nearest.value().to_vec());
                        }
                    }
                    break;
                }
                Node::Internal(internal) => (internal.split(), internal.split_hash()),
                Node::Stub(stub) => (stub.bits(), *stub.inner()),
            };
            if parts_at < split {
                // The key's path turns off this node's chain at `parts_at` into an empty subtree,
                // whose sibling is this node's subtree one level down.
                siblings.extend(std::iter::repeat_n(
                    EMPTY_MAP_ROOT,
                    parts_at.saturating_sub(at),
                ));
                let below = fold_chain(split_hash, &nearest_key, split, parts_at + 1);
                siblings.push(below);
                break;
            }
            let Some(internal) = node.as_internal() else {
                // A stub the key is in was replaced by its bucket above.
                return Err(MapError::Corrupt("a proof reached a stub it holds".into()));
            };
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
    Ok((
        value,
        MapProof {
            version: MAP_PROOF_FORMAT,
            leaf,
            siblings,
        },
    ))
}

//! [`StateMap`] on `jmt` 0.12 (Jellyfish Merkle Tree), over any [`MapNodeStore`].
//!
//! This is the only module that names `jmt` types (and `anyhow`, which `jmt`'s storage traits
//! return): it encodes jmt's node keys and nodes into the store's opaque bytes, turns jmt's
//! update batches into [`MapWriteBatch`]es, and jmt's proofs into our [`MapProof`]. jmt is
//! measured as the likely bottleneck of the sequencer (~27k updates/s in memory), so keeping it
//! behind [`StateMap`] lets a faster tree replace it here alone.

use std::collections::BTreeMap;

use jmt::storage::{LeafNode, Node, NodeKey, TreeReader};
use jmt::{JellyfishMerkleTree, KeyHash, OwnedValue, Version};
use serde::Deserialize;

use crate::hash::Hash;
use crate::map::hasher::{Blake3Jmt, PLACEHOLDER};
use crate::map::proof::{MAP_PROOF_FORMAT, MapLeaf, MapProof};
use crate::map::store::{MapNodeStore, MapStoreError, MapWriteBatch, PruneStats, StaleNode};
use crate::map::{
    MapError, MapKey, MapUpdate, StateMap, check_next_version, internal_hash, leaf_hash,
};

/// The state map as a Jellyfish Merkle Tree whose nodes live in `S`.
#[derive(Debug)]
pub struct JmtStateMap<S> {
    store: S,
}

type Tree<'a, S> = JellyfishMerkleTree<'a, Reader<'a, S>, Blake3Jmt>;

impl<S: MapNodeStore> JmtStateMap<S> {
    /// A map over `store`, continuing from whatever versions the store already holds.
    pub fn new(store: S) -> Self {
        Self { store }
    }

    /// The node store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The node store, mutably: for writing a batch from [`JmtStateMap::prepare`].
    pub fn store_mut(&mut self) -> &mut S {
        &mut self.store
    }

    /// Gives the node store back.
    pub fn into_store(self) -> S {
        self.store
    }

    /// Computes `version` from `updates` without writing it: the new root and the batch that
    /// [`StateMap::apply`] would write. For a caller that commits the map batch in the same
    /// storage transaction as other data: it writes the batch through its own transaction (or
    /// [`JmtStateMap::store_mut`]), unchanged and before preparing the next version.
    ///
    /// # Errors
    /// As [`StateMap::apply`].
    pub fn prepare(
        &self,
        version: u64,
        updates: Vec<MapUpdate>,
    ) -> Result<(Hash, MapWriteBatch), MapError> {
        check_next_version(self.store.latest_version()?, version)?;
        // jmt wants each key at most once per version; sorting also makes the batch independent
        // of the caller's order.
        let set: BTreeMap<MapKey, Option<Vec<u8>>> = updates.into_iter().collect();
        let reader = Reader(&self.store);
        let tree = Tree::new(&reader);
        let (root, update) = if !set.is_empty() && set.values().all(Option::is_some) {
            // jmt's batch path walks the tree once per version instead of once per key, about
            // twice as fast; it takes no deletions (and no empty set), which take the other path.
            let writes = set.into_iter().filter_map(|(k, v)| Some((KeyHash(k), v?)));
            let (roots, update) = tree
                .batch_put_value_sets(vec![writes.collect()], None, version)
                .map_err(from_jmt)?;
            let root = roots.first().copied().ok_or_else(|| {
                MapError::Corrupt(format!("jmt returned no root for version {version}"))
            })?;
            (root, update)
        } else {
            tree.put_value_set(set.into_iter().map(|(k, v)| (KeyHash(k), v)), version)
                .map_err(from_jmt)?
        };

        let mut batch = MapWriteBatch {
            version,
            nodes: Vec::with_capacity(update.node_batch.nodes().len()),
            values: Vec::with_capacity(update.node_batch.values().len()),
            stale: Vec::with_capacity(update.stale_node_index_batch.len() + 1),
        };
        for (key, node) in update.node_batch.nodes() {
            batch.nodes.push((encode_node_key(key), encode_node(node)?));
        }
        for ((_, key_hash), value) in update.node_batch.values() {
            batch.values.push((key_hash.0, value.clone()));
        }
        for stale in &update.stale_node_index_batch {
            batch.stale.push(StaleNode {
                since: stale.stale_since_version,
                key: encode_node_key(&stale.node_key),
            });
        }
        // Every version writes its own root node, but jmt marks the previous root stale only when
        // it rewrites it (not when the tree was empty or unchanged); record it here so pruning
        // never leaks old roots.
        if let Some(previous) = version.checked_sub(1) {
            let key = root_node_key(previous);
            if !batch.stale.iter().any(|s| s.key == key) {
                batch.stale.push(StaleNode {
                    since: version,
                    key,
                });
            }
        }
        Ok((Hash(root.0), batch))
    }

    /// Checks that `version` can be read: written and not pruned.
    fn check_readable(&self, version: u64) -> Result<(), MapError> {
        let latest = self.store.latest_version()?;
        if latest.is_none_or(|latest| version > latest) {
            return Err(MapError::VersionNotWritten { version, latest });
        }
        let oldest_kept = self.store.oldest_kept()?;
        if version < oldest_kept {
            return Err(MapError::VersionPruned {
                version,
                oldest_kept,
            });
        }
        Ok(())
    }
}

impl<S: MapNodeStore> StateMap for JmtStateMap<S> {
    fn apply(&mut self, version: u64, updates: Vec<MapUpdate>) -> Result<Hash, MapError> {
        let (root, batch) = self.prepare(version, updates)?;
        self.store.write(batch)?;
        Ok(root)
    }

    fn latest_version(&self) -> Result<Option<u64>, MapError> {
        Ok(self.store.latest_version()?)
    }

    fn root(&self, version: u64) -> Result<Hash, MapError> {
        self.check_readable(version)?;
        let reader = Reader(&self.store);
        match Tree::new(&reader)
            .get_root_hash_option(version)
            .map_err(from_jmt)?
        {
            Some(root) => Ok(Hash(root.0)),
            None => Err(MapError::Corrupt(format!(
                "no root node for version {version}"
            ))),
        }
    }

    fn get(&self, key: &MapKey, version: u64) -> Result<Option<Vec<u8>>, MapError> {
        self.check_readable(version)?;
        // The value index answers "newest at or below" directly; no tree walk needed.
        Ok(self.store.get_value(key, version)?)
    }

    fn prove(&self, key: &MapKey, version: u64) -> Result<(Option<Vec<u8>>, MapProof), MapError> {
        self.check_readable(version)?;
        let reader = Reader(&self.store);
        let (value, proof) = Tree::new(&reader)
            .get_with_proof(KeyHash(*key), version)
            .map_err(from_jmt)?;
        Ok((value, convert_proof(&proof)?))
    }

    fn prune(&mut self, oldest_kept: u64) -> Result<PruneStats, MapError> {
        let latest = self.store.latest_version()?;
        if latest.is_none_or(|latest| oldest_kept > latest) {
            return Err(MapError::VersionNotWritten {
                version: oldest_kept,
                latest,
            });
        }
        Ok(self.store.prune(oldest_kept)?)
    }
}

/// jmt's view of the store.
struct Reader<'a, S>(&'a S);

impl<S: MapNodeStore> TreeReader for Reader<'_, S> {
    fn get_node_option(&self, node_key: &NodeKey) -> anyhow::Result<Option<Node>> {
        let mut key = [0; NODE_KEY_MAX];
        let len = write_node_key(node_key, &mut key);
        match self.0.get_node(&key[..len])? {
            None => Ok(None),
            Some(bytes) => Ok(Some(decode_node(&bytes)?)),
        }
    }

    fn get_value_option(
        &self,
        max_version: Version,
        key_hash: KeyHash,
    ) -> anyhow::Result<Option<OwnedValue>> {
        Ok(self.0.get_value(&key_hash.0, max_version)?)
    }

    fn get_rightmost_leaf(&self) -> anyhow::Result<Option<(NodeKey, LeafNode)>> {
        // Only jmt's state-sync restore and its "migration" feature call this; the map uses
        // neither, so stores need not keep an index for it.
        Err(anyhow::anyhow!(
            "rightmost leaf lookup is not supported by the map's node store"
        ))
    }
}

/// Keeps a store failure as such; anything else jmt reports means the stored tree is unusable.
fn from_jmt(err: anyhow::Error) -> MapError {
    match err.downcast::<MapStoreError>() {
        Ok(store) => MapError::Store(store),
        Err(other) => MapError::Corrupt(format!("{other:#}")),
    }
}

/// `version (8 bytes, big-endian) ‖ nibble count (1 byte) ‖ nibbles packed two per byte`.
///
/// Version first keeps one version's nodes together in an ordered store.
fn encode_node_key(key: &NodeKey) -> Vec<u8> {
    let mut out = [0; NODE_KEY_MAX];
    let len = write_node_key(key, &mut out);
    out[..len].to_vec()
}

/// The longest encoded node key: version, count, 32 bytes of nibbles.
const NODE_KEY_MAX: usize = 8 + 1 + 32;

/// [`encode_node_key`] into a buffer, returning the length used: lookups need no allocation.
fn write_node_key(key: &NodeKey, out: &mut [u8; NODE_KEY_MAX]) -> usize {
    let path = key.nibble_path();
    // A path has at most 64 nibbles (256-bit keys), so the count fits a byte.
    let n = path.num_nibbles().min(64);
    out[..8].copy_from_slice(&key.version().to_be_bytes());
    out[8] = n as u8;
    for (byte, i) in out[9..].iter_mut().zip((0..n).step_by(2)) {
        let high = u8::from(path.get_nibble(i));
        let low = if i + 1 < n {
            u8::from(path.get_nibble(i + 1))
        } else {
            0
        };
        *byte = high << 4 | low;
    }
    9 + n.div_ceil(2)
}

fn root_node_key(version: u64) -> Vec<u8> {
    let mut out = version.to_be_bytes().to_vec();
    out.push(0);
    out
}

/// Nodes are stored in bincode 2 of jmt's serde form; the bytes stay inside the map, so only
/// this module and the pinned jmt version must agree on them.
fn encode_node(node: &Node) -> Result<Vec<u8>, MapError> {
    // Encoded nodes are under 900 bytes (16 children of at most 52); encoding into a buffer and
    // copying out once avoids growing a vector through 8, 16, … 1024 bytes, which showed up as
    // ~10% of an update (reallocations, and glibc consolidating its bins on the 1 KiB request).
    let mut buffer = [0; 1024];
    let config = bincode::config::standard();
    match bincode::serde::encode_into_slice(node, &mut buffer, config) {
        Ok(len) => Ok(buffer[..len].to_vec()),
        Err(_) => bincode::serde::encode_to_vec(node, config)
            .map_err(|e| MapError::Corrupt(format!("cannot encode a tree node: {e}"))),
    }
}

fn decode_node(bytes: &[u8]) -> Result<Node, MapStoreError> {
    match bincode::serde::decode_from_slice(bytes, bincode::config::standard()) {
        Ok((node, used)) if used == bytes.len() => Ok(node),
        Ok(_) => Err(MapStoreError::Corrupt(
            "trailing bytes after a tree node".into(),
        )),
        Err(e) => Err(MapStoreError::Undecodable(e)),
    }
}

/// Mirror of `jmt::proof::SparseMerkleProof`'s serde form: jmt keeps the proof's siblings
/// crate-private, so they are read back through serde. A unit test checks the conversion by
/// verifying converted proofs against jmt's own verifier.
#[derive(Deserialize)]
struct JmtProof {
    leaf: Option<JmtLeaf>,
    siblings: Vec<JmtNode>,
}

#[derive(Deserialize)]
struct JmtLeaf {
    key_hash: [u8; 32],
    value_hash: [u8; 32],
}

#[derive(Deserialize)]
struct JmtInternal {
    left_child: [u8; 32],
    right_child: [u8; 32],
}

/// Variant order matters: it is jmt's `SparseMerkleNode`.
#[derive(Deserialize)]
enum JmtNode {
    Null,
    Internal(JmtInternal),
    Leaf(JmtLeaf),
}

fn convert_proof(proof: &jmt::proof::SparseMerkleProof<Blake3Jmt>) -> Result<MapProof, MapError> {
    let config = bincode::config::standard();
    let mirror: JmtProof = bincode::serde::encode_to_vec(proof, config)
        .ok()
        .and_then(|bytes| bincode::serde::decode_from_slice(&bytes, config).ok())
        .map(|(mirror, _)| mirror)
        .ok_or_else(|| MapError::Corrupt("jmt proof does not have the expected form".into()))?;
    let siblings = mirror
        .siblings
        .iter()
        .map(|node| match node {
            JmtNode::Null => Hash(PLACEHOLDER),
            JmtNode::Internal(n) => internal_hash(&n.left_child, &n.right_child),
            JmtNode::Leaf(l) => leaf_hash(&l.key_hash, &l.value_hash),
        })
        .collect();
    Ok(MapProof {
        version: MAP_PROOF_FORMAT,
        leaf: mirror.leaf.map(|l| MapLeaf {
            key_hash: Hash(l.key_hash),
            value_hash: Hash(l.value_hash),
        }),
        siblings,
    })
}

#[cfg(test)]
#[path = "jmt_map_tests.rs"]
mod tests;

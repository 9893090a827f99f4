//! An in-memory [`MapNodeStore`]: for tests, benches, the audit tool's replay, and as the
//! reference the node's storage engines are compared with.
//!
//! Laid out for speed rather than as a model of an ordered engine: nodes in a hash map (the tree
//! only ever looks nodes up by exact key), each key's value history in its own version-sorted
//! vector, and the pruning records grouped by version. A `BTreeMap<Vec<u8>, _>` of 10^6 nodes
//! spent most of an update in `memcmp` and in the allocator.

use std::collections::{BTreeMap, HashMap};

use crate::map::MapKey;
use crate::map::store::{MapNodeStore, MapStoreError, MapWriteBatch, PruneStats};

/// One key's entries `(version, value or deletion marker)`, sorted by version.
type ValueHistory = Vec<(u64, Option<Vec<u8>>)>;

/// A [`MapNodeStore`] in hash maps and vectors. Never fails.
#[derive(Debug, Default, Clone)]
pub struct MemoryMapStore {
    nodes: HashMap<Vec<u8>, Vec<u8>>,
    /// Each key's entries, sorted by version, so "newest at or below" is one binary search.
    values: HashMap<MapKey, ValueHistory>,
    /// Number of entries in `values`, deletion markers included.
    value_entries: usize,
    /// Node keys by the version since which they are stale.
    stale_nodes: BTreeMap<u64, Vec<Vec<u8>>>,
    /// Keys of the values written at each version and not yet used by a prune.
    written_values: BTreeMap<u64, Vec<MapKey>>,
    latest: Option<u64>,
    oldest_kept: u64,
}

impl MemoryMapStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of tree nodes held, to observe pruning.
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Number of value entries held (including deletion markers), to observe pruning.
    pub fn value_count(&self) -> usize {
        self.value_entries
    }
}

impl MapNodeStore for MemoryMapStore {
    fn get_node(&self, key: &[u8]) -> Result<Option<Vec<u8>>, MapStoreError> {
        Ok(self.nodes.get(key).cloned())
    }

    fn get_value(
        &self,
        key_hash: &MapKey,
        max_version: u64,
    ) -> Result<Option<Vec<u8>>, MapStoreError> {
        let Some(history) = self.values.get(key_hash) else {
            return Ok(None);
        };
        let at_or_below = history.partition_point(|(version, _)| *version <= max_version);
        Ok(at_or_below
            .checked_sub(1)
            .and_then(|i| history[i].1.clone()))
    }

    fn write(&mut self, batch: MapWriteBatch) -> Result<(), MapStoreError> {
        let version = batch.version;
        self.nodes.reserve(batch.nodes.len());
        self.nodes.extend(batch.nodes);
        let mut keys = Vec::with_capacity(batch.values.len());
        for (key, value) in batch.values {
            let history = self.values.entry(key).or_default();
            // Versions normally only grow, so this is a push; a rewritten version replaces.
            let at = history.partition_point(|(v, _)| *v < version);
            match history.get_mut(at) {
                Some(entry) if entry.0 == version => entry.1 = value,
                _ => {
                    history.insert(at, (version, value));
                    self.value_entries += 1;
                }
            }
            keys.push(key);
        }
        if !keys.is_empty() {
            self.written_values.entry(version).or_default().extend(keys);
        }
        for stale in batch.stale {
            self.stale_nodes
                .entry(stale.since)
                .or_default()
                .push(stale.key);
        }
        self.latest = Some(version);
        Ok(())
    }

    fn prune(&mut self, oldest_kept: u64) -> Result<PruneStats, MapStoreError> {
        let mut stats = PruneStats::default();
        if oldest_kept <= self.oldest_kept {
            return Ok(stats);
        }
        let keep_nodes = match oldest_kept.checked_add(1) {
            Some(since) => self.stale_nodes.split_off(&since),
            None => BTreeMap::new(),
        };
        for keys in std::mem::replace(&mut self.stale_nodes, keep_nodes).into_values() {
            for key in keys {
                if self.nodes.remove(&key).is_some() {
                    stats.nodes += 1;
                }
            }
        }
        let keep_values = match oldest_kept.checked_add(1) {
            Some(version) => self.written_values.split_off(&version),
            None => BTreeMap::new(),
        };
        for (version, keys) in std::mem::replace(&mut self.written_values, keep_values) {
            for key in keys {
                let Some(history) = self.values.get_mut(&key) else {
                    continue;
                };
                let mut drop = history.partition_point(|(v, _)| *v < version);
                if matches!(history.get(drop), Some((v, None)) if *v == version) {
                    drop += 1;
                }
                if drop > 0 {
                    history.drain(..drop);
                    stats.values += drop as u64;
                    self.value_entries -= drop;
                }
                if history.is_empty() {
                    self.values.remove(&key);
                }
            }
        }
        self.oldest_kept = oldest_kept;
        Ok(stats)
    }

    fn latest_version(&self) -> Result<Option<u64>, MapStoreError> {
        Ok(self.latest)
    }

    fn oldest_kept(&self) -> Result<u64, MapStoreError> {
        Ok(self.oldest_kept)
    }
}

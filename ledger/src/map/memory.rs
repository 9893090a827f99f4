//! An in-memory [`MapNodeStore`]: for tests, benches, the audit tool's replay, and as the
//! reference the node's storage engines are compared with.

use std::collections::{BTreeMap, BTreeSet};

use crate::map::MapKey;
use crate::map::store::{MapNodeStore, MapStoreError, MapWriteBatch, PruneStats, StaleNode};

/// A [`MapNodeStore`] in `BTreeMap`s. Never fails.
#[derive(Debug, Default, Clone)]
pub struct MemoryMapStore {
    nodes: BTreeMap<Vec<u8>, Vec<u8>>,
    /// Ordered by key then version, so "newest at or below" is one backwards range step.
    values: BTreeMap<(MapKey, u64), Option<Vec<u8>>>,
    stale_nodes: BTreeSet<StaleNode>,
    /// `(version, key)` of every value written and not yet used by a prune.
    written_values: BTreeSet<(u64, MapKey)>,
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
        self.values.len()
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
        Ok(self
            .values
            .range((*key_hash, 0)..=(*key_hash, max_version))
            .next_back()
            .and_then(|(_, value)| value.clone()))
    }

    fn write(&mut self, batch: MapWriteBatch) -> Result<(), MapStoreError> {
        let version = batch.version;
        self.nodes.extend(batch.nodes);
        for (key, value) in batch.values {
            self.values.insert((key, version), value);
            self.written_values.insert((version, key));
        }
        self.stale_nodes.extend(batch.stale);
        self.latest = Some(version);
        Ok(())
    }

    fn prune(&mut self, oldest_kept: u64) -> Result<PruneStats, MapStoreError> {
        let mut stats = PruneStats::default();
        if oldest_kept <= self.oldest_kept {
            return Ok(stats);
        }
        // Records with `since <= oldest_kept` sort before this bound: the empty key is smallest.
        let keep_nodes = match oldest_kept.checked_add(1) {
            Some(since) => self.stale_nodes.split_off(&StaleNode {
                since,
                key: Vec::new(),
            }),
            None => BTreeSet::new(),
        };
        for stale in std::mem::replace(&mut self.stale_nodes, keep_nodes) {
            if self.nodes.remove(&stale.key).is_some() {
                stats.nodes += 1;
            }
        }
        let keep_values = match oldest_kept.checked_add(1) {
            Some(version) => self.written_values.split_off(&(version, [0; 32])),
            None => BTreeSet::new(),
        };
        for (version, key) in std::mem::replace(&mut self.written_values, keep_values) {
            let older: Vec<_> = self
                .values
                .range((key, 0)..(key, version))
                .map(|(k, _)| *k)
                .collect();
            for k in older {
                self.values.remove(&k);
                stats.values += 1;
            }
            if let Some(None) = self.values.get(&(key, version)) {
                self.values.remove(&(key, version));
                stats.values += 1;
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

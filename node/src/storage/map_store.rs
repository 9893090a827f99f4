//! The state map's node store (`ledger::map::MapNodeStore`) over the engines.
//!
//! The sequencer does not use it: its map is a `SparseMap` in memory, rebuilt from the state
//! snapshot on start, because writing jmt's nodes at every checkpoint and pruning them was
//! measured as most of the sequencer's time (`sequencer::log`). It is kept, and held to the
//! ledger's conformance suite on both engines, for a replay over more accounts than memory
//! holds (a witness's or the audit tool's, DESIGN §6): `replay_into(JmtStateMap::new(&store), ..)`
//! keeps jmt's nodes here, in their own tables, apart from the node's log. `JmtStateMap` is behind
//! the ledger's `reference-jmt` feature, which this crate turns on only for its tests (through
//! `testing`), so the node's build carries no `jmt`; a replay that wants this store turns it on.
//!
//! Nodes are stored under their opaque key; values under `key hash ‖ version (BE)`, so "newest
//! at or below a version" is one backwards step of a range; pruning reads the `map_stale` and
//! `map_written` records of the versions it drops and deletes in one atomic commit.

use std::collections::BTreeSet;

use testigo_ledger::map::{MapKey, MapNodeStore, MapStoreError, MapWriteBatch, PruneStats};

use super::layout::{
    META_MAP_LATEST, META_MAP_OLDEST, Op, Table, decode_u64, prefixed_u64, u64_key,
};
use super::{StorageError, Store};

impl From<StorageError> for MapStoreError {
    fn from(error: StorageError) -> Self {
        match error {
            StorageError::Corrupt { .. } => MapStoreError::Corrupt(error.to_string()),
            other => MapStoreError::Engine(Box::new(other)),
        }
    }
}

impl Store {
    fn map_get_value(
        &self,
        key_hash: &MapKey,
        max_version: u64,
    ) -> Result<Option<Vec<u8>>, StorageError> {
        let low = prefixed_u64(key_hash, 0);
        let high = prefixed_u64(key_hash, max_version);
        match self.engine.last_in(Table::MapValues, &low, &high)? {
            None => Ok(None),
            Some((key, tagged)) => match tagged.split_first() {
                Some((0, [])) => Ok(None),
                Some((1, value)) => Ok(Some(value.to_vec())),
                _ => Err(StorageError::corrupt(
                    Table::MapValues.name(),
                    &key,
                    "value is neither 0x00 nor 0x01 ‖ bytes",
                )),
            },
        }
    }

    /// Deletes what only versions below `oldest_kept` need, in one atomic durable commit.
    ///
    /// Holds in memory the keys it deletes: prune regularly so each prune stays small.
    fn map_prune(&self, oldest_kept: u64) -> Result<PruneStats, StorageError> {
        let _writer = self.lock_writer();
        let mut stats = PruneStats::default();
        if oldest_kept <= self.meta_u64(META_MAP_OLDEST)?.unwrap_or(0) {
            return Ok(stats);
        }
        let mut ops = Vec::new();
        // Records of versions `<= oldest_kept` sort below `oldest_kept + 1` (big-endian).
        let end = oldest_kept.checked_add(1).map(u64_key);
        let mut deleted_nodes = BTreeSet::new();
        for (record, _) in self
            .engine
            .scan(Table::MapStale, &[], end.as_deref(), usize::MAX)?
        {
            let node = record[8..].to_vec();
            if !deleted_nodes.contains(&node) && self.engine.get(Table::MapNodes, &node)?.is_some()
            {
                stats.nodes += 1;
                ops.push(Op::Delete(Table::MapNodes, node.clone()));
            }
            deleted_nodes.insert(node);
            ops.push(Op::Delete(Table::MapStale, record));
        }
        let mut deleted_values = BTreeSet::new();
        for (record, _) in self
            .engine
            .scan(Table::MapWritten, &[], end.as_deref(), usize::MAX)?
        {
            let (version, key_hash) = record.split_at(8);
            let version = decode_u64(Table::MapWritten.name(), &record, version)?;
            let older = self.engine.scan(
                Table::MapValues,
                &prefixed_u64(key_hash, 0),
                Some(&prefixed_u64(key_hash, version)),
                usize::MAX,
            )?;
            let mut doomed: Vec<Vec<u8>> = older.into_iter().map(|(k, _)| k).collect();
            let at = prefixed_u64(key_hash, version);
            if self.engine.get(Table::MapValues, &at)?.as_deref() == Some(&[0]) {
                doomed.push(at);
            }
            for key in doomed {
                if deleted_values.insert(key.clone()) {
                    stats.values += 1;
                    ops.push(Op::Delete(Table::MapValues, key));
                }
            }
            ops.push(Op::Delete(Table::MapWritten, record));
        }
        ops.push(Op::Put(
            Table::Meta,
            META_MAP_OLDEST.to_vec(),
            u64_key(oldest_kept),
        ));
        self.engine.commit(&ops)?;
        Ok(stats)
    }

    fn map_write(&self, map: MapWriteBatch) -> Result<(), StorageError> {
        let mut batch = self.batch();
        batch.put_map(map);
        self.commit(batch).map(drop)
    }
}

/// Implements `MapNodeStore` for `Store` and `&Store` (a `JmtStateMap<&Store>` over the one
/// `Arc<Store>` the node shares, when a replay needs one).
macro_rules! map_node_store {
    ($ty:ty) => {
        impl MapNodeStore for $ty {
            fn get_node(&self, key: &[u8]) -> Result<Option<Vec<u8>>, MapStoreError> {
                Ok(self.engine.get(Table::MapNodes, key)?)
            }

            fn get_value(
                &self,
                key_hash: &MapKey,
                max_version: u64,
            ) -> Result<Option<Vec<u8>>, MapStoreError> {
                Ok(self.map_get_value(key_hash, max_version)?)
            }

            fn write(&mut self, batch: MapWriteBatch) -> Result<(), MapStoreError> {
                Ok(self.map_write(batch)?)
            }

            fn prune(&mut self, oldest_kept: u64) -> Result<PruneStats, MapStoreError> {
                Ok(self.map_prune(oldest_kept)?)
            }

            fn latest_version(&self) -> Result<Option<u64>, MapStoreError> {
                Ok(self.meta_u64(META_MAP_LATEST)?)
            }

            fn oldest_kept(&self) -> Result<u64, MapStoreError> {
                Ok(self.meta_u64(META_MAP_OLDEST)?.unwrap_or(0))
            }
        }
    };
}

map_node_store!(Store);
map_node_store!(&Store);

//! The map's node store: the contract a storage engine implements to hold the state map.
//!
//! Everything crossing this trait is plain bytes and integers, so an engine in another crate
//! (redb, sled) implements it without depending on `jmt`; the tree encodes its own nodes and
//! node keys.

use crate::map::MapKey;

/// Storage for the state map's tree nodes and versioned values.
///
/// Three kinds of data, all written by [`MapNodeStore::write`] in one atomic batch:
///
/// - **Nodes**: opaque key → opaque bytes. Keys start with the 8-byte big-endian version that
///   created the node, so a range scan by version is possible, but the store never needs to parse
///   them. A node, once written, never changes.
/// - **Values**: `(key hash, version) → Some(bytes)` or a deletion marker (`None`).
///   [`MapNodeStore::get_value`] must return the newest entry at or below a given version, so the
///   engine needs an ordered range lookup: store entries under `key_hash ‖ version (big-endian)`
///   and seek backwards from `key_hash ‖ max_version`.
/// - **Stale records**: for each batch, the nodes that stop being part of the tree from that
///   version on ([`StaleNode`]), and implicitly every value written at that version (which makes
///   older entries of the same key unneeded). [`MapNodeStore::prune`] uses them.
///
/// Plus two numbers: the latest version written and the oldest version kept.
/// `ledger::map::conformance::run_map_store_conformance` (feature `testing`) checks every rule
/// here against an implementation.
pub trait MapNodeStore {
    /// The node stored under `key`, if any.
    ///
    /// # Errors
    /// [`MapStoreError`] if the engine fails.
    fn get_node(&self, key: &[u8]) -> Result<Option<Vec<u8>>, MapStoreError>;

    /// The value of `key_hash` at `max_version`: the newest entry whose version is at or below
    /// `max_version`, or `None` if there is none or that entry is a deletion marker.
    ///
    /// # Errors
    /// [`MapStoreError`] if the engine fails.
    fn get_value(
        &self,
        key_hash: &MapKey,
        max_version: u64,
    ) -> Result<Option<Vec<u8>>, MapStoreError>;

    /// Writes `batch` atomically: all of it or none of it. Afterwards
    /// [`MapNodeStore::latest_version`] is `batch.version`. Also keeps, for pruning, the batch's
    /// stale nodes and the keys of the values it writes.
    ///
    /// # Errors
    /// [`MapStoreError`] if the engine fails; nothing of the batch may then be visible.
    fn write(&mut self, batch: MapWriteBatch) -> Result<(), MapStoreError>;

    /// Deletes what only versions below `oldest_kept` need, atomically, and records
    /// `oldest_kept`. Does nothing if `oldest_kept` is not above the recorded value. Precisely:
    ///
    /// - every node recorded stale since a version `s <= oldest_kept` is deleted (with its record);
    /// - for every value written at a version `v <= oldest_kept` (key `k`), every entry of `k`
    ///   older than `v` is deleted, and the entry at `v` too if it is a deletion marker.
    ///
    /// Every lookup at a version `>= oldest_kept` answers exactly as before.
    ///
    /// # Errors
    /// [`MapStoreError`] if the engine fails; nothing may then have been deleted.
    fn prune(&mut self, oldest_kept: u64) -> Result<PruneStats, MapStoreError>;

    /// The version of the last batch written, `None` if none was.
    ///
    /// # Errors
    /// [`MapStoreError`] if the engine fails.
    fn latest_version(&self) -> Result<Option<u64>, MapStoreError>;

    /// The `oldest_kept` of the last effective [`MapNodeStore::prune`], 0 if never pruned.
    ///
    /// # Errors
    /// [`MapStoreError`] if the engine fails.
    fn oldest_kept(&self) -> Result<u64, MapStoreError>;
}

/// A node that stops being part of the tree at version `since` and can be deleted once every
/// version below `since` is pruned.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct StaleNode {
    /// The first version whose tree no longer contains the node.
    pub since: u64,
    /// The node's key, as in [`MapWriteBatch::nodes`].
    pub key: Vec<u8>,
}

/// Everything one map version writes, to be stored atomically by [`MapNodeStore::write`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MapWriteBatch {
    /// The map version this batch creates.
    pub version: u64,
    /// New nodes: `(key, encoded node)`, keys unique.
    pub nodes: Vec<(Vec<u8>, Vec<u8>)>,
    /// Values written at `version`: `(key hash, Some(value))`, or `None` for a deletion; keys
    /// unique.
    pub values: Vec<(MapKey, Option<Vec<u8>>)>,
    /// Nodes that this version replaces.
    pub stale: Vec<StaleNode>,
}

/// What a prune deleted, for metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PruneStats {
    /// Tree nodes deleted.
    pub nodes: u64,
    /// Value entries (old values and deletion markers) deleted.
    pub values: u64,
}

/// A node store failed.
#[derive(Debug, thiserror::Error)]
pub enum MapStoreError {
    /// The storage engine failed (I/O, transaction conflict, …); whether retrying helps depends
    /// on the engine's error, kept as the source.
    #[error("storage engine: {0}")]
    Engine(#[source] Box<dyn std::error::Error + Send + Sync + 'static>),
    /// Stored bytes could not be read back as what was written (disk corruption, foreign data).
    #[error("stored map data is corrupt: {0}")]
    Corrupt(String),
    /// A stored tree node does not decode (disk corruption, foreign data); the decoder's error
    /// is the source.
    #[error("stored map data is corrupt: a tree node does not decode: {0}")]
    Undecodable(#[source] bincode::error::DecodeError),
}

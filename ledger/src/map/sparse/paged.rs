//! A paged map: the tree's top levels in memory, its buckets in a store.
//!
//! With `bits` set, every bucket of two or more keys under one `bits`-bit prefix is a stub in
//! memory (its hash) and rows in a [`BucketSource`] (the node's account records). Memory is then
//! bounded by the number of buckets, `2^bits`, whatever the number of keys, and an update to a
//! key in a stub reads its bucket's rows and hashes them again: a range scan of `keys / 2^bits`
//! rows, checked against the stub's hash before anything is built on them.
//!
//! **Versions.** The store holds one version of the values (the one its owner last committed,
//! which it reports with every read); the map keeps two records to answer for the others:
//!
//! - `pending`, the values of versions the store may not hold yet, newest per key, which the map
//!   lays over the store's rows when it updates or reads its latest version;
//! - the journal, for each version, the old values of the keys it changed, linked from each
//!   version to the next, so a [`super::MapSnapshot`] of an older version can undo what the
//!   store has moved on to. A snapshot keeps alive only the journal after it.
//!
//! A snapshot that cannot reconstruct its version (the store is behind it, or moved on while it
//! read) answers [`MapError::Moved`]; asking again reads the store's new state. Whatever a read
//! gives is checked against the stub's hash, so neither a race nor a damaged store can give a
//! wrong value or proof.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use super::node::{Node, Stub};
use super::update::{self, Op, Rows};
use crate::map::{KEY_BITS, MapError, MapKey, MapStoreError, common_prefix, key_bit as bit};

/// Where a paged map's buckets live: the store of its values, as of the version it reports.
pub trait BucketSource: Send + Sync {
    /// The map version the store holds (`None` if it holds none) and every key sharing the first
    /// `bits` bits of `prefix`, with its value, in key order: both read from one snapshot where
    /// the engine has snapshots.
    ///
    /// # Errors
    /// [`MapStoreError`] if the store fails.
    fn bucket(&self, prefix: &MapKey, bits: usize) -> Result<Stored<BucketRows>, MapStoreError>;

    /// The map version the store holds, `None` if it holds none.
    ///
    /// # Errors
    /// [`MapStoreError`] if the store fails.
    fn version(&self) -> Result<Option<u64>, MapStoreError>;

    /// The map version the store holds and the value of `key` in it, read together.
    ///
    /// # Errors
    /// [`MapStoreError`] if the store fails.
    fn value(&self, key: &MapKey) -> Result<Stored<Option<Vec<u8>>>, MapStoreError>;
}

/// A bucket's keys and values, in key order.
pub type BucketRows = Vec<(MapKey, Vec<u8>)>;

/// What a [`BucketSource`] read, and the map version it read it at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stored<T> {
    /// The map version the store holds, `None` before it holds any.
    pub version: Option<u64>,
    pub data: T,
}

/// A value in the map's own records: `None` for an absent key.
type Value = Option<Box<[u8]>>;

/// A paged map's store and what it holds beside the tree.
pub(super) struct Paging {
    pub(super) source: Arc<dyn BucketSource>,
    pub(super) bits: usize,
    /// Values written by versions the store may not hold yet: key → (version, value).
    pending: BTreeMap<MapKey, (u64, Value)>,
}

/// Where a version's successor records what it changed, once it is written.
#[derive(Default)]
pub(super) struct Slot(OnceLock<Arc<Entry>>);

/// One version's changes: the old value (`None`: absent) of every key it changed.
pub(super) struct Entry {
    version: u64,
    undo: BTreeMap<MapKey, Option<Box<[u8]>>>,
    next: Arc<Slot>,
}

/// What a snapshot of a paged map needs to read its buckets.
#[derive(Clone)]
pub(super) struct Pager {
    source: Arc<dyn BucketSource>,
    /// The journal from the version after the snapshot's on.
    after: Arc<Slot>,
    /// The newest version at or below the snapshot's that changed anything.
    changed_at: u64,
}

/// The smallest and largest key of the bucket of `prefix`'s first `bits` bits: what a
/// [`BucketSource`] reads as one range.
pub fn bucket_bounds(prefix: &MapKey, bits: usize) -> (MapKey, MapKey) {
    let (mut low, mut high) = (*prefix, *prefix);
    for depth in bits..KEY_BITS {
        let (byte, mask) = (depth / 8, 0x80u8 >> (depth % 8));
        low[byte] &= !mask;
        high[byte] |= mask;
    }
    (low, high)
}

fn store_error(e: MapStoreError) -> MapError {
    MapError::Store(e)
}

impl Paging {
    pub(super) fn new(source: Arc<dyn BucketSource>, bits: usize) -> Self {
        Self {
            source,
            bits: bits.min(KEY_BITS),
            pending: BTreeMap::new(),
        }
    }

    /// Forgets the pending values the store now holds.
    pub(super) fn collect(&mut self, stored: Option<u64>) {
        if let Some(stored) = stored {
            self.pending.retain(|_, (version, _)| *version > stored);
        }
    }

    /// Records what `version` changed; returns its journal entry's undo part.
    pub(super) fn record(
        &mut self,
        version: u64,
        changes: Vec<update::Change>,
    ) -> BTreeMap<MapKey, Option<Box<[u8]>>> {
        let mut undo = BTreeMap::new();
        for (key, old, new) in changes {
            self.pending.insert(key, (version, new));
            undo.insert(key, old);
        }
        undo
    }

    /// The value of `key` at the latest version, for a key in a stub.
    pub(super) fn latest_value(&self, key: &MapKey) -> Result<Option<Vec<u8>>, MapError> {
        let stored = self.source.value(key).map_err(store_error)?;
        Ok(match self.pending.get(key) {
            Some((version, value)) if stored.version.is_none_or(|s| *version > s) => {
                value.as_deref().map(<[u8]>::to_vec)
            }
            _ => stored.data,
        })
    }

    /// A snapshot's pager, `after` being the journal slot after its version.
    pub(super) fn pager(&self, after: Arc<Slot>, changed_at: u64) -> Pager {
        Pager {
            source: Arc::clone(&self.source),
            after,
            changed_at,
        }
    }
}

impl Rows for Paging {
    /// The bucket's rows at the latest version: the store's, with the pending values over them.
    fn rows(&self, stub: &Stub) -> Result<BucketRows, MapError> {
        let stored = self
            .source
            .bucket(stub.prefix(), stub.bits())
            .map_err(store_error)?;
        let (low, high) = bucket_bounds(stub.prefix(), stub.bits());
        let mut over = self
            .pending
            .range(low..=high)
            .filter(|(_, (version, _))| stored.version.is_none_or(|s| *version > s))
            .peekable();
        if over.peek().is_none() {
            return Ok(stored.data);
        }
        let mut rows: BTreeMap<MapKey, Vec<u8>> = stored.data.into_iter().collect();
        for (key, (_, value)) in over {
            match value {
                Some(value) => rows.insert(*key, value.to_vec()),
                None => rows.remove(key),
            };
        }
        Ok(rows.into_iter().collect())
    }
}

impl Slot {
    /// Links the entry of the version after this slot's.
    pub(super) fn link(
        &self,
        version: u64,
        undo: BTreeMap<MapKey, Option<Box<[u8]>>>,
    ) -> Arc<Self> {
        let next = Arc::new(Self::default());
        // A slot is linked once, by the version after it; a second link cannot happen (versions
        // are consecutive), and would be ignored.
        let _ = self.0.set(Arc::new(Entry {
            version,
            undo,
            next: Arc::clone(&next),
        }));
        next
    }
}

impl Pager {
    pub(super) fn changed_at(&self) -> u64 {
        self.changed_at
    }

    /// Links the journal entry of `version`, the one after this pager's, and gives the slot
    /// after it.
    pub(super) fn link(
        &self,
        version: u64,
        undo: BTreeMap<MapKey, Option<Box<[u8]>>>,
    ) -> Arc<Slot> {
        self.after.link(version, undo)
    }

    /// The rows of `stub`'s bucket as of `version` (the snapshot's).
    fn rows_at(&self, stub: &Stub, version: u64) -> Result<BucketRows, MapError> {
        let stored = self
            .source
            .bucket(stub.prefix(), stub.bits())
            .map_err(store_error)?;
        let moved = || MapError::Moved {
            version,
            stored: stored.version,
        };
        match stored.version {
            Some(s) if s > version => {
                let mut entries = Vec::new();
                let mut slot = Arc::clone(&self.after);
                while let Some(entry) = slot.0.get().cloned()
                    && entry.version <= s
                {
                    slot = Arc::clone(&entry.next);
                    entries.push(entry);
                }
                if entries.last().map(|e| e.version) != Some(s) {
                    return Err(moved());
                }
                let (low, high) = bucket_bounds(stub.prefix(), stub.bits());
                let mut rows: BTreeMap<MapKey, Vec<u8>> = stored.data.into_iter().collect();
                for entry in entries.iter().rev() {
                    for (key, old) in entry.undo.range(low..=high) {
                        match old {
                            Some(old) => rows.insert(*key, old.to_vec()),
                            None => rows.remove(key),
                        };
                    }
                }
                Ok(rows.into_iter().collect())
            }
            Some(s) if s >= self.changed_at => Ok(stored.data),
            _ => Err(moved()),
        }
    }

    /// `stub`'s bucket as a subtree standing where the stub stands, as of `version`, checked
    /// against the stub's hash.
    pub(super) fn expand(&self, stub: &Stub, version: u64) -> Result<Node, MapError> {
        expand(stub, self.rows_at(stub, version)?)
    }
}

/// `stub`'s bucket built from its stored `rows`, standing where the stub stands, checked
/// against the stub's hash.
pub(super) fn expand(stub: &Stub, rows: BucketRows) -> Result<Node, MapError> {
    let count = rows.len();
    let mut ops: Vec<Op> = rows
        .into_iter()
        .map(|(key, value)| Op::present(key, value))
        .collect();
    if ops.iter().any(|op| !stub.holds(op.key())) {
        return Err(MapError::Corrupt(format!(
            "the store's bucket of {} holds a key outside it",
            crate::hash::Hash(*stub.prefix())
        )));
    }
    match update::build(&mut ops, stub.at(), KEY_BITS) {
        Some(node) if node.hash() == stub.hash() => Ok(node),
        _ => Err(MapError::Corrupt(format!(
            "the {count} stored keys of the bucket of {} do not give the map's hash of it",
            crate::hash::Hash(*stub.prefix())
        ))),
    }
}

/// Builds a paged map's tree from every key and value, in ascending key order, one bucket at a
/// time: the buckets of two or more keys become stubs, and their values are let go.
pub struct PagedLoader {
    bits: usize,
    current: Vec<Op>,
    buckets: Vec<Node>,
    len: usize,
}

impl PagedLoader {
    /// A loader for a map paged at `bits` bits.
    pub fn new(bits: usize) -> Self {
        Self {
            bits: bits.min(KEY_BITS),
            current: Vec::new(),
            buckets: Vec::new(),
            len: 0,
        }
    }

    pub(super) fn bits(&self) -> usize {
        self.bits
    }

    /// Adds the next key.
    ///
    /// # Errors
    /// [`MapError::Corrupt`] unless `key` is above the last one added.
    pub fn push(&mut self, key: MapKey, value: Vec<u8>) -> Result<(), MapError> {
        let last = self
            .current
            .last()
            .map(Op::key)
            .or_else(|| self.buckets.last().map(Node::any_key));
        if let Some(last) = last
            && *last >= key
        {
            return Err(MapError::Corrupt(format!(
                "map keys out of order: {} after {}",
                crate::hash::Hash(key),
                crate::hash::Hash(*last)
            )));
        }
        if self
            .current
            .first()
            .is_some_and(|first| common_prefix(first.key(), &key) < self.bits)
        {
            self.flush();
        }
        self.current.push(Op::present(key, value));
        self.len += 1;
        Ok(())
    }

    fn flush(&mut self) {
        if let Some(node) = update::bucket_node(&mut self.current, self.bits, self.bits) {
            self.buckets.push(node);
        }
        self.current.clear();
    }

    /// The tree and its number of keys.
    pub(super) fn finish(mut self) -> (Option<Node>, usize) {
        self.flush();
        (join_all(&self.buckets, 0, self.bits), self.len)
    }
}

impl std::fmt::Debug for PagedLoader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PagedLoader")
            .field("bits", &self.bits)
            .field("buckets", &self.buckets.len())
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

/// The subtree at depth `at` over `nodes`: whole buckets (or lone leaves) standing at `bits`, in
/// key order.
fn join_all(nodes: &[Node], at: usize, bits: usize) -> Option<Node> {
    match nodes {
        [] => None,
        [one] => Some(one.at_depth(at)),
        [first, .., last] => {
            let split = common_prefix(first.any_key(), last.any_key());
            let ones = nodes.partition_point(|node| !bit(node.any_key(), split));
            Node::join(
                split,
                at,
                join_all(&nodes[..ones], split + 1, bits),
                join_all(&nodes[ones..], split + 1, bits),
                first.any_key(),
                bits,
            )
        }
    }
}

/// What a [`MemoryBuckets`] holds: a version and the values as of it.
type Held = (Option<u64>, BTreeMap<MapKey, Vec<u8>>);

/// A [`BucketSource`] in memory, for tests and benchmarks: one version of the values, which its
/// owner commits when it chooses (behind the map, to exercise its pending values and journal).
#[derive(Debug, Default)]
pub struct MemoryBuckets {
    held: std::sync::RwLock<Held>,
}

impl MemoryBuckets {
    /// An empty store, holding no version.
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies `updates` to the held values, which are then those of `version`.
    pub fn commit(&self, version: u64, updates: impl IntoIterator<Item = crate::map::MapUpdate>) {
        let mut held = self
            .held
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        held.0 = Some(version);
        for (key, value) in updates {
            match value {
                Some(value) => held.1.insert(key, value),
                None => held.1.remove(&key),
            };
        }
    }

    /// Replaces the held values with `values`, those of `version`.
    pub fn replace(&self, version: u64, values: &BTreeMap<MapKey, Vec<u8>>) {
        let mut held = self
            .held
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *held = (Some(version), values.clone());
    }

    /// The held values, in key order.
    pub fn values(&self) -> Vec<(MapKey, Vec<u8>)> {
        let held = self
            .held
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        held.1.iter().map(|(k, v)| (*k, v.clone())).collect()
    }
}

impl BucketSource for MemoryBuckets {
    fn bucket(&self, prefix: &MapKey, bits: usize) -> Result<Stored<BucketRows>, MapStoreError> {
        let held = self
            .held
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (low, high) = bucket_bounds(prefix, bits);
        let data = held
            .1
            .range(low..=high)
            .map(|(key, value)| (*key, value.clone()))
            .collect();
        Ok(Stored {
            version: held.0,
            data,
        })
    }

    fn version(&self) -> Result<Option<u64>, MapStoreError> {
        Ok(self
            .held
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .0)
    }

    fn value(&self, key: &MapKey) -> Result<Stored<Option<Vec<u8>>>, MapStoreError> {
        let held = self
            .held
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Ok(Stored {
            version: held.0,
            data: held.1.get(key).cloned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_is_one_range_of_keys() {
        let prefix = [0b1010_1111; 32];
        let (low, high) = bucket_bounds(&prefix, 4);
        assert_eq!(low[0], 0b1010_0000);
        assert_eq!(high[0], 0b1010_1111);
        assert!(low[1..].iter().all(|b| *b == 0));
        assert!(high[1..].iter().all(|b| *b == 0xff));
        assert_eq!(bucket_bounds(&prefix, KEY_BITS), (prefix, prefix));
    }
}

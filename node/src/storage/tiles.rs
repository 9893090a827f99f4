//! Tree hashes in tiles (C2SP tlog-tiles style): the ledger's `HashReader`/`HashWriter` over
//! the engines.
//!
//! A tile is `(level, index / 256)` and holds up to 256 consecutive hashes of that level, stored
//! as their concatenation (32 to 8192 bytes) under the key `level (u8) ‖ tile index (u64 BE)`.
//! A partial tile on the tree's right edge is rewritten, longer, as it fills; a full tile never
//! changes again, which is why only full tiles are cached (an LRU of bounded size): a cached
//! value can never go stale, whatever readers and the writer interleave.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, PoisonError};

use lru::LruCache;
use testigo_ledger::Hash;
use testigo_ledger::merkle::{HashReader, HashWriter, NodeId, StoreError};

use super::layout::{Op, TILE_WIDTH, Table, TileId, decode_tile, encode_tile};
use super::{StorageError, Store};

/// A tile's hashes, shared between the cache and readers.
pub(crate) type TileHashes = Arc<[Hash]>;

/// Tiles a commit completes, to be cached once it is durable.
pub(crate) type FullTiles = Vec<(TileId, TileHashes)>;

/// An LRU of full (immutable) tiles.
#[derive(Debug)]
pub(crate) struct TileCache {
    lru: Mutex<LruCache<TileId, TileHashes>>,
}

impl TileCache {
    pub(crate) fn new(capacity: NonZeroUsize) -> Self {
        Self {
            lru: Mutex::new(LruCache::new(capacity)),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LruCache<TileId, TileHashes>> {
        // The cache holds only immutable tiles, so a panic elsewhere cannot leave it wrong.
        self.lru.lock().unwrap_or_else(PoisonError::into_inner)
    }

    #[cfg(test)]
    pub(crate) fn cached(&self) -> Vec<TileId> {
        let mut ids: Vec<TileId> = self.lock().iter().map(|(id, _)| *id).collect();
        ids.sort();
        ids
    }

    pub(crate) fn insert(&self, tiles: FullTiles) {
        let mut lru = self.lock();
        for (id, hashes) in tiles {
            lru.put(id, hashes);
        }
    }
}

impl Store {
    /// Reads tiles, full ones from the cache when there; one engine read for the rest.
    pub(crate) fn load_tiles(
        &self,
        tiles: &[TileId],
    ) -> Result<HashMap<TileId, TileHashes>, StorageError> {
        let mut found = HashMap::with_capacity(tiles.len());
        let mut misses = Vec::new();
        {
            let mut lru = self.tiles.lock();
            for tile in tiles {
                match lru.get(tile) {
                    Some(hashes) => {
                        found.insert(*tile, Arc::clone(hashes));
                    }
                    None => misses.push(*tile),
                }
            }
        }
        if misses.is_empty() {
            return Ok(found);
        }
        let keys: Vec<Vec<u8>> = misses.iter().map(|t| t.key()).collect();
        let values = self.engine.get_many(Table::Tiles, &keys)?;
        let mut full = Vec::new();
        for ((tile, key), value) in misses.into_iter().zip(&keys).zip(values) {
            if let Some(bytes) = value {
                let hashes: TileHashes = decode_tile(key, &bytes)?.into();
                if hashes.len() as u64 == TILE_WIDTH {
                    full.push((tile, Arc::clone(&hashes)));
                }
                found.insert(tile, hashes);
            }
        }
        self.tiles.insert(full);
        Ok(found)
    }

    /// Adds to `ops` the tile rewrites that store `writes` (ordered by level, then index), and
    /// returns the tiles that become full.
    ///
    /// Each tile extends only at its end; rewriting an identical hash is a no-op, so a retried
    /// append succeeds.
    pub(crate) fn prepare_tiles(
        &self,
        writes: &BTreeMap<NodeId, Hash>,
        ops: &mut Vec<Op>,
    ) -> Result<FullTiles, StorageError> {
        let mut by_tile: BTreeMap<TileId, Vec<(usize, NodeId, Hash)>> = BTreeMap::new();
        for (id, hash) in writes {
            let (tile, position) = TileId::of(*id);
            by_tile
                .entry(tile)
                .or_default()
                .push((position, *id, *hash));
        }
        let ids: Vec<TileId> = by_tile.keys().copied().collect();
        let stored = self.load_tiles(&ids)?;
        let mut full = Vec::new();
        for (tile, entries) in by_tile {
            let mut hashes: Vec<Hash> = stored.get(&tile).map(|h| h.to_vec()).unwrap_or_default();
            let before = hashes.len();
            // Entries are in ascending position, as the BTreeMap iterates ids in order.
            for (position, id, hash) in entries {
                match hashes.get(position) {
                    Some(existing) if *existing == hash => {}
                    Some(_) => return Err(StorageError::HashConflict(id)),
                    None if position == hashes.len() => hashes.push(hash),
                    None => {
                        return Err(StorageError::TileGap {
                            id,
                            stored: hashes.len(),
                        });
                    }
                }
            }
            if hashes.len() == before {
                continue;
            }
            ops.push(Op::Put(Table::Tiles, tile.key(), encode_tile(&hashes)));
            if hashes.len() as u64 == TILE_WIDTH {
                full.push((tile, hashes.into()));
            }
        }
        Ok(full)
    }

    /// How many level-0 (leaf) hashes are stored: the last level-0 tile tells.
    pub(crate) fn leaf_hash_count(&self) -> Result<u64, StorageError> {
        let low = TileId { level: 0, index: 0 }.key();
        let high = TileId {
            level: 0,
            index: u64::MAX,
        }
        .key();
        match self.engine.last_in(Table::Tiles, &low, &high)? {
            None => Ok(0),
            Some((key, bytes)) => {
                let index = u64::from_be_bytes(key[1..9].try_into().map_err(|_| {
                    StorageError::corrupt(Table::Tiles.name(), &key, "tile key is not 9 bytes")
                })?);
                let len = decode_tile(&key, &bytes)?.len() as u64;
                Ok(index * TILE_WIDTH + len)
            }
        }
    }
}

impl From<StorageError> for StoreError {
    fn from(error: StorageError) -> Self {
        match error {
            StorageError::HashConflict(id) => StoreError::Conflict(id),
            other => StoreError::backend(other),
        }
    }
}

/// One engine read per distinct tile, whatever the number of ids.
impl HashReader for Store {
    fn read_hashes(&self, ids: &[NodeId]) -> Result<Vec<Hash>, StoreError> {
        let tiles: Vec<TileId> = ids
            .iter()
            .map(|id| TileId::of(*id).0)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let loaded = self.load_tiles(&tiles)?;
        ids.iter()
            .map(|id| {
                let (tile, position) = TileId::of(*id);
                loaded
                    .get(&tile)
                    .and_then(|hashes| hashes.get(position))
                    .copied()
                    .ok_or(StoreError::Missing(*id))
            })
            .collect()
    }
}

/// Writes tree hashes alone, in one durable commit. The sequencer does not use this: it puts
/// hashes into the [`WriteBatch`](super::WriteBatch) that also holds their leaves, so the two cannot diverge. It is
/// here for the ledger's conformance suite and for tools that rebuild the tree.
impl HashWriter for Store {
    fn write_hashes(&mut self, writes: &[(NodeId, Hash)]) -> Result<(), StoreError> {
        let mut batch = self.batch();
        batch.put_tree_hashes(writes);
        self.commit(batch)?;
        Ok(())
    }
}

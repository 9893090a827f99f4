//! The node's storage: one data directory, one embedded engine, one atomic commit per batch.
//!
//! [`Store`] holds everything the node persists — leaves, Merkle tree hashes in tiles, the
//! per-account leaf index, the (signer, nonce) index, the state snapshot of the latest checkpoint
//! (account records, consents, claims and a header), checkpoints and cosignatures, and metadata —
//! in one of two engines ([`EngineKind`]):
//!
//! - **redb** (default): one `fsync` per commit; a returned commit survives a crash and a power
//!   loss.
//! - **sled** (`--storage sled`): sled 0.34's `flush()` only issues `sync_file_range`, never
//!   `fsync`, so by itself it survives a process crash but not a power loss. The engine adds an
//!   `fsync` of sled's data file after each commit; sled's power-loss recovery is still untested
//!   here and the crate is unmaintained since 2021 (see `sled_engine`'s docs). Prefer redb.
//!
//! A sequencer batch is one [`WriteBatch`], committed by [`Store::commit`] in one engine
//! transaction: all of it is on disk when `commit` returns, or none of it is visible.
//!
//! ```text
//! let mut batch = store.batch();                                  // appends at tree_size()
//! let out = store.append_leaves(&mut batch, &Blake3, leaves)?;   // leaves + tree hashes
//! store.commit(batch)?;                                           // one fsync: acknowledged
//!
//! let mut batch = store.batch();                                  // at a checkpoint:
//! batch.index_account(subject, first, indexes); batch.index_nonce(signer, nonce, index);
//! batch.put_record(account, record); batch.put_consent(i, c); batch.set_state_header(h);
//! let out = store.append_leaves(&mut batch, &Blake3, vec![state_root_leaf])?;
//! batch.set_checkpoint(out.new_size, signed_note);
//! store.commit(batch)?;                                           // one fsync
//! ```
//!
//! What the sequencer writes when is the sequencer's business (`sequencer::log`): leaves must be
//! durable before they are acknowledged; the indexes and the state snapshot are derived from the
//! leaves and are written with each checkpoint.
//!
//! # Layout
//!
//! The same keys and values in both engines (one redb table or sled tree each), integers
//! big-endian so that key order is numeric order:
//!
//! | table | key | value |
//! | --- | --- | --- |
//! | `meta` | `format_version`, `tree_size`, `latest_checkpoint`, `log_params`, `state_header`, `map_latest_version`, `map_oldest_kept` | u32 / u64 / bytes |
//! | `leaves` | index (8) | leaf bytes |
//! | `tiles` | level (1) ‖ index / 256 (8) | 1–256 hashes of that level, concatenated (32–8192 bytes) |
//! | `account_leaves` | account key (32) ‖ history position (8) | leaf indexes (8 each) from that position on |
//! | `nonces` | signer (32) ‖ first nonce (8) | (nonce (8) ‖ leaf index (8)), ascending |
//! | `records` | account key (32) | account record bytes |
//! | `consents` | grant index (8) | consent bytes |
//! | `claims` | claim index (8) | claim bytes |
//! | `map_nodes` | node key (opaque, starts with its version) | node bytes |
//! | `map_values` | key hash (32) ‖ version (8) | `0x00` (deleted) or `0x01` ‖ value |
//! | `map_stale` | since version (8) ‖ node key | empty |
//! | `map_written` | version (8) ‖ key hash (32) | empty |
//! | `checkpoints` | size (8) | signed note text |
//! | `cosignatures` | size (8) ‖ witness name | cosignature line |
//! | `grants` | grant list (`0x00`, `0x01` ‖ accessor (32) or `0x02` ‖ subject (32)) ‖ position (8) | grant index (8); at position `u64::MAX`, the list's length (8) |
//!
//! The account index is one chunk per (account, checkpoint): a checkpoint writes, for each account
//! its batch touched, the leaf indexes of the new history entries under the position of the
//! first. That is one key per touched account rather than one per (account, leaf), so a data
//! buyer's thousands of accesses per checkpoint cost one write; measured, one key per leaf was
//! most of the checkpoint's commit. A history read from position `p` starts at the last chunk at
//! or before `p`.
//!
//! # Memory
//!
//! Nothing grows with the log: the engines' page caches and the tile LRU are bounded by
//! [`StoreConfig`]; reads return what they were asked for, capped by their `limit`.

mod batch;
mod check;
mod engine;
mod error;
mod layout;
mod map_store;
mod records;
mod redb_engine;
mod sled_engine;
mod tiles;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError, RwLock};

use testigo_ledger::state::GrantList;
use testigo_ledger::{Hash, PublicKey};

pub use batch::{PendingTree, WriteBatch};
pub use engine::{EngineKind, UnknownEngine};
pub use error::{Inconsistent, StorageError};
pub use records::SavedRecord;

use batch::Prepared;
use engine::Engine;
pub(crate) use layout::{GRANT_LIST_LEN, Table, grant_key};
use layout::{
    META_LATEST_CHECKPOINT, META_LOG_PARAMS, META_STATE, account_key, decode_u64, u64_key,
};
use tiles::TileCache;

/// How to open a [`Store`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreConfig {
    /// The engine.
    pub engine: EngineKind,
    /// The engine's page cache, in bytes.
    pub engine_cache_bytes: usize,
    /// Full tiles kept in memory (8 KiB each).
    pub tile_cache_tiles: NonZeroUsize,
    /// The bucket depth of the state map paged over the account records
    /// ([`DEFAULT_MAP_BUCKET_BITS`]).
    pub map_bucket_bits: usize,
}

/// The state map's default bucket depth: the map keeps its top 16 levels in memory, at most
/// 65,536 buckets of some 100 bytes each plus the nodes above them (under 16 MiB in all), and the
/// records of a bucket of two or more accounts only in the store. A bucket holds
/// `accounts / 65,536` records on average: 15 at 1M accounts, 61 at 4M, 610 at 40M, which is
/// what an update to one of them reads back and hashes again.
pub const DEFAULT_MAP_BUCKET_BITS: usize = 16;

impl Default for StoreConfig {
    /// redb, a 64 MiB page cache and 1024 cached tiles (8 MiB): enough for the hot right edge of
    /// the tree and recent proofs, whatever the log's size.
    fn default() -> Self {
        Self {
            engine: EngineKind::Redb,
            engine_cache_bytes: 64 << 20,
            tile_cache_tiles: NonZeroUsize::new(1024).unwrap_or(NonZeroUsize::MIN),
            map_bucket_bits: DEFAULT_MAP_BUCKET_BITS,
        }
    }
}

/// A checkpoint as stored: the tree size and the signed note text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredCheckpoint {
    /// The tree size it commits to.
    pub size: u64,
    /// The signed note (C2SP `tlog-checkpoint` in `signed-note` form).
    pub note: String,
}

/// Grants of one list, each with its saved consent bytes: (grant index, consent).
pub type GrantRows = Vec<(u64, Vec<u8>)>;

/// The node's persistent store. `Send + Sync`: share it in an `Arc`; reads run concurrently
/// with each other and with a commit, and commits are serialised inside.
#[derive(Debug)]
pub struct Store {
    engine: Engine,
    tiles: TileCache,
    tree_size: AtomicU64,
    /// The latest checkpoint's size and root, as signed (set from the note the sequencer commits,
    /// or from the stored one once the startup check found it matching the stored tree): what
    /// reads are checked against before they are served.
    anchor: RwLock<Option<(u64, Hash)>>,
    /// Where the latest published checkpoint is recorded outside the engine (see
    /// [`check::PUBLISHED_FILE`]).
    published: PathBuf,
    writer: Mutex<()>,
    /// The bucket depth of the state map paged over the records.
    map_bucket_bits: usize,
    /// The next nonce of each account whose record changed since the saved snapshot (the
    /// `records` table is as of the latest `StateRoot`), with the index of the leaf that set it:
    /// kept by the sequencer beside the store, so that a nonce read never waits on it.
    live_nonces: RwLock<HashMap<PublicKey, (u64, u64)>>,
    #[cfg(test)]
    fail_at: Mutex<Option<usize>>,
}

impl Store {
    /// Opens (or creates) the store in directory `dir` and runs the startup check.
    ///
    /// # Errors
    /// [`StorageError::Io`] if the directory cannot be created; [`StorageError::WrongEngine`] if it
    /// holds the other engine's database; [`StorageError::UnsupportedFormat`] for another layout
    /// version; [`StorageError::Inconsistent`] naming what disagrees if the stored tree size,
    /// leaves, tree hashes and latest checkpoint do not agree; engine errors (for redb, also when
    /// another process has the database open).
    pub fn open(dir: &Path, config: &StoreConfig) -> Result<Self, StorageError> {
        let engine = Engine::open(dir, config.engine, config.engine_cache_bytes)?;
        let store = Self {
            engine,
            tiles: TileCache::new(config.tile_cache_tiles),
            tree_size: AtomicU64::new(0),
            anchor: RwLock::new(None),
            published: dir.join(check::PUBLISHED_FILE),
            writer: Mutex::new(()),
            map_bucket_bits: config.map_bucket_bits,
            live_nonces: RwLock::new(HashMap::new()),
            #[cfg(test)]
            fail_at: Mutex::new(None),
        };
        let tree_size = store.check_format()?;
        store.tree_size.store(tree_size, Ordering::Release);
        store.startup_check()?;
        Ok(store)
    }

    /// The bucket depth of the state map paged over the account records.
    pub fn map_bucket_bits(&self) -> usize {
        self.map_bucket_bits
    }

    /// The engine in use.
    pub fn engine(&self) -> EngineKind {
        self.engine.kind()
    }

    /// The latest checkpoint's size and signed root, if the log has one.
    pub fn anchor(&self) -> Option<(u64, Hash)> {
        *self.anchor.read().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn set_anchor(&self, size: u64, root: Hash) {
        *self.anchor.write().unwrap_or_else(PoisonError::into_inner) = Some((size, root));
    }

    /// Records `(account, next nonce, leaf index)` for accounts changed by leaves just committed.
    pub(crate) fn note_live_nonces(
        &self,
        changed: impl IntoIterator<Item = (PublicKey, u64, u64)>,
    ) {
        let mut live = self
            .live_nonces
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        for (account, next, index) in changed {
            live.insert(account, (next, index));
        }
    }

    /// Forgets the live nonces set by leaves below `index`: a snapshot as of leaf `index` is
    /// committed, so the `records` table has them.
    pub(crate) fn forget_live_nonces_below(&self, index: u64) {
        self.live_nonces
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|_, (_, at)| *at >= index);
    }

    /// `account`'s next nonce if a leaf after the saved snapshot changed its record.
    pub(crate) fn live_nonce(&self, account: &PublicKey) -> Option<u64> {
        self.live_nonces
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(account)
            .map(|(next, _)| *next)
    }

    /// The number of leaves stored (and committed).
    pub fn tree_size(&self) -> u64 {
        self.tree_size.load(Ordering::Acquire)
    }

    /// The leaf at `index`, if stored.
    ///
    /// # Errors
    /// Engine errors.
    pub fn leaf(&self, index: u64) -> Result<Option<Vec<u8>>, StorageError> {
        self.engine.get(Table::Leaves, &u64_key(index))
    }

    /// Leaves `start..end`, clipped to the stored tree (so possibly fewer, or none). Callers cap
    /// `end - start` (the API caps each response).
    ///
    /// # Errors
    /// Engine errors.
    pub fn leaves(&self, start: u64, end: u64) -> Result<Vec<Vec<u8>>, StorageError> {
        let end = end.min(self.tree_size());
        if start >= end {
            return Ok(Vec::new());
        }
        let limit = usize::try_from(end - start).unwrap_or(usize::MAX);
        let rows = self
            .engine
            .scan(Table::Leaves, &u64_key(start), Some(&u64_key(end)), limit)?;
        // Every index below the tree size is stored: a row missing or under another key is damage.
        let mut leaves = Vec::with_capacity(rows.len());
        for (expected, (key, leaf)) in (start..end).zip(rows) {
            if key != u64_key(expected) {
                return Err(StorageError::corrupt(
                    Table::Leaves.name(),
                    &key,
                    format!("found where leaf {expected} belongs"),
                ));
            }
            leaves.push(leaf);
        }
        if (leaves.len() as u64) < end - start {
            let missing = start + leaves.len() as u64;
            return Err(StorageError::corrupt(
                Table::Leaves.name(),
                &u64_key(missing),
                "missing below the tree size",
            ));
        }
        Ok(leaves)
    }

    /// The leaf indexes of `account`'s history entries `from..from + limit` (0-based positions
    /// in its history, so `from` is the number of entries to skip), ascending; fewer at the end
    /// of what is indexed.
    ///
    /// # Errors
    /// Engine errors; [`StorageError::Corrupt`] for a chunk that is not whole u64s.
    pub fn account_history(
        &self,
        account: &PublicKey,
        from: u64,
        limit: usize,
    ) -> Result<Vec<u64>, StorageError> {
        let table = Table::AccountLeaves;
        // The chunk holding position `from` is the last one starting at or before it.
        let start = match self.engine.last_in(
            table,
            &account_key(account, 0),
            &account_key(account, from),
        )? {
            Some((key, _)) => key,
            None => account_key(account, from),
        };
        let end = next_prefix(account.as_bytes());
        let mut out = Vec::with_capacity(limit.min(4096));
        let mut cursor = start;
        while out.len() < limit {
            // Chunks are read a few at a time: an accessor's are thousands of entries long.
            let rows = self.engine.scan(table, &cursor, end.as_deref(), 8)?;
            let Some((last, _)) = rows.last() else { break };
            cursor = next_prefix(last).unwrap_or_default();
            for (key, value) in &rows {
                let first = decode_u64(table.name(), key, &key[32..])?;
                if value.len() % 8 != 0 {
                    return Err(StorageError::corrupt(
                        table.name(),
                        key,
                        format!("{} bytes is not whole leaf indexes", value.len()),
                    ));
                }
                for (position, bytes) in (first..).zip(value.chunks_exact(8)) {
                    if position >= from && out.len() < limit {
                        out.push(decode_u64(table.name(), key, bytes)?);
                    }
                }
            }
            if rows.len() < 8 || cursor.is_empty() {
                break;
            }
        }
        Ok(out)
    }

    /// The index of the leaf in which `signer` used `nonce`, if any.
    ///
    /// # Errors
    /// Engine errors; [`StorageError::Corrupt`] for an undecodable index.
    pub fn leaf_by_nonce(
        &self,
        signer: &PublicKey,
        nonce: u64,
    ) -> Result<Option<u64>, StorageError> {
        let table = Table::Nonces;
        // The chunk that would hold `nonce` is the signer's last one starting at or before it.
        let Some((key, value)) =
            self.engine
                .last_in(table, &account_key(signer, 0), &account_key(signer, nonce))?
        else {
            return Ok(None);
        };
        if value.len() % 16 != 0 {
            return Err(StorageError::corrupt(
                table.name(),
                &key,
                format!("{} bytes is not whole (nonce, index) pairs", value.len()),
            ));
        }
        let pairs: Vec<&[u8]> = value.chunks_exact(16).collect();
        let nonce_of = |pair: &[u8]| decode_u64(table.name(), &key, &pair[..8]);
        let mut low = 0;
        let mut high = pairs.len();
        while low < high {
            let mid = low + (high - low) / 2;
            match nonce_of(pairs[mid])?.cmp(&nonce) {
                std::cmp::Ordering::Less => low = mid + 1,
                std::cmp::Ordering::Greater => high = mid,
                std::cmp::Ordering::Equal => {
                    return Ok(Some(decode_u64(table.name(), &key, &pairs[mid][8..])?));
                }
            }
        }
        Ok(None)
    }

    /// Up to `limit` saved consents, by grant index, from index `from`.
    ///
    /// # Errors
    /// Engine errors; [`StorageError::Corrupt`] for a malformed key.
    pub fn consents(&self, from: u64, limit: usize) -> Result<Vec<(u64, Vec<u8>)>, StorageError> {
        self.indexed(Table::Consents, from, limit)
    }

    /// Up to `limit` grants of `list` with index at least `from`, ascending, each with its
    /// saved consent bytes, and whether the list goes on after them.
    ///
    /// The list's shape is checked as it is read, so that damage shows as
    /// [`StorageError::Corrupt`] rather than a list with a grant missing or repeated: positions
    /// are consecutive, grant indexes strictly ascending, the grant before the page is below
    /// `from`, and a page that ends the list ends at its stored length. Whether each consent
    /// belongs to the list is for the caller, which decodes it.
    ///
    /// # Errors
    /// Engine errors; [`StorageError::Corrupt`] for a damaged list or a grant without a consent.
    pub fn grants(
        &self,
        list: &GrantList,
        from: u64,
        limit: usize,
    ) -> Result<(GrantRows, bool), StorageError> {
        let table = Table::Grants.name();
        let len_key = grant_key(list, GRANT_LIST_LEN);
        let len = match self.engine.get(Table::Grants, &len_key)? {
            Some(bytes) => decode_u64(table, &len_key, &bytes)?,
            None => 0,
        };
        let at = |position: u64| -> Result<u64, StorageError> {
            let key = grant_key(list, position);
            let bytes = self.engine.get(Table::Grants, &key)?.ok_or_else(|| {
                StorageError::corrupt(table, &key, format!("missing; the list holds {len}"))
            })?;
            decode_u64(table, &key, &bytes)
        };
        // The first position whose grant is at least `from`: grants ascend along the list.
        let (mut low, mut high) = (0, len);
        while low < high {
            let mid = low + (high - low) / 2;
            if at(mid)? < from {
                low = mid + 1;
            } else {
                high = mid;
            }
        }
        let start = low;
        let mut previous = match start {
            0 => None,
            p => Some(at(p - 1)?),
        };
        let end = start.saturating_add(limit as u64).min(len);
        let rows = self.engine.scan(
            Table::Grants,
            &grant_key(list, start),
            Some(&grant_key(list, end)),
            limit,
        )?;
        if rows.len() as u64 != end - start {
            return Err(StorageError::corrupt(
                table,
                &grant_key(list, start),
                format!(
                    "positions {start}..{end} of a list of {len} hold {} grants",
                    rows.len()
                ),
            ));
        }
        let mut indexes = Vec::with_capacity(rows.len());
        for (position, (key, value)) in (start..).zip(&rows) {
            if *key != grant_key(list, position) {
                return Err(StorageError::corrupt(
                    table,
                    key,
                    format!("found where position {position} belongs"),
                ));
            }
            let index = decode_u64(table, key, value)?;
            if previous.is_some_and(|p| index <= p) || index < from {
                return Err(StorageError::corrupt(
                    table,
                    key,
                    format!("grant {index} out of order"),
                ));
            }
            previous = Some(index);
            indexes.push(index);
        }
        let keys: Vec<Vec<u8>> = indexes.iter().map(|i| u64_key(*i)).collect();
        let consents = self.engine.get_many(Table::Consents, &keys)?;
        let page = indexes
            .into_iter()
            .zip(consents)
            .zip(&keys)
            .map(|((index, consent), key)| {
                consent.map(|c| (index, c)).ok_or_else(|| {
                    StorageError::corrupt(Table::Consents.name(), key, "missing for a listed grant")
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok((page, end < len))
    }

    /// Every row of the `grants` table as (list key prefix and position bytes, value), for
    /// `fsck`: the whole table, a page at a time.
    ///
    /// # Errors
    /// Engine errors.
    pub(crate) fn grant_rows(&self) -> Result<Vec<layout::Row>, StorageError> {
        const PAGE: usize = 4_096;
        let mut rows = Vec::new();
        let mut start = Vec::new();
        loop {
            let page = self.engine.scan(Table::Grants, &start, None, PAGE)?;
            let full = page.len() == PAGE;
            if let Some((last, _)) = page.last() {
                start = [last.as_slice(), &[0]].concat();
            }
            rows.extend(page);
            if !full {
                return Ok(rows);
            }
        }
    }

    /// Up to `limit` saved claims, by claim index, from index `from`.
    ///
    /// # Errors
    /// Engine errors; [`StorageError::Corrupt`] for a malformed key.
    pub fn claims(&self, from: u64, limit: usize) -> Result<Vec<(u64, Vec<u8>)>, StorageError> {
        self.indexed(Table::Claims, from, limit)
    }

    /// The saved consent granted at leaf `index`, if any.
    ///
    /// # Errors
    /// Engine errors.
    pub fn consent(&self, index: u64) -> Result<Option<Vec<u8>>, StorageError> {
        self.engine.get(Table::Consents, &u64_key(index))
    }

    /// The saved claim made at leaf `index`, if any.
    ///
    /// # Errors
    /// Engine errors.
    pub fn claim(&self, index: u64) -> Result<Option<Vec<u8>>, StorageError> {
        self.engine.get(Table::Claims, &u64_key(index))
    }

    /// The saved length of a grant list (0 for a list never saved).
    ///
    /// # Errors
    /// Engine errors, or [`StorageError::Corrupt`] for a length that does not decode.
    pub fn grant_list_len(&self, list: &GrantList) -> Result<u64, StorageError> {
        let key = grant_key(list, GRANT_LIST_LEN);
        match self.engine.get(Table::Grants, &key)? {
            Some(bytes) => decode_u64(Table::Grants.name(), &key, &bytes),
            None => Ok(0),
        }
    }

    fn indexed(
        &self,
        table: Table,
        from: u64,
        limit: usize,
    ) -> Result<Vec<(u64, Vec<u8>)>, StorageError> {
        let rows = self.engine.scan(table, &u64_key(from), None, limit)?;
        rows.into_iter()
            .map(|(key, value)| Ok((decode_u64(table.name(), &key, &key)?, value)))
            .collect()
    }

    /// The saved state header (`StateHeader::to_bytes`) of the latest checkpoint, if any.
    ///
    /// # Errors
    /// Engine errors.
    pub fn state_header(&self) -> Result<Option<Vec<u8>>, StorageError> {
        self.engine.get(Table::Meta, META_STATE)
    }

    /// The latest (largest) checkpoint stored.
    ///
    /// # Errors
    /// Engine errors; [`StorageError::Corrupt`] for undecodable metadata or note.
    pub fn latest_checkpoint(&self) -> Result<Option<StoredCheckpoint>, StorageError> {
        let Some(size) = self.meta_u64(META_LATEST_CHECKPOINT)? else {
            return Ok(None);
        };
        Ok(self
            .checkpoint(size)?
            .map(|note| StoredCheckpoint { size, note }))
    }

    /// The checkpoint note stored for tree size `size`.
    ///
    /// # Errors
    /// Engine errors; [`StorageError::Corrupt`] if the note is not UTF-8.
    pub fn checkpoint(&self, size: u64) -> Result<Option<String>, StorageError> {
        let key = u64_key(size);
        match self.engine.get(Table::Checkpoints, &key)? {
            Some(bytes) => String::from_utf8(bytes)
                .map(Some)
                .map_err(|_| StorageError::corrupt(Table::Checkpoints.name(), &key, "not UTF-8")),
            None => Ok(None),
        }
    }

    /// Up to `limit` stored checkpoints with size at least `from`, ascending.
    ///
    /// # Errors
    /// Engine errors; [`StorageError::Corrupt`] for a bad key or a note that is not UTF-8.
    pub fn checkpoints_from(
        &self,
        from: u64,
        limit: usize,
    ) -> Result<Vec<StoredCheckpoint>, StorageError> {
        let rows = self
            .engine
            .scan(Table::Checkpoints, &u64_key(from), None, limit)?;
        rows.into_iter()
            .map(|(key, note)| {
                let corrupt = |why| StorageError::corrupt(Table::Checkpoints.name(), &key, why);
                let size = <[u8; 8]>::try_from(key.as_slice())
                    .map(u64::from_be_bytes)
                    .map_err(|_| corrupt("key is not 8 bytes"))?;
                let note = String::from_utf8(note).map_err(|_| corrupt("not UTF-8"))?;
                Ok(StoredCheckpoint { size, note })
            })
            .collect()
    }

    /// The cosignatures stored for the checkpoint of `size`: `(witness name, line)`, by name.
    ///
    /// # Errors
    /// Engine errors; [`StorageError::Corrupt`] for non-UTF-8 names or lines.
    pub fn cosignatures(&self, size: u64) -> Result<Vec<(String, String)>, StorageError> {
        let start = u64_key(size);
        let end = size.checked_add(1).map(u64_key);
        let rows = self
            .engine
            .scan(Table::Cosignatures, &start, end.as_deref(), usize::MAX)?;
        rows.into_iter()
            .map(|(key, line)| {
                let corrupt =
                    || StorageError::corrupt(Table::Cosignatures.name(), &key, "not UTF-8");
                let name = String::from_utf8(key[8..].to_vec()).map_err(|_| corrupt())?;
                let line = String::from_utf8(line).map_err(|_| corrupt())?;
                Ok((name, line))
            })
            .collect()
    }

    /// The log's parameters, as stored by [`WriteBatch::set_log_params`].
    ///
    /// # Errors
    /// Engine errors.
    pub fn log_params(&self) -> Result<Option<Vec<u8>>, StorageError> {
        self.engine.get(Table::Meta, META_LOG_PARAMS)
    }

    pub(crate) fn meta_u64(&self, key: &[u8]) -> Result<Option<u64>, StorageError> {
        match self.engine.get(Table::Meta, key)? {
            Some(bytes) => Ok(Some(decode_u64(Table::Meta.name(), key, &bytes)?)),
            None => Ok(None),
        }
    }

    /// Serialises writers: `prepare` reads the stored tiles and size that the commit replaces.
    pub(crate) fn lock_writer(&self) -> MutexGuard<'_, ()> {
        // The guard protects no data, only ordering: a poisoned lock is still a lock.
        self.writer.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Publishes a durable commit to readers: size first visible once the data is.
    fn committed(&self, prepared: Prepared) {
        self.tiles.insert(prepared.full_tiles);
        self.tree_size.store(prepared.new_size, Ordering::Release);
    }

    /// Makes the next commit fail inside the engine transaction after `ops` operations.
    #[cfg(test)]
    pub(crate) fn fail_next_commit_after(&self, ops: usize) {
        *self.fail_at.lock().unwrap_or_else(PoisonError::into_inner) = Some(ops);
    }

    #[cfg(test)]
    fn inject_failure(&self, mut prepared: Prepared) -> Prepared {
        if let Some(at) = self
            .fail_at
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            let at = at.min(prepared.ops.len());
            prepared.ops.insert(at, layout::Op::Fail);
        }
        prepared
    }

    #[cfg(test)]
    pub(crate) fn raw_put(&self, table: Table, key: Vec<u8>, value: Vec<u8>) {
        self.engine
            .commit(&[layout::Op::Put(table, key, value)])
            .expect("raw put");
    }
}

/// The smallest key above every key starting with `prefix`, or `None` if there is none.
fn next_prefix(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut next = prefix.to_vec();
    while let Some(last) = next.pop() {
        if last < u8::MAX {
            next.push(last + 1);
            return Some(next);
        }
    }
    None
}

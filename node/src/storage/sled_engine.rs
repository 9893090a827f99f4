//! The sled engine (`--storage sled`), kept because the customer asked for it.
//!
//! # Durability
//!
//! sled 0.34's own `flush()` issues only `sync_file_range` on Linux, never `fsync`: it pushes
//! the written pages to the device but neither the file's metadata nor the device's volatile
//! write cache, so on its own it survives a *process* crash but not a *power loss* (its
//! background thread does call `fsync` every 500 ms, which bounds but does not close the gap).
//! This engine therefore calls `fsync` on sled's data file (`<dir>/sled/db`) itself after every
//! commit's `flush()`; `fsync` is per inode, so it covers what sled wrote through its own handle.
//!
//! That closes the gap we know of, not every gap: sled 0.34 has had no release since 2021 and
//! its recovery after power loss is not tested here. redb is the engine to run in production.
//!
//! # Atomicity
//!
//! A commit is one sled transaction over all trees: sled seals the transaction's writes as one
//! log batch, which recovery applies entirely or not at all.

use std::fmt;
use std::fs::File;
use std::ops::Bound;
use std::path::{Path, PathBuf};

use sled::Transactional as _;
use sled::transaction::TransactionError;

use super::StorageError;
use super::layout::{Op, Row, Table};

/// A sled database with one tree per [`Table`].
pub(crate) struct SledEngine {
    db: sled::Db,
    trees: Vec<sled::Tree>,
    /// sled's log file, opened only to `fsync` it.
    data_file: File,
    data_path: PathBuf,
}

impl fmt::Debug for SledEngine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SledEngine")
            .field("data_path", &self.data_path)
            .finish_non_exhaustive()
    }
}

/// How long [`open_waiting_for_lock`] waits for a previous instance's lock to go.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Opens sled, waiting a bounded time if its file lock is still held.
///
/// sled 0.34 releases its lock only when the last of its background I/O threads lets go of the
/// page cache, which can be a few milliseconds after the `Db` is dropped; reopening the same
/// directory in that window fails with "could not acquire lock" (sled's own test suite blocks on
/// the lock for this reason). A lock still held after [`LOCK_WAIT`] is a real second user of the
/// directory, and its error is returned.
fn open_waiting_for_lock(path: &Path, cache_bytes: usize) -> Result<sled::Db, sled::Error> {
    let started = std::time::Instant::now();
    loop {
        match sled::Config::new()
            .path(path)
            .cache_capacity(cache_bytes as u64)
            .open()
        {
            Err(sled::Error::Io(e))
                if e.to_string().contains("could not acquire lock")
                    && started.elapsed() < LOCK_WAIT =>
            {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            other => return other,
        }
    }
}

impl Drop for SledEngine {
    /// Flushes before sled's threads wind down: with no I/O buffer left in flight, they release
    /// the page cache, and with it the directory's lock, promptly.
    fn drop(&mut self) {
        if let Err(e) = self.db.flush() {
            tracing::warn!(error = %e, "sled flush on close failed");
        }
    }
}

impl SledEngine {
    /// Opens (or creates) the sled database in directory `path`, with a page cache of at most
    /// `cache_bytes` (sled's default, 1 GiB, is far more than the node needs).
    pub(crate) fn open(path: &Path, cache_bytes: usize) -> Result<Self, StorageError> {
        let db = open_waiting_for_lock(path, cache_bytes)?;
        let trees = Table::ALL
            .iter()
            .map(|t| db.open_tree(t.name()))
            .collect::<Result<Vec<_>, _>>()?;
        let data_path = path.join("db");
        let data_file = File::open(&data_path).map_err(|source| StorageError::Io {
            path: data_path.clone(),
            source,
        })?;
        Ok(Self {
            db,
            trees,
            data_file,
            data_path,
        })
    }

    fn tree(&self, table: Table) -> &sled::Tree {
        &self.trees[table.position()]
    }

    pub(crate) fn get_many(
        &self,
        table: Table,
        keys: &[Vec<u8>],
    ) -> Result<Vec<Option<Vec<u8>>>, StorageError> {
        let tree = self.tree(table);
        keys.iter()
            .map(|key| Ok(tree.get(key)?.map(|v| v.to_vec())))
            .collect()
    }

    pub(crate) fn scan(
        &self,
        table: Table,
        start: &[u8],
        end: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<Row>, StorageError> {
        let upper = end.map_or(Bound::Unbounded, Bound::Excluded);
        self.tree(table)
            .range::<&[u8], _>((Bound::Included(start), upper))
            .take(limit)
            .map(|item| {
                let (k, v) = item?;
                Ok((k.to_vec(), v.to_vec()))
            })
            .collect()
    }

    pub(crate) fn last_in(
        &self,
        table: Table,
        low: &[u8],
        high: &[u8],
    ) -> Result<Option<Row>, StorageError> {
        match self.tree(table).range::<&[u8], _>(low..=high).next_back() {
            Some(item) => {
                let (k, v) = item?;
                Ok(Some((k.to_vec(), v.to_vec())))
            }
            None => Ok(None),
        }
    }

    /// Applies `ops` in one transaction across all trees, then flushes and `fsync`s.
    pub(crate) fn commit(&self, ops: &[Op]) -> Result<(), StorageError> {
        let result = self.trees.as_slice().transaction(|views| {
            for op in ops {
                match op {
                    Op::Put(table, key, value) => {
                        views[table.position()].insert(key.as_slice(), value.as_slice())?;
                    }
                    Op::Delete(table, key) => {
                        views[table.position()].remove(key.as_slice())?;
                    }
                    #[cfg(test)]
                    Op::Fail => {
                        return sled::transaction::abort(StorageError::Injected);
                    }
                }
            }
            Ok(())
        });
        match result {
            Ok(()) => {}
            Err(TransactionError::Abort(error)) => return Err(error),
            Err(TransactionError::Storage(error)) => return Err(error.into()),
        }
        self.db.flush()?;
        self.data_file
            .sync_all()
            .map_err(|source| StorageError::Io {
                path: self.data_path.clone(),
                source,
            })
    }
}

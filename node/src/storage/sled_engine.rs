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

impl SledEngine {
    /// Opens (or creates) the sled database in directory `path`, with a page cache of at most
    /// `cache_bytes` (sled's default, 1 GiB, is far more than the node needs).
    pub(crate) fn open(path: &Path, cache_bytes: usize) -> Result<Self, StorageError> {
        let db = sled::Config::new()
            .path(path)
            .cache_capacity(cache_bytes as u64)
            .open()?;
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

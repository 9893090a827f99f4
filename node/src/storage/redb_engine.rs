//! The redb engine (default): one file, copy-on-write B-trees, one `fsync` per commit.
//!
//! Every commit uses [`redb::Durability::Immediate`]: [`redb::WriteTransaction::commit`] returns
//! only after the new tree root is on stable storage, so a batch that was acknowledged survives a
//! process crash *and* a power loss, and a batch that was not is entirely absent (redb's
//! copy-on-write commit flips one root pointer).

use std::fmt;
use std::ops::Bound;
use std::path::Path;

use redb::{Database, Durability, ReadableDatabase, TableDefinition};

use super::StorageError;
use super::layout::{Op, Row, Table};

type Def = TableDefinition<'static, &'static [u8], &'static [u8]>;

const fn def(table: Table) -> Def {
    TableDefinition::new(table.name())
}

/// Runs a redb call, turning a panic inside redb into an error: redb 4 panics on some damaged
/// pages (an index out of range in its page manager) instead of returning an error, and a
/// damaged file must make the node refuse to start or answer `storage_corrupt`, never crash it.
fn guarded<T>(
    what: &'static str,
    call: impl FnOnce() -> Result<T, StorageError>,
) -> Result<T, StorageError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(call)).unwrap_or_else(|panic| {
        let message = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        Err(StorageError::Corrupt {
            table: "redb",
            key: what.to_owned(),
            reason: format!("redb failed on its file ({message}): the file is damaged"),
        })
    })
}

/// A redb database holding every [`Table`].
pub(crate) struct RedbEngine {
    /// `None` only while being dropped.
    db: Option<Database>,
}

impl Drop for RedbEngine {
    /// Closing commits redb's allocator state, and on a damaged file that can panic too: the
    /// close is guarded like every other call, so a damaged store never crashes the process
    /// that opened it (a node refusing to start, `fsck` naming the damage).
    fn drop(&mut self) {
        if let Some(db) = self.db.take()
            && let Err(e) = guarded("close", || {
                drop(db);
                Ok(())
            })
        {
            tracing::error!(error = %e, "closing the redb file failed");
        }
    }
}

impl fmt::Debug for RedbEngine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedbEngine").finish_non_exhaustive()
    }
}

impl RedbEngine {
    /// Opens (or creates) the database file and makes sure every table exists, so that read
    /// transactions never meet a missing table.
    pub(crate) fn open(path: &Path, cache_bytes: usize) -> Result<Self, StorageError> {
        guarded("open", || Self::open_unguarded(path, cache_bytes))
    }

    fn open_unguarded(path: &Path, cache_bytes: usize) -> Result<Self, StorageError> {
        let db = Database::builder()
            .set_cache_size(cache_bytes)
            .create(path)
            .map_err(StorageError::redb)?;
        let txn = db.begin_write().map_err(StorageError::redb)?;
        for table in Table::ALL {
            txn.open_table(def(table)).map_err(StorageError::redb)?;
        }
        txn.commit().map_err(StorageError::redb)?;
        Ok(Self { db: Some(db) })
    }

    fn db(&self) -> Result<&Database, StorageError> {
        self.db.as_ref().ok_or_else(|| StorageError::Corrupt {
            table: "redb",
            key: "close".to_owned(),
            reason: "the database is closed".to_owned(),
        })
    }

    pub(crate) fn get_many(
        &self,
        table: Table,
        keys: &[Vec<u8>],
    ) -> Result<Vec<Option<Vec<u8>>>, StorageError> {
        guarded("get", || {
            let txn = self.db()?.begin_read().map_err(StorageError::redb)?;
            let t = txn.open_table(def(table)).map_err(StorageError::redb)?;
            keys.iter()
                .map(|key| {
                    let value = t.get(key.as_slice()).map_err(StorageError::redb)?;
                    Ok(value.map(|v| v.value().to_vec()))
                })
                .collect()
        })
    }

    pub(crate) fn scan(
        &self,
        table: Table,
        start: &[u8],
        end: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<Row>, StorageError> {
        guarded("scan", || self.scan_unguarded(table, start, end, limit))
    }

    pub(crate) fn scan_with_meta(
        &self,
        table: Table,
        start: &[u8],
        end: Option<&[u8]>,
        limit: usize,
        meta: &[u8],
    ) -> Result<(Option<Vec<u8>>, Vec<Row>), StorageError> {
        guarded("scan", || {
            let txn = self.db()?.begin_read().map_err(StorageError::redb)?;
            let m = txn
                .open_table(def(Table::Meta))
                .map_err(StorageError::redb)?;
            let meta = m.get(meta).map_err(StorageError::redb)?;
            let meta = meta.map(|v| v.value().to_vec());
            Ok((meta, Self::range_in(&txn, table, start, end, limit)?))
        })
    }

    fn scan_unguarded(
        &self,
        table: Table,
        start: &[u8],
        end: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<Row>, StorageError> {
        let txn = self.db()?.begin_read().map_err(StorageError::redb)?;
        Self::range_in(&txn, table, start, end, limit)
    }

    fn range_in(
        txn: &redb::ReadTransaction,
        table: Table,
        start: &[u8],
        end: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<Row>, StorageError> {
        let t = txn.open_table(def(table)).map_err(StorageError::redb)?;
        let upper = end.map_or(Bound::Unbounded, Bound::Excluded);
        let range = t
            .range::<&[u8]>((Bound::Included(start), upper))
            .map_err(StorageError::redb)?;
        let mut out = Vec::new();
        for item in range.take(limit) {
            let (k, v) = item.map_err(StorageError::redb)?;
            out.push((k.value().to_vec(), v.value().to_vec()));
        }
        Ok(out)
    }

    pub(crate) fn last_in(
        &self,
        table: Table,
        low: &[u8],
        high: &[u8],
    ) -> Result<Option<Row>, StorageError> {
        guarded("last", || {
            let txn = self.db()?.begin_read().map_err(StorageError::redb)?;
            let t = txn.open_table(def(table)).map_err(StorageError::redb)?;
            let mut range = t.range::<&[u8]>(low..=high).map_err(StorageError::redb)?;
            match range.next_back() {
                Some(item) => {
                    let (k, v) = item.map_err(StorageError::redb)?;
                    Ok(Some((k.value().to_vec(), v.value().to_vec())))
                }
                None => Ok(None),
            }
        })
    }

    /// Applies `ops` in one write transaction, durably. On any error the transaction is dropped
    /// unfinished, which aborts it: nothing of `ops` is visible.
    pub(crate) fn commit(&self, ops: &[Op]) -> Result<(), StorageError> {
        guarded("commit", || self.commit_unguarded(ops))
    }

    fn commit_unguarded(&self, ops: &[Op]) -> Result<(), StorageError> {
        let mut txn = self.db()?.begin_write().map_err(StorageError::redb)?;
        txn.set_durability(Durability::Immediate)
            .map_err(StorageError::redb)?;
        {
            let mut open: Vec<Option<redb::Table<'_, &'static [u8], &'static [u8]>>> =
                Table::ALL.iter().map(|_| None).collect();
            for op in ops {
                let (table, key, value) = match op {
                    Op::Put(table, key, value) => (*table, key, Some(value)),
                    Op::Delete(table, key) => (*table, key, None),
                    #[cfg(test)]
                    Op::Fail => return Err(StorageError::Injected),
                };
                let slot = &mut open[table.position()];
                if slot.is_none() {
                    *slot = Some(txn.open_table(def(table)).map_err(StorageError::redb)?);
                }
                let Some(t) = slot.as_mut() else {
                    unreachable!("the table was opened just above")
                };
                match value {
                    Some(value) => {
                        t.insert(key.as_slice(), value.as_slice())
                            .map_err(StorageError::redb)?;
                    }
                    None => {
                        t.remove(key.as_slice()).map_err(StorageError::redb)?;
                    }
                }
            }
        }
        txn.commit().map_err(StorageError::redb)
    }
}

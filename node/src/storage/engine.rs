//! The two engines behind one enum, and the primitive operations the store is built from.
//!
//! Everything above this module (tiles, batches, the map store, the startup check) is written
//! once over these five operations, so both engines hold the same bytes under the same keys.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use super::StorageError;
use super::layout::{Op, Row, Table};
use super::redb_engine::RedbEngine;
use super::sled_engine::SledEngine;

/// Which embedded database holds the data directory.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum EngineKind {
    /// redb (default): every commit is `fsync`ed before it returns; crash- and power-loss safe.
    #[default]
    Redb,
    /// sled 0.34: see the durability notes on [`EngineKind::durability`]; not recommended.
    Sled,
}

impl EngineKind {
    /// The file or directory this engine keeps inside the data directory.
    pub fn file_name(self) -> &'static str {
        match self {
            EngineKind::Redb => "testigo.redb",
            EngineKind::Sled => "sled",
        }
    }

    /// What a returned commit guarantees with this engine, for logs and `--help`.
    pub fn durability(self) -> &'static str {
        match self {
            EngineKind::Redb => {
                "redb: each commit is fsynced before it returns (survives process crash and power loss)"
            }
            EngineKind::Sled => {
                "sled 0.34: flush() only issues sync_file_range; Testigo fsyncs sled's data file \
                 after each commit, but sled's recovery after power loss is untested and \
                 unmaintained since 2021"
            }
        }
    }
}

impl fmt::Display for EngineKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EngineKind::Redb => "redb",
            EngineKind::Sled => "sled",
        })
    }
}

/// An engine name that is neither `redb` nor `sled`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown storage engine {0:?}: expected \"redb\" or \"sled\"")]
pub struct UnknownEngine(pub String);

impl FromStr for EngineKind {
    type Err = UnknownEngine;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "redb" => Ok(EngineKind::Redb),
            "sled" => Ok(EngineKind::Sled),
            other => Err(UnknownEngine(other.to_owned())),
        }
    }
}

/// The open engine. An enum rather than a trait object: the set is closed, and the store's own
/// logic is written once above it.
#[derive(Debug)]
pub(crate) enum Engine {
    Redb(RedbEngine),
    Sled(SledEngine),
}

impl Engine {
    /// Opens `kind`'s database inside `dir`, refusing a directory that holds the other engine's.
    pub(crate) fn open(
        dir: &Path,
        kind: EngineKind,
        cache_bytes: usize,
    ) -> Result<Self, StorageError> {
        std::fs::create_dir_all(dir).map_err(|source| StorageError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        for other in [EngineKind::Redb, EngineKind::Sled] {
            let path = dir.join(other.file_name());
            if other != kind && path.exists() {
                return Err(StorageError::WrongEngine {
                    requested: kind,
                    found: other,
                    path,
                });
            }
        }
        let path = dir.join(kind.file_name());
        Ok(match kind {
            EngineKind::Redb => Engine::Redb(RedbEngine::open(&path, cache_bytes)?),
            EngineKind::Sled => Engine::Sled(SledEngine::open(&path, cache_bytes)?),
        })
    }

    pub(crate) fn kind(&self) -> EngineKind {
        match self {
            Engine::Redb(_) => EngineKind::Redb,
            Engine::Sled(_) => EngineKind::Sled,
        }
    }

    /// One value per key, read from one snapshot where the engine has snapshots (redb).
    pub(crate) fn get_many(
        &self,
        table: Table,
        keys: &[Vec<u8>],
    ) -> Result<Vec<Option<Vec<u8>>>, StorageError> {
        match self {
            Engine::Redb(e) => e.get_many(table, keys),
            Engine::Sled(e) => e.get_many(table, keys),
        }
    }

    pub(crate) fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        Ok(self.get_many(table, &[key.to_vec()])?.pop().flatten())
    }

    /// Up to `limit` entries with `start <= key < end` (no upper bound if `end` is `None`), in
    /// key order.
    pub(crate) fn scan(
        &self,
        table: Table,
        start: &[u8],
        end: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<Row>, StorageError> {
        match self {
            Engine::Redb(e) => e.scan(table, start, end, limit),
            Engine::Sled(e) => e.scan(table, start, end, limit),
        }
    }

    /// As [`Engine::scan`], with the value of the meta key `meta` read from the same snapshot
    /// (redb; sled reads it just before).
    pub(crate) fn scan_with_meta(
        &self,
        table: Table,
        start: &[u8],
        end: Option<&[u8]>,
        limit: usize,
        meta: &[u8],
    ) -> Result<(Option<Vec<u8>>, Vec<Row>), StorageError> {
        match self {
            Engine::Redb(e) => e.scan_with_meta(table, start, end, limit, meta),
            Engine::Sled(e) => {
                let meta = e.get_many(Table::Meta, &[meta.to_vec()])?.pop().flatten();
                Ok((meta, e.scan(table, start, end, limit)?))
            }
        }
    }

    /// The entry with the largest key in `low..=high`.
    pub(crate) fn last_in(
        &self,
        table: Table,
        low: &[u8],
        high: &[u8],
    ) -> Result<Option<Row>, StorageError> {
        match self {
            Engine::Redb(e) => e.last_in(table, low, high),
            Engine::Sled(e) => e.last_in(table, low, high),
        }
    }

    /// Applies every op atomically and durably: when this returns `Ok`, all of them are on disk;
    /// when it returns `Err`, none of them is visible.
    pub(crate) fn commit(&self, ops: &[Op]) -> Result<(), StorageError> {
        match self {
            Engine::Redb(e) => e.commit(ops),
            Engine::Sled(e) => e.commit(ops),
        }
    }
}

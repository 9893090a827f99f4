//! The storage boundary: the Merkle code reads and returns hashes, a store persists them.
//!
//! The traits are deliberately narrow (one method each, like azul's `HashReader`) so that an
//! embedded database, a tile store or a plain vector can sit behind them. Every operation of
//! this module reads all the hashes it needs in *one* [`HashReader::read_hashes`] call, so a
//! store that keeps 256 hashes per value (C2SP tlog-tiles) can batch its lookups.

use std::error::Error;

use super::NodeId;
use crate::hash::Hash;

/// Why a store could not read or write tree hashes.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store holds no hash for this id. For the Merkle functions this means the tree asked
    /// for is larger than the tree stored (or the store lost data).
    #[error("no hash stored for {0}")]
    Missing(NodeId),
    /// A write would replace a stored hash with a different one. Stored subtrees are perfect and
    /// therefore immutable: this is a bug in the writer or a fork of the log, never retryable.
    #[error("{0} already holds a different hash; stored tree hashes are immutable")]
    Conflict(NodeId),
    /// The storage engine failed (I/O, corruption, a closed database...). Engines in other crates
    /// wrap their own error here; whether retrying helps depends on that error.
    #[error("storage backend: {0}")]
    Backend(#[source] Box<dyn Error + Send + Sync + 'static>),
}

impl StoreError {
    /// Wraps a storage engine's error (or a message) as [`StoreError::Backend`].
    pub fn backend(error: impl Into<Box<dyn Error + Send + Sync + 'static>>) -> Self {
        Self::Backend(error.into())
    }
}

/// Reads stored tree hashes.
pub trait HashReader {
    /// Returns the hash of every id, in the order asked (duplicates included).
    ///
    /// # Errors
    /// [`StoreError::Missing`] naming an id that is not stored, for any id whatsoever (even one
    /// that no tree can contain, such as level 200): never a panic. [`StoreError::Backend`] when
    /// the engine fails.
    fn read_hashes(&self, ids: &[NodeId]) -> Result<Vec<Hash>, StoreError>;
}

/// Persists tree hashes, such as the writes of an [`Integration`](super::Integration).
pub trait HashWriter {
    /// Stores every `(id, hash)` pair.
    ///
    /// Writing a pair that is already stored with the same hash must succeed and change nothing,
    /// so that an append can be retried after a crash.
    ///
    /// # Errors
    /// [`StoreError::Backend`] when the engine fails; a store may also refuse to replace a stored
    /// hash with a different one ([`StoreError::Conflict`]).
    fn write_hashes(&mut self, writes: &[(NodeId, Hash)]) -> Result<(), StoreError>;
}

impl<R: HashReader + ?Sized> HashReader for &R {
    fn read_hashes(&self, ids: &[NodeId]) -> Result<Vec<Hash>, StoreError> {
        (**self).read_hashes(ids)
    }
}

impl<R: HashReader + ?Sized> HashReader for &mut R {
    fn read_hashes(&self, ids: &[NodeId]) -> Result<Vec<Hash>, StoreError> {
        (**self).read_hashes(ids)
    }
}

impl<R: HashReader + ?Sized> HashReader for Box<R> {
    fn read_hashes(&self, ids: &[NodeId]) -> Result<Vec<Hash>, StoreError> {
        (**self).read_hashes(ids)
    }
}

impl<W: HashWriter + ?Sized> HashWriter for &mut W {
    fn write_hashes(&mut self, writes: &[(NodeId, Hash)]) -> Result<(), StoreError> {
        (**self).write_hashes(writes)
    }
}

impl<W: HashWriter + ?Sized> HashWriter for Box<W> {
    fn write_hashes(&mut self, writes: &[(NodeId, Hash)]) -> Result<(), StoreError> {
        (**self).write_hashes(writes)
    }
}

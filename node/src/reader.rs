//! The read side of the log: leaves, proofs and per-account indexes, read from the store by any
//! number of concurrent requests while the sequencer writes (the engines give readers a
//! consistent snapshot).

use testigo_ledger::PublicKey;
use testigo_ledger::api::{CheckpointEntry, ConsistencyProof, InclusionProof};

/// Why a read failed.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The request names leaves or sizes the log does not have.
    #[error("{0}")]
    OutOfRange(String),
    /// The store failed.
    #[error("store: {0}")]
    Store(String),
}

/// What the HTTP API reads. Every method may touch the disk: call it on a blocking thread.
pub(crate) trait LogRead: Send + Sync + 'static {
    /// Leaves `start..end` (`end` exclusive and at most the durable size).
    ///
    /// # Errors
    /// [`ReadError::OutOfRange`] past the end.
    fn leaves(&self, start: u64, end: u64) -> Result<Vec<Vec<u8>>, ReadError>;

    /// The RFC 9162 inclusion proof of leaf `index` in the tree of `size`.
    ///
    /// # Errors
    /// [`ReadError::OutOfRange`] unless `index < size <= durable size`.
    fn inclusion(&self, index: u64, size: u64) -> Result<InclusionProof, ReadError>;

    /// The RFC 9162 consistency proof from `from` to `to`.
    ///
    /// # Errors
    /// [`ReadError::OutOfRange`] unless `0 < from <= to <= durable size`.
    fn consistency(&self, from: u64, to: u64) -> Result<ConsistencyProof, ReadError>;

    /// Indexes of the leaves in `key`'s history from its `from`th, at most `limit`, below `size`.
    ///
    /// # Errors
    /// [`ReadError::Store`].
    fn account_leaves(
        &self,
        key: &PublicKey,
        from: u64,
        limit: usize,
        size: u64,
    ) -> Result<Vec<u64>, ReadError>;

    /// Up to `limit` published checkpoints with size at least `from`, ascending, each note with
    /// the cosignature lines stored for it.
    ///
    /// # Errors
    /// [`ReadError::Store`].
    fn checkpoints(&self, from: u64, limit: usize) -> Result<Vec<CheckpointEntry>, ReadError>;
}

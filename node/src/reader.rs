//! The read side of the log: leaves, proofs and per-account indexes, read from the store by any
//! number of concurrent requests while the sequencer writes (the engines give readers a
//! consistent snapshot). [`LogRead`] is what the API and the intake see; its implementation over
//! the node's [`Store`] computes RFC 9162 proofs from the tile hashes.

use std::sync::Arc;

use testigo_ledger::api::{CheckpointEntry, ConsistencyProof, InclusionProof};
use testigo_ledger::merkle::{consistency_proof, inclusion_proof_with_leaf};
use testigo_ledger::{Blake3, PublicKey};

use crate::storage::Store;

/// Why a read failed.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The request names leaves or sizes the log does not have.
    #[error("{0}")]
    OutOfRange(String),
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] crate::storage::StorageError),
    /// A proof could not be built from the stored hashes.
    #[error("proof: {0}")]
    Proof(#[from] testigo_ledger::merkle::MerkleError),
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

impl LogRead for Arc<Store> {
    fn leaves(&self, start: u64, end: u64) -> Result<Vec<Vec<u8>>, ReadError> {
        let size = self.tree_size();
        if start >= size {
            return Err(ReadError::OutOfRange(format!(
                "start {start} is not below the log size {size}"
            )));
        }
        Ok(Store::leaves(self, start, end.min(size))?)
    }

    fn inclusion(&self, index: u64, size: u64) -> Result<InclusionProof, ReadError> {
        let tree = self.tree_size();
        if index >= size || size > tree {
            return Err(ReadError::OutOfRange(format!(
                "need index < size <= {tree}, got index {index}, size {size}"
            )));
        }
        let (leaf_hash, path) = inclusion_proof_with_leaf(&Blake3, self.as_ref(), index, size)?;
        Ok(InclusionProof {
            index,
            size,
            leaf_hash,
            path,
        })
    }

    fn consistency(&self, from: u64, to: u64) -> Result<ConsistencyProof, ReadError> {
        let tree = self.tree_size();
        if from == 0 || from > to || to > tree {
            return Err(ReadError::OutOfRange(format!(
                "need 0 < from <= to <= {tree}, got from {from}, to {to}"
            )));
        }
        let path = consistency_proof(&Blake3, self.as_ref(), from, to)?;
        Ok(ConsistencyProof { from, to, path })
    }

    fn account_leaves(
        &self,
        key: &PublicKey,
        from: u64,
        limit: usize,
        size: u64,
    ) -> Result<Vec<u64>, ReadError> {
        let mut indexes = Store::account_history(self, key, from, limit)?;
        // The index can be ahead of the checkpoint the caller reads at (a newer one landed).
        indexes.retain(|&index| index < size);
        Ok(indexes)
    }

    fn checkpoints(&self, from: u64, limit: usize) -> Result<Vec<CheckpointEntry>, ReadError> {
        let mut out = Vec::new();
        for stored in self.checkpoints_from(from, limit)? {
            let mut note = stored.note;
            for (_, line) in self.cosignatures(stored.size)? {
                note.push_str(&line);
                if !line.ends_with('\n') {
                    note.push('\n');
                }
            }
            out.push(CheckpointEntry {
                size: stored.size,
                note,
            });
        }
        Ok(out)
    }
}

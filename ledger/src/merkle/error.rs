//! Why a Merkle operation failed.

use super::{NodeId, StoreError};

/// Why building, reading or proving over the stored tree failed.
#[derive(Debug, thiserror::Error)]
pub enum MerkleError {
    /// An inclusion proof was asked for a leaf that is not in the tree.
    #[error("leaf index {index} is not below tree size {size}")]
    IndexOutOfRange {
        /// The leaf asked for.
        index: u64,
        /// The tree size asked for.
        size: u64,
    },
    /// A consistency proof was asked from a larger tree to a smaller one.
    #[error("consistency from size {from} to smaller size {to}")]
    SizesReversed {
        /// The older size.
        from: u64,
        /// The newer size, smaller than `from`.
        to: u64,
    },
    /// Appending would make the tree larger than `u64::MAX` leaves.
    #[error("appending {added} leaves to a tree of {size} would exceed u64::MAX leaves")]
    SizeOverflow {
        /// The current tree size.
        size: u64,
        /// How many leaves were to be appended.
        added: usize,
    },
    /// The tree size asked for is larger than the tree the store holds (or the store lost data):
    /// a hash this size needs is missing.
    #[error("tree size {size} needs {missing}, which is not stored: the stored tree is smaller")]
    NotStored {
        /// The tree size the operation was asked for.
        size: u64,
        /// The first hash the store reported missing.
        missing: NodeId,
    },
    /// The store answered a read with the wrong number of hashes: a bug in the store.
    #[error("the store returned {got} hashes for {asked} ids")]
    WrongReadCount {
        /// How many ids were asked for.
        asked: usize,
        /// How many hashes came back.
        got: usize,
    },
    /// The store failed for another reason; see [`StoreError`].
    #[error("tree store failed")]
    Store(#[source] StoreError),
}

impl MerkleError {
    /// Maps a store error met while working on a tree of `size` leaves.
    pub(crate) fn from_store(size: u64, error: StoreError) -> Self {
        match error {
            StoreError::Missing(missing) => Self::NotStored { size, missing },
            other => Self::Store(other),
        }
    }
}

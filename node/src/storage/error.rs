//! Why the storage layer failed, and what the startup check found.

use std::path::PathBuf;

use testigo_ledger::Hash;
use testigo_ledger::merkle::{MerkleError, NodeId};

use super::EngineKind;

/// Why a storage operation failed.
///
/// Integrity problems ([`StorageError::Inconsistent`], [`StorageError::Corrupt`],
/// [`StorageError::UnsupportedFormat`]) are fatal: retrying cannot help, and the node must not
/// serve or extend the log until an operator has looked. Engine errors may be transient (a full
/// disk), and the batch that failed left nothing behind, so it can be retried as it is.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The data directory could not be created or read.
    #[error("data directory {path}: {source}")]
    Io {
        /// The path that failed.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// redb failed (I/O, a corrupted file, the database is open in another process...).
    #[error("redb: {0}")]
    Redb(#[source] Box<redb::Error>),
    /// sled failed.
    #[error("sled: {0}")]
    Sled(#[from] sled::Error),
    /// The directory holds the other engine's database; open it with that engine (or migrate).
    #[error("{path} holds a {found} database, but the {requested} engine was asked for")]
    WrongEngine {
        /// The engine configured.
        requested: EngineKind,
        /// The engine whose files are there.
        found: EngineKind,
        /// The file or directory found.
        path: PathBuf,
    },
    /// The stored layout version is not the one this build reads.
    #[error("storage format {found:?} is not supported: this build reads format {supported}")]
    UnsupportedFormat {
        /// The stored version, `None` if data is present without a version key.
        found: Option<u32>,
        /// The version this build writes and reads.
        supported: u32,
    },
    /// The startup check refused to open the store: stored parts disagree.
    #[error("store is inconsistent: {0}")]
    Inconsistent(#[from] Inconsistent),
    /// A stored value cannot be decoded (disk corruption or foreign data).
    #[error("corrupt value in table {table} under key {key}: {reason}")]
    Corrupt {
        /// The table (redb) or tree (sled) name.
        table: &'static str,
        /// The key, in hexadecimal.
        key: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The batch was built for a tree of `batch_base` leaves, but the store now holds
    /// `tree_size`: another writer committed in between. Rebuild the batch from the new size.
    #[error("batch appends at size {batch_base}, but the stored tree has {tree_size} leaves")]
    StaleBatch {
        /// The size the batch was built on.
        batch_base: u64,
        /// The size now stored.
        tree_size: u64,
    },
    /// A batch appends a leaf without its level-0 hash, which would leave the tree behind the
    /// leaves.
    #[error("leaf {index} is appended without its leaf hash")]
    MissingLeafHash {
        /// The leaf index.
        index: u64,
    },
    /// A tree hash would replace a stored, different hash. Stored subtrees are perfect and
    /// immutable: this is a bug in the writer or a fork of the log.
    #[error("{0} already holds a different hash")]
    HashConflict(NodeId),
    /// A tree hash would leave a hole in its tile: tiles fill from the left, in order.
    #[error("{id} would leave a gap: its tile holds only {stored} hashes")]
    TileGap {
        /// The hash written.
        id: NodeId,
        /// How many hashes the tile holds.
        stored: usize,
    },
    /// A checkpoint is stored for a size the tree (after the batch) does not reach.
    #[error("checkpoint for size {checkpoint} but the tree has {tree_size} leaves")]
    CheckpointBeyondTree {
        /// The checkpoint's size.
        checkpoint: u64,
        /// The tree size after the batch.
        tree_size: u64,
    },
    /// A checkpoint note does not parse, or names another size than the one it is stored under.
    #[error("checkpoint note for size {size} is malformed: {reason}")]
    MalformedCheckpoint {
        /// The size it was to be stored under.
        size: u64,
        /// What is wrong.
        reason: String,
    },
    /// Computing tree hashes over the store failed.
    #[error("merkle: {0}")]
    Merkle(#[from] MerkleError),
    /// Fault injection in tests: the engine transaction failed on purpose before committing.
    #[cfg(test)]
    #[error("injected failure before commit")]
    Injected,
}

impl StorageError {
    pub(crate) fn redb(error: impl Into<redb::Error>) -> Self {
        Self::Redb(Box::new(error.into()))
    }

    pub(crate) fn corrupt(table: &'static str, key: &[u8], reason: impl Into<String>) -> Self {
        Self::Corrupt {
            table,
            key: key.iter().map(|b| format!("{b:02x}")).collect(),
            reason: reason.into(),
        }
    }
}

/// What the startup check found disagreeing. Each variant names both sides, so an operator (or
/// the audit tool) can see which part of the store is wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Inconsistent {
    /// The stored tree size and the leaves stored disagree.
    #[error("tree size is {tree_size} but {leaves} leaves are stored")]
    LeafCountMismatch {
        /// The size in the metadata.
        tree_size: u64,
        /// One past the last stored leaf index.
        leaves: u64,
    },
    /// The stored tree size and the leaf hashes stored disagree.
    #[error("tree size is {tree_size} but {leaf_hashes} leaf hashes are stored")]
    HashCountMismatch {
        /// The size in the metadata.
        tree_size: u64,
        /// Leaf hashes (level 0) stored.
        leaf_hashes: u64,
    },
    /// The last leaf does not hash to the stored leaf hash.
    #[error("leaf {index} hashes to {computed:?} but {stored:?} is stored")]
    LeafHashMismatch {
        /// The leaf index.
        index: u64,
        /// The level-0 hash stored.
        stored: Hash,
        /// The hash of the stored leaf bytes.
        computed: Hash,
    },
    /// A hash the tree of the stored size needs is not stored.
    #[error("the tree of {size} leaves needs {missing}, which is not stored")]
    MissingTreeHash {
        /// The tree size.
        size: u64,
        /// The first hash missing.
        missing: NodeId,
    },
    /// The metadata names a latest checkpoint that is not stored.
    #[error("the latest checkpoint is recorded as size {size} but no note is stored for it")]
    LatestCheckpointMissing {
        /// The recorded size.
        size: u64,
    },
    /// The latest checkpoint note does not parse, or names another size than its key.
    #[error("checkpoint stored under size {size} is malformed: {reason}")]
    MalformedCheckpoint {
        /// The key it is stored under.
        size: u64,
        /// What is wrong.
        reason: String,
    },
    /// The latest checkpoint is for a larger tree than the one stored.
    #[error("the latest checkpoint has size {checkpoint_size} but the tree has {tree_size} leaves")]
    CheckpointBeyondTree {
        /// The checkpoint's size.
        checkpoint_size: u64,
        /// The stored tree size.
        tree_size: u64,
    },
    /// The tree recomputed from stored hashes has another root than the latest checkpoint.
    #[error(
        "checkpoint at size {size} has root {stored_root:?}; stored hashes give {computed_root:?}"
    )]
    CheckpointRootMismatch {
        /// The checkpoint's size.
        size: u64,
        /// The root in the signed checkpoint.
        stored_root: Hash,
        /// The root recomputed from the stored tree hashes.
        computed_root: Hash,
    },
    /// The store holds fewer checkpoints than the node published: the engine lost committed
    /// data (sled, for one, drops what follows a damaged log segment when it opens).
    #[error(
        "the node published the checkpoint of size {published} ({file}), but the store's \
         latest is {stored:?}: the store lost committed data"
    )]
    LostCheckpoints {
        /// The size recorded when it was published.
        published: u64,
        /// The latest checkpoint the store holds.
        stored: Option<u64>,
        /// The record's file.
        file: String,
    },
    /// The record of the latest published checkpoint cannot be read, or its root is not the
    /// stored tree's at its size.
    #[error("the record of the published checkpoint ({file}) disagrees with the store: {reason}")]
    PublishedMismatch {
        /// The record's file.
        file: String,
        /// What disagrees.
        reason: String,
    },
}

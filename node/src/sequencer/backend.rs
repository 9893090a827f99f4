//! What the sequencer task drives: the rules, the tree and the store, behind one narrow trait.
//!
//! The sequencer owns batching, back-pressure and who waits for what; the backend owns the
//! ledger (`Engine::apply`, `integrate`, the state map, checkpoint signing) and durable writes.
//! Every method runs on a blocking thread: it may fsync.

use std::sync::OnceLock;

use testigo_ledger::Hash;
use testigo_ledger::api::StateRootProof;
use testigo_ledger::entry::{BodyKind, Leaf};
use testigo_ledger::map::MapSnapshot;

use super::Refusal;

/// One entry sequenced and on disk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Receipt {
    /// Leaf index.
    pub index: u64,
    /// The time stamped into the leaf, Unix ms.
    pub sequenced_at: u64,
    /// The stamped leaf's hash.
    pub leaf_hash: Hash,
    /// The entry's kind.
    pub kind: BodyKind,
    /// An identical resubmission: this is the original's receipt.
    pub duplicate: bool,
}

/// A checkpoint signed and stored.
#[derive(Clone, Debug)]
pub struct CheckpointInfo {
    /// Tree size; the leaf at `size - 1` is a `StateRoot`.
    pub size: u64,
    /// Root hash.
    pub root: Hash,
    /// The signed note, as served by `GET /v1/checkpoint`.
    pub note: String,
    /// The state map as the closing `StateRoot` commits it: account proofs are made from it,
    /// and holding it keeps that version readable however far the map has moved on.
    pub map: MapSnapshot,
    /// The closing `StateRoot` leaf with its inclusion proof: the same for every account answer
    /// against this checkpoint, so the first one reads it from the store and the rest reuse it.
    pub state_root: OnceLock<StateRootProof>,
}

/// The backend cannot go on: its in-memory state may be ahead of the disk. The sequencer stops
/// and a restart recovers from the store.
/// It keeps its cause, typed, as its `source` (a storage, map or signing error).
#[derive(Debug, thiserror::Error)]
#[error("{what}")]
pub struct BackendError {
    what: String,
    #[source]
    cause: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl BackendError {
    /// A failure with its cause.
    pub fn caused_by(cause: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self {
            what: cause.to_string(),
            cause: Some(Box::new(cause)),
        }
    }

    /// A failure that has no underlying error (a broken invariant).
    pub fn invariant(what: impl Into<String>) -> Self {
        Self {
            what: what.into(),
            cause: None,
        }
    }
}

/// The write path (see module docs).
pub(crate) trait Backend: Send + 'static {
    /// Applies `leaves` (signatures already verified, `sequenced_at` zero) in order, stamping them
    /// `at`, and writes every accepted one durably in one atomic commit before returning.
    /// A refused leaf changes nothing; an identical resubmission returns the original receipt.
    ///
    /// # Errors
    /// [`BackendError`] if the commit failed: nothing from this call is on disk.
    fn append(
        &mut self,
        leaves: Vec<Leaf>,
        at: u64,
    ) -> Result<Vec<Result<Receipt, Refusal>>, BackendError>;

    /// Appends the `StateRoot` leaf for everything before it, updates the tree and signs and
    /// stores the checkpoint, in one atomic commit.
    ///
    /// # Errors
    /// [`BackendError`] if it cannot be written.
    fn checkpoint(&mut self, at: u64) -> Result<CheckpointInfo, BackendError>;

    /// The `sequenced_at` of the last leaf: the sequencer's clock never goes below it.
    fn last_sequenced_at(&self) -> u64;
}

//! The sequencer: one task owns the state and the write path (STYLE 6).
//!
//! ```text
//! HTTP handlers ──verify (all cores)──▶ SequencerHandle ──bounded mpsc──▶ task ──▶ Backend
//!                                            ▲                               │ durable commit
//!                                            └──────── oneshot replies ◀─────┘ then answers
//! ```
//!
//! Submissions are grouped: the task takes whatever is queued (up to the batch size), applies and
//! commits it in one durable write, and answers `wait=sequenced` callers. A batch closes after
//! `batch_max_entries` entries or `batch_max_delay_ms` after its first entry; the task then has
//! the backend append the `StateRoot`, update the tree and sign the checkpoint, answers
//! `wait=checkpointed` callers, and publishes the checkpoint (for `/v1/events`). Nothing is
//! answered before it is on disk.

mod backend;
mod follower;
mod log;
mod recent;
mod refusal;
pub(crate) mod resident;
mod task;
#[cfg(test)]
pub(crate) mod test_support;
pub(crate) mod verify;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use testigo_ledger::api::Wait;
use testigo_ledger::entry::Leaf;
use tokio::sync::{mpsc, oneshot, watch};

pub(crate) use backend::Backend;
pub use backend::{BackendError, CheckpointInfo, Receipt};
pub(crate) use follower::{FollowerHandle, spawn_follower};
pub use log::FollowError;
pub(crate) use log::{LogBackend, Tail};
pub use recent::{KEPT_MAP_VERSIONS, RecentCheckpoints};
pub use refusal::Refusal;
#[cfg(test)]
pub(crate) use task::spawn;
pub(crate) use task::{Settings, spawn_gated};

/// Why a submission got no per-entry answer.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SequencerError {
    /// The queue is full: back-pressure, retry later (503 + `Retry-After`).
    #[error("sequencer queue is full")]
    QueueFull,
    /// The sequencer has stopped (shutdown).
    #[error("sequencer has stopped")]
    Stopped,
    /// The write path failed; the node must be restarted. The message of the
    /// [`BackendError`], which the task logs with its whole cause when it stops; every caller
    /// waiting on the write path gets a copy.
    #[error("sequencer failed: {0}")]
    Fatal(String),
}

/// The answer to a submission.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// Per leaf, in submission order.
    pub results: Vec<Result<Receipt, Refusal>>,
    /// With `wait=checkpointed`: the first checkpoint covering every sequenced entry.
    pub checkpoint: Option<Arc<CheckpointInfo>>,
}

/// A read of the sequencer's state, answered between batches.
/// A run of a primary's checkpoints as a follower receives them: each one's
/// new leaves with their stored bytes, and its signed note.
pub(crate) type Segments = Vec<(Vec<(Leaf, Vec<u8>)>, String)>;

pub(crate) enum Command {
    Submit {
        leaves: Vec<Leaf>,
        wait: Wait,
        reply: oneshot::Sender<Result<Outcome, SequencerError>>,
    },
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Command::Submit { leaves, wait, .. } => f
                .debug_struct("Submit")
                .field("leaves", &leaves.len())
                .field("wait", wait)
                .finish(),
        }
    }
}

/// Cloneable handle to the sequencer task.
#[derive(Clone, Debug)]
pub struct SequencerHandle {
    tx: mpsc::Sender<Command>,
    queued: Arc<AtomicUsize>,
    /// Entries queued (in every submission together) before new submissions get `QueueFull`; a
    /// submission into an empty queue is always taken, so one maximal batch always fits.
    max_queued_entries: usize,
    checkpoints: watch::Receiver<Option<Arc<CheckpointInfo>>>,
    /// The newest checkpoint signed, published or not (see [`task::spawn_gated`]).
    signed: watch::Receiver<Option<Arc<CheckpointInfo>>>,
    recent: Arc<RecentCheckpoints>,
}

impl SequencerHandle {
    /// Queues verified leaves and waits for `wait` (`Sequenced` or `Checkpointed`; the API
    /// refuses `Witnessed` before it gets here).
    ///
    /// # Errors
    /// [`SequencerError::QueueFull`] without waiting when the queue is full; `Stopped` or `Fatal`
    /// if the task is gone.
    pub async fn submit(&self, leaves: Vec<Leaf>, wait: Wait) -> Result<Outcome, SequencerError> {
        let (reply, answer) = oneshot::channel();
        let count = leaves.len();
        // Count before sending, so the task's decrement can never run first and wrap; and bound
        // the queue by entries, not only by submissions, so memory stays bounded whatever the
        // submission sizes.
        let before = self.queued.fetch_add(count, Ordering::Relaxed);
        if before > 0 && before.saturating_add(count) > self.max_queued_entries {
            self.queued.fetch_sub(count, Ordering::Relaxed);
            return Err(SequencerError::QueueFull);
        }
        if let Err(e) = self.tx.try_send(Command::Submit {
            leaves,
            wait,
            reply,
        }) {
            self.queued.fetch_sub(count, Ordering::Relaxed);
            return Err(match e {
                mpsc::error::TrySendError::Full(_) => SequencerError::QueueFull,
                mpsc::error::TrySendError::Closed(_) => SequencerError::Stopped,
            });
        }
        answer.await.map_err(|_| SequencerError::Stopped)?
    }

    /// Entries queued and not yet taken by the task.
    pub fn queue_depth(&self) -> usize {
        self.queued.load(Ordering::Relaxed)
    }

    /// The latest checkpoint, updated as each one is stored.
    pub fn checkpoints(&self) -> watch::Receiver<Option<Arc<CheckpointInfo>>> {
        self.checkpoints.clone()
    }

    /// The newest checkpoint signed, as it changes: ahead of [`SequencerHandle::checkpoints`]
    /// while witnesses have yet to hold it (what is served to witnesses and gossiped to them).
    pub(crate) fn signed_checkpoints(&self) -> watch::Receiver<Option<Arc<CheckpointInfo>>> {
        self.signed.clone()
    }

    /// The checkpoint of `size` with its map version, if it is among the last
    /// [`KEPT_MAP_VERSIONS`].
    pub fn recent_checkpoint(&self, size: u64) -> Option<Arc<CheckpointInfo>> {
        self.recent.get(size)
    }

    /// Whether the task is still running.
    pub fn is_running(&self) -> bool {
        !self.tx.is_closed()
    }
}

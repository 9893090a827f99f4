//! A witness's counterpart of the sequencer task: one task owns the witness's [`LogBackend`] and
//! its write path, which takes whole checkpoints of the operator's log ([`LogBackend::follow`])
//! instead of submissions. It answers the same [`SequencerHandle`] as the sequencer, so the read
//! API runs unchanged on a witness: reads between writes, the latest checkpoint on the same
//! watch, the same window of recent map versions. Submissions are refused (a witness never
//! sequences).

use std::sync::Arc;
use std::sync::atomic::AtomicUsize;

use testigo_ledger::PublicKey;
use testigo_ledger::api::ErrorCode;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use super::log::FollowError;
use super::{
    BackendError, CheckpointInfo, Command, LogBackend, Outcome, RecentCheckpoints, Refusal,
    Segments, SequencerHandle,
};

/// A run of consecutive checkpoints, each with its leaves (signatures verified) and its signed
/// note.
struct Segment {
    checkpoints: Segments,
    reply: oneshot::Sender<Result<Followed, FollowError>>,
}

/// What the follower did with a run of checkpoints: those stored, as published.
pub(crate) type Followed = super::log::Followed<Arc<CheckpointInfo>>;

/// Sends checkpoints to the follower task.
#[derive(Clone, Debug)]
pub(crate) struct FollowerHandle {
    tx: mpsc::Sender<Segment>,
}

impl std::fmt::Debug for Segment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Segment")
            .field("checkpoints", &self.checkpoints.len())
            .finish_non_exhaustive()
    }
}

impl FollowerHandle {
    /// Stores a run of consecutive checkpoints of the log in one commit (see
    /// [`LogBackend::follow_many`]).
    ///
    /// # Errors
    /// A fatal [`FollowError`]; [`FollowError::Backend`] if the task has stopped.
    pub(crate) async fn follow(&self, checkpoints: Segments) -> Result<Followed, FollowError> {
        let stopped = || FollowError::Backend(BackendError::invariant("the follower has stopped"));
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Segment { checkpoints, reply })
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

/// Starts the follower task over `backend`, whose latest stored checkpoint is `latest`.
pub(crate) fn spawn_follower(
    backend: LogBackend,
    latest: Option<CheckpointInfo>,
    log_key: PublicKey,
    queue_capacity: usize,
) -> (
    SequencerHandle,
    FollowerHandle,
    JoinHandle<Result<(), BackendError>>,
) {
    let (tx, rx) = mpsc::channel(queue_capacity);
    let (segments_tx, segments) = mpsc::channel(4);
    let latest = latest.map(Arc::new);
    let recent = Arc::new(RecentCheckpoints::default());
    if let Some(latest) = &latest {
        recent.push(latest.clone());
    }
    let (published, checkpoints) = watch::channel(latest);
    let handle = SequencerHandle {
        tx,
        queued: Arc::new(AtomicUsize::new(0)),
        max_queued_entries: 0,
        signed: checkpoints.clone(),
        checkpoints,
        recent: recent.clone(),
    };
    let task = tokio::spawn(run(backend, rx, segments, published, recent, log_key));
    (handle, FollowerHandle { tx: segments_tx }, task)
}

async fn run(
    backend: LogBackend,
    mut rx: mpsc::Receiver<Command>,
    mut segments: mpsc::Receiver<Segment>,
    published: watch::Sender<Option<Arc<CheckpointInfo>>>,
    recent: Arc<RecentCheckpoints>,
    log_key: PublicKey,
) -> Result<(), BackendError> {
    let mut backend = Some(backend);
    loop {
        tokio::select! {
            command = rx.recv() => match command {
                Some(Command::Submit { leaves, reply, .. }) => {
                    let refusal = Refusal::new(
                        ErrorCode::NotImplemented,
                        "this node is a witness: submit entries to the log's operator",
                        serde_json::Value::Null,
                    );
                    let _ = reply.send(Ok(Outcome {
                        results: leaves.iter().map(|_| Err(refusal.clone())).collect(),
                        checkpoint: None,
                    }));
                }
                None => break,
            },
            segment = segments.recv() => {
                let Some(Segment { checkpoints, reply }) = segment else { break };
                let Some(mut taken) = backend.take() else { break };
                let joined = tokio::task::spawn_blocking(move || {
                    let result = taken.follow_many(checkpoints, &log_key);
                    (taken, result)
                })
                .await;
                let (taken, result) = joined.map_err(BackendError::caused_by)?;
                let fatal = result.as_ref().err().is_some_and(FollowError::is_fatal);
                let result = result.map(|followed| {
                    let stored: Vec<_> = followed.stored.into_iter().map(Arc::new).collect();
                    for info in &stored {
                        recent.push(info.clone());
                    }
                    if let Some(last) = stored.last() {
                        published.send_replace(Some(last.clone()));
                    }
                    Followed {
                        stored,
                        refused: followed.refused,
                    }
                });
                let message = result.as_ref().err().map(ToString::to_string);
                let _ = reply.send(result);
                if fatal {
                    let what = message.unwrap_or_default();
                    tracing::error!(error = %what, "witness stopped following: restart it");
                    return Err(BackendError::invariant(what));
                }
                backend = Some(taken);
            }
        }
    }
    Ok(())
}

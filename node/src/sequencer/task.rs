//! The sequencer task's loop: group, commit, answer; close batches by size or time.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use testigo_ledger::api::Wait;
use testigo_ledger::entry::{BodyKind, Leaf};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::{
    Backend, BackendError, CheckpointInfo, Command, Outcome, Receipt, RecentCheckpoints, Refusal,
    SequencerError, SequencerHandle,
};
use crate::metrics::{KindLabel, Metrics};

/// How the task batches.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Settings {
    /// A batch closes after this many new entries...
    pub(crate) max_entries: usize,
    /// ...or this long after its first.
    pub(crate) max_delay: Duration,
    /// Commands queued before `QueueFull`.
    pub(crate) queue_capacity: usize,
    /// Entries queued, over all commands, before `QueueFull`.
    pub(crate) max_queued_entries: usize,
    /// An idle log appends a `StateRoot` and signs a checkpoint this long after the last one,
    /// so witnesses always have a fresh checkpoint to cosign (DESIGN §4's clock rule).
    pub(crate) idle_checkpoint: Duration,
}

type Reply = oneshot::Sender<Result<Outcome, SequencerError>>;

/// A `wait=checkpointed` caller whose entries are on disk, waiting for a checkpoint of `size`.
struct Parked {
    size: u64,
    results: Vec<Result<Receipt, Refusal>>,
    reply: Reply,
}

struct Task {
    backend: Option<Box<dyn Backend>>,
    rx: mpsc::Receiver<Command>,
    queued: Arc<AtomicUsize>,
    settings: Settings,
    published: watch::Sender<Option<Arc<CheckpointInfo>>>,
    signed: watch::Sender<Option<Arc<CheckpointInfo>>>,
    /// The newest size that enough witnesses hold, when publishing waits for them.
    held: Option<watch::Receiver<u64>>,
    /// Signed checkpoints not published yet, oldest first.
    unpublished: Vec<Arc<CheckpointInfo>>,
    recent: Arc<RecentCheckpoints>,
    parked: Vec<Parked>,
    /// New entries since the last checkpoint, and when the first of them was committed.
    batch_len: usize,
    batch_started: Option<Instant>,
    /// When the last checkpoint was signed (or the task started).
    last_checkpoint: Instant,
    metrics: Arc<Metrics>,
}

/// Starts the task. It runs until every handle is dropped (closing the open batch first) or the
/// backend fails.
#[cfg(test)]
pub(crate) fn spawn(
    backend: Box<dyn Backend>,
    latest: Option<CheckpointInfo>,
    settings: Settings,
    metrics: Arc<Metrics>,
) -> (SequencerHandle, JoinHandle<Result<(), BackendError>>) {
    spawn_gated(backend, latest, settings, metrics, None)
}

/// [`spawn`], publishing each checkpoint after the log's first only once `held` (the newest size
/// that enough witnesses hold) reaches it, as Sigsum's primary signs a tree head only once its
/// secondary has the entries: a checkpoint anyone was shown is then always on a witness's disk,
/// and a primary whose disk is lost is rebuilt from there (`testigo-node restore`). Until then
/// it is signed, stored, served to witnesses and gossiped ([`SequencerHandle::signed_checkpoints`]),
/// but `wait=checkpointed` callers, the read API and `/v1/events` do not see it; sequencing goes
/// on meanwhile.
pub(crate) fn spawn_gated(
    backend: Box<dyn Backend>,
    latest: Option<CheckpointInfo>,
    settings: Settings,
    metrics: Arc<Metrics>,
    held: Option<watch::Receiver<u64>>,
) -> (SequencerHandle, JoinHandle<Result<(), BackendError>>) {
    let (tx, rx) = mpsc::channel(settings.queue_capacity);
    let queued = Arc::new(AtomicUsize::new(0));
    let latest = latest.map(Arc::new);
    let recent = Arc::new(RecentCheckpoints::default());
    if let Some(latest) = &latest {
        recent.push(latest.clone());
    }
    let (signed_tx, signed) = watch::channel(latest.clone());
    let (published, checkpoints) = watch::channel(latest);
    let task = Task {
        backend: Some(backend),
        rx,
        queued: queued.clone(),
        settings,
        published,
        signed: signed_tx,
        held,
        unpublished: Vec::new(),
        recent: recent.clone(),
        parked: Vec::new(),
        batch_len: 0,
        batch_started: None,
        last_checkpoint: Instant::now(),
        metrics,
    };
    let handle = SequencerHandle {
        tx,
        queued,
        max_queued_entries: settings.max_queued_entries,
        checkpoints,
        signed,
        recent,
    };
    (handle, tokio::spawn(task.run()))
}

/// The next value of `held`; never resolves without a gate.
async fn held_changed(held: &mut Option<watch::Receiver<u64>>) -> u64 {
    if let Some(held) = held
        && held.changed().await.is_ok()
    {
        return *held.borrow_and_update();
    }
    std::future::pending().await
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl Task {
    async fn run(mut self) -> Result<(), BackendError> {
        let result = self.serve().await;
        if let Err(e) = &result {
            tracing::error!(error = %e, "sequencer stopped: write path failed; restart the node");
            for parked in self.parked.drain(..) {
                let _ = parked.reply.send(Err(SequencerError::Fatal(e.to_string())));
            }
        }
        result
    }

    async fn serve(&mut self) -> Result<(), BackendError> {
        loop {
            let first = match self.batch_started {
                Some(started) => {
                    let deadline = started + self.settings.max_delay;
                    tokio::select! {
                        command = self.rx.recv() => command,
                        () = tokio::time::sleep_until(deadline) => {
                            self.close_batch().await?;
                            continue;
                        }
                        size = held_changed(&mut self.held) => {
                            self.release(size);
                            continue;
                        }
                    }
                }
                // Idle: checkpoint anyway when it is due, once the log has a first one.
                None if self.published.borrow().is_some() => {
                    let deadline = self.last_checkpoint + self.settings.idle_checkpoint;
                    tokio::select! {
                        command = self.rx.recv() => command,
                        () = tokio::time::sleep_until(deadline) => {
                            self.close_batch().await?;
                            continue;
                        }
                        size = held_changed(&mut self.held) => {
                            self.release(size);
                            continue;
                        }
                    }
                }
                None => self.rx.recv().await,
            };
            let Some(first) = first else { break };
            let mut group = vec![first];
            let mut entries = entries_in(&group[0]);
            while entries < self.settings.max_entries {
                match self.rx.try_recv() {
                    Ok(command) => {
                        entries += entries_in(&command);
                        group.push(command);
                    }
                    Err(_) => break,
                }
            }
            self.process(group).await?;
            let due = self
                .batch_started
                .is_some_and(|s| s.elapsed() >= self.settings.max_delay);
            if self.batch_len >= self.settings.max_entries || due {
                self.close_batch().await?;
            }
        }
        if self.batch_len > 0 || !self.parked.is_empty() {
            self.close_batch().await?;
        }
        Ok(())
    }

    /// Applies and commits one group of submissions, then answers or parks each.
    async fn process(&mut self, group: Vec<Command>) -> Result<(), BackendError> {
        let mut leaves: Vec<Leaf> = Vec::new();
        let mut callers: Vec<(usize, Wait, Reply)> = Vec::new();
        for command in group {
            let Command::Submit {
                leaves: mut submitted,
                wait,
                reply,
            } = command;
            self.queued.fetch_sub(submitted.len(), Ordering::Relaxed);
            callers.push((submitted.len(), wait, reply));
            leaves.append(&mut submitted);
        }
        if callers.is_empty() {
            return Ok(());
        }
        let count = leaves.len();
        let results = match self
            .blocking(move |b| {
                let at = now_ms().max(b.last_sequenced_at());
                b.append(leaves, at)
            })
            .await
        {
            Ok(results) => results,
            Err(e) => {
                for (_, _, reply) in callers {
                    let _ = reply.send(Err(SequencerError::Fatal(e.to_string())));
                }
                return Err(e);
            }
        };
        debug_assert_eq!(results.len(), count);
        self.metrics.commit_entries.observe(count as f64);
        let new = results
            .iter()
            .filter(|r| r.as_ref().is_ok_and(|r| !r.duplicate))
            .count();
        if new > 0 && self.batch_len == 0 {
            self.batch_started = Some(Instant::now());
        }
        self.batch_len += new;
        for receipt in results.iter().filter_map(|r| r.as_ref().ok()) {
            if !receipt.duplicate {
                self.count_entry(receipt.kind);
            }
        }
        let latest = self.published.borrow().clone();
        let mut results = results.into_iter();
        for (n, wait, reply) in callers {
            let mine: Vec<_> = results.by_ref().take(n).collect();
            let size = mine
                .iter()
                .filter_map(|r| r.as_ref().ok().map(|r| r.index + 1))
                .max();
            match (wait, size) {
                (Wait::Sequenced, _) | (_, None) => {
                    let _ = reply.send(Ok(Outcome {
                        results: mine,
                        checkpoint: None,
                    }));
                }
                (_, Some(size)) => match &latest {
                    Some(cp) if cp.size >= size => {
                        let _ = reply.send(Ok(Outcome {
                            results: mine,
                            checkpoint: Some(cp.clone()),
                        }));
                    }
                    _ => self.parked.push(Parked {
                        size,
                        results: mine,
                        reply,
                    }),
                },
            }
        }
        Ok(())
    }

    /// Appends the `StateRoot`, signs the checkpoint, publishes it and answers parked callers.
    async fn close_batch(&mut self) -> Result<(), BackendError> {
        let closed = self.batch_len;
        let checkpoint = self
            .blocking(|b| {
                let at = now_ms().max(b.last_sequenced_at());
                b.checkpoint(at)
            })
            .await?;
        let checkpoint = Arc::new(checkpoint);
        self.batch_len = 0;
        self.batch_started = None;
        self.last_checkpoint = Instant::now();
        self.metrics.checkpoint_entries.observe(closed as f64);
        self.count_entry(BodyKind::StateRoot);
        tracing::debug!(size = checkpoint.size, entries = closed, "checkpoint");
        self.recent.push(checkpoint.clone());
        self.signed.send_replace(Some(checkpoint.clone()));
        let first = self.published.borrow().is_none();
        match &self.held {
            Some(held) if !first && *held.borrow() < checkpoint.size => {
                self.unpublished.push(checkpoint);
            }
            _ => self.publish(checkpoint),
        }
        Ok(())
    }

    /// Publishes the newest signed checkpoint that witnesses now hold up to `held`.
    fn release(&mut self, held: u64) {
        let Some(at) = self.unpublished.iter().rposition(|c| c.size <= held) else {
            return;
        };
        let ready: Vec<_> = self.unpublished.drain(..=at).collect();
        if let Some(newest) = ready.last() {
            self.publish(newest.clone());
        }
    }

    /// Makes `checkpoint` the published one and answers the callers it covers.
    fn publish(&mut self, checkpoint: Arc<CheckpointInfo>) {
        // Publish before answering: a caller told "checkpointed" must find this checkpoint (or a
        // later one) at `/v1/checkpoint` and `/healthz` the moment it gets its answer.
        self.published.send_replace(Some(checkpoint.clone()));
        let (ready, waiting): (Vec<_>, Vec<_>) = self
            .parked
            .drain(..)
            .partition(|p| p.size <= checkpoint.size);
        self.parked = waiting;
        for parked in ready {
            let _ = parked.reply.send(Ok(Outcome {
                results: parked.results,
                checkpoint: Some(checkpoint.clone()),
            }));
        }
    }

    /// Counts one new leaf of `kind`, wherever it came from (API, genesis, the task's own
    /// `StateRoot`s), so `/metrics` adds up to the tree size since the start.
    fn count_entry(&self, kind: BodyKind) {
        self.metrics
            .entries
            .get_or_create(&KindLabel {
                kind: kind.as_str(),
            })
            .inc();
    }

    /// Runs `f` on the backend on a blocking thread (it may fsync).
    async fn blocking<R: Send + 'static>(
        &mut self,
        f: impl FnOnce(&mut dyn Backend) -> Result<R, BackendError> + Send + 'static,
    ) -> Result<R, BackendError> {
        let mut backend = self
            .backend
            .take()
            .ok_or_else(|| BackendError::invariant("backend lost by an earlier failure"))?;
        let (backend, result) = tokio::task::spawn_blocking(move || {
            let result = f(backend.as_mut());
            (backend, result)
        })
        .await
        .map_err(BackendError::caused_by)?;
        self.backend = Some(backend);
        result
    }
}

fn entries_in(command: &Command) -> usize {
    let Command::Submit { leaves, .. } = command;
    leaves.len()
}

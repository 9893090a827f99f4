//! The witness loop: follow the log, verify it, cosign it, catch it lying.
//!
//! ```text
//! gossip (checkpoint heard) ─┐
//! poll timer ────────────────┼─▶ fetch leaves from the store's end ─▶ parse ─▶ verify signatures
//! peer connected ────────────┘      (any allowed peer: all data is     (all cores, strict)
//!                                    checked against signed notes)          │
//!   gossip cosignature ◀── commit cosignature ◀── clock rule ◀── follower: root, rules, StateRoot,
//!                          (fsync first)           (5 min)      commit checkpoint by checkpoint
//! ```
//!
//! What a witness cosigns is only ever a checkpoint of its own store, whose leaves it verified
//! and committed before (the root it signs is the one [`crate::sequencer::LogBackend::follow`]
//! recomputed from them). The store only grows, and its tree is checked against the latest
//! checkpoint at every start, so every checkpoint it cosigns extends every one it cosigned
//! before. Its cosignature line is committed (fsync) in the store before it is gossiped, so after
//! a crash it still knows what it said. A signed checkpoint whose root differs from the one it
//! holds for the same size is evidence: it is kept, gossiped, and the witness cosigns nothing
//! more for that log.
//!
//! Resuming after a restart or a partition needs nothing special: the next fetch starts at the
//! store's end (what was committed is never fetched again), and fetched leaves not yet closed
//! by a checkpoint are kept in memory until their checkpoint arrives.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ed25519_dalek::SigningKey;
use testigo_ledger::PublicKey;
use testigo_ledger::checkpoint::{Checkpoint, Evidence, SignedNote, cosign, verify_checkpoint};
use testigo_ledger::entry::Leaf;
use testigo_ledger::replication::{
    GossipMessage, LeafRangeRequest, MAX_RANGE_LEAVES, within_clock_rule,
};
use testigo_ledger::{Blake3, TreeHasher as _};
use tokio::sync::{mpsc, watch};

use super::{CosignError, Cosignatures, EvidenceStore, Halted, fork_evidence};
use crate::metrics::Metrics;
use crate::p2p::{P2pEvent, P2pHandle};
use crate::sequencer::verify::verify_parallel;
use crate::sequencer::{CheckpointInfo, FollowError, FollowerHandle, Segments};
use crate::storage::Store;

/// Fetched leaves held while their checkpoint has not arrived: more means the peer is not
/// sending checkpoints, and the buffer is dropped.
const MAX_PENDING: usize = 1 << 17;

/// Leaves a catching-up witness commits at once, at most (a run of whole checkpoints; see
/// `Witness::replay`): 8 leaf ranges, some 8 MiB of leaves held before they are stored.
const RUN_LEAVES: usize = 8 * MAX_RANGE_LEAVES as usize;

/// The largest checkpoint whose whole tree a witness fetches to look for a fork (32 bytes of
/// memory per leaf); past it, the mismatch is logged without evidence.
const MAX_FORK_SEARCH: u64 = 1 << 22;

/// Forked checkpoints remembered so that each is searched once.
const MAX_SEARCHED: usize = 64;

/// What a witness is.
#[derive(Clone)]
pub(crate) struct WitnessSettings {
    /// Its key name in the `Genesis`.
    pub(crate) name: String,
    /// Its cosigning key.
    pub(crate) key: SigningKey,
    /// The log's origin.
    pub(crate) origin: String,
    /// The log key.
    pub(crate) log_key: PublicKey,
    /// How often it asks for new leaves without being told of a checkpoint.
    pub(crate) poll: Duration,
    /// Added to the clock for the clock rule (`Config::witness_clock_offset_ms`).
    pub(crate) clock_offset_ms: i64,
}

impl std::fmt::Debug for WitnessSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WitnessSettings")
            .field("name", &self.name)
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

/// The witness loop's state.
pub(crate) struct Witness {
    pub(crate) settings: WitnessSettings,
    pub(crate) store: Arc<Store>,
    pub(crate) follower: FollowerHandle,
    pub(crate) checkpoints: watch::Receiver<Option<Arc<CheckpointInfo>>>,
    pub(crate) p2p: P2pHandle,
    pub(crate) events: mpsc::Receiver<P2pEvent>,
    pub(crate) cosignatures: Arc<Cosignatures>,
    pub(crate) evidence: Arc<EvidenceStore>,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) halted: Arc<Halted>,
    pending: Vec<(Leaf, Vec<u8>)>,
    heard: u64,
    /// The end of the furthest range fetched in this process (to count leaves fetched twice).
    fetched_to: u64,
    last_cosigned: u64,
    last_clock_refusal: u64,
    searched: Vec<String>,
}

impl std::fmt::Debug for Witness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Witness")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Why one round of fetching from a peer stopped.
#[derive(Debug, thiserror::Error)]
enum SyncError {
    #[error(transparent)]
    P2p(#[from] crate::p2p::P2pError),
    #[error("{0}")]
    Refused(String),
}

impl Witness {
    /// A witness over its opened store and follower, talking through `p2p`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        settings: WitnessSettings,
        store: Arc<Store>,
        follower: FollowerHandle,
        checkpoints: watch::Receiver<Option<Arc<CheckpointInfo>>>,
        p2p: P2pHandle,
        events: mpsc::Receiver<P2pEvent>,
        cosignatures: Arc<Cosignatures>,
        evidence: Arc<EvidenceStore>,
        metrics: Arc<Metrics>,
        halted: Arc<Halted>,
    ) -> Self {
        let last_cosigned = checkpoints.borrow().as_ref().map_or(0, |latest| {
            let own = store
                .cosignatures(latest.size)
                .unwrap_or_default()
                .iter()
                .any(|(name, _)| *name == settings.name);
            if own { latest.size } else { 0 }
        });
        metrics
            .p2p
            .resumed_from
            .set(i64::try_from(store.tree_size()).unwrap_or(i64::MAX));
        Self {
            settings,
            store,
            follower,
            checkpoints,
            p2p,
            events,
            cosignatures,
            evidence,
            metrics,
            halted,
            pending: Vec::new(),
            heard: 0,
            fetched_to: 0,
            last_cosigned,
            last_clock_refusal: 0,
            searched: Vec::new(),
        }
    }

    /// Runs until `stop` turns true or the network task ends.
    pub(crate) async fn run(mut self, stop: watch::Receiver<bool>) {
        let mut tick = tokio::time::interval(self.settings.poll);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut stopped = std::pin::pin!(super::stopped(stop));
        loop {
            tokio::select! {
                () = &mut stopped => break,
                event = self.events.recv() => match event {
                    Some(event) => self.on_event(event).await,
                    None => break,
                },
                _ = tick.tick() => self.sync().await,
            }
        }
    }

    async fn on_event(&mut self, event: P2pEvent) {
        match event {
            P2pEvent::Connected(peer) => {
                tracing::info!(%peer, "connected");
                self.sync().await;
            }
            P2pEvent::Subscribed { .. } => {}
            P2pEvent::Gossip { from, message } => match message {
                GossipMessage::Checkpoint(note) => {
                    let checkpoint = match verify_checkpoint(
                        note.as_bytes(),
                        &self.settings.origin,
                        &self.settings.log_key,
                    ) {
                        Ok(c) => c,
                        Err(e) => {
                            self.metrics.p2p.invalid_received.inc();
                            tracing::warn!(peer = %from, error = %e, "gossiped checkpoint refused");
                            return;
                        }
                    };
                    self.check_conflict(note).await;
                    if checkpoint.size() > self.heard {
                        self.heard = checkpoint.size();
                    }
                    self.sync().await;
                }
                GossipMessage::Cosignature(text) => {
                    let cosignatures = self.cosignatures.clone();
                    match tokio::task::spawn_blocking(move || cosignatures.add(&text)).await {
                        Ok(Ok(_)) | Ok(Err(CosignError::Unknown(_))) => {}
                        Ok(Err(e)) => {
                            self.metrics.p2p.invalid_received.inc();
                            tracing::warn!(peer = %from, error = %e, "cosignature refused");
                        }
                        Err(e) => tracing::error!(error = %e, "cosignature task"),
                    }
                }
                GossipMessage::Evidence(evidence) => {
                    let store = self.evidence.clone();
                    match tokio::task::spawn_blocking(move || store.add(evidence)).await {
                        Ok(Ok(_)) => {}
                        Ok(Err(e)) => {
                            self.metrics.p2p.invalid_received.inc();
                            tracing::warn!(peer = %from, error = %e, "gossiped evidence refused");
                        }
                        Err(e) => tracing::error!(error = %e, "evidence task"),
                    }
                }
            },
        }
    }

    /// Keeps and gossips evidence if `note` (verified) conflicts with the stored checkpoint of
    /// its size.
    async fn check_conflict(&mut self, note: String) {
        let cosignatures = self.cosignatures.clone();
        let evidence = self.evidence.clone();
        let found = tokio::task::spawn_blocking(move || {
            let conflict = cosignatures.conflict(&note).map_err(|e| e.to_string())?;
            match conflict {
                Some(found) => evidence.add(found.clone()).map(|_| Some(found)),
                None => Ok(None),
            }
        })
        .await;
        match found {
            Ok(Ok(Some(evidence))) => self.report(evidence).await,
            Ok(Ok(None)) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "checking a gossiped checkpoint"),
            Err(e) => tracing::error!(error = %e, "evidence task"),
        }
    }

    /// Gossips evidence this witness found and keeps (cosigning has stopped with it).
    async fn report(&self, evidence: Evidence) {
        tracing::error!(
            kind = match &evidence {
                Evidence::SplitView { .. } => "split_view",
                Evidence::Fork { .. } => "fork",
            },
            "the log signed conflicting checkpoints: cosigning stopped, evidence gossiped"
        );
        let _ = self.p2p.publish(GossipMessage::Evidence(evidence)).await;
    }

    /// After `peer`'s leaves for the signed checkpoint `note` did not make its root on top of
    /// this store: fetches that checkpoint's whole tree from `peer` and, if it is the signed one
    /// and holds another leaf than this store at some index, keeps and gossips the fork. Each
    /// checkpoint is searched once.
    async fn search_fork(&mut self, peer: libp2p::PeerId, note: String) -> Result<(), SyncError> {
        if self.searched.contains(&note) {
            return Ok(());
        }
        if self.searched.len() >= MAX_SEARCHED {
            self.searched.remove(0);
        }
        self.searched.push(note.clone());
        let theirs = verify_checkpoint(
            note.as_bytes(),
            &self.settings.origin,
            &self.settings.log_key,
        )
        .map_err(|e| SyncError::Refused(e.to_string()))?;
        let Some(mine) = self.checkpoints.borrow().clone() else {
            return Ok(());
        };
        if theirs.size() > MAX_FORK_SEARCH {
            tracing::warn!(
                size = theirs.size(),
                "checkpoint too large to search for a fork"
            );
            return Ok(());
        }
        let mut hashes = Vec::new();
        while (hashes.len() as u64) < theirs.size() {
            let start = hashes.len() as u64;
            let end = (start + MAX_RANGE_LEAVES).min(theirs.size());
            let response = self
                .p2p
                .fetch(peer, LeafRangeRequest { start, end })
                .await?;
            if response.start != start || response.leaves.is_empty() {
                return Ok(());
            }
            self.metrics
                .p2p
                .leaves_fetched
                .inc_by(response.leaves.len() as u64);
            hashes.extend(response.leaves.iter().map(|l| Blake3.hash_leaf(l)));
        }
        let (store, evidence) = (self.store.clone(), self.evidence.clone());
        let found = tokio::task::spawn_blocking(move || {
            let found = fork_evidence(&store, (mine.size, &mine.note), &note, &hashes)?;
            match found {
                Some(found) => evidence.add(found.clone()).map(|new| new.then_some(found)),
                None => Ok(None),
            }
        })
        .await
        .map_err(|e| SyncError::Refused(format!("fork search task: {e}")))?
        .map_err(SyncError::Refused)?;
        if let Some(found) = found {
            self.report(found).await;
        }
        Ok(())
    }

    /// Fetches and stores what is new from the connected peers, one after the other until this
    /// store reaches the newest checkpoint heard of, then cosigns.
    async fn sync(&mut self) {
        if self.halted.reason().is_some() {
            return;
        }
        for peer in self.p2p.connected().await {
            match self.sync_from(peer).await {
                Ok(_) if self.store.tree_size() >= self.heard => break,
                Ok(_) => {}
                Err(e) => {
                    self.pending.clear();
                    tracing::warn!(%peer, error = %e, "sync");
                }
            }
            if self.halted.reason().is_some() {
                return;
            }
        }
        self.maybe_cosign().await;
    }

    /// Fetches from `peer` until it has nothing more; whether anything was stored. A task
    /// fetches and verifies ahead ([`fetch_ahead`]) while this one replays and commits, so the
    /// network, the signature checks and the replay overlap.
    async fn sync_from(&mut self, peer: libp2p::PeerId) -> Result<bool, SyncError> {
        let start = self.store.tree_size() + self.pending.len() as u64;
        let (tx, mut rx) = mpsc::channel(AHEAD);
        let ahead = tokio::spawn(fetch_ahead(
            self.p2p.clone(),
            peer,
            start,
            Arc::from(self.settings.origin.as_str()),
            self.metrics.clone(),
            tx,
        ));
        let result = self.replay(peer, &mut rx).await;
        // On an error the fetcher may still be waiting on the network: it has nothing to say.
        ahead.abort();
        result
    }

    /// Takes verified ranges from `rx` in order, cuts them into checkpoints, and hands runs of
    /// checkpoints to the follower, which commits each run at once. A run closes when it holds
    /// [`RUN_LEAVES`] leaves or when no further range is waiting: a witness that keeps up
    /// commits every checkpoint as it comes, one that is behind pays a commit per run.
    async fn replay(
        &mut self,
        peer: libp2p::PeerId,
        rx: &mut mpsc::Receiver<Result<Fetched, SyncError>>,
    ) -> Result<bool, SyncError> {
        let mut progress = false;
        let mut run = Vec::new();
        let mut run_leaves = 0;
        while let Some(fetched) = rx.recv().await {
            let Fetched {
                start,
                leaves,
                checkpoints,
                tree_size,
            } = fetched?;
            let count = leaves.len() as u64;
            self.metrics.p2p.leaves_fetched.inc_by(count);
            let again = self.fetched_to.min(start + count).saturating_sub(start);
            self.metrics.p2p.leaves_refetched.inc_by(again);
            self.fetched_to = self.fetched_to.max(start + count);
            self.heard = self.heard.max(tree_size);
            self.pending.extend(leaves);
            if self.pending.len() > MAX_PENDING {
                return Err(SyncError::Refused(format!(
                    "{} leaves fetched without a checkpoint",
                    self.pending.len()
                )));
            }
            for checkpoint in checkpoints {
                let have = self.store.tree_size() + run_leaves as u64;
                let take =
                    usize::try_from(checkpoint.size.saturating_sub(have)).unwrap_or(usize::MAX);
                if take == 0 || take > self.pending.len() {
                    return Err(SyncError::Refused(format!(
                        "checkpoint of size {} does not end inside the fetched leaves",
                        checkpoint.size
                    )));
                }
                let segment: Vec<_> = self.pending.drain(..take).collect();
                run_leaves += take;
                run.push((segment, checkpoint.note));
            }
            if run_leaves >= RUN_LEAVES || (rx.is_empty() && !run.is_empty()) {
                progress |= self.follow_run(peer, std::mem::take(&mut run)).await?;
                run_leaves = 0;
            }
        }
        if !run.is_empty() {
            progress |= self.follow_run(peer, run).await?;
        }
        Ok(progress)
    }

    /// Hands one run of checkpoints to the follower; whether any was stored. A checkpoint it
    /// refuses ends the sync (after the ones before it are stored): a broken rule halts the
    /// witness, and leaves that do not make the signed root start the search for a fork.
    async fn follow_run(&mut self, peer: libp2p::PeerId, run: Segments) -> Result<bool, SyncError> {
        let notes: Vec<String> = run.iter().map(|(_, note)| note.clone()).collect();
        let before = self.store.tree_size();
        let followed = match self.follower.follow(run).await {
            Ok(followed) => followed,
            Err(e) => {
                if e.is_fatal() {
                    self.halted.set(e.to_string(), &self.metrics);
                }
                return Err(SyncError::Refused(e.to_string()));
            }
        };
        if let Some(last) = followed.stored.last() {
            self.metrics
                .p2p
                .leaves_verified
                .inc_by(last.size.saturating_sub(before));
            self.note_lag(last);
        }
        let progress = !followed.stored.is_empty();
        if let Some(e) = followed.refused {
            if matches!(e, FollowError::Root { .. })
                && let Some(note) = notes.get(followed.stored.len())
            {
                self.search_fork(peer, note.clone()).await?;
            }
            return Err(SyncError::Refused(e.to_string()));
        }
        Ok(progress)
    }

    fn note_lag(&self, info: &CheckpointInfo) {
        let behind = self.heard.saturating_sub(info.size);
        self.metrics
            .p2p
            .lag_entries
            .set(i64::try_from(behind).unwrap_or(i64::MAX));
        if let Ok(Some(bytes)) = self.store.leaf(info.size - 1)
            && let Ok(leaf) = Leaf::from_bytes(&bytes)
        {
            let lag = now_ms().saturating_sub(leaf.sequenced_at);
            self.metrics
                .p2p
                .lag_ms
                .set(i64::try_from(lag).unwrap_or(i64::MAX));
        }
    }

    /// Cosigns the latest stored checkpoint if it is new, fresh under the clock rule and no
    /// evidence is held; the cosignature is committed before it is gossiped.
    async fn maybe_cosign(&mut self) {
        if self.halted.reason().is_some() || self.evidence.any() {
            return;
        }
        let Some(latest) = self.checkpoints.borrow().clone() else {
            return;
        };
        if latest.size <= self.last_cosigned {
            return;
        }
        let last_leaf = match self.store.leaf(latest.size - 1) {
            Ok(Some(bytes)) => Leaf::from_bytes(&bytes).map(|l| l.sequenced_at).ok(),
            _ => None,
        };
        let Some(at) = last_leaf else { return };
        let now = now_ms().saturating_add_signed(self.settings.clock_offset_ms);
        if !within_clock_rule(at, now) {
            if latest.size > self.last_clock_refusal {
                self.last_clock_refusal = latest.size;
                self.metrics.p2p.clock_refusals.inc();
                tracing::warn!(
                    size = latest.size,
                    last_leaf_ms = at,
                    now_ms = now,
                    "not cosigning: the checkpoint's last leaf is more than 5 minutes from this clock"
                );
            }
            return;
        }
        let Ok(mut note) = SignedNote::parse(latest.note.as_bytes()) else {
            return;
        };
        let Ok(checkpoint) = Checkpoint::parse_body(note.body()) else {
            return;
        };
        let cosignature = match cosign(
            &checkpoint,
            &self.settings.name,
            &self.settings.key,
            now / 1000,
        ) {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "cannot cosign");
                return;
            }
        };
        if note
            .push_signature(cosignature.to_note_signature())
            .is_err()
        {
            return;
        }
        let text = note.to_text();
        let cosignatures = self.cosignatures.clone();
        let stored = {
            let text = text.clone();
            tokio::task::spawn_blocking(move || cosignatures.add(&text)).await
        };
        match stored {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                tracing::error!(error = %e, "storing own cosignature");
                return;
            }
            Err(e) => {
                tracing::error!(error = %e, "cosignature task");
                return;
            }
        }
        // On disk: now it may leave the process.
        self.last_cosigned = latest.size;
        self.metrics.p2p.cosigned.inc();
        tracing::info!(size = latest.size, "cosigned");
        let _ = self.p2p.publish(GossipMessage::Cosignature(text)).await;
    }
}

/// Ranges fetched and verified ahead of the replay.
const AHEAD: usize = 8;

/// One range from a peer, every leaf parsed and its signature verified.
struct Fetched {
    start: u64,
    leaves: Vec<(Leaf, Vec<u8>)>,
    checkpoints: Vec<testigo_ledger::replication::RangeCheckpoint>,
    tree_size: u64,
}

/// Fetches ranges from `peer` from `start` on until it has no more, one request ahead of the
/// signature checks, and sends each range verified (through the node's one verification pool:
/// [`verify_parallel`], batches of [`testigo_ledger::entry::verify_leaves`] on every core) to
/// the replay. Stops at the first error, which it sends, or when the replay stops listening.
async fn fetch_ahead(
    p2p: P2pHandle,
    peer: libp2p::PeerId,
    mut start: u64,
    origin: Arc<str>,
    metrics: Arc<Metrics>,
    tx: mpsc::Sender<Result<Fetched, SyncError>>,
) {
    let request = |start: u64| {
        let p2p = p2p.clone();
        tokio::spawn(async move {
            p2p.fetch(
                peer,
                LeafRangeRequest {
                    start,
                    end: start + MAX_RANGE_LEAVES,
                },
            )
            .await
        })
    };
    let mut next = request(start);
    let mut rate = Rate::new(start);
    loop {
        let fetched = match next.await {
            Ok(Ok(response)) => verified(start, response, &origin, &metrics).await,
            Ok(Err(e)) => Err(SyncError::P2p(e)),
            Err(e) => Err(SyncError::Refused(format!("fetch task: {e}"))),
        };
        let Ok(fetched) = fetched else {
            let _ = tx.send(fetched).await;
            return;
        };
        let end = start + fetched.leaves.len() as u64;
        let done = end == start || end >= fetched.tree_size;
        // Asked before this range is handed on: the peer reads while the replay works.
        let following = (!done).then(|| request(end));
        rate.record(end, fetched.tree_size, &metrics);
        if tx.send(Ok(fetched)).await.is_err() {
            return;
        }
        match following {
            Some(following) => next = following,
            None => return,
        }
        start = end;
    }
}

/// Checks a response starts where it was asked, parses its leaves and verifies their signatures.
async fn verified(
    start: u64,
    response: testigo_ledger::replication::LeafRangeResponse,
    origin: &Arc<str>,
    metrics: &Arc<Metrics>,
) -> Result<Fetched, SyncError> {
    if response.start != start {
        return Err(SyncError::Refused(format!(
            "asked for leaves from {start}, got them from {}",
            response.start
        )));
    }
    let mut leaves = Vec::with_capacity(response.leaves.len());
    for (index, bytes) in (start..).zip(&response.leaves) {
        let leaf = Leaf::from_bytes(bytes)
            .map_err(|e| SyncError::Refused(format!("leaf {index}: {e}")))?;
        leaves.push(leaf);
    }
    let leaves = Arc::new(leaves);
    let verdicts = verify_parallel(origin.clone(), leaves.clone(), metrics.clone())
        .await
        .map_err(|e| SyncError::Refused(format!("verification task: {e}")))?;
    if let Some((i, Err(e))) = verdicts.iter().enumerate().find(|(_, v)| v.is_err()) {
        return Err(SyncError::Refused(format!(
            "leaf {}: signature {e}",
            start + i as u64
        )));
    }
    let leaves = Arc::try_unwrap(leaves).unwrap_or_else(|shared| shared.as_ref().clone());
    Ok(Fetched {
        start,
        leaves: leaves.into_iter().zip(response.leaves).collect(),
        checkpoints: response.checkpoints,
        tree_size: response.tree_size,
    })
}

/// The catch-up rate, logged and exported every few seconds while a witness is behind.
struct Rate {
    since: Instant,
    from: u64,
}

/// How often the catch-up rate is logged.
const RATE_EVERY: Duration = Duration::from_secs(5);

impl Rate {
    fn new(from: u64) -> Self {
        Self {
            since: Instant::now(),
            from,
        }
    }

    fn record(&mut self, at: u64, head: u64, metrics: &Metrics) {
        let elapsed = self.since.elapsed();
        if at == self.from || (elapsed < RATE_EVERY && at < head) {
            return;
        }
        let rate = (at - self.from) as f64 / elapsed.as_secs_f64().max(1e-3);
        metrics.p2p.catch_up_rate.set(rate as i64);
        let behind = head.saturating_sub(at);
        tracing::info!(
            fetched_to = at,
            head,
            behind,
            lag_seconds = metrics.p2p.lag_ms.get() / 1000,
            rate_per_second = rate as u64,
            eta_seconds = (behind as f64 / rate.max(1.0)) as u64,
            "catching up"
        );
        *self = Self::new(at);
    }
}

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
use testigo_ledger::checkpoint::{Checkpoint, SignedNote, cosign, verify_checkpoint};
use testigo_ledger::entry::Leaf;
use testigo_ledger::replication::{
    GossipMessage, LeafRangeRequest, MAX_RANGE_LEAVES, within_clock_rule,
};
use tokio::sync::{mpsc, watch};

use super::{CosignError, Cosignatures, EvidenceStore};
use crate::metrics::Metrics;
use crate::p2p::{P2pEvent, P2pHandle};
use crate::sequencer::verify::verify_parallel;
use crate::sequencer::{CheckpointInfo, FollowerHandle};
use crate::storage::Store;

/// Fetched leaves held while their checkpoint has not arrived: more means the peer is not
/// sending checkpoints, and the buffer is dropped.
const MAX_PENDING: usize = 1 << 17;

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
    pending: Vec<(Leaf, Vec<u8>)>,
    heard: u64,
    last_cosigned: u64,
    last_clock_refusal: u64,
    broken: bool,
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
    ) -> Self {
        let last_cosigned = checkpoints.borrow().as_ref().map_or(0, |latest| {
            let own = store
                .cosignatures(latest.size)
                .unwrap_or_default()
                .iter()
                .any(|(name, _)| *name == settings.name);
            if own { latest.size } else { 0 }
        });
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
            pending: Vec::new(),
            heard: 0,
            last_cosigned,
            last_clock_refusal: 0,
            broken: false,
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
            Ok(Ok(Some(evidence))) => {
                tracing::error!("the log signed two checkpoints of one size: cosigning stopped");
                let _ = self.p2p.publish(GossipMessage::Evidence(evidence)).await;
            }
            Ok(Ok(None)) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "checking a gossiped checkpoint"),
            Err(e) => tracing::error!(error = %e, "evidence task"),
        }
    }

    /// Fetches and stores what is new from the first connected peer that has it, then cosigns.
    async fn sync(&mut self) {
        if self.broken {
            return;
        }
        for peer in self.p2p.connected().await {
            match self.sync_from(peer).await {
                Ok(true) => break,
                Ok(false) => {}
                Err(e) => {
                    self.pending.clear();
                    tracing::warn!(%peer, error = %e, "sync");
                }
            }
        }
        self.maybe_cosign().await;
    }

    /// Fetches from `peer` until it has nothing more; whether anything was stored.
    async fn sync_from(&mut self, peer: libp2p::PeerId) -> Result<bool, SyncError> {
        let mut progress = false;
        loop {
            let stored = self.store.tree_size();
            let start = stored + self.pending.len() as u64;
            let started = Instant::now();
            let response = self
                .p2p
                .fetch(
                    peer,
                    LeafRangeRequest {
                        start,
                        end: start + MAX_RANGE_LEAVES,
                    },
                )
                .await?;
            if response.start != start {
                return Err(SyncError::Refused(format!(
                    "asked for leaves from {start}, got them from {}",
                    response.start
                )));
            }
            let fetched = response.leaves.len() as u64;
            self.metrics.p2p.leaves_fetched.inc_by(fetched);
            self.heard = self.heard.max(response.tree_size);
            self.metrics
                .p2p
                .lag_entries
                .set(i64::try_from(self.heard.saturating_sub(stored)).unwrap_or(i64::MAX));
            if fetched == 0 {
                return Ok(progress);
            }
            let mut leaves = Vec::with_capacity(response.leaves.len());
            for (index, bytes) in (start..).zip(&response.leaves) {
                let leaf = Leaf::from_bytes(bytes)
                    .map_err(|e| SyncError::Refused(format!("leaf {index}: {e}")))?;
                leaves.push(leaf);
            }
            let leaves = Arc::new(leaves);
            let verdicts = verify_parallel(
                Arc::from(self.settings.origin.as_str()),
                leaves.clone(),
                self.metrics.clone(),
            )
            .await
            .map_err(|e| SyncError::Refused(format!("verification task: {e}")))?;
            if let Some((i, Err(e))) = verdicts.iter().enumerate().find(|(_, v)| v.is_err()) {
                return Err(SyncError::Refused(format!(
                    "leaf {}: signature {e}",
                    start + i as u64
                )));
            }
            let leaves = Arc::try_unwrap(leaves).unwrap_or_else(|shared| shared.as_ref().clone());
            self.pending.extend(leaves.into_iter().zip(response.leaves));
            if self.pending.len() > MAX_PENDING {
                return Err(SyncError::Refused(format!(
                    "{} leaves fetched without a checkpoint",
                    self.pending.len()
                )));
            }
            for checkpoint in response.checkpoints {
                let have = self.store.tree_size();
                let take =
                    usize::try_from(checkpoint.size.saturating_sub(have)).unwrap_or(usize::MAX);
                if take == 0 || take > self.pending.len() {
                    return Err(SyncError::Refused(format!(
                        "checkpoint of size {} does not end inside the fetched leaves",
                        checkpoint.size
                    )));
                }
                let segment: Vec<_> = self.pending.drain(..take).collect();
                match self.follower.follow(segment, checkpoint.note).await {
                    Ok(info) => {
                        progress = true;
                        self.metrics.p2p.leaves_verified.inc_by(take as u64);
                        self.note_lag(&info);
                    }
                    Err(e) => {
                        if e.is_fatal() {
                            self.broken = true;
                            tracing::error!(error = %e, "the log does not verify: witness stopped");
                        }
                        return Err(SyncError::Refused(e.to_string()));
                    }
                }
            }
            let rate = fetched as f64 / started.elapsed().as_secs_f64().max(1e-6);
            tracing::debug!(start, fetched, rate, heard = self.heard, "fetched");
            if start + fetched >= response.tree_size {
                return Ok(progress);
            }
        }
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
        if self.broken || self.evidence.any() {
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

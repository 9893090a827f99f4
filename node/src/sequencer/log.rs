//! The production [`Backend`]: the ledger's `Engine` (state + state map) over the node's
//! [`Store`], the Merkle tree through the store's tiles, and checkpoints signed by the log key.
//!
//! # What is written when
//!
//! A group of submissions is applied (`apply_preverified`: signatures were checked before the
//! sequencer) and its accepted leaves are committed with their tree hashes and nothing else, in
//! one durable commit: that is all an acknowledgement needs, and the smaller the commit, the more
//! entries per second one fsync carries.
//!
//! Everything else is derived from the leaves and waits for the checkpoint, where it goes into
//! the same atomic commit as the `StateRoot` leaf and the signed note: the per-account and
//! (signer, nonce) index entries of every leaf since the previous checkpoint (kept meanwhile in
//! [`Tail`]), and the state snapshot as of the `StateRoot` ([`State::changes`]: the changed
//! account records, consents and claims, and the header). The state map is paged over those
//! records ([`SparseMap::paged`], `resident::MAP_BUCKET_BITS`): its top levels and a hash per
//! bucket are in memory, the records of a bucket are one range of the records table, and the
//! records are saved with the map version they are as of. It is rebuilt from the saved records
//! at start, and the `StateRoot` leaf then re-checks it (`node::load`). Writing a jmt's nodes and
//! pruning them at every checkpoint was measured as two thirds of the sequencer's time, which is
//! why no tree node is stored.
//!
//! A crash between checkpoints loses nothing acknowledged: the leaves are on disk, and on start
//! the node applies them again from the last snapshot, which also rebuilds their index entries.
//!
//! A `NonceReused` rejection is looked up among the tail's nonces, then in the stored
//! (signer, nonce) index: the identical entry gets its original receipt, anything else stays
//! refused.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use ed25519_dalek::SigningKey;
use testigo_ledger::api::ErrorCode;
use testigo_ledger::checkpoint::{Checkpoint, CheckpointError, sign_checkpoint};
use testigo_ledger::entry::{BodyKind, Leaf};
use testigo_ledger::map::{SparseMap, StateMap as _};
use testigo_ledger::state::{Effects, Engine, EngineError, Rejection, State, is_same_entry};
use testigo_ledger::{Blake3, PublicKey, TreeHasher as _};

use super::resident;
use super::{Backend, BackendError, CheckpointInfo, Receipt, Refusal, Segments};
use crate::metrics::Metrics;
use crate::storage::{StorageError, Store, WriteBatch};

/// State-map versions kept behind the newest. Readers hold the version they prove against
/// through their checkpoint's [`testigo_ledger::map::MapSnapshot`], so the map itself needs
/// only the newest (the next version is built on it) and one more for a `StateRoot` retried at
/// the same index.
const KEEP_MAP_VERSIONS: u64 = 2;

/// The derived data of the leaves sequenced since the last checkpoint, written with the next.
#[derive(Debug, Default)]
pub(crate) struct Tail {
    /// Per account, the leaves since the last checkpoint that involve it, in order.
    account_leaves: BTreeMap<PublicKey, Vec<u64>>,
    /// (signer, nonce) → leaf index.
    nonces: HashMap<(PublicKey, u64), u64>,
}

impl Tail {
    /// Records what an applied leaf (signed by `signer`) adds to the indexes.
    pub(crate) fn add(&mut self, signer: PublicKey, effects: &Effects) {
        for account in &effects.involved {
            self.account_leaves
                .entry(*account)
                .or_default()
                .push(effects.index);
        }
        if let Some(nonce) = effects.nonce {
            self.nonces.insert((signer, nonce), effects.index);
        }
    }

    /// Appends another tail's entries, which come after this one's.
    fn extend(&mut self, later: Tail) {
        for (account, mut indexes) in later.account_leaves {
            self.account_leaves
                .entry(account)
                .or_default()
                .append(&mut indexes);
        }
        self.nonces.extend(later.nonces);
    }

    /// Whether no index entries are held.
    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.account_leaves.is_empty() && self.nonces.is_empty()
    }

    /// Moves the entries into `batch`. `state` includes every leaf of the tail: an account's
    /// tail leaves are the last entries of its history, which numbers them.
    fn write_into(&mut self, state: &State, batch: &mut WriteBatch) {
        for (account, indexes) in std::mem::take(&mut self.account_leaves) {
            let len = state.account(&account).map_or(0, |r| r.history_len);
            let first = len.saturating_sub(indexes.len() as u64);
            batch.index_account(account, first, indexes);
        }
        // The batch sorts them into one chunk per signer.
        for ((signer, nonce), index) in self.nonces.drain() {
            batch.index_nonce(signer, nonce, index);
        }
    }
}

/// The ledger engine over the store.
pub(crate) struct LogBackend {
    engine: Engine<SparseMap>,
    tail: Tail,
    store: Arc<Store>,
    /// The log key, on the operator; a witness has none and only [`LogBackend::follow`]s.
    key: Option<SigningKey>,
    origin: String,
    metrics: Arc<Metrics>,
    /// How much clean state stays in memory after each checkpoint ([`resident`]).
    residency: testigo_ledger::state::Residency,
}

impl std::fmt::Debug for LogBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogBackend")
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

fn fatal(e: impl std::error::Error + Send + Sync + 'static) -> BackendError {
    BackendError::caused_by(e)
}

/// A state-machine rejection as an API refusal, with the rejection's fields as details.
pub(crate) fn refusal(rejection: &Rejection) -> Refusal {
    Refusal::new(
        ErrorCode::from(rejection),
        rejection.to_string(),
        serde_json::to_value(rejection).unwrap_or_default(),
    )
}

impl LogBackend {
    /// A backend continuing from an engine whose state and map are those of the stored log (as
    /// `node::load` rebuilds them), with `tail` the index entries of the leaves after the latest
    /// checkpoint. Time per phase goes to `metrics`.
    pub(crate) fn new(
        engine: Engine<SparseMap>,
        tail: Tail,
        store: Arc<Store>,
        key: Option<SigningKey>,
        origin: String,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            engine,
            tail,
            store,
            key,
            origin,
            metrics,
            residency: resident::residency(),
        }
    }

    /// Keeps at most `residency` clean entries of each kind in memory after each checkpoint.
    #[cfg(test)]
    pub(crate) fn set_residency(&mut self, residency: testigo_ledger::state::Residency) {
        self.residency = residency;
    }

    /// The original receipt if `leaf` is an identical resubmission.
    fn original(
        &self,
        leaf: &Leaf,
        nonce: u64,
        pending: &HashMap<(PublicKey, u64), (Leaf, Receipt)>,
    ) -> Result<Option<Receipt>, StorageError> {
        if let Some((original, receipt)) = pending.get(&(leaf.signer, nonce)) {
            return Ok(is_same_entry(original, leaf).then(|| Receipt {
                duplicate: true,
                ..receipt.clone()
            }));
        }
        let index = match self.tail.nonces.get(&(leaf.signer, nonce)) {
            Some(index) => *index,
            None => match self.store.leaf_by_nonce(&leaf.signer, nonce)? {
                Some(index) => index,
                None => return Ok(None),
            },
        };
        let Some(bytes) = self.store.leaf(index)? else {
            return Ok(None);
        };
        let Ok(original) = Leaf::from_bytes(&bytes) else {
            return Ok(None);
        };
        if !is_same_entry(&original, leaf) {
            return Ok(None);
        }
        let kind = original
            .decode_body()
            .map_or(BodyKind::StateRoot, |b| b.kind());
        Ok(Some(Receipt {
            index,
            sequenced_at: original.sequenced_at,
            leaf_hash: Blake3.hash_leaf(&bytes),
            kind,
            duplicate: true,
        }))
    }

    /// The state snapshot as of now (the coming `StateRoot`): what changed since the last one.
    fn save_changes(&self, batch: &mut WriteBatch) {
        let changes = self.engine.state().changes();
        for (key, record) in changes.accounts {
            batch.put_record(key, record.to_bytes());
        }
        for (index, consent) in changes.consents {
            batch.put_consent(index, consent.to_bytes());
            for at in self.engine.state().grant_positions(index) {
                batch.put_grant_position(at, index);
            }
        }
        for (index, claim) in changes.claims {
            batch.put_claim(index, claim.to_bytes());
        }
        if let Some(header) = changes.header {
            batch.set_state_header(header.to_bytes());
        }
    }
}

/// Why a witness did not take a checkpoint's leaves.
#[derive(Debug, thiserror::Error)]
pub enum FollowError {
    /// The note is not a checkpoint signed by the log key. Nothing changed.
    #[error("checkpoint note: {0}")]
    Note(#[from] CheckpointError),
    /// The checkpoint does not end where the stored tree plus the given leaves end.
    #[error("checkpoint of size {size} does not follow the stored {have} leaves plus {given}")]
    Gap {
        /// The checkpoint's size.
        size: u64,
        /// Leaves stored.
        have: u64,
        /// Leaves given.
        given: u64,
    },
    /// A leaf is malformed, or a `StateRoot` is missing or misplaced. Nothing changed.
    #[error("leaf {index}: {reason}")]
    Leaf {
        /// Its index.
        index: u64,
        /// What is wrong.
        reason: String,
    },
    /// The leaves do not make the root the log signed. Nothing changed.
    #[error("the leaves up to {size} make root {found}, the signed checkpoint says {expected}")]
    Root {
        /// The checkpoint's size.
        size: u64,
        /// The signed root.
        expected: testigo_ledger::Hash,
        /// The recomputed root.
        found: testigo_ledger::Hash,
    },
    /// A leaf breaks a rule (or a `StateRoot` commits another state): the log is invalid from
    /// here on. The in-memory state is ahead of the disk; the follower stops.
    #[error("leaf {index} breaks the rules: {reason}")]
    Rule {
        /// Its index.
        index: u64,
        /// The rejection.
        reason: String,
    },
    /// The store failed.
    #[error(transparent)]
    Backend(#[from] BackendError),
}

impl FollowError {
    /// Whether the backend must stop (its state may be ahead of the disk).
    pub fn is_fatal(&self) -> bool {
        matches!(self, FollowError::Rule { .. } | FollowError::Backend(_))
    }
}

impl LogBackend {
    /// A witness's write path for one checkpoint: [`LogBackend::follow_many`] of one.
    ///
    /// # Errors
    /// [`FollowError`]; only [`FollowError::is_fatal`] ones leave the backend unusable.
    pub(crate) fn follow(
        &mut self,
        leaves: Vec<(Leaf, Vec<u8>)>,
        note: &str,
        log_key: &PublicKey,
    ) -> Result<CheckpointInfo, FollowError> {
        let mut followed = self.follow_many(vec![(leaves, note.to_owned())], log_key)?;
        match (followed.refused, followed.stored.pop()) {
            (Some(refused), _) => Err(refused),
            (None, Some(info)) => Ok(info),
            (None, None) => {
                Err(BackendError::invariant("a followed checkpoint was not stored").into())
            }
        }
    }

    /// A witness's write path: takes a run of consecutive checkpoints of the operator's log,
    /// each with its leaves (everything from the end of the one before, the last leaf its
    /// `StateRoot`, signatures already verified by the caller) and its signed note, and stores
    /// them the way [`Backend::checkpoint`] stores the operator's own — leaves, tree hashes,
    /// index entries, the state snapshot as of the last `StateRoot`, and every note — in one
    /// atomic, durable commit. A witness catching up hands over many checkpoints at once, so
    /// what a commit costs per account it touches is paid once per run, not once per checkpoint.
    ///
    /// Each checkpoint is checked before anything of it is applied: the note must verify under
    /// `log_key`, end where its leaves end, close with its only `StateRoot` and carry the root
    /// its leaves make. The first that fails ends the run: the ones before it are stored and it
    /// is returned in [`Followed::refused`]. Then every leaf is applied with the ledger's
    /// `Engine` (every rule, and each `StateRoot`'s map root against the replayed state).
    ///
    /// # Errors
    /// Only the fatal [`FollowError`]s (a rule broken, the store failing): nothing of the run is
    /// stored and the backend is unusable.
    pub(crate) fn follow_many(
        &mut self,
        segments: Segments,
        log_key: &PublicKey,
    ) -> Result<Followed, FollowError> {
        let mut batch = self.store.batch();
        let mut closed = Vec::with_capacity(segments.len());
        let mut refused = None;
        let applying = Instant::now();
        for (leaves, note) in segments {
            let (checkpoint, integration) =
                match self.check_segment(&batch, &leaves, &note, log_key) {
                    Ok(checked) => checked,
                    Err(e) => {
                        refused = Some(e);
                        break;
                    }
                };
            let have = batch.new_size();
            let (leaves, raw): (Vec<Leaf>, Vec<Vec<u8>>) = leaves.into_iter().unzip();
            batch.push_integrated(raw, &integration);
            let count = leaves.len();
            for (i, leaf) in leaves.into_iter().enumerate() {
                let index = have + i as u64;
                if i + 1 == count {
                    // The snapshot is as of the StateRoot, as the operator saves it.
                    self.save_changes(&mut batch);
                }
                resident::make_resident(&mut self.engine, &self.store, &leaf)
                    .map_err(|e| FollowError::Backend(fatal(e)))?;
                let effects = self
                    .engine
                    .apply_preverified(&leaf, leaf.sequenced_at)
                    .map_err(|e| FollowError::Rule {
                        index,
                        reason: e.to_string(),
                    })?;
                self.tail.add(leaf.signer, &effects);
            }
            let map = self
                .engine
                .map()
                .latest_snapshot()
                .ok_or_else(|| BackendError::invariant("no map version after a StateRoot"))?;
            closed.push((checkpoint.size(), integration.root, note, map));
        }
        self.metrics
            .observe_phase("follow_apply", applying.elapsed());
        if closed.is_empty() {
            return Ok(Followed {
                stored: Vec::new(),
                refused,
            });
        }
        self.tail.write_into(self.engine.state(), &mut batch);
        let stored = self.commit_checkpoints(batch, closed)?;
        Ok(Followed { stored, refused })
    }

    /// The checks [`LogBackend::follow_many`] makes on one checkpoint before applying any of it,
    /// over the stored tree plus what `batch` holds: the note, where it ends, where its
    /// `StateRoot` is, and the root its leaves make. Changes nothing.
    fn check_segment(
        &self,
        batch: &WriteBatch,
        leaves: &[(Leaf, Vec<u8>)],
        note: &str,
        log_key: &PublicKey,
    ) -> Result<(Checkpoint, testigo_ledger::merkle::Integration), FollowError> {
        let checkpoint =
            testigo_ledger::checkpoint::verify_checkpoint(note.as_bytes(), &self.origin, log_key)?;
        let have = batch.new_size();
        let given = leaves.len() as u64;
        if given == 0 || have + given != checkpoint.size() {
            return Err(FollowError::Gap {
                size: checkpoint.size(),
                have,
                given,
            });
        }
        for (i, (leaf, _)) in leaves.iter().enumerate() {
            let index = have + i as u64;
            let is_root = matches!(
                leaf.decode_body(),
                Ok(testigo_ledger::entry::Body::StateRoot(_))
            );
            if is_root != (i + 1 == leaves.len()) {
                return Err(FollowError::Leaf {
                    index,
                    reason: if is_root {
                        "a StateRoot that ends no checkpoint".into()
                    } else {
                        "the checkpoint's last leaf is not a StateRoot".into()
                    },
                });
            }
        }
        let hashes: Vec<_> = leaves
            .iter()
            .map(|(_, bytes)| Blake3.hash_leaf(bytes))
            .collect();
        let integration = self
            .store
            .integrate_leaves(batch, &Blake3, &hashes)
            .map_err(fatal)?;
        if integration.root != *checkpoint.root() {
            return Err(FollowError::Root {
                size: checkpoint.size(),
                expected: *checkpoint.root(),
                found: integration.root,
            });
        }
        Ok((checkpoint, integration))
    }

    /// Stores the checkpoint `note` with `batch` in one durable commit, then lets go of old map
    /// versions: the end of both write paths, the operator's and a witness's.
    fn commit_checkpoint(
        &mut self,
        batch: WriteBatch,
        size: u64,
        root: testigo_ledger::Hash,
        note: String,
        map: testigo_ledger::map::MapSnapshot,
    ) -> Result<CheckpointInfo, BackendError> {
        self.commit_checkpoints(batch, vec![(size, root, note, map)])?
            .pop()
            .ok_or_else(|| BackendError::invariant("a committed checkpoint went missing"))
    }

    /// Stores the checkpoints `closed` (size, root, note and map version each, in order) with
    /// `batch` in one durable commit, then lets go of map versions older than the last one's.
    fn commit_checkpoints(
        &mut self,
        mut batch: WriteBatch,
        closed: Vec<(
            u64,
            testigo_ledger::Hash,
            String,
            testigo_ledger::map::MapSnapshot,
        )>,
    ) -> Result<Vec<CheckpointInfo>, BackendError> {
        for (size, _, note, _) in &closed {
            batch.set_checkpoint(*size, note.clone());
        }
        // The records saved with the last `StateRoot` are its map version: what the paged state
        // map reads its buckets as.
        if let Some((_, _, _, map)) = closed.last() {
            batch.set_records_version(map.version());
        }
        let committing = Instant::now();
        self.store.commit(batch).map_err(fatal)?;
        self.metrics
            .observe_phase("checkpoint_commit", committing.elapsed());
        if let Some((_, _, _, map)) = closed.last()
            && let Some(oldest) = map.version().checked_sub(KEEP_MAP_VERSIONS)
        {
            // Dropping old roots frees what only they used (unless a reader still holds it).
            self.engine.map_mut().prune(oldest).map_err(fatal)?;
        }
        // Every StateRoot applied is saved now: what is clean is what the store and map hold.
        let evicting = Instant::now();
        self.engine.evict(self.residency);
        self.metrics.observe_phase("evict", evicting.elapsed());
        Ok(closed
            .into_iter()
            .map(|(size, root, note, map)| CheckpointInfo {
                size,
                root,
                note,
                map,
                state_root: OnceLock::new(),
            })
            .collect())
    }
}

/// What [`LogBackend::follow_many`] did with a run of checkpoints (and the follower task,
/// which shares them as `Followed<Arc<CheckpointInfo>>`).
#[derive(Debug)]
pub(crate) struct Followed<I = CheckpointInfo> {
    /// The checkpoints stored, in order (all of the run, or those before `refused`).
    pub(crate) stored: Vec<I>,
    /// Why the checkpoint after the stored ones was not taken (nothing of it changed).
    pub(crate) refused: Option<FollowError>,
}

impl Backend for LogBackend {
    fn append(
        &mut self,
        leaves: Vec<Leaf>,
        at: u64,
    ) -> Result<Vec<Result<Receipt, Refusal>>, BackendError> {
        let applying = Instant::now();
        let mut batch = self.store.batch();
        let mut results = Vec::with_capacity(leaves.len());
        let mut accepted: Vec<Vec<u8>> = Vec::new();
        let mut pending: HashMap<(PublicKey, u64), (Leaf, Receipt)> = HashMap::new();
        let mut tail = Tail::default();
        // Accounts whose record the batch may change, with the last leaf that touched each.
        let mut changed: HashMap<PublicKey, u64> = HashMap::new();
        for leaf in leaves {
            let stamped = leaf.sequenced(at);
            resident::make_resident(&mut self.engine, &self.store, &stamped).map_err(fatal)?;
            match self.engine.apply_preverified(&stamped, at) {
                Ok(effects) => {
                    let receipt = Receipt {
                        index: effects.index,
                        sequenced_at: at,
                        leaf_hash: effects.leaf_hash,
                        kind: effects.kind,
                        duplicate: false,
                    };
                    tail.add(stamped.signer, &effects);
                    changed.insert(stamped.signer, effects.index);
                    for account in &effects.involved {
                        changed.insert(*account, effects.index);
                    }
                    accepted.push(stamped.to_bytes());
                    if let Some(nonce) = effects.nonce {
                        pending.insert((stamped.signer, nonce), (stamped, receipt.clone()));
                    }
                    results.push(Ok(receipt));
                }
                Err(EngineError::Rejected(rejection)) => {
                    let duplicate = match rejection {
                        Rejection::NonceReused { nonce, .. } => {
                            self.original(&stamped, nonce, &pending).map_err(fatal)?
                        }
                        _ => None,
                    };
                    results.push(duplicate.ok_or_else(|| refusal(&rejection)));
                }
                Err(EngineError::Map(e)) => return Err(fatal(e)),
                Err(EngineError::NotResident(needs)) => {
                    return Err(BackendError::invariant(format!(
                        "a leaf was applied before its state was loaded: {needs}"
                    )));
                }
            }
        }
        if accepted.is_empty() {
            return Ok(results);
        }
        self.metrics.observe_phase("apply", applying.elapsed());
        let hashing = Instant::now();
        self.store
            .append_leaves(&mut batch, &Blake3, accepted)
            .map_err(fatal)?;
        self.metrics.observe_phase("tree", hashing.elapsed());
        let committing = Instant::now();
        self.store.commit(batch).map_err(fatal)?;
        self.metrics.observe_phase("commit", committing.elapsed());
        // Only once the leaves are durable: a failed commit leaves the backend unusable anyway
        // (the state is ahead of the disk), but its index entries must never be written.
        let state = self.engine.state();
        self.store
            .note_live_nonces(changed.into_iter().filter_map(|(account, index)| {
                let record = state.account(&account)?;
                Some((
                    account,
                    record.last_nonce.map_or(0, |n| n.saturating_add(1)),
                    index,
                ))
            }));
        self.tail.extend(tail);
        Ok(results)
    }

    fn checkpoint(&mut self, at: u64) -> Result<CheckpointInfo, BackendError> {
        let rooting = Instant::now();
        let mut batch = self.store.batch();
        self.save_changes(&mut batch);
        let key = self
            .key
            .as_ref()
            .ok_or_else(|| BackendError::invariant("a witness does not sign checkpoints"))?;
        let (leaf, effects) = self.engine.append_state_root(key, at).map_err(fatal)?;
        let map = self
            .engine
            .map()
            .latest_snapshot()
            .ok_or_else(|| BackendError::invariant("no map version after a StateRoot"))?;
        self.metrics.observe_phase("state_root", rooting.elapsed());
        let indexing = Instant::now();
        self.tail.add(leaf.signer, &effects);
        self.tail.write_into(self.engine.state(), &mut batch);
        let integration = self
            .store
            .append_leaves(&mut batch, &Blake3, vec![leaf.to_bytes()])
            .map_err(fatal)?;
        let checkpoint =
            Checkpoint::new(self.origin.clone(), integration.new_size, integration.root)
                .map_err(fatal)?;
        self.metrics.observe_phase("index", indexing.elapsed());
        let signing = Instant::now();
        let note = sign_checkpoint(&checkpoint, key).to_text();
        self.metrics.observe_phase("sign", signing.elapsed());
        let info =
            self.commit_checkpoint(batch, integration.new_size, integration.root, note, map)?;
        // The snapshot is as of the StateRoot, the checkpoint's last leaf.
        self.store.forget_live_nonces_below(info.size - 1);
        Ok(info)
    }

    fn last_sequenced_at(&self) -> u64 {
        self.engine.state().last_sequenced_at()
    }
}

#[cfg(test)]
#[path = "log_tests.rs"]
mod tests;

//! The state with its map: `StateRoot` leaves checked and produced ([`Engine`]), and the replay of a
//! whole log from genesis ([`replay`]) that witnesses and the audit tool run.
//!
//! The pure [`State`] keeps the dirty set of accounts changed since the last `StateRoot`; the
//! engine writes their records into the next map version (one version per `StateRoot`, numbered
//! 0, 1, 2, … as [`StateMap`] requires) and compares the root with the one the leaf claims.
//! Map keys are [`account_map_key`] of the account key, values the record bytes
//! ([`super::AccountRecord::to_bytes`]).

use ed25519_dalek::SigningKey;

use super::{Effects, Evicted, Loaded, Needs, Rejection, Residency, State};
use crate::entry::signature::verify_leaves;
use crate::entry::{Body, BodyKind, Leaf, StateRoot, sign_body};
use crate::hash::Hash;
use crate::map::{MapError, SparseMap, StateMap, account_map_key};

/// Why the engine did not apply a leaf.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The rules refuse the leaf: answer the submitter. Nothing changed.
    #[error("rejected: {0}")]
    Rejected(#[from] Rejection),
    /// The map's store failed. The state is unchanged; the map may hold one more version than
    /// the state has `StateRoot`s, which the next `StateRoot` reuses ([`Engine`] docs).
    #[error("state map: {0}")]
    Map(#[from] MapError),
    /// The state is partial and lacks what the leaf reads ([`State::missing`]): load it and
    /// apply again. Nothing changed.
    #[error("not resident: {0}")]
    NotResident(Needs),
}

/// A [`State`] and the [`StateMap`] its `StateRoot`s commit to.
///
/// The sequencer calls [`Engine::append_state_root`] (or [`Engine::prepare_state_root`] and signs
/// itself) at each batch boundary; replay calls [`Engine::apply`] on every leaf. The map version
/// for a `StateRoot` at index `i` is written once, by whichever comes first, and remembered as
/// staged for `i`: if that leaf is then refused, a retry at the same index reuses the version.
#[derive(Debug)]
pub struct Engine<M> {
    state: State,
    map: M,
    /// `(as_of, root)` of the map version written for a `StateRoot` not yet applied.
    staged: Option<(u64, Hash)>,
}

impl<M: StateMap> Engine<M> {
    /// An engine over an empty state and an empty map.
    pub fn new(map: M) -> Self {
        Self::from_parts(State::new(), map)
    }

    /// An engine over a state and the map its `StateRoot`s were written to (e.g. after a restart).
    pub fn from_parts(state: State, map: M) -> Self {
        Self {
            state,
            map,
            staged: None,
        }
    }

    /// The state.
    pub fn state(&self) -> &State {
        &self.state
    }

    /// The map (for proofs).
    pub fn map(&self) -> &M {
        &self.map
    }

    /// The map, mutably: for pruning old versions. Writing versions behind the engine's back
    /// would make its `StateRoot`s disagree with the state.
    pub fn map_mut(&mut self) -> &mut M {
        &mut self.map
    }

    /// What applying `leaf` would read that a partial state lacks ([`State::missing`]).
    pub fn missing(&self, leaf: &Leaf) -> Needs {
        self.state.missing(leaf)
    }

    /// Takes in what the store holds for some [`Needs`] ([`State::admit`]).
    pub fn admit(&mut self, loaded: Loaded) {
        self.state.admit(loaded);
    }

    /// Drops clean residents of a partial state beyond `keep` ([`State::evict`]); call it only
    /// when every `StateRoot` applied is saved.
    pub fn evict(&mut self, keep: Residency) -> Evicted {
        self.state.evict(keep)
    }

    /// Takes the engine apart.
    pub fn into_parts(self) -> (State, M) {
        (self.state, self.map)
    }

    /// Applies a leaf, verifying its signature (ZIP 215); a `StateRoot`'s map root is checked
    /// against the map.
    ///
    /// The leaf must already carry `sequenced_at` (the sequencer stamps it first): the history
    /// chains hash the leaf as stamped.
    ///
    /// # Errors
    /// [`EngineError::Rejected`] for a leaf the rules refuse (including
    /// [`Rejection::StateRootMismatch`]), [`EngineError::Map`] if the map fails.
    pub fn apply(&mut self, leaf: &Leaf, sequenced_at: u64) -> Result<Effects, EngineError> {
        self.apply_checked(leaf, sequenced_at, true)
    }

    /// As [`Engine::apply`] for a leaf whose signature the caller has already verified (singly
    /// or with [`crate::entry::signature::verify_leaves`]) under this log's origin.
    ///
    /// # Errors
    /// As [`Engine::apply`], except that a bad signature is not detected.
    pub fn apply_preverified(
        &mut self,
        leaf: &Leaf,
        sequenced_at: u64,
    ) -> Result<Effects, EngineError> {
        self.apply_checked(leaf, sequenced_at, false)
    }

    fn apply_checked(
        &mut self,
        leaf: &Leaf,
        sequenced_at: u64,
        verify: bool,
    ) -> Result<Effects, EngineError> {
        let missing = self.state.missing(leaf);
        if !missing.is_empty() {
            return Err(EngineError::NotResident(missing));
        }
        // Every other rule first, so a leaf refused for them writes no map version.
        let plan = self.state.check(leaf, sequenced_at, verify)?;
        if let Some(claimed) = plan.claimed_map_root() {
            let computed = self.root_for_next_index()?;
            if claimed != computed {
                return Err(Rejection::StateRootMismatch { claimed, computed }.into());
            }
            self.staged = None;
        }
        Ok(self.state.commit_checked(plan))
    }

    /// Writes the dirty records as the next map version (once per index) and gives its root.
    fn root_for_next_index(&mut self) -> Result<Hash, MapError> {
        let as_of = self.state.next_index();
        if let Some((staged_as_of, root)) = self.staged
            && staged_as_of == as_of
        {
            return Ok(root);
        }
        let version = match self.map.latest_version()? {
            None => 0,
            // u64::MAX versions would need as many leaves; the state refuses those first.
            Some(v) => v.saturating_add(1),
        };
        let updates = self
            .state
            .dirty_records()
            .into_iter()
            .map(|(key, record)| (account_map_key(&key), Some(record)))
            .collect();
        let root = self.map.apply(version, updates)?;
        self.staged = Some((as_of, root));
        Ok(root)
    }

    /// The `StateRoot` body for the next index: writes the dirty records as the next map
    /// version and returns `{ as_of: next index, map_root }` for the log key to sign.
    ///
    /// # Errors
    /// [`MapError`] if the map fails.
    pub fn prepare_state_root(&mut self) -> Result<StateRoot, MapError> {
        let map_root = self.root_for_next_index()?;
        Ok(StateRoot {
            as_of: self.state.next_index(),
            map_root,
        })
    }

    /// Prepares, signs with the log key, stamps and applies the next `StateRoot`: the
    /// sequencer's batch boundary. Returns the leaf to append and its effects.
    ///
    /// # Errors
    /// [`EngineError::Rejected`] if `log_key` is not the operator's or `sequenced_at` goes
    /// backwards; [`EngineError::Map`] if the map fails.
    pub fn append_state_root(
        &mut self,
        log_key: &SigningKey,
        sequenced_at: u64,
    ) -> Result<(Leaf, Effects), EngineError> {
        let body = self.prepare_state_root()?;
        let origin =
            self.state
                .params()
                .map(|p| p.origin.clone())
                .ok_or(Rejection::GenesisRequired {
                    got: BodyKind::StateRoot,
                })?;
        let leaf = sign_body(&origin, log_key, &Body::StateRoot(body)).sequenced(sequenced_at);
        let effects = self.apply_preverified(&leaf, sequenced_at)?;
        Ok((leaf, effects))
    }
}

/// A replayed log.
#[derive(Debug)]
pub struct ReplayOutcome<M> {
    /// The state after the last leaf.
    pub state: State,
    /// Every `StateRoot` as (its index, its map root), each recomputed and equal to the leaf's.
    pub state_roots: Vec<(u64, Hash)>,
    /// The map at the last `StateRoot`'s version (the dirty records since are unwritten). Older
    /// versions are pruned as the replay goes, so a replay's memory does not grow with the log.
    pub map: M,
}

/// Why a replay stopped.
#[derive(Debug, thiserror::Error)]
pub enum ReplayCause {
    /// The leaf breaks a rule (signature, state root, …): the log is invalid from here on.
    #[error("{0}")]
    Rejected(Rejection),
    /// The leaves were not given in index order from 0.
    #[error("leaf index {got} given where {expected} was due")]
    OutOfSequence { expected: u64, got: u64 },
    /// The map failed.
    #[error("state map: {0}")]
    Map(MapError),
    /// The engine's state is partial and lacks what the leaf reads: replay runs on whole states.
    #[error("not resident: {0}")]
    NotResident(Needs),
}

/// A replay stopped at `index`.
#[derive(Debug, thiserror::Error)]
#[error("replay stopped at leaf {index}: {cause}")]
pub struct ReplayError {
    /// The leaf that could not be applied.
    pub index: u64,
    /// Why.
    pub cause: ReplayCause,
}

impl ReplayError {
    /// The rejection, when the leaf broke a rule.
    pub fn rejection(&self) -> Option<&Rejection> {
        match &self.cause {
            ReplayCause::Rejected(r) => Some(r),
            _ => None,
        }
    }
}

/// How many leaves share one batch signature verification during replay.
const VERIFY_BATCH: usize = 256;

/// Replays a whole log from its genesis, in memory: every signature (batched, each answer the
/// single check's), every rule, every `StateRoot` recomputed. The map is a
/// [`SparseMap`]; [`replay_into`] takes any other (`JmtStateMap` over a disk store, say).
///
/// # Errors
/// [`ReplayError`] at the first leaf that is out of sequence or refused.
pub fn replay(
    leaves: impl IntoIterator<Item = (u64, Leaf)>,
) -> Result<ReplayOutcome<SparseMap>, ReplayError> {
    replay_into(SparseMap::new(), leaves)
}

/// As [`replay`], writing the map into `map`, which must be empty.
///
/// # Errors
/// As [`replay`]; a map failure is [`ReplayCause::Map`].
pub fn replay_into<M: StateMap>(
    map: M,
    leaves: impl IntoIterator<Item = (u64, Leaf)>,
) -> Result<ReplayOutcome<M>, ReplayError> {
    let mut engine = Engine::new(map);
    let mut state_roots = Vec::new();
    let mut batch: Vec<(u64, Leaf)> = Vec::with_capacity(VERIFY_BATCH);
    let mut expected = 0u64;
    for (index, leaf) in leaves {
        if index != expected {
            return Err(ReplayError {
                index,
                cause: ReplayCause::OutOfSequence {
                    expected,
                    got: index,
                },
            });
        }
        expected = expected.saturating_add(1);
        if engine.state.params().is_none() {
            // Before the genesis is applied there is no origin to batch-verify under.
            apply_one(&mut engine, index, &leaf, true, &mut state_roots)?;
            continue;
        }
        batch.push((index, leaf));
        if batch.len() == VERIFY_BATCH {
            apply_batch(&mut engine, &mut batch, &mut state_roots)?;
        }
    }
    apply_batch(&mut engine, &mut batch, &mut state_roots)?;
    let (state, map) = engine.into_parts();
    Ok(ReplayOutcome {
        state,
        state_roots,
        map,
    })
}

fn apply_batch<M: StateMap>(
    engine: &mut Engine<M>,
    batch: &mut Vec<(u64, Leaf)>,
    state_roots: &mut Vec<(u64, Hash)>,
) -> Result<(), ReplayError> {
    let origin = engine
        .state
        .params()
        .map(|p| p.origin.clone())
        .unwrap_or_default();
    let refs: Vec<&Leaf> = batch.iter().map(|(_, l)| l).collect();
    let verdicts = verify_leaves(&origin, &refs);
    for ((index, leaf), verdict) in batch.iter().zip(verdicts) {
        if verdict.is_err() {
            return Err(ReplayError {
                index: *index,
                cause: ReplayCause::Rejected(Rejection::BadSignature {
                    signer: leaf.signer,
                }),
            });
        }
        apply_one(engine, *index, leaf, false, state_roots)?;
    }
    batch.clear();
    Ok(())
}

fn apply_one<M: StateMap>(
    engine: &mut Engine<M>,
    index: u64,
    leaf: &Leaf,
    verify: bool,
    state_roots: &mut Vec<(u64, Hash)>,
) -> Result<(), ReplayError> {
    let result = if verify {
        engine.apply(leaf, leaf.sequenced_at)
    } else {
        engine.apply_preverified(leaf, leaf.sequenced_at)
    };
    let effects = result.map_err(|e| ReplayError {
        index,
        cause: match e {
            EngineError::Rejected(r) => ReplayCause::Rejected(r),
            EngineError::Map(m) => ReplayCause::Map(m),
            EngineError::NotResident(n) => ReplayCause::NotResident(n),
        },
    })?;
    if effects.kind == BodyKind::StateRoot {
        if let Ok(Body::StateRoot(b)) = leaf.decode_body() {
            state_roots.push((index, b.map_root));
        }
        // Nothing replayed later reads an older version.
        let pruned = match engine.map.latest_version() {
            Ok(Some(latest)) => engine.map.prune(latest).map(drop),
            Ok(None) => Ok(()),
            Err(e) => Err(e),
        };
        pruned.map_err(|e| ReplayError {
            index,
            cause: ReplayCause::Map(e),
        })?;
    }
    Ok(())
}

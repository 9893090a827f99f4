//! The application half of the ledger: the pure state machine every party runs (DESIGN §4, §6).
//!
//! [`Engine::apply`] takes one leaf and the time it is sequenced at and either applies it to the
//! [`State`], returning its [`Effects`], or refuses it with a precise [`Rejection`] and changes
//! nothing. No clock, randomness or I/O happens inside, so the sequencer, the witnesses and the
//! audit tool reach the same state from the same leaves. The engine is the only way to apply a
//! leaf: it holds the state map as well, so no caller can apply a `StateRoot` whose map root it has
//! not checked. [`replay`] re-runs a whole log from its genesis with full signature checks and
//! recomputes every `StateRoot`.
//!
//! # Idempotent retry: split between the state and the node
//!
//! The state remembers only each signer's highest nonce, so it refuses any entry whose nonce is
//! not above it with [`Rejection::NonceReused`], whether the entry is new or a resubmission. The
//! node, which stores the leaves, turns a resubmission into an answer: on `nonce_reused` it looks
//! up the leaf already sequenced for (signer, nonce) and, if [`is_same_entry`] holds, answers
//! with that leaf's index instead of an error. Money therefore moves exactly once, and the state
//! needs no per-nonce index that would grow with the log.
//!
//! Nonces may skip (an entry refused for another reason does not use its nonce), but only by
//! [`MAX_NONCE_GAP`]: a nonce further above the signer's next one is [`Rejection::NonceTooFar`],
//! so no single entry can exhaust a signer's nonce space.
//!
//! # Signature checks
//!
//! [`Engine::apply`] verifies the leaf's signature (the entry rule, ZIP 215). The node verifies
//! submissions before they reach the sequencer, in parallel batches with
//! [`crate::entry::signature::verify_leaves`] (whose answers are the single check's), and then
//! calls [`Engine::apply_preverified`] so nothing is verified twice. Replay and
//! audit always verify.

mod account;
mod apply;
pub mod history;
mod invariants;
mod rejection;
mod replay;
mod resident;
mod rules;
mod snapshot;
mod tx;

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

pub use account::{AccountRecord, RECORD_VERSION, Role};
pub use invariants::InvariantViolation;
pub use rejection::{KeyProblem, Rejection};
pub use replay::{
    Engine, EngineError, ReplayCause, ReplayError, ReplayOutcome, replay, replay_into,
};
pub use resident::{Evicted, Loaded, Needs, Residency};
pub use snapshot::{Changes, RestoreError, SNAPSHOT_FORMAT, StateHeader};

use crate::entry::{BodyKind, DataCategory, Leaf, Purpose, WitnessKey};
use crate::hash::Hash;
use crate::keys::PublicKey;

/// The largest fee: 10,000 basis points is 100%.
pub const MAX_FEE_BPS: u16 = 10_000;

/// How far above a signer's next nonce an entry's nonce may be: a nonce must be above the
/// signer's last one and at most `next + MAX_NONCE_GAP`, where `next` is the last one plus one
/// (0 for an account that has signed nothing, the operator's `Genesis` included).
///
/// 2^20 = 1,048,576: a key may pre-sign and pipeline a million entries with consecutive nonces
/// (the load generator's runs, or 256 bulk-enrolment batches of 4,096) and have any of them
/// refused without the later ones falling out of the window, while one entry can no longer use
/// up the signer's nonce space (running out now takes at least 2^44 entries).
pub const MAX_NONCE_GAP: u64 = 1 << 20;

/// Most witnesses a `Genesis` may name: a checkpoint note carries the log's signature and at most
/// this many cosignatures ([`crate::checkpoint::MAX_SIGNATURES`] = 16 lines).
pub const MAX_WITNESSES: usize = 15;

/// The log's parameters, fixed by its `Genesis` leaf (served as `GET /v1/log`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogParams {
    /// The log's name, covered by every entry signature.
    pub origin: String,
    /// The operator's key: signs checkpoints, operator entries and `StateRoot`s.
    pub log_key: PublicKey,
    /// Operator fee on paid accesses, in basis points.
    pub fee_bps: u16,
    /// ISO 4217 currency code.
    pub currency: String,
    /// Minor units per major unit, as a power of ten.
    pub decimals: u8,
    /// Witnesses whose cosignatures count.
    pub witnesses: Vec<WitnessKey>,
    /// Cosignatures needed for a witnessed checkpoint.
    pub quorum: u16,
    /// Regulator keys.
    pub regulators: Vec<PublicKey>,
    /// Hash of the genesis leaf.
    pub genesis_leaf: Hash,
}

/// A grant of consent, named by the index of its `GrantConsent` leaf.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consent {
    /// The granting subject.
    pub subject: PublicKey,
    /// The accessor allowed, `None` for any accessor (and the operator).
    pub accessor: Option<PublicKey>,
    /// Categories covered.
    pub categories: Vec<DataCategory>,
    /// Purposes covered.
    pub purposes: Vec<Purpose>,
    /// Minimum price per access.
    pub price: u64,
    /// Start of validity (inclusive), Unix ms.
    pub valid_from: u64,
    /// End of validity (exclusive), Unix ms.
    pub valid_until: Option<u64>,
    /// Index of the `RevokeConsent` leaf, once revoked; accesses after it are refused.
    pub revoked_at: Option<u64>,
}

/// A subject's claim, named by the index of its `Claim` leaf.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimRecord {
    /// The claiming subject.
    pub subject: PublicKey,
    /// Amount moved to pending.
    pub amount: u64,
    /// Hash of the off-ledger payout instructions.
    pub payout_ref: Hash,
    /// Index of the `PayoutSettled` leaf, once settled.
    pub settled_at: Option<u64>,
}

/// Money moved by an `Access`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payment {
    /// Who paid (accessor or operator).
    pub from: PublicKey,
    /// Whose data, who earned `price - fee`.
    pub to: PublicKey,
    /// The price paid.
    pub price: u64,
    /// The operator's part: `floor(price × fee_bps / 10000)`.
    pub fee: u64,
}

/// What applying one leaf did: what the node stores and indexes alongside the leaf.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Effects {
    /// The leaf's index.
    pub index: u64,
    /// The body's kind.
    pub kind: BodyKind,
    /// The leaf's tree hash (BLAKE3).
    pub leaf_hash: Hash,
    /// The signer's nonce the body carries (`None` for a `StateRoot`): what the node's
    /// (signer, nonce) index records, without decoding the body again.
    pub nonce: Option<u64>,
    /// Accounts whose history now ends with this leaf, in history order ([`history`]).
    pub involved: Vec<PublicKey>,
    /// Money moved by an access.
    pub payment: Option<Payment>,
}

/// The state derived from the leaves applied so far.
///
/// Two states are equal iff every account, consent, claim, total and the dirty sets are equal;
/// tests use this to show that a refused entry changes nothing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct State {
    params: Option<LogParams>,
    next_index: u64,
    last_sequenced_at: u64,
    accounts: BTreeMap<PublicKey, AccountRecord>,
    consents: BTreeMap<u64, Consent>,
    claims: BTreeMap<u64, ClaimRecord>,
    total_deposits: u64,
    /// Accounts changed since the last `StateRoot`: what the next map version must write.
    dirty: BTreeSet<PublicKey>,
    /// Consents granted or revoked since the last `StateRoot`, for snapshots ([`State::changes`]).
    dirty_consents: BTreeSet<u64>,
    /// Grant indexes by granting subject and by the accessor they name (`None`: any), ascending:
    /// derived from `consents`, so a party's grants are found without scanning every grant.
    grants_by_subject: BTreeMap<PublicKey, Vec<u64>>,
    grants_by_accessor: BTreeMap<Option<PublicKey>, Vec<u64>>,
    /// Claims made or settled since the last `StateRoot`, for snapshots.
    dirty_claims: BTreeSet<u64>,
    /// `Some` for a partial state: a working set over a store ([`resident`]). Its grant lists are
    /// then lengths only, and `grants_by_subject` and `grants_by_accessor` stay empty.
    partial: Option<Box<resident::Partial>>,
}

impl State {
    /// The empty state, before the genesis leaf.
    pub fn new() -> Self {
        Self::default()
    }

    /// The index the next leaf will have: the number of leaves applied.
    pub fn next_index(&self) -> u64 {
        self.next_index
    }

    /// The `sequenced_at` of the last leaf applied (0 before genesis).
    pub fn last_sequenced_at(&self) -> u64 {
        self.last_sequenced_at
    }

    /// The log's parameters, once the genesis is applied.
    pub fn params(&self) -> Option<&LogParams> {
        self.params.as_ref()
    }

    /// The account named by `key`.
    pub fn account(&self, key: &PublicKey) -> Option<&AccountRecord> {
        self.accounts.get(key)
    }

    /// Every account, in key order.
    pub fn accounts(&self) -> impl Iterator<Item = (&PublicKey, &AccountRecord)> {
        self.accounts.iter()
    }

    /// The grant made at leaf `index`.
    pub fn consent(&self, index: u64) -> Option<&Consent> {
        self.consents.get(&index)
    }

    /// Every grant, by index.
    pub fn consents(&self) -> impl Iterator<Item = (u64, &Consent)> {
        self.consents.iter().map(|(i, c)| (*i, c))
    }

    /// The grants `subject` made, by index.
    pub fn consents_of(&self, subject: &PublicKey) -> impl Iterator<Item = (u64, &Consent)> {
        self.grants(self.grants_by_subject.get(subject))
    }

    /// The grants `accessor` may use: those naming it and those for any accessor, by index.
    pub fn consents_for(&self, accessor: &PublicKey) -> impl Iterator<Item = (u64, &Consent)> {
        let named = self
            .grants_by_accessor
            .get(&Some(*accessor))
            .map_or(&[][..], Vec::as_slice);
        let any = self
            .grants_by_accessor
            .get(&None)
            .map_or(&[][..], Vec::as_slice);
        let mut merged = Vec::with_capacity(named.len() + any.len());
        let (mut i, mut j) = (0, 0);
        while i < named.len() || j < any.len() {
            if j == any.len() || (i < named.len() && named[i] < any[j]) {
                merged.push(named[i]);
                i += 1;
            } else {
                merged.push(any[j]);
                j += 1;
            }
        }
        merged
            .into_iter()
            .filter_map(|i| self.consents.get(&i).map(|c| (i, c)))
    }

    fn grants<'a>(
        &'a self,
        indexes: Option<&'a Vec<u64>>,
    ) -> impl Iterator<Item = (u64, &'a Consent)> + 'a {
        indexes
            .into_iter()
            .flatten()
            .filter_map(|i| self.consents.get(i).map(|c| (*i, c)))
    }

    /// Records grant `index` in the per-party indexes.
    fn index_grant(&mut self, index: u64, consent: &Consent) {
        if self.partial.is_some() {
            self.number_grant(index, consent);
            return;
        }
        GrantIndexes {
            by_subject: &mut self.grants_by_subject,
            by_accessor: &mut self.grants_by_accessor,
        }
        .add(index, consent);
    }

    /// The claim made at leaf `index`.
    pub fn claim(&self, index: u64) -> Option<&ClaimRecord> {
        self.claims.get(&index)
    }

    /// Every claim, by index.
    pub fn claims(&self) -> impl Iterator<Item = (u64, &ClaimRecord)> {
        self.claims_from(0)
    }

    /// The claims whose leaf index is at least `from`, by index.
    pub fn claims_from(&self, from: u64) -> impl Iterator<Item = (u64, &ClaimRecord)> {
        self.claims.range(from..).map(|(i, c)| (*i, c))
    }

    /// The sum of every deposit ever applied.
    pub fn total_deposits(&self) -> u64 {
        self.total_deposits
    }

    /// Accounts changed since the last `StateRoot`, in key order.
    pub fn dirty(&self) -> impl Iterator<Item = &PublicKey> {
        self.dirty.iter()
    }

    /// The records of the dirty accounts as (key, record bytes), in key order: what the next map
    /// version writes. Applying a `StateRoot` clears the dirty set.
    pub fn dirty_records(&self) -> Vec<(PublicKey, Vec<u8>)> {
        self.dirty
            .iter()
            .filter_map(|k| self.accounts.get(k).map(|r| (*k, r.to_bytes())))
            .collect()
    }
}

/// A list of grants in index order, as a party pages through its consents: the grants a subject
/// made, those naming an accessor, and those for any accessor. Each list only grows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum GrantList {
    /// The grants this subject made.
    BySubject(PublicKey),
    /// The grants naming this accessor.
    ForAccessor(PublicKey),
    /// The grants for any accessor.
    ForAny,
}

/// Where a grant sits in one of its [`GrantList`]s.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GrantPosition {
    /// The list.
    pub list: GrantList,
    /// The grant's position in it (0-based).
    pub position: u64,
    /// The list's length.
    pub len: u64,
}

impl State {
    /// The two lists grant `index` is in (its subject's, and its accessor's or the any-accessor
    /// list) with its position in each; empty if there is no such grant.
    ///
    /// A partial state knows the positions of the grants made since the last `StateRoot` only.
    pub fn grant_positions(&self, index: u64) -> Vec<GrantPosition> {
        if let Some(partial) = &self.partial {
            return partial.positions(index);
        }
        let Some(consent) = self.consents.get(&index) else {
            return Vec::new();
        };
        let lists = [
            (
                GrantList::BySubject(consent.subject),
                self.grants_by_subject.get(&consent.subject),
            ),
            (
                consent
                    .accessor
                    .map_or(GrantList::ForAny, GrantList::ForAccessor),
                self.grants_by_accessor.get(&consent.accessor),
            ),
        ];
        lists
            .into_iter()
            .filter_map(|(list, grants)| {
                let grants = grants?;
                let position = grants.binary_search(&index).ok()?;
                Some(GrantPosition {
                    list,
                    position: position as u64,
                    len: grants.len() as u64,
                })
            })
            .collect()
    }
}

/// The per-party grant indexes of a [`State`], borrowed apart from its consents.
struct GrantIndexes<'a> {
    by_subject: &'a mut BTreeMap<PublicKey, Vec<u64>>,
    by_accessor: &'a mut BTreeMap<Option<PublicKey>, Vec<u64>>,
}

impl GrantIndexes<'_> {
    /// Adds grant `index`; grants must come in index order.
    fn add(&mut self, index: u64, consent: &Consent) {
        self.by_subject
            .entry(consent.subject)
            .or_default()
            .push(index);
        self.by_accessor
            .entry(consent.accessor)
            .or_default()
            .push(index);
    }
}

/// Whether two leaves are the same entry: same signer and same body bytes.
///
/// The node calls this when [`Engine::apply`] answers [`Rejection::NonceReused`]: if the leaf
/// already sequenced under that (signer, nonce) is the same entry, the submission is a retry and
/// gets the original index; otherwise the rejection stands. `sequenced_at` is ignored (a retry is
/// unstamped) and so is the signature (the signer could sign the same body twice; it is still one
/// entry, and its nonce already moved the money).
pub fn is_same_entry(a: &Leaf, b: &Leaf) -> bool {
    a.signer == b.signer && a.body == b.body
}

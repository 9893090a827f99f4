//! State snapshots: what a node persists at each `StateRoot` so that it restarts from its last
//! checkpoint instead of replaying the whole log.
//!
//! The state is derived data: [`super::replay`] rebuilds it from the leaves, and that is what
//! witnesses and the audit tool do. A node that replayed its own log at every start would need
//! time and memory in proportion to the log, so the sequencer saves, in the same atomic commit as
//! each `StateRoot` leaf, everything that changed since the previous one ([`State::changes`]):
//! the changed account records, consents and claims, and a [`StateHeader`]. The saved state is the
//! state *as of the `StateRoot`*, before the `StateRoot` leaf itself is applied, so the records
//! are exactly the values that the leaf's map root commits.
//!
//! On start the node reads the saved records back ([`State::restore`], which re-checks every
//! invariant), rebuilds the state map from them, and applies the `StateRoot` leaf with the normal
//! rules: the leaf's signature and its map root are checked against the restored state, so stored
//! state that disagrees with the signed log is refused by the same code that refuses a bad
//! `StateRoot` from anyone. The leaves after it (sequenced, not yet checkpointed) are then applied
//! as usual.
//!
//! # Encodings
//!
//! [`AccountRecord::to_bytes`] for records (the map's values). Consents, claims and the header
//! use the same canonical bincode encoding behind a one-byte format version
//! ([`SNAPSHOT_FORMAT`]); they are the node's storage format, not part of the protocol.

use std::collections::{BTreeMap, BTreeSet};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::{
    AccountRecord, ClaimRecord, Consent, GrantIndexes, InvariantViolation, LogParams, State,
};
use crate::entry::BodyError;
use crate::entry::canonical;
use crate::keys::PublicKey;

/// First byte of every encoded [`StateHeader`], [`Consent`] and [`ClaimRecord`] in a snapshot.
pub const SNAPSHOT_FORMAT: u8 = 0x01;

/// The scalar part of a state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateHeader {
    /// The log's parameters, from its genesis.
    pub params: LogParams,
    /// The number of leaves applied.
    pub next_index: u64,
    /// The `sequenced_at` of the last leaf applied.
    pub last_sequenced_at: u64,
    /// The sum of every deposit.
    pub total_deposits: u64,
}

/// Everything that changed since the last `StateRoot` (or since the start, before the first).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Changes<'a> {
    /// The scalar state; `None` before the genesis is applied.
    pub header: Option<StateHeader>,
    /// Changed and created account records, in key order.
    pub accounts: Vec<(PublicKey, &'a AccountRecord)>,
    /// Granted or revoked consents, by the index of their grant.
    pub consents: Vec<(u64, &'a Consent)>,
    /// Made or settled claims, by the index of their claim.
    pub claims: Vec<(u64, &'a ClaimRecord)>,
}

/// Why a snapshot could not be restored.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RestoreError {
    /// The restored state breaks an invariant (money, claims, references).
    #[error("the saved state breaks an invariant: {0}")]
    Invariant(#[from] InvariantViolation),
    /// A consent or claim is numbered at or after the state's next index.
    #[error("saved entry {index} is not below the state's next index {next_index}")]
    FromTheFuture { index: u64, next_index: u64 },
}

fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    let body = canonical::encode(value);
    let mut out = Vec::with_capacity(1 + body.len());
    out.push(SNAPSHOT_FORMAT);
    out.extend_from_slice(&body);
    out
}

fn decode<T: Serialize + DeserializeOwned>(what: &str, bytes: &[u8]) -> Result<T, BodyError> {
    match bytes.split_first() {
        Some((&SNAPSHOT_FORMAT, rest)) => canonical::decode(rest),
        Some((v, _)) => Err(BodyError::Malformed(format!(
            "saved {what} format {v:#04x} is not supported (expected {SNAPSHOT_FORMAT:#04x})"
        ))),
        None => Err(BodyError::Malformed(format!("empty saved {what}"))),
    }
}

macro_rules! snapshot_codec {
    ($ty:ty, $what:literal) => {
        impl $ty {
            /// The snapshot encoding (module docs).
            pub fn to_bytes(&self) -> Vec<u8> {
                encode(self)
            }

            /// Decodes [`Self::to_bytes`].
            ///
            /// # Errors
            /// [`BodyError`] unless the bytes are exactly one canonical encoding of this format.
            pub fn from_bytes(bytes: &[u8]) -> Result<Self, BodyError> {
                decode($what, bytes)
            }
        }
    };
}

snapshot_codec!(StateHeader, "state header");
snapshot_codec!(Consent, "consent");
snapshot_codec!(ClaimRecord, "claim");

impl State {
    /// What changed since the last `StateRoot` was applied: what a snapshot must save now so that
    /// together with the earlier ones it holds this whole state.
    pub fn changes(&self) -> Changes<'_> {
        let header = self.params.clone().map(|params| StateHeader {
            params,
            next_index: self.next_index,
            last_sequenced_at: self.last_sequenced_at,
            total_deposits: self.total_deposits,
        });
        Changes {
            header,
            accounts: self
                .dirty
                .iter()
                .filter_map(|k| self.accounts.get(k).map(|r| (*k, r)))
                .collect(),
            consents: self
                .dirty_consents
                .iter()
                .filter_map(|i| self.consents.get(i).map(|c| (*i, c)))
                .collect(),
            claims: self
                .dirty_claims
                .iter()
                .filter_map(|i| self.claims.get(i).map(|c| (*i, c)))
                .collect(),
        }
    }

    /// Rebuilds a state from a saved header and every saved record, consent and claim. Nothing is
    /// dirty afterwards: the restored state is as of a `StateRoot` whose map holds every record.
    ///
    /// # Errors
    /// [`RestoreError`] if the parts do not make a valid state.
    pub fn restore(
        header: StateHeader,
        accounts: impl IntoIterator<Item = (PublicKey, AccountRecord)>,
        consents: impl IntoIterator<Item = (u64, Consent)>,
        claims: impl IntoIterator<Item = (u64, ClaimRecord)>,
    ) -> Result<State, RestoreError> {
        let next_index = header.next_index;
        let below = |index: u64| {
            if index < next_index {
                Ok(index)
            } else {
                Err(RestoreError::FromTheFuture { index, next_index })
            }
        };
        let mut state = State {
            params: Some(header.params),
            next_index,
            last_sequenced_at: header.last_sequenced_at,
            accounts: accounts.into_iter().collect(),
            consents: consents
                .into_iter()
                .map(|(i, c)| Ok((below(i)?, c)))
                .collect::<Result<_, RestoreError>>()?,
            claims: claims
                .into_iter()
                .map(|(i, c)| Ok((below(i)?, c)))
                .collect::<Result<_, RestoreError>>()?,
            total_deposits: header.total_deposits,
            dirty: BTreeSet::new(),
            dirty_consents: BTreeSet::new(),
            dirty_claims: BTreeSet::new(),
            grants_by_subject: BTreeMap::new(),
            grants_by_accessor: BTreeMap::new(),
            partial: None,
        };
        let mut indexes = GrantIndexes {
            by_subject: &mut state.grants_by_subject,
            by_accessor: &mut state.grants_by_accessor,
        };
        for (index, consent) in &state.consents {
            indexes.add(*index, consent);
        }
        state.check_invariants()?;
        Ok(state)
    }

    /// A partial state ([`State::new_partial`]) as of a saved header: nothing resident, every
    /// record, consent and claim left in the store it was saved to, to be loaded as leaves need
    /// them. Nothing is dirty: the state is as of a `StateRoot`.
    pub fn restore_partial(header: StateHeader) -> State {
        State {
            params: Some(header.params),
            next_index: header.next_index,
            last_sequenced_at: header.last_sequenced_at,
            total_deposits: header.total_deposits,
            ..State::new_partial()
        }
    }
}

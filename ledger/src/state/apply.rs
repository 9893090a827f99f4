//! Applying one leaf: check everything against an unchanged state, then commit.
//!
//! The rules run on a [`Tx`] ([`super::tx`]) that reads the state and collects the changed
//! account records as copies. Only when every rule has passed does [`State::commit`] write them, so a refused entry
//! leaves the state exactly as it was, with no undo logic to get wrong.

use super::history::extend_head;
use super::rules;
use super::tx::{Change, Tx};
use super::{AccountRecord, Effects, Payment, Rejection, State};
use crate::entry::{Body, Leaf, verify_leaf};
use crate::hash::{Blake3, Hash, TreeHasher};
use crate::keys::PublicKey;

/// What a passed check hands to [`State::commit`].
#[derive(Debug)]
pub(super) struct Plan {
    index: u64,
    next_index: u64,
    at: u64,
    body: Body,
    leaf_hash: Hash,
    involved: Vec<PublicKey>,
    touched: Vec<(PublicKey, AccountRecord)>,
    change: Change,
    payment: Option<Payment>,
}

impl Plan {
    /// The map root a `StateRoot` leaf claims, which only the engine can check.
    pub(super) fn claimed_map_root(&self) -> Option<Hash> {
        match &self.body {
            Body::StateRoot(b) => Some(b.map_root),
            _ => None,
        }
    }
}

impl State {
    /// Commits a plan, then (in debug builds) checks every invariant.
    pub(super) fn commit_checked(&mut self, plan: Plan) -> Effects {
        let effects = self.commit(plan);
        debug_assert_eq!(
            self.check_invariants(),
            Ok(()),
            "after leaf {}",
            effects.index
        );
        effects
    }

    /// Runs every rule against the unchanged state; the plan says what to write.
    ///
    /// The leaf must already carry `at` (the sequencer stamps it first): the history chains hash
    /// the leaf as stamped. A `StateRoot`'s map root is not checked here, as the pure state holds
    /// no map: [`super::Engine`], the only public way to apply a leaf, checks it before it commits
    /// the plan.
    pub(super) fn check(&self, leaf: &Leaf, at: u64, verify: bool) -> Result<Plan, Rejection> {
        let index = self.next_index;
        // The index after this leaf must exist; every history_len stays below it (invariants).
        let next_index = index.checked_add(1).ok_or(Rejection::Overflow)?;
        if leaf.sequenced_at != at {
            return Err(Rejection::SequencedAtMismatch {
                stamped: leaf.sequenced_at,
                sequenced_at: at,
            });
        }
        let body = match &self.params {
            // Before genesis there is no origin to verify under: the genesis names it.
            None => {
                let body = decode(leaf)?;
                let Body::Genesis(genesis) = &body else {
                    return Err(Rejection::GenesisRequired { got: body.kind() });
                };
                if verify {
                    verify_signature(&genesis.origin, leaf)?;
                }
                body
            }
            Some(params) => {
                if verify {
                    verify_signature(&params.origin, leaf)?;
                }
                decode(leaf)?
            }
        };
        if at < self.last_sequenced_at {
            return Err(Rejection::TimeWentBackwards {
                last: self.last_sequenced_at,
                got: at,
            });
        }
        let leaf_hash = Blake3.hash_leaf(&leaf.to_bytes());
        let mut tx = Tx::new(self, leaf.signer, index, at);
        match &body {
            Body::Genesis(b) => rules::genesis::genesis(&mut tx, b, leaf_hash)?,
            Body::EnrollSubject(b) => rules::registry::enroll_subject(&mut tx, b)?,
            Body::RegisterAccessor(b) => rules::registry::register_accessor(&mut tx, b)?,
            Body::Deposit(b) => rules::money::deposit(&mut tx, b)?,
            Body::GrantConsent(b) => rules::consent::grant(&mut tx, b)?,
            Body::RevokeConsent(b) => rules::consent::revoke(&mut tx, b)?,
            Body::Access(b) => rules::money::access(&mut tx, b)?,
            Body::Claim(b) => rules::money::claim(&mut tx, b)?,
            Body::PayoutSettled(b) => rules::money::payout_settled(&mut tx, b)?,
            Body::StateRoot(b) => rules::root::state_root(&mut tx, b)?,
        }
        let involved = tx.involved(&body);
        for key in &involved {
            let record = tx.account_mut(key)?;
            // Cannot saturate: history_len ≤ leaves applied < index + 1, checked above.
            record.history_len = record.history_len.saturating_add(1);
            record.history_head = extend_head(&record.history_head, index, &leaf_hash);
        }
        Ok(Plan {
            index,
            next_index,
            at,
            body,
            leaf_hash,
            involved,
            touched: tx.touched,
            change: tx.change,
            payment: tx.payment,
        })
    }

    /// Writes a checked plan. Nothing here can fail.
    fn commit(&mut self, plan: Plan) -> Effects {
        if self.partial.is_some() {
            let touched: Vec<_> = plan.touched.iter().map(|(k, _)| *k).collect();
            let root = matches!(plan.change, Change::StateRoot);
            self.settle_partial(&touched, plan.index, root);
        }
        for (key, record) in plan.touched {
            self.accounts.insert(key, record);
            self.dirty.insert(key);
        }
        match plan.change {
            Change::None => {}
            Change::Genesis(params) => self.params = Some(*params),
            Change::Grant(consent) => {
                self.index_grant(plan.index, &consent);
                self.consents.insert(plan.index, consent);
                self.dirty_consents.insert(plan.index);
            }
            Change::Revoke { consent } => {
                if let Some(c) = self.consents.get_mut(&consent) {
                    c.revoked_at = Some(plan.index);
                    self.dirty_consents.insert(consent);
                }
            }
            Change::Claim(claim) => {
                self.claims.insert(plan.index, claim);
                self.dirty_claims.insert(plan.index);
            }
            Change::Settle { claim } => {
                if let Some(c) = self.claims.get_mut(&claim) {
                    c.settled_at = Some(plan.index);
                    self.dirty_claims.insert(claim);
                }
            }
            Change::Deposit { total_deposits } => self.total_deposits = total_deposits,
            Change::StateRoot => {
                self.dirty.clear();
                self.dirty_consents.clear();
                self.dirty_claims.clear();
            }
        }
        self.next_index = plan.next_index;
        self.last_sequenced_at = plan.at;
        Effects {
            index: plan.index,
            kind: plan.body.kind(),
            nonce: plan.body.nonce(),
            leaf_hash: plan.leaf_hash,
            involved: plan.involved,
            payment: plan.payment,
        }
    }
}

fn decode(leaf: &Leaf) -> Result<Body, Rejection> {
    leaf.decode_body().map_err(|e| Rejection::BodyMalformed {
        reason: e.to_string(),
    })
}

fn verify_signature(origin: &str, leaf: &Leaf) -> Result<(), Rejection> {
    verify_leaf(origin, leaf).map_err(|_| Rejection::BadSignature {
        signer: leaf.signer,
    })
}

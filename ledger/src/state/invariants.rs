//! Invariants that hold after every applied leaf. `debug_assert!`ed after each apply in debug
//! builds; [`State::check_invariants`] runs them in release too (the audit tool does, at the end
//! of a replay).
//!
//! Balances are unsigned, so "no negative balance" holds by type; what can still go wrong is
//! money appearing or vanishing, pending payouts drifting from the open claims, or the
//! bookkeeping of histories, consents and the dirty set pointing at nothing.

use std::collections::BTreeMap;

use super::{AccountRecord, Role, State};
use crate::keys::PublicKey;

/// A broken invariant: a bug in the rules, never a property of the input.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InvariantViolation {
    /// deposits ≠ balances + pending + settled + fees.
    #[error("money not conserved: deposits {deposits}, accounted for {accounted}")]
    MoneyNotConserved { deposits: u128, accounted: u128 },
    /// A subject's pending payouts differ from the sum of its open claims.
    #[error("subject {subject} has pending {pending} but open claims of {open_claims}")]
    PendingMismatch {
        subject: PublicKey,
        pending: u64,
        open_claims: u128,
    },
    /// Money in a bucket the account's role never holds.
    #[error("account {key} ({role}) holds money in a bucket its role never uses")]
    MisplacedMoney { key: PublicKey, role: Role },
    /// A history longer than the log.
    #[error("account {key} has a history of {history_len} leaves, the log has {leaves}")]
    HistoryTooLong {
        key: PublicKey,
        history_len: u64,
        leaves: u64,
    },
    /// The genesis is applied but the operator has no account, or the reverse.
    #[error("operator account and log parameters disagree")]
    OperatorMissing,
    /// A consent or claim names a key that is not a subject account.
    #[error("consent or claim at index {index} belongs to {key}, who is not a subject")]
    DanglingReference { index: u64, key: PublicKey },
    /// A dirty key with no account.
    #[error("dirty set names {key}, which has no account")]
    DirtyUnknown { key: PublicKey },
    /// The per-party grant indexes do not list exactly the grants.
    #[error("the grant indexes disagree with the grants")]
    GrantIndexMismatch,
}

impl State {
    /// Checks every invariant of the state.
    ///
    /// # Errors
    /// The first [`InvariantViolation`] found.
    ///
    /// A partial state ([`State::new_partial`]) holds a working set only, so the sums over every
    /// account (money conserved, pending payouts matching the open claims) and the grant indexes
    /// are not checked there; what each resident account must satisfy by itself is.
    pub fn check_invariants(&self) -> Result<(), InvariantViolation> {
        if self.partial.is_some() {
            return self.check_resident();
        }
        match &self.params {
            Some(p) if self.accounts.get(&p.log_key).map(|a| a.role) == Some(Role::Operator) => {}
            None if self.accounts.is_empty() => {}
            _ => return Err(InvariantViolation::OperatorMissing),
        }
        // u128 sums: the accounts' u64 buckets can together exceed u64 only through a bug, and
        // the check must report that bug, not overflow itself.
        let mut accounted: u128 = 0;
        for (key, a) in &self.accounts {
            accounted += u128::from(a.balance)
                + u128::from(a.pending_payouts)
                + u128::from(a.settled_payouts)
                + u128::from(a.fees);
            self.check_account(key, a)?;
        }
        let deposits = u128::from(self.total_deposits);
        if deposits != accounted {
            return Err(InvariantViolation::MoneyNotConserved {
                deposits,
                accounted,
            });
        }
        let mut open: BTreeMap<PublicKey, u128> = BTreeMap::new();
        for (index, c) in &self.claims {
            self.require_subject(*index, &c.subject)?;
            if c.settled_at.is_none() {
                *open.entry(c.subject).or_default() += u128::from(c.amount);
            }
        }
        for (key, a) in self
            .accounts
            .iter()
            .filter(|(_, a)| a.role == Role::Subject)
        {
            let open_claims = open.get(key).copied().unwrap_or(0);
            if u128::from(a.pending_payouts) != open_claims {
                return Err(InvariantViolation::PendingMismatch {
                    subject: *key,
                    pending: a.pending_payouts,
                    open_claims,
                });
            }
        }
        for (index, c) in &self.consents {
            self.require_subject(*index, &c.subject)?;
        }
        if let Some(key) = self.dirty.iter().find(|k| !self.accounts.contains_key(k)) {
            return Err(InvariantViolation::DirtyUnknown { key: *key });
        }
        let by_subject = self
            .grants_by_subject
            .iter()
            .flat_map(|(key, indexes)| indexes.iter().map(move |i| (*i, Some(key), None)));
        let by_accessor = self
            .grants_by_accessor
            .iter()
            .flat_map(|(key, indexes)| indexes.iter().map(move |i| (*i, None, Some(key))));
        let mut listed = 0usize;
        for (index, subject, accessor) in by_subject.chain(by_accessor) {
            listed += 1;
            let consistent = self.consents.get(&index).is_some_and(|c| {
                subject.is_none_or(|s| *s == c.subject) && accessor.is_none_or(|a| *a == c.accessor)
            });
            if !consistent {
                return Err(InvariantViolation::GrantIndexMismatch);
            }
        }
        if listed != 2 * self.consents.len() {
            return Err(InvariantViolation::GrantIndexMismatch);
        }
        Ok(())
    }

    /// The invariants of each resident account alone.
    fn check_resident(&self) -> Result<(), InvariantViolation> {
        for (key, a) in &self.accounts {
            self.check_account(key, a)?;
        }
        if let Some(key) = self.dirty.iter().find(|k| !self.accounts.contains_key(k)) {
            return Err(InvariantViolation::DirtyUnknown { key: *key });
        }
        Ok(())
    }

    fn check_account(&self, key: &PublicKey, a: &AccountRecord) -> Result<(), InvariantViolation> {
        let misplaced = match a.role {
            Role::Subject => a.fees != 0,
            Role::Accessor => a.fees != 0 || a.pending_payouts != 0 || a.settled_payouts != 0,
            Role::Operator => a.pending_payouts != 0 || a.settled_payouts != 0,
        };
        if misplaced {
            return Err(InvariantViolation::MisplacedMoney {
                key: *key,
                role: a.role,
            });
        }
        if a.history_len > self.next_index {
            return Err(InvariantViolation::HistoryTooLong {
                key: *key,
                history_len: a.history_len,
                leaves: self.next_index,
            });
        }
        Ok(())
    }

    fn require_subject(&self, index: u64, key: &PublicKey) -> Result<(), InvariantViolation> {
        match self.accounts.get(key) {
            Some(a) if a.role == Role::Subject => Ok(()),
            _ => Err(InvariantViolation::DanglingReference { index, key: *key }),
        }
    }
}

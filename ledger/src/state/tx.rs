//! The transaction the rules run on: the leaf being applied, the state as it reads, and the
//! changes the leaf would make.
//!
//! It lives apart from [`super::apply`] so that the rules depend on it alone: `apply` calls the
//! rules and the rules fill in a [`Tx`], with no module depending on the one that calls it.

use super::history::{IndirectParty, direct_parties};
use super::{
    AccountRecord, ClaimRecord, Consent, LogParams, MAX_NONCE_GAP, Payment, Rejection, Role, State,
};
use crate::entry::Body;
use crate::keys::PublicKey;

/// Requires `nonce` to be above `last` and at most [`MAX_NONCE_GAP`] above the next one
/// (`last + 1`, or 0 for an account that has signed nothing yet).
///
/// The upper bound keeps one entry from using up a signer's nonce space: with it, a signer needs
/// at least `2^64 / (MAX_NONCE_GAP + 1)` entries to run out, instead of one entry at `u64::MAX`.
pub(super) fn check_nonce(last: Option<u64>, nonce: u64) -> Result<(), Rejection> {
    let next = match last {
        Some(last) if nonce <= last => return Err(Rejection::NonceReused { nonce, last }),
        // `nonce > last`, so `last + 1` does not overflow.
        Some(last) => last + 1,
        None => 0,
    };
    if nonce - next > MAX_NONCE_GAP {
        return Err(Rejection::NonceTooFar { next, got: nonce });
    }
    Ok(())
}

/// A change to the state outside the account records.
#[derive(Debug)]
pub(super) enum Change {
    None,
    Genesis(Box<LogParams>),
    Grant(Consent),
    Revoke {
        consent: u64,
    },
    Claim(ClaimRecord),
    Settle {
        claim: u64,
    },
    /// The new total of deposits, already checked for overflow.
    Deposit {
        total_deposits: u64,
    },
    StateRoot,
}

/// The leaf being applied and the changes it would make.
#[derive(Debug)]
pub(super) struct Tx<'s> {
    pub(super) state: &'s State,
    pub(super) signer: PublicKey,
    pub(super) index: u64,
    pub(super) at: u64,
    /// Copies of the changed and created records; a handful at most, so a Vec beats a map.
    pub(super) touched: Vec<(PublicKey, AccountRecord)>,
    pub(super) change: Change,
    pub(super) payment: Option<Payment>,
}

impl<'s> Tx<'s> {
    pub(super) fn new(state: &'s State, signer: PublicKey, index: u64, at: u64) -> Self {
        Self {
            state,
            signer,
            index,
            at,
            touched: Vec::new(),
            change: Change::None,
            payment: None,
        }
    }

    /// The account as this transaction sees it.
    pub(super) fn account(&self, key: &PublicKey) -> Result<&AccountRecord, Rejection> {
        self.touched
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, r)| r)
            .or_else(|| self.state.accounts.get(key))
            .ok_or(Rejection::UnknownAccount { key: *key })
    }

    /// A changeable copy of an existing account.
    pub(super) fn account_mut(&mut self, key: &PublicKey) -> Result<&mut AccountRecord, Rejection> {
        let pos = match self.touched.iter().position(|(k, _)| k == key) {
            Some(pos) => pos,
            None => {
                let record = self.account(key)?.clone();
                self.touched.push((*key, record));
                self.touched.len() - 1
            }
        };
        Ok(&mut self.touched[pos].1)
    }

    /// Requires `key` to be an account with one of `roles`.
    pub(super) fn require_role(&self, key: &PublicKey, roles: &[Role]) -> Result<(), Rejection> {
        let role = self.account(key)?.role;
        if roles.contains(&role) {
            Ok(())
        } else {
            Err(Rejection::WrongRole {
                key: *key,
                role,
                required: roles.to_vec(),
            })
        }
    }

    /// Requires the signer to have one of `roles`, and `nonce` to be fresh ([`check_nonce`]).
    pub(super) fn signer_with_nonce(
        &mut self,
        roles: &[Role],
        nonce: u64,
    ) -> Result<(), Rejection> {
        let signer = self.signer;
        self.require_role(&signer, roles)?;
        let record = self.account_mut(&signer)?;
        check_nonce(record.last_nonce, nonce)?;
        record.last_nonce = Some(nonce);
        Ok(())
    }

    /// Creates an account for a key that has none.
    pub(super) fn create(
        &mut self,
        key: PublicKey,
        record: AccountRecord,
    ) -> Result<(), Rejection> {
        if let Ok(existing) = self.account(&key) {
            return Err(Rejection::AlreadyRegistered {
                key,
                role: existing.role,
            });
        }
        self.touched.push((key, record));
        Ok(())
    }

    /// The accounts whose history this leaf extends (see [`super::history`]).
    pub(super) fn involved(&self, body: &Body) -> Vec<PublicKey> {
        let (mut parties, indirect) = direct_parties(&self.signer, body);
        let extra = match indirect {
            Some(IndirectParty::GrantAccessor { consent }) => {
                self.state.consents.get(&consent).and_then(|c| c.accessor)
            }
            Some(IndirectParty::ClaimSubject { claim }) => {
                self.state.claims.get(&claim).map(|c| c.subject)
            }
            None => None,
        };
        if let Some(key) = extra.filter(|k| !parties.contains(k)) {
            parties.push(key);
        }
        parties
    }
}

//! A state that holds only a working set: what a node keeps in memory when its store holds the
//! rest (DESIGN §6, "state residency").
//!
//! A *whole* state ([`State::new`], [`State::restore`]) holds every account, consent and claim:
//! replay and the audit tool run on one. A *partial* state ([`State::new_partial`],
//! [`State::restore_partial`]) holds the log's header and totals, what changed since the last
//! `StateRoot`, and a bounded cache of the rest; the node's store holds everything as of the last
//! saved snapshot, and the state map holds every record as of the last `StateRoot`.
//!
//! The rules stay pure and read only memory. Before a leaf is applied, the caller asks
//! [`State::missing`] what the leaf will read that is not resident, loads exactly that from its
//! store and hands it over with [`State::admit`] (including what the store does *not* hold, so
//! an unknown account is known to be unknown), and repeats until nothing is missing: a
//! revocation names a consent, whose accessor's history the revocation extends, so it takes two
//! rounds. The engine refuses to apply a leaf to a partial state while anything is missing
//! ([`super::EngineError::NotResident`]), so a working set that lacks something can never turn
//! into a wrong rejection.
//!
//! [`State::evict`] drops clean residents beyond a bound. The caller calls it only when every
//! `StateRoot` applied so far is saved: what is clean is then exactly what the store and the
//! map hold, so what is evicted can be loaded back unchanged. What changed since the last
//! `StateRoot` (the dirty sets) and the operator's account are never evicted.
//!
//! The per-party grant lists ([`super::GrantList`]) are kept as lengths only: the positions of
//! the grants made since the last `StateRoot` are remembered for the snapshot
//! ([`State::grant_positions`]), and listing a party's grants is the store's job.

use std::collections::{BTreeMap, BTreeSet};

use super::history::{IndirectParty, direct_parties};
use super::{AccountRecord, ClaimRecord, Consent, GrantList, GrantPosition, State};
use crate::entry::{Body, Leaf};
use crate::keys::PublicKey;

/// What a partial state holds besides its resident records.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Partial {
    /// Keys known to have no account.
    absent_accounts: BTreeSet<PublicKey>,
    /// Indexes known to hold no consent.
    absent_consents: BTreeSet<u64>,
    /// Indexes known to hold no claim.
    absent_claims: BTreeSet<u64>,
    /// Resident grant-list lengths.
    grant_lens: BTreeMap<GrantList, u64>,
    /// The positions of the grants made since the last `StateRoot`, for its snapshot.
    pub(super) new_positions: BTreeMap<u64, Vec<GrantPosition>>,
}

impl Partial {
    /// Where grant `index`, made since the last `StateRoot`, sits in its lists, with their
    /// lengths now.
    pub(super) fn positions(&self, index: u64) -> Vec<GrantPosition> {
        let mut positions = self.new_positions.get(&index).cloned().unwrap_or_default();
        for at in &mut positions {
            at.len = self.grant_lens.get(&at.list).copied().unwrap_or(at.len);
        }
        positions
    }
}

/// What a partial state lacks to apply a leaf ([`State::missing`]): load each from the store.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Needs {
    /// Accounts, by key.
    pub accounts: Vec<PublicKey>,
    /// Consents, by the index of their grant.
    pub consents: Vec<u64>,
    /// Claims, by the index of their `Claim` leaf.
    pub claims: Vec<u64>,
    /// Grant lists, whose lengths number a new grant.
    pub grant_lists: Vec<GrantList>,
}

impl Needs {
    /// Whether nothing is missing.
    pub fn is_empty(&self) -> bool {
        self.accounts.is_empty()
            && self.consents.is_empty()
            && self.claims.is_empty()
            && self.grant_lists.is_empty()
    }
}

impl std::fmt::Display for Needs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} accounts, {} consents, {} claims and {} grant lists not loaded",
            self.accounts.len(),
            self.consents.len(),
            self.claims.len(),
            self.grant_lists.len()
        )
    }
}

/// What the store holds for some [`Needs`], as of the last saved snapshot: `None` where it holds
/// nothing, and a list's length (0 for a list it has never seen).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Loaded {
    /// Accounts and their records.
    pub accounts: Vec<(PublicKey, Option<AccountRecord>)>,
    /// Consents by index.
    pub consents: Vec<(u64, Option<Consent>)>,
    /// Claims by index.
    pub claims: Vec<(u64, Option<ClaimRecord>)>,
    /// Grant-list lengths.
    pub grant_lists: Vec<(GrantList, u64)>,
}

/// How many clean entries of each kind [`State::evict`] leaves resident.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Residency {
    /// Accounts (with the keys known to have none).
    pub accounts: usize,
    /// Consents (with the indexes known to hold none).
    pub consents: usize,
    /// Claims (with the indexes known to hold none).
    pub claims: usize,
    /// Grant-list lengths.
    pub grant_lists: usize,
}

impl Residency {
    /// The same bound for every kind.
    pub fn each(bound: usize) -> Self {
        Self {
            accounts: bound,
            consents: bound,
            claims: bound,
            grant_lists: bound,
        }
    }
}

/// How much [`State::evict`] dropped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Evicted {
    /// Entries dropped, of every kind, absence markers included.
    pub entries: usize,
}

impl State {
    /// An empty partial state, before the genesis leaf: a node whose store will hold the rest.
    pub fn new_partial() -> Self {
        Self {
            partial: Some(Box::default()),
            ..Self::default()
        }
    }

    /// Whether this state holds a working set only ([`State::new_partial`]).
    pub fn is_partial(&self) -> bool {
        self.partial.is_some()
    }

    /// What applying `leaf` would read that this state does not hold; empty for a whole state.
    /// Load it and [`State::admit`] it, then ask again until nothing is missing (a consent or
    /// claim, once loaded, may name one more account).
    pub fn missing(&self, leaf: &Leaf) -> Needs {
        let mut needs = Needs::default();
        let Some(partial) = &self.partial else {
            return needs;
        };
        // A body that does not decode is refused before anything is read.
        let Ok(body) = leaf.decode_body() else {
            return needs;
        };
        let (mut accounts, indirect) = direct_parties(&leaf.signer, &body);
        // A StateRoot names nobody, but its signer's role is checked.
        accounts.push(leaf.signer);
        if let Some(params) = &self.params {
            // An access pays the operator its fee.
            accounts.push(params.log_key);
        }
        match indirect {
            Some(IndirectParty::GrantAccessor { consent }) => {
                self.need_consent(partial, consent, &mut needs, &mut accounts);
            }
            Some(IndirectParty::ClaimSubject { claim }) => match self.claims.get(&claim) {
                Some(c) => accounts.push(c.subject),
                None if partial.absent_claims.contains(&claim) => {}
                None => needs.claims.push(claim),
            },
            None => {}
        }
        match &body {
            Body::Access(access) => {
                if let Some(consent) = access.consent {
                    self.need_consent(partial, consent, &mut needs, &mut accounts);
                }
            }
            Body::GrantConsent(grant) => {
                let lists = [
                    GrantList::BySubject(leaf.signer),
                    grant
                        .accessor
                        .map_or(GrantList::ForAny, GrantList::ForAccessor),
                ];
                needs.grant_lists.extend(
                    lists
                        .into_iter()
                        .filter(|list| !partial.grant_lens.contains_key(list)),
                );
            }
            _ => {}
        }
        for key in accounts {
            if !self.accounts.contains_key(&key)
                && !partial.absent_accounts.contains(&key)
                && !needs.accounts.contains(&key)
            {
                needs.accounts.push(key);
            }
        }
        needs
    }

    fn need_consent(
        &self,
        partial: &Partial,
        index: u64,
        needs: &mut Needs,
        accounts: &mut Vec<PublicKey>,
    ) {
        match self.consents.get(&index) {
            Some(c) => accounts.extend(c.accessor),
            None if partial.absent_consents.contains(&index) => {}
            None => needs.consents.push(index),
        }
    }

    /// Takes in what the store holds for some [`Needs`]. What is already resident is kept as it
    /// is: the resident copy is never older than the store's. Does nothing to a whole state.
    pub fn admit(&mut self, loaded: Loaded) {
        let Some(partial) = self.partial.as_deref_mut() else {
            return;
        };
        take_in(
            &mut self.accounts,
            &mut partial.absent_accounts,
            loaded.accounts,
        );
        take_in(
            &mut self.consents,
            &mut partial.absent_consents,
            loaded.consents,
        );
        take_in(&mut self.claims, &mut partial.absent_claims, loaded.claims);
        for (list, len) in loaded.grant_lists {
            partial.grant_lens.entry(list).or_insert(len);
        }
    }

    /// Drops clean residents beyond `keep` of each kind: the records, consents and claims not
    /// changed since the last `StateRoot` (never the operator's account), the absence markers
    /// and the grant-list lengths. Call it only when every `StateRoot` applied is saved (module
    /// docs). Does nothing to a whole state.
    pub fn evict(&mut self, keep: Residency) -> Evicted {
        let Some(partial) = self.partial.as_deref_mut() else {
            return Evicted::default();
        };
        let operator = self.params.as_ref().map(|p| p.log_key);
        let mut entries = 0;
        entries += trim(&mut self.accounts, keep.accounts, |key| {
            self.dirty.contains(key) || Some(*key) == operator
        });
        entries += trim_set(&mut partial.absent_accounts, keep.accounts);
        entries += trim(&mut self.consents, keep.consents, |index| {
            self.dirty_consents.contains(index)
        });
        entries += trim_set(&mut partial.absent_consents, keep.consents);
        entries += trim(&mut self.claims, keep.claims, |index| {
            self.dirty_claims.contains(index)
        });
        entries += trim_set(&mut partial.absent_claims, keep.claims);
        // A list numbering a grant made since the last StateRoot is dirty too: its length is
        // not saved yet.
        let dirty_lists: BTreeSet<GrantList> = partial
            .new_positions
            .values()
            .flatten()
            .map(|at| at.list)
            .collect();
        entries += trim(&mut partial.grant_lens, keep.grant_lists, |list| {
            dirty_lists.contains(list)
        });
        Evicted { entries }
    }

    /// Resident counts: (accounts, consents, claims).
    pub fn resident(&self) -> (usize, usize, usize) {
        (self.accounts.len(), self.consents.len(), self.claims.len())
    }

    /// Numbers grant `index` in a partial state's lists, whose lengths [`State::missing`] made
    /// resident.
    pub(super) fn number_grant(&mut self, index: u64, consent: &Consent) {
        let Some(partial) = self.partial.as_deref_mut() else {
            return;
        };
        let lists = [
            GrantList::BySubject(consent.subject),
            consent
                .accessor
                .map_or(GrantList::ForAny, GrantList::ForAccessor),
        ];
        let positions = lists
            .into_iter()
            .map(|list| {
                let len = partial.grant_lens.entry(list).or_insert(0);
                let position = *len;
                *len += 1;
                GrantPosition {
                    list,
                    position,
                    len: *len,
                }
            })
            .collect();
        partial.new_positions.insert(index, positions);
    }

    /// Forgets what a partial state remembers only until the next `StateRoot`, and that keys and
    /// indexes just created are absent.
    pub(super) fn settle_partial(&mut self, created: &[PublicKey], index: u64, root: bool) {
        let Some(partial) = self.partial.as_deref_mut() else {
            return;
        };
        for key in created {
            partial.absent_accounts.remove(key);
        }
        partial.absent_consents.remove(&index);
        partial.absent_claims.remove(&index);
        if root {
            partial.new_positions.clear();
        }
    }
}

/// Adds loaded entries to `map`, and those the store does not hold to `absent`, keeping any
/// entry already resident.
fn take_in<K: Ord, V>(
    map: &mut BTreeMap<K, V>,
    absent: &mut BTreeSet<K>,
    loaded: Vec<(K, Option<V>)>,
) {
    for (key, value) in loaded {
        if map.contains_key(&key) {
            continue;
        }
        match value {
            Some(value) => {
                map.insert(key, value);
            }
            None => {
                absent.insert(key);
            }
        }
    }
}

/// Removes entries of `map` that `pinned` does not hold until at most `keep` are left (or only
/// pinned ones); returns how many it removed.
fn trim<K: Ord + Clone, V>(
    map: &mut BTreeMap<K, V>,
    keep: usize,
    pinned: impl Fn(&K) -> bool,
) -> usize {
    if map.len() <= keep {
        return 0;
    }
    let excess = map.len() - keep;
    let doomed: Vec<K> = map
        .keys()
        .filter(|k| !pinned(k))
        .take(excess)
        .cloned()
        .collect();
    for key in &doomed {
        map.remove(key);
    }
    doomed.len()
}

fn trim_set<K: Ord + Clone>(set: &mut BTreeSet<K>, keep: usize) -> usize {
    if set.len() <= keep {
        return 0;
    }
    let excess = set.len() - keep;
    let doomed: Vec<K> = set.iter().take(excess).cloned().collect();
    for key in &doomed {
        set.remove(key);
    }
    doomed.len()
}

//! State snapshots: the changes saved at every `StateRoot` add up to the state, a restored state
//! continues the log exactly as the live one did, and a saved state that disagrees with the log
//! is refused.

mod common;

use std::collections::BTreeMap;

use common::generator::{Generator, seed};
use testigo_ledger::PublicKey;
use testigo_ledger::entry::{Body, BodyKind, Leaf};
use testigo_ledger::map::{JmtStateMap, MemoryMapStore, StateMap as _, account_map_key};
use testigo_ledger::state::{
    AccountRecord, ClaimRecord, Consent, Engine, EngineError, Rejection, RestoreError, State,
    StateHeader,
};

/// Everything saved so far, as a node's store holds it: the latest bytes per key.
#[derive(Clone, Default)]
struct Saved {
    header: Option<Vec<u8>>,
    accounts: BTreeMap<PublicKey, Vec<u8>>,
    consents: BTreeMap<u64, Vec<u8>>,
    claims: BTreeMap<u64, Vec<u8>>,
}

impl Saved {
    fn save(&mut self, state: &State) {
        let changes = state.changes();
        self.header = changes.header.map(|h| h.to_bytes());
        for (key, record) in changes.accounts {
            self.accounts.insert(key, record.to_bytes());
        }
        for (index, consent) in changes.consents {
            self.consents.insert(index, consent.to_bytes());
        }
        for (index, claim) in changes.claims {
            self.claims.insert(index, claim.to_bytes());
        }
    }

    fn restore(&self) -> Result<State, RestoreError> {
        let header = StateHeader::from_bytes(self.header.as_deref().unwrap()).unwrap();
        State::restore(
            header,
            self.accounts
                .iter()
                .map(|(k, b)| (*k, AccountRecord::from_bytes(b).unwrap())),
            self.consents
                .iter()
                .map(|(i, b)| (*i, Consent::from_bytes(b).unwrap())),
            self.claims
                .iter()
                .map(|(i, b)| (*i, ClaimRecord::from_bytes(b).unwrap())),
        )
    }

    /// A copy with the first account record that `pick` selects changed by `change`.
    fn altered(&self, pick: fn(&AccountRecord) -> bool, change: fn(&mut AccountRecord)) -> Saved {
        let (key, mut record) = self
            .accounts
            .iter()
            .map(|(k, b)| (*k, AccountRecord::from_bytes(b).unwrap()))
            .find(|(_, r)| pick(r))
            .expect("an account to alter");
        change(&mut record);
        let mut copy = self.clone();
        copy.accounts.insert(key, record.to_bytes());
        copy
    }

    /// A state map holding every saved record, as the node rebuilds it on start.
    fn map(&self) -> JmtStateMap<MemoryMapStore> {
        let mut map = JmtStateMap::new(MemoryMapStore::new());
        let updates = self
            .accounts
            .iter()
            .map(|(k, b)| (account_map_key(k), Some(b.clone())))
            .collect();
        map.apply(0, updates).unwrap();
        map
    }
}

fn same_contents(restored: &State, live: &State) {
    assert_eq!(restored.next_index(), live.next_index());
    assert_eq!(restored.last_sequenced_at(), live.last_sequenced_at());
    assert_eq!(restored.total_deposits(), live.total_deposits());
    assert_eq!(restored.params(), live.params());
    assert!(restored.accounts().eq(live.accounts()), "accounts differ");
    assert!(restored.consents().eq(live.consents()), "consents differ");
    assert!(restored.claims().eq(live.claims()), "claims differ");
}

fn is_state_root(leaf: &Leaf) -> bool {
    matches!(leaf.decode_body(), Ok(Body::StateRoot(_)))
}

#[test]
fn saved_changes_add_up_and_a_restored_state_continues_the_log() {
    let mut g = Generator::new(seed());
    g.run(3_000);
    g.f.state_root();
    let leaves = g.f.leaves.clone();
    let mut engine = Engine::new(JmtStateMap::new(MemoryMapStore::new()));
    let mut saved = Saved::default();
    let mut roots = 0;
    for (index, leaf) in leaves.iter().enumerate() {
        if is_state_root(leaf) {
            // What the node saves in the StateRoot's commit: the state as of the StateRoot.
            saved.save(engine.state());
            same_contents(&saved.restore().unwrap(), engine.state());
            roots += 1;
            // Restart here: restored state, map rebuilt from the saved records, then this
            // StateRoot and every later leaf under the normal rules.
            if roots % 7 == 0 {
                let mut restarted = Engine::from_parts(saved.restore().unwrap(), saved.map());
                for later in &leaves[index..] {
                    restarted.apply(later, later.sequenced_at).unwrap();
                }
                assert_eq!(restarted.state(), g.f.state(), "seed {}", g.seed);
            }
        }
        engine.apply(leaf, leaf.sequenced_at).unwrap();
    }
    assert!(roots > 20, "only {roots} state roots");
}

#[test]
fn a_saved_state_that_disagrees_with_the_log_is_refused() {
    let mut g = Generator::new(seed());
    g.run(1_500);
    g.f.state_root();
    let leaves = g.f.leaves.clone();
    let last_root = leaves.iter().rposition(is_state_root).unwrap();
    let mut engine = Engine::new(JmtStateMap::new(MemoryMapStore::new()));
    for leaf in &leaves[..last_root] {
        engine.apply(leaf, leaf.sequenced_at).unwrap();
    }
    let mut saved = Saved::default();
    saved.save(engine.state());
    // Save everything (not only the last changes) so the snapshot is whole.
    for (key, record) in engine.state().accounts() {
        saved.accounts.insert(*key, record.to_bytes());
    }
    for (index, consent) in engine.state().consents() {
        saved.consents.insert(index, consent.to_bytes());
    }
    for (index, claim) in engine.state().claims() {
        saved.claims.insert(index, claim.to_bytes());
    }
    let root_leaf = &leaves[last_root];
    assert_eq!(root_leaf.decode_body().unwrap().kind(), BodyKind::StateRoot);

    // Intact: the StateRoot applies.
    let mut intact = Engine::from_parts(saved.restore().unwrap(), saved.map());
    intact.apply(root_leaf, root_leaf.sequenced_at).unwrap();

    // One record changed without breaking conservation (its history head): the state restores,
    // but the StateRoot's map root no longer matches and the leaf is refused.
    let tampered = saved.altered(|r| r.history_len > 1, |r| r.history_head.0[0] ^= 1);
    let mut engine = Engine::from_parts(tampered.restore().unwrap(), tampered.map());
    match engine.apply(root_leaf, root_leaf.sequenced_at) {
        Err(EngineError::Rejected(Rejection::StateRootMismatch { .. })) => {}
        other => panic!("tampered state accepted: {other:?}"),
    }

    // Money moved without a leaf: refused by the invariants before any leaf is applied.
    let richer = saved.altered(|r| r.balance > 0, |r| r.balance += 1);
    assert!(matches!(richer.restore(), Err(RestoreError::Invariant(_))));

    // A claim numbered beyond the state.
    if let Some(claim) = saved.claims.values().next() {
        let mut future = saved.clone();
        future
            .claims
            .insert(intact.state().next_index() + 5, claim.clone());
        assert!(matches!(
            future.restore(),
            Err(RestoreError::FromTheFuture { .. }) | Err(RestoreError::Invariant(_))
        ));
    }
}

#[test]
fn snapshot_encodings_are_versioned_and_canonical() {
    let mut g = Generator::new(seed());
    g.run(600);
    let state = g.f.state();
    let header = state.changes().header.unwrap();
    let bytes = header.to_bytes();
    assert_eq!(bytes[0], testigo_ledger::state::SNAPSHOT_FORMAT);
    assert_eq!(StateHeader::from_bytes(&bytes).unwrap(), header);
    let mut trailing = bytes.clone();
    trailing.push(0);
    assert!(StateHeader::from_bytes(&trailing).is_err());
    let mut other = bytes.clone();
    other[0] = 2;
    assert!(StateHeader::from_bytes(&other).is_err());
    assert!(StateHeader::from_bytes(&[]).is_err());
    if let Some((_, consent)) = state.consents().next() {
        assert_eq!(
            Consent::from_bytes(&consent.to_bytes()).ok().as_ref(),
            Some(consent)
        );
    }
}

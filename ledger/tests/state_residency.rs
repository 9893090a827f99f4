//! A partial state over a store decides exactly as a whole state does.
//!
//! The random log of `state_props` (seeded, `TESTIGO_SEED` reproduces it), every leaf offered,
//! applied and refused alike, is offered again to a partial state whose "store" is the whole
//! state as it was at the last `StateRoot`, the way a node's store holds its last snapshot. The
//! partial state loads only what `State::missing` names and is evicted down to a handful of
//! residents at every `StateRoot`, so nearly every leaf reads something back from the store.
//! Every verdict, every effect, every map root and every new grant's position must be the
//! whole state's.

mod common;

use common::generator::{Generator, seed};
use testigo_ledger::entry::Body;
use testigo_ledger::map::SparseMap;
use testigo_ledger::state::{Engine, EngineError, GrantList, Loaded, Needs, Residency, State};

const ENTRIES: usize = 6_000;

/// What a store as of `saved` (a whole state) answers for `needs`.
fn load(saved: &State, needs: &Needs) -> Loaded {
    let list_len = |list: &GrantList| -> u64 {
        let count = match list {
            GrantList::BySubject(subject) => saved.consents_of(subject).count(),
            GrantList::ForAccessor(accessor) => saved
                .consents()
                .filter(|(_, c)| c.accessor == Some(*accessor))
                .count(),
            GrantList::ForAny => saved
                .consents()
                .filter(|(_, c)| c.accessor.is_none())
                .count(),
        };
        count as u64
    };
    Loaded {
        accounts: needs
            .accounts
            .iter()
            .map(|k| (*k, saved.account(k).cloned()))
            .collect(),
        consents: needs
            .consents
            .iter()
            .map(|i| (*i, saved.consent(*i).cloned()))
            .collect(),
        claims: needs
            .claims
            .iter()
            .map(|i| (*i, saved.claim(*i).cloned()))
            .collect(),
        grant_lists: needs
            .grant_lists
            .iter()
            .map(|l| (*l, list_len(l)))
            .collect(),
    }
}

#[test]
fn a_partial_state_over_its_last_snapshot_decides_as_the_whole_state() {
    let seed = seed();
    let mut g = Generator::new(seed);
    g.run(ENTRIES);
    let attempts = g.f.attempts.clone();

    let mut whole = Engine::new(SparseMap::new());
    let mut partial = Engine::from_parts(State::new_partial(), SparseMap::new());
    let mut saved = State::new();
    let keep = Residency::each(4);
    let (mut loads, mut rounds, mut evicted, mut applied) = (0usize, 0usize, 0usize, 0usize);
    for (n, leaf) in attempts.iter().enumerate() {
        let at = leaf.sequenced_at;
        let is_root = matches!(leaf.decode_body(), Ok(Body::StateRoot(_)));
        if is_root {
            // The snapshot the node writes just before its StateRoot: new grants' positions.
            for (index, _) in whole.state().changes().consents {
                let expected: Vec<_> = whole
                    .state()
                    .grant_positions(index)
                    .into_iter()
                    .filter(|_| saved.consent(index).is_none())
                    .collect();
                assert_eq!(
                    partial.state().grant_positions(index),
                    expected,
                    "seed {seed}: attempt {n}, grant {index}"
                );
            }
        }
        let mut round = 0;
        loop {
            let needs = partial.missing(leaf);
            if needs.is_empty() {
                break;
            }
            round += 1;
            assert!(
                round <= 3,
                "seed {seed}: attempt {n} still lacks {needs} after 3 rounds"
            );
            loads += needs.accounts.len() + needs.consents.len() + needs.claims.len();
            partial.admit(load(&saved, &needs));
        }
        rounds = rounds.max(round);
        let expected = whole.apply(leaf, at);
        let got = partial.apply(leaf, at);
        match (&expected, &got) {
            (Ok(a), Ok(b)) => {
                assert_eq!(a, b, "seed {seed}: attempt {n}: effects differ");
                applied += 1;
            }
            (Err(EngineError::Rejected(a)), Err(EngineError::Rejected(b))) => {
                assert_eq!(a, b, "seed {seed}: attempt {n}: rejections differ");
            }
            _ => panic!("seed {seed}: attempt {n}: whole {expected:?}, partial {got:?}"),
        }
        if is_root && expected.is_ok() {
            saved = whole.state().clone();
            for (key, record) in partial.state().accounts() {
                assert_eq!(
                    saved.account(key),
                    Some(record),
                    "seed {seed}: resident {key} differs"
                );
            }
            evicted += partial.evict(keep).entries;
            let (accounts, consents, claims) = partial.state().resident();
            assert!(
                accounts <= keep.accounts + 1 && consents <= keep.consents && claims <= keep.claims,
                "seed {seed}: {accounts} accounts, {consents} consents, {claims} claims resident"
            );
        }
    }
    eprintln!(
        "seed {seed}: {} attempts, {applied} applied, {loads} loads in up to {rounds} rounds, \
         {evicted} evicted",
        attempts.len()
    );
    assert_eq!(partial.state().next_index(), whole.state().next_index());
    assert!(applied > ENTRIES / 3, "seed {seed}: only {applied} applied");
    assert!(
        loads > ENTRIES / 2,
        "seed {seed}: only {loads} loads: the cache hid the store"
    );
    assert_eq!(
        rounds, 2,
        "seed {seed}: a revocation or settlement takes two rounds"
    );
    assert_eq!(partial.state().check_invariants(), Ok(()));
}

#[test]
fn a_partial_state_refuses_to_apply_what_it_lacks() {
    let mut g = Generator::new(seed());
    g.run(200);
    let mut partial = Engine::from_parts(State::new_partial(), SparseMap::new());
    let genesis = &g.f.attempts[0];
    let err = partial
        .apply(genesis, genesis.sequenced_at)
        .expect_err("the genesis creates an account the state has not looked up");
    let EngineError::NotResident(needs) = err else {
        panic!("expected not_resident, got {err:?}");
    };
    assert_eq!(needs.accounts, vec![genesis.signer]);
    assert_eq!(partial.state().next_index(), 0, "nothing was applied");
    partial.admit(Loaded {
        accounts: vec![(genesis.signer, None)],
        ..Loaded::default()
    });
    partial
        .apply(genesis, genesis.sequenced_at)
        .expect("applies once its signer is known to be new");
}

//! Property test over a long random log (at least 10,000 entries, seeded, reproducible with
//! `TESTIGO_SEED`): after every applied entry every invariant holds (conservation of money,
//! pending = open claims, …); every refused entry leaves the state equal to what it was; every
//! deliberately corrupted entry is refused for exactly the corrupted rule.

mod common;

use common::generator::{Generator, seed};
use testigo_ledger::state::Role;

const ENTRIES: usize = 10_000;

#[test]
fn ten_thousand_random_entries_keep_every_invariant() {
    let seed = seed();
    let mut g = Generator::new(seed);
    g.run(ENTRIES);
    let state = g.f.state();
    assert_eq!(state.check_invariants(), Ok(()), "seed {seed}");
    let rejected: usize = g.rejected.values().sum();
    eprintln!(
        "seed {seed}: {} steps, {} applied, {rejected} refused: {:?}",
        g.steps, g.accepted, g.rejected
    );
    assert_eq!(g.accepted as u64, state.next_index(), "seed {seed}");
    // The mix must exercise both sides and most rules, or the test proves little.
    assert!(
        g.accepted > ENTRIES / 3,
        "seed {seed}: only {} applied",
        g.accepted
    );
    assert!(
        rejected > ENTRIES / 10,
        "seed {seed}: only {rejected} refused"
    );
    assert!(
        g.rejected.len() >= 15,
        "seed {seed}: only {:?}",
        g.rejected.keys()
    );
    assert!(g.state_roots.len() > 50, "seed {seed}");
    // Money moved: subjects earned, claimed and were paid, the operator took fees.
    let total = |f: fn(&testigo_ledger::state::AccountRecord) -> u64, role: Role| -> u128 {
        state
            .accounts()
            .filter(|(_, a)| a.role == role)
            .map(|(_, a)| u128::from(f(a)))
            .sum()
    };
    assert!(
        total(|a| a.settled_payouts, Role::Subject) > 0,
        "seed {seed}"
    );
    assert!(
        total(|a| a.pending_payouts, Role::Subject) > 0,
        "seed {seed}"
    );
    assert!(total(|a| a.fees, Role::Operator) > 0, "seed {seed}");
    // Each party's grants, found through the state's indexes, are exactly those a scan of
    // every grant finds, in index order.
    for (key, account) in state.accounts() {
        let scanned: Vec<u64> = match account.role {
            Role::Subject => state
                .consents()
                .filter(|(_, c)| c.subject == *key)
                .map(|(i, _)| i)
                .collect(),
            _ => state
                .consents()
                .filter(|(_, c)| c.accessor.is_none_or(|a| a == *key))
                .map(|(i, _)| i)
                .collect(),
        };
        let indexed: Vec<u64> = match account.role {
            Role::Subject => state.consents_of(key).map(|(i, _)| i).collect(),
            _ => state.consents_for(key).map(|(i, _)| i).collect(),
        };
        assert_eq!(indexed, scanned, "seed {seed}: grants of {key}");
    }
    assert!(state.consents().count() > 100, "seed {seed}");
}

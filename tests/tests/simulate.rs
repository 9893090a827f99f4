//! `testigo-node simulate` against a real node: every valid entry of a seeded telecom day is
//! sequenced, every invalid one is refused with the expected code, and the log it leaves replays
//! to the same money.

use testigo_ledger::entry::{BodyKind, Leaf};
use testigo_ledger::state::{Role, replay};
use testigo_node::simulate::{SimulateConfig, run};
use testigo_tests::cluster::TestNode;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_simulated_day_is_sequenced_refused_as_expected_and_replays() {
    let node = TestNode::start().await;
    let config = SimulateConfig {
        node: format!("http://{}", node.addr),
        data_dir: node.config.data_dir.clone(),
        subjects: 40,
        accessors: 3,
        hours: 24,
        seed: 5,
        rate: 0.5,
    };
    config.validate().unwrap();
    let summary = run(&config).await.unwrap();
    assert!(summary.mismatches.is_empty(), "{:?}", summary.mismatches);
    assert!(summary.refusals.len() >= 5, "{:?}", summary.refusals);
    assert!(
        summary.entries[&BodyKind::Access] > 50,
        "{:?}",
        summary.entries
    );

    // The final checkpoint it reports covers everything: nothing is stored beyond it.
    let size = summary.final_checkpoint().unwrap();
    assert_eq!(node.tree_size().await, size);
    let sequenced: u64 = summary.entries.values().sum();
    assert!(
        size > sequenced,
        "{size} leaves for {sequenced} entries and their StateRoots"
    );

    // Replayed from leaf 0 by the ledger alone: every rule and state root holds, and the
    // subscribers' earnings plus the operator's fees are what the simulator paid.
    let leaves = node.leaves(0, size).await;
    let leaves = leaves
        .iter()
        .enumerate()
        .map(|(i, bytes)| (i as u64, Leaf::from_bytes(bytes).unwrap()));
    let outcome = replay(leaves).unwrap();
    assert_eq!(outcome.state.check_invariants(), Ok(()));
    let (paid, fees) = summary.paid_and_fees();
    let operator_fees: u64 = outcome
        .state
        .accounts()
        .filter(|(_, a)| a.role == Role::Operator)
        .map(|(_, a)| a.fees)
        .sum();
    assert_eq!(operator_fees, fees);
    let earned: u64 = outcome
        .state
        .accounts()
        .filter(|(_, a)| a.role == Role::Subject)
        .map(|(_, a)| a.balance + a.pending_payouts + a.settled_payouts)
        .sum();
    assert_eq!(earned + fees, paid);
}

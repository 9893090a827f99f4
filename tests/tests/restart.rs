//! A node stopped and started again on the same data directory, on either engine, serves the same
//! log: the same leaves at the same indices, byte for byte, a checkpoint consistent with the old
//! one, the same nonces, and the original receipt for a retried entry.

use testigo_ledger::Blake3;
use testigo_ledger::api::{ConsistencyProof, Wait};
use testigo_ledger::verify::verify_consistency;
use testigo_node::StorageEngine;
use testigo_tests::cluster::{Options, TestNode};
use testigo_tests::fixtures::{Grant, Party, Use, deposit, enroll, register};
use testigo_tests::probe::{AnswerExt as _, Probe as _};

async fn restart_keeps_everything(storage: StorageEngine) {
    let node = TestNode::start_with(Options {
        storage,
        ..Options::default()
    })
    .await;
    let mut op = Party::operator();
    let mut alice = Party::fresh(10);
    let mut acme = Party::fresh(20);
    let enrolment = op.entry(enroll(alice.public()));
    let first = node.client.sequence(&enrolment, Wait::Sequenced).await;
    for leaf in [
        op.entry(register(acme.public())),
        op.entry(deposit(acme.public(), 100, "wire")),
    ] {
        node.client.sequence(&leaf, Wait::Sequenced).await;
    }
    let grant = node
        .client
        .sequence(
            &alice.entry(Grant::location_ads(None, 1).body()),
            Wait::Sequenced,
        )
        .await
        .index;
    // The last entry is only sequenced: stopping must still close its batch.
    let last = node
        .client
        .sequence(
            &acme.entry(Use::consented(alice.public(), grant, 1).body()),
            Wait::Sequenced,
        )
        .await;
    let stopped = node.stop().await;

    let node = stopped.restart().await;
    let (size, root) = node.checkpoint_size_root().await;
    assert!(
        size > last.index,
        "the open batch was checkpointed on the way down"
    );
    assert_eq!(node.tree_size().await, size);
    let before = node.leaves(0, size).await;

    let node = node.stop().await.restart().await;
    assert_eq!(node.checkpoint_size_root().await, (size, root));
    assert_eq!(
        node.leaves(0, size).await,
        before,
        "same leaves, same bytes"
    );
    let retried = node.client.sequence(&enrolment, Wait::Sequenced).await;
    assert!(retried.duplicate);
    assert_eq!(
        (retried.index, retried.leaf_hash),
        (first.index, first.leaf_hash)
    );
    let next_nonce = node.client.nonce_as(&node.operator, &acme.public()).await;
    assert_eq!(next_nonce, acme.nonce);

    // The log goes on where it stopped, consistently with the checkpoint before the restarts.
    let next = node
        .client
        .sequence(
            &acme.entry(Use::consented(alice.public(), grant, 1).body()),
            Wait::Checkpointed,
        )
        .await;
    assert_eq!(next.index, size);
    let (new_size, new_root) = node.checkpoint_size_root().await;
    let proof: ConsistencyProof = node
        .client
        .get(&format!("/v1/proof/consistency?from={size}&to={new_size}"))
        .await
        .ok()
        .json();
    verify_consistency(&Blake3, size, new_size, &root, &new_root, &proof.path)
        .expect("the new checkpoint extends the old one");
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_on_redb_keeps_everything() {
    restart_keeps_everything(StorageEngine::Redb).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_on_sled_keeps_everything() {
    restart_keeps_everything(StorageEngine::Sled).await;
}

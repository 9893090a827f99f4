//! Every entry kind through HTTP, answered at `wait=sequenced` and at `wait=checkpointed`; the
//! sequencer's own StateRoots; the event stream; the metrics.

use testigo_ledger::api::Wait;
use testigo_ledger::entry::{Body, BodyKind, Leaf};
use testigo_ledger::state::AccountRecord;
use testigo_ledger::verify::verify_inclusion;
use testigo_ledger::{Blake3, TreeHasher as _};
use testigo_tests::cluster::TestNode;
use testigo_tests::fixtures::{
    Grant, Party, Use, claim, deposit, enroll, register, revoke, settle,
};
use testigo_tests::probe::{AnswerExt as _, Probe as _};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_is_sequenced_checkpointed_and_published() {
    let node = TestNode::start().await;
    let client = &node.client;
    let mut events = client.events().await.expect("subscribe to /v1/events");
    let mut operator = Party::operator();
    let mut alice = Party::fresh(10);
    let mut acme = Party::fresh(20);

    // Operator entries, alternating the two waits.
    let enrolled = client
        .sequence(&operator.entry(enroll(alice.public())), Wait::Checkpointed)
        .await;
    let note = enrolled
        .checkpoint
        .clone()
        .expect("checkpointed answer has its note");
    let proof = enrolled.inclusion.clone().expect("and its inclusion proof");
    let (size, root) = node.checkpoint_size_root().await;
    assert!(proof.size <= size && enrolled.index < proof.size);
    assert!(note.starts_with(&format!("testigo.test/e2e\n{}\n", proof.size)));
    if proof.size == size {
        verify_inclusion(
            &Blake3,
            enrolled.index,
            size,
            &enrolled.leaf_hash,
            &proof.path,
            &root,
        )
        .expect("inclusion proof verifies against the checkpoint");
    }
    let registered = client
        .sequence(&operator.entry(register(acme.public())), Wait::Sequenced)
        .await;
    assert!(registered.index > enrolled.index);
    assert!(registered.checkpoint.is_none() && registered.inclusion.is_none());
    client
        .sequence(
            &operator.entry(deposit(acme.public(), 1_000, "wire 1")),
            Wait::Sequenced,
        )
        .await;
    // The operator funds its own account for its own paid uses.
    client
        .sequence(
            &operator.entry(deposit(operator.public(), 500, "own budget")),
            Wait::Checkpointed,
        )
        .await;

    // A subject grants, an accessor uses the grant, the operator uses data under another basis.
    let grant = client
        .sequence(
            &alice.entry(Grant::location_ads(Some(acme.public()), 40).body()),
            Wait::Sequenced,
        )
        .await;
    let consented = client
        .sequence(
            &acme.entry(Use::consented(alice.public(), grant.index, 40).body()),
            Wait::Checkpointed,
        )
        .await;
    assert!(consented.inclusion.is_some());
    let own_use = client
        .sequence(
            &operator.entry(Use::legitimate_interest(alice.public(), 20).body()),
            Wait::Sequenced,
        )
        .await;
    assert!(own_use.index > consented.index);
    client
        .sequence(&alice.entry(revoke(grant.index)), Wait::Sequenced)
        .await;
    // 5% fee: alice earned 38 + 19.
    let claimed = client
        .sequence(&alice.entry(claim(50)), Wait::Checkpointed)
        .await;
    let settled = client
        .sequence(
            &operator.entry(settle(claimed.index, "sepa 77")),
            Wait::Checkpointed,
        )
        .await;
    let last_proof = settled.inclusion.expect("checkpointed");

    // The log holds every kind, a StateRoot closes every checkpoint, and each commits its index.
    let (size, _) = node.checkpoint_size_root().await;
    assert!(size >= last_proof.size);
    let leaves: Vec<Leaf> = node
        .leaves(0, size)
        .await
        .iter()
        .map(|b| Leaf::from_bytes(b).expect("stored leaf parses"))
        .collect();
    let mut kinds: Vec<BodyKind> = Vec::new();
    for (index, leaf) in (0u64..).zip(&leaves) {
        let body = leaf.decode_body().expect("stored body decodes");
        if let Body::StateRoot(root) = &body {
            assert_eq!(
                root.as_of, index,
                "a StateRoot commits the leaves before it"
            );
            assert_eq!(leaf.signer, operator.public());
        }
        if index > 0 {
            assert!(leaf.sequenced_at >= leaves[index as usize - 1].sequenced_at);
        }
        kinds.push(body.kind());
    }
    for kind in BodyKind::ALL {
        assert!(kinds.contains(&kind), "no {kind} in the log");
    }
    assert_eq!(kinds.last(), Some(&BodyKind::StateRoot));
    let settled_leaf = &leaves[settled.index as usize];
    assert_eq!(
        Blake3.hash_leaf(&settled_leaf.to_bytes()),
        settled.leaf_hash
    );

    // Balances as committed: alice earned 57, claimed and was paid 50.
    let account = client.account_as(&alice.key, &alice.public()).await;
    assert_eq!(account.checkpoint_size, size);
    assert_eq!(
        client.nonce_as(&alice.key, &alice.public()).await,
        alice.nonce
    );
    let record = AccountRecord::from_bytes(&account.record.expect("alice is in the map").0)
        .expect("record decodes");
    assert_eq!(
        (
            record.balance,
            record.pending_payouts,
            record.settled_payouts
        ),
        (7, 0, 50)
    );

    // The event stream delivered the checkpoints as they were signed.
    let mut seen = 0;
    while seen < size {
        let event = events
            .next_checkpoint()
            .await
            .expect("read the event stream")
            .expect("stream open");
        assert!(
            event
                .note
                .starts_with(&format!("testigo.test/e2e\n{}\n", event.size))
        );
        seen = event.size;
    }
    assert_eq!(seen, size);

    // Metrics count entries by kind, the sequencer's own StateRoots included.
    let metrics = client.get("/metrics").await.ok().text();
    for (kind, count) in [
        ("genesis", 1),
        ("enroll_subject", 1),
        ("register_accessor", 1),
        ("deposit", 2),
        ("grant_consent", 1),
        ("access", 2),
        ("revoke_consent", 1),
        ("claim", 1),
        ("payout_settled", 1),
    ] {
        let line = format!("testigo_entries_total{{kind=\"{kind}\"}} {count}");
        assert!(metrics.contains(&line), "missing {line} in\n{metrics}");
    }
    let roots = kinds.iter().filter(|k| **k == BodyKind::StateRoot).count();
    let line = format!("testigo_entries_total{{kind=\"state_root\"}} {roots}");
    assert!(metrics.contains(&line), "missing {line} in\n{metrics}");

    // A clean stop ends the event stream instead of waiting on it forever.
    node.stop().await;
    while events
        .next_checkpoint()
        .await
        .expect("read the event stream")
        .is_some()
    {}
}

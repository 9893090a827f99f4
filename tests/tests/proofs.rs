//! Proofs from the API verify with `ledger::verify` alone: inclusion of every leaf, consistency
//! between checkpoints, an account's record against the StateRoot that closes the checkpoint,
//! and its history chained into the committed head.

use hyper::StatusCode;
use testigo_ledger::api::key_segment;
use testigo_ledger::api::{ConsistencyProof, History, InclusionProof, Wait};
use testigo_ledger::entry::Leaf;
use testigo_ledger::map::MapProof;
use testigo_ledger::verify::{
    HistoryCommitment, HistoryEntry, TreeHead, verify_account_at_state_root, verify_consistency,
    verify_history, verify_inclusion,
};
use testigo_ledger::{Blake3, TreeHasher as _};
use testigo_tests::cluster::TestNode;
use testigo_tests::fixtures::{Grant, ORIGIN, Party, Use, deposit, enroll, public, register};
use testigo_tests::probe::{AnswerExt as _, Probe as _};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_proof_the_api_serves_verifies() {
    let node = TestNode::start().await;
    let client = &node.client;
    let mut op = Party::operator();
    let mut alice = Party::fresh(10);
    let mut acme = Party::fresh(20);
    for leaf in [
        op.entry(enroll(alice.public())),
        op.entry(register(acme.public())),
        op.entry(deposit(acme.public(), 10_000, "wire")),
    ] {
        client.sequence(&leaf, Wait::Checkpointed).await;
    }
    let (from, from_root) = node.checkpoint_size_root().await;
    let grant = client
        .sequence(
            &alice.entry(Grant::location_ads(None, 3).body()),
            Wait::Sequenced,
        )
        .await;
    // Enough accesses for alice's history to span more than one checkpoint and proof depth.
    for round in 0..3 {
        let leaves: Vec<Leaf> = (0..20)
            .map(|_| acme.entry(Use::consented(alice.public(), grant.index, 3).body()))
            .collect();
        let wait = if round == 2 {
            Wait::Checkpointed
        } else {
            Wait::Sequenced
        };
        client.batch_json(&leaves, wait).await;
    }
    let (size, root) = node.checkpoint_size_root().await;
    assert!(size > from);

    // Inclusion of every leaf in the latest checkpoint, with the hash of the leaf as stored.
    let leaves = node.leaves(0, size).await;
    for (index, bytes) in (0u64..).zip(&leaves) {
        let proof: InclusionProof = client
            .get(&format!("/v1/proof/inclusion?index={index}&size={size}"))
            .await
            .ok()
            .json();
        assert_eq!(proof.leaf_hash, Blake3.hash_leaf(bytes));
        verify_inclusion(&Blake3, index, size, &proof.leaf_hash, &proof.path, &root)
            .unwrap_or_else(|e| panic!("leaf {index}: {e}"));
    }
    let answer = client
        .get(&format!("/v1/proof/inclusion?index={size}&size={size}"))
        .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.error().code, "invalid_range");

    // The older checkpoint is a prefix of the newer one.
    let proof: ConsistencyProof = client
        .get(&format!("/v1/proof/consistency?from={from}&to={size}"))
        .await
        .ok()
        .json();
    verify_consistency(&Blake3, from, size, &from_root, &root, &proof.path)
        .expect("consistency proof verifies");

    // Alice's record against the map root of the StateRoot that ends the checkpoint, from what
    // she may read: the answer carries that StateRoot leaf and its inclusion proof.
    let account = client.account_as(&alice.key, &alice.public()).await;
    assert_eq!(account.checkpoint_size, size);
    let state_root_leaf = &account.state_root.leaf.0;
    assert_eq!(state_root_leaf, &leaves[size as usize - 1]);
    let inclusion = &account.state_root.inclusion;
    assert_eq!((inclusion.index, inclusion.size), (size - 1, size));
    verify_inclusion(
        &Blake3,
        size - 1,
        size,
        &Blake3.hash_leaf(state_root_leaf),
        &inclusion.path,
        &root,
    )
    .expect("the StateRoot leaf is the checkpoint's last");
    let record_bytes = account.record.expect("alice is committed").0;
    let map_proof = MapProof::from_bytes(&account.map_proof.0).expect("map proof decodes");
    let log_key = public(&node.operator);
    let (record, as_of) = verify_account_at_state_root(
        state_root_leaf,
        ORIGIN,
        &log_key,
        &alice.public(),
        Some(&record_bytes),
        &map_proof,
    )
    .expect("account proof verifies");
    let record = record.expect("a record");
    assert_eq!(as_of, size - 1);
    let mut tampered = record_bytes.clone();
    *tampered.last_mut().expect("non-empty") ^= 1;
    assert!(
        verify_account_at_state_root(
            state_root_leaf,
            ORIGIN,
            &log_key,
            &alice.public(),
            Some(&tampered),
            &map_proof
        )
        .is_err()
    );
    // 60 accesses at 3; 5% of 3 rounds down to no fee.
    assert_eq!(record.balance, 180);

    // Her history, page by page, verified as complete against the committed head and length.
    let path = format!("/v1/accounts/{}/history", key_segment(&alice.public()));
    let (mut entries, mut next) = (Vec::new(), Some(0u64));
    while let Some(from) = next {
        let page: History = client
            .get_signed_as(&alice.key, &format!("{path}?from={from}"))
            .await
            .ok()
            .json();
        assert_eq!((page.from, page.checkpoint_size), (from, size));
        entries.extend(page.entries.into_iter().map(|e| HistoryEntry {
            index: e.inclusion.index,
            leaf: e.leaf.0,
            proof: e.inclusion.path,
        }));
        next = page.next;
    }
    let tree = TreeHead { size, root };
    let committed = HistoryCommitment::of(&record);
    let verified = verify_history(&alice.public(), &committed, as_of, &tree, &entries)
        .expect("the history is the committed one");
    // Enrolment, grant and 60 accesses.
    assert_eq!(verified.len(), 62);
    let mut short = entries.clone();
    short.remove(5);
    assert!(
        verify_history(&alice.public(), &committed, as_of, &tree, &short).is_err(),
        "a history with a leaf left out is refused"
    );
}

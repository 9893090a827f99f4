//! `GET /v1/checkpoints`: every checkpoint the log published, paged, so that a monitor or an
//! auditor can check each one (signature, and consistency with the next), not only the latest.

use futures::TryStreamExt as _;
use testigo_ledger::Blake3;
use testigo_ledger::api::Wait;
use testigo_ledger::checkpoint::verify_checkpoint;
use testigo_ledger::verify::verify_consistency;
use testigo_tests::cluster::TestNode;
use testigo_tests::fixtures::{ORIGIN, Party, enroll, public};
use testigo_tests::probe::Probe as _;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_published_checkpoint_is_served_in_pages_and_each_verifies() {
    let node = TestNode::start().await;
    let mut op = Party::operator();
    // One checkpoint per entry (each waits for its own): more than one page of 256.
    for n in 0..270u16 {
        let mut seed = [0xc4; 32];
        seed[..2].copy_from_slice(&n.to_be_bytes());
        let subject = public(&ed25519_dalek::SigningKey::from_bytes(&seed));
        node.client
            .sequence(&op.entry(enroll(subject)), Wait::Checkpointed)
            .await;
    }
    let first_page = node.client.checkpoints(0).await.unwrap();
    assert_eq!(first_page.checkpoints.len(), 256);
    assert!(first_page.next.is_some());

    let all: Vec<_> = node.client.checkpoints_from(0).try_collect().await.unwrap();
    assert!(all.len() > 256, "{} checkpoints", all.len());
    let (latest_note, latest) = node.checkpoint().await;
    assert_eq!(all.last().unwrap().note, latest_note);
    let log_key = public(&node.operator);
    let mut previous: Option<(u64, testigo_ledger::Hash)> = None;
    for entry in &all {
        let checkpoint = verify_checkpoint(entry.note.as_bytes(), ORIGIN, &log_key)
            .unwrap_or_else(|e| panic!("checkpoint {}: {e}", entry.size));
        assert_eq!(checkpoint.size(), entry.size);
        if let Some((size, root)) = previous {
            assert!(entry.size > size, "ascending");
            let proof = node.client.consistency(size, entry.size).await.unwrap();
            verify_consistency(
                &Blake3,
                size,
                entry.size,
                &root,
                checkpoint.root(),
                &proof.path,
            )
            .unwrap_or_else(|e| panic!("{size} -> {}: {e}", entry.size));
        }
        previous = Some((entry.size, *checkpoint.root()));
    }
    assert_eq!(previous.map(|(s, _)| s), Some(latest.size()));

    // From the middle: only what is at or after it.
    let middle = all[100].size;
    let tail: Vec<_> = node
        .client
        .checkpoints_from(middle)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(tail, all[100..].to_vec());
}

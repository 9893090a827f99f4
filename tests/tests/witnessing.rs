//! Replication and witnessing over libp2p (DESIGN §5, §7): one primary and three witnesses,
//! quorum 2, on loopback. Traffic flows; every checkpoint becomes witnessed; `wait=witnessed`
//! answers with a checkpoint the quorum cosigned; and each witness, from its own store, answers
//! proofs, accounts and histories byte for byte as the primary does.

use testigo_ledger::PublicKey;
use testigo_ledger::api::{CheckpointPage, Wait, key_segment};
use testigo_ledger::checkpoint::{WitnessKey, verify_witnessed};
use testigo_ledger::verify::verify_inclusion;
use testigo_ledger::{Blake3, TreeHasher as _};
use testigo_tests::cluster::{Cluster, ClusterOptions};
use testigo_tests::fixtures::{Grant, ORIGIN, Party, Use, deposit, enroll, public, register};
use testigo_tests::probe::{AnswerExt as _, Probe as _};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_witnesses_verify_cosign_and_serve_the_primarys_answers() {
    let cluster = Cluster::start(ClusterOptions::default()).await;
    let primary = &cluster.primary;
    let client = &primary.client;
    let log: testigo_ledger::api::LogInfo = client.get("/v1/log").await.ok().json();
    assert_eq!(log.quorum, 2);
    let witnesses: Vec<WitnessKey> = log
        .witnesses
        .iter()
        .map(|w| WitnessKey {
            name: w.name.clone(),
            key: w.key,
        })
        .collect();
    let log_key: PublicKey = public(&primary.operator);

    // Traffic, every entry waiting for the quorum: each checkpoint is witnessed before the next.
    let mut operator = Party::operator();
    let mut alice = Party::fresh(10);
    let mut acme = Party::fresh(20);
    let mut answers = Vec::new();
    for leaf in [
        operator.entry(enroll(alice.public())),
        operator.entry(register(acme.public())),
        operator.entry(deposit(acme.public(), 1_000, "wire 1")),
    ] {
        answers.push(client.sequence(&leaf, Wait::Witnessed).await);
    }
    let grant = client
        .sequence(
            &alice.entry(Grant::location_ads(Some(acme.public()), 40).body()),
            Wait::Witnessed,
        )
        .await;
    let used = client
        .sequence(
            &acme.entry(Use::consented(alice.public(), grant.index, 40).body()),
            Wait::Witnessed,
        )
        .await;
    answers.push(grant);
    answers.push(used);
    for answer in &answers {
        let note = answer
            .checkpoint
            .as_deref()
            .expect("a witnessed answer has its note");
        let (checkpoint, cosigners) =
            verify_witnessed(note.as_bytes(), ORIGIN, &log_key, &witnesses, 2)
                .expect("the answer's checkpoint carries the quorum");
        assert!(cosigners.len() >= 2, "{cosigners:?}");
        let proof = answer.inclusion.as_ref().expect("and its inclusion proof");
        assert_eq!(proof.size, checkpoint.size());
        verify_inclusion(
            &Blake3,
            answer.index,
            checkpoint.size(),
            &answer.leaf_hash,
            &proof.path,
            checkpoint.root(),
        )
        .expect("the inclusion proof holds against the witnessed checkpoint");
    }

    // A batch at wait=witnessed too.
    let batch: Vec<_> = (30..40)
        .map(|seed| operator.entry(enroll(Party::fresh(seed).public())))
        .collect();
    let results = client.batch_json(&batch, Wait::Witnessed).await;
    assert_eq!(results.results.len(), batch.len());

    // The primary serves the newest witnessed checkpoint, with a line per valid cosignature.
    let size = primary.checkpoint_size_root().await.0;
    let served = cluster.witnessed(size).await;
    let (checkpoint, _) = verify_witnessed(served.as_bytes(), ORIGIN, &log_key, &witnesses, 2)
        .expect("GET /v1/checkpoint is witnessed");
    assert_eq!(checkpoint.size(), size);

    // Every checkpoint since the witnesses joined is witnessed.
    let page: CheckpointPage = client.get("/v1/checkpoints?from=0").await.ok().json();
    let first_witnessed = page
        .checkpoints
        .iter()
        .position(|c| verify_witnessed(c.note.as_bytes(), ORIGIN, &log_key, &witnesses, 2).is_ok())
        .expect("some checkpoint is witnessed");
    for c in &page.checkpoints[first_witnessed..] {
        verify_witnessed(c.note.as_bytes(), ORIGIN, &log_key, &witnesses, 2)
            .unwrap_or_else(|e| panic!("checkpoint {} is not witnessed: {e}", c.size));
    }

    // Each witness answers from its own copy exactly as the primary does.
    let regulator = &primary.regulator;
    let accounts = [alice.public(), acme.public(), operator.public()];
    let mut paths = vec![
        "/v1/log".to_owned(),
        format!("/v1/proof/consistency?from=1&to={size}"),
        format!("/v1/proof/consistency?from={}&to={size}", size / 2),
    ];
    for index in [0, 1, size / 2, size - 1] {
        paths.push(format!("/v1/proof/inclusion?index={index}&size={size}"));
    }
    let mut signed = Vec::new();
    for account in accounts {
        let key = key_segment(&account);
        signed.push(format!("/v1/accounts/{key}?size={size}"));
        signed.push(format!("/v1/accounts/{key}/history?from=0&size={size}"));
    }
    signed.push(format!("/v1/entries?start=0&end={size}"));
    for witness in &cluster.witnesses {
        witness.caught_up(size).await;
        for path in &paths {
            let ours = client.get(path).await.ok();
            let theirs = witness.client.get(path).await.ok();
            assert_eq!(theirs.body, ours.body, "{path}");
        }
        for path in &signed {
            let ours = client.get_signed_as(regulator, path).await.ok();
            let theirs = witness.client.get_signed_as(regulator, path).await.ok();
            assert_eq!(theirs.body, ours.body, "{path}");
        }
        // A witness sequences nothing.
        let refused = witness
            .client
            .submit_raw(
                &operator.attempt(enroll(Party::fresh(50).public())),
                Wait::Sequenced,
            )
            .await;
        assert_eq!(refused.error().code, "not_implemented");
    }
    let leaf = primary.leaves(size - 1, size).await.remove(0);
    assert_eq!(
        Blake3.hash_leaf(&leaf),
        Blake3.hash_leaf(&cluster.witnesses[0].leaves(size - 1, size).await[0])
    );
}

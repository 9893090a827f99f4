//! No published checkpoint is lost with the primary's disk (issue 9 point 5): after
//! `wait=witnessed` answers, the primary's data directory is deleted, rebuilt from a witness with
//! `testigo_node::restore` (what `testigo-node restore` runs) and the operator's backup of the log
//! key, and started again: every acknowledged entry is proven against the checkpoint its caller
//! was given, every checkpoint published before is served again with the same root, and the new
//! checkpoints are consistent with all of them.

use testigo_ledger::api::{CheckpointEntry, Wait};
use testigo_ledger::checkpoint::verify_checkpoint;
use testigo_ledger::verify::{verify_consistency, verify_inclusion};
use testigo_ledger::{Blake3, PublicKey};
use testigo_node::{Config, KeyFile};
use testigo_tests::cluster::{Cluster, ClusterOptions, TestNode};
use testigo_tests::fixtures::{ORIGIN, Party, public};

/// Every checkpoint `node` publishes, with its verified root.
async fn published(
    node: &TestNode,
    log_key: &PublicKey,
) -> Vec<(CheckpointEntry, testigo_ledger::Hash)> {
    let mut all = Vec::new();
    let mut next = Some(0);
    while let Some(from) = next {
        let page = node
            .client
            .checkpoints(from)
            .await
            .expect("GET /v1/checkpoints");
        next = page.next;
        for c in page.checkpoints {
            let root = *verify_checkpoint(c.note.as_bytes(), ORIGIN, log_key)
                .expect("a checkpoint of the log")
                .root();
            all.push((c, root));
        }
    }
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_primary_rebuilt_from_a_witness_keeps_every_published_checkpoint() {
    let cluster = Cluster::start(ClusterOptions {
        witnesses: 2,
        quorum: 1,
        ..ClusterOptions::default()
    })
    .await;
    let Cluster {
        primary, witnesses, ..
    } = cluster;
    let log_key = public(&primary.operator);
    let mut operator = Party::operator();
    let mut acknowledged = Vec::new();
    for seed in 10..16 {
        acknowledged.push(
            primary
                .enroll_fresh(&mut operator, seed, Wait::Witnessed)
                .await,
        );
    }
    let before = published(&primary, &log_key).await;
    let (latest, _) = before.last().expect("checkpoints").clone();
    for witness in &witnesses {
        witness.caught_up(latest.size).await;
    }

    // The disk is lost; the operator kept the log key and the p2p key elsewhere.
    let p2p_listen = primary.p2p_peer().await.addr.expect("listen address");
    let stopped = primary.stop().await;
    let config: Config = stopped.config().clone();
    let backup = config.data_dir.with_extension("log-key-backup");
    std::fs::copy(config.key_path(), &backup).expect("back up the log key");
    let log_key_backup = KeyFile::load(&backup).expect("log key backup");
    let p2p_backup = KeyFile::load(&config.p2p_key_path()).expect("p2p key");
    std::fs::remove_dir_all(&config.data_dir).expect("delete the data directory");

    let from = format!("http://{}", witnesses[0].addr);
    let restored =
        testigo_node::restore::restore(&config, &from, log_key_backup, Some(p2p_backup), |_, _| {})
            .await
            .expect("restored from the witness");
    assert_eq!(restored.leaves, latest.size);
    // Restoring into a directory that holds a log is refused, and changes nothing.
    let key = KeyFile::load(&backup).expect("log key backup");
    let again = testigo_node::restore::restore(&config, &from, key, None, |_, _| {})
        .await
        .expect_err("a second restore into the same directory");
    assert!(again.to_string().contains("not empty"), "{again}");

    // Started again where its witnesses expect it.
    let primary = stopped
        .restart_with(Config {
            p2p_listen,
            ..config
        })
        .await;
    let after = published(&primary, &log_key).await;
    for (old, root) in &before {
        let (_, restored_root) = after
            .iter()
            .find(|(c, _)| c.size == old.size)
            .unwrap_or_else(|| panic!("checkpoint {} lost", old.size));
        assert_eq!(restored_root, root, "checkpoint {} changed", old.size);
    }
    for answer in &acknowledged {
        let size = answer.inclusion.as_ref().expect("its proof").size;
        let (_, root) = before
            .iter()
            .find(|(c, _)| c.size == size)
            .expect("the caller's checkpoint was published");
        let proof = primary
            .client
            .inclusion(answer.index, size)
            .await
            .expect("the restored primary proves the entry");
        verify_inclusion(
            &Blake3,
            answer.index,
            size,
            &answer.leaf_hash,
            &proof.path,
            root,
        )
        .expect("the acknowledged entry is in the restored log");
    }

    // New checkpoints, witnessed again, extend every old one.
    let newer = primary
        .enroll_fresh(&mut operator, 30, Wait::Witnessed)
        .await;
    let size = newer.inclusion.as_ref().expect("its proof").size;
    let new_root = *verify_checkpoint(
        published(&primary, &log_key)
            .await
            .iter()
            .find(|(c, _)| c.size == size)
            .expect("the new checkpoint")
            .0
            .note
            .as_bytes(),
        ORIGIN,
        &log_key,
    )
    .expect("signed")
    .root();
    for (old, root) in &before {
        let proof = primary
            .client
            .consistency(old.size, size)
            .await
            .expect("a consistency proof");
        verify_consistency(&Blake3, old.size, size, root, &new_root, &proof.path)
            .unwrap_or_else(|e| panic!("checkpoint {} is not extended: {e}", old.size));
    }
}

//! Never serve a wrong byte: single-byte flips at seeded offsets across a stopped node's store
//! files (on copies), on both engines. For every flip the node either refuses to start, naming
//! what is wrong, or answers a fixed set of requests byte for byte as the undamaged node does,
//! or answers `storage_corrupt` where the damage is. Anything else — a different answer, an
//! `internal` error, a panic — fails the test.
//!
//! `TESTIGO_CORRUPTION_FLIPS` sets the flips per engine (default 24, a few seconds each in CI;
//! the README gives a longer run).

use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::{Rng as _, SeedableRng as _};
use testigo_ledger::api::{Wait, key_segment};
use testigo_node::StorageEngine;
use testigo_tests::cluster::{Options, Stopped, TestNode};
use testigo_tests::fixtures::{Grant, Party, Use, claim, deposit, enroll, register, revoke};
use testigo_tests::probe::Probe as _;

const SEED: u64 = 0x5eed_f11b;

/// A log of a few checkpoints: subjects, accessors, grants, accesses, a revocation, a claim.
async fn populated(storage: StorageEngine) -> (Stopped, Vec<String>) {
    let node = TestNode::start_with(Options {
        storage,
        ..Options::default()
    })
    .await;
    let mut op = Party::operator();
    let mut subjects: Vec<Party> = (0..3).map(|i| Party::fresh(40 + i)).collect();
    let mut acme = Party::fresh(60);
    for s in &subjects {
        node.client
            .sequence(&op.entry(enroll(s.public())), Wait::Sequenced)
            .await;
    }
    node.client
        .sequence(&op.entry(register(acme.public())), Wait::Sequenced)
        .await;
    node.client
        .sequence(
            &op.entry(deposit(acme.public(), 10_000, "wire")),
            Wait::Checkpointed,
        )
        .await;
    let mut grants = Vec::new();
    for s in &mut subjects {
        let grant = s.entry(Grant::location_ads(None, 2).body());
        grants.push(node.client.sequence(&grant, Wait::Sequenced).await.index);
    }
    for round in 0..12 {
        for (s, grant) in subjects.iter().zip(&grants) {
            let access = acme.entry(Use::consented(s.public(), *grant, 2).body());
            let wait = if round % 4 == 3 {
                Wait::Checkpointed
            } else {
                Wait::Sequenced
            };
            node.client.sequence(&access, wait).await;
        }
    }
    node.client
        .sequence(&subjects[0].entry(revoke(grants[0])), Wait::Sequenced)
        .await;
    node.client
        .sequence(&subjects[1].entry(claim(10)), Wait::Checkpointed)
        .await;
    let (size, _) = node.checkpoint_size_root().await;
    let mut paths = vec![
        "/v1/checkpoint".to_owned(),
        "/v1/checkpoints?from=0".to_owned(),
        format!("/v1/entries?start=0&end={size}"),
    ];
    for index in [0, 1, size / 3, size / 2, size - 2, size - 1] {
        paths.push(format!("/v1/proof/inclusion?index={index}&size={size}"));
    }
    for from in [1, 2, size / 2, size - 1] {
        paths.push(format!("/v1/proof/consistency?from={from}&to={size}"));
    }
    for s in &subjects {
        let key = key_segment(&s.public());
        paths.push(format!("/v1/accounts/{key}"));
        paths.push(format!("/v1/accounts/{key}/history?from=0"));
        paths.push(format!("/v1/accounts/{key}/consents"));
    }
    (node.stop().await, paths)
}

/// The status and bytes of each request, read as the operator.
async fn answers(node: &TestNode, paths: &[String]) -> Vec<(u16, Vec<u8>)> {
    let mut out = Vec::new();
    for path in paths {
        let answer = node.client.get_signed_as(&node.operator, path).await;
        out.push((answer.status.as_u16(), answer.body.to_vec()));
    }
    out
}

#[derive(Debug, Default)]
struct Outcomes {
    refused: usize,
    identical: usize,
    corrupt: usize,
    /// Flips that changed nothing served but that `fsck` found (a leaf or index no request
    /// read, a checkpoint note not asked for).
    found_by_fsck_only: usize,
}

/// `testigo-node fsck` on a copy of `stopped`: `Err` names the first disagreement.
async fn fsck(stopped: &Stopped) -> Result<(), String> {
    let copy = stopped.duplicate();
    let config = copy.config().clone();
    tokio::task::spawn_blocking(move || {
        let _keep = copy;
        testigo_node::fsck::fsck_data_dir(&config, |_, _| {})
            .map(|_| ())
            .map_err(|e| e.to_string())
    })
    .await
    .expect("fsck did not panic")
}

async fn flips_never_serve_a_wrong_byte(storage: StorageEngine) {
    let (stopped, paths) = populated(storage).await;
    let reference_node = stopped
        .duplicate()
        .try_restart()
        .await
        .expect("the undamaged copy starts");
    let reference = answers(&reference_node, &paths).await;
    for ((status, body), path) in reference.iter().zip(&paths) {
        assert_eq!(*status, 200, "{path}: {}", String::from_utf8_lossy(body));
    }
    reference_node.stop().await;
    fsck(&stopped)
        .await
        .expect("fsck accepts the undamaged store");

    let flips: usize = std::env::var("TESTIGO_CORRUPTION_FLIPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(24);
    let mut rng = ChaCha20Rng::seed_from_u64(SEED ^ storage as u64);
    let mut outcomes = Outcomes::default();
    for flip in 0..flips {
        let damaged = stopped.duplicate();
        let files = damaged.store_files();
        let total: u64 = files.iter().map(|(_, len)| len).sum();
        let mut offset = rng.next_u64() % total;
        let (file, _) = files
            .iter()
            .find(|(_, len)| {
                if offset < *len {
                    return true;
                }
                offset -= len;
                false
            })
            .expect("an offset inside the files");
        let mask = (rng.next_u32() % 255 + 1) as u8;
        let mut bytes = std::fs::read(file).expect("read a store file");
        bytes[offset as usize] ^= mask;
        std::fs::write(file, &bytes).expect("write the damaged file");
        let what = format!(
            "flip {flip}: {} byte {offset} ^ {mask:#04x}",
            file.display()
        );
        let checked = fsck(&damaged).await;
        let node = match damaged.try_restart().await {
            Err(reason) => {
                assert!(
                    checked.is_err(),
                    "{what}: fsck passed a store that cannot start"
                );
                assert!(!reason.is_empty(), "{what}: refused without a reason");
                assert!(
                    !reason.contains("panicked"),
                    "{what}: the node panicked instead of naming the damage: {reason}"
                );
                eprintln!(
                    "{what}: refused: {}",
                    reason.chars().take(200).collect::<String>()
                );
                outcomes.refused += 1;
                continue;
            }
            Ok(node) => node,
        };
        let got = answers(&node, &paths).await;
        let mut any_corrupt = false;
        for (((status, body), (want_status, want_body)), path) in
            got.iter().zip(&reference).zip(&paths)
        {
            if (status, body) == (want_status, want_body) {
                continue;
            }
            let text = String::from_utf8_lossy(body);
            let text: String = text.chars().take(400).collect();
            assert!(
                *status == 500 && text.contains("\"storage_corrupt\""),
                "{what}: {path} answered {status} {text}, not what the undamaged node answers"
            );
            any_corrupt = true;
        }
        if any_corrupt {
            assert!(
                checked.is_err(),
                "{what}: fsck passed a store that served storage_corrupt"
            );
            outcomes.corrupt += 1;
        } else {
            outcomes.identical += 1;
            outcomes.found_by_fsck_only += usize::from(checked.is_err());
        }
        node.stop().await;
    }
    eprintln!("{storage:?}: {flips} flips: {outcomes:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flips_in_a_redb_store_never_serve_a_wrong_byte() {
    flips_never_serve_a_wrong_byte(StorageEngine::Redb).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flips_in_a_sled_store_never_serve_a_wrong_byte() {
    flips_never_serve_a_wrong_byte(StorageEngine::Sled).await;
}

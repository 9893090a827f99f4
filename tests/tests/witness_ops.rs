//! A witness in operation (issue 9 points 1 and 5): only allowed peers get anything; the clock
//! rule; catching up on a long log and resuming after a stop without fetching again what was
//! stored; a partition that heals while the primary goes on sequencing and `wait=witnessed`
//! callers wait for the quorum to come back.

use std::sync::Arc;
use std::time::Duration;

use testigo_ledger::api::{Health, Wait};
use testigo_ledger::checkpoint::{WitnessKey, verify_witnessed};
use testigo_ledger::entry::Leaf;
use testigo_node::metrics::Metrics;
use testigo_node::p2p::GossipPeer;
use testigo_node::{KeyFile, PeerConfig};
use testigo_tests::cluster::{Cluster, ClusterOptions, WITNESS_SEED, witness_name};
use testigo_tests::fixtures::{Grant, ORIGIN, Party, deposit, key, public, register};
use testigo_tests::probe::{AnswerExt as _, Probe as _};
use testigo_tests::proxy::{Relay, multiaddr_port};

const DEADLINE: Duration = Duration::from_secs(120);
const ANY_PORT: &str = "/ip4/127.0.0.1/tcp/0";

/// Entries in the catch-up test's log: `TESTIGO_CATCHUP_ENTRIES`, or 100,000 as issue 9 asks
/// (about 23 s in a debug build on this machine).
fn catch_up_entries() -> usize {
    std::env::var("TESTIGO_CATCHUP_ENTRIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000)
}

fn witness_keys(count: usize) -> Vec<WitnessKey> {
    (0..count)
        .map(|i| WitnessKey {
            name: witness_name(i),
            key: public(&key(WITNESS_SEED + i as u8)),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_not_in_the_allowlist_gets_nothing_and_is_counted() {
    // No witness runs: whatever the primary serves, it serves to the stranger.
    let cluster = Cluster::start(ClusterOptions {
        witnesses: 1,
        started: 0,
        quorum: 1,
        ..ClusterOptions::default()
    })
    .await;
    let primary = &cluster.primary;
    // A stranger that allows and dials the primary: the primary refuses it after the Noise
    // handshake that proves its peer id, again at every redial.
    let stranger = GossipPeer::start(
        &KeyFile::from_key(key(91)),
        ORIGIN,
        ANY_PORT,
        &[primary.p2p_peer().await],
        Arc::new(Metrics::new()),
    )
    .expect("start the stranger");
    primary
        .metric_reaches("testigo_p2p_refused_connections_total", 1.0)
        .await;
    let asked = tokio::time::timeout(DEADLINE, stranger.fetch(&cluster.primary_id, 0, 10))
        .await
        .expect("the request ends");
    assert!(asked.is_err(), "a stranger was served leaves: {asked:?}");
    primary
        .metric_reaches("testigo_p2p_refused_connections_total", 2.0)
        .await;
    assert_eq!(primary.metric("testigo_p2p_leaves_served_total").await, 0.0);
    assert_eq!(primary.metric("testigo_p2p_connected_peers").await, 0.0);
    stranger.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_witness_refuses_a_checkpoint_whose_last_leaf_is_over_five_minutes_from_its_clock() {
    let mut cluster = Cluster::start(ClusterOptions {
        witnesses: 3,
        started: 1,
        quorum: 1,
        ..ClusterOptions::default()
    })
    .await;
    // Witness 1's clock is six minutes ahead; witness 2's four minutes behind.
    let mut ahead = cluster.waiting.remove(0);
    ahead.config.witness_clock_offset_ms = 6 * 60 * 1000;
    let ahead = ahead.start().await;
    let mut behind = cluster.waiting.remove(0);
    behind.config.witness_clock_offset_ms = -4 * 60 * 1000;
    let _behind = behind.start().await;
    let primary = &cluster.primary;
    let mut operator = Party::operator();
    primary
        .enroll_fresh(&mut operator, 10, Wait::Checkpointed)
        .await;
    let size = primary.tree_size().await;
    ahead.caught_up(size).await;
    ahead
        .metric_reaches("testigo_witness_clock_refusals_total", 1.0)
        .await;
    assert_eq!(ahead.metric("testigo_witness_cosigned_total").await, 0.0);
    // Four minutes is within the rule: that witness cosigns the same checkpoint.
    let note = cluster.witnessed(size).await;
    let log_key = public(&primary.operator);
    let witnesses = witness_keys(3);
    let wait = async {
        loop {
            let page: testigo_ledger::api::CheckpointPage = primary
                .client
                .get(&format!("/v1/checkpoints?from={size}"))
                .await
                .ok()
                .json();
            let stored = page
                .checkpoints
                .first()
                .expect("the checkpoint")
                .note
                .clone();
            let (_, cosigners) =
                verify_witnessed(stored.as_bytes(), ORIGIN, &log_key, &witnesses, 1)
                    .expect("witnessed");
            if cosigners.iter().any(|c| c.name == witness_name(2)) {
                return cosigners;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    let cosigners = tokio::time::timeout(DEADLINE, wait)
        .await
        .expect("the witness four minutes behind cosigned");
    assert!(
        cosigners.iter().all(|c| c.name != witness_name(1)),
        "the witness six minutes ahead cosigned: {cosigners:?}"
    );
    assert!(!note.is_empty());
}

/// Operator deposits to one accessor, signed on every core: a long log, fast.
fn deposits(operator: &mut Party, accessor: testigo_ledger::PublicKey, count: usize) -> Vec<Leaf> {
    let first = operator.nonce;
    operator.nonce += count as u64;
    let key = operator.key.clone();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let per = count.div_ceil(threads);
    std::thread::scope(|scope| {
        let parts: Vec<_> = (0..threads)
            .map(|t| {
                let key = key.clone();
                scope.spawn(move || {
                    let signer = Party {
                        key,
                        nonce: first + (t * per) as u64,
                    };
                    let mut signer = signer;
                    let end = ((t + 1) * per).min(count);
                    (t * per..end)
                        .map(|i| signer.entry(deposit(accessor, 1, &format!("d{i}"))))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        parts
            .into_iter()
            .flat_map(|p| p.join().expect("signing thread"))
            .collect()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_witness_catches_up_and_resumes_after_a_stop_without_fetching_twice() {
    let mut cluster = Cluster::start(ClusterOptions {
        witnesses: 1,
        started: 0,
        quorum: 1,
        // The log is written before its witness runs: publish without it.
        publish_after_witnesses: Some(0),
        ..ClusterOptions::default()
    })
    .await;
    let primary = &cluster.primary;
    let mut operator = Party::operator();
    let acme = Party::fresh(20);
    primary
        .client
        .sequence(&operator.entry(register(acme.public())), Wait::Sequenced)
        .await;
    let leaves = deposits(&mut operator, acme.public(), catch_up_entries());
    for batch in leaves.chunks(10_000) {
        let answer = primary.client.batch_binary(batch, Wait::Checkpointed).await;
        assert!(
            answer
                .results
                .iter()
                .all(|r| matches!(r, testigo_ledger::api::BatchResult::Ok(_))),
            "a deposit was refused"
        );
    }
    let head = primary.tree_size().await;
    assert!(head > catch_up_entries() as u64);

    // Started late: it fetches from its first peer, is stopped mid-way, and started again.
    let witness = cluster.waiting.remove(0).start().await;
    witness
        .metric_reaches("testigo_witness_leaves_verified_total", 1.0)
        .await;
    let stopped = witness.stop().await;
    let witness = stopped.restart().await;
    let resumed = witness.metric("testigo_witness_resumed_from").await as u64;
    assert!(
        resumed > 0 && resumed < head,
        "stopped mid-sync: {resumed} of {head}"
    );
    let note = cluster.witnessed(head).await;
    assert!(!note.is_empty());
    witness.caught_up(head).await;
    let size = {
        let health: Health = witness.client.get("/healthz").await.ok().json();
        health.checkpoint_size
    };
    // Every leaf fetched after the restart was one it did not hold: none fetched twice.
    let fetched = witness.metric("testigo_witness_leaves_fetched_total").await as u64;
    assert_eq!(
        fetched,
        size - resumed,
        "leaves fetched again after the restart"
    );
    assert_eq!(
        witness
            .metric("testigo_witness_leaves_refetched_total")
            .await,
        0.0
    );
    assert!(witness.metric("testigo_witness_cosigned_total").await >= 1.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partitioned_witness_catches_up_and_witnessed_callers_wait_for_the_quorum() {
    let mut cluster = Cluster::start(ClusterOptions {
        witnesses: 2,
        started: 1,
        quorum: 2,
        ..ClusterOptions::default()
    })
    .await;
    // Witness 1 reaches the primary through a relay the test can cut.
    let listen = cluster
        .primary
        .p2p_peer()
        .await
        .addr
        .expect("listen address");
    let relay = Relay::start(([127, 0, 0, 1], multiaddr_port(&listen)).into()).await;
    let mut dir = cluster.waiting.remove(0);
    dir.config.peers = vec![PeerConfig {
        id: cluster.primary_id.clone(),
        addr: Some(relay.multiaddr()),
    }];
    let cut_off = dir.start().await;
    let primary = &cluster.primary;
    let mut operator = Party::operator();
    let mut alice = Party::fresh(10);
    primary
        .enroll_fresh(&mut operator, 10, Wait::Witnessed)
        .await;

    relay.cut();
    let wait = async {
        while primary.metric("testigo_p2p_connected_peers").await > 1.0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(DEADLINE, wait)
        .await
        .expect("the cut witness disconnected");
    // A caller waiting for the quorum waits; the primary goes on sequencing meanwhile.
    let waiting = {
        let client = primary.client.clone();
        // Signed by the subject, so its nonce does not race the operator's entries below.
        let leaf = alice.entry(Grant::location_ads(None, 40).body());
        tokio::spawn(async move { client.sequence(&leaf, Wait::Witnessed).await })
    };
    for seed in 12..20 {
        primary
            .enroll_fresh(&mut operator, seed, Wait::Checkpointed)
            .await;
    }
    assert!(!waiting.is_finished(), "witnessed without the quorum");
    let head = primary.tree_size().await;

    relay.heal();
    let answer = tokio::time::timeout(DEADLINE, waiting)
        .await
        .expect("answered once the quorum is back")
        .expect("the caller's task");
    let log_key = public(&primary.operator);
    let note = answer.checkpoint.expect("a witnessed answer has its note");
    let (checkpoint, cosigners) =
        verify_witnessed(note.as_bytes(), ORIGIN, &log_key, &witness_keys(2), 2)
            .expect("both witnesses cosigned");
    assert!(checkpoint.size() > answer.index);
    assert_eq!(cosigners.len(), 2);
    cut_off.caught_up(head).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checkpoint_is_published_only_once_a_witness_holds_its_leaves() {
    let mut cluster = Cluster::start(ClusterOptions {
        witnesses: 1,
        started: 0,
        quorum: 1,
        ..ClusterOptions::default()
    })
    .await;
    let primary = &cluster.primary;
    let genesis = primary.stored_size().await;
    let mut operator = Party::operator();
    primary
        .enroll_fresh(&mut operator, 10, Wait::Sequenced)
        .await;
    // Signed and stored, not published: a caller waiting for it waits, reads see the genesis.
    let waiting = {
        let client = primary.client.clone();
        let leaf = operator.entry(testigo_tests::fixtures::enroll(Party::fresh(11).public()));
        tokio::spawn(async move { client.sequence(&leaf, Wait::Checkpointed).await })
    };
    let signed = async {
        while primary.metric("testigo_entries_total").await < (genesis + 3) as f64 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(DEADLINE, signed)
        .await
        .expect("both entries and a StateRoot sequenced");
    assert_eq!(
        primary.stored_size().await,
        genesis,
        "published before a witness held it"
    );
    assert!(!waiting.is_finished());

    // The witness fetches what is signed, stores it, cosigns: now it is published.
    let witness = cluster.waiting.remove(0).start().await;
    let answer = tokio::time::timeout(DEADLINE, waiting)
        .await
        .expect("published once the witness held it")
        .expect("the caller's task");
    let size = answer
        .inclusion
        .as_ref()
        .expect("a checkpointed answer has its proof")
        .size;
    assert!(
        witness.stored_size().await >= size,
        "published past what the witness holds"
    );
    assert!(primary.stored_size().await >= size);
}

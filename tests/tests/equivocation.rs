//! A lying operator caught by its witnesses (DESIGN §5, §7; issue 9 point 4). The test holds the
//! log key, signs checkpoints that conflict with the log the witnesses hold and injects them over
//! gossip from a peer of its own (`GossipPeer`, allowed as the cluster's observer), which also
//! serves the forked leaves. Every witness keeps the pair as evidence that verifies offline with
//! nothing but the log's origin and key, gossips it, shows it at `GET /v1/evidence` and in
//! `/metrics`, and cosigns nothing of that log again. A witness fed a validly signed log that
//! breaks a rule stops following it and says why.

use std::sync::Arc;
use std::time::Duration;

use testigo_ledger::api::{Health, Wait};
use testigo_ledger::checkpoint::{Checkpoint, sign_checkpoint};
use testigo_ledger::entry::{Body, Leaf, StateRoot};
use testigo_ledger::merkle::MemoryStore;
use testigo_ledger::replication::GossipMessage;
use testigo_ledger::verify::Evidence;
use testigo_ledger::{Blake3, Hash, PublicKey, TreeHasher as _};
use testigo_node::metrics::Metrics;
use testigo_node::p2p::GossipPeer;
use testigo_tests::cluster::{Cluster, ClusterOptions, TestNode, observer_key};
use testigo_tests::fixtures::{ORIGIN, Party, Use, enroll, public};
use testigo_tests::probe::{AnswerExt as _, Probe as _};

const DEADLINE: Duration = Duration::from_secs(60);
const ANY_PORT: &str = "/ip4/127.0.0.1/tcp/0";

/// The evidence `node` serves, each piece checked offline against the log key.
async fn evidence(node: &TestNode, log_key: &PublicKey) -> Vec<Evidence> {
    let served: serde_json::Value = node.client.get("/v1/evidence").await.ok().json();
    assert_eq!(served["version"], 1);
    let held: Vec<Evidence> =
        serde_json::from_value(served["evidence"].clone()).expect("evidence JSON");
    for piece in &held {
        piece
            .verify(ORIGIN, log_key)
            .expect("the evidence verifies offline");
    }
    held
}

/// A peer of the test's, dialling every witness, started once they all listen on its topics.
async fn observer(
    cluster: &Cluster,
    leaves: Vec<Vec<u8>>,
    notes: Vec<(u64, String)>,
) -> GossipPeer {
    let mut peers = Vec::new();
    for witness in &cluster.witnesses {
        peers.push(witness.p2p_peer().await);
    }
    let mut peer = GossipPeer::serving(
        &observer_key(),
        ORIGIN,
        ANY_PORT,
        &peers,
        leaves,
        notes,
        Arc::new(Metrics::new()),
    )
    .expect("start the observer");
    tokio::time::timeout(DEADLINE, peer.wait_subscribed(peers.len()))
        .await
        .expect("every witness joined the checkpoint topic");
    peer
}

/// Gossips the checkpoint `note` from `peer` and returns the evidence the witnesses gossip back,
/// checked offline.
async fn inject(peer: &mut GossipPeer, note: &str, log_key: &PublicKey) -> Evidence {
    peer.publish(GossipMessage::Checkpoint(note.to_owned()))
        .await
        .expect("publish");
    let heard = gossiped_evidence(peer).await;
    heard
        .verify(ORIGIN, log_key)
        .expect("gossiped evidence verifies");
    heard
}

/// The next evidence gossiped to `peer`.
async fn gossiped_evidence(peer: &mut GossipPeer) -> Evidence {
    let wait = async {
        loop {
            match peer.next_gossip().await {
                Some(GossipMessage::Evidence(evidence)) => return evidence,
                Some(_) => {}
                None => panic!("the observer stopped"),
            }
        }
    };
    tokio::time::timeout(DEADLINE, wait)
        .await
        .expect("evidence gossiped within the deadline")
}

/// The root of the tree of `leaves`.
fn root_of(leaves: &[Vec<u8>]) -> Hash {
    let hashes: Vec<Hash> = leaves.iter().map(|l| Blake3.hash_leaf(l)).collect();
    let mut tree = MemoryStore::new();
    tree.append(&Blake3, &hashes).expect("a tree");
    testigo_ledger::merkle::root(&Blake3, &tree, leaves.len() as u64).expect("its root")
}

/// `body` signed by `key`'s party and stamped `at`, as stored.
fn stamped(party: &Party, body: &Body, at: u64) -> Vec<u8> {
    party.sign(body).sequenced(at).to_bytes()
}

/// A StateRoot leaf (its map root is not checked before the tree is).
fn state_root(operator: &Party, as_of: u64, at: u64) -> Vec<u8> {
    let body = Body::StateRoot(StateRoot {
        as_of,
        map_root: Hash([9; 32]),
    });
    stamped(operator, &body, at)
}

fn sequenced_at(leaf: &[u8]) -> u64 {
    Leaf::from_bytes(leaf).expect("a stored leaf").sequenced_at
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_split_view_is_caught_by_every_witness_which_then_cosigns_nothing() {
    let cluster = Cluster::start(ClusterOptions {
        observer: true,
        witnessed_timeout_ms: 2_000,
        ..ClusterOptions::default()
    })
    .await;
    let primary = &cluster.primary;
    let log_key = public(&primary.operator);
    let mut operator = Party::operator();
    primary
        .enroll_fresh(&mut operator, 10, Wait::Witnessed)
        .await;
    let (size, _) = primary.checkpoint_size_root().await;
    for witness in &cluster.witnesses {
        witness.caught_up(size).await;
    }
    let mut peer = observer(&cluster, Vec::new(), Vec::new()).await;

    // The log key signs a second checkpoint of the same size with another root.
    let forged = Checkpoint::new(ORIGIN, size, Hash([7; 32])).expect("a checkpoint");
    let forged = sign_checkpoint(&forged, &primary.operator).to_text();
    // The witnesses gossip the pair, and each holds it.
    inject(&mut peer, &forged, &log_key).await;
    let mut cosigned = Vec::new();
    for witness in &cluster.witnesses {
        witness
            .metric_reaches("testigo_witness_evidence", 1.0)
            .await;
        let held = evidence(witness, &log_key).await;
        assert_eq!(held.len(), 1);
        match &held[0] {
            Evidence::SplitView { second, .. } => assert_eq!(*second, forged),
            other => panic!("expected a split view, got {other:?}"),
        }
        cosigned.push(witness.metric("testigo_witness_cosigned_total").await);
    }

    // From then on no witness cosigns: the next entry is checkpointed, never witnessed.
    let late = primary
        .client
        .submit_raw(
            &operator.entry(enroll(Party::fresh(11).public())),
            Wait::Witnessed,
        )
        .await;
    assert_eq!(late.status.as_u16(), 504);
    assert_eq!(late.error().code, "witness_timeout");
    let newest = primary.tree_size().await;
    for (witness, before) in cluster.witnesses.iter().zip(cosigned) {
        witness.caught_up(newest).await;
        assert_eq!(
            witness.metric("testigo_witness_cosigned_total").await,
            before,
            "a witness holding evidence cosigned"
        );
    }
    peer.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checkpoint_that_does_not_extend_the_cosigned_one_is_proven_a_fork() {
    let cluster = Cluster::start(ClusterOptions {
        observer: true,
        ..ClusterOptions::default()
    })
    .await;
    let primary = &cluster.primary;
    let log_key = public(&primary.operator);
    let mut operator = Party::operator();
    for seed in 10..13 {
        primary
            .enroll_fresh(&mut operator, seed, Wait::Witnessed)
            .await;
    }
    let (size, _) = primary.checkpoint_size_root().await;
    for witness in &cluster.witnesses {
        witness.caught_up(size).await;
        witness
            .metric_reaches("testigo_witness_cosigned_total", 1.0)
            .await;
    }

    // A history that rewrites leaf `changed` and goes on past the cosigned size.
    let mut forked = primary.leaves(0, size).await;
    let changed = size - 2;
    let at = sequenced_at(&forked[changed as usize]);
    let stranger = Party::fresh(77).public();
    forked[changed as usize] = stamped(&operator, &enroll(stranger)(operator.nonce + 5), at);
    let now = sequenced_at(&forked[size as usize - 1]);
    forked.push(stamped(
        &operator,
        &enroll(Party::fresh(78).public())(operator.nonce + 6),
        now,
    ));
    forked.push(state_root(&operator, size + 1, now));
    let forked_size = forked.len() as u64;
    let note = Checkpoint::new(ORIGIN, forked_size, root_of(&forked)).expect("a checkpoint");
    let note = sign_checkpoint(&note, &primary.operator).to_text();

    let mut peer = observer(&cluster, forked, vec![(forked_size, note.clone())]).await;
    // The witnesses gossip the pair, and each holds it.
    inject(&mut peer, &note, &log_key).await;
    for witness in &cluster.witnesses {
        witness
            .metric_reaches("testigo_witness_evidence", 1.0)
            .await;
        let held = evidence(witness, &log_key).await;
        match &held[..] {
            [Evidence::Fork { second, index, .. }] => {
                assert_eq!(*second, note);
                assert_eq!(*index, changed, "the first leaf where the trees differ");
            }
            other => panic!("expected one fork, got {other:?}"),
        }
        // The witness kept its own log.
        let health: Health = witness.client.get("/healthz").await.ok().json();
        assert_eq!(health.checkpoint_size, size);
    }
    peer.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_witness_stops_on_a_signed_leaf_that_breaks_the_rules_and_says_why() {
    let mut cluster = Cluster::start(ClusterOptions {
        witnesses: 1,
        started: 0,
        quorum: 1,
        observer: true,
        ..ClusterOptions::default()
    })
    .await;
    let primary = &cluster.primary;
    // The log's first checkpoint, true; then an access by an accessor never registered, under
    // a consent that does not exist, with a StateRoot and a checkpoint the log key signs.
    let page: testigo_ledger::api::CheckpointPage = primary
        .client
        .get("/v1/checkpoints?from=0")
        .await
        .ok()
        .json();
    let first = page
        .checkpoints
        .last()
        .expect("the genesis checkpoint")
        .clone();
    let log = primary.leaves(0, first.size).await;
    let now = sequenced_at(&log[log.len() - 1]);
    let mut bad_log = log.clone();
    let mut intruder = Party::fresh(40);
    let body = Use::consented(Party::fresh(41).public(), 999, 5).body()(intruder.nonce);
    intruder.nonce += 1;
    bad_log.push(stamped(&intruder, &body, now));
    bad_log.push(state_root(&Party::operator(), first.size + 1, now));
    let bad_size = bad_log.len() as u64;
    let bad = Checkpoint::new(ORIGIN, bad_size, root_of(&bad_log)).expect("a checkpoint");
    let bad = sign_checkpoint(&bad, &primary.operator).to_text();
    let mut dir = cluster.waiting.remove(0);
    let allowed = [testigo_node::PeerConfig {
        id: dir.peer_id.clone(),
        addr: None,
    }];
    let peer = GossipPeer::serving(
        &observer_key(),
        ORIGIN,
        ANY_PORT,
        &allowed,
        log,
        vec![(first.size, first.note.clone())],
        Arc::new(Metrics::new()),
    )
    .expect("start the observer");
    let listen = peer.listen_addrs().await.remove(0);

    dir.config.peers = vec![testigo_node::PeerConfig {
        id: peer.peer_id(),
        addr: Some(listen),
    }];
    // It serves once it holds the true first checkpoint; then the bad one is offered.
    let witness = dir.start().await;
    peer.extend(
        bad_log.split_off(first.size as usize),
        vec![(bad_size, bad)],
    );
    let halted = async {
        loop {
            let p2p: serde_json::Value = witness.client.get("/v1/p2p").await.ok().json();
            if let Some(reason) = p2p["halted"].as_str() {
                return reason.to_owned();
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    let reason = tokio::time::timeout(DEADLINE, halted)
        .await
        .expect("the witness halted within the deadline");
    assert!(
        reason.contains(&format!("leaf {} breaks the rules", first.size)),
        "{reason}"
    );
    assert_eq!(witness.metric("testigo_witness_halted").await, 1.0);
    let health = witness.client.get("/healthz").await;
    assert_eq!(health.status.as_u16(), 503);
    let health: Health = health.json();
    assert_eq!(health.status, "failed");
    assert_eq!(
        health.checkpoint_size, first.size,
        "nothing past the bad leaf is stored"
    );
    peer.stop().await;
}

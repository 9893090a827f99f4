//! The regulator's `monitor` on a live log (issue 11 point 5): it follows a primary and its three
//! witnesses while entries are sequenced and witnessed, verifies every note it is shown (the
//! log key, the quorum of cosignatures) and every new leaf (replayed, the root recomputed), and
//! alerts on nothing; then one of the nodes it follows shows a second checkpoint of the same
//! size, validly signed by the log key, with another root. The monitor stops with a
//! `split_view`, counted in its Prometheus metric, and the evidence it saved verifies offline.
//! A note the log key did not sign is a `bad_checkpoint`; a signed checkpoint past the head on a
//! tree the log never had is alerted as `inconsistent`,
//! nothing of it is replayed, and with `keep_going` the monitor goes on following the honest log.
//! A cut link is a warning, not a violation: the monitor reconnects and follows on.

use std::sync::Arc;
use std::time::Duration;

use testigo_audit::monitor::{Metrics, MonitorConfig, Progress, monitor};
use testigo_client::Signer;
use testigo_ledger::Hash;
use testigo_ledger::api::Wait;
use testigo_ledger::checkpoint::{Checkpoint, CosignedCheckpoint, Evidence, sign_checkpoint};
use testigo_tests::cluster::{Cluster, ClusterOptions, TestNode};
use testigo_tests::fixtures::{ORIGIN, Party, key, public};
use testigo_tests::lying_node::Proxy;
use testigo_tests::proxy::Relay;
use tokio::sync::{oneshot, watch};

const DEADLINE: Duration = Duration::from_secs(60);

/// Waits (bounded) until the monitor's progress satisfies `done`; panics with what it alerted
/// if it stopped first.
async fn reached(
    progress: &mut watch::Receiver<Progress>,
    what: &str,
    done: impl FnMut(&Progress) -> bool,
) -> Progress {
    let waited = tokio::time::timeout(DEADLINE, progress.wait_for(done))
        .await
        .map(|r| r.map(|p| p.clone()));
    match waited {
        Ok(Ok(p)) => p,
        Ok(Err(_)) => panic!("the monitor stopped before {what}"),
        Err(_) => panic!(
            "the monitor did not reach {what} within the deadline: {:?}",
            *progress.borrow()
        ),
    }
}

/// `(start, end)` of a `GET /v1/entries?start=S&end=E` path.
fn entries_range(path: &str) -> Option<(u64, u64)> {
    let query = path.strip_prefix("/v1/entries?")?;
    let mut start = None;
    let mut end = None;
    for pair in query.split('&') {
        match pair.split_once('=')? {
            ("start", v) => start = v.parse().ok(),
            ("end", v) => end = v.parse().ok(),
            _ => {}
        }
    }
    Some((start?, end?))
}

/// The size a note signs.
fn size_of(note: &str) -> u64 {
    CosignedCheckpoint::parse(note.as_bytes())
        .expect("a checkpoint note")
        .checkpoint()
        .size()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_monitor_follows_a_live_log_and_its_witnesses_then_catches_a_split_view() {
    let cluster = Cluster::start(ClusterOptions {
        publish_after_witnesses: Some(0),
        ..ClusterOptions::default()
    })
    .await;
    let primary = &cluster.primary;
    let log_key = public(&primary.operator);
    // The last witness is reached through a node that can lie; it is honest until the fork.
    let lying = Proxy::start(cluster.witnesses[2].client.base()).await;
    let mut nodes = vec![primary.client.base().to_owned()];
    nodes.extend(
        cluster.witnesses[..2]
            .iter()
            .map(|w| w.client.base().to_owned()),
    );
    nodes.push(lying.url());
    let evidence_dir = tempfile::tempdir().expect("temporary directory");
    let config = MonitorConfig {
        nodes: nodes.clone(),
        signer: Signer::new(primary.regulator.clone()),
        pinned_genesis: None,
        evidence_dir: evidence_dir.path().to_owned(),
        keep_going: false,
        max_step: testigo_audit::monitor::MAX_STEP,
    };
    let metrics = Arc::new(Metrics::default());
    let (progress, mut watching) = watch::channel(Progress::default());
    let (stop, stopped) = oneshot::channel::<()>();
    let running = tokio::spawn(monitor(config, metrics.clone(), progress, async move {
        let _ = stopped.await;
    }));
    // It has looked at every node (genesis, first note) before the log moves.
    reached(&mut watching, "a note from every node", |p| {
        p.checkpoints_by_node.len() == nodes.len() && p.checkpoints_by_node.iter().all(|&n| n > 0)
    })
    .await;

    // The log grows while the monitor follows it, each entry answered once checkpointed, as a
    // customer's would be: the witnesses' cosignatures come after the checkpoints they cover.
    let mut operator = Party::operator();
    for seed in 10..30 {
        primary
            .enroll_fresh(&mut operator, seed, Wait::Checkpointed)
            .await;
    }
    let note = cluster.witnessed(primary.tree_size().await).await;
    let size = size_of(&note);
    for witness in &cluster.witnesses {
        witness.caught_up(size).await;
    }
    let clean = reached(&mut watching, "the witnessed head", |p| {
        p.verified_size >= size && p.witnessed > 0
    })
    .await;
    assert_eq!(clean.violations, 0, "{clean:?}");
    assert!(
        clean.checkpoints > u64::try_from(nodes.len()).expect("a count"),
        "{clean:?}"
    );
    let text = metrics.encode();
    assert!(
        !text.contains("testigo_monitor_violations_total{"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "testigo_monitor_verified_size {}",
            clean.verified_size
        )),
        "{text}"
    );

    // The operator signs a second checkpoint of the verified size with another root, and the
    // lying node shows it (its latest, and as a new event).
    let forged = Checkpoint::new(ORIGIN, clean.verified_size, Hash([7; 32])).expect("a checkpoint");
    let forged = sign_checkpoint(&forged, &primary.operator).to_text();
    let shown = forged.clone();
    lying.rewrite(move |path, _| (path == "/v1/checkpoint").then(|| shown.clone().into_bytes()));
    lying.announce("checkpoint", clean.verified_size, &forged);

    let violations = tokio::time::timeout(DEADLINE, running)
        .await
        .expect("the monitor stopped at the violation")
        .expect("the monitor did not panic")
        .expect("the monitor ran");
    drop(stop);
    let [violation] = &violations[..] else {
        panic!("expected one violation, got {violations:?}");
    };
    assert_eq!(violation.kind, "split_view", "{violation}");
    assert_eq!(violation.node, lying.url());
    let text = metrics.encode();
    assert!(
        text.contains("testigo_monitor_violations_total{kind=\"split_view\"} 1"),
        "{text}"
    );
    let path = violation.evidence.as_ref().expect("evidence saved");
    let evidence: Evidence =
        serde_json::from_slice(&std::fs::read(path).expect("the evidence file")).expect("JSON");
    evidence
        .verify(ORIGIN, &log_key)
        .expect("the evidence verifies offline with the log key alone");
    match evidence {
        Evidence::SplitView { first, second } => {
            assert_eq!(second, forged);
            let honest = size_of(&first);
            assert_eq!(honest, clean.verified_size);
        }
        other => panic!("expected a split view, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_checkpoint_the_log_cannot_extend_to_is_alerted_and_the_monitor_keeps_following() {
    let node = TestNode::start().await;
    let mut operator = Party::operator();
    for seed in 10..13 {
        node.enroll_fresh(&mut operator, seed, Wait::Checkpointed)
            .await;
    }
    // Both are reached through proxies, which record what the monitor asks.
    let honest = Proxy::start(node.client.base()).await;
    let lying = Proxy::start(node.client.base()).await;
    let evidence_dir = tempfile::tempdir().expect("temporary directory");
    let config = MonitorConfig {
        nodes: vec![honest.url(), lying.url()],
        signer: Signer::new(node.regulator.clone()),
        pinned_genesis: None,
        evidence_dir: evidence_dir.path().to_owned(),
        keep_going: true,
        // The log is replayed from its genesis in steps of at most 3 leaves, through the
        // node's signed checkpoints, as a long log is.
        max_step: 3,
    };
    let metrics = Arc::new(Metrics::default());
    let (progress, mut watching) = watch::channel(Progress::default());
    let (stop, stopped) = oneshot::channel::<()>();
    let running = tokio::spawn(monitor(config, metrics.clone(), progress, async move {
        let _ = stopped.await;
    }));
    let (size, _) = node.checkpoint_size_root().await;
    reached(&mut watching, "the head", |p| p.verified_size >= size).await;
    let asked: Vec<String> = honest.seen().into_iter().chain(lying.seen()).collect();
    assert!(
        asked.iter().any(|p| p.starts_with("/v1/checkpoints?from=")),
        "{asked:?}"
    );
    let ranges: Vec<(u64, u64)> = asked.iter().filter_map(|p| entries_range(p)).collect();
    assert!(ranges.len() > 1, "the catch-up took steps: {asked:?}");
    assert!(
        ranges.iter().all(|(start, end)| end - start <= 3),
        "{asked:?}"
    );

    // A note not signed by the log key.
    let stranger = Checkpoint::new(ORIGIN, size + 1, Hash([8; 32])).expect("a checkpoint");
    let stranger = sign_checkpoint(&stranger, &key(99)).to_text();
    lying.announce("checkpoint", size + 1, &stranger);
    let alerted = reached(&mut watching, "an alert", |p| p.violations > 0).await;
    assert_eq!(alerted.verified_size, size);

    // The log key signs a checkpoint five leaves past the head, on a tree the log never had.
    let ahead = size + 5;
    let forged = Checkpoint::new(ORIGIN, ahead, Hash([9; 32])).expect("a checkpoint");
    let forged = sign_checkpoint(&forged, &node.operator).to_text();
    lying.announce("checkpoint", ahead, &forged);
    let alerted = reached(&mut watching, "an alert", |p| p.violations > 0).await;
    assert_eq!(
        alerted.verified_size, size,
        "nothing of the forged tree was replayed"
    );

    // It keeps following the honest log.
    node.enroll_fresh(&mut operator, 13, Wait::Checkpointed)
        .await;
    let (newer, _) = node.checkpoint_size_root().await;
    assert!(newer > size && newer < ahead);
    let caught_up = reached(&mut watching, "the new head", |p| p.verified_size >= newer).await;
    assert_eq!(caught_up.violations, 2, "{caught_up:?}");
    let _ = stop.send(());
    let violations = tokio::time::timeout(DEADLINE, running)
        .await
        .expect("the monitor stopped")
        .expect("the monitor did not panic")
        .expect("the monitor ran");
    let [unsigned, violation] = &violations[..] else {
        panic!("expected two violations, got {violations:?}");
    };
    assert_eq!(unsigned.kind, "bad_checkpoint", "{unsigned}");
    assert_eq!(unsigned.node, lying.url());
    assert_eq!(violation.kind, "inconsistent", "{violation}");
    assert_eq!(violation.node, lying.url());
    assert!(
        violation.message.contains(&format!(
            "checkpoint of size {ahead} does not extend the verified one of size {size}"
        )),
        "{violation}"
    );
    assert!(
        metrics
            .encode()
            .contains("testigo_monitor_violations_total{kind=\"inconsistent\"} 1")
    );
    assert!(
        metrics
            .encode()
            .contains("testigo_monitor_violations_total{kind=\"bad_checkpoint\"} 1")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_event_stream_is_a_warning_and_the_monitor_reconnects() {
    let node = TestNode::start().await;
    // The monitor reaches the node through a link the test can cut.
    let link = Relay::start(node.addr).await;
    let evidence_dir = tempfile::tempdir().expect("temporary directory");
    let config = MonitorConfig {
        nodes: vec![format!("http://{}", link.addr())],
        signer: Signer::new(node.regulator.clone()),
        pinned_genesis: None,
        evidence_dir: evidence_dir.path().to_owned(),
        keep_going: false,
        max_step: testigo_audit::monitor::MAX_STEP,
    };
    let metrics = Arc::new(Metrics::default());
    let (progress, mut watching) = watch::channel(Progress::default());
    let (stop, stopped) = oneshot::channel::<()>();
    let running = tokio::spawn(monitor(config, metrics.clone(), progress, async move {
        let _ = stopped.await;
    }));
    let (size, _) = node.checkpoint_size_root().await;
    reached(&mut watching, "the head", |p| p.verified_size >= size).await;

    link.cut();
    reached(&mut watching, "a lost stream", |p| p.streams_lost > 0).await;
    link.heal();
    let mut operator = Party::operator();
    node.enroll_fresh(&mut operator, 10, Wait::Checkpointed)
        .await;
    let (newer, _) = node.checkpoint_size_root().await;
    let back = reached(&mut watching, "the head after the cut", |p| {
        p.verified_size >= newer
    })
    .await;
    assert_eq!(back.violations, 0, "{back:?}");
    assert!(
        metrics
            .encode()
            .contains(&format!("testigo_monitor_verified_size {newer}"))
    );
    let _ = stop.send(());
    let violations = tokio::time::timeout(DEADLINE, running)
        .await
        .expect("the monitor stopped")
        .expect("the monitor did not panic")
        .expect("the monitor ran");
    assert!(violations.is_empty(), "{violations:?}");
}

//! `testigo-node loadgen` against a real node: every pre-signed access is sequenced, and the
//! report's figures (throughput, ceiling, latencies, phases) are there and add up.

use std::time::Duration;

use testigo_ledger::api::Wait;
use testigo_node::loadgen::{LoadgenConfig, run};
use testigo_tests::cluster::TestNode;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_load_generator_sequences_everything_and_reports_where_the_time_went() {
    let node = TestNode::start().await;
    let config = LoadgenConfig {
        node: format!("http://{}", node.addr),
        data_dir: node.config.data_dir.clone(),
        entries: 1_500,
        concurrency: 3,
        batch: 50,
        wait: Wait::Sequenced,
        subjects: 20,
        seed: 9,
        node_pid: Some(std::process::id()),
        cores: 2,
        rate: None,
    };
    config.validate().unwrap();
    let report = run(&config).await.unwrap();
    assert_eq!(report.entries, 1_500);
    assert!(report.refused.is_empty(), "{:?}", report.refused);
    assert!(report.throughput() > 0.0 && report.ratio() > 0.0);
    assert!(report.ceiling.total() > 0.0 && report.ceiling.one_core_best > 0.0);
    let to_sequenced = report.to_sequenced.expect("waited for sequenced");
    let to_checkpointed = report.to_checkpointed.expect("checkpoints followed");
    assert!(to_sequenced.p50 <= to_checkpointed.p99 + Duration::from_millis(1));
    for phase in [
        "verify",
        "apply",
        "tree",
        "commit",
        "state_root",
        "checkpoint_commit",
    ] {
        let (secs, calls) = report.phases.0.get(phase).copied().unwrap_or_default();
        assert!(
            secs > 0.0 && calls > 0,
            "phase {phase}: {secs} s in {calls} calls"
        );
    }
    assert!(report.rss_after.is_some());
    // Everything it sent is in the log: the accesses and the setup before them.
    assert!(node.tree_size().await > 1_500 + 2 * 20);
    let text = report.to_string();
    assert!(
        text.contains("ratio") && text.contains("sequencer busy"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_load_generator_measures_submit_to_witnessed_on_a_log_with_witnesses() {
    let cluster =
        testigo_tests::cluster::Cluster::start(testigo_tests::cluster::ClusterOptions::default())
            .await;
    let config = LoadgenConfig {
        node: format!("http://{}", cluster.primary.addr),
        data_dir: cluster.primary.config.data_dir.clone(),
        entries: 600,
        concurrency: 2,
        batch: 50,
        wait: Wait::Witnessed,
        subjects: 10,
        seed: 9,
        node_pid: None,
        cores: 1,
        rate: None,
    };
    config.validate().unwrap();
    let report = run(&config).await.unwrap();
    assert_eq!(report.entries, 600);
    assert!(report.refused.is_empty(), "{:?}", report.refused);
    let to_witnessed = report.to_witnessed.expect("waited for witnessed");
    let to_checkpointed = report.to_checkpointed.expect("checkpoints followed");
    assert!(to_checkpointed.p50 <= to_witnessed.max + Duration::from_millis(1));
    assert!(report.to_string().contains("to witnessed"));
}

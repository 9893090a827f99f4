//! The regulator's audit on a real node's log: a simulated day, exported through the API as the
//! regulator and from the stopped node's data directory, gives the same archive byte for byte,
//! and it replays green.

use testigo_audit::export::export;
use testigo_audit::progress::Progress;
use testigo_audit::replay::{Options, replay};
use testigo_audit::source::Source;
use testigo_node::simulate::{SimulateConfig, run};
use testigo_tests::cluster::TestNode;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_simulated_day_exports_the_same_archive_both_ways_and_audits_green() {
    let node = TestNode::start().await;
    let config = SimulateConfig {
        node: format!("http://{}", node.addr),
        data_dir: node.config.data_dir.clone(),
        subjects: 20,
        accessors: 2,
        hours: 6,
        seed: 11,
        rate: 0.5,
    };
    config.validate().unwrap();
    let summary = run(&config).await.unwrap();
    let size = summary.final_checkpoint().unwrap();

    let dir = tempfile::tempdir().unwrap();
    let from_api = dir.path().join("api.archive");
    let source = Source::Node {
        url: format!("http://{}", node.addr),
        key: Box::new(node.regulator.clone()),
    };
    let out = from_api.clone();
    let exported =
        tokio::task::spawn_blocking(move || export(&source, &out, &mut Progress::quiet()).unwrap())
            .await
            .unwrap();
    assert_eq!(exported.leaves, size);

    let node_config = node.config.clone();
    let stopped = node.stop().await;
    let from_dir = dir.path().join("dir.archive");
    let written =
        testigo_node::export::export_data_dir(&node_config, &from_dir, |_, _| {}).unwrap();
    drop(stopped);
    assert_eq!(written.leaves, size);
    assert_eq!(written.checkpoints, exported.checkpoints);
    assert_eq!(
        std::fs::read(&from_api).unwrap(),
        std::fs::read(&from_dir).unwrap(),
        "the API and the data directory give the same archive"
    );

    let report = tokio::task::spawn_blocking(move || {
        let running = Source::Archive(from_dir).start().unwrap();
        replay(running, Options::default(), &mut Progress::quiet()).unwrap()
    })
    .await
    .unwrap();
    assert!(report.ok(), "{:?}", report.failures);
    assert_eq!(report.leaves, size);
    assert_eq!(report.last_checkpoint, Some(size));
    assert_eq!(report.cross_check_root, Some(report.root));
}

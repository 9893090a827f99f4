//! The regulator's audit on a real node's log: a simulated day, exported through the API as the
//! regulator and from the stopped node's data directory, gives the same archive byte for byte,
//! and it replays green. An export cut by the node and then by a crash mid-record resumes to the
//! archive one whole export writes.

use testigo_audit::export::export;
use testigo_audit::progress::Progress;
use testigo_audit::replay::{Options, replay};
use testigo_audit::source::Source;
use testigo_ledger::api::Wait;
use testigo_ledger::archive::scan_end;
use testigo_node::simulate::{SimulateConfig, run};
use testigo_tests::cluster::{Options as NodeOptions, TestNode};
use testigo_tests::fixtures::Party;
use testigo_tests::lying_node::Proxy;

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

/// Exports `source` to `out` on a blocking thread.
async fn export_to(
    source: Source,
    out: std::path::PathBuf,
) -> Result<testigo_audit::export::Exported, String> {
    tokio::task::spawn_blocking(move || {
        export(&source, &out, &mut Progress::quiet()).map_err(|e| e.to_string())
    })
    .await
    .expect("the export did not panic")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_export_resumes_to_the_archive_one_whole_export_writes() {
    // Small pages, so the export takes many requests and can be cut between two of them.
    let node = TestNode::start_with(NodeOptions {
        adjust: |config| config.max_entries_page = 8,
        ..NodeOptions::default()
    })
    .await;
    let mut operator = Party::operator();
    for seed in 10..22 {
        node.enroll_fresh(&mut operator, seed, Wait::Checkpointed)
            .await;
    }
    let (size, _) = node.checkpoint_size_root().await;
    assert!(size > 20, "{size}");
    let dir = tempfile::tempdir().unwrap();
    let as_regulator = |url: String| Source::Node {
        url,
        key: Box::new(node.regulator.clone()),
    };

    // One export, start to end, straight from the node.
    let whole = dir.path().join("whole.archive");
    let done = export_to(as_regulator(node.client.base().to_owned()), whole.clone())
        .await
        .unwrap();
    assert_eq!((done.from, done.leaves), (0, size));

    // Through a node whose answers break from leaf 16 on: the export fails, and keeps the
    // leaves it had.
    let proxy = Proxy::start(node.client.base()).await;
    proxy.rewrite(|path, _| {
        let start: u64 = path
            .strip_prefix("/v1/entries?start=")?
            .split('&')
            .next()?
            .parse()
            .ok()?;
        (start >= 16).then(|| b"{".to_vec())
    });
    let resumed = dir.path().join("resumed.archive");
    let failed = export_to(as_regulator(proxy.url()), resumed.clone()).await;
    assert!(failed.is_err(), "{failed:?}");
    let kept = scan_end(std::fs::File::open(&resumed).unwrap()).unwrap();
    assert_eq!(
        kept.next_index, 16,
        "the whole pages before the cut are kept"
    );
    assert!(!kept.truncated);
    // And the process is killed in the middle of writing a record: its last bytes are cut.
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&resumed)
        .unwrap();
    file.set_len(kept.whole_len - 3).unwrap();
    drop(file);
    let cut = scan_end(std::fs::File::open(&resumed).unwrap()).unwrap();
    assert!(cut.truncated);
    assert!(cut.whole_len < kept.whole_len);

    // Run again, the node answering: it resumes after the last whole record.
    proxy.honest();
    let done = export_to(as_regulator(proxy.url()), resumed.clone())
        .await
        .unwrap();
    // The cut record was the checkpoint after leaf 15: it is fetched again, the leaves after it.
    assert_eq!(done.from, cut.next_index, "{done:?}");
    assert!(done.checkpoints > 0, "{done:?}");
    assert_eq!(done.from + done.leaves, size);
    assert_eq!(
        std::fs::read(&resumed).unwrap(),
        std::fs::read(&whole).unwrap(),
        "the resumed archive is the one a whole export writes, byte for byte"
    );
    let report = tokio::task::spawn_blocking(move || {
        let running = Source::Archive(resumed).start().unwrap();
        replay(running, Options::default(), &mut Progress::quiet()).unwrap()
    })
    .await
    .unwrap();
    assert!(report.ok(), "{:?}", report.failures);
    assert_eq!(report.leaves, size);
    assert_eq!(report.last_checkpoint, Some(size));
}

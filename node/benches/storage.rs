//! Durable batch commits on both engines, against the disk's raw fsync rate, in one run.
//!
//! `cargo bench -p testigo-node --bench storage` measures, for batches of 1, 100 and 1000
//! leaves (250 bytes each, with their tree hashes computed through the pending overlay), one
//! `Store::commit` per iteration, and a plain write + `fdatasync` of a 4 KiB file in a temp dir.
//! After criterion's own report it prints a summary: entries/s, commits/s, and commits/s as a
//! fraction of fsyncs/s (1.0 would mean a commit costs exactly one raw fsync).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Seek, SeekFrom, Write};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput};
use tempfile::TempDir;
use testigo_ledger::Blake3;
use testigo_node::storage::{EngineKind, Store, StoreConfig};

const BATCHES: [u64; 3] = [1, 100, 1000];

/// Total time and iterations per benchmark, for the summary.
static TOTALS: Mutex<BTreeMap<String, (Duration, u64)>> = Mutex::new(BTreeMap::new());

fn record(name: &str, elapsed: Duration, iters: u64) {
    let mut totals = TOTALS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let entry = totals.entry(name.to_owned()).or_default();
    entry.0 += elapsed;
    entry.1 += iters;
}

fn fsync_4k(c: &mut Criterion) {
    let dir = TempDir::new().expect("temp dir");
    let mut file = File::create(dir.path().join("fsync")).expect("file");
    let page = [0x5au8; 4096];
    c.bench_function("fsync_4k", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                file.seek(SeekFrom::Start(0)).expect("seek");
                file.write_all(&page).expect("write");
                file.sync_data().expect("fdatasync");
            }
            let elapsed = start.elapsed();
            record("fsync_4k", elapsed, iters);
            elapsed
        });
    });
}

fn commits(c: &mut Criterion) {
    let mut group = c.benchmark_group("commit");
    for engine in [EngineKind::Redb, EngineKind::Sled] {
        let dir = TempDir::new().expect("temp dir");
        let config = StoreConfig {
            engine,
            ..StoreConfig::default()
        };
        let store = Store::open(dir.path(), &config).expect("open store");
        for n in BATCHES {
            group.throughput(Throughput::Elements(n));
            let name = format!("{engine}/{n}");
            group.bench_with_input(BenchmarkId::new(engine.to_string(), n), &n, |b, &n| {
                b.iter_custom(|iters| {
                    let start = Instant::now();
                    for _ in 0..iters {
                        let mut batch = store.batch();
                        let first = batch.new_size();
                        let leaves = (first..first + n).map(leaf).collect();
                        store
                            .append_leaves(&mut batch, &Blake3, leaves)
                            .expect("append");
                        store.commit(batch).expect("commit");
                    }
                    let elapsed = start.elapsed();
                    record(&name, elapsed, iters);
                    elapsed
                });
            });
        }
    }
    group.finish();
}

fn leaf(i: u64) -> Vec<u8> {
    let mut leaf = vec![0u8; 250];
    leaf[..8].copy_from_slice(&i.to_be_bytes());
    leaf
}

fn summary() {
    let totals = TOTALS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let rate = |name: &str| {
        totals
            .get(name)
            .filter(|(elapsed, iters)| *iters > 0 && !elapsed.is_zero())
            .map(|(elapsed, iters)| *iters as f64 / elapsed.as_secs_f64())
    };
    let Some(fsyncs) = rate("fsync_4k") else {
        return;
    };
    println!("\nstorage summary (same run): raw write+fdatasync of 4 KiB: {fsyncs:.0}/s");
    println!(
        "{:<12} {:>12} {:>12} {:>18}",
        "engine/batch", "commits/s", "entries/s", "commits/fsyncs"
    );
    for engine in [EngineKind::Redb, EngineKind::Sled] {
        for n in BATCHES {
            let name = format!("{engine}/{n}");
            if let Some(commits) = rate(&name) {
                let entries = commits * n as f64;
                println!(
                    "{name:<12} {commits:>12.0} {entries:>12.0} {:>18.2}",
                    commits / fsyncs
                );
            }
        }
    }
}

fn main() {
    let mut criterion = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args();
    fsync_4k(&mut criterion);
    commits(&mut criterion);
    criterion.final_summary();
    summary();
}

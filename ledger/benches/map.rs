//! State map benchmarks: one `StateRoot` batch of 1,000 touched accounts, proof generation and
//! verification, at 10^5 and 10^6 accounts, next to raw BLAKE3 of 64 bytes (one internal-node
//! hash) as the yardstick.
//!
//! `cargo bench -p testigo-ledger --bench map`; `TESTIGO_MAP_BENCH_ACCOUNTS=100000` limits the
//! sizes (populating 10^6 accounts takes about a minute). Besides criterion's report, prints
//! updates/s, the ratio to raw BLAKE3 hashes/s, and proof sizes.
//!
//! The allocator matters as much as the code here: jmt allocates per node read and written, and
//! with 10^6 accounts glibc's malloc spends about half of an update in `_int_malloc` and
//! `malloc_consolidate` over the fragmented heap. To see the figure a node built with jemalloc
//! (or mimalloc) gets, run the bench binary with
//! `LD_PRELOAD=/lib/x86_64-linux-gnu/libjemalloc.so.2` (Debian `libjemalloc2`).

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use testigo_ledger::map::{JmtStateMap, MapKey, MapUpdate, MemoryMapStore, StateMap};
use testigo_ledger::verify::verify_map_proof;

const BATCH: usize = 1_000;
/// About the size of an account record with its 32-byte salt.
const RECORD_LEN: usize = 120;

fn account_key(i: u64) -> MapKey {
    *blake3::hash(&i.to_be_bytes()).as_bytes()
}

fn record(i: u64, round: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(RECORD_LEN);
    let mut xof = blake3::Hasher::new()
        .update(&i.to_be_bytes())
        .update(&round.to_be_bytes())
        .finalize_xof();
    out.resize(RECORD_LEN, 0);
    xof.fill(&mut out);
    out
}

/// Touches `BATCH` accounts spread over `0..n`, deterministically per round.
fn batch(n: u64, round: u64) -> Vec<MapUpdate> {
    (0..BATCH as u64)
        .map(|j| {
            let i = (round.wrapping_mul(7_919) + j * 104_729) % n;
            (account_key(i), Some(record(i, round)))
        })
        .collect()
}

struct Fixture {
    map: JmtStateMap<MemoryMapStore>,
    next_version: u64,
    accounts: u64,
}

impl Fixture {
    fn new(accounts: u64) -> Self {
        let started = Instant::now();
        let mut map = JmtStateMap::new(MemoryMapStore::new());
        let mut version = 0;
        for chunk_start in (0..accounts).step_by(10_000) {
            let updates = (chunk_start..(chunk_start + 10_000).min(accounts))
                .map(|i| (account_key(i), Some(record(i, 0))))
                .collect();
            map.apply(version, updates).expect("populate");
            map.prune(version).expect("prune");
            version += 1;
        }
        println!(
            "populated {accounts} accounts in {:.1} s ({} nodes)",
            started.elapsed().as_secs_f64(),
            map.store().node_count()
        );
        Self {
            map,
            next_version: version,
            accounts,
        }
    }

    /// Applies one batch, returning only the time of `apply`; pruning runs untimed after it.
    fn timed_update(&mut self) -> Duration {
        let updates = batch(self.accounts, self.next_version);
        let started = Instant::now();
        black_box(self.map.apply(self.next_version, updates).expect("apply"));
        let took = started.elapsed();
        self.map.prune(self.next_version).expect("prune");
        self.next_version += 1;
        took
    }

    fn latest(&self) -> u64 {
        self.next_version - 1
    }
}

fn sizes() -> Vec<u64> {
    match std::env::var("TESTIGO_MAP_BENCH_ACCOUNTS") {
        Ok(n) => vec![n.parse().expect("TESTIGO_MAP_BENCH_ACCOUNTS is a number")],
        Err(_) => vec![100_000, 1_000_000],
    }
}

fn raw_blake3_per_sec() -> f64 {
    let input = [7u8; 64];
    let rounds = 2_000_000u32;
    let started = Instant::now();
    for _ in 0..rounds {
        black_box(blake3::hash(black_box(&input)));
    }
    f64::from(rounds) / started.elapsed().as_secs_f64()
}

fn bench_map(c: &mut Criterion) {
    c.bench_function("blake3/64_bytes", |b| {
        let input = [7u8; 64];
        b.iter(|| blake3::hash(black_box(&input)));
    });
    let hashes_per_sec = raw_blake3_per_sec();

    for accounts in sizes() {
        let mut fixture = Fixture::new(accounts);
        let mut group = c.benchmark_group("map");
        group.sample_size(10);
        group.measurement_time(Duration::from_secs(10));
        group.bench_function(BenchmarkId::new("update_1000", accounts), |b| {
            b.iter_custom(|iters| (0..iters).map(|_| fixture.timed_update()).sum());
        });

        let version = fixture.latest();
        let root = fixture.map.root(version).expect("root");
        let present = account_key(accounts / 2);
        let absent = account_key(accounts + 1);
        group.bench_function(BenchmarkId::new("prove", accounts), |b| {
            b.iter(|| {
                fixture
                    .map
                    .prove(black_box(&present), version)
                    .expect("prove")
            });
        });
        let (value, proof) = fixture.map.prove(&present, version).expect("prove");
        group.bench_function(BenchmarkId::new("verify", accounts), |b| {
            b.iter(|| verify_map_proof(&root, &present, value.as_deref(), black_box(&proof)));
        });
        group.finish();

        // A plain timing of the same work, for the figures the design discusses.
        let rounds = 20;
        let total: Duration = (0..rounds).map(|_| fixture.timed_update()).sum();
        let updates_per_sec = (rounds * BATCH) as f64 / total.as_secs_f64();
        let (_, absent_proof) = fixture.map.prove(&absent, fixture.latest()).expect("prove");
        println!(
            "map at {accounts} accounts: {updates_per_sec:.0} updates/s in batches of {BATCH}; \
             raw BLAKE3(64 B) {hashes_per_sec:.0}/s, ratio {:.0} hashes per update; \
             proof sizes (bincode): inclusion {} B ({} siblings), non-inclusion {} B",
            hashes_per_sec / updates_per_sec,
            proof.to_bytes().len(),
            proof.siblings.len(),
            absent_proof.to_bytes().len(),
        );
    }
}

criterion_group!(benches, bench_map);
criterion_main!(benches);

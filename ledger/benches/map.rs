//! State map benchmarks: one `StateRoot` batch of 1,000 touched accounts, proof generation and
//! verification, at 10^5 and 10^6 accounts, for `SparseMap` in memory, for a paged `SparseMap`
//! (16-bit buckets, as the node runs it) over an in-memory bucket store, and for `JmtStateMap`
//! (the reference), next to raw BLAKE3 of 64 bytes (one internal-node hash) as the yardstick.
//! The paged figures are the map's own work (reading a bucket back, checking it, hashing it
//! again); the node's store adds its range scans.
//!
//! `cargo bench -p testigo-ledger --bench map`; `TESTIGO_MAP_BENCH_ACCOUNTS=100000` limits the
//! sizes, `TESTIGO_MAP_BENCH_ONLY=paged` (or `sparse`, `jmt`) the kinds (populating jmt with 10^6 accounts takes about 15 s). Besides criterion's report,
//! prints updates/s, the ratio to raw BLAKE3 hashes/s, proof sizes, `SparseMap`'s populate time
//! (all accounts in one batch, as the node rebuilds the map at start-up) and the resident memory
//! it takes per account, record included (VmRSS growth from before the records are made to after
//! the populate, on a heap that no other map has used yet, so that no reused heap hides any of
//! it).
//!
//! The allocator matters as much as the code here: jmt allocates per node read and written, and
//! with 10^6 accounts glibc's malloc spends about half of an update in `_int_malloc` and
//! `malloc_consolidate` over the fragmented heap. To see the figure a node built with jemalloc
//! (or mimalloc) gets, run the bench binary with
//! `LD_PRELOAD=/lib/x86_64-linux-gnu/libjemalloc.so.2` (Debian `libjemalloc2`).

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use testigo_ledger::map::{
    JmtStateMap, MapKey, MapUpdate, MemoryBuckets, MemoryMapStore, PagedLoader, SparseMap, StateMap,
};
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

/// Bucket depth of the paged map, as the node's.
const BUCKET_BITS: usize = 16;

struct Fixture<M> {
    name: &'static str,
    map: M,
    /// A paged map's store, which each batch is committed to (untimed).
    buckets: Option<Arc<MemoryBuckets>>,
    next_version: u64,
    accounts: u64,
    /// Time spent pruning (freeing the versions that batches replaced), apart from the updates.
    pruning: Duration,
}

impl Fixture<JmtStateMap<MemoryMapStore>> {
    /// jmt populated in batches of 10,000 (one batch of 10^6 takes several times the memory).
    fn jmt(accounts: u64) -> Self {
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
            "jmt: populated {accounts} accounts in {:.1} s, batches of 10000 ({} nodes)",
            started.elapsed().as_secs_f64(),
            map.store().node_count()
        );
        Self {
            name: "jmt",
            map,
            buckets: None,
            next_version: version,
            accounts,
            pruning: Duration::ZERO,
        }
    }
}

impl Fixture<SparseMap> {
    /// All accounts in one batch, timed; with `fresh_heap`, also the resident memory it adds
    /// (elsewhere the map reuses memory that an earlier map freed, and the growth says nothing).
    fn sparse(accounts: u64, fresh_heap: bool) -> Self {
        // Counted from before the records exist: the map keeps them (moved into its leaves), so
        // the growth is nodes and values together.
        let rss_before = rss_bytes();
        let updates: Vec<MapUpdate> = (0..accounts)
            .map(|i| (account_key(i), Some(record(i, 0))))
            .collect();
        let mut map = SparseMap::new();
        let started = Instant::now();
        map.apply(0, updates).expect("populate");
        let took = started.elapsed();
        let memory = if fresh_heap {
            let rss_after = rss_bytes();
            format!(
                "VmRSS {} MiB, {:.0} B per account with its {RECORD_LEN}-byte record",
                rss_after >> 20,
                rss_after.saturating_sub(rss_before) as f64 / accounts as f64,
            )
        } else {
            "memory not measured (heap reused)".into()
        };
        println!(
            "sparse: populated {accounts} accounts in {:.2} s, one batch; {memory}",
            took.as_secs_f64(),
        );
        Self {
            name: "sparse",
            map,
            buckets: None,
            next_version: 1,
            accounts,
            pruning: Duration::ZERO,
        }
    }
}

impl Fixture<SparseMap> {
    /// A paged map loaded from a store of `accounts` records, as a node starts; with
    /// `fresh_heap`, also the resident memory the tree adds beyond the store's records.
    fn paged(accounts: u64, fresh_heap: bool) -> Self {
        let buckets = Arc::new(MemoryBuckets::new());
        let held: Vec<MapUpdate> = (0..accounts)
            .map(|i| (account_key(i), Some(record(i, 0))))
            .collect();
        buckets.commit(0, held);
        let rss_before = rss_bytes();
        let started = Instant::now();
        let mut loader = PagedLoader::new(BUCKET_BITS);
        for (key, value) in buckets.values() {
            loader.push(key, value).expect("sorted");
        }
        let map = SparseMap::load_paged(buckets.clone(), 0, loader);
        let took = started.elapsed();
        let memory = if fresh_heap {
            let grown = rss_bytes().saturating_sub(rss_before);
            format!(
                "the tree adds {} KiB of VmRSS ({:.1} B per account)",
                grown >> 10,
                grown as f64 / accounts as f64,
            )
        } else {
            "memory not measured (heap reused)".into()
        };
        println!(
            "paged: loaded {accounts} accounts in {:.2} s, {BUCKET_BITS}-bit buckets; {memory}",
            took.as_secs_f64(),
        );
        Self {
            name: "paged",
            map,
            buckets: Some(buckets),
            next_version: 1,
            accounts,
            pruning: Duration::ZERO,
        }
    }
}

impl<M: StateMap> Fixture<M> {
    /// Applies one batch, returning only the time of `apply`; pruning the previous version runs
    /// after it, timed apart into `pruning`.
    fn timed_update(&mut self) -> Duration {
        let updates = batch(self.accounts, self.next_version);
        let committed = self.buckets.as_ref().map(|_| updates.clone());
        let started = Instant::now();
        black_box(self.map.apply(self.next_version, updates).expect("apply"));
        let took = started.elapsed();
        if let (Some(buckets), Some(updates)) = (&self.buckets, committed) {
            buckets.commit(self.next_version, updates);
        }
        let started = Instant::now();
        self.map.prune(self.next_version).expect("prune");
        self.pruning += started.elapsed();
        self.next_version += 1;
        took
    }

    fn latest(&self) -> u64 {
        self.next_version - 1
    }

    fn bench(&mut self, c: &mut Criterion, hashes_per_sec: f64) {
        let accounts = self.accounts;
        let mut group = c.benchmark_group(format!("map/{}", self.name));
        group.sample_size(10);
        group.measurement_time(Duration::from_secs(10));
        group.bench_function(BenchmarkId::new("update_1000", accounts), |b| {
            b.iter_custom(|iters| (0..iters).map(|_| self.timed_update()).sum());
        });

        let version = self.latest();
        let root = self.map.root(version).expect("root");
        let present = account_key(accounts / 2);
        let absent = account_key(accounts + 1);
        group.bench_function(BenchmarkId::new("prove", accounts), |b| {
            b.iter(|| self.map.prove(black_box(&present), version).expect("prove"));
        });
        let (value, proof) = self.map.prove(&present, version).expect("prove");
        group.bench_function(BenchmarkId::new("verify", accounts), |b| {
            b.iter(|| verify_map_proof(&root, &present, value.as_deref(), black_box(&proof)));
        });
        group.finish();

        // A plain timing of the same work, for the figures the design discusses.
        let rounds = 100;
        self.pruning = Duration::ZERO;
        let total: Duration = (0..rounds).map(|_| self.timed_update()).sum();
        let updates_per_sec = (rounds * BATCH) as f64 / total.as_secs_f64();
        let prune_per_batch = self.pruning / rounds as u32;
        let (_, absent_proof) = self.map.prove(&absent, self.latest()).expect("prove");
        let proofs = 10_000u32;
        let started = Instant::now();
        for _ in 0..proofs {
            black_box(
                self.map
                    .prove(black_box(&present), self.latest())
                    .expect("prove"),
            );
        }
        let prove_time = started.elapsed() / proofs;
        let started = Instant::now();
        for _ in 0..proofs {
            let _ = black_box(verify_map_proof(
                &root,
                &present,
                value.as_deref(),
                black_box(&proof),
            ));
        }
        let verify_time = started.elapsed() / proofs;
        println!(
            "{} at {accounts} accounts: {updates_per_sec:.0} updates/s in batches of {BATCH}; \
             raw BLAKE3(64 B) {hashes_per_sec:.0}/s, ratio {:.1} hashes per update; \
             pruning the replaced version {:.2} ms per batch; \
             prove {:.1} us, verify {:.1} us; proof sizes (bincode): inclusion {} B \
             ({} siblings), non-inclusion {} B",
            self.name,
            hashes_per_sec / updates_per_sec,
            prune_per_batch.as_secs_f64() * 1e3,
            prove_time.as_secs_f64() * 1e6,
            verify_time.as_secs_f64() * 1e6,
            proof.to_bytes().len(),
            proof.siblings.len(),
            absent_proof.to_bytes().len(),
        );
    }
}

/// The process's resident memory (`VmRSS` in `/proc/self/status`), 0 where there is none.
fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
            let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
            Some(kib * 1024)
        })
        .unwrap_or(0)
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

    // Only the first map made measures its memory, on a heap no other map used (the largest
    // first); every SparseMap before any jmt map, so that jmt's freed nodes, scattered over the
    // heap, do not change the cost of the allocations it measures.
    // `TESTIGO_MAP_BENCH_ONLY=paged|sparse|jmt` runs one kind, so that its memory figure is
    // measured on a fresh heap whichever it is.
    let only = std::env::var("TESTIGO_MAP_BENCH_ONLY").ok();
    let runs = |kind: &str| only.as_deref().is_none_or(|only| only == kind);
    let mut sizes = sizes();
    sizes.sort_unstable_by(|a, b| b.cmp(a));
    let mut fresh = true;
    if runs("paged") {
        for &accounts in &sizes {
            Fixture::paged(accounts, std::mem::take(&mut fresh)).bench(c, hashes_per_sec);
        }
    }
    if runs("sparse") {
        for &accounts in &sizes {
            Fixture::sparse(accounts, std::mem::take(&mut fresh)).bench(c, hashes_per_sec);
        }
    }
    if runs("jmt") {
        for &accounts in sizes.iter().rev() {
            Fixture::jmt(accounts).bench(c, hashes_per_sec);
        }
    }
}

criterion_group!(benches, bench_map);
criterion_main!(benches);

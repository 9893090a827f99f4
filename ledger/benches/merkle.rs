//! Merkle log benchmarks: hashing, integrate (append), proof generation and verification on a
//! 1,000,000-leaf tree, with BLAKE3 as in production.
//!
//! Besides criterion's figures, `ratios` times the same operations against one raw BLAKE3 call on
//! 64 bytes (the size of an interior node's input) and prints the cost of each operation in raw
//! node hashes, which says how close to the hashing floor the code is.
//!
//! Run: `cargo bench -p testigo-ledger --bench merkle` (add `-- --quick` for a short run).

use std::hint::black_box;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use testigo_ledger::merkle::{
    MemoryStore, consistency_proof, inclusion_proof_with_leaf, integrate, root,
};
use testigo_ledger::verify::{verify_consistency, verify_inclusion};
use testigo_ledger::{Blake3, Hash, TreeHasher};

const N: u64 = 1_000_000;
/// A typical entry: envelope (109 bytes) plus a short body.
const LEAF_BYTES: usize = 250;

/// The 1M-leaf tree, its root, and a spread of indices and old sizes to prove.
struct Fixture {
    store: MemoryStore,
    root: Hash,
    indices: Vec<u64>,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let leaves: Vec<Hash> = (0..N).map(|i| Blake3.hash_leaf(&i.to_be_bytes())).collect();
        let mut store = MemoryStore::new();
        for batch in leaves.chunks(100_000) {
            store.append(&Blake3, batch).unwrap();
        }
        let root = root(&Blake3, &store, N).unwrap();
        // Spread deterministically over the tree (Weyl sequence), avoiding cache-friendly runs.
        let indices = (1..=1024u64)
            .map(|i| i.wrapping_mul(0x9e37_79b9_7f4a_7c15) % N)
            .collect();
        Fixture {
            store,
            root,
            indices,
        }
    })
}

fn hashing(c: &mut Criterion) {
    let mut group = c.benchmark_group("hash");
    let node_input = [7u8; 64];
    group.bench_function("raw_blake3_64B", |b| {
        b.iter(|| blake3::hash(black_box(&node_input)))
    });
    let (left, right) = (Blake3.hash_leaf(b"l"), Blake3.hash_leaf(b"r"));
    group.bench_function("node", |b| {
        b.iter(|| Blake3.hash_children(black_box(&left), black_box(&right)))
    });
    let leaf = [1u8; LEAF_BYTES];
    group.throughput(Throughput::Bytes(LEAF_BYTES as u64));
    group.bench_function("leaf_250B", |b| {
        b.iter(|| Blake3.hash_leaf(black_box(&leaf)))
    });
    group.finish();
}

fn integrating(c: &mut Criterion) {
    let f = fixture();
    let mut group = c.benchmark_group("integrate_at_1M");
    for batch in [1usize, 100, 1000, 10_000] {
        let leaves: Vec<Hash> = (0..batch as u64)
            .map(|i| Blake3.hash_leaf(&i.to_le_bytes()))
            .collect();
        group.throughput(Throughput::Elements(batch as u64));
        group.bench_with_input(BenchmarkId::from_parameter(batch), &leaves, |b, leaves| {
            b.iter(|| integrate(&Blake3, &f.store, N, black_box(leaves)).unwrap())
        });
    }
    group.finish();
}

fn proving(c: &mut Criterion) {
    let f = fixture();
    let mut group = c.benchmark_group("prove_at_1M");
    let mut i = 0;
    group.bench_function("root", |b| {
        b.iter(|| root(&Blake3, &f.store, black_box(N - 1)).unwrap())
    });
    group.bench_function("inclusion", |b| {
        b.iter(|| {
            i = (i + 1) % f.indices.len();
            inclusion_proof_with_leaf(&Blake3, &f.store, f.indices[i], N).unwrap()
        })
    });
    group.bench_function("consistency", |b| {
        b.iter(|| {
            i = (i + 1) % f.indices.len();
            consistency_proof(&Blake3, &f.store, f.indices[i] + 1, N).unwrap()
        })
    });
    group.finish();
}

fn verifying(c: &mut Criterion) {
    let f = fixture();
    let index = f.indices[0];
    let (leaf, proof) = inclusion_proof_with_leaf(&Blake3, &f.store, index, N).unwrap();
    let from = index + 1;
    let old_root = root(&Blake3, &f.store, from).unwrap();
    let consistency = consistency_proof(&Blake3, &f.store, from, N).unwrap();
    let mut group = c.benchmark_group("verify_at_1M");
    group.bench_function("inclusion", |b| {
        b.iter(|| verify_inclusion(&Blake3, index, N, &leaf, black_box(&proof), &f.root).unwrap())
    });
    group.bench_function("consistency", |b| {
        b.iter(|| {
            verify_consistency(
                &Blake3,
                from,
                N,
                &old_root,
                &f.root,
                black_box(&consistency),
            )
            .unwrap()
        })
    });
    group.finish();
}

/// Mean time of `op` over about `budget` of repeated calls.
fn time(budget: Duration, mut op: impl FnMut()) -> Duration {
    let start = Instant::now();
    let mut runs = 0u32;
    while start.elapsed() < budget {
        for _ in 0..16 {
            op();
        }
        runs += 16;
    }
    start.elapsed() / runs
}

/// Costs in raw BLAKE3 node hashes, printed once per run; criterion has no API to read back its
/// own estimates, so these use plain timing loops of their own.
fn ratios(_: &mut Criterion) {
    let f = fixture();
    let budget = Duration::from_millis(300);
    let node_input = [7u8; 64];
    let raw = time(budget, || {
        black_box(blake3::hash(black_box(&node_input)));
    });
    let leaf_bytes = [1u8; LEAF_BYTES];
    let leaf = time(budget, || {
        black_box(Blake3.hash_leaf(black_box(&leaf_bytes)));
    });
    let batch: Vec<Hash> = (0..1000u64)
        .map(|i| Blake3.hash_leaf(&i.to_le_bytes()))
        .collect();
    let integrate_1000 = time(budget, || {
        black_box(integrate(&Blake3, &f.store, N, &batch).unwrap());
    }) / 1000;
    let mut i = 0;
    let inclusion = time(budget, || {
        i = (i + 1) % f.indices.len();
        black_box(inclusion_proof_with_leaf(&Blake3, &f.store, f.indices[i], N).unwrap());
    });
    let consistency = time(budget, || {
        i = (i + 1) % f.indices.len();
        black_box(consistency_proof(&Blake3, &f.store, f.indices[i] + 1, N).unwrap());
    });
    let (index, size) = (f.indices[0], N);
    let (leaf_hash, proof) = inclusion_proof_with_leaf(&Blake3, &f.store, index, size).unwrap();
    let verify = time(budget, || {
        let result = verify_inclusion(&Blake3, index, size, &leaf_hash, black_box(&proof), &f.root);
        black_box(result).unwrap();
    });

    let per_raw = |d: Duration| d.as_secs_f64() / raw.as_secs_f64();
    println!("\nratios to one raw BLAKE3 of 64 bytes ({raw:?}):");
    println!(
        "  leaf hash, {LEAF_BYTES} B:              {:6.2} raw node hashes",
        per_raw(leaf)
    );
    println!(
        "  integrate, batches of 1000:     {:6.2} raw node hashes per leaf ({integrate_1000:?}/leaf, leaf hashing excluded)",
        per_raw(integrate_1000)
    );
    println!(
        "  inclusion proof at 1M:          {:6.2} raw node hashes ({inclusion:?}; proof of {} hashes)",
        per_raw(inclusion),
        proof.len()
    );
    println!(
        "  consistency proof at 1M:        {:6.2} raw node hashes ({consistency:?})",
        per_raw(consistency)
    );
    println!(
        "  verify inclusion at 1M:         {:6.2} raw node hashes ({verify:?})",
        per_raw(verify)
    );
}

criterion_group!(benches, hashing, integrating, proving, verifying, ratios);
criterion_main!(benches);

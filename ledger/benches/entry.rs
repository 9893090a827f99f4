//! Entry signing and verification, single and batched, against the machine's raw Ed25519 and
//! BLAKE3 speed measured in the same run (absolute times on shared machines are noisy).

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ed25519_dalek::{Signer as _, SigningKey};
use testigo_ledger::entry::signature::{
    BATCH, SignedMessage, sign_body, signing_message, verify_leaves,
};
use testigo_ledger::entry::{Access, Body, DataCategory, Leaf, LegalBasis, Purpose, verify_leaf};
use testigo_ledger::{Blake3, PublicKey, TreeHasher};

const ORIGIN: &str = "bench.testigo.example/log/1";

fn key(i: u64) -> SigningKey {
    SigningKey::from_bytes(blake3::hash(&i.to_be_bytes()).as_bytes())
}

fn access(i: u64) -> Body {
    Body::Access(Access {
        nonce: i,
        subject: PublicKey(key(i + 1_000_000).verifying_key().to_bytes()),
        category: DataCategory::Location,
        purpose: Purpose::PersonalisedAdvertising,
        legal_basis: LegalBasis::Consent,
        consent: Some(i / 3),
        price: 3,
    })
}

fn leaves(n: u64) -> Vec<Leaf> {
    (0..n)
        .map(|i| sign_body(ORIGIN, &key(i % 64), &access(i)))
        .collect()
}

/// Mean time of `f` over about `budget`.
fn time_per_op(budget: Duration, mut f: impl FnMut()) -> Duration {
    let start = Instant::now();
    let mut n = 0u32;
    while start.elapsed() < budget {
        f();
        n += 1;
    }
    start.elapsed() / n.max(1)
}

fn baselines() -> (Duration, Duration) {
    let sk = key(1);
    let vk = sk.verifying_key();
    let msg = [7u8; 64];
    let sig = sk.sign(&msg);
    let strict = time_per_op(Duration::from_millis(300), || {
        black_box(vk.verify_strict(black_box(&msg), &sig)).unwrap();
    });
    let leaf = [9u8; 120];
    let blake = time_per_op(Duration::from_millis(200), || {
        black_box(Blake3.hash_leaf(black_box(&leaf)));
    });
    (strict, blake)
}

fn bench(c: &mut Criterion) {
    let (strict, blake) = baselines();
    let sample = leaves(1024);
    let bytes = sample[0].to_bytes();
    eprintln!(
        "baseline: raw verify_strict {:.1} µs, raw BLAKE3 of a {}-byte leaf {:.3} µs",
        strict.as_secs_f64() * 1e6,
        bytes.len(),
        blake.as_secs_f64() * 1e6
    );

    c.bench_function("entry/sign", |b| {
        let sk = key(5);
        let body = access(5);
        b.iter(|| sign_body(ORIGIN, &sk, black_box(&body)))
    });
    c.bench_function("entry/leaf_hash", |b| {
        b.iter(|| black_box(&sample[0]).hash(&Blake3))
    });
    c.bench_function("entry/parse_and_decode", |b| {
        b.iter(|| {
            Leaf::from_bytes(black_box(&bytes))
                .unwrap()
                .decode_body()
                .unwrap()
        })
    });
    c.bench_function("entry/verify_leaf", |b| {
        b.iter(|| verify_leaf(ORIGIN, black_box(&sample[0])).unwrap())
    });

    // The production path: ZIP 215 batches of `BATCH` inside `verify_leaves`.
    let distinct: Vec<Leaf> = (0..1024u64)
        .map(|i| sign_body(ORIGIN, &key(i + 5_000), &access(i)))
        .collect();
    let mut group = c.benchmark_group("entry/verify_leaves");
    for (name, set) in [("64_signers", &sample), ("all_distinct", &distinct)] {
        let refs: Vec<&Leaf> = set.iter().collect();
        group.throughput(Throughput::Elements(refs.len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(name), &refs, |b, refs| {
            b.iter(|| {
                let results = verify_leaves(ORIGIN, black_box(refs));
                assert!(results.iter().all(Result::is_ok));
            })
        });
    }
    group.finish();

    // Ratios printed from direct measurements, so they sit next to the baselines of this run.
    let single = time_per_op(Duration::from_millis(500), || {
        verify_leaf(ORIGIN, &sample[0]).unwrap();
    });
    eprintln!(
        "entry verify: single ZIP 215 check {:.1} µs = {:.2}× raw verify_strict",
        single.as_secs_f64() * 1e6,
        single.as_secs_f64() / strict.as_secs_f64(),
    );
    for (name, set) in [("64 signers", &sample), ("distinct signers", &distinct)] {
        let refs: Vec<&Leaf> = set.iter().collect();
        let per = time_per_op(Duration::from_millis(1500), || {
            black_box(verify_leaves(ORIGIN, &refs));
        }) / 1024;
        eprintln!(
            "verify_leaves, 1024 leaves, {name}: {:.1} µs per leaf = {:.2}× raw verify_strict              (one core: {:.0} leaves/s)",
            per.as_secs_f64() * 1e6,
            per.as_secs_f64() / strict.as_secs_f64(),
            1.0 / per.as_secs_f64(),
        );
    }
    // Why `BATCH` is what it is: the batch equation's cost per signature by batch size.
    let refs: Vec<&Leaf> = distinct.iter().collect();
    let messages: Vec<Vec<u8>> = refs
        .iter()
        .map(|l| signing_message(ORIGIN, &l.body))
        .collect();
    for n in [4usize, 8, 16, 32, 64, 128, 256, 1024] {
        let items: Vec<SignedMessage<'_>> = refs[..n]
            .iter()
            .zip(&messages)
            .map(|(l, m)| SignedMessage {
                key: &l.signer,
                message: m,
                signature: &l.signature,
            })
            .collect();
        let per = time_per_op(Duration::from_millis(400), || {
            black_box(zip215_batch(&items));
        }) / n as u32;
        eprintln!(
            "one ZIP 215 batch equation of {n:>4} distinct signers: {:.2}× raw verify_strict per signature",
            per.as_secs_f64() / strict.as_secs_f64()
        );
    }
    eprintln!("(verify_leaves uses batches of {BATCH})");
}

/// One batch equation over all of `items`, without chunking, to measure its cost by size.
fn zip215_batch(items: &[SignedMessage<'_>]) -> bool {
    let mut verifier = ed25519_zebra::batch::Verifier::new();
    for item in items {
        verifier.queue((
            ed25519_zebra::VerificationKeyBytes::from(*item.key.as_bytes()),
            ed25519_zebra::Signature::from_bytes(item.signature),
            item.message,
        ));
    }
    let seed = [7u8; 32];
    verifier
        .verify(<rand_chacha::ChaCha20Rng as rand_chacha::rand_core::SeedableRng>::from_seed(seed))
        .is_ok()
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = bench
}
criterion_main!(benches);

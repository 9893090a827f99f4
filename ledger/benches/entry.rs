//! Entry signing and verification, single and batched, against the machine's raw Ed25519 and
//! BLAKE3 speed measured in the same run (absolute times on shared machines are noisy).

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ed25519_dalek::{Signer as _, SigningKey};
use testigo_ledger::entry::signature::{SignedMessage, sign_body, signing_message, verify_batch};
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
    c.bench_function("entry/verify_strict", |b| {
        b.iter(|| verify_leaf(ORIGIN, black_box(&sample[0])).unwrap())
    });

    let mut group = c.benchmark_group("entry/verify_batch_exact");
    for n in [64usize, 256, 1024] {
        let refs: Vec<&Leaf> = sample[..n].iter().collect();
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::from_parameter(n), &refs, |b, refs| {
            b.iter(|| {
                let results = verify_batch_of(black_box(refs));
                assert!(results.iter().all(Result::is_ok));
            })
        });
    }
    group.finish();

    // Ratios printed from a direct measurement, so they sit next to the baselines of this run.
    let refs: Vec<&Leaf> = sample.iter().collect();
    let batch = time_per_op(Duration::from_millis(1500), || {
        black_box(verify_batch_of(&refs));
    }) / 1024;
    let raw_batch = raw_batch_per_signature();
    let single = time_per_op(Duration::from_millis(500), || {
        verify_leaf(ORIGIN, &sample[0]).unwrap();
    });
    eprintln!(
        "entry verify: strict {:.1} µs = {:.2}× raw verify_strict; exact batch-of-1024 (prime-order filter) {:.1} µs per entry = {:.2}× raw; \
         one core's ceiling {:.0} entries/s strict, {:.0} exact-batched; raw dalek batch {:.1} µs = {:.2}× raw strict (two-core ceiling {:.0}/s)",
        single.as_secs_f64() * 1e6,
        single.as_secs_f64() / strict.as_secs_f64(),
        batch.as_secs_f64() * 1e6,
        batch.as_secs_f64() / strict.as_secs_f64(),
        1.0 / single.as_secs_f64(),
        1.0 / batch.as_secs_f64(),
        raw_batch.as_secs_f64() * 1e6,
        raw_batch.as_secs_f64() / strict.as_secs_f64(),
        2.0 / raw_batch.as_secs_f64(),
    );
}

fn verify_batch_of(leaves: &[&Leaf]) -> Vec<Result<(), testigo_ledger::entry::SignatureError>> {
    let messages: Vec<Vec<u8>> = leaves
        .iter()
        .map(|l| signing_message(ORIGIN, &l.body))
        .collect();
    let items: Vec<SignedMessage<'_>> = leaves
        .iter()
        .zip(&messages)
        .map(|(l, m)| SignedMessage {
            key: &l.signer,
            message: m,
            signature: &l.signature,
        })
        .collect();
    verify_batch(&items)
}

/// ed25519-dalek's raw batch equation over 1024 signatures, per signature: the machine's
/// batch-verification ceiling that load figures are compared with.
fn raw_batch_per_signature() -> Duration {
    let sk = key(3);
    let messages: Vec<Vec<u8>> = (0..1024u32).map(|i| i.to_be_bytes().to_vec()).collect();
    let sigs: Vec<ed25519_dalek::Signature> = messages.iter().map(|m| sk.sign(m)).collect();
    let refs: Vec<&[u8]> = messages.iter().map(Vec::as_slice).collect();
    let keys = vec![sk.verifying_key(); 1024];
    time_per_op(Duration::from_millis(1500), || {
        ed25519_dalek::verify_batch(&refs, &sigs, &keys).unwrap();
    }) / 1024
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = bench
}
criterion_main!(benches);

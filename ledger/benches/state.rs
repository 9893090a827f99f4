//! State machine benchmarks: `Engine::apply` per body kind, preverified and with the strict
//! signature check, and verification of a 10,000-leaf history; next to raw BLAKE3 of one leaf and
//! one `verify_strict` as yardsticks. Each leaf is applied to a fresh engine over an in-memory
//! `SparseMap`, so the `state_root` figure includes writing the map version it commits to.
//!
//! `cargo bench -p testigo-ledger --bench state` (add `-- --quick` for a short run). Besides
//! criterion's report, prints each measurement as a multiple of its yardstick.

#[path = "../tests/common/mod.rs"]
mod common;

use std::hint::black_box;
use std::time::{Duration, Instant};

use common::fixture::{Fixture, access_body, grant_body};
use common::tree::TestTree;
use common::{ORIGIN, pk};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use testigo_ledger::entry::*;
use testigo_ledger::map::SparseMap;
use testigo_ledger::state::{Engine, State};
use testigo_ledger::verify::{HistoryCommitment, HistoryEntry, TreeHead, verify_history};
use testigo_ledger::{Blake3, Hash, TreeHasher};

const HISTORY: usize = 10_000;

/// A state with parties, a consent (index returned), an earned balance and an open claim.
fn base() -> (Fixture, u64, u64) {
    let mut f = Fixture::parties();
    let c = f.grant("alice", None, 1);
    f.access("acme", "alice", c, 500).unwrap();
    let claim = f
        .ok("alice", |nonce| {
            Body::Claim(Claim {
                nonce,
                amount: 10,
                payout_ref: Hash([1; 32]),
            })
        })
        .index;
    (f, c, claim)
}

/// One signed, stamped leaf of each kind that applies to the base state.
fn leaves(f: &Fixture, consent: u64, claim: u64) -> Vec<(&'static str, Leaf)> {
    vec![
        (
            "enroll_subject",
            f.sign("operator", |nonce| {
                Body::EnrollSubject(EnrollSubject {
                    nonce,
                    subject: pk("carol"),
                    salt: [3; 32],
                })
            }),
        ),
        (
            "register_accessor",
            f.sign("operator", |nonce| {
                Body::RegisterAccessor(common::fixture::register_body(nonce, pk("newco"), "newco"))
            }),
        ),
        (
            "deposit",
            f.sign("operator", |nonce| {
                Body::Deposit(Deposit {
                    nonce,
                    accessor: pk("acme"),
                    amount: 50,
                    reference: "SEPA-1".into(),
                })
            }),
        ),
        (
            "grant_consent",
            f.sign("alice", |nonce| {
                Body::GrantConsent(GrantConsent {
                    nonce,
                    ..grant_body(Some(pk("acme")), 2, 0)
                })
            }),
        ),
        (
            "revoke_consent",
            f.sign("alice", |nonce| {
                Body::RevokeConsent(RevokeConsent { nonce, consent })
            }),
        ),
        (
            "access",
            f.sign("acme", |nonce| {
                Body::Access(access_body(nonce, pk("alice"), Some(consent), 3))
            }),
        ),
        (
            "claim",
            f.sign("alice", |nonce| {
                Body::Claim(Claim {
                    nonce,
                    amount: 5,
                    payout_ref: Hash([2; 32]),
                })
            }),
        ),
        (
            "payout_settled",
            f.sign("operator", |nonce| {
                Body::PayoutSettled(PayoutSettled {
                    nonce,
                    claim,
                    settlement_ref: "P-1".into(),
                })
            }),
        ),
        (
            "state_root",
            f.sign("operator", |_| Body::StateRoot(next_state_root(f.state()))),
        ),
    ]
}

/// A fresh engine over `state`. The base state has no `StateRoot` yet, so its map has no version
/// and an empty map is the one it would have.
fn engine(state: &State) -> Engine<SparseMap> {
    Engine::from_parts(state.clone(), SparseMap::new())
}

/// The `StateRoot` the operator would sign next over `state`, with the right map root.
fn next_state_root(state: &State) -> StateRoot {
    engine(state)
        .prepare_state_root()
        .expect("an in-memory map does not fail")
}

/// Mean time of `op` over enough runs to take about 200 ms.
fn per_op(mut op: impl FnMut()) -> Duration {
    let mut n = 1u32;
    loop {
        let started = Instant::now();
        for _ in 0..n {
            op();
        }
        let took = started.elapsed();
        if took > Duration::from_millis(200) {
            return took / n;
        }
        n *= 2;
    }
}

fn bench_apply(c: &mut Criterion) {
    let (f, consent, claim) = base();
    let state: State = f.state().clone();
    let leaves = leaves(&f, consent, claim);
    let sample = &leaves[5].1;
    let blake = per_op(|| {
        black_box(Blake3.hash_leaf(black_box(&sample.to_bytes())));
    });
    let strict = per_op(|| {
        black_box(verify_leaf(ORIGIN, black_box(sample)).is_ok());
    });
    println!("yardsticks: BLAKE3 leaf hash {blake:?}, verify_strict {strict:?}");
    let mut group = c.benchmark_group("apply");
    for (name, leaf) in &leaves {
        let at = leaf.sequenced_at;
        // Each run applies to a fresh copy; the copy is made outside the measurement.
        for (mode, verify) in [("preverified", false), ("signed", true)] {
            let mut s = engine(&state);
            let ok = if verify {
                s.apply(leaf, at)
            } else {
                s.apply_preverified(leaf, at)
            };
            assert!(ok.is_ok(), "{name}: {ok:?}");
            group.bench_function(format!("{name}/{mode}"), |b| {
                b.iter_batched_ref(
                    || engine(&state),
                    |s| {
                        let r = if verify {
                            s.apply(leaf, at)
                        } else {
                            s.apply_preverified(leaf, at)
                        };
                        black_box(r.is_ok())
                    },
                    BatchSize::SmallInput,
                )
            });
        }
        let mut clones: Vec<Engine<SparseMap>> = Vec::new();
        let pre = per_op_batched(&state, &mut clones, |s| {
            drop(black_box(s.apply_preverified(leaf, at)))
        });
        let signed = per_op_batched(&state, &mut clones, |s| drop(black_box(s.apply(leaf, at))));
        println!(
            "apply {name:>17}: preverified {pre:>10?} = {:>5.1} BLAKE3 leaf hashes; signed {signed:>10?} = {:.2} verify_strict",
            ratio(pre, blake),
            ratio(signed, strict),
        );
    }
    group.finish();
}

/// Time of `op` on fresh engines over `state`, their making excluded.
fn per_op_batched(
    state: &State,
    clones: &mut Vec<Engine<SparseMap>>,
    mut op: impl FnMut(&mut Engine<SparseMap>),
) -> Duration {
    const N: usize = 2_000;
    clones.clear();
    clones.extend((0..N).map(|_| engine(state)));
    let started = Instant::now();
    for s in clones.iter_mut() {
        op(s);
    }
    started.elapsed() / N as u32
}

fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64()
}

fn bench_history(c: &mut Criterion) {
    let mut f = Fixture::parties();
    let consent = f.grant("alice", Some("acme"), 0);
    for _ in 0..HISTORY - 1 {
        f.access("acme", "alice", consent, 0).unwrap();
    }
    let as_of = f.state_root().index;
    let tree = TestTree::new(
        f.leaves
            .iter()
            .map(|l| Blake3.hash_leaf(&l.to_bytes()))
            .collect(),
    );
    let head = TreeHead {
        size: tree.size(),
        root: tree.root(),
    };
    let committed = HistoryCommitment::of(f.state().account(&pk("alice")).unwrap());
    let entries: Vec<HistoryEntry> = f
        .history_of("alice")
        .into_iter()
        .filter(|(i, _)| *i < as_of)
        .map(|(index, leaf)| HistoryEntry {
            index,
            leaf: leaf.to_bytes(),
            proof: tree.proof(index),
        })
        .collect();
    let n = entries.len();
    assert!(n > HISTORY, "{n}");
    let verify =
        || verify_history(&pk("alice"), &committed, as_of, &head, &entries).map(|v| v.len());
    assert_eq!(verify(), Ok(n));
    let proof_len = entries[n / 2].proof.len();
    let node = per_op(|| {
        black_box(Blake3.hash_children(black_box(&head.root), black_box(&head.root)));
    });
    let took = per_op(|| {
        black_box(verify().is_ok());
    });
    let per_entry = took / n as u32;
    println!(
        "verify_history of {n} leaves: {took:?} ({per_entry:?} per leaf = {:.1} BLAKE3 node hashes; an inclusion proof here has ~{proof_len})",
        ratio(per_entry, node)
    );
    let mut group = c.benchmark_group("history");
    group.sample_size(10);
    group.bench_function(format!("verify_{n}"), |b| {
        b.iter(|| black_box(verify().is_ok()))
    });
    group.finish();
}

criterion_group!(benches, bench_apply, bench_history);
criterion_main!(benches);

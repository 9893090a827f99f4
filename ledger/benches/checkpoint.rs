//! Checkpoint, cosignature and quorum verification, against the raw cost of one strict Ed25519
//! verification: the ratios show what the note format costs on top of the signatures themselves.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::Criterion;
use ed25519_dalek::{Signer as _, SigningKey};
use testigo_ledger::checkpoint::{
    Checkpoint, CosignedCheckpoint, SignedNote, WitnessKey, cosign, sign_checkpoint,
};
use testigo_ledger::verify::{verify_checkpoint, verify_cosignature, verify_witnessed};
use testigo_ledger::{Hash, PublicKey};

const ORIGIN: &str = "testigo.example/log/1";

struct Fixture {
    log_key: PublicKey,
    witnesses: Vec<WitnessKey>,
    operator_note: String,
    cosigned_note: String,
    raw_key: ed25519_dalek::VerifyingKey,
    raw_message: [u8; 64],
    raw_signature: ed25519_dalek::Signature,
}

fn fixture() -> Fixture {
    let log = SigningKey::from_bytes(&[1; 32]);
    let checkpoint = Checkpoint::new(ORIGIN, 123_456_789, Hash([7; 32])).unwrap();
    let signed = sign_checkpoint(&checkpoint, &log);
    let mut cosigned = CosignedCheckpoint::from_note(signed.clone()).unwrap();
    let mut witnesses = Vec::new();
    for i in 2..5u8 {
        let key = SigningKey::from_bytes(&[i; 32]);
        let w = WitnessKey {
            name: format!("witness{i}.example"),
            key: PublicKey(key.verifying_key().to_bytes()),
        };
        let c = cosign(&checkpoint, &w.name, &key, 1_795_953_600).unwrap();
        cosigned.add_cosignature(&c, &w.key).unwrap();
        witnesses.push(w);
    }
    let raw_message = [42u8; 64];
    Fixture {
        log_key: PublicKey(log.verifying_key().to_bytes()),
        witnesses,
        operator_note: signed.to_text(),
        cosigned_note: cosigned.to_text(),
        raw_key: log.verifying_key(),
        raw_signature: log.sign(&raw_message),
        raw_message,
    }
}

type Job<'a> = (&'static str, Box<dyn Fn() + 'a>);

fn jobs(f: &Fixture) -> Vec<Job<'_>> {
    let parsed = SignedNote::parse(f.cosigned_note.as_bytes()).unwrap();
    vec![
        (
            "raw verify_strict (64-byte message)",
            Box::new(|| {
                f.raw_key
                    .verify_strict(black_box(&f.raw_message), &f.raw_signature)
                    .unwrap()
            }),
        ),
        (
            "verify_checkpoint (parse + operator signature)",
            Box::new(|| {
                verify_checkpoint(black_box(f.operator_note.as_bytes()), ORIGIN, &f.log_key)
                    .unwrap();
            }),
        ),
        (
            "verify_cosignature (one witness, parsed note)",
            Box::new(move || {
                verify_cosignature(black_box(&parsed), &f.witnesses[0]).unwrap();
            }),
        ),
        (
            "verify_witnessed (operator + quorum of 3)",
            Box::new(|| {
                let note = black_box(f.cosigned_note.as_bytes());
                verify_witnessed(note, ORIGIN, &f.log_key, &f.witnesses, 3).unwrap();
            }),
        ),
    ]
}

/// Mean time per call over about `budget`, after a short warm-up.
fn mean(job: &dyn Fn(), budget: Duration) -> Duration {
    (0..50).for_each(|_| job());
    let (start, mut n) = (Instant::now(), 0u32);
    while start.elapsed() < budget {
        job();
        n += 1;
    }
    start.elapsed() / n
}

fn main() {
    let f = fixture();
    let jobs = jobs(&f);
    let mut c = Criterion::default().configure_from_args();
    let mut group = c.benchmark_group("checkpoint");
    for (name, job) in &jobs {
        group.bench_function(*name, |b| b.iter(job));
    }
    group.finish();
    c.final_summary();

    // Criterion does not expose its estimates, so the ratios are timed here, in the same run.
    let budget = Duration::from_millis(300);
    let times: Vec<Duration> = jobs
        .iter()
        .map(|(_, job)| mean(job.as_ref(), budget))
        .collect();
    println!(
        "\nratio to one raw verify_strict ({:.1} µs):",
        times[0].as_secs_f64() * 1e6
    );
    for ((name, _), t) in jobs.iter().zip(&times).skip(1) {
        let ratio = t.as_secs_f64() / times[0].as_secs_f64();
        println!("  {name}: {:.1} µs = {ratio:.2}×", t.as_secs_f64() * 1e6);
    }
}

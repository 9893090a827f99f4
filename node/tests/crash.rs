//! Crash test: the real `testigo-node` binary, loaded with submissions and SIGKILLed at seeded
//! moments, then restarted on the same data directory, on each storage engine.
//!
//! After every restart: every entry the node acknowledged as `sequenced` is at its index with the
//! same bytes, and every checkpoint it published is consistent with the new tree (the proof from
//! the API checks with `ledger::verify`). It lives in the node crate because only there does
//! Cargo build the binary for a test (`CARGO_BIN_EXE_testigo-node`).

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use ed25519_dalek::SigningKey;
use futures::TryStreamExt as _;
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{Rng as _, SeedableRng as _};
use testigo_client::{Client, Signer};
use testigo_ledger::api::Wait;
use testigo_ledger::checkpoint::{SignedNote, verify_checkpoint_note};
use testigo_ledger::entry::{Access, Body, DataCategory, LegalBasis, Purpose, sign_body};
use testigo_ledger::verify::verify_consistency;
use testigo_ledger::{Blake3, Hash, PublicKey};
use testigo_node::loadgen::operator::{OperatorSigner, below, public, random_key, submit_all};
use tokio::sync::watch;

/// Kills per engine: 2 engines × 11 ≥ 20 kills in all.
const KILLS: usize = 11;
/// Concurrent submitters, one accessor each (so each one's nonces arrive in order).
const WORKERS: usize = 3;

/// A node child process and its address.
struct Node {
    child: Child,
    client: Client,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the binary on `dir` with an ephemeral port; ready once `/healthz` answers 200.
async fn start(dir: &Path, engine: &str) -> Node {
    let mut child = Command::new(env!("CARGO_BIN_EXE_testigo-node"))
        .args(["run", "--http", "127.0.0.1:0", "--storage", engine])
        .args(["--batch-max-delay-ms", "5", "--batch-max-entries", "64"])
        // One-bit buckets: every account's record lives only in the store, read back and checked
        // against the map at every change, and the map is rebuilt from it at every restart.
        .args(["--state-map-bucket-bits", "1"])
        .arg("--data-dir")
        .arg(dir)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn testigo-node");
    let stdout = child.stdout.take().expect("stdout");
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).map(|_| line)
    })
    .await
    .unwrap()
    .expect("read the listening line");
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    let client = Client::new(&url).unwrap();
    // The socket is bound before the line is printed and the node serves only once it has
    // replayed its log and checkpointed, so this one request waits in the listen backlog until
    // the node is ready: a readiness signal, not a poll.
    let health = tokio::time::timeout(Duration::from_secs(120), client.health())
        .await
        .expect("node answers within two minutes")
        .expect("health request");
    assert!(
        health.status == "ok" && health.checkpoint_size > 0,
        "node not healthy: {health:?}"
    );
    Node { child, client }
}

/// What the node acknowledged and published.
#[derive(Default)]
struct Acked {
    /// (index, stamped leaf bytes).
    entries: Vec<(u64, Vec<u8>)>,
    /// (size, root) of every checkpoint seen.
    checkpoints: Vec<(u64, Hash)>,
}

/// One submitter: an accessor sending batches of accesses until the node stops answering.
struct Worker {
    client: Client,
    origin: String,
    accessor: SigningKey,
    subject: PublicKey,
    nonce: u64,
    rng: ChaCha8Rng,
    acks: Arc<AtomicUsize>,
    tick: watch::Sender<usize>,
}

impl Worker {
    /// Returns what was acknowledged: (index, stamped leaf bytes).
    async fn run(mut self) -> Vec<(u64, Vec<u8>)> {
        let mut acked = Vec::new();
        loop {
            let leaves: Vec<_> = (0..1 + below(&mut self.rng, 40))
                .map(|_| {
                    let body = Body::Access(Access {
                        nonce: self.nonce,
                        subject: self.subject,
                        category: DataCategory::ALL[below(&mut self.rng, 5) as usize],
                        purpose: Purpose::ServiceOptimisation,
                        legal_basis: LegalBasis::LegitimateInterest,
                        consent: None,
                        price: 0,
                    });
                    self.nonce += 1;
                    sign_body(&self.origin, &self.accessor, &body)
                })
                .collect();
            let Ok(results) = self.client.submit_binary(&leaves, Wait::Sequenced).await else {
                return acked;
            };
            for (leaf, result) in leaves.into_iter().zip(results) {
                let s = result.unwrap_or_else(|e| panic!("refused: {} {}", e.code, e.message));
                assert!(!s.duplicate);
                acked.push((s.index, leaf.sequenced(s.sequenced_at).to_bytes()));
            }
            self.tick
                .send_replace(self.acks.fetch_add(1, Ordering::SeqCst) + 1);
        }
    }
}

/// The node's current checkpoint, verified under the log key.
async fn checkpoint(client: &Client, origin: &str, key: &PublicKey) -> (u64, Hash) {
    let note = client.checkpoint().await.unwrap();
    let note = SignedNote::parse(note.as_bytes()).unwrap();
    let cp = verify_checkpoint_note(&note, origin, key).unwrap();
    (cp.size(), *cp.root())
}

/// Everything acknowledged is there, byte for byte; every checkpoint seen is consistent with now.
async fn check(node: &Node, operator: &OperatorSigner, acked: &Acked) {
    let (size, root) = checkpoint(&node.client, operator.origin(), &operator.public()).await;
    let reader = node
        .client
        .with_signer(Signer::new(operator.signing_key().clone()));
    let stored: Vec<Vec<u8>> = reader
        .entries_stream(0, size)
        .map_ok(|entry| entry.leaf.0)
        .try_collect()
        .await
        .unwrap();
    for (index, bytes) in &acked.entries {
        assert_eq!(
            stored.get(*index as usize),
            Some(bytes),
            "acknowledged leaf {index} is missing or changed (tree size {size})"
        );
    }
    for (old_size, old_root) in &acked.checkpoints {
        assert!(
            *old_size <= size,
            "checkpoint {old_size} is beyond the tree {size}"
        );
        let proof = node.client.consistency(*old_size, size).await.unwrap();
        verify_consistency(&Blake3, *old_size, size, old_root, &root, &proof.path)
            .unwrap_or_else(|e| panic!("checkpoint {old_size} not consistent with {size}: {e}"));
    }
}

async fn crash_and_recover(engine: &str, seed: u64) {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let init = Command::new(env!("CARGO_BIN_EXE_testigo-node"))
        .arg("init")
        .arg("--data-dir")
        .arg(dir.path())
        .output()
        .expect("run init");
    assert!(init.status.success(), "{init:?}");
    let mut node = start(dir.path(), engine).await;
    let mut operator = OperatorSigner::connect(&node.client, dir.path())
        .await
        .unwrap();
    let subject = random_key(&mut rng);
    let accessors: Vec<SigningKey> = (0..WORKERS).map(|_| random_key(&mut rng)).collect();
    let mut setup = vec![operator.enroll(public(&subject), &mut rng)];
    for (i, a) in accessors.iter().enumerate() {
        setup.push(operator.register(public(a), &format!("crash {i}"), "CR", &mut rng));
    }
    submit_all(&node.client, &setup, Wait::Sequenced)
        .await
        .unwrap();
    let mut acked = Acked::default();
    for kill in 0..KILLS {
        let origin = operator.origin().to_owned();
        let acks = Arc::new(AtomicUsize::new(0));
        let (tick, mut ticks) = watch::channel(0);
        let mut workers = Vec::new();
        for (w, accessor) in accessors.iter().enumerate() {
            let key = public(accessor);
            let nonce = node
                .client
                .with_signer(Signer::new(operator.signing_key().clone()))
                .next_nonce(&key)
                .await
                .unwrap();
            let worker = Worker {
                client: node.client.clone(),
                origin: origin.clone(),
                accessor: accessor.clone(),
                subject: public(&subject),
                nonce,
                rng: ChaCha8Rng::seed_from_u64(rng.next_u64() ^ w as u64),
                acks: acks.clone(),
                tick: tick.clone(),
            };
            workers.push(tokio::spawn(worker.run()));
        }
        // Kill after a seeded number of acknowledged requests, with others in flight.
        let target = 2 + below(&mut rng, 25) as usize;
        let deadline = Duration::from_secs(30);
        tokio::time::timeout(deadline, ticks.wait_for(|n| *n >= target))
            .await
            .expect("the node stopped acknowledging")
            .unwrap();
        acked
            .checkpoints
            .push(checkpoint(&node.client, &origin, &operator.public()).await);
        node.child.kill().unwrap();
        node.child.wait().unwrap();
        for worker in workers {
            acked.entries.extend(worker.await.unwrap());
        }
        node = start(dir.path(), engine).await;
        check(&node, &operator, &acked).await;
        eprintln!(
            "{engine}: kill {kill} after {target} acks: {} entries acknowledged in all",
            acked.entries.len()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_entry_survives_sigkill_on_redb() {
    crash_and_recover("redb", 0x07e5_7160).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_entry_survives_sigkill_on_sled() {
    crash_and_recover("sled", 0x51ed).await;
}

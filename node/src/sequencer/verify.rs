//! Signature checks before the sequencer: in parallel, in chunks, through one pool shared by
//! every request.
//!
//! Each item gets the single check's answer ([`verify_leaves`], which decides by ZIP 215 batches of
//! 64 and re-checks every item of a failed batch singly), so the node accepts exactly the set every
//! other party accepts (the module docs of `testigo_ledger::entry::signature` say why batches may
//! decide).
//!
//! Concurrent requests do not each spread over every core: all chunks, whichever request they
//! come from, queue (first come, first served) for one of [`pool_width`] slots, so at most one
//! verification thread per core runs at once. Without the bound, eight requests of 256 leaves were
//! sixteen CPU-bound blocking threads on two cores, and the sequencer's own blocking thread got a
//! sixteenth of the machine: verification starved the stage everything else waits on.
//!
//! The pool is as wide as the machine. It once left a core to the sequencer, when the sequencer's
//! write path (state map nodes and indexes in every commit) took most of a core; since that work
//! moved to checkpoints and the map to memory, the sequencer needs about a third of a core at full
//! load, and a one-core pool capped a two-core node at what one core verifies (about 25k
//! entries/s measured, against 37k/s with both cores; `testigo-node loadgen`, README).

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use testigo_ledger::entry::{Leaf, SignatureError, signature::verify_leaves};
use tokio::sync::Semaphore;

use crate::metrics::Metrics;

/// Leaves per blocking task (one batch of the ledger's): about 1 ms of checks, short enough that chunks of
/// concurrent requests interleave and a small request is not stuck behind a big one.
const CHUNK: usize = 64;

/// How many verification chunks may run at once: one per core.
pub(crate) fn pool_width() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The slots of the verification pool, shared by every request of the process.
fn slots() -> Arc<Semaphore> {
    static SLOTS: OnceLock<Arc<Semaphore>> = OnceLock::new();
    SLOTS
        .get_or_init(|| Arc::new(Semaphore::new(pool_width())))
        .clone()
}

/// Checks every leaf's signature under `origin` through the shared pool (see module docs).
///
/// # Errors
/// The outer error is a panicked or cancelled verification task.
pub(crate) async fn verify_parallel(
    origin: Arc<str>,
    leaves: Arc<Vec<Leaf>>,
    metrics: Arc<Metrics>,
) -> Result<Vec<Result<(), SignatureError>>, tokio::task::JoinError> {
    let slots = slots();
    let mut tasks = Vec::with_capacity(leaves.len().div_ceil(CHUNK));
    for start in (0..leaves.len()).step_by(CHUNK) {
        // The semaphore is never closed, so acquiring only fails if it were; then run unbounded
        // rather than refuse the request.
        let permit = slots.clone().acquire_owned().await.ok();
        let (origin, leaves, metrics) = (origin.clone(), leaves.clone(), metrics.clone());
        let end = (start + CHUNK).min(leaves.len());
        tasks.push(tokio::task::spawn_blocking(move || {
            let verifying = Instant::now();
            let refs: Vec<&Leaf> = leaves[start..end].iter().collect();
            let verdicts = verify_leaves(&origin, &refs);
            drop(permit);
            // Time spent checking, not waiting for a slot: the figure to set against the other
            // phases' (the request's whole wait is `verify_wait`).
            metrics.observe_phase("verify", verifying.elapsed());
            verdicts
        }));
    }
    let mut results = Vec::with_capacity(leaves.len());
    for task in tasks {
        results.extend(task.await?);
    }
    Ok(results)
}

#[cfg(test)]
mod tests {
    use ed25519_dalek::SigningKey;
    use testigo_ledger::Hash;
    use testigo_ledger::entry::{Body, Claim, sign_body};

    use super::*;

    fn claims(key: &SigningKey, n: u64) -> Vec<Leaf> {
        (0..n)
            .map(|nonce| {
                let body = Body::Claim(Claim {
                    nonce,
                    amount: 1,
                    payout_ref: Hash::default(),
                });
                sign_body("o", key, &body)
            })
            .collect()
    }

    #[tokio::test]
    async fn every_item_gets_its_own_answer() {
        let mut leaves = claims(&SigningKey::from_bytes(&[9; 32]), 1200);
        leaves[700].signature[3] ^= 1;
        let results = verify_parallel("o".into(), Arc::new(leaves), Arc::new(Metrics::new()))
            .await
            .unwrap();
        assert_eq!(results.len(), 1200);
        for (i, r) in results.iter().enumerate() {
            assert_eq!(r.is_ok(), i != 700, "{i}");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_requests_share_the_pool_and_keep_their_own_answers() {
        let mut requests = Vec::new();
        for r in 0..6u8 {
            let mut leaves = claims(&SigningKey::from_bytes(&[r + 1; 32]), 150);
            leaves[usize::from(r) * 20].signature[0] ^= 1;
            requests.push(tokio::spawn(verify_parallel(
                "o".into(),
                Arc::new(leaves),
                Arc::new(Metrics::new()),
            )));
        }
        for (r, request) in requests.into_iter().enumerate() {
            let results = request.await.unwrap().unwrap();
            assert_eq!(results.len(), 150);
            for (i, v) in results.iter().enumerate() {
                assert_eq!(v.is_ok(), i != r * 20, "request {r} item {i}");
            }
        }
    }
}

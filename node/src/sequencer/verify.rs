//! Signature checks before the sequencer: in parallel on every core, in batches.
//!
//! Batch verification is about 3× cheaper per signature than strict verification and
//! `verify_leaves` returns exactly the strict result per item, so the node accepts the same set as
//! every other party. The sequencer never sees an entry whose signature failed.

use std::sync::Arc;

use testigo_ledger::entry::{Leaf, SignatureError, signature::verify_leaves};

/// Leaves per blocking task: large enough for the batch equation to pay off, small enough to
/// spread a big submission over every core.
const CHUNK: usize = 512;

/// Checks every leaf's signature under `origin`, splitting the work over blocking tasks.
///
/// # Errors
/// The outer error is a panicked or cancelled verification task.
pub(crate) async fn verify_parallel(
    origin: Arc<str>,
    leaves: Arc<Vec<Leaf>>,
) -> Result<Vec<Result<(), SignatureError>>, tokio::task::JoinError> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = leaves.len().div_ceil(cores).clamp(1, CHUNK);
    let mut tasks = Vec::with_capacity(leaves.len().div_ceil(chunk));
    for start in (0..leaves.len()).step_by(chunk) {
        let (origin, leaves) = (origin.clone(), leaves.clone());
        let end = (start + chunk).min(leaves.len());
        tasks.push(tokio::task::spawn_blocking(move || {
            let refs: Vec<&Leaf> = leaves[start..end].iter().collect();
            verify_leaves(&origin, &refs)
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

    #[tokio::test]
    async fn every_item_gets_its_own_strict_answer() {
        let key = SigningKey::from_bytes(&[9; 32]);
        let mut leaves: Vec<Leaf> = (0..1200)
            .map(|nonce| {
                let body = Body::Claim(Claim {
                    nonce,
                    amount: 1,
                    payout_ref: Hash::default(),
                });
                sign_body("o", &key, &body)
            })
            .collect();
        leaves[700].signature[3] ^= 1;
        let results = verify_parallel("o".into(), Arc::new(leaves)).await.unwrap();
        assert_eq!(results.len(), 1200);
        for (i, r) in results.iter().enumerate() {
            assert_eq!(r.is_ok(), i != 700, "{i}");
        }
    }
}

//! The physical ceiling a node's throughput is judged against: Ed25519 batch verification.
//!
//! Every entry carries one signature, so no node on this machine sequences faster than it can
//! check signatures. The load generator measures `ed25519_dalek::verify_batch` over 1024
//! signatures on one core, right before its run (same machine, same load), and multiplies by the
//! cores the node may use.

use std::time::{Duration, Instant};

use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};

/// Signatures per measured batch.
pub(crate) const BATCH: usize = 1024;

/// Measured batch-verification speed.
#[derive(Clone, Copy, Debug)]
pub struct Ceiling {
    /// Signatures per second on one core (best of several rounds).
    pub per_core: f64,
    /// Cores assumed for the ceiling.
    pub cores: usize,
}

impl Ceiling {
    /// Signatures per second on all `cores`.
    pub fn total(&self) -> f64 {
        self.per_core * self.cores as f64
    }
}

/// Times `verify_batch` over [`BATCH`] signatures of 250-byte messages, `rounds` times on the
/// calling thread, and keeps the best round (the least disturbed by other work).
///
/// # Errors
/// If the batch does not verify (it must: every signature is valid).
pub fn measure(cores: usize, rounds: usize) -> anyhow::Result<Ceiling> {
    let keys: Vec<SigningKey> = (0..BATCH)
        .map(|i| {
            let mut seed = [7u8; 32];
            seed[..8].copy_from_slice(&(i as u64).to_le_bytes());
            SigningKey::from_bytes(&seed)
        })
        .collect();
    let messages: Vec<Vec<u8>> = (0..BATCH)
        .map(|i| (0..250).map(|j| (i * 31 + j) as u8).collect())
        .collect();
    let signatures: Vec<Signature> = keys.iter().zip(&messages).map(|(k, m)| k.sign(m)).collect();
    let verifying: Vec<VerifyingKey> = keys.iter().map(SigningKey::verifying_key).collect();
    let refs: Vec<&[u8]> = messages.iter().map(Vec::as_slice).collect();
    let mut best = Duration::MAX;
    for _ in 0..rounds.max(1) + 1 {
        let started = Instant::now();
        ed25519_dalek::verify_batch(&refs, &signatures, &verifying)
            .map_err(|e| anyhow::anyhow!("a batch of valid signatures failed: {e}"))?;
        best = best.min(started.elapsed());
    }
    Ok(Ceiling {
        per_core: BATCH as f64 / best.as_secs_f64(),
        cores,
    })
}

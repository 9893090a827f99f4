//! The physical ceiling a node's throughput is judged against: batch verification under the
//! entry predicate (ZIP 215, `testigo_ledger::entry::verify_batch`).
//!
//! Every entry carries one signature, so no node on this machine sequences faster than it can
//! check signatures. The load generator runs the ledger's `verify_batch` over 1024 signatures by
//! 1024 distinct keys (the batch equation is cheaper when keys repeat, so this is the rate for
//! any mix of signers) on every core at once, for a second before its timed run and a second after it (same machine,
//! same neighbours), and takes the mean rate as the ceiling. It once timed the best of five
//! batches on one core and multiplied by the cores: on a quiet host the two agree, but on a
//! shared host whose cores are not fully ours a 50 ms single-core burst overstated what two cores
//! sustain together by up to a third. The one-core burst is still reported beside it.

use std::time::{Duration, Instant};

use ed25519_dalek::{Signer as _, SigningKey};
use testigo_ledger::PublicKey;
use testigo_ledger::entry::{SignedMessage, verify_batch};

/// Signatures per measured batch.
pub(crate) const BATCH: usize = 1024;

/// Measured batch-verification speed.
#[derive(Clone, Copy, Debug)]
pub struct Ceiling {
    /// Signatures per second on all cores at once, sustained (the ceiling).
    pub sustained: f64,
    /// Signatures per second of one core's fastest batch, for comparison.
    pub one_core_best: f64,
    /// Cores measured.
    pub cores: usize,
}

impl Ceiling {
    /// The ceiling: signatures per second on all cores at once.
    pub fn total(&self) -> f64 {
        self.sustained
    }

    /// The mean of two measurements (before and after a run), with the better burst.
    pub fn mean(&self, other: &Ceiling) -> Ceiling {
        Ceiling {
            sustained: (self.sustained + other.sustained) / 2.0,
            one_core_best: self.one_core_best.max(other.one_core_best),
            cores: self.cores,
        }
    }
}

/// Runs the ledger's `verify_batch` over [`BATCH`] valid signatures of 250-byte messages on `cores` threads
/// at once for about `window`, and returns their summed rate and the fastest single batch.
///
/// # Errors
/// If a batch does not verify (it must: every signature is valid).
pub fn measure(cores: usize, window: Duration) -> anyhow::Result<Ceiling> {
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
    let signatures: Vec<[u8; 64]> = keys
        .iter()
        .zip(&messages)
        .map(|(k, m)| k.sign(m).to_bytes())
        .collect();
    let publics: Vec<PublicKey> = keys
        .iter()
        .map(|k| PublicKey(k.verifying_key().to_bytes()))
        .collect();
    let items: Vec<SignedMessage<'_>> = publics
        .iter()
        .zip(&messages)
        .zip(&signatures)
        .map(|((key, message), signature)| SignedMessage {
            key,
            message,
            signature,
        })
        .collect();
    let one_thread = || -> anyhow::Result<(f64, Duration)> {
        let started = Instant::now();
        let mut best = Duration::MAX;
        let mut batches = 0u32;
        while batches == 0 || started.elapsed() < window {
            let batch = Instant::now();
            if !verify_batch(&items).iter().all(Result::is_ok) {
                anyhow::bail!("a batch of valid signatures failed");
            }
            best = best.min(batch.elapsed());
            batches += 1;
        }
        let rate = f64::from(batches) * BATCH as f64 / started.elapsed().as_secs_f64();
        Ok((rate, best))
    };
    let results: Vec<anyhow::Result<(f64, Duration)>> = std::thread::scope(|scope| {
        let threads: Vec<_> = (0..cores.max(1)).map(|_| scope.spawn(one_thread)).collect();
        threads
            .into_iter()
            .map(|t| {
                t.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("a measuring thread panicked")))
            })
            .collect()
    });
    let mut sustained = 0.0;
    let mut best = Duration::MAX;
    for result in results {
        let (rate, fastest) = result?;
        sustained += rate;
        best = best.min(fastest);
    }
    Ok(Ceiling {
        sustained,
        one_core_best: BATCH as f64 / best.as_secs_f64(),
        cores: cores.max(1),
    })
}

//! Signed requests (DESIGN §7, `ledger::auth`) with a strictly increasing timestamp per key.
//!
//! The node refuses a signature it has already seen (`auth_replayed`), and the same request
//! signed twice in one millisecond *is* the same signature. Every [`Signer`] for a key in this
//! process therefore draws its timestamps from one counter per key: `max(now, last + 1)`, so two
//! reads in one millisecond, from any task, never collide. A key may so sign at most 1,000
//! requests per second on average (the counter runs ahead of the clock beyond that, and the node
//! refuses timestamps more than 5 minutes ahead). Processes sharing a key cannot share the
//! counter; the client retries a request refused as `auth_replayed` once with a fresh timestamp
//! (PROTOCOL.md §10, "Replay rule").

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use ed25519_dalek::SigningKey;
use testigo_ledger::PublicKey;
use testigo_ledger::auth::sign_request;

/// A key that signs requests. Cheap to clone.
#[derive(Clone)]
pub struct Signer {
    key: Arc<SigningKey>,
    public: PublicKey,
    last_ts: Arc<AtomicU64>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secret key.
        f.debug_struct("Signer")
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

/// The process's one timestamp counter per key.
fn counter_for(key: &PublicKey) -> Arc<AtomicU64> {
    static COUNTERS: OnceLock<Mutex<HashMap<PublicKey, Arc<AtomicU64>>>> = OnceLock::new();
    let mut counters = COUNTERS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    counters.entry(*key).or_default().clone()
}

impl Signer {
    /// A signer for `key`, sharing its timestamp counter with every other signer of that key
    /// in this process.
    pub fn new(key: SigningKey) -> Self {
        let public = PublicKey(key.verifying_key().to_bytes());
        Self {
            last_ts: counter_for(&public),
            key: Arc::new(key),
            public,
        }
    }

    /// The public key.
    pub fn public(&self) -> PublicKey {
        self.public
    }

    /// The signing key, for signing entries.
    pub fn signing_key(&self) -> &SigningKey {
        &self.key
    }

    /// A timestamp above every one this process drew for the key, and at least now.
    pub fn next_ts(&self) -> u64 {
        let now = now_ms();
        let previous = self
            .last_ts
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |last| {
                Some(now.max(last + 1))
            })
            .unwrap_or(now);
        now.max(previous + 1)
    }

    /// The `Authorization` header value for `method path_and_query`, with a fresh timestamp.
    pub fn authorization(&self, method: &str, path_and_query: &str) -> String {
        sign_request(&self.key, method, path_and_query, self.next_ts())
    }
}

/// Unix milliseconds now (0 before 1970, which no clock here is).
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_strictly_increase_across_signers_of_one_key() {
        let a = Signer::new(SigningKey::from_bytes(&[7; 32]));
        let b = Signer::new(SigningKey::from_bytes(&[7; 32]));
        let other = Signer::new(SigningKey::from_bytes(&[8; 32]));
        let mut last = 0;
        for i in 0..2_000 {
            let ts = if i % 2 == 0 { a.next_ts() } else { b.next_ts() };
            assert!(ts > last, "{ts} after {last}");
            last = ts;
        }
        // Another key has its own counter: it is not pushed ahead by this one's burst.
        assert!(other.next_ts() <= last);
    }
}

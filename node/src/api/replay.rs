//! The replay rule's state, per key (docs/PROTOCOL.md §10): for each key the highest `ts`
//! accepted and which timestamps in the [`REPLAY_SLACK_MS`] below it were used. A `ts` above the
//! highest is fresh; one within the slack is fresh once; one below the slack is refused.
//!
//! Memory is per key, not per request, and bounded: at most `capacity` keys of strangers (any key
//! that is not a reader) are held, plus one reserved slot per reader (operator, witnesses,
//! regulators), which strangers never evict. A key whose highest `ts` has left the ±5 minute
//! window is dropped first: every timestamp it could replay is refused as expired anyway. When
//! the live keys fill the capacity, the key with the lowest highest `ts` is evicted and the
//! *floor* rises to that `ts`: a key not held is treated as if everything up to the floor were
//! used, so a replay of an evicted key's request is still refused, and an honest client, whose
//! timestamp is the current time, is above the floor.
//!
//! Keys signing *ahead* of the node's clock (more than [`AHEAD_SLACK_MS`] above the latest server
//! time) may hold at most an eighth of the capacity. Without that bound, keys signing up to 5
//! minutes ahead could fill every slot, and evicting them would push the floor minutes into the
//! future, refusing every honest key the node does not hold. With it, the evicted key (the one
//! with the lowest highest `ts`) is never ahead, so the floor stays at most [`AHEAD_SLACK_MS`]
//! above the clock; a new key that would be ahead while the ahead slots are full is refused
//! ([`Refused::AheadFull`]) and nothing is recorded.

use std::collections::{BTreeSet, HashMap, HashSet};

use testigo_ledger::PublicKey;
use testigo_ledger::auth::AUTH_WINDOW_MS;

use super::rate::{Bucket, RateLimit};

/// How far below a key's highest accepted `ts` an unused one is still accepted (out-of-order
/// arrival of requests signed in parallel). One bit per millisecond.
pub(crate) const REPLAY_SLACK_MS: u64 = 1_024;
const WORDS: usize = (REPLAY_SLACK_MS / 64) as usize;

/// How far above the node's clock a key's highest `ts` may be before the key counts as *ahead*:
/// room for honest clocks that run slightly fast.
pub(crate) const AHEAD_SLACK_MS: u64 = 1_000;

/// One key's used timestamps: `highest` and a bitmap of the [`REPLAY_SLACK_MS`] below it (bit
/// `i` is `highest - 1 - i`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Window {
    highest: u64,
    used: [u64; WORDS],
}

/// Why a timestamp is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stale {
    /// This `ts` was used by this key.
    Reused,
    /// Below the slack under the key's highest `ts`, or at or below the floor for a key not held.
    TooOld,
    /// Outside the window of the latest server time the guard has seen: a request checked
    /// against a slightly older clock on another thread, whose key may have been dropped.
    Expired,
}

impl Window {
    /// The window of a key whose first accepted `ts` is `ts`.
    fn new(ts: u64) -> Self {
        Self {
            highest: ts,
            used: [0; WORDS],
        }
    }

    /// Whether `ts` may be accepted.
    fn check(&self, ts: u64) -> Result<(), Stale> {
        if ts > self.highest {
            return Ok(());
        }
        let below = self.highest - ts;
        if below == 0 {
            return Err(Stale::Reused);
        }
        if below > REPLAY_SLACK_MS {
            return Err(Stale::TooOld);
        }
        let bit = below - 1;
        if self.used[(bit / 64) as usize] & (1 << (bit % 64)) != 0 {
            Err(Stale::Reused)
        } else {
            Ok(())
        }
    }

    /// Marks `ts` used (after [`Window::check`] accepted it).
    fn record(&mut self, ts: u64) {
        if ts > self.highest {
            let shift = ts - self.highest;
            self.shift_up(shift);
            // The old highest is now `shift` below the new one.
            self.set(shift - 1);
            self.highest = ts;
        } else if ts < self.highest {
            self.set(self.highest - ts - 1);
        }
    }

    fn set(&mut self, bit: u64) {
        if bit < REPLAY_SLACK_MS {
            self.used[(bit / 64) as usize] |= 1 << (bit % 64);
        }
    }

    /// Moves every bit `n` places further below the highest; bits past the slack fall off.
    fn shift_up(&mut self, n: u64) {
        if n >= REPLAY_SLACK_MS {
            self.used = [0; WORDS];
            return;
        }
        let words = (n / 64) as usize;
        let bits = (n % 64) as u32;
        for i in (0..WORDS).rev() {
            let from = i.checked_sub(words).map_or(0, |j| self.used[j]);
            let carry = match i.checked_sub(words + 1) {
                Some(j) if bits != 0 => self.used[j] >> (64 - bits),
                _ => 0,
            };
            self.used[i] = (from << bits) | carry;
        }
    }
}

/// What is kept per key: its used timestamps and its rate-limit bucket.
#[derive(Clone, Debug)]
struct Slot {
    window: Window,
    bucket: Bucket,
}

/// Why a signed request is refused by the replay state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refused {
    /// The replay rule: `ts` reused, or too old for this key.
    Stale(Stale),
    /// The key is over its rate; a token is available in this many milliseconds.
    RateLimited { retry_after_ms: u64 },
    /// The `ts` is more than [`AHEAD_SLACK_MS`] ahead of the node's clock and the slots for keys
    /// ahead of it are full.
    AheadFull,
}

/// The per-key replay state of every signed request the node accepted, bounded.
#[derive(Debug)]
pub(crate) struct ReplayGuard {
    capacity: usize,
    rate: RateLimit,
    readers: HashSet<PublicKey>,
    /// The readers' reserved slots: never evicted, never counted against `capacity`.
    reserved: HashMap<PublicKey, Window>,
    held: HashMap<PublicKey, Slot>,
    /// `(highest ts, key)` of every held stranger: the eviction order.
    by_highest: BTreeSet<(u64, PublicKey)>,
    /// The part of `by_highest` more than [`AHEAD_SLACK_MS`] above `clock`: at most
    /// `ahead_capacity` keys.
    ahead: BTreeSet<(u64, PublicKey)>,
    ahead_capacity: usize,
    /// The highest `ts` of any evicted key: a key not held may use only timestamps above it.
    floor: u64,
    /// The latest server time seen: what expiry is judged against, so that a request checked
    /// against an older clock on another thread cannot find its key dropped and slip through.
    clock: u64,
    evictions: u64,
}

impl ReplayGuard {
    /// At most `capacity` strangers' keys (at least 1), plus one slot per reader.
    pub(crate) fn new(
        readers: impl IntoIterator<Item = PublicKey>,
        capacity: usize,
        rate: RateLimit,
    ) -> Self {
        let capacity = capacity.max(1);
        Self {
            capacity,
            rate,
            readers: readers.into_iter().collect(),
            reserved: HashMap::new(),
            held: HashMap::new(),
            by_highest: BTreeSet::new(),
            ahead: BTreeSet::new(),
            ahead_capacity: capacity / 8,
            floor: 0,
            clock: 0,
            evictions: 0,
        }
    }

    /// Accepts `ts` from `key` at server time `now` and records it, or refuses without recording
    /// anything. The caller has checked that `ts` is within the window of `now`, the signature,
    /// and that `key` may read what it asks for. Readers are not rate limited.
    pub(crate) fn accept(&mut self, key: &PublicKey, ts: u64, now: u64) -> Result<(), Refused> {
        if self.readers.contains(key) {
            return match self.reserved.get_mut(key) {
                Some(window) => {
                    window.check(ts).map_err(Refused::Stale)?;
                    window.record(ts);
                    Ok(())
                }
                None => {
                    self.reserved.insert(*key, Window::new(ts));
                    Ok(())
                }
            };
        }
        self.clock = self.clock.max(now);
        if ts < self.clock.saturating_sub(AUTH_WINDOW_MS) {
            return Err(Refused::Stale(Stale::Expired));
        }
        self.drop_expired();
        self.settle_ahead();
        let ahead = ts > self.clock.saturating_add(AHEAD_SLACK_MS);
        let Some(slot) = self.held.get_mut(key) else {
            if ts <= self.floor {
                return Err(Refused::Stale(Stale::TooOld));
            }
            if ahead && self.ahead.len() >= self.ahead_capacity {
                return Err(Refused::AheadFull);
            }
            let mut bucket = Bucket::full(&self.rate, now);
            bucket
                .take(&self.rate, now)
                .map_err(|retry_after_ms| Refused::RateLimited { retry_after_ms })?;
            if self.held.len() >= self.capacity {
                self.evict_one();
            }
            self.held.insert(
                *key,
                Slot {
                    window: Window::new(ts),
                    bucket,
                },
            );
            self.by_highest.insert((ts, *key));
            if ahead {
                self.ahead.insert((ts, *key));
            }
            return Ok(());
        };
        slot.window.check(ts).map_err(Refused::Stale)?;
        let before = slot.window.highest;
        let was_ahead = self.ahead.contains(&(before, *key));
        if ahead && ts > before && !was_ahead && self.ahead.len() >= self.ahead_capacity {
            return Err(Refused::AheadFull);
        }
        slot.bucket
            .take(&self.rate, now)
            .map_err(|retry_after_ms| Refused::RateLimited { retry_after_ms })?;
        slot.window.record(ts);
        let after = slot.window.highest;
        if after != before {
            self.by_highest.remove(&(before, *key));
            self.by_highest.insert((after, *key));
            if was_ahead {
                self.ahead.remove(&(before, *key));
            }
            if after > self.clock.saturating_add(AHEAD_SLACK_MS) {
                self.ahead.insert((after, *key));
            }
        }
        Ok(())
    }

    /// Keys whose highest `ts` the clock has come within [`AHEAD_SLACK_MS`] of are no longer
    /// ahead.
    fn settle_ahead(&mut self) {
        let limit = self.clock.saturating_add(AHEAD_SLACK_MS);
        while self
            .ahead
            .first()
            .is_some_and(|&(highest, _)| highest <= limit)
        {
            self.ahead.pop_first();
        }
    }

    /// Drops the keys whose highest `ts` is more than the window before `now`: every `ts` they
    /// could reuse is refused as expired. They do not raise the floor.
    fn drop_expired(&mut self) {
        let oldest_live = self.clock.saturating_sub(AUTH_WINDOW_MS);
        while let Some(&(highest, key)) = self.by_highest.first() {
            if highest >= oldest_live {
                break;
            }
            self.by_highest.pop_first();
            self.held.remove(&key);
        }
    }

    /// Evicts the held key with the lowest highest `ts`, raising the floor to it: the smallest
    /// rise that keeps every timestamp it used refused. At most an eighth of the held keys are
    /// ahead, so this one is not, and the floor stays within [`AHEAD_SLACK_MS`] of the clock.
    fn evict_one(&mut self) {
        if let Some((highest, key)) = self.by_highest.pop_first() {
            self.held.remove(&key);
            self.ahead.remove(&(highest, key));
            self.floor = self.floor.max(highest);
            self.evictions += 1;
        }
    }

    /// Strangers' keys held now.
    pub(crate) fn held(&self) -> usize {
        self.held.len()
    }

    /// Live keys evicted since the start.
    pub(crate) fn evictions(&self) -> u64 {
        self.evictions
    }

    /// The floor (Unix ms): 0 until a live key was evicted.
    #[cfg(test)]
    pub(crate) fn floor(&self) -> u64 {
        self.floor
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use rand_chacha::ChaCha8Rng;
    use rand_chacha::rand_core::{Rng as _, SeedableRng as _};

    use super::*;

    const T: u64 = 1_800_000_000_000;

    fn key(n: u32) -> PublicKey {
        let mut bytes = [0; 32];
        bytes[..4].copy_from_slice(&n.to_be_bytes());
        PublicKey(bytes)
    }

    fn guard(capacity: usize) -> ReplayGuard {
        ReplayGuard::new([key(0)], capacity, RateLimit::new(1_000_000, 1_000_000))
    }

    fn stale(s: Stale) -> Result<(), Refused> {
        Err(Refused::Stale(s))
    }

    #[test]
    fn reuse_is_refused_out_of_order_within_the_slack_accepted_once_below_refused() {
        let mut g = guard(8);
        let k = key(1);
        assert_eq!(g.accept(&k, T, T), Ok(()));
        assert_eq!(g.accept(&k, T, T), stale(Stale::Reused));
        assert_eq!(g.accept(&k, T + 100, T), Ok(()));
        // Arrived late, but within the slack and never used: accepted, once.
        assert_eq!(g.accept(&k, T + 40, T), Ok(()));
        assert_eq!(g.accept(&k, T + 40, T), stale(Stale::Reused));
        // The old highest is still remembered as used after the highest moved on.
        assert_eq!(g.accept(&k, T, T), stale(Stale::Reused));
        assert_eq!(g.accept(&k, T + 100 + REPLAY_SLACK_MS, T), Ok(()));
        // Exactly at the edge of the slack: T+100 is now REPLAY_SLACK_MS below, still known.
        assert_eq!(g.accept(&k, T + 100, T), stale(Stale::Reused));
        assert_eq!(g.accept(&k, T + 99, T), stale(Stale::TooOld));
        assert_eq!(g.accept(&k, T + 101, T), Ok(()));
    }

    #[test]
    fn the_window_agrees_with_a_set_of_every_timestamp_used() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut below = |n: u64| rng.next_u64() % n;
        let mut window = Window::new(T);
        let mut used = BTreeSet::from([T]);
        for _ in 0..20_000 {
            let highest = window.highest;
            let ts = match below(4) {
                0 => highest + 1 + below(300),
                1 => highest + 1 + below(3 * REPLAY_SLACK_MS),
                _ => highest - below(REPLAY_SLACK_MS + 200),
            };
            let expected = if ts > highest {
                Ok(())
            } else if highest - ts > REPLAY_SLACK_MS {
                Err(Stale::TooOld)
            } else if used.contains(&ts) {
                Err(Stale::Reused)
            } else {
                Ok(())
            };
            assert_eq!(window.check(ts), expected, "ts {ts} highest {highest}");
            if expected.is_ok() {
                window.record(ts);
                used.insert(ts);
            }
        }
    }

    #[test]
    fn an_evicted_key_cannot_replay_and_an_honest_one_is_above_the_floor() {
        let mut g = guard(2);
        assert_eq!(g.accept(&key(1), T, T), Ok(()));
        assert_eq!(g.accept(&key(2), T + 5, T), Ok(()));
        assert_eq!(g.floor(), 0);
        // A third key evicts the one with the lowest highest ts, key 1, and the floor rises to T.
        assert_eq!(g.accept(&key(3), T + 10, T + 10), Ok(()));
        assert_eq!((g.held(), g.evictions(), g.floor()), (2, 1, T));
        // Key 1's request cannot be replayed though it is forgotten; a fresh one is accepted.
        assert_eq!(g.accept(&key(1), T, T + 20), stale(Stale::TooOld));
        assert_eq!(g.accept(&key(1), T + 20, T + 20), Ok(()));
        // A stranger never seen, with a current clock, is above the floor.
        assert_eq!(g.accept(&key(4), T + 21, T + 21), Ok(()));
        assert_eq!(g.floor(), T + 10);
        assert_eq!(g.held(), 2);
    }

    #[test]
    fn strangers_never_evict_readers_and_expired_keys_leave_without_raising_the_floor() {
        let mut g = guard(4);
        let operator = key(0);
        assert_eq!(g.accept(&operator, T, T), Ok(()));
        for n in 1..1_000 {
            assert_eq!(g.accept(&key(n), T + u64::from(n), T), Ok(()));
        }
        assert_eq!(g.held(), 4);
        assert_eq!(g.accept(&operator, T, T + 1_000), stale(Stale::Reused));
        assert_eq!(g.accept(&operator, T + 1, T + 1_000), Ok(()));
        // Past the window every held key has expired: dropped, not evicted.
        let later = T + 1_000 + AUTH_WINDOW_MS;
        let evictions = g.evictions();
        assert_eq!(g.accept(&key(5_000), later, later), Ok(()));
        assert_eq!((g.held(), g.evictions()), (1, evictions));
        // A request checked against an older clock (another thread) whose key was just dropped
        // is refused as expired, not taken for a new key.
        assert_eq!(
            g.accept(&key(999), T + 999, later - 1),
            stale(Stale::Expired)
        );
    }

    #[test]
    fn keys_signing_ahead_of_the_clock_cannot_push_the_floor_past_it() {
        let mut g = guard(64);
        let ahead = T + 5 * 60 * 1_000;
        // Keys signing 5 minutes ahead take at most an eighth of the slots.
        for n in 1..=8 {
            assert_eq!(g.accept(&key(n), ahead, T), Ok(()));
        }
        assert_eq!(g.accept(&key(9), ahead, T), Err(Refused::AheadFull));
        // A held key that is not ahead cannot move ahead while those slots are full either; the
        // refusal records nothing, so the same ts is accepted once the clock has caught up.
        assert_eq!(g.accept(&key(10), T, T), Ok(()));
        assert_eq!(g.accept(&key(10), ahead, T), Err(Refused::AheadFull));
        // A flood of keys at the edge of the slack cycles every other slot; each eviction takes
        // the lowest highest ts, which is never an ahead key, so the floor stays within the
        // slack of the clock (a flood that cycles the whole bound within the slack can still
        // hold it above the clock: that is the bound's price), and a key a millisecond past the
        // slack still finds the ahead slots full.
        for n in 100..2_000 {
            let now = T + u64::from(n);
            assert_eq!(g.accept(&key(n), now + AHEAD_SLACK_MS, now), Ok(()));
            assert!(g.floor() <= now + AHEAD_SLACK_MS, "floor {}", g.floor());
            if n % 100 == 0 {
                let fast = key(1_000_000 + n);
                assert_eq!(
                    g.accept(&fast, now + AHEAD_SLACK_MS + 1, now),
                    Err(Refused::AheadFull)
                );
            }
        }
        assert!(g.evictions() > 1_000);
        assert_eq!(g.ahead.len(), 8);
        // The flood over, a key with a current clock is above the floor.
        let now = T + 2_000 + AHEAD_SLACK_MS + 1;
        assert_eq!(g.accept(&key(3_000_000), now, now), Ok(()));
        // Once the clock reaches them the ahead keys count as ordinary ones and free their slots.
        let later = ahead - AHEAD_SLACK_MS;
        assert_eq!(g.accept(&key(9), ahead, later), Ok(()));
        assert!(g.ahead.is_empty());
        assert_eq!(g.accept(&key(10), ahead, later), Ok(()));
    }

    #[test]
    fn the_rate_limit_refuses_without_burning_the_timestamp_and_spares_readers() {
        let mut g = ReplayGuard::new([key(0)], 8, RateLimit::new(10, 3));
        let k = key(1);
        for i in 0..3 {
            assert_eq!(g.accept(&k, T + i, T), Ok(()));
        }
        let Err(Refused::RateLimited { retry_after_ms }) = g.accept(&k, T + 3, T) else {
            panic!("the fourth request in a burst of 3 must be limited");
        };
        assert_eq!(retry_after_ms, 100);
        // A token later the same timestamp is accepted: the refusal recorded nothing.
        assert_eq!(g.accept(&k, T + 3, T + 100), Ok(()));
        for i in 0..100 {
            assert_eq!(g.accept(&key(0), T + i, T), Ok(()));
        }
    }
}

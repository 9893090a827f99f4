//! A token bucket per key for signed reads: `per_second` tokens a second, at most `burst` held.
//! Kept in the key's replay slot (`replay.rs`), so its memory is bounded with the keys; a key
//! evicted from there starts again with a full bucket, which gives it nothing a fresh key would
//! not have.

/// The limit every stranger's key is held to (readers are exempt).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RateLimit {
    /// Tokens added per second, which is also milli-tokens per millisecond.
    per_second: u64,
    /// Most tokens held, in milli-tokens.
    burst_milli: u64,
}

impl RateLimit {
    /// `per_second` and `burst` at least 1 (the config validates that).
    pub(crate) fn new(per_second: u32, burst: u32) -> Self {
        Self {
            per_second: u64::from(per_second.max(1)),
            burst_milli: u64::from(burst.max(1)) * 1000,
        }
    }
}

/// One key's tokens, in thousandths, as of `at` (server Unix ms).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Bucket {
    milli: u64,
    at: u64,
}

impl Bucket {
    /// A bucket holding the whole burst.
    pub(crate) fn full(limit: &RateLimit, now: u64) -> Self {
        Self {
            milli: limit.burst_milli,
            at: now,
        }
    }

    /// Takes one token, or says in how many milliseconds one will be there.
    pub(crate) fn take(&mut self, limit: &RateLimit, now: u64) -> Result<(), u64> {
        // A clock that steps back refills nothing rather than underflowing.
        let elapsed = now.saturating_sub(self.at);
        self.milli = self
            .milli
            .saturating_add(elapsed.saturating_mul(limit.per_second))
            .min(limit.burst_milli);
        self.at = self.at.max(now);
        if self.milli >= 1000 {
            self.milli -= 1000;
            Ok(())
        } else {
            Err((1000 - self.milli).div_ceil(limit.per_second))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_the_rate_and_the_wait_is_exact() {
        let limit = RateLimit::new(50, 100);
        let mut bucket = Bucket::full(&limit, 0);
        for _ in 0..100 {
            assert_eq!(bucket.take(&limit, 0), Ok(()));
        }
        assert_eq!(bucket.take(&limit, 0), Err(20));
        assert_eq!(bucket.take(&limit, 19), Err(1));
        assert_eq!(bucket.take(&limit, 20), Ok(()));
        // A second later, 50 more and no more than that.
        for _ in 0..50 {
            assert_eq!(bucket.take(&limit, 1_020), Ok(()));
        }
        assert!(bucket.take(&limit, 1_020).is_err());
        // Idle for long: the bucket holds the burst, not more.
        let later = 1_000_000;
        for _ in 0..100 {
            assert_eq!(bucket.take(&limit, later), Ok(()));
        }
        assert!(bucket.take(&limit, later).is_err());
        // A clock stepping back refills nothing and does not panic.
        assert!(bucket.take(&limit, 5).is_err());
    }
}

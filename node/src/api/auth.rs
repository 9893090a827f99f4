//! Signed read requests (DESIGN §7, `ledger::auth`, docs/PROTOCOL.md §10): who signed, within
//! ±5 minutes, allowed to read this, not replayed, not over its rate.
//!
//! Per-account reads are open to the account itself, the operator, a witness and a regulator;
//! bulk reads to the operator, witnesses and regulators. The order matters: the [`Signed`]
//! extractor checks the header, the window and the signature and records nothing; the handler's
//! [`Authorizer::require`] then checks that the signer may read the resource, and only then
//! asks the per-key replay state (`replay.rs`) and the key's rate limit (`rate.rs`) to accept
//! and record the timestamp. A refused request (403) leaves no trace, so strangers cannot fill
//! the node's memory with requests it would not serve.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use testigo_ledger::PublicKey;
use testigo_ledger::api::ErrorCode;
use testigo_ledger::auth::{AuthError, RequestAuth};

use super::rate::RateLimit;
use super::replay::{REPLAY_SLACK_MS, Refused, ReplayGuard, Stale};
use super::{ApiError, AppState};
use crate::metrics::{CodeLabel, Metrics};

/// How signed reads are limited (from the node's `Config`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct AuthLimits {
    /// Strangers' keys whose replay state is held at once (readers have reserved slots).
    pub(crate) replay_keys: usize,
    /// Signed reads per second per key (readers exempt).
    pub(crate) rate_per_second: u32,
    /// Signed reads a key may make at once before the rate applies.
    pub(crate) rate_burst: u32,
}

/// Who may read what, and the replay state of those who did.
#[derive(Debug)]
pub(crate) struct Authorizer {
    /// The operator, witnesses and regulators: may read everything.
    readers: HashSet<PublicKey>,
    replay: Mutex<ReplayGuard>,
    metrics: Arc<Metrics>,
}

impl Authorizer {
    pub(crate) fn new(
        readers: impl IntoIterator<Item = PublicKey>,
        limits: AuthLimits,
        metrics: Arc<Metrics>,
    ) -> Self {
        let readers: HashSet<PublicKey> = readers.into_iter().collect();
        let rate = RateLimit::new(limits.rate_per_second, limits.rate_burst);
        Self {
            replay: Mutex::new(ReplayGuard::new(
                readers.iter().copied(),
                limits.replay_keys,
                rate,
            )),
            readers,
            metrics,
        }
    }

    /// Checks that `signed`'s key may read `account`'s data (`None`: bulk reads), then accepts
    /// its timestamp under the replay rule and the key's rate limit, and records it. Call once
    /// per request, before serving anything.
    ///
    /// # Errors
    /// [`ApiError::Forbidden`] (nothing recorded), `auth_replayed` (reused `ts`, or one too old
    /// for this key), [`ApiError::RateLimited`] (nothing recorded).
    pub(crate) fn require(
        &self,
        signed: &Signed,
        account: Option<&PublicKey>,
    ) -> Result<(), ApiError> {
        let result = self.authorise_and_record(signed, account);
        if let Err(e) = &result {
            self.count_refusal(e);
        }
        result
    }

    fn authorise_and_record(
        &self,
        signed: &Signed,
        account: Option<&PublicKey>,
    ) -> Result<(), ApiError> {
        if !(self.readers.contains(&signed.key) || account == Some(&signed.key)) {
            return Err(ApiError::Forbidden(signed.key.to_base64()));
        }
        let mut replay = self
            .replay
            .lock()
            .map_err(|_| ApiError::internal("replay state lock poisoned"))?;
        let evictions = replay.evictions();
        let accepted = replay.accept(&signed.key, signed.ts, signed.now);
        let (held, evicted) = (replay.held(), replay.evictions() - evictions);
        drop(replay);
        self.metrics
            .replay_keys
            .set(i64::try_from(held).unwrap_or(i64::MAX));
        if evicted > 0 {
            self.metrics.replay_evictions.inc_by(evicted);
        }
        accepted.map_err(|refused| match refused {
            Refused::Stale(Stale::Reused) => unauthorized(
                ErrorCode::AuthReplayed,
                "this key already used this ts; sign the request again with a later one",
            ),
            Refused::Stale(Stale::TooOld) => unauthorized(
                ErrorCode::AuthReplayed,
                format!(
                    "ts is more than {REPLAY_SLACK_MS} ms below the latest this node accepted \
                     from this key (or from keys it no longer holds); sign again with the \
                     current time"
                ),
            ),
            Refused::Stale(Stale::Expired) => unauthorized(
                ErrorCode::AuthExpired,
                "request timestamp is more than 5 minutes before the server clock",
            ),
            Refused::RateLimited { retry_after_ms } => ApiError::RateLimited {
                retry_after_secs: retry_after_ms.div_ceil(1000).max(1),
            },
            Refused::AheadFull => ApiError::Busy(
                "too many keys sign with a ts ahead of the node's clock; check this clock",
            ),
        })
    }

    /// Counts a refused signed request by its code.
    fn count_refusal(&self, e: &ApiError) {
        self.metrics
            .signed_refusals
            .get_or_create(&CodeLabel {
                code: e.code().as_str(),
            })
            .inc();
    }
}

/// Extractor: a request whose header parses, whose `ts` is within the window and whose
/// signature verifies. Nothing is recorded yet: [`Authorizer::require`] authorises and records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Signed {
    key: PublicKey,
    ts: u64,
    /// The server time the window was checked at.
    now: u64,
}

fn unauthorized(code: ErrorCode, message: impl Into<String>) -> ApiError {
    ApiError::Unauthorized {
        code,
        message: message.into(),
    }
}

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn verified(parts: &Parts, now: u64) -> Result<Signed, ApiError> {
    let header = parts.headers.get(AUTHORIZATION).ok_or_else(|| {
        unauthorized(
            ErrorCode::Unauthorized,
            "this read needs an `Authorization: Testigo key=.., ts=.., sig=..` header",
        )
    })?;
    let header = header
        .to_str()
        .map_err(|_| unauthorized(ErrorCode::AuthMalformed, "Authorization is not ASCII"))?;
    let auth = RequestAuth::parse(header)
        .map_err(|e| unauthorized(ErrorCode::AuthMalformed, e.to_string()))?;
    let path = parts
        .uri
        .path_and_query()
        .map_or_else(|| parts.uri.path(), |p| p.as_str());
    auth.verify(parts.method.as_str(), path, now)
        .map_err(|e| match e {
            AuthError::Expired { .. } => unauthorized(ErrorCode::AuthExpired, e.to_string()),
            AuthError::BadSignature => unauthorized(ErrorCode::AuthBadSignature, e.to_string()),
            AuthError::Malformed(_) => unauthorized(ErrorCode::AuthMalformed, e.to_string()),
        })?;
    Ok(Signed {
        key: auth.key,
        ts: auth.ts,
        now,
    })
}

impl FromRequestParts<Arc<AppState>> for Signed {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        verified(parts, now_ms()).inspect_err(|e| state.authorizer.count_refusal(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: u64 = 1_800_000_000_000;

    fn key(n: u8) -> PublicKey {
        PublicKey([n; 32])
    }

    fn signed(key: PublicKey, ts: u64) -> Signed {
        Signed { key, ts, now: T }
    }

    fn code(result: Result<(), ApiError>) -> &'static str {
        result.map_or_else(|e| e.code().as_str(), |()| "ok")
    }

    #[test]
    fn a_refused_request_records_nothing_and_an_authorised_one_is_remembered() {
        let limits = AuthLimits {
            replay_keys: 1,
            rate_per_second: 50,
            rate_burst: 100,
        };
        let metrics = Arc::new(Metrics::new());
        let auth = Authorizer::new([key(0)], limits, metrics.clone());
        let (alice, bob) = (key(1), key(2));
        // Strangers reading Alice's account: forbidden, and they take none of the one slot.
        for n in 3..100 {
            assert_eq!(
                code(auth.require(&signed(key(n), T), Some(&alice))),
                "forbidden"
            );
        }
        assert_eq!(code(auth.require(&signed(bob, T), None)), "forbidden");
        // So the same (key, ts) is still fresh once authorised, and then remembered.
        assert_eq!(code(auth.require(&signed(bob, T), Some(&bob))), "ok");
        assert_eq!(
            code(auth.require(&signed(bob, T), Some(&bob))),
            "auth_replayed"
        );
        // The operator reads everything, and its slot is its own.
        assert_eq!(code(auth.require(&signed(key(0), T), Some(&alice))), "ok");
        assert_eq!(code(auth.require(&signed(key(0), T + 1), None)), "ok");
        assert_eq!(
            code(auth.require(&signed(alice, T + 1), Some(&alice))),
            "ok"
        );
        let text = metrics.encode().unwrap();
        assert!(
            text.contains("testigo_signed_refusals_total{code=\"forbidden\"} 98"),
            "{text}"
        );
        assert!(text.contains("testigo_replay_evictions_total 1"), "{text}");
        assert!(text.contains("testigo_replay_keys 1"), "{text}");
    }
}

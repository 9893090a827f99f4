//! Signed read requests (DESIGN §7, `ledger::auth`): who signed, within ±5 minutes, once.
//!
//! Per-account reads are open to the account itself, the operator, a witness and a regulator;
//! bulk reads to the operator, witnesses and regulators. Each accepted signature is remembered
//! until its timestamp leaves the window, so a captured request cannot be replayed; when the
//! cache is full of live signatures the node refuses new signed requests (503) rather than forget
//! one.

use std::collections::{BTreeSet, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use testigo_ledger::PublicKey;
use testigo_ledger::api::ErrorCode;
use testigo_ledger::auth::{AUTH_WINDOW_MS, AuthError, RequestAuth};

use super::{ApiError, AppState};

/// Signatures seen within the window.
#[derive(Debug)]
pub(crate) struct ReplayCache {
    capacity: usize,
    seen: HashSet<[u8; 64]>,
    /// (expiry ms, signature), oldest expiry first.
    by_expiry: BTreeSet<(u64, [u8; 64])>,
}

impl ReplayCache {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            capacity,
            seen: HashSet::new(),
            by_expiry: BTreeSet::new(),
        }
    }

    /// Records a signature whose timestamp is `ts`. `Ok(false)` if it was seen already.
    ///
    /// # Errors
    /// [`ApiError::ReplayCacheFull`] if `capacity` live signatures are held.
    pub(crate) fn insert(&mut self, sig: [u8; 64], ts: u64, now: u64) -> Result<bool, ApiError> {
        while let Some(&(expiry, old)) = self.by_expiry.first() {
            if expiry >= now {
                break;
            }
            self.by_expiry.pop_first();
            self.seen.remove(&old);
        }
        if self.seen.contains(&sig) {
            return Ok(false);
        }
        if self.seen.len() >= self.capacity {
            return Err(ApiError::ReplayCacheFull);
        }
        self.seen.insert(sig);
        self.by_expiry
            .insert((ts.saturating_add(AUTH_WINDOW_MS), sig));
        Ok(true)
    }
}

/// Who may read what.
#[derive(Debug)]
pub(crate) struct Authorizer {
    /// The operator, witnesses and regulators: may read everything.
    readers: HashSet<PublicKey>,
    replay: Mutex<ReplayCache>,
}

impl Authorizer {
    pub(crate) fn new(readers: impl IntoIterator<Item = PublicKey>, capacity: usize) -> Self {
        Self {
            readers: readers.into_iter().collect(),
            replay: Mutex::new(ReplayCache::new(capacity)),
        }
    }

    /// Checks that `signer` may read `account`'s data (`None`: bulk reads).
    ///
    /// # Errors
    /// [`ApiError::Forbidden`].
    pub(crate) fn require(
        &self,
        signer: &Signed,
        account: Option<&PublicKey>,
    ) -> Result<(), ApiError> {
        if self.readers.contains(&signer.0) || account == Some(&signer.0) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(signer.0.to_base64()))
        }
    }
}

/// Extractor: the key that signed this request, after checking window, signature and replay.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Signed(pub(crate) PublicKey);

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

impl FromRequestParts<Arc<AppState>> for Signed {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
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
        let now = now_ms();
        auth.verify(parts.method.as_str(), path, now)
            .map_err(|e| match e {
                AuthError::Expired { .. } => unauthorized(ErrorCode::AuthExpired, e.to_string()),
                AuthError::BadSignature => unauthorized(ErrorCode::AuthBadSignature, e.to_string()),
                AuthError::Malformed(_) => unauthorized(ErrorCode::AuthMalformed, e.to_string()),
            })?;
        let fresh = state
            .authorizer
            .replay
            .lock()
            .map_err(|_| ApiError::internal("replay cache lock poisoned"))?
            .insert(auth.sig, auth.ts, now)?;
        if !fresh {
            return Err(unauthorized(
                ErrorCode::AuthReplayed,
                "this signed request was already used; sign a new one",
            ));
        }
        Ok(Signed(auth.key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_is_accepted_once_until_it_expires_and_a_full_cache_refuses() {
        let mut cache = ReplayCache::new(2);
        assert!(cache.insert([1; 64], 1_000, 1_000).unwrap());
        assert!(!cache.insert([1; 64], 1_000, 1_001).unwrap());
        assert!(cache.insert([2; 64], 1_000, 1_002).unwrap());
        assert!(matches!(
            cache.insert([3; 64], 1_000, 1_003),
            Err(ApiError::ReplayCacheFull)
        ));
        // Past the window both expire; the server would refuse their timestamps anyway.
        let later = 1_001 + AUTH_WINDOW_MS;
        assert!(cache.insert([3; 64], later, later).unwrap());
        assert_eq!(cache.seen.len(), 1);
    }
}

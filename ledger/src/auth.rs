//! Signed read requests (DESIGN §7): per-account and bulk reads carry
//!
//! ```text
//! Authorization: Testigo key=<base64 public key>, ts=<unix ms>, sig=<base64 signature>
//! ```
//!
//! with the Ed25519 signature over `"testigo/auth/v1\n" ‖ method ‖ "\n" ‖ path with query ‖ "\n"
//! ‖ ts` (ts in decimal). The server accepts a timestamp within ±5 minutes of its clock and each
//! (key, signature) only once; who may read what is the server's decision.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{Signer as _, SigningKey};

use crate::entry::signature::verify_strict;
use crate::keys::PublicKey;

/// Domain separation tag of request signatures.
pub const AUTH_SIGNING_TAG: &[u8] = b"testigo/auth/v1\n";
/// How far a request's timestamp may be from the server's clock.
pub const AUTH_WINDOW_MS: u64 = 5 * 60 * 1000;

/// A parsed `Authorization: Testigo ...` header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestAuth {
    /// Who signed.
    pub key: PublicKey,
    /// When, Unix ms.
    pub ts: u64,
    /// The signature.
    pub sig: [u8; 64],
}

/// Why a request's authorization was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// The header is not `Testigo key=.., ts=.., sig=..`.
    #[error("malformed Authorization header: {0}")]
    Malformed(&'static str),
    /// The timestamp is outside the ±5 minute window.
    #[error("request timestamp {ts} is more than 5 minutes from the server clock {now}")]
    Expired { ts: u64, now: u64 },
    /// The signature does not verify.
    #[error("request signature does not verify")]
    BadSignature,
}

/// The bytes a request signature covers.
pub fn auth_message(method: &str, path_and_query: &str, ts: u64) -> Vec<u8> {
    let ts = ts.to_string();
    let mut msg =
        Vec::with_capacity(AUTH_SIGNING_TAG.len() + method.len() + path_and_query.len() + 24);
    msg.extend_from_slice(AUTH_SIGNING_TAG);
    msg.extend_from_slice(method.as_bytes());
    msg.push(b'\n');
    msg.extend_from_slice(path_and_query.as_bytes());
    msg.push(b'\n');
    msg.extend_from_slice(ts.as_bytes());
    msg
}

/// Builds the header value for a request.
pub fn sign_request(key: &SigningKey, method: &str, path_and_query: &str, ts: u64) -> String {
    let sig = key.sign(&auth_message(method, path_and_query, ts));
    format!(
        "Testigo key={}, ts={ts}, sig={}",
        BASE64.encode(key.verifying_key().as_bytes()),
        BASE64.encode(sig.to_bytes())
    )
}

impl RequestAuth {
    /// Parses a header value.
    ///
    /// # Errors
    /// [`AuthError::Malformed`] naming what is wrong.
    pub fn parse(header: &str) -> Result<Self, AuthError> {
        let rest = header
            .strip_prefix("Testigo ")
            .ok_or(AuthError::Malformed("scheme must be Testigo"))?;
        let (mut key, mut ts, mut sig) = (None, None, None);
        for part in rest.split(',') {
            let (name, value) = part
                .trim()
                .split_once('=')
                .ok_or(AuthError::Malformed("parameters are name=value"))?;
            let slot = match name {
                "key" => &mut key,
                "ts" => &mut ts,
                "sig" => &mut sig,
                _ => return Err(AuthError::Malformed("unknown parameter")),
            };
            if slot.replace(value).is_some() {
                return Err(AuthError::Malformed("repeated parameter"));
            }
        }
        let key = key.ok_or(AuthError::Malformed("missing key"))?;
        let key = PublicKey::from_base64(key)
            .ok_or(AuthError::Malformed("key is not 32 bytes of base64"))?;
        let ts = ts.ok_or(AuthError::Malformed("missing ts"))?;
        if ts.is_empty()
            || !ts.bytes().all(|b| b.is_ascii_digit())
            || (ts.len() > 1 && ts.starts_with('0'))
        {
            return Err(AuthError::Malformed("ts is not a decimal number"));
        }
        let ts: u64 = ts
            .parse()
            .map_err(|_| AuthError::Malformed("ts is out of range"))?;
        let sig = sig.ok_or(AuthError::Malformed("missing sig"))?;
        let sig: [u8; 64] = BASE64
            .decode(sig)
            .ok()
            .and_then(|v| v.try_into().ok())
            .ok_or(AuthError::Malformed("sig is not 64 bytes of base64"))?;
        Ok(Self { key, ts, sig })
    }

    /// Checks the window and the signature for this method and path.
    ///
    /// # Errors
    /// [`AuthError::Expired`] or [`AuthError::BadSignature`].
    pub fn verify(&self, method: &str, path_and_query: &str, now_ms: u64) -> Result<(), AuthError> {
        if self.ts.abs_diff(now_ms) > AUTH_WINDOW_MS {
            return Err(AuthError::Expired {
                ts: self.ts,
                now: now_ms,
            });
        }
        verify_strict(
            &self.key,
            &auth_message(method, path_and_query, self.ts),
            &self.sig,
        )
        .map_err(|_| AuthError::BadSignature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SigningKey {
        SigningKey::from_bytes(&[3; 32])
    }

    #[test]
    fn signed_header_parses_and_verifies() {
        let header = sign_request(&key(), "GET", "/v1/accounts/abc?from=3", 1_000_000);
        let auth = RequestAuth::parse(&header).unwrap();
        assert_eq!(auth.ts, 1_000_000);
        assert_eq!(
            auth.verify("GET", "/v1/accounts/abc?from=3", 1_000_000 + AUTH_WINDOW_MS),
            Ok(())
        );
        assert_eq!(
            auth.verify("GET", "/v1/accounts/abc?from=4", 1_000_000),
            Err(AuthError::BadSignature)
        );
        assert_eq!(
            auth.verify("POST", "/v1/accounts/abc?from=3", 1_000_000),
            Err(AuthError::BadSignature)
        );
        assert!(matches!(
            auth.verify("GET", "/v1/accounts/abc?from=3", 1_000_001 + AUTH_WINDOW_MS),
            Err(AuthError::Expired { .. })
        ));
    }

    #[test]
    fn malformed_headers_are_refused() {
        let good = sign_request(&key(), "GET", "/", 5);
        for bad in [
            "",
            "Bearer x",
            "Testigo key=AAAA, ts=5, sig=AAAA",
            &good.replace("ts=5", "ts=05"),
            &good.replace("ts=5", "ts=-5"),
            &good.replace("ts=5", "ts=99999999999999999999999"),
            &good.replace("ts=5", "ts=5, ts=5"),
            &good.replace("ts=5", "tz=5"),
            &good.replace(", ts=5", ""),
        ] {
            assert!(
                matches!(RequestAuth::parse(bad), Err(AuthError::Malformed(_))),
                "{bad}"
            );
        }
    }
}

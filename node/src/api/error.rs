//! The API's one error type: every refusal is `{"code", "message", "details"}` with a stable
//! snake_case `code` (DESIGN §7). Internal failures are logged with their cause and answered with
//! a bare `internal` code, never the cause.
//!
//! | status | codes |
//! | --- | --- |
//! | 400 | `bad_request`, `malformed_leaf`, `invalid_range` |
//! | 401 | `unauthorized`, `auth_malformed`, `auth_expired`, `auth_bad_signature`, `auth_replayed` |
//! | 402 | rejections about money: `insufficient_funds`, `claim_exceeds_balance` |
//! | 403 | `forbidden` (signed, but not by a key that may read this) |
//! | 404 | `not_found` |
//! | 405 | `method_not_allowed` |
//! | 409 | rejections that conflict with the log: `nonce_reused`, `already_registered`, `consent_already_revoked`, `claim_already_settled`, `genesis_not_first` |
//! | 413 | `payload_too_large` |
//! | 415 | `unsupported_media_type` |
//! | 422 | `invalid_signature`, `state_root_reserved` (only the sequencer writes StateRoots), and every other rule the state machine enforces, by its own code |
//! | 500 | `internal` |
//! | 501 | `not_implemented` (`wait=witnessed` until replication lands) |
//! | 503 | `queue_full` (with `Retry-After`), `shutting_down`, `replay_cache_full` |

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use testigo_ledger::api::ErrorBody;

use crate::sequencer::{Refusal, RefusalClass, SequencerError};

/// Seconds a client should wait after `queue_full`.
pub(crate) const RETRY_AFTER_SECS: u64 = 1;

/// An API refusal or failure.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is not well formed.
    #[error("{message}")]
    BadRequest {
        /// Stable code.
        code: &'static str,
        /// What is wrong.
        message: String,
        /// Where.
        details: Value,
    },
    /// A signed-request problem (401).
    #[error("{message}")]
    Unauthorized {
        /// Stable code.
        code: &'static str,
        /// What is wrong.
        message: String,
    },
    /// Signed by a key that may not read this.
    #[error("key {0} may not read this resource")]
    Forbidden(String),
    /// Nothing there.
    #[error("{0}")]
    NotFound(String),
    /// The route exists, the method does not.
    #[error("method not allowed on this route; see /v1/log")]
    MethodNotAllowed,
    /// The body is larger than the limit.
    #[error("request body exceeds {limit} bytes")]
    PayloadTooLarge {
        /// The limit.
        limit: usize,
    },
    /// Neither JSON nor the binary batch form.
    #[error("unsupported content type {0:?}; use application/json or application/octet-stream")]
    UnsupportedMediaType(String),
    /// The state machine refused the entry; nothing was appended.
    #[error("{}", .0.message)]
    Rejected(Refusal),
    /// Back-pressure: retry later.
    #[error("the sequencer queue is full; retry after {RETRY_AFTER_SECS} s")]
    QueueFull,
    /// The node is stopping.
    #[error("the node is shutting down")]
    ShuttingDown,
    /// The replay cache is full of live signatures; refusing rather than forgetting one.
    #[error("too many signed requests in the last 5 minutes; retry later")]
    ReplayCacheFull,
    /// A feature that a later release brings.
    #[error("{0}")]
    NotImplemented(&'static str),
    /// Anything else: logged, answered as `internal`.
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    /// A 400 with a code and a message.
    pub(crate) fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::BadRequest {
            code,
            message: message.into(),
            details: Value::Null,
        }
    }

    /// A 500 whose cause is logged here and not sent.
    pub(crate) fn internal(cause: impl std::fmt::Display) -> Self {
        let cause = cause.to_string();
        tracing::error!(%cause, "internal error answering a request");
        Self::Internal(cause)
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Rejected(refusal) => refusal_status(refusal.class),
            ApiError::QueueFull | ApiError::ShuttingDown | ApiError::ReplayCacheFull => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ApiError::NotImplemented(_) => StatusCode::NOT_IMPLEMENTED,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The body: code, message and details.
    pub fn body(&self) -> ErrorBody {
        let (code, details) = match self {
            ApiError::BadRequest { code, details, .. } => (*code, details.clone()),
            ApiError::Unauthorized { code, .. } => (*code, Value::Null),
            ApiError::Forbidden(_) => ("forbidden", Value::Null),
            ApiError::NotFound(_) => ("not_found", Value::Null),
            ApiError::MethodNotAllowed => ("method_not_allowed", Value::Null),
            ApiError::PayloadTooLarge { limit } => {
                ("payload_too_large", serde_json::json!({ "limit": limit }))
            }
            ApiError::UnsupportedMediaType(_) => ("unsupported_media_type", Value::Null),
            ApiError::Rejected(refusal) => (refusal.code, refusal.details.clone()),
            ApiError::QueueFull => (
                "queue_full",
                serde_json::json!({ "retry_after_secs": RETRY_AFTER_SECS }),
            ),
            ApiError::ShuttingDown => ("shutting_down", Value::Null),
            ApiError::ReplayCacheFull => ("replay_cache_full", Value::Null),
            ApiError::NotImplemented(_) => ("not_implemented", Value::Null),
            ApiError::Internal(_) => ("internal", Value::Null),
        };
        ErrorBody {
            code: code.to_owned(),
            message: self.to_string(),
            details,
        }
    }
}

/// The status of a state-machine refusal, by its class.
pub(crate) fn refusal_status(class: RefusalClass) -> StatusCode {
    match class {
        RefusalClass::Malformed => StatusCode::BAD_REQUEST,
        RefusalClass::Conflict => StatusCode::CONFLICT,
        RefusalClass::Funds => StatusCode::PAYMENT_REQUIRED,
        RefusalClass::Rule => StatusCode::UNPROCESSABLE_ENTITY,
    }
}

impl From<SequencerError> for ApiError {
    fn from(e: SequencerError) -> Self {
        match e {
            SequencerError::QueueFull => ApiError::QueueFull,
            SequencerError::Stopped => ApiError::ShuttingDown,
            SequencerError::Fatal(cause) => ApiError::internal(cause),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status(), Json(self.body())).into_response();
        if matches!(self, ApiError::QueueFull | ApiError::ReplayCacheFull) {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internals_are_not_leaked_and_back_pressure_says_when_to_retry() {
        let response = ApiError::Internal("disk on fire at /secret/path".into()).into_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = ApiError::Internal("disk on fire at /secret/path".into()).body();
        assert_eq!(body.code, "internal");
        assert!(!body.message.contains("secret"));
        let response = ApiError::QueueFull.into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[header::RETRY_AFTER], "1");
    }
}

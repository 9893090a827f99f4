//! The API's one error type: every refusal is `{"code", "message", "details"}` with a stable
//! snake_case `code` (DESIGN §7), an [`ErrorCode`] from the ledger, which also gives the HTTP
//! status, so the list of codes and their statuses lives in one place (docs/PROTOCOL.md §11).
//! Internal failures are logged with their cause and answered with a bare `internal` code, never
//! the cause.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use testigo_ledger::api::{ErrorBody, ErrorCode};

use crate::intake::IntakeError;
use crate::sequencer::{Refusal, SequencerError};

/// Seconds a client should wait after `queue_full`.
pub(crate) const RETRY_AFTER_SECS: u64 = 1;

/// An API refusal or failure.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is not well formed.
    #[error("{message}")]
    BadRequest {
        /// Stable code.
        code: ErrorCode,
        /// What is wrong.
        message: String,
        /// Where.
        details: Value,
    },
    /// A signed-request problem (401).
    #[error("{message}")]
    Unauthorized {
        /// Stable code.
        code: ErrorCode,
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
    /// A body without a `Content-Type`.
    #[error("no content type; use application/json or application/octet-stream")]
    MissingContentType,
    /// More header fields, or more header bytes, than the node reads.
    #[error(
        "request headers too large: {count} fields, {bytes} bytes (at most {max_count} fields \
         and {max_bytes} bytes)",
        max_count = super::refusal::MAX_HEADERS,
        max_bytes = super::refusal::MAX_HEADER_BYTES
    )]
    HeadersTooLarge {
        /// Header fields sent.
        count: usize,
        /// Bytes of names and values sent.
        bytes: usize,
    },
    /// A refusal that axum or hyper produced below the handlers, rewritten with a code.
    #[error("{message}")]
    Other {
        /// The code its status stands for.
        code: ErrorCode,
        /// The original answer's text.
        message: String,
    },
    /// The state machine refused the entry; nothing was appended.
    #[error("{}", .0.message)]
    Rejected(Refusal),
    /// Back-pressure: retry later.
    #[error("the sequencer queue is full; retry after {RETRY_AFTER_SECS} s")]
    QueueFull,
    /// Back-pressure below the sequencer: too many requests at once, or too many request bytes
    /// in flight over all of them.
    #[error("the node is busy ({0}); retry after {RETRY_AFTER_SECS} s")]
    Busy(&'static str),
    /// The body did not arrive in time.
    #[error("the request body did not arrive within {timeout_ms} ms")]
    RequestTimeout {
        /// The body timeout.
        timeout_ms: u64,
    },
    /// The node is stopping.
    #[error("the node is shutting down")]
    ShuttingDown,
    /// The signing key is over its rate of signed reads.
    #[error("too many signed reads by this key; retry after {retry_after_secs} s")]
    RateLimited {
        /// When the key has a token again.
        retry_after_secs: u64,
    },
    /// A feature this node does not offer.
    #[error("{0}")]
    NotImplemented(&'static str),
    /// The store is damaged where this answer needed it: logged and counted by the caller.
    #[error("the node's stored data is damaged{}; nothing was served from it", .index.map(|i| format!(" at leaf {i}")).unwrap_or_default())]
    StorageCorrupt {
        /// The leaf index, when one is known.
        index: Option<u64>,
    },
    /// `wait=witnessed` ran out of time: the entries are sequenced and checkpointed.
    #[error(
        "entries up to index {last_index} are checkpointed, but no checkpoint covering them was \
         cosigned by the witness quorum within {waited_ms} ms"
    )]
    WitnessTimeout {
        /// The last index the submission needs covered.
        last_index: u64,
        /// How long the node waited.
        waited_ms: u64,
    },
    /// Anything else: logged, answered as `internal`.
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    /// A 400 with a code and a message.
    pub(crate) fn bad_request(code: ErrorCode, message: impl Into<String>) -> Self {
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

    /// The stable code, which decides the status.
    pub fn code(&self) -> ErrorCode {
        match self {
            ApiError::BadRequest { code, .. }
            | ApiError::Unauthorized { code, .. }
            | ApiError::Other { code, .. } => *code,
            ApiError::Forbidden(_) => ErrorCode::Forbidden,
            ApiError::NotFound(_) => ErrorCode::NotFound,
            ApiError::MethodNotAllowed => ErrorCode::MethodNotAllowed,
            ApiError::PayloadTooLarge { .. } => ErrorCode::PayloadTooLarge,
            ApiError::UnsupportedMediaType(_) | ApiError::MissingContentType => {
                ErrorCode::UnsupportedMediaType
            }
            ApiError::HeadersTooLarge { .. } => ErrorCode::HeadersTooLarge,
            ApiError::Rejected(refusal) => refusal.code,
            ApiError::QueueFull => ErrorCode::QueueFull,
            ApiError::Busy(_) => ErrorCode::Busy,
            ApiError::RequestTimeout { .. } => ErrorCode::RequestTimeout,
            ApiError::ShuttingDown => ErrorCode::ShuttingDown,
            ApiError::RateLimited { .. } => ErrorCode::RateLimited,
            ApiError::NotImplemented(_) => ErrorCode::NotImplemented,
            ApiError::WitnessTimeout { .. } => ErrorCode::WitnessTimeout,
            ApiError::Internal(_) => ErrorCode::Internal,
            ApiError::StorageCorrupt { .. } => ErrorCode::StorageCorrupt,
        }
    }

    /// The HTTP status, as the code's protocol entry says.
    pub fn status(&self) -> StatusCode {
        status_of(self.code())
    }

    /// The body: code, message and details.
    pub fn body(&self) -> ErrorBody {
        let details = match self {
            ApiError::BadRequest { details, .. } => details.clone(),
            ApiError::PayloadTooLarge { limit } => serde_json::json!({ "limit": limit }),
            ApiError::HeadersTooLarge { count, bytes } => serde_json::json!({
                "count": count,
                "bytes": bytes,
                "max_count": super::refusal::MAX_HEADERS,
                "max_bytes": super::refusal::MAX_HEADER_BYTES,
            }),
            ApiError::Rejected(refusal) => refusal.details.clone(),
            ApiError::QueueFull | ApiError::Busy(_) => {
                serde_json::json!({ "retry_after_secs": RETRY_AFTER_SECS })
            }
            ApiError::RequestTimeout { timeout_ms } => {
                serde_json::json!({ "timeout_ms": timeout_ms })
            }
            ApiError::StorageCorrupt { index } => serde_json::json!({ "index": index }),
            ApiError::RateLimited { retry_after_secs } => {
                serde_json::json!({ "retry_after_secs": retry_after_secs })
            }
            ApiError::WitnessTimeout {
                last_index,
                waited_ms,
            } => serde_json::json!({ "last_index": last_index, "waited_ms": waited_ms }),
            ApiError::Unauthorized { .. }
            | ApiError::Forbidden(_)
            | ApiError::NotFound(_)
            | ApiError::MethodNotAllowed
            | ApiError::UnsupportedMediaType(_)
            | ApiError::MissingContentType
            | ApiError::Other { .. }
            | ApiError::ShuttingDown
            | ApiError::NotImplemented(_)
            | ApiError::Internal(_) => Value::Null,
        };
        ErrorBody {
            code: self.code().as_str().to_owned(),
            message: self.to_string(),
            details,
        }
    }
}

/// The HTTP status of a code.
pub(crate) fn status_of(code: ErrorCode) -> StatusCode {
    // Every status in ErrorCode is a 4xx or 5xx (the ledger's tests check), which `from_u16`
    // accepts; the fallback is only for a table edited without running them.
    StatusCode::from_u16(code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
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

impl From<IntakeError> for ApiError {
    fn from(e: IntakeError) -> Self {
        match e {
            IntakeError::BatchSize { .. } => {
                ApiError::bad_request(ErrorCode::BadRequest, e.to_string())
            }
            IntakeError::Sequencer(e) => e.into(),
            IntakeError::NoWitnesses => ApiError::NotImplemented(
                "wait=witnessed: this log's Genesis names no witnesses; use wait=checkpointed",
            ),
            IntakeError::WitnessTimeout {
                last_index,
                waited_ms,
            } => ApiError::WitnessTimeout {
                last_index,
                waited_ms,
            },
            IntakeError::Read(_) | IntakeError::Internal(_) => ApiError::internal(e),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status(), Json(self.body())).into_response();
        let retry_after = match self {
            ApiError::QueueFull | ApiError::Busy(_) => Some(RETRY_AFTER_SECS),
            ApiError::RateLimited { retry_after_secs } => Some(retry_after_secs),
            _ => None,
        };
        if let Some(secs) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
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
        let limited = ApiError::RateLimited {
            retry_after_secs: 3,
        };
        assert_eq!(limited.body().details["retry_after_secs"], 3);
        let response = limited.into_response();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()[header::RETRY_AFTER], "3");
    }

    #[test]
    fn every_code_has_a_valid_error_status() {
        for &code in ErrorCode::ALL {
            let status = status_of(code);
            assert_eq!(status.as_u16(), code.http_status(), "{code}");
            assert!(
                status.is_client_error() || status.is_server_error(),
                "{code}"
            );
        }
        let refusal = Refusal::new(ErrorCode::InsufficientFunds, "poor", Value::Null);
        assert_eq!(
            ApiError::Rejected(refusal).status(),
            StatusCode::PAYMENT_REQUIRED
        );
    }
}

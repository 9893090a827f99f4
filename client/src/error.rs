//! What can go wrong talking to a node, typed by what the caller should do about it.

use std::time::Duration;

use testigo_ledger::api::ErrorBody;
use testigo_ledger::checkpoint::QuorumError;
use testigo_ledger::verify::{AccountFailure, HistoryPageFailure, ProofError};

/// Why a call failed. [`ClientError::is_retryable`] says whether trying again later can help.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The client was set up wrongly (a bad URL, an unreadable CA file): nothing was sent.
    #[error("{0}")]
    Config(String),
    /// Try again later: the node is busy or stopping (503), the key is over its rate (429), or
    /// the node could not be reached in time.
    #[error("{url}: {reason}{}", retry_after.map(|d| format!("; retry in {} s", d.as_secs())).unwrap_or_default())]
    Retryable {
        /// The request's URL.
        url: String,
        /// What happened.
        reason: Retry,
        /// The node's `Retry-After`, if it sent one.
        retry_after: Option<Duration>,
    },
    /// The node refused the request (4xx) with its stable code; nothing was changed.
    #[error("the node refused ({status} {}): {}", .error.code, .error.message)]
    Refused {
        /// HTTP status.
        status: u16,
        /// The node's error body: `code`, `message`, `details`.
        error: ErrorBody,
    },
    /// The node failed (5xx other than 503).
    #[error("the node failed ({status} {}): {}", .error.code, .error.message)]
    Server {
        /// HTTP status.
        status: u16,
        /// The node's error body.
        error: ErrorBody,
    },
    /// The answer is not the API's (not JSON of the expected shape, not UTF-8, too large).
    #[error("{url}: the answer (HTTP {status}) is not the Testigo API's: {message}")]
    Protocol {
        /// The request's URL.
        url: String,
        /// HTTP status.
        status: u16,
        /// What was wrong with it.
        message: String,
    },
    /// The answer fails verification against signed data: the node (or something between it and
    /// us) is lying or broken. Carries what was received.
    #[error("integrity: {0}")]
    Integrity(Box<Integrity>),
}

/// Why a call may succeed if tried again.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Retry {
    /// 503 (`queue_full`, `shutting_down`…) or 429 (`rate_limited`).
    #[error("the node is busy ({code}): {message}")]
    Busy {
        /// The node's code.
        code: String,
        /// The node's sentence.
        message: String,
    },
    /// Connection refused, reset, DNS failure, TLS handshake failure.
    #[error("cannot reach the node: {0}")]
    Unreachable(String),
    /// No (complete) answer within the timeout.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
}

/// An answer that failed verification, with its evidence.
#[derive(Debug, thiserror::Error)]
pub enum Integrity {
    /// An account answer against its checkpoint.
    #[error(transparent)]
    Account(AccountFailure),
    /// A history page against the verified record.
    #[error(transparent)]
    History(HistoryPageFailure),
    /// A checkpoint that is not signed by the log key or lacks its quorum.
    #[error("checkpoint: {error}")]
    Checkpoint {
        /// The note as received.
        note: String,
        /// What failed.
        error: QuorumError,
    },
    /// Two checkpoints that the node cannot prove consistent.
    #[error("checkpoint of size {} is not consistent with the trusted one of size {}: {error}", .new_size, .trusted_size)]
    Consistency {
        /// The trusted checkpoint's size.
        trusted_size: u64,
        /// The new checkpoint's size.
        new_size: u64,
        /// The trusted checkpoint note.
        trusted: String,
        /// The new checkpoint note.
        new: String,
        /// The proof as received.
        proof: Vec<testigo_ledger::Hash>,
        /// What failed.
        error: ProofError,
    },
    /// A page of a listing that does not continue where the last one ended.
    #[error("{what}")]
    Paging {
        /// What was out of order.
        what: String,
    },
}

impl ClientError {
    /// Whether the same call may succeed later.
    pub fn is_retryable(&self) -> bool {
        matches!(self, ClientError::Retryable { .. })
    }

    /// The node's code for a refusal or failure (`insufficient_funds`, `queue_full`, …).
    pub fn code(&self) -> Option<&str> {
        match self {
            ClientError::Refused { error, .. } | ClientError::Server { error, .. } => {
                Some(&error.code)
            }
            ClientError::Retryable {
                reason: Retry::Busy { code, .. },
                ..
            } => Some(code),
            _ => None,
        }
    }
}

impl ClientError {
    /// [`ClientError::code`] as the protocol's enum; `None` for a code this client does not
    /// know (a newer node), which the caller treats by its status class.
    pub fn error_code(&self) -> Option<testigo_ledger::api::ErrorCode> {
        self.code()?.parse().ok()
    }
}

impl From<Integrity> for ClientError {
    fn from(integrity: Integrity) -> Self {
        ClientError::Integrity(Box::new(integrity))
    }
}

//! Why an entry was not sequenced, in the API's terms: a stable code (which also decides the HTTP
//! status, see [`ErrorCode::http_status`]), a sentence and the rejection's fields.

use serde_json::Value;
use testigo_ledger::api::ErrorCode;

/// An entry refused before or by the state machine; nothing was appended for it.
#[derive(Clone, Debug, PartialEq)]
pub struct Refusal {
    /// Stable code: the state machine's rejection, or the node's own.
    pub code: ErrorCode,
    /// One human sentence.
    pub message: String,
    /// The rejection's fields.
    pub details: Value,
}

impl Refusal {
    /// A refusal with its code, sentence and details.
    pub fn new(code: ErrorCode, message: impl Into<String>, details: Value) -> Self {
        Self {
            code,
            message: message.into(),
            details,
        }
    }
}

//! Why an entry was not sequenced, in the API's terms: a stable code, a sentence, the
//! rejection's fields, and a class that decides the HTTP status.

use serde_json::Value;

/// How a refusal maps to HTTP (see `api::error`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefusalClass {
    /// The bytes are not an entry (400).
    Malformed,
    /// The entry conflicts with what the log already holds: a used nonce, a second
    /// registration, a second revocation or settlement (409).
    Conflict,
    /// Not enough money (402).
    Funds,
    /// Any other rule (422).
    Rule,
}

/// An entry refused before or by the state machine; nothing was appended for it.
#[derive(Clone, Debug, PartialEq)]
pub struct Refusal {
    /// Stable snake_case code (the state machine's `Rejection::code`, or the node's own).
    pub code: &'static str,
    /// One human sentence.
    pub message: String,
    /// The rejection's fields.
    pub details: Value,
    /// The HTTP class.
    pub class: RefusalClass,
}

impl Refusal {
    /// A refusal whose class follows from its code.
    pub fn new(code: &'static str, message: impl Into<String>, details: Value) -> Self {
        Self {
            code,
            message: message.into(),
            details,
            class: class_of(code),
        }
    }
}

/// The class of a code. Codes not listed are rule violations (422).
pub fn class_of(code: &str) -> RefusalClass {
    match code {
        "malformed_leaf" | "body_malformed" => RefusalClass::Malformed,
        "nonce_reused"
        | "already_registered"
        | "consent_already_revoked"
        | "claim_already_settled"
        | "genesis_not_first" => RefusalClass::Conflict,
        "insufficient_funds" | "claim_exceeds_balance" => RefusalClass::Funds,
        _ => RefusalClass::Rule,
    }
}

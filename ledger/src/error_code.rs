//! Every `code` the node's HTTP API can answer, as one enum, re-exported as
//! [`crate::api::ErrorCode`].
//!
//! The codes live here rather than in the node so that a client (the wallet, the audit tool, a
//! third party) can `match` on a refusal instead of comparing strings, and so the node cannot
//! send a code that this list does not name. Each code carries its HTTP status as a `u16`: the
//! ledger has no HTTP crate, and the status is part of the protocol (docs/PROTOCOL.md §11 lists
//! the same table, and a test here checks that the two agree).
//!
//! The state machine's [`Rejection`]s map onto codes through an exhaustive `match`, so a new
//! rejection does not compile until it is given a code and a status.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::state::Rejection;

macro_rules! error_codes {
    ($( $(#[$meta:meta])* $variant:ident => $code:literal, $status:literal; )+) => {
        /// A stable machine-readable error code: the `code` of an error body.
        ///
        /// Codes never change meaning; new conditions get new codes.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum ErrorCode {
            $( $(#[$meta])* $variant, )+
        }

        impl ErrorCode {
            /// Every code, in the order docs/PROTOCOL.md lists them.
            pub const ALL: &'static [ErrorCode] = &[ $( ErrorCode::$variant, )+ ];

            /// The snake_case word sent on the wire, e.g. `insufficient_funds`.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $( ErrorCode::$variant => $code, )+
                }
            }

            /// The HTTP status the node answers this code with.
            pub const fn http_status(self) -> u16 {
                match self {
                    $( ErrorCode::$variant => $status, )+
                }
            }
        }
    };
}

error_codes! {
    // The node's own codes: the request, before the state machine sees an entry.
    /// The request is not well formed (bad JSON, bad query, bad binary batch framing, a key that
    /// is not 32 bytes of base64, a batch of the wrong size).
    BadRequest => "bad_request", 400;
    /// A submitted envelope does not parse, or its `sequenced_at` is not zero.
    MalformedLeaf => "malformed_leaf", 400;
    /// An index or range outside the log, or a range whose start is not below its end.
    InvalidRange => "invalid_range", 400;
    /// A submitted entry's signature fails the entry rule, ZIP 215 (checked before the sequencer).
    InvalidSignature => "invalid_signature", 422;
    /// A submitted `StateRoot`: only the sequencer writes them, right before it signs a checkpoint.
    StateRootReserved => "state_root_reserved", 422;
    /// The resource needs a signed request and none was given.
    Unauthorized => "unauthorized", 401;
    /// The `Authorization` header does not parse.
    AuthMalformed => "auth_malformed", 401;
    /// The signed request's `ts` is more than 5 minutes from the server clock.
    AuthExpired => "auth_expired", 401;
    /// The signed request's signature does not verify.
    AuthBadSignature => "auth_bad_signature", 401;
    /// The same signed request was seen before.
    AuthReplayed => "auth_replayed", 401;
    /// Signed, but by a key that may not read this resource.
    Forbidden => "forbidden", 403;
    /// No such route, account or checkpoint.
    NotFound => "not_found", 404;
    /// The route exists, the method does not.
    MethodNotAllowed => "method_not_allowed", 405;
    /// The request's body did not arrive within the node's body timeout.
    RequestTimeout => "request_timeout", 408;
    /// The body exceeds the node's request limit.
    PayloadTooLarge => "payload_too_large", 413;
    /// Neither `application/json` nor `application/octet-stream` (matched exactly, parameters
    /// allowed), or no `Content-Type`.
    UnsupportedMediaType => "unsupported_media_type", 415;
    /// The signing key made more signed reads than its rate allows; retry after `Retry-After`
    /// seconds.
    RateLimited => "rate_limited", 429;
    /// More header fields or header bytes than the node reads.
    HeadersTooLarge => "headers_too_large", 431;
    /// The node failed; the cause is in its log, not in the answer.
    Internal => "internal", 500;
    /// The node found what it stores damaged where this answer needed it (named in `details`),
    /// and served nothing rather than something wrong; it is logged and counted.
    StorageCorrupt => "storage_corrupt", 500;
    /// A feature this node does not offer (`wait=witnessed` on a log without witnesses, a
    /// submission to a witness).
    NotImplemented => "not_implemented", 501;
    /// Back-pressure: the sequencer's queue is full; retry after `Retry-After` seconds.
    QueueFull => "queue_full", 503;
    /// Back-pressure: too many requests at once, or too many request bytes in flight over all
    /// of them; retry after `Retry-After` seconds.
    Busy => "busy", 503;
    /// The node is stopping.
    ShuttingDown => "shutting_down", 503;
    /// Retired: nodes keep replay state per key (docs/PROTOCOL.md §10) and no longer answer
    /// it. Too many live signed requests to remember them all; retry after `Retry-After` seconds.
    ReplayCacheFull => "replay_cache_full", 503;
    /// `wait=witnessed`: the entry is sequenced and checkpointed, but the quorum of witnesses did
    /// not cosign a checkpoint covering it in time (the answer's details give its index).
    WitnessTimeout => "witness_timeout", 504;

    // The state machine's rejections (`ledger::state::Rejection`).
    /// The body bytes are not one canonical body.
    BodyMalformed => "body_malformed", 400;
    /// The leaf carries a different `sequenced_at` from the time it is applied at.
    SequencedAtMismatch => "sequenced_at_mismatch", 422;
    /// The log has no `Genesis` yet, so only a `Genesis` can be leaf 0.
    GenesisRequired => "genesis_required", 422;
    /// A `Genesis` after leaf 0.
    GenesisNotFirst => "genesis_not_first", 409;
    /// The `Genesis` is not signed by the log key it names.
    GenesisNotSignedByLogKey => "genesis_not_signed_by_log_key", 422;
    /// The origin is empty or contains whitespace or control characters.
    BadOrigin => "bad_origin", 422;
    /// The operator's fee is above 100%.
    FeeTooHigh => "fee_too_high", 422;
    /// The quorum cannot be met, or is zero while witnesses are named.
    BadQuorum => "bad_quorum", 422;
    /// Two witnesses share a name or a key.
    DuplicateWitness => "duplicate_witness", 422;
    /// More than 15 witnesses: a signed note carries at most 16 lines.
    TooManyWitnesses => "too_many_witnesses", 422;
    /// A key that may not name an account, witness or regulator.
    WeakKey => "weak_key", 422;
    /// The signature fails the entry rule, ZIP 215 (as the state machine checks it on replay).
    BadSignature => "bad_signature", 422;
    /// `sequenced_at` went down from the previous leaf.
    TimeWentBackwards => "time_went_backwards", 422;
    /// No account has this key.
    UnknownAccount => "unknown_account", 422;
    /// The account has a role this entry does not allow.
    WrongRole => "wrong_role", 422;
    /// The key already names an account.
    AlreadyRegistered => "already_registered", 409;
    /// The signer already used this nonce or a higher one.
    NonceReused => "nonce_reused", 409;
    /// The nonce is more than `MAX_NONCE_GAP` above the signer's next nonce.
    NonceTooFar => "nonce_too_far", 422;
    /// A text field that must say something is empty.
    EmptyField => "empty_field", 422;
    /// A deposit or claim of nothing.
    ZeroAmount => "zero_amount", 422;
    /// A sum would exceed `u64`.
    Overflow => "overflow", 422;
    /// A grant with no category or no purpose.
    EmptyConsentScope => "empty_consent_scope", 422;
    /// `valid_until` is not after `valid_from`.
    InvalidValidityWindow => "invalid_validity_window", 422;
    /// No grant at this index.
    ConsentNotFound => "consent_not_found", 422;
    /// Only the granting subject may revoke.
    NotConsentOwner => "not_consent_owner", 422;
    /// The grant was already revoked.
    ConsentAlreadyRevoked => "consent_already_revoked", 409;
    /// A consent-based access without a consent reference.
    ConsentReferenceMissing => "consent_reference_missing", 422;
    /// A consent reference on an access under another legal basis.
    UnexpectedConsentReference => "unexpected_consent_reference", 422;
    /// The referenced grant is another subject's.
    ConsentOfAnotherSubject => "consent_of_another_subject", 422;
    /// The grant was revoked before this access.
    ConsentRevoked => "consent_revoked", 422;
    /// The grant names another accessor.
    ConsentNotForAccessor => "consent_not_for_accessor", 422;
    /// The grant does not cover this data category.
    CategoryNotCovered => "category_not_covered", 422;
    /// The grant does not cover this purpose.
    PurposeNotCovered => "purpose_not_covered", 422;
    /// The access's time is outside the grant's validity window.
    NotInValidityWindow => "not_in_validity_window", 422;
    /// The access pays less than the subject asks.
    PriceBelowConsent => "price_below_consent", 422;
    /// The accessor cannot pay.
    InsufficientFunds => "insufficient_funds", 402;
    /// The subject claims more than it has earned and not yet claimed.
    ClaimExceedsBalance => "claim_exceeds_balance", 402;
    /// No claim at this index.
    ClaimNotFound => "claim_not_found", 422;
    /// The claim was settled already.
    ClaimAlreadySettled => "claim_already_settled", 409;
    /// A `StateRoot`'s `as_of` is not its own index.
    StateRootIndexMismatch => "state_root_index_mismatch", 422;
    /// A `StateRoot` commits a map root other than the one the state gives.
    StateRootMismatch => "state_root_mismatch", 422;
}

impl From<&Rejection> for ErrorCode {
    fn from(rejection: &Rejection) -> Self {
        // Exhaustive on purpose: a new rejection must be given a code (and so a status) here.
        match rejection {
            Rejection::BodyMalformed { .. } => ErrorCode::BodyMalformed,
            Rejection::SequencedAtMismatch { .. } => ErrorCode::SequencedAtMismatch,
            Rejection::GenesisRequired { .. } => ErrorCode::GenesisRequired,
            Rejection::GenesisNotFirst { .. } => ErrorCode::GenesisNotFirst,
            Rejection::GenesisNotSignedByLogKey { .. } => ErrorCode::GenesisNotSignedByLogKey,
            Rejection::BadOrigin { .. } => ErrorCode::BadOrigin,
            Rejection::FeeTooHigh { .. } => ErrorCode::FeeTooHigh,
            Rejection::BadQuorum { .. } => ErrorCode::BadQuorum,
            Rejection::DuplicateWitness { .. } => ErrorCode::DuplicateWitness,
            Rejection::TooManyWitnesses { .. } => ErrorCode::TooManyWitnesses,
            Rejection::WeakKey { .. } => ErrorCode::WeakKey,
            Rejection::BadSignature { .. } => ErrorCode::BadSignature,
            Rejection::TimeWentBackwards { .. } => ErrorCode::TimeWentBackwards,
            Rejection::UnknownAccount { .. } => ErrorCode::UnknownAccount,
            Rejection::WrongRole { .. } => ErrorCode::WrongRole,
            Rejection::AlreadyRegistered { .. } => ErrorCode::AlreadyRegistered,
            Rejection::NonceReused { .. } => ErrorCode::NonceReused,
            Rejection::NonceTooFar { .. } => ErrorCode::NonceTooFar,
            Rejection::EmptyField { .. } => ErrorCode::EmptyField,
            Rejection::ZeroAmount => ErrorCode::ZeroAmount,
            Rejection::Overflow => ErrorCode::Overflow,
            Rejection::EmptyConsentScope { .. } => ErrorCode::EmptyConsentScope,
            Rejection::InvalidValidityWindow { .. } => ErrorCode::InvalidValidityWindow,
            Rejection::ConsentNotFound { .. } => ErrorCode::ConsentNotFound,
            Rejection::NotConsentOwner { .. } => ErrorCode::NotConsentOwner,
            Rejection::ConsentAlreadyRevoked { .. } => ErrorCode::ConsentAlreadyRevoked,
            Rejection::ConsentReferenceMissing => ErrorCode::ConsentReferenceMissing,
            Rejection::UnexpectedConsentReference { .. } => ErrorCode::UnexpectedConsentReference,
            Rejection::ConsentOfAnotherSubject { .. } => ErrorCode::ConsentOfAnotherSubject,
            Rejection::ConsentRevoked { .. } => ErrorCode::ConsentRevoked,
            Rejection::ConsentNotForAccessor { .. } => ErrorCode::ConsentNotForAccessor,
            Rejection::CategoryNotCovered { .. } => ErrorCode::CategoryNotCovered,
            Rejection::PurposeNotCovered { .. } => ErrorCode::PurposeNotCovered,
            Rejection::NotInValidityWindow { .. } => ErrorCode::NotInValidityWindow,
            Rejection::PriceBelowConsent { .. } => ErrorCode::PriceBelowConsent,
            Rejection::InsufficientFunds { .. } => ErrorCode::InsufficientFunds,
            Rejection::ClaimExceedsBalance { .. } => ErrorCode::ClaimExceedsBalance,
            Rejection::ClaimNotFound { .. } => ErrorCode::ClaimNotFound,
            Rejection::ClaimAlreadySettled { .. } => ErrorCode::ClaimAlreadySettled,
            Rejection::StateRootIndexMismatch { .. } => ErrorCode::StateRootIndexMismatch,
            Rejection::StateRootMismatch { .. } => ErrorCode::StateRootMismatch,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A `code` that [`ErrorCode`] does not name: a newer node, or not a Testigo node.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown error code {0:?}")]
pub struct UnknownErrorCode(pub String);

impl FromStr for ErrorCode {
    type Err = UnknownErrorCode;

    /// # Errors
    /// [`UnknownErrorCode`] if the word is not one of [`ErrorCode::ALL`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ErrorCode::ALL
            .iter()
            .copied()
            .find(|code| code.as_str() == s)
            .ok_or_else(|| UnknownErrorCode(s.to_owned()))
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ErrorCode {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::entry::{BodyKind, DataCategory, LegalBasis, Purpose};
    use crate::hash::Hash;
    use crate::keys::PublicKey;
    use crate::state::{KeyProblem, Role};

    /// One rejection per rejection code, or `None` for the node's own codes. Exhaustive over
    /// `ErrorCode`, as `From<&Rejection>` is over `Rejection`, so neither side can grow alone.
    fn sample(code: ErrorCode) -> Option<Rejection> {
        let key = PublicKey([7; 32]);
        Some(match code {
            ErrorCode::BadRequest
            | ErrorCode::MalformedLeaf
            | ErrorCode::InvalidRange
            | ErrorCode::InvalidSignature
            | ErrorCode::StateRootReserved
            | ErrorCode::Unauthorized
            | ErrorCode::AuthMalformed
            | ErrorCode::AuthExpired
            | ErrorCode::AuthBadSignature
            | ErrorCode::AuthReplayed
            | ErrorCode::Forbidden
            | ErrorCode::NotFound
            | ErrorCode::MethodNotAllowed
            | ErrorCode::RequestTimeout
            | ErrorCode::PayloadTooLarge
            | ErrorCode::UnsupportedMediaType
            | ErrorCode::RateLimited
            | ErrorCode::HeadersTooLarge
            | ErrorCode::Internal
            | ErrorCode::StorageCorrupt
            | ErrorCode::NotImplemented
            | ErrorCode::QueueFull
            | ErrorCode::Busy
            | ErrorCode::ShuttingDown
            | ErrorCode::ReplayCacheFull
            | ErrorCode::WitnessTimeout => return None,
            ErrorCode::BodyMalformed => Rejection::BodyMalformed { reason: "x".into() },
            ErrorCode::SequencedAtMismatch => Rejection::SequencedAtMismatch {
                stamped: 1,
                sequenced_at: 2,
            },
            ErrorCode::GenesisRequired => Rejection::GenesisRequired {
                got: BodyKind::EnrollSubject,
            },
            ErrorCode::GenesisNotFirst => Rejection::GenesisNotFirst { index: 3 },
            ErrorCode::GenesisNotSignedByLogKey => Rejection::GenesisNotSignedByLogKey {
                log_key: key,
                signer: key,
            },
            ErrorCode::BadOrigin => Rejection::BadOrigin { origin: "".into() },
            ErrorCode::FeeTooHigh => Rejection::FeeTooHigh {
                fee_bps: 10_001,
                max: 10_000,
            },
            ErrorCode::BadQuorum => Rejection::BadQuorum {
                quorum: 2,
                witnesses: 1,
            },
            ErrorCode::DuplicateWitness => Rejection::DuplicateWitness {
                name: "w".into(),
                key,
            },
            ErrorCode::TooManyWitnesses => Rejection::TooManyWitnesses {
                witnesses: 16,
                max: 15,
            },
            ErrorCode::WeakKey => Rejection::WeakKey {
                key,
                problem: KeyProblem::SmallOrder,
            },
            ErrorCode::BadSignature => Rejection::BadSignature { signer: key },
            ErrorCode::TimeWentBackwards => Rejection::TimeWentBackwards { last: 2, got: 1 },
            ErrorCode::UnknownAccount => Rejection::UnknownAccount { key },
            ErrorCode::WrongRole => Rejection::WrongRole {
                key,
                role: Role::Subject,
                required: vec![Role::Operator],
            },
            ErrorCode::AlreadyRegistered => Rejection::AlreadyRegistered {
                key,
                role: Role::Subject,
            },
            ErrorCode::NonceReused => Rejection::NonceReused { nonce: 1, last: 1 },
            ErrorCode::NonceTooFar => Rejection::NonceTooFar {
                next: 1,
                got: 2 << 20,
            },
            ErrorCode::EmptyField => Rejection::EmptyField {
                field: "name".into(),
            },
            ErrorCode::ZeroAmount => Rejection::ZeroAmount,
            ErrorCode::Overflow => Rejection::Overflow,
            ErrorCode::EmptyConsentScope => Rejection::EmptyConsentScope {
                categories: 0,
                purposes: 1,
            },
            ErrorCode::InvalidValidityWindow => Rejection::InvalidValidityWindow {
                valid_from: 2,
                valid_until: 1,
            },
            ErrorCode::ConsentNotFound => Rejection::ConsentNotFound { consent: 1 },
            ErrorCode::NotConsentOwner => Rejection::NotConsentOwner {
                consent: 1,
                owner: key,
            },
            ErrorCode::ConsentAlreadyRevoked => Rejection::ConsentAlreadyRevoked {
                consent: 1,
                revoked_at: 2,
            },
            ErrorCode::ConsentReferenceMissing => Rejection::ConsentReferenceMissing,
            ErrorCode::UnexpectedConsentReference => Rejection::UnexpectedConsentReference {
                legal_basis: LegalBasis::Contract,
                consent: 1,
            },
            ErrorCode::ConsentOfAnotherSubject => Rejection::ConsentOfAnotherSubject {
                consent: 1,
                grantor: key,
                subject: key,
            },
            ErrorCode::ConsentRevoked => Rejection::ConsentRevoked {
                consent: 1,
                revoked_at: 2,
            },
            ErrorCode::ConsentNotForAccessor => Rejection::ConsentNotForAccessor {
                consent: 1,
                allowed: key,
                accessor: key,
            },
            ErrorCode::CategoryNotCovered => Rejection::CategoryNotCovered {
                consent: 1,
                category: DataCategory::Location,
            },
            ErrorCode::PurposeNotCovered => Rejection::PurposeNotCovered {
                consent: 1,
                purpose: Purpose::LegalCompliance,
            },
            ErrorCode::NotInValidityWindow => Rejection::NotInValidityWindow {
                consent: 1,
                valid_from: 2,
                valid_until: None,
                at: 1,
            },
            ErrorCode::PriceBelowConsent => Rejection::PriceBelowConsent {
                price: 1,
                minimum: 2,
            },
            ErrorCode::InsufficientFunds => Rejection::InsufficientFunds {
                balance: 1,
                price: 2,
            },
            ErrorCode::ClaimExceedsBalance => Rejection::ClaimExceedsBalance {
                balance: 1,
                amount: 2,
            },
            ErrorCode::ClaimNotFound => Rejection::ClaimNotFound { claim: 1 },
            ErrorCode::ClaimAlreadySettled => Rejection::ClaimAlreadySettled {
                claim: 1,
                settled_at: 2,
            },
            ErrorCode::StateRootIndexMismatch => {
                Rejection::StateRootIndexMismatch { as_of: 1, index: 2 }
            }
            ErrorCode::StateRootMismatch => Rejection::StateRootMismatch {
                claimed: Hash::default(),
                computed: Hash::default(),
            },
        })
    }

    #[test]
    fn every_rejection_has_the_code_it_names_itself() {
        let mut rejections = 0;
        for &code in ErrorCode::ALL {
            if let Some(rejection) = sample(code) {
                rejections += 1;
                assert_eq!(ErrorCode::from(&rejection), code);
                // The state machine's own string and its serde tag agree with the enum.
                assert_eq!(rejection.code(), code.as_str());
                let json = serde_json::to_value(&rejection).unwrap();
                assert_eq!(json["code"], code.as_str());
            }
        }
        assert_eq!(rejections, 41);
    }

    #[test]
    fn codes_are_unique_parse_back_and_serialise_as_their_word() {
        let words: BTreeSet<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(words.len(), ErrorCode::ALL.len());
        for &code in ErrorCode::ALL {
            assert_eq!(code.as_str().parse::<ErrorCode>(), Ok(code));
            let json = serde_json::to_string(&code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
            assert_eq!(serde_json::from_str::<ErrorCode>(&json).unwrap(), code);
            assert!(
                (400..600).contains(&code.http_status()),
                "{code} answers {}",
                code.http_status()
            );
        }
        assert_eq!(
            "no_such_code".parse::<ErrorCode>(),
            Err(UnknownErrorCode("no_such_code".into()))
        );
        assert!(serde_json::from_str::<ErrorCode>("\"Internal\"").is_err());
    }

    /// docs/PROTOCOL.md's "Error codes" table is the published list: it must name exactly these
    /// codes, in this order, with these statuses.
    #[test]
    fn the_protocol_document_lists_exactly_these_codes() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/PROTOCOL.md");
        let text = std::fs::read_to_string(path).unwrap();
        let section = text
            .split("\n## ")
            .find(|s| s.contains("Error codes"))
            .expect("PROTOCOL.md has an \"Error codes\" section");
        let documented: Vec<(String, u16)> = section
            .lines()
            .filter(|line| line.starts_with("| `"))
            .map(|line| {
                let cells: Vec<&str> = line.split('|').map(str::trim).collect();
                let code = cells[1].trim_matches('`').to_owned();
                let status = cells[2]
                    .parse()
                    .unwrap_or_else(|_| panic!("status in {line}"));
                (code, status)
            })
            .collect();
        let expected: Vec<(String, u16)> = ErrorCode::ALL
            .iter()
            .map(|c| (c.as_str().to_owned(), c.http_status()))
            .collect();
        assert_eq!(documented, expected);
    }
}

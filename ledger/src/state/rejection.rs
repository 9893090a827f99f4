//! Why an entry was refused: one variant per rule, carrying what the submitter needs to fix it.
//!
//! Every variant has a stable snake_case [`Rejection::code`]; serialised with serde, a rejection
//! is an object whose `code` field is that word and whose other fields are the variant's data,
//! e.g. `{"code":"insufficient_funds","balance":2,"price":3}`: the HTTP API answers it as
//! `details`. Codes never change meaning; new rules get new codes.

use serde::{Deserialize, Serialize};

use super::Role;
use crate::entry::{BodyKind, DataCategory, KeyError, LegalBasis, Purpose};
use crate::hash::Hash;
use crate::keys::PublicKey;

/// Why a key may not name an account or a witness (mirrors [`KeyError`], with serde).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyProblem {
    /// Not the canonical encoding of a curve point.
    NotCanonical,
    /// A point of small order.
    SmallOrder,
    /// A point with a torsion component.
    Torsion,
}

impl From<KeyError> for KeyProblem {
    fn from(e: KeyError) -> Self {
        match e {
            KeyError::NotCanonical => KeyProblem::NotCanonical,
            KeyError::SmallOrder => KeyProblem::SmallOrder,
            KeyError::Torsion => KeyProblem::Torsion,
        }
    }
}

/// An entry the rules refuse. Applying it changed nothing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum Rejection {
    /// The body bytes are not one canonical body.
    #[error("body is malformed: {reason}")]
    BodyMalformed { reason: String },
    /// The leaf carries a different `sequenced_at` from the time it is applied at.
    #[error("leaf is stamped {stamped} but applied at {sequenced_at}")]
    SequencedAtMismatch { stamped: u64, sequenced_at: u64 },
    /// The log has no `Genesis` yet, so only a `Genesis` can be leaf 0.
    #[error("leaf 0 must be a genesis, got {got}")]
    GenesisRequired { got: BodyKind },
    /// A `Genesis` after leaf 0.
    #[error("genesis at index {index}: only leaf 0 may be a genesis")]
    GenesisNotFirst { index: u64 },
    /// The `Genesis` is not signed by the log key it names.
    #[error("genesis names log key {log_key} but is signed by {signer}")]
    GenesisNotSignedByLogKey {
        log_key: PublicKey,
        signer: PublicKey,
    },
    /// The origin is empty or contains whitespace or control characters (it is a token in
    /// checkpoint notes).
    #[error("origin {origin:?} must be non-empty printable text without spaces")]
    BadOrigin { origin: String },
    /// The operator's fee is above 100%.
    #[error("fee of {fee_bps} basis points exceeds {max}")]
    FeeTooHigh { fee_bps: u16, max: u16 },
    /// The quorum cannot be met, or is zero while witnesses are named.
    #[error("quorum {quorum} is impossible with {witnesses} witnesses (need 1..=witnesses)")]
    BadQuorum { quorum: u16, witnesses: usize },
    /// Two witnesses share a name or a key.
    #[error("witness {name:?} ({key}) is named twice")]
    DuplicateWitness { name: String, key: PublicKey },
    /// More witnesses than a signed note has room for (the log's line plus
    /// [`crate::state::MAX_WITNESSES`] cosignatures: at most 16 lines).
    #[error("{witnesses} witnesses named; at most {max}")]
    TooManyWitnesses { witnesses: usize, max: usize },
    /// A key that may not name an account, witness or regulator.
    #[error("key {key} is weak: {problem:?}")]
    WeakKey { key: PublicKey, problem: KeyProblem },
    /// The signature does not satisfy the entry rule (ZIP 215).
    #[error("signature by {signer} does not verify")]
    BadSignature { signer: PublicKey },
    /// `sequenced_at` went down from the previous leaf.
    #[error("sequenced_at {got} is before the previous leaf's {last}")]
    TimeWentBackwards { last: u64, got: u64 },
    /// No account has this key.
    #[error("no account has key {key}")]
    UnknownAccount { key: PublicKey },
    /// The account exists but has a role this entry does not allow.
    #[error("account {key} is a {role}; this needs one of {required:?}")]
    WrongRole {
        key: PublicKey,
        role: Role,
        required: Vec<Role>,
    },
    /// The key already names an account.
    #[error("key {key} is already registered as a {role}")]
    AlreadyRegistered { key: PublicKey, role: Role },
    /// The signer already used this nonce or a higher one.
    #[error("nonce {nonce} is not above the signer's last nonce {last}")]
    NonceReused { nonce: u64, last: u64 },
    /// The nonce is more than [`super::MAX_NONCE_GAP`] above the signer's next one.
    #[error(
        "nonce {got} is more than {gap} above the signer's next nonce {next}",
        gap = super::MAX_NONCE_GAP
    )]
    NonceTooFar { next: u64, got: u64 },
    /// A text field that must say something is empty.
    #[error("field {field} must not be empty")]
    EmptyField { field: String },
    /// A deposit or claim of nothing.
    #[error("amount must be positive")]
    ZeroAmount,
    /// A sum would exceed `u64`: nothing was moved.
    #[error("amount overflow")]
    Overflow,
    /// A grant with no category or no purpose covers nothing.
    #[error(
        "consent covers {categories} categories and {purposes} purposes; both must be at least 1"
    )]
    EmptyConsentScope { categories: usize, purposes: usize },
    /// `valid_until` is not after `valid_from`.
    #[error("validity window [{valid_from}, {valid_until}) is empty")]
    InvalidValidityWindow { valid_from: u64, valid_until: u64 },
    /// No grant at this index.
    #[error("no consent was granted at index {consent}")]
    ConsentNotFound { consent: u64 },
    /// Only the granting subject may revoke.
    #[error("consent {consent} belongs to {owner}")]
    NotConsentOwner { consent: u64, owner: PublicKey },
    /// The grant was already revoked.
    #[error("consent {consent} was already revoked at index {revoked_at}")]
    ConsentAlreadyRevoked { consent: u64, revoked_at: u64 },
    /// A consent-based access without a consent reference.
    #[error("legal basis consent needs a consent reference")]
    ConsentReferenceMissing,
    /// A consent reference on an access under another basis: that basis must stand on its own.
    #[error("legal basis {legal_basis} must not carry consent reference {consent}")]
    UnexpectedConsentReference {
        legal_basis: LegalBasis,
        consent: u64,
    },
    /// The referenced grant is another subject's.
    #[error("consent {consent} was granted by {grantor}, not by subject {subject}")]
    ConsentOfAnotherSubject {
        consent: u64,
        grantor: PublicKey,
        subject: PublicKey,
    },
    /// The grant was revoked before this access.
    #[error("consent {consent} was revoked at index {revoked_at}")]
    ConsentRevoked { consent: u64, revoked_at: u64 },
    /// The grant names another accessor.
    #[error("consent {consent} is for {allowed}, not {accessor}")]
    ConsentNotForAccessor {
        consent: u64,
        allowed: PublicKey,
        accessor: PublicKey,
    },
    /// The grant does not cover this data category.
    #[error("consent {consent} does not cover {category}")]
    CategoryNotCovered {
        consent: u64,
        category: DataCategory,
    },
    /// The grant does not cover this purpose.
    #[error("consent {consent} does not cover {purpose}")]
    PurposeNotCovered { consent: u64, purpose: Purpose },
    /// The access's time is outside the grant's `[valid_from, valid_until)`.
    #[error("time {at} is outside consent {consent}'s window [{valid_from}, {valid_until:?})")]
    NotInValidityWindow {
        consent: u64,
        valid_from: u64,
        valid_until: Option<u64>,
        at: u64,
    },
    /// The access pays less than the subject asks.
    #[error("price {price} is below the consent's price {minimum}")]
    PriceBelowConsent { price: u64, minimum: u64 },
    /// The accessor cannot pay.
    #[error("balance {balance} does not cover price {price}")]
    InsufficientFunds { balance: u64, price: u64 },
    /// The subject claims more than it has earned and not yet claimed.
    #[error("claim of {amount} exceeds balance {balance}")]
    ClaimExceedsBalance { balance: u64, amount: u64 },
    /// No claim at this index.
    #[error("no claim at index {claim}")]
    ClaimNotFound { claim: u64 },
    /// The claim was settled already.
    #[error("claim {claim} was already settled at index {settled_at}")]
    ClaimAlreadySettled { claim: u64, settled_at: u64 },
    /// A `StateRoot`'s `as_of` must be its own index.
    #[error("state root says as_of {as_of} but sits at index {index}")]
    StateRootIndexMismatch { as_of: u64, index: u64 },
    /// A `StateRoot` commits a map root other than the one the state gives.
    #[error("state root claims {claimed:?}, the state gives {computed:?}")]
    StateRootMismatch { claimed: Hash, computed: Hash },
}

impl Rejection {
    /// The stable snake_case code, e.g. `insufficient_funds`: the HTTP API's `code`.
    pub fn code(&self) -> &'static str {
        match self {
            Rejection::BodyMalformed { .. } => "body_malformed",
            Rejection::SequencedAtMismatch { .. } => "sequenced_at_mismatch",
            Rejection::GenesisRequired { .. } => "genesis_required",
            Rejection::GenesisNotFirst { .. } => "genesis_not_first",
            Rejection::GenesisNotSignedByLogKey { .. } => "genesis_not_signed_by_log_key",
            Rejection::BadOrigin { .. } => "bad_origin",
            Rejection::FeeTooHigh { .. } => "fee_too_high",
            Rejection::BadQuorum { .. } => "bad_quorum",
            Rejection::DuplicateWitness { .. } => "duplicate_witness",
            Rejection::TooManyWitnesses { .. } => "too_many_witnesses",
            Rejection::WeakKey { .. } => "weak_key",
            Rejection::BadSignature { .. } => "bad_signature",
            Rejection::TimeWentBackwards { .. } => "time_went_backwards",
            Rejection::UnknownAccount { .. } => "unknown_account",
            Rejection::WrongRole { .. } => "wrong_role",
            Rejection::AlreadyRegistered { .. } => "already_registered",
            Rejection::NonceReused { .. } => "nonce_reused",
            Rejection::NonceTooFar { .. } => "nonce_too_far",
            Rejection::EmptyField { .. } => "empty_field",
            Rejection::ZeroAmount => "zero_amount",
            Rejection::Overflow => "overflow",
            Rejection::EmptyConsentScope { .. } => "empty_consent_scope",
            Rejection::InvalidValidityWindow { .. } => "invalid_validity_window",
            Rejection::ConsentNotFound { .. } => "consent_not_found",
            Rejection::NotConsentOwner { .. } => "not_consent_owner",
            Rejection::ConsentAlreadyRevoked { .. } => "consent_already_revoked",
            Rejection::ConsentReferenceMissing => "consent_reference_missing",
            Rejection::UnexpectedConsentReference { .. } => "unexpected_consent_reference",
            Rejection::ConsentOfAnotherSubject { .. } => "consent_of_another_subject",
            Rejection::ConsentRevoked { .. } => "consent_revoked",
            Rejection::ConsentNotForAccessor { .. } => "consent_not_for_accessor",
            Rejection::CategoryNotCovered { .. } => "category_not_covered",
            Rejection::PurposeNotCovered { .. } => "purpose_not_covered",
            Rejection::NotInValidityWindow { .. } => "not_in_validity_window",
            Rejection::PriceBelowConsent { .. } => "price_below_consent",
            Rejection::InsufficientFunds { .. } => "insufficient_funds",
            Rejection::ClaimExceedsBalance { .. } => "claim_exceeds_balance",
            Rejection::ClaimNotFound { .. } => "claim_not_found",
            Rejection::ClaimAlreadySettled { .. } => "claim_already_settled",
            Rejection::StateRootIndexMismatch { .. } => "state_root_index_mismatch",
            Rejection::StateRootMismatch { .. } => "state_root_mismatch",
        }
    }
}

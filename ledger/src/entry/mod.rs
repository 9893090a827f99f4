//! Entries: the signed leaf envelope (normative), the body kinds, and the signature predicate.
//!
//! An `Access` entry's body in JSON (its signed form is canonical bincode, about 90 bytes):
//!
//! ```text
//! {"Access":{"nonce":7,"subject":"3Fkq…=","category":"pd:Location",
//!   "purpose":"dpv:PersonalisedAdvertising","legal_basis":"dpv:Consent","consent":12,"price":3}}
//! ```

mod body;
pub mod canonical;
mod leaf;
pub mod signature;
pub mod vocab;

pub use body::{
    Access, Body, BodyKind, Claim, Deposit, EnrollSubject, Genesis, GrantConsent, PayoutSettled,
    RegisterAccessor, RevokeConsent, StateRoot, WitnessKey,
};
pub use canonical::MAX_BODY_LEN;
pub use leaf::{LEAF_HEADER_LEN, LEAF_VERSION, Leaf, LeafError, MAX_LEAF_LEN};
pub use signature::{
    KeyError, SignatureError, SignedMessage, check_account_key, sign_body, verify_batch,
    verify_leaf, verify_leaves, verify_signature, verify_strict,
};
pub use vocab::{DataCategory, LegalBasis, Purpose};

/// Why body bytes are not a body.
///
/// Not `Clone` or `PartialEq`: [`BodyError::Undecodable`] keeps bincode's own error, which is
/// neither, so that a caller can walk the source chain to the decoder's exact complaint.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// More bytes than any body may have.
    #[error("body of {len} bytes exceeds the {max}-byte limit")]
    TooLarge { len: usize, max: usize },
    /// bincode could not decode the bytes; its error is the source.
    #[error("body does not decode: {0}")]
    Undecodable(#[source] bincode::error::DecodeError),
    /// The bytes are not of a format this code reads (an unknown version byte, nothing at all).
    #[error("body does not decode: {0}")]
    Malformed(String),
    /// A body decoded but bytes were left over.
    #[error("{extra} trailing bytes after the body")]
    TrailingBytes { extra: usize },
    /// The bytes decode, but are not the body's one canonical encoding.
    #[error("body is not canonically encoded (e.g. a non-minimal integer)")]
    NotCanonical,
}

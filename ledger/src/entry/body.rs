//! Entry bodies: what an entry says, before it is signed and sequenced (DESIGN §4).
//!
//! A body's signed form is its canonical bincode encoding ([`super::canonical`]). Fields use only
//! integers, strings, fixed byte arrays, `Option` and `Vec`: no maps, no floats, so every body has
//! exactly one byte string. Money is an integer count of the currency's minor units.

use serde::{Deserialize, Serialize};

use super::vocab::{DataCategory, LegalBasis, Purpose};
pub use crate::checkpoint::WitnessKey;
use crate::hash::Hash;
use crate::keys::PublicKey;

/// The first leaf of every log: its parameters, signed by the log key it names.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Genesis {
    /// The operator's first nonce (usually 0).
    pub nonce: u64,
    /// The log's name, which every entry signature and checkpoint covers.
    pub origin: String,
    /// The operator's log key: signs checkpoints, operator entries and `StateRoot`s.
    pub log_key: PublicKey,
    /// The operator's fee on every paid access, in basis points (1/100 of a percent).
    pub fee_bps: u16,
    /// ISO 4217 code of the currency, e.g. `EUR`.
    pub currency: String,
    /// Minor units per major unit as a power of ten (2 for cents).
    pub decimals: u8,
    /// The witnesses whose cosignatures count.
    pub witnesses: Vec<WitnessKey>,
    /// How many of `witnesses` must cosign for a checkpoint to be witnessed.
    pub quorum: u16,
    /// Keys of the regulators, who may read everything.
    pub regulators: Vec<PublicKey>,
    /// Salt of the operator's own account record in the state map.
    #[serde(with = "crate::keys::fixed_bytes")]
    pub operator_salt: [u8; 32],
}

/// Creates a subject (customer) account for a wallet key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrollSubject {
    /// The operator's nonce.
    pub nonce: u64,
    /// The subject's wallet key.
    pub subject: PublicKey,
    /// Random salt of the subject's map record, so map proofs reveal nothing about neighbours.
    #[serde(with = "crate::keys::fixed_bytes")]
    pub salt: [u8; 32],
}

/// Creates an accessor (data buyer) account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterAccessor {
    /// The operator's nonce.
    pub nonce: u64,
    /// The accessor's key.
    pub accessor: PublicKey,
    /// Name shown to subjects, e.g. `Acme Ads Ltd`.
    pub display_name: String,
    /// Legal entity identifier (LEI or national register number).
    pub legal_entity_id: String,
    /// Random salt of the accessor's map record.
    #[serde(with = "crate::keys::fixed_bytes")]
    pub salt: [u8; 32],
}

/// Credits an accessor with funds the operator received off-ledger.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deposit {
    /// The operator's nonce.
    pub nonce: u64,
    /// The accessor credited (the operator's own key for its own accesses).
    pub accessor: PublicKey,
    /// Amount in minor units.
    pub amount: u64,
    /// The operator's reference for the incoming payment.
    pub reference: String,
}

/// A subject's consent: who may use which data for what, at what price, and when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantConsent {
    /// The subject's nonce.
    pub nonce: u64,
    /// The accessor allowed, or `None` for any registered accessor.
    pub accessor: Option<PublicKey>,
    /// Data categories covered (at least one).
    pub categories: Vec<DataCategory>,
    /// Purposes covered (at least one).
    pub purposes: Vec<Purpose>,
    /// Minimum price per access, in minor units.
    pub price: u64,
    /// Start of validity, Unix milliseconds (compared with `sequenced_at`).
    pub valid_from: u64,
    /// End of validity (exclusive), Unix milliseconds; `None` for open-ended.
    pub valid_until: Option<u64>,
}

/// Ends a grant from the next entry on. Consents are named by the index of their grant leaf.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevokeConsent {
    /// The subject's nonce.
    pub nonce: u64,
    /// Index of the `GrantConsent` leaf.
    pub consent: u64,
}

/// One use of one subject's data, by an accessor or by the operator itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Access {
    /// The accessor's nonce.
    pub nonce: u64,
    /// Whose data.
    pub subject: PublicKey,
    /// Which data.
    pub category: DataCategory,
    /// What for.
    pub purpose: Purpose,
    /// On what lawful basis.
    pub legal_basis: LegalBasis,
    /// Index of the `GrantConsent` leaf; required exactly when `legal_basis` is consent.
    pub consent: Option<u64>,
    /// Price paid, in minor units (at least the consent's price).
    pub price: u64,
}

/// A subject moves earned funds to "payout pending".
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claim {
    /// The subject's nonce.
    pub nonce: u64,
    /// Amount in minor units.
    pub amount: u64,
    /// Hash of the payout instructions held off-ledger (never an IBAN in the clear).
    pub payout_ref: Hash,
}

/// The operator closes a claim: the money has left.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayoutSettled {
    /// The operator's nonce.
    pub nonce: u64,
    /// Index of the `Claim` leaf.
    pub claim: u64,
    /// The operator's settlement reference.
    pub settlement_ref: String,
}

/// Commits the state after every leaf before this one (DESIGN §6).
///
/// Written by the sequencer, not submitted: it carries no nonce, and `as_of` equals its own
/// leaf index, which makes it unique.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateRoot {
    /// Number of leaves committed: the state after leaves `0..as_of`.
    pub as_of: u64,
    /// Root of the state map at that point.
    pub map_root: Hash,
}

/// Every kind of entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Body {
    /// See [`Genesis`].
    Genesis(Genesis),
    /// See [`EnrollSubject`].
    EnrollSubject(EnrollSubject),
    /// See [`RegisterAccessor`].
    RegisterAccessor(RegisterAccessor),
    /// See [`Deposit`].
    Deposit(Deposit),
    /// See [`GrantConsent`].
    GrantConsent(GrantConsent),
    /// See [`RevokeConsent`].
    RevokeConsent(RevokeConsent),
    /// See [`Access`].
    Access(Access),
    /// See [`Claim`].
    Claim(Claim),
    /// See [`PayoutSettled`].
    PayoutSettled(PayoutSettled),
    /// See [`StateRoot`].
    StateRoot(StateRoot),
}

/// The kind of a body, without its fields: for metrics, reports and error messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BodyKind {
    /// `Genesis`.
    Genesis,
    /// `EnrollSubject`.
    EnrollSubject,
    /// `RegisterAccessor`.
    RegisterAccessor,
    /// `Deposit`.
    Deposit,
    /// `GrantConsent`.
    GrantConsent,
    /// `RevokeConsent`.
    RevokeConsent,
    /// `Access`.
    Access,
    /// `Claim`.
    Claim,
    /// `PayoutSettled`.
    PayoutSettled,
    /// `StateRoot`.
    StateRoot,
}

impl BodyKind {
    /// Every kind, in wire order.
    pub const ALL: [BodyKind; 10] = [
        BodyKind::Genesis,
        BodyKind::EnrollSubject,
        BodyKind::RegisterAccessor,
        BodyKind::Deposit,
        BodyKind::GrantConsent,
        BodyKind::RevokeConsent,
        BodyKind::Access,
        BodyKind::Claim,
        BodyKind::PayoutSettled,
        BodyKind::StateRoot,
    ];

    /// A stable snake_case name, e.g. `grant_consent`.
    pub fn as_str(self) -> &'static str {
        match self {
            BodyKind::Genesis => "genesis",
            BodyKind::EnrollSubject => "enroll_subject",
            BodyKind::RegisterAccessor => "register_accessor",
            BodyKind::Deposit => "deposit",
            BodyKind::GrantConsent => "grant_consent",
            BodyKind::RevokeConsent => "revoke_consent",
            BodyKind::Access => "access",
            BodyKind::Claim => "claim",
            BodyKind::PayoutSettled => "payout_settled",
            BodyKind::StateRoot => "state_root",
        }
    }
}

impl std::fmt::Display for BodyKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Body {
    /// The body's kind.
    pub fn kind(&self) -> BodyKind {
        match self {
            Body::Genesis(_) => BodyKind::Genesis,
            Body::EnrollSubject(_) => BodyKind::EnrollSubject,
            Body::RegisterAccessor(_) => BodyKind::RegisterAccessor,
            Body::Deposit(_) => BodyKind::Deposit,
            Body::GrantConsent(_) => BodyKind::GrantConsent,
            Body::RevokeConsent(_) => BodyKind::RevokeConsent,
            Body::Access(_) => BodyKind::Access,
            Body::Claim(_) => BodyKind::Claim,
            Body::PayoutSettled(_) => BodyKind::PayoutSettled,
            Body::StateRoot(_) => BodyKind::StateRoot,
        }
    }

    /// The signer's nonce, or `None` for a `StateRoot` (unique by its `as_of`).
    pub fn nonce(&self) -> Option<u64> {
        match self {
            Body::Genesis(b) => Some(b.nonce),
            Body::EnrollSubject(b) => Some(b.nonce),
            Body::RegisterAccessor(b) => Some(b.nonce),
            Body::Deposit(b) => Some(b.nonce),
            Body::GrantConsent(b) => Some(b.nonce),
            Body::RevokeConsent(b) => Some(b.nonce),
            Body::Access(b) => Some(b.nonce),
            Body::Claim(b) => Some(b.nonce),
            Body::PayoutSettled(b) => Some(b.nonce),
            Body::StateRoot(_) => None,
        }
    }

    /// The canonical bytes of this body: what is signed and what the leaf carries.
    pub fn to_bytes(&self) -> Vec<u8> {
        super::canonical::encode(self)
    }

    /// Decodes canonical body bytes.
    ///
    /// # Errors
    /// [`super::BodyError`] if the bytes are not the one canonical encoding of a body.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, super::BodyError> {
        super::canonical::decode(bytes)
    }
}

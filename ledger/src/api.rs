//! Wire types of the HTTP API (DESIGN §7, normative shapes), shared by node, wallet and audit
//! tool so the three cannot drift. Hashes, keys and byte strings are standard base64 in JSON.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};

use crate::entry::WitnessKey;
use crate::hash::Hash;
use crate::keys::PublicKey;

pub use crate::batch::{BatchFramingError, decode_binary_batch, encode_binary_batch};
pub use crate::error_code::{ErrorCode, UnknownErrorCode};

/// A byte string that is standard base64 in JSON.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Bytes(pub Vec<u8>);

impl std::fmt::Debug for Bytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Bytes({} bytes)", self.0.len())
    }
}

impl Serialize for Bytes {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&BASE64.encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        BASE64
            .decode(text.as_bytes())
            .map(Bytes)
            .map_err(|_| serde::de::Error::custom("invalid base64"))
    }
}

/// `GET /v1/log`: the log's parameters, as in its `Genesis`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogInfo {
    /// The log's name.
    pub origin: String,
    /// The log (operator) key.
    pub log_key: PublicKey,
    /// Witnesses whose cosignatures count.
    pub witnesses: Vec<WitnessKey>,
    /// Cosignatures needed for a checkpoint to be witnessed.
    pub quorum: u16,
    /// ISO 4217 currency code.
    pub currency: String,
    /// Minor units per major unit, as a power of ten.
    pub decimals: u8,
    /// Operator fee in basis points.
    pub fee_bps: u16,
    /// Leaf 0's bytes, so a client can check all of the above against the log itself.
    pub genesis_leaf: Bytes,
}

/// `GET /v1/proof/inclusion?index=I&size=N`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InclusionProof {
    /// Leaf index.
    pub index: u64,
    /// Tree size the proof is for.
    pub size: u64,
    /// Hash of the leaf at `index`.
    pub leaf_hash: Hash,
    /// RFC 9162 audit path, leaf to root.
    pub path: Vec<Hash>,
}

/// `GET /v1/proof/consistency?from=M&to=N`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsistencyProof {
    /// The smaller tree size.
    pub from: u64,
    /// The larger tree size.
    pub to: u64,
    /// RFC 9162 consistency path.
    pub path: Vec<Hash>,
}

/// One leaf with its index.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexedLeaf {
    /// Leaf index.
    pub index: u64,
    /// The leaf bytes.
    pub leaf: Bytes,
}

/// `GET /v1/entries?start=S&end=E` (end exclusive, capped per response).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entries {
    /// The leaves, in index order.
    pub entries: Vec<IndexedLeaf>,
}

/// What a submission waits for before it is answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Wait {
    /// Durable on disk, with its index.
    #[default]
    Sequenced,
    /// Covered by a signed checkpoint, with an inclusion proof.
    Checkpointed,
    /// Covered by a checkpoint cosigned by the witness quorum.
    Witnessed,
}

impl Wait {
    /// The query-string word.
    pub fn as_str(self) -> &'static str {
        match self {
            Wait::Sequenced => "sequenced",
            Wait::Checkpointed => "checkpointed",
            Wait::Witnessed => "witnessed",
        }
    }
}

/// `POST /v1/entries` body: one entry or a batch, envelopes with `sequenced_at` zero.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Submission {
    /// `{"leaf": ..}`.
    One {
        /// The signed leaf.
        leaf: Bytes,
    },
    /// `{"leaves": [..]}`.
    Batch {
        /// The signed leaves.
        leaves: Vec<Bytes>,
    },
}

/// The answer for one sequenced entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sequenced {
    /// The entry's leaf index.
    pub index: u64,
    /// The time the sequencer stamped, Unix ms.
    pub sequenced_at: u64,
    /// The leaf hash (of the stamped envelope).
    pub leaf_hash: Hash,
    /// `true` if this was an identical resubmission of an entry already in the log.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub duplicate: bool,
    /// With `wait=checkpointed` or `witnessed`: the checkpoint note covering the entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<String>,
    /// With `wait=checkpointed` or `witnessed`: the inclusion proof against that checkpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inclusion: Option<InclusionProof>,
}

/// One result of a batch submission: sequenced, or refused with an error.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum BatchResult {
    /// Sequenced.
    Ok(Sequenced),
    /// Refused; nothing was appended for this entry.
    Err {
        /// Why.
        error: ErrorBody,
    },
}

/// The answer to a batch submission, one result per submitted leaf, in order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BatchResponse {
    /// Results in submission order.
    pub results: Vec<BatchResult>,
}

/// Every error answer: `{"code", "message", "details"}` with a stable snake_case `code`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Stable machine-readable code, e.g. `insufficient_funds`.
    pub code: String,
    /// One human sentence.
    pub message: String,
    /// Structured data to fix the request (the rejection's fields), or `null`.
    #[serde(default)]
    pub details: serde_json::Value,
}

/// `GET /v1/accounts/{key}`: the account's record as committed by the latest checkpoint's
/// `StateRoot`, with its map proof, and the live nonce for building the next entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountProof {
    /// The account.
    pub key: PublicKey,
    /// Size of the checkpoint whose last leaf is the `StateRoot` the proof is against.
    pub checkpoint_size: u64,
    /// The record bytes committed in the map (`None`: not in the map at that checkpoint).
    pub record: Option<Bytes>,
    /// The map proof (`MapProof::to_bytes`, versioned wire format) against the `StateRoot`'s
    /// `map_root`.
    pub map_proof: Bytes,
    /// The nonce the account's next entry must use (above every nonce it has used), from the
    /// live state; not covered by the proof.
    pub next_nonce: u64,
}

/// One leaf of an account's history with its inclusion proof.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// The leaf bytes.
    pub leaf: Bytes,
    /// Its inclusion proof against the checkpoint of [`History::checkpoint_size`].
    pub inclusion: InclusionProof,
}

/// `GET /v1/accounts/{key}/history?from=N`: the account's leaves from its `N`th (0-based, in
/// history order), each with a proof against the latest checkpoint; capped per response.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct History {
    /// The account.
    pub key: PublicKey,
    /// The checkpoint size the proofs are for.
    pub checkpoint_size: u64,
    /// Position of the first entry in the account's history.
    pub from: u64,
    /// The leaves, in history order.
    pub entries: Vec<HistoryEntry>,
    /// Where the next page starts, if the cap cut this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<u64>,
}

/// One consent grant, named by the index of its `GrantConsent` leaf.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentView {
    /// Index of the grant leaf.
    pub index: u64,
    /// The granting subject.
    pub subject: PublicKey,
    /// The accessor allowed, or `None` for any accessor.
    pub accessor: Option<PublicKey>,
    /// Categories covered (DPV terms).
    pub categories: Vec<crate::entry::DataCategory>,
    /// Purposes covered (DPV terms).
    pub purposes: Vec<crate::entry::Purpose>,
    /// Minimum price per access.
    pub price: u64,
    /// Start of validity, Unix ms.
    pub valid_from: u64,
    /// End of validity (exclusive), Unix ms.
    pub valid_until: Option<u64>,
    /// Index of the revoking leaf, if revoked.
    pub revoked_at: Option<u64>,
}

/// `GET /v1/accounts/{key}/consents`: the grants the account made (a subject) or that name it or
/// any accessor (an accessor), live state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consents {
    /// The grants, by index.
    pub consents: Vec<ConsentView>,
}

/// `GET /healthz`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// `ok`, or `failed` once the write path has stopped.
    pub status: String,
    /// Leaves in the latest checkpoint.
    pub checkpoint_size: u64,
}

//! Wire types of the HTTP API (DESIGN §7, normative shapes), shared by node, wallet and audit
//! tool so the three cannot drift. Hashes, keys and byte strings are standard base64 in JSON.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD as BASE64, URL_SAFE_NO_PAD};
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

impl LogInfo {
    /// The answer for a log with these parameters and genesis leaf: the one place that maps the
    /// state's [`crate::state::LogParams`] to the wire, so a node's answer and a client's
    /// expectation (`verify_genesis`, then compare) cannot drift.
    pub fn new(params: &crate::state::LogParams, genesis_leaf: Vec<u8>) -> Self {
        Self {
            origin: params.origin.clone(),
            log_key: params.log_key,
            witnesses: params.witnesses.clone(),
            quorum: params.quorum,
            currency: params.currency.clone(),
            decimals: params.decimals,
            fee_bps: params.fee_bps,
            genesis_leaf: Bytes(genesis_leaf),
        }
    }
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

/// `GET /v1/accounts/{key}?size=N`: the account's record as committed by the `StateRoot` that
/// closes the checkpoint of size `N` (the latest by default), with everything a client needs to
/// verify it from that checkpoint alone (DESIGN §8): the `StateRoot` leaf, its inclusion proof,
/// and the map proof. The answer depends only on the key and the checkpoint, so every node that
/// holds the log (the primary and each witness) gives the same bytes.
///
/// An account that is not in the map has `record: null` and a non-inclusion proof.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountProof {
    /// The account.
    pub key: PublicKey,
    /// Size of the checkpoint whose last leaf is the `StateRoot` the proof is against.
    pub checkpoint_size: u64,
    /// That `StateRoot` leaf (index `checkpoint_size - 1`) with its inclusion proof in the
    /// checkpoint's tree.
    pub state_root: StateRootProof,
    /// The record bytes committed in the map (`None`: not in the map at that checkpoint).
    pub record: Option<Bytes>,
    /// The map proof (`MapProof::to_bytes`, versioned wire format) against the `StateRoot`'s
    /// `map_root`: inclusion of `record`, or non-inclusion when it is `None`.
    pub map_proof: Bytes,
}

/// A checkpoint's closing `StateRoot` leaf and its inclusion proof.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateRootProof {
    /// The leaf bytes.
    pub leaf: Bytes,
    /// Its inclusion proof (`index = size - 1`) against the checkpoint of that size.
    pub inclusion: InclusionProof,
}

/// `GET /v1/accounts/{key}/nonce`: the nonce the account's next entry must carry (above every
/// nonce it has used), from the node's live state. Not covered by any proof: a client that gets
/// a wrong one only has its entry refused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NextNonce {
    /// The account.
    pub key: PublicKey,
    /// The nonce to use next.
    pub next_nonce: u64,
}

/// One stored checkpoint: its size and its note with every cosignature line the node holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointEntry {
    /// Tree size.
    pub size: u64,
    /// The signed note text (operator line, then cosignature lines).
    pub note: String,
}

/// `GET /v1/checkpoints?from=S`: the checkpoints the log has published with size at least `S`,
/// ascending, capped per page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointPage {
    /// The checkpoints, by size.
    pub checkpoints: Vec<CheckpointEntry>,
    /// The `from` of the next page, if the cap cut this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<u64>,
}

/// One claim, named by the index of its `Claim` leaf.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimView {
    /// Index of the claim leaf (what `PayoutSettled.claim` names).
    pub index: u64,
    /// The claim as the state holds it.
    #[serde(flatten)]
    pub claim: crate::state::ClaimRecord,
}

/// `GET /v1/claims/pending?from=I` (operator, witnesses, regulators): the claims not yet
/// settled with index at least `I`, ascending, capped per page; live state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingClaims {
    /// The claims, by index.
    pub claims: Vec<ClaimView>,
    /// The `from` of the next page, if the cap cut this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<u64>,
}

/// An account key as a path segment: URL-safe base64 without padding (RFC 4648 §5), so that
/// nothing in it needs percent-encoding (proxies rewrite `%2F`, and the path is signed).
pub fn key_segment(key: &PublicKey) -> String {
    URL_SAFE_NO_PAD.encode(key.as_bytes())
}

/// Parses [`key_segment`]'s form, and only that form.
pub fn parse_key_segment(text: &str) -> Option<PublicKey> {
    let bytes = URL_SAFE_NO_PAD.decode(text.as_bytes()).ok()?;
    Some(PublicKey(bytes.try_into().ok()?))
}

/// One leaf of an account's history with its inclusion proof.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// The leaf bytes.
    pub leaf: Bytes,
    /// Its inclusion proof against the checkpoint of [`History::checkpoint_size`].
    pub inclusion: InclusionProof,
}

/// `GET /v1/accounts/{key}/history?from=N&size=M`: the account's leaves from its `N`th (0-based,
/// in history order) among those below `M` (the latest checkpoint's size by default), each with
/// a proof against the checkpoint of size `M`; capped per response.
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
///
/// The grant is the state's own [`Consent`](crate::state::Consent), flattened, so the API cannot
/// drift from what the state holds; the JSON is one flat object: `index`, then the grant's fields
/// (`subject`, `accessor`, `categories`, `purposes`, `price`, `valid_from`, `valid_until`,
/// `revoked_at`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentView {
    /// Index of the grant leaf.
    pub index: u64,
    /// The grant as the state holds it, revocation included.
    #[serde(flatten)]
    pub consent: crate::state::Consent,
}

/// `GET /v1/accounts/{key}/consents?from=I`: the grants the account made (a subject) or that
/// name it or any accessor (an accessor), with index at least `I`, as of the latest `StateRoot`;
/// capped per response.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consents {
    /// The grants, by index.
    pub consents: Vec<ConsentView>,
    /// The `from` of the next page, if the cap cut this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<u64>,
}

/// `GET /healthz`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// `ok`, or `failed` once the write path has stopped.
    pub status: String,
    /// Leaves in the latest checkpoint.
    pub checkpoint_size: u64,
}

//! An account's record against a `StateRoot` leaf: the step of the wallet's chain of trust
//! (DESIGN §6) between "this leaf is in a witnessed checkpoint" and "this is my whole history".

use crate::entry::{Body, Leaf, verify_leaf};
use crate::keys::PublicKey;
use crate::map::MapProof;
use crate::state::AccountRecord;

use super::MapProofError;

/// Why an account's record could not be verified against a `StateRoot` leaf.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AccountProofError {
    /// The leaf bytes are not a leaf, or its body is not a body.
    #[error("the state-root leaf is malformed: {0}")]
    MalformedLeaf(String),
    /// The leaf is another kind of entry.
    #[error("leaf is a {kind}, not a state_root")]
    NotAStateRoot {
        /// What it is instead.
        kind: &'static str,
    },
    /// The leaf is not signed by the log key.
    #[error("the state-root leaf is not signed by the log key")]
    NotSignedByLogKey,
    /// The map proof does not hold against the leaf's map root.
    #[error("map proof: {0}")]
    Map(#[from] MapProofError),
    /// The proven value is not an account record.
    #[error("the proven value is not an account record: {0}")]
    MalformedRecord(String),
}

/// Verifies `record` (or its absence, with `None`) for `account` against the map root committed
/// by `state_root_leaf`, a `StateRoot` leaf of the log `origin` signed by `log_key`. The caller
/// separately checks that the leaf is included in a checkpoint it trusts (its index and
/// inclusion proof) — the record is the state after leaves `0..as_of`.
///
/// Returns the decoded record and the `StateRoot`'s `as_of`.
///
/// # Errors
/// An [`AccountProofError`] saying which link of the chain fails.
pub fn verify_account_at_state_root(
    state_root_leaf: &[u8],
    origin: &str,
    log_key: &PublicKey,
    account: &PublicKey,
    record: Option<&[u8]>,
    proof: &MapProof,
) -> Result<(Option<AccountRecord>, u64), AccountProofError> {
    let leaf = Leaf::from_bytes(state_root_leaf)
        .map_err(|e| AccountProofError::MalformedLeaf(e.to_string()))?;
    let body = leaf
        .decode_body()
        .map_err(|e| AccountProofError::MalformedLeaf(e.to_string()))?;
    let Body::StateRoot(root) = body else {
        return Err(AccountProofError::NotAStateRoot {
            kind: body.kind().as_str(),
        });
    };
    if leaf.signer != *log_key || verify_leaf(origin, &leaf).is_err() {
        return Err(AccountProofError::NotSignedByLogKey);
    }
    super::verify_account_proof(&root.map_root, account, record, proof)?;
    let decoded = record
        .map(AccountRecord::from_bytes)
        .transpose()
        .map_err(|e| AccountProofError::MalformedRecord(e.to_string()))?;
    Ok((decoded, root.as_of))
}

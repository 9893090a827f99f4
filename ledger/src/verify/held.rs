//! An account history held across several checkpoints, re-checked offline (DESIGN §8).
//!
//! A wallet that syncs incrementally proves each new leaf in the checkpoint it trusted at that
//! sync, so its history is proven in several trees. It keeps, besides the latest trusted
//! checkpoint, every older checkpoint that holds one of its leaves, each with an RFC 6962
//! consistency proof to the next one kept (the last one's to the latest):
//!
//! ```text
//! kept[0] ─consistency─▶ kept[1] ─consistency─▶ … ─consistency─▶ latest (record proven here)
//!   ▲ leaves 3, 9          ▲ leaf 40                               ▲ leaves 57, 58
//! ```
//!
//! [`verify_held_history`] accepts it iff every kept note is signed by the log key and cosigned
//! by the quorum, the sizes grow and stay below the latest, every consistency proof holds, every
//! kept checkpoint proves at least one leaf (so the checkpoints kept never outnumber the
//! leaves), and the leaves, each included in the checkpoint its proof names, are the complete
//! history the latest record commits to (the rules of [`super::verify_history`]). Every tree is
//! then a prefix of the latest, so a leaf included in one is included in the latest.

use serde::{Deserialize, Serialize};

use crate::api::HistoryEntry;
use crate::checkpoint::QuorumError;
use crate::hash::{Blake3, Hash, TreeHasher};
use crate::state::LogParams;

use super::history::Chain;
use super::{
    HeldHistory, HistoryError, ProofError, TreeHead, VerifiedAccount, VerifiedEntry,
    verify_consistency, verify_log_checkpoint,
};

/// An older trusted checkpoint kept because it proves leaves of the history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeptCheckpoint {
    /// The checkpoint note as received, cosignature lines included.
    pub note: String,
    /// RFC 6962 consistency proof from this checkpoint to the next one kept, or to the latest.
    pub consistency: Vec<Hash>,
}

/// Why a held history is not the one the latest record commits to.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HeldError {
    /// A kept note is not signed by the log key or lacks the quorum.
    #[error("kept checkpoint {position}: {error}")]
    Checkpoint {
        /// Its position among the kept checkpoints.
        position: usize,
        /// What failed.
        error: QuorumError,
    },
    /// The kept checkpoints do not grow strictly towards the latest one.
    #[error("kept checkpoint {position} has size {size}, not above {previous} and below {latest}")]
    Order {
        /// Its position among the kept checkpoints.
        position: usize,
        /// Its size.
        size: u64,
        /// The size before it (0 for the first).
        previous: u64,
        /// The latest checkpoint's size.
        latest: u64,
    },
    /// A consistency proof between two kept checkpoints (or the last and the latest) fails.
    #[error("the consistency proof from size {from} to size {to} fails: {error}")]
    Inconsistent {
        /// The older size.
        from: u64,
        /// The newer size.
        to: u64,
        /// What the check found.
        error: ProofError,
    },
    /// A leaf is proven in a checkpoint that is neither kept nor the latest.
    #[error("leaf {index} is proven in a checkpoint of size {size}, which is not held")]
    UnknownCheckpoint {
        /// The leaf's index.
        index: u64,
        /// The size its proof names.
        size: u64,
    },
    /// A kept checkpoint proves no leaf: it should not have been kept.
    #[error("kept checkpoint of size {size} proves no leaf of the history")]
    Unused {
        /// Its size.
        size: u64,
    },
    /// A leaf's stated hash is not the hash of its bytes.
    #[error("the leaf at index {index} is held with another leaf's hash")]
    LeafHashMismatch {
        /// The leaf's index.
        index: u64,
    },
    /// The leaves are not the committed history.
    #[error(transparent)]
    History(HistoryError),
}

/// Verifies `entries` as `account`'s complete history, each leaf proven in the checkpoint its
/// inclusion proof names: one of `kept` (older checkpoints, each proven consistent with the
/// next and the last with `account`'s) or `account`'s own. Returns the verified leaves and the
/// history to resume from at the next sync.
///
/// # Errors
/// The first [`HeldError`] found: the kept checkpoints first, then the leaves in order.
pub fn verify_held_history(
    log: &LogParams,
    account: &VerifiedAccount,
    kept: &[KeptCheckpoint],
    entries: &[HistoryEntry],
) -> Result<(Vec<VerifiedEntry>, HeldHistory), HeldError> {
    let latest = account.tree();
    let trees = kept_trees(log, latest, kept)?;
    let mut used = vec![false; trees.len()];
    let mut chain = Chain::new(account.key, account.as_of, latest);
    let mut verified = Vec::with_capacity(entries.len());
    for entry in entries {
        let proof = &entry.inclusion;
        let tree = if proof.size == latest.size {
            latest
        } else {
            let position = trees
                .binary_search_by_key(&proof.size, |t| t.size)
                .map_err(|_| HeldError::UnknownCheckpoint {
                    index: proof.index,
                    size: proof.size,
                })?;
            used[position] = true;
            trees[position]
        };
        if proof.leaf_hash != Blake3.hash_leaf(&entry.leaf.0) {
            return Err(HeldError::LeafHashMismatch { index: proof.index });
        }
        verified.push(
            chain
                .push_in(&tree, proof.index, &entry.leaf.0, &proof.path)
                .map_err(HeldError::History)?,
        );
    }
    if let Some(position) = used.iter().position(|u| !u) {
        return Err(HeldError::Unused {
            size: trees[position].size,
        });
    }
    chain
        .finish(&account.commitment())
        .map_err(HeldError::History)?;
    Ok((verified, chain.held()))
}

/// The kept checkpoints' trees, each verified (note, quorum, order) and proven consistent with
/// the next, the last with `latest`.
fn kept_trees(
    log: &LogParams,
    latest: TreeHead,
    kept: &[KeptCheckpoint],
) -> Result<Vec<TreeHead>, HeldError> {
    let mut trees = Vec::with_capacity(kept.len());
    for (position, k) in kept.iter().enumerate() {
        let (checkpoint, _) = verify_log_checkpoint(k.note.as_bytes(), log)
            .map_err(|error| HeldError::Checkpoint { position, error })?;
        let previous = trees.last().map_or(0, |t: &TreeHead| t.size);
        let size = checkpoint.size();
        if size <= previous || size >= latest.size {
            return Err(HeldError::Order {
                position,
                size,
                previous,
                latest: latest.size,
            });
        }
        trees.push(TreeHead {
            size,
            root: *checkpoint.root(),
        });
    }
    for (position, k) in kept.iter().enumerate() {
        let from = trees[position];
        let to = trees.get(position + 1).copied().unwrap_or(latest);
        verify_consistency(
            &Blake3,
            from.size,
            to.size,
            &from.root,
            &to.root,
            &k.consistency,
        )
        .map_err(|error| HeldError::Inconsistent {
            from: from.size,
            to: to.size,
            error,
        })?;
    }
    Ok(trees)
}

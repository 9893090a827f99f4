//! Evidence of a split view: two checkpoints the operator signed that cannot both be true.
//!
//! Evidence is checked offline with nothing but the log's origin and key, so a witness can gossip
//! it and anyone — a wallet, the regulator's audit tool — can confirm that the operator signed
//! conflicting histories. The notes are kept as the exact text received, since their signatures
//! cover those bytes.
//!
//! JSON file form (hashes in standard base64):
//!
//! ```text
//! {"kind": "split_view", "first": "<note>", "second": "<note>"}
//! {"kind": "fork", "first": "<note>", "second": "<note>", "index": 3,
//!  "first_leaf": {"leaf_hash": "...", "proof": ["...", ...]},
//!  "second_leaf": {"leaf_hash": "...", "proof": ["...", ...]}}
//! ```

use std::fmt;

use super::note::verify_checkpoint;
use super::{Checkpoint, CheckpointError};
use crate::hash::{Blake3, Hash};
use crate::keys::PublicKey;
use crate::verify::{ProofError, verify_inclusion};

/// Two validly signed checkpoints of one log that no single append-only history can produce.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Evidence {
    /// Two checkpoints of the same size with different roots.
    SplitView {
        /// A checkpoint note, exactly as received.
        first: String,
        /// Another checkpoint note of the same size, exactly as received.
        second: String,
    },
    /// Two checkpoints whose trees hold different leaves at the same index, so neither tree
    /// extends the other (whatever their sizes).
    Fork {
        /// A checkpoint note, exactly as received.
        first: String,
        /// Another checkpoint note, exactly as received.
        second: String,
        /// The leaf index where the trees differ; below both sizes.
        index: u64,
        /// The leaf at `index` in the first tree, with its inclusion proof.
        first_leaf: LeafProof,
        /// A different leaf at `index` in the second tree, with its inclusion proof.
        second_leaf: LeafProof,
    },
}

/// A leaf hash and its RFC 9162 inclusion proof (BLAKE3 tree).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LeafProof {
    /// `H(0x00 ‖ leaf_bytes)`.
    pub leaf_hash: Hash,
    /// The audit path, leaf to root.
    pub proof: Vec<Hash>,
}

/// Which of the two checkpoints in a piece of evidence an error is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Which {
    /// The `first` note.
    First,
    /// The `second` note.
    Second,
}

impl fmt::Display for Which {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Which::First => "first",
            Which::Second => "second",
        })
    }
}

/// Why a piece of evidence does not prove a split view.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EvidenceError {
    /// One of the notes is not a checkpoint validly signed by the log.
    #[error("{which} checkpoint: {source}")]
    Checkpoint {
        which: Which,
        source: CheckpointError,
    },
    /// Split-view evidence whose checkpoints have different sizes.
    #[error("split view needs equal sizes, got {first} and {second}")]
    SizesDiffer { first: u64, second: u64 },
    /// Split-view evidence whose checkpoints agree.
    #[error("both checkpoints of size {size} have the same root: no conflict")]
    SameRoot { size: u64 },
    /// Fork evidence showing the same leaf in both trees.
    #[error("both trees hold the same leaf at index {index}: no conflict")]
    SameLeaf { index: u64 },
    /// A leaf's inclusion proof does not hold against its checkpoint.
    #[error("{which} leaf proof: {source}")]
    Inclusion { which: Which, source: ProofError },
}

impl Evidence {
    /// Verifies the evidence with only the log's origin and key.
    ///
    /// # Errors
    /// The [`EvidenceError`] saying which part fails to prove a conflict.
    pub fn verify(&self, origin: &str, log_key: &PublicKey) -> Result<(), EvidenceError> {
        match self {
            Evidence::SplitView { first, second } => {
                let (a, b) = both(first, second, origin, log_key)?;
                if a.size() != b.size() {
                    return Err(EvidenceError::SizesDiffer {
                        first: a.size(),
                        second: b.size(),
                    });
                }
                if a.root() == b.root() {
                    return Err(EvidenceError::SameRoot { size: a.size() });
                }
                Ok(())
            }
            Evidence::Fork {
                first,
                second,
                index,
                first_leaf,
                second_leaf,
            } => {
                let (a, b) = both(first, second, origin, log_key)?;
                if first_leaf.leaf_hash == second_leaf.leaf_hash {
                    return Err(EvidenceError::SameLeaf { index: *index });
                }
                first_leaf.check(*index, &a, Which::First)?;
                second_leaf.check(*index, &b, Which::Second)
            }
        }
    }
}

impl LeafProof {
    fn check(
        &self,
        index: u64,
        checkpoint: &Checkpoint,
        which: Which,
    ) -> Result<(), EvidenceError> {
        let (size, root) = (checkpoint.size(), checkpoint.root());
        verify_inclusion(&Blake3, index, size, &self.leaf_hash, &self.proof, root)
            .map_err(|source| EvidenceError::Inclusion { which, source })
    }
}

fn both(
    first: &str,
    second: &str,
    origin: &str,
    log_key: &PublicKey,
) -> Result<(Checkpoint, Checkpoint), EvidenceError> {
    let check = |note: &str, which| {
        verify_checkpoint(note.as_bytes(), origin, log_key)
            .map_err(|source| EvidenceError::Checkpoint { which, source })
    };
    Ok((check(first, Which::First)?, check(second, Which::Second)?))
}

//! Verification of an account's history against its committed record (DESIGN §6).
//!
//! A wallet holds, from verified sources: a tree head (size and root, from a witnessed
//! checkpoint), the `StateRoot` leaf at index `as_of` inside it, and its own record proven
//! against that `StateRoot`'s map root, which gives `history_len` and `history_head` as of leaf
//! `as_of`. It is then given its history: leaves with their indices and inclusion proofs.
//! [`verify_history`] accepts the history iff
//!
//! 1. the indices strictly increase and are all below `as_of`;
//! 2. each leaf parses and is included at its index in the tree;
//! 3. each leaf involves the account (rules in [`crate::state::history`]; a `RevokeConsent` or
//!    `PayoutSettled` that involves it through an earlier grant or claim must find that leaf
//!    earlier in the same history);
//! 4. there are exactly `history_len` leaves, and chaining them
//!    (`head' = H(0x02 ‖ head ‖ index (8 BE) ‖ leaf_hash)` from 32 zero bytes) gives
//!    `history_head`.
//!
//! Then the history is complete and unaltered: a leaf left out, added or changed breaks the
//! count or the chain, and the error says which and where it was seen.

use std::collections::BTreeMap;

use crate::entry::{Body, Leaf};
use crate::hash::{Blake3, Hash, TreeHasher};
use crate::keys::PublicKey;
use crate::state::AccountRecord;
use crate::state::history::{EMPTY_HEAD, IndirectParty, direct_parties, extend_head};
use crate::verify::{ProofError, verify_inclusion};

/// An account's history as committed by its record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HistoryCommitment {
    /// Number of leaves involving the account.
    pub len: u64,
    /// Head of the chain over them.
    pub head: Hash,
}

impl HistoryCommitment {
    /// The commitment of an empty history.
    pub const EMPTY: Self = Self {
        len: 0,
        head: EMPTY_HEAD,
    };

    /// The commitment a (verified) record carries.
    pub fn of(record: &AccountRecord) -> Self {
        Self {
            len: record.history_len,
            head: record.history_head,
        }
    }
}

/// One claimed history leaf: its index, its bytes, and its inclusion proof.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryEntry {
    /// The leaf's index in the log.
    pub index: u64,
    /// The leaf bytes, as hashed into the tree.
    pub leaf: Vec<u8>,
    /// Inclusion proof of the leaf at `index` in the tree of the checkpoint.
    pub proof: Vec<Hash>,
}

/// The tree the history is proven against: a verified checkpoint's size and root.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TreeHead {
    /// Number of leaves.
    pub size: u64,
    /// Root hash (BLAKE3 tree).
    pub root: Hash,
}

/// A history leaf that passed every check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedEntry {
    /// Its index.
    pub index: u64,
    /// The envelope.
    pub leaf: Leaf,
    /// The decoded body.
    pub body: Body,
}

/// Why a claimed history is not the committed one.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HistoryError {
    /// Entry `position` does not come after the previous one in the log: reordered or repeated.
    #[error("entry {position} (index {index}) does not follow index {previous}")]
    Reordered {
        position: usize,
        index: u64,
        previous: u64,
    },
    /// A leaf at or after the `StateRoot` whose record is the commitment: it cannot be counted.
    #[error("index {index} is not before the committed state's as_of {as_of}")]
    BeyondCommitment { index: u64, as_of: u64 },
    /// The bytes given for this index are not a leaf with a canonical body.
    #[error("leaf at index {index} is malformed: {reason}")]
    Malformed { index: u64, reason: String },
    /// The log holds other bytes at this index (the inclusion proof leads elsewhere).
    #[error("leaf at index {index} is not the one the log holds")]
    Altered { index: u64 },
    /// The inclusion proof is unusable (wrong length, index outside the tree).
    #[error("inclusion proof for index {index} is invalid: {error}")]
    BadProof { index: u64, error: ProofError },
    /// A real leaf, but not one that involves this account.
    #[error("leaf at index {index} does not involve the account")]
    NotInvolved { index: u64 },
    /// More leaves than the record counts.
    #[error("{got_len} leaves given, the record counts {expected_len}")]
    Extra { expected_len: u64, got_len: u64 },
    /// Fewer leaves than the record counts: some are withheld. `after_index` is the last leaf
    /// given (none if none was), so a wallet can ask again from there.
    #[error(
        "{got_len} leaves given, the record counts {expected_len} (last given: {after_index:?})"
    )]
    Missing {
        after_index: Option<u64>,
        expected_len: u64,
        got_len: u64,
    },
    /// As many leaves as counted, but not the committed ones.
    #[error("history chains to {computed:?}, the record commits to {expected:?}")]
    HeadMismatch { expected: Hash, computed: Hash },
}

/// What an earlier leaf of the history tells about later ones (module docs, rule 3).
#[derive(Clone, Debug, PartialEq, Eq)]
enum Earlier {
    /// A grant by this account, or naming it as accessor.
    Grant { accessor: Option<PublicKey> },
    /// A claim signed by this account.
    Claim,
}

/// Verifies `entries` as the complete history of `account`, committed as `committed` by its
/// record at the `StateRoot` with index `as_of`, inside `tree`. Returns the verified leaves.
///
/// # Errors
/// The first [`HistoryError`] found, in the order of the module docs.
pub fn verify_history(
    account: &PublicKey,
    committed: &HistoryCommitment,
    as_of: u64,
    tree: &TreeHead,
    entries: &[HistoryEntry],
) -> Result<Vec<VerifiedEntry>, HistoryError> {
    let mut chain = Chain::new(*account, as_of, *tree);
    let verified = entries
        .iter()
        .map(|entry| chain.push(entry.index, &entry.leaf, &entry.proof))
        .collect::<Result<Vec<_>, _>>()?;
    chain.finish(committed)?;
    Ok(verified)
}

/// A prefix of an account's history that was verified earlier (every leaf included, involving
/// the account and in order): its length, its head, its last index, and the grants and claims
/// later leaves may refer to. A wallet keeps it to resume the chain with only the new leaves
/// (`verify::HistoryCursor::resume`); it is built only by verifying, never from stored bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeldHistory {
    pub(super) account: PublicKey,
    pub(super) head: Hash,
    len: u64,
    last_index: Option<u64>,
    earlier: BTreeMap<u64, Earlier>,
}

impl HeldHistory {
    /// The account whose history this is.
    pub fn account(&self) -> PublicKey {
        self.account
    }

    /// Length and head of the chain over the held leaves.
    pub fn commitment(&self) -> HistoryCommitment {
        HistoryCommitment {
            len: self.len,
            head: self.head,
        }
    }

    /// Index of the last held leaf (`None` for an empty history).
    pub fn last_index(&self) -> Option<u64> {
        self.last_index
    }
}

/// The history verified so far: what [`verify_history`] checks, one leaf at a time, so that a
/// history served in pages can be checked page by page (`verify::HistoryCursor`).
#[derive(Clone, Debug)]
pub(crate) struct Chain {
    account: PublicKey,
    as_of: u64,
    tree: TreeHead,
    head: Hash,
    len: u64,
    previous: Option<u64>,
    earlier: BTreeMap<u64, Earlier>,
}

impl Chain {
    pub(crate) fn new(account: PublicKey, as_of: u64, tree: TreeHead) -> Self {
        Self {
            account,
            as_of,
            tree,
            head: EMPTY_HEAD,
            len: 0,
            previous: None,
            earlier: BTreeMap::new(),
        }
    }

    /// Continues `held` towards the record at the `StateRoot` with index `as_of` in `tree`.
    pub(crate) fn resume(as_of: u64, tree: TreeHead, held: &HeldHistory) -> Self {
        Self {
            account: held.account,
            as_of,
            tree,
            head: held.head,
            len: held.len,
            previous: held.last_index,
            earlier: held.earlier.clone(),
        }
    }

    /// What has been chained so far, to resume from later.
    pub(crate) fn held(&self) -> HeldHistory {
        HeldHistory {
            account: self.account,
            head: self.head,
            len: self.len,
            last_index: self.previous,
            earlier: self.earlier.clone(),
        }
    }

    /// The account whose history this is.
    pub(crate) fn account(&self) -> PublicKey {
        self.account
    }

    /// Leaves chained so far.
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// Checks the next leaf of the history (rules 1–3 of the module docs) and chains it.
    pub(crate) fn push(
        &mut self,
        index: u64,
        leaf_bytes: &[u8],
        proof: &[Hash],
    ) -> Result<VerifiedEntry, HistoryError> {
        let tree = self.tree;
        self.push_in(&tree, index, leaf_bytes, proof)
    }

    /// [`Chain::push`] with the leaf's inclusion proven in `tree` instead: an earlier verified
    /// checkpoint, consistent with the chain's own tree (the caller checks that).
    pub(crate) fn push_in(
        &mut self,
        tree: &TreeHead,
        index: u64,
        leaf_bytes: &[u8],
        proof: &[Hash],
    ) -> Result<VerifiedEntry, HistoryError> {
        if let Some(previous) = self.previous
            && index <= previous
        {
            return Err(HistoryError::Reordered {
                position: usize::try_from(self.len).unwrap_or(usize::MAX),
                index,
                previous,
            });
        }
        if index >= self.as_of {
            return Err(HistoryError::BeyondCommitment {
                index,
                as_of: self.as_of,
            });
        }
        let leaf_hash = Blake3.hash_leaf(leaf_bytes);
        verify_inclusion(&Blake3, index, tree.size, &leaf_hash, proof, &tree.root).map_err(
            |error| match error {
                ProofError::RootMismatch { .. } => HistoryError::Altered { index },
                error => HistoryError::BadProof { index, error },
            },
        )?;
        let malformed = |reason: String| HistoryError::Malformed { index, reason };
        let leaf = Leaf::from_bytes(leaf_bytes).map_err(|e| malformed(e.to_string()))?;
        let body = leaf.decode_body().map_err(|e| malformed(e.to_string()))?;
        if !involves(&self.account, &leaf.signer, &body, &self.earlier) {
            return Err(HistoryError::NotInvolved { index });
        }
        match &body {
            Body::GrantConsent(g) => {
                self.earlier.insert(
                    index,
                    Earlier::Grant {
                        accessor: g.accessor,
                    },
                );
            }
            Body::Claim(_) if leaf.signer == self.account => {
                self.earlier.insert(index, Earlier::Claim);
            }
            _ => {}
        }
        self.head = extend_head(&self.head, index, &leaf_hash);
        self.len += 1;
        self.previous = Some(index);
        Ok(VerifiedEntry { index, leaf, body })
    }

    /// Checks that the leaves chained are exactly the committed history (rule 4).
    pub(crate) fn finish(&self, committed: &HistoryCommitment) -> Result<(), HistoryError> {
        if self.len > committed.len {
            return Err(HistoryError::Extra {
                expected_len: committed.len,
                got_len: self.len,
            });
        }
        if self.len < committed.len {
            return Err(HistoryError::Missing {
                after_index: self.previous,
                expected_len: committed.len,
                got_len: self.len,
            });
        }
        if self.head != committed.head {
            return Err(HistoryError::HeadMismatch {
                expected: committed.head,
                computed: self.head,
            });
        }
        Ok(())
    }
}

/// Whether a leaf involves `account`, resolving references through earlier history leaves.
fn involves(
    account: &PublicKey,
    signer: &PublicKey,
    body: &Body,
    earlier: &BTreeMap<u64, Earlier>,
) -> bool {
    let (parties, indirect) = direct_parties(signer, body);
    if parties.contains(account) {
        return true;
    }
    match indirect {
        Some(IndirectParty::GrantAccessor { consent }) => matches!(
            earlier.get(&consent),
            Some(Earlier::Grant { accessor: Some(a) }) if a == account
        ),
        Some(IndirectParty::ClaimSubject { claim }) => {
            matches!(earlier.get(&claim), Some(Earlier::Claim))
        }
        None => false,
    }
}

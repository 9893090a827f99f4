//! The wallet's whole chain of trust (DESIGN §8) from what an account may read, in two calls:
//!
//! ```text
//! checkpoint note ─ verify_account ─▶ operator signature and witness quorum
//!                                   ─▶ StateRoot leaf included as the checkpoint's last leaf
//!                                   ─▶ map proof of the record against its map_root
//!                                   ─▶ VerifiedAccount (record, history length and head)
//! history pages ─ HistoryCursor::push_page ─▶ each leaf included and involving the account,
//!                                            chained into the committed length and head
//! ```
//!
//! A wallet that already holds a verified prefix of its history ([`HeldHistory`]) resumes the
//! chain with [`HistoryCursor::resume`]: it asks only for the leaves after the held ones, proven
//! in the new checkpoint, and the held head extended by them must give the new record's head.
//!
//! Every failure carries its evidence: the checkpoint text and the answer exactly as received,
//! so a wallet can print it, save it, or hand it to an auditor.

use serde::Serialize;

use crate::api::{AccountProof, History};
use crate::checkpoint::{Checkpoint, Cosigner, QuorumError, verify_checkpoint, verify_witnessed};
use crate::hash::{Blake3, Hash, TreeHasher};
use crate::keys::PublicKey;
use crate::map::MapProof;
use crate::state::{AccountRecord, LogParams};

use super::history::Chain;
use super::{
    AccountProofError, HeldHistory, HistoryCommitment, HistoryError, MapProofError, ProofError,
    TreeHead, VerifiedEntry, verify_account_at_state_root, verify_inclusion,
};

/// An account's record, proven from a checkpoint the log's key signed and its quorum cosigned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedAccount {
    /// The account.
    pub key: PublicKey,
    /// The checkpoint the record is proven against.
    pub checkpoint: Checkpoint,
    /// The witnesses whose cosignatures counted (empty for a log without witnesses).
    pub cosigners: Vec<Cosigner>,
    /// Index of the `StateRoot` leaf; the record is the state after leaves `0..as_of`.
    pub as_of: u64,
    /// The record, or `None`: the account is proven absent.
    pub record: Option<AccountRecord>,
}

impl VerifiedAccount {
    /// The tree the record is proven in.
    pub fn tree(&self) -> TreeHead {
        TreeHead {
            size: self.checkpoint.size(),
            root: *self.checkpoint.root(),
        }
    }

    /// The history the record commits to (empty for an absent account).
    pub fn commitment(&self) -> HistoryCommitment {
        self.record
            .as_ref()
            .map_or(HistoryCommitment::EMPTY, HistoryCommitment::of)
    }
}

/// Which link of the chain an account answer breaks.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AccountError {
    /// The checkpoint is not signed by the log key or lacks the witness quorum.
    #[error("checkpoint: {0}")]
    Checkpoint(QuorumError),
    /// The answer is about another account.
    #[error("the answer is about account {got}, not {expected}")]
    WrongAccount {
        /// The account asked about.
        expected: PublicKey,
        /// The account answered about.
        got: PublicKey,
    },
    /// The answer is proven against another checkpoint than the one given.
    #[error("the answer is for the checkpoint of size {answer}, not the one of size {checkpoint}")]
    OtherCheckpoint {
        /// The verified checkpoint's size.
        checkpoint: u64,
        /// The size the answer names (or its proofs are for).
        answer: u64,
    },
    /// The `StateRoot` leaf is not the checkpoint's last leaf (wrong position, or its inclusion
    /// proof does not lead to the checkpoint's root).
    #[error("the StateRoot leaf is not leaf {index} of the checkpoint: {error}")]
    StateRootNotIncluded {
        /// The index it must have: the checkpoint's size − 1.
        index: u64,
        /// What the proof check found.
        error: ProofError,
    },
    /// The `StateRoot` leaf's inclusion proof is for another position than the checkpoint's last.
    #[error("the StateRoot proof is for index {got}; the checkpoint's last leaf is {expected}")]
    StateRootPosition {
        /// The checkpoint's size − 1.
        expected: u64,
        /// The index the proof names.
        got: u64,
    },
    /// The `StateRoot` leaf is served with a hash that is not its own.
    #[error("the StateRoot leaf hashes to {computed:?}, served as {served:?}")]
    StateRootLeafHash {
        /// The hash in the inclusion proof.
        served: Hash,
        /// The hash of the leaf bytes.
        computed: Hash,
    },
    /// The `StateRoot` leaf, the map proof or the record fails.
    #[error(transparent)]
    StateRoot(AccountProofError),
    /// The `StateRoot` commits the state at another position than its own index.
    #[error("the StateRoot at index {index} commits the state as of {as_of}")]
    AsOf {
        /// Its index.
        index: u64,
        /// What it says.
        as_of: u64,
    },
    /// The map proof bytes are not a map proof.
    #[error("the map proof is malformed: {0}")]
    MalformedMapProof(MapProofError),
}

/// An account answer that failed, with its evidence.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{reason}")]
pub struct AccountFailure {
    /// What failed.
    #[serde(serialize_with = "as_display")]
    pub reason: AccountError,
    /// The checkpoint note as received.
    pub checkpoint: String,
    /// The answer as received.
    pub answer: Box<AccountProof>,
}

fn as_display<S: serde::Serializer, T: std::fmt::Display>(
    value: &T,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_str(value)
}

/// Verifies a checkpoint note against the log's parameters: signed by the log key, and
/// cosigned by `quorum` witnesses of `Genesis` when the log names any.
///
/// # Errors
/// The [`QuorumError`] of the first check that fails.
pub fn verify_log_checkpoint(
    note: &[u8],
    log: &LogParams,
) -> Result<(Checkpoint, Vec<Cosigner>), QuorumError> {
    if log.quorum == 0 {
        let checkpoint = verify_checkpoint(note, &log.origin, &log.log_key)?;
        return Ok((checkpoint, Vec::new()));
    }
    verify_witnessed(
        note,
        &log.origin,
        &log.log_key,
        &log.witnesses,
        usize::from(log.quorum),
    )
}

/// Verifies `answer` (`GET /v1/accounts/{key}`) as `account`'s record committed by the
/// checkpoint `note`, for the log `log`: checkpoint → `StateRoot` inclusion → map proof →
/// record.
///
/// # Errors
/// An [`AccountFailure`] naming the broken link, with the note and the answer.
pub fn verify_account(
    note: &str,
    log: &LogParams,
    account: &PublicKey,
    answer: &AccountProof,
) -> Result<VerifiedAccount, AccountFailure> {
    check_account(note, log, account, answer).map_err(|reason| AccountFailure {
        reason,
        checkpoint: note.to_owned(),
        answer: Box::new(answer.clone()),
    })
}

fn check_account(
    note: &str,
    log: &LogParams,
    account: &PublicKey,
    answer: &AccountProof,
) -> Result<VerifiedAccount, AccountError> {
    let (checkpoint, cosigners) =
        verify_log_checkpoint(note.as_bytes(), log).map_err(AccountError::Checkpoint)?;
    if answer.key != *account {
        return Err(AccountError::WrongAccount {
            expected: *account,
            got: answer.key,
        });
    }
    let size = checkpoint.size();
    let inclusion = &answer.state_root.inclusion;
    for named in [answer.checkpoint_size, inclusion.size] {
        if named != size {
            return Err(AccountError::OtherCheckpoint {
                checkpoint: size,
                answer: named,
            });
        }
    }
    // An empty tree has no StateRoot; `wrapping_sub` makes the index check below fail for it.
    let index = size.wrapping_sub(1);
    let leaf = &answer.state_root.leaf.0;
    let leaf_hash = Blake3.hash_leaf(leaf);
    let not_included = |error| AccountError::StateRootNotIncluded { index, error };
    if inclusion.index != index {
        return Err(AccountError::StateRootPosition {
            expected: index,
            got: inclusion.index,
        });
    }
    if inclusion.leaf_hash != leaf_hash {
        return Err(AccountError::StateRootLeafHash {
            served: inclusion.leaf_hash,
            computed: leaf_hash,
        });
    }
    verify_inclusion(
        &Blake3,
        index,
        size,
        &leaf_hash,
        &inclusion.path,
        checkpoint.root(),
    )
    .map_err(not_included)?;
    let proof =
        MapProof::from_bytes(&answer.map_proof.0).map_err(AccountError::MalformedMapProof)?;
    let (record, as_of) = verify_account_at_state_root(
        leaf,
        &log.origin,
        &log.log_key,
        account,
        answer.record.as_ref().map(|r| r.0.as_slice()),
        &proof,
    )
    .map_err(AccountError::StateRoot)?;
    if as_of != index {
        return Err(AccountError::AsOf { index, as_of });
    }
    Ok(VerifiedAccount {
        key: *account,
        checkpoint,
        cosigners,
        as_of,
        record,
    })
}

/// Which rule a history page breaks.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HistoryPageError {
    /// The page is about another account.
    #[error("the page is about account {got}, not {expected}")]
    WrongAccount {
        /// The account verified.
        expected: PublicKey,
        /// The account the page names.
        got: PublicKey,
    },
    /// The page's proofs are for another checkpoint than the verified record's.
    #[error("the page is proven against size {page}, the record against size {checkpoint}")]
    OtherCheckpoint {
        /// The record's checkpoint size.
        checkpoint: u64,
        /// What the page (or one of its proofs) names.
        page: u64,
    },
    /// The page does not start where the verified history ends.
    #[error("the page starts at history position {got}, the next one is {expected}")]
    WrongPosition {
        /// Leaves verified so far.
        expected: u64,
        /// The page's `from`.
        got: u64,
    },
    /// A leaf's stated hash is not the hash of its bytes.
    #[error("the leaf at index {index} is served with another leaf's hash")]
    LeafHashMismatch {
        /// The leaf's index.
        index: u64,
    },
    /// The page says more follows where it cannot (no leaf in it, or the wrong position).
    #[error("the page's next position {next} does not follow its {len} leaves from {from}")]
    BadNext {
        /// The page's `from`.
        from: u64,
        /// Leaves in the page.
        len: u64,
        /// Its `next`.
        next: u64,
    },
    /// A resumed page's first leaf is not after the last leaf already held: the node serves
    /// again (or in another order) what was verified before.
    #[error("the page's first leaf has index {index}, not after the last held leaf {last_held}")]
    BeforeHeld {
        /// The leaf's index.
        index: u64,
        /// The last held leaf's index.
        last_held: u64,
    },
    /// A resumed history has the record's length, but its head is not the record's: the held
    /// leaves and the new ones do not chain into it, so the log's past of this account was
    /// rewritten (or a new leaf is not the one the log chained).
    #[error(
        "the record's history (length {committed_len}, head {committed_head}) does not extend the \
         held one (length {held_len}, head {held_head}) with the leaves served: the log's past of \
         this account was rewritten"
    )]
    NotAnExtension {
        /// Leaves held before this sync.
        held_len: u64,
        /// Their head.
        held_head: Hash,
        /// The record's length.
        committed_len: u64,
        /// The record's head.
        committed_head: Hash,
    },
    /// A leaf, or the history as a whole, is not the committed one.
    #[error(transparent)]
    History(HistoryError),
}

/// Why a held history cannot be resumed towards a new record.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ResumeError {
    /// The held history is another account's.
    #[error("the held history is account {held}'s, the record is account {record}'s")]
    WrongAccount {
        /// The held history's account.
        held: PublicKey,
        /// The record's account.
        record: PublicKey,
    },
    /// The new record counts fewer leaves than are held: leaves verified before were taken out.
    #[error(
        "the record counts {committed_len} history leaves, fewer than the {held_len} already \
         verified: the log's past of this account was rewritten"
    )]
    Shorter {
        /// Leaves held.
        held_len: u64,
        /// Leaves the record counts.
        committed_len: u64,
    },
    /// The new record counts as many leaves as are held, with another head.
    #[error(
        "the record's history has the held length {len} but head {committed_head}, not the held \
         {held_head}: the log's past of this account was rewritten"
    )]
    Rewritten {
        /// The length both have.
        len: u64,
        /// The held head.
        held_head: Hash,
        /// The record's head.
        committed_head: Hash,
    },
    /// A held leaf is not before the record's `StateRoot`: the new record cannot count it.
    #[error("the last held leaf {index} is not before the record's StateRoot at {as_of}")]
    BeyondCommitment {
        /// The last held leaf's index.
        index: u64,
        /// The record's `StateRoot` index.
        as_of: u64,
    },
}

/// A history page that failed, with its evidence.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{reason}")]
pub struct HistoryPageFailure {
    /// What failed.
    #[serde(serialize_with = "as_display")]
    pub reason: HistoryPageError,
    /// The page as received.
    pub page: Box<History>,
}

/// Verifies an account's history page by page, chained onto its verified record: each page
/// must start where the last ended, and the last page (no `next`) must end the history exactly
/// at the record's length and head. A page that fails changes nothing.
#[derive(Clone, Debug)]
pub struct HistoryCursor {
    tree: TreeHead,
    committed: HistoryCommitment,
    chain: Chain,
    /// What was held when the cursor resumed (`None`: it started at the beginning).
    resumed: Option<(HistoryCommitment, u64)>,
    done: bool,
}

impl HistoryCursor {
    /// Starts at the beginning of `account`'s history.
    pub fn new(account: &VerifiedAccount) -> Self {
        let tree = account.tree();
        Self {
            tree,
            committed: account.commitment(),
            chain: Chain::new(account.key, account.as_of, tree),
            resumed: None,
            done: false,
        }
    }

    /// Resumes `held` (a prefix verified earlier) towards `account`'s record: the first page
    /// must start at the held length, with leaves after the last held one, proven in
    /// `account`'s checkpoint, and the held head extended by them must give the record's head.
    ///
    /// # Errors
    /// A [`ResumeError`] when the record cannot extend what is held: another account, a shorter
    /// history, the same length with another head, or a held leaf the record cannot count.
    pub fn resume(account: &VerifiedAccount, held: &HeldHistory) -> Result<Self, ResumeError> {
        if held.account() != account.key {
            return Err(ResumeError::WrongAccount {
                held: held.account(),
                record: account.key,
            });
        }
        let had = held.commitment();
        let committed = account.commitment();
        if committed.len < had.len {
            return Err(ResumeError::Shorter {
                held_len: had.len,
                committed_len: committed.len,
            });
        }
        if committed.len == had.len && committed.head != had.head {
            return Err(ResumeError::Rewritten {
                len: had.len,
                held_head: had.head,
                committed_head: committed.head,
            });
        }
        if let Some(index) = held.last_index()
            && index >= account.as_of
        {
            return Err(ResumeError::BeyondCommitment {
                index,
                as_of: account.as_of,
            });
        }
        let tree = account.tree();
        Ok(Self {
            tree,
            committed,
            chain: Chain::resume(account.as_of, tree, held),
            resumed: held.last_index().map(|last| (had, last)),
            done: false,
        })
    }

    /// The whole history verified, to resume from at the next sync; `None` until the last page
    /// was verified.
    pub fn held(&self) -> Option<HeldHistory> {
        self.done.then(|| self.chain.held())
    }

    /// The history position the next page must start at.
    pub fn position(&self) -> u64 {
        self.chain.len()
    }

    /// Whether the last page was verified: the whole committed history is held.
    pub fn is_complete(&self) -> bool {
        self.done
    }

    /// The head committed by the record.
    pub fn committed_head(&self) -> Hash {
        self.committed.head
    }

    /// Verifies the next page and returns its leaves.
    ///
    /// # Errors
    /// A [`HistoryPageFailure`] with the page; the cursor is unchanged.
    pub fn push_page(&mut self, page: &History) -> Result<Vec<VerifiedEntry>, HistoryPageFailure> {
        let mut next = self.clone();
        let verified = next.check_page(page).map_err(|reason| HistoryPageFailure {
            reason,
            page: Box::new(page.clone()),
        })?;
        *self = next;
        Ok(verified)
    }

    fn check_page(&mut self, page: &History) -> Result<Vec<VerifiedEntry>, HistoryPageError> {
        let expected = self.chain_account();
        if page.key != expected {
            return Err(HistoryPageError::WrongAccount {
                expected,
                got: page.key,
            });
        }
        if page.checkpoint_size != self.tree.size {
            return Err(HistoryPageError::OtherCheckpoint {
                checkpoint: self.tree.size,
                page: page.checkpoint_size,
            });
        }
        if self.done || page.from != self.position() {
            return Err(HistoryPageError::WrongPosition {
                expected: self.position(),
                got: page.from,
            });
        }
        if let (Some((held, last_held)), Some(first)) = (self.resumed, page.entries.first())
            && self.chain.len() == held.len
            && first.inclusion.index <= last_held
        {
            return Err(HistoryPageError::BeforeHeld {
                index: first.inclusion.index,
                last_held,
            });
        }
        let mut verified = Vec::with_capacity(page.entries.len());
        for entry in &page.entries {
            let proof = &entry.inclusion;
            if proof.size != self.tree.size {
                return Err(HistoryPageError::OtherCheckpoint {
                    checkpoint: self.tree.size,
                    page: proof.size,
                });
            }
            if proof.leaf_hash != Blake3.hash_leaf(&entry.leaf.0) {
                return Err(HistoryPageError::LeafHashMismatch { index: proof.index });
            }
            verified.push(
                self.chain
                    .push(proof.index, &entry.leaf.0, &proof.path)
                    .map_err(HistoryPageError::History)?,
            );
        }
        let len = verified.len() as u64;
        match page.next {
            None => {
                self.chain
                    .finish(&self.committed)
                    .map_err(|e| self.not_extended(e))?;
                self.done = true;
            }
            Some(next) => {
                if len == 0 || next != page.from + len {
                    return Err(HistoryPageError::BadNext {
                        from: page.from,
                        len,
                        next,
                    });
                }
                if self.chain.len() >= self.committed.len {
                    // More is announced than the record counts: whatever follows is extra.
                    return Err(HistoryPageError::History(HistoryError::Extra {
                        expected_len: self.committed.len,
                        got_len: self.chain.len() + 1,
                    }));
                }
            }
        }
        Ok(verified)
    }

    fn chain_account(&self) -> PublicKey {
        self.chain.account()
    }

    /// A resumed chain with the right length and the wrong head does not extend what was held.
    fn not_extended(&self, error: HistoryError) -> HistoryPageError {
        match (self.resumed, error) {
            (Some((held, _)), HistoryError::HeadMismatch { expected, .. }) => {
                HistoryPageError::NotAnExtension {
                    held_len: held.len,
                    held_head: held.head,
                    committed_len: self.committed.len,
                    committed_head: expected,
                }
            }
            (_, error) => HistoryPageError::History(error),
        }
    }
}

/// Why a genesis leaf does not give a log's parameters.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum GenesisError {
    /// The bytes are not a leaf.
    #[error("the genesis leaf is malformed: {0}")]
    Malformed(String),
    /// Its hash is not the one pinned.
    #[error("the genesis leaf hashes to {computed:?}, the pinned hash is {pinned:?}")]
    NotPinned {
        /// The hash the caller trusts.
        pinned: Hash,
        /// The hash of the leaf given.
        computed: Hash,
    },
    /// The rules refuse it as leaf 0 (not a `Genesis`, not signed by its log key, bad fields).
    #[error("the genesis leaf is not a valid first leaf: {0}")]
    Rejected(crate::state::Rejection),
}

/// The log's parameters from its genesis leaf (leaf 0), checked with the state machine's own
/// rules, and against `pinned` (the hash a wallet was given out of band) when there is one.
///
/// # Errors
/// A [`GenesisError`].
pub fn verify_genesis(leaf_bytes: &[u8], pinned: Option<&Hash>) -> Result<LogParams, GenesisError> {
    let computed = Blake3.hash_leaf(leaf_bytes);
    if let Some(pinned) = pinned
        && *pinned != computed
    {
        return Err(GenesisError::NotPinned {
            pinned: *pinned,
            computed,
        });
    }
    let leaf = crate::entry::Leaf::from_bytes(leaf_bytes)
        .map_err(|e| GenesisError::Malformed(e.to_string()))?;
    let mut engine = crate::state::Engine::new(crate::map::SparseMap::new());
    engine
        .apply(&leaf, leaf.sequenced_at)
        .map_err(|e| match e {
            crate::state::EngineError::Rejected(r) => GenesisError::Rejected(r),
            other => GenesisError::Malformed(other.to_string()),
        })?;
    engine
        .state()
        .params()
        .cloned()
        .ok_or_else(|| GenesisError::Malformed("no parameters after the genesis leaf".into()))
}

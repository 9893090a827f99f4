//! Pure verification functions for wallets, witnesses and auditors: no I/O, no panics on any input.
//!
//! A client never needs node code to check anything: inclusion and consistency proofs live here,
//! and the checkpoint, cosignature, map-proof and history checks are re-exported here.

mod account;
mod chain;
mod held;
mod history;
mod map;
mod proof;
#[cfg(test)]
mod resume_tests;

pub use account::{AccountProofError, verify_account_at_state_root};
pub use chain::{
    AccountError, AccountFailure, GenesisError, HistoryCursor, HistoryPageError,
    HistoryPageFailure, ResumeError, VerifiedAccount, verify_account, verify_genesis,
    verify_log_checkpoint,
};
pub use held::{HeldError, KeptCheckpoint, verify_held_history};
pub use history::{
    HeldHistory, HistoryCommitment, HistoryEntry, HistoryError, TreeHead, VerifiedEntry,
    verify_history,
};
pub use map::{MapProofError, map_root_from_proof, verify_account_proof, verify_map_proof};
pub use proof::{
    ProofError, consistency_proof_len, inclusion_proof_len, root_from_inclusion_proof,
    verify_consistency, verify_inclusion,
};

pub use crate::checkpoint::{
    CheckpointError, CosignatureError, Cosigner, Evidence, EvidenceError, QuorumError, WitnessKey,
    verify_checkpoint, verify_checkpoint_note, verify_cosignature, verify_quorum, verify_witnessed,
};

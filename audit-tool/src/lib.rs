//! Testigo audit tool: the regulator's full replay of a log (DESIGN §8).
//!
//! It trusts nothing: a log is read from an archive file or from a node's API as a regulator
//! ([`source`]), and [`replay`] re-derives all of it with the ledger's own code (every signature,
//! rule, `StateRoot`, checkpoint, cosignature and the conservation of money), naming the first
//! leaf that does not verify with what was expected and what was found ([`failure`]). [`export`]
//! writes a node's log to an archive, resuming an existing one; [`check`] verifies split-view
//! evidence and wallet receipts offline. The crate never links the node's code.
//!
//! On top of the replay, [`regulator`] answers what a regulator asks beyond the sequencer's rules
//! (`docs/AUDIT.md`) and [`report`] writes them as JSON and as one self-contained HTML page with
//! charts; [`monitor`] follows live nodes and alerts on any violation.

pub mod check;
pub mod export;
pub mod failure;
pub mod keyfile;
pub mod money;
pub mod monitor;
pub mod progress;
pub mod regulator;
pub mod replay;
pub mod report;
pub mod source;

/// Exit codes of `testigo-audit`.
pub mod exit {
    /// Everything verified.
    pub const OK: u8 = 0;
    /// The log, evidence or receipt does not verify (the failures are printed).
    pub const FAILED: u8 = 1;
    /// The check could not be made: bad arguments, an unreadable file, an unreachable node.
    pub const ERROR: u8 = 2;
}

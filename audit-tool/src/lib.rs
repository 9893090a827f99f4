//! Testigo audit tool: the regulator's full replay of a log (DESIGN §8).
//!
//! Its core is shared: `testigo_ledger::state::Engine` re-verifies every signature and rule and
//! recomputes every state root, `testigo_ledger::merkle` recomputes the tree, and
//! `testigo_ledger::verify` checks checkpoints, cosignatures and split-view evidence. On top of
//! it, [`regulator`] answers what a regulator asks beyond the sequencer's rules
//! (`docs/AUDIT.md`) and [`report`] writes them as JSON and as one self-contained HTML page with
//! charts; [`monitor`] follows live nodes and alerts on any violation.

pub mod monitor;
pub mod regulator;
pub mod report;

//! Testigo audit tool: the regulator's full replay of a log (DESIGN §8).
//!
//! Its core already exists and is shared: `testigo_ledger::state::replay` re-verifies every
//! signature and rule and recomputes every state root, `testigo_ledger::merkle` recomputes the
//! tree, and `testigo_ledger::verify` checks checkpoints, cosignatures and split-view evidence.
//! Fetching a log, reports and monitor mode are the audit issue's work; this crate holds them
//! once written, and nothing until then.

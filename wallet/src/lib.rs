//! Testigo wallet: the subject's (and accessor's) verifying client (DESIGN §8).
//!
//! Its verification core already exists and is shared: `testigo_ledger::verify` checks witnessed
//! checkpoints, inclusion and consistency proofs, the account record against a `StateRoot` leaf
//! (`verify_account_at_state_root`) and the whole history chain (`verify_history`). The CLI
//! (key management, consents, verified history and balance, claims, watching) is the wallet
//! issue's work; this crate holds it once written, and nothing until then.

//! # testigo-ledger
//!
//! Testigo's protocol in code, transport-agnostic: there is no HTTP, no storage engine and no
//! network here. Hashing and the Merkle log ([`hash`], [`merkle`]), signed entries ([`entry`]),
//! checkpoints and witness cosignatures ([`checkpoint`]), the state machine that applies the rules
//! and commits account records to the state map ([`state`], [`map`]), and the pure verification functions that
//! wallets and auditors call ([`verify`]), with the offline receipts they exchange ([`receipt`]) and the archive files that carry a whole log
//! ([`archive`]). The node, the wallet and the audit tool all build on
//! this crate, so they cannot disagree about what is valid.
//!
//! A checkpoint, as a wallet receives it from `GET /v1/checkpoint` (DESIGN §5: a C2SP
//! `tlog-checkpoint` in a `signed-note`, with one `tlog-cosignature` v1 line). This one is real:
//! the log key is RFC 8032's test 1 key; the witness key is its test 2 key, cosigning at
//! 2026-11-29 12:00 UTC (time 1795953600); the root is the BLAKE3 tree of the leaves `leaf 0` …
//! `leaf 3`; and `tests/checkpoint.rs` verifies this very text.
//!
//! ```text
//! testigo.example/log/1
//! 4
//! ORnVM9AJMjAcYO3tWEDJ6PGrPJAENIyr48JkDIt/lxM=
//!
//! — testigo.example/log/1 BKCeg+sDQGzp4xesSBPI5BmLbqnOZ9VEbsjOhha+4ubZ9vvRhqeVwEMUHNFX8cf56joly2Fu/571+SWWwfIoU9Ar0Qo=
//! — witness.example/w1 BNLYMwAAAABrDBPAf34FVbN/Ktx0d7Mbvp9WgHSsWQ6iD69Gg9XUyi7PWyYqRy0tHePpbjntKGyWN5mO5OAHQUHK2WEXSuBGijb3Cg==
//! ```

pub mod api;
pub mod archive;
pub mod auth;
mod batch;
pub mod checkpoint;
pub mod entry;
mod error_code;
pub mod hash;
pub mod keys;
pub mod map;
pub mod merkle;
pub mod receipt;
pub mod replication;
pub mod state;
#[cfg(feature = "synth")]
pub mod synth;
pub mod verify;

pub use hash::{Blake3, Hash, Sha256, TreeHasher};
pub use keys::PublicKey;

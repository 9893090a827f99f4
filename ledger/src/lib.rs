//! # testigo-ledger
//!
//! Testigo's protocol in code, transport-agnostic: there is no HTTP, no storage engine and no
//! network here. Hashing and the Merkle log ([`hash`], [`merkle`]), signed entries ([`entry`]),
//! checkpoints and witness cosignatures ([`checkpoint`]), and the pure verification functions that
//! wallets and auditors call ([`verify`]). The node, the wallet and the audit tool all build on
//! this crate, so they cannot disagree about what is valid.
//!
//! A checkpoint, as a wallet receives it (DESIGN §5, C2SP `signed-note`):
//!
//! ```text
//! testigo.example/log/1
//! 4
//! 3ENs7K1uSfexMRk36mNoNOsXg0X4ZzoHMI/4XbaU0wk=
//!
//! — testigo.example/log/1 k3pVt1PKRuD8yXdCVE8nbBOxAuBrq1cJkgNiFtVdEgS72nmF+AzoBfnvHkiyypRIAmo/pcZCh2HCVxVwTaGvW+L3UQM=
//! ```

pub mod checkpoint;
pub mod entry;
pub mod hash;
pub mod keys;
pub mod map;
pub mod merkle;
pub mod verify;

pub use hash::{Blake3, Hash, Sha256, TreeHasher};
pub use keys::PublicKey;

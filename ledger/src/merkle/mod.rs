//! The Merkle log: RFC 9162 §2.1 trees over a narrow storage trait (DESIGN §3).
//!
//! The tree's hashes live in a store behind [`HashReader`] and [`HashWriter`]; this module only
//! computes. A store holds the hash of every *perfect* subtree ([`NodeId`]): `2^level` leaves
//! starting at a multiple of `2^level`. Those never change once written, which is what lets a
//! store pack them into immutable tiles. Roots and proofs that need a non-perfect subtree (on
//! the tree's right edge) compose it from the perfect subtrees of its binary decomposition.
//!
//! Every function below is pure apart from reading the store: it works out which ids it needs
//! from the sizes alone, reads them in **one** `read_hashes` call (O(log n) ids), and assembles
//! the answer. Nothing ever rebuilds the tree in memory.
//!
//! - [`integrate`] appends leaf hashes and returns what to persist (Tessera's `Integrate`).
//! - [`root`], [`inclusion_proof`] and [`consistency_proof`] serve any size up to the stored one,
//!   so past checkpoints stay provable. Proofs have exactly the RFC 9162 shape that
//!   [`crate::verify::verify_inclusion`] and [`crate::verify::verify_consistency`] check.
//!
//! The stored layout for five leaves (`*` marks what `root(5)` reads; `(2,0)` is `h0123`):
//!
//! ```text
//! level 2:  (2,0)*
//! level 1:  (1,0)        (1,1)
//! level 0:  (0,0) (0,1)  (0,2) (0,3)  (0,4)*        root(5) = H(0x01 ‖ (2,0) ‖ (0,4))
//! ```
//!
//! A store proves it behaves by passing `conformance::run_hash_store_conformance` (cargo
//! feature `testing`), as [`MemoryStore`] does.

mod compact;
#[cfg(any(test, feature = "testing"))]
pub mod conformance;
mod counting;
mod error;
mod integrate;
mod memory;
mod node;
mod plan;
mod prove;
mod store;

pub use compact::CompactRange;
pub use counting::CountingReader;
pub use error::MerkleError;
pub use integrate::{Integration, integrate};
pub use memory::MemoryStore;
pub use node::NodeId;
pub use prove::{consistency_proof, inclusion_proof, inclusion_proof_with_leaf, root};
pub use store::{HashReader, HashWriter, StoreError};

//! The authenticated state map (DESIGN §6): per-account records under a versioned Merkle root.
//!
//! Each `StateRoot` leaf commits the root of this map at one *map version*; version `n` is the
//! state after the `n`-th `StateRoot` batch. A wallet proves its own record (inclusion) or that it
//! has none (non-inclusion) against that root with [`crate::verify::verify_account_proof`].
//!
//! ```text
//! map key   = BLAKE3("testigo/acct/v1" ‖ public key)          (account_map_key)
//! value     = the account record bytes (carrying a 32-byte per-account salt)
//! leaf hash = BLAKE3("JMT::LeafNode" ‖ map key ‖ BLAKE3(value))
//! node hash = BLAKE3("JMT::IntrnalNode" ‖ left ‖ right)
//! empty     = "SPARSE_MERKLE_PLACEHOLDER_HASH__"
//! ```
//!
//! The roots are those of a Jellyfish Merkle Tree (`jmt` 0.12.0, pinned: roots depend on its
//! layout) with a BLAKE3 hasher adapter, which are those of a binary sparse Merkle tree with leaf
//! lifting. Two trees implement [`StateMap`] with these roots and byte-identical proofs:
//!
//! - `JmtStateMap` (feature `reference-jmt`): `jmt` itself, with nodes behind [`MapNodeStore`], a
//!   plain versioned key-value contract that redb or sled can implement without depending on
//!   `jmt`. It is the reference: the tests compare the other tree with it, and no production
//!   build compiles it.
//! - [`SparseMap`]: our own path-compressed, persistent binary tree in memory, several times faster
//!   and smaller (`sparse`'s docs say why it is shaped as it is), with [`MapSnapshot`] handles
//!   that keep a version readable while the map moves on. [`SparseMap::paged`] keeps only its
//!   top levels in memory and its buckets in a [`BucketSource`] (the node's account records), so
//!   that its memory does not grow with the number of keys.
//!
//! Callers never see `jmt`: they program against [`StateMap`], and the proofs are our own
//! [`MapProof`] wire format, so changing the tree changes nothing a client parses (a tree with
//! other roots would need a new proof format version).

mod hasher;
#[cfg(feature = "reference-jmt")]
mod jmt_map;
mod memory;
mod proof;
mod sparse;
mod store;

// The suite checks a store end to end through `JmtStateMap`; `testing` turns the reference on.
#[cfg(all(any(test, feature = "testing"), feature = "reference-jmt"))]
pub mod conformance;

#[cfg(feature = "reference-jmt")]
pub use jmt_map::JmtStateMap;
pub use memory::MemoryMapStore;
pub use proof::{MAP_PROOF_FORMAT, MAX_MAP_PROOF_SIBLINGS, MapLeaf, MapProof};
pub use sparse::{
    BucketRows, BucketSource, MapSnapshot, MemoryBuckets, PagedLoader, SparseMap, Stored,
    bucket_bounds,
};
pub use store::{MapNodeStore, MapStoreError, MapWriteBatch, PruneStats, StaleNode};

pub(crate) use hasher::{internal_hash, leaf_hash, value_hash};

use crate::hash::{Hash, blake3_parts};
use crate::keys::PublicKey;

/// A key in the map: a 32-byte hash, normally [`account_map_key`] of an account's public key.
pub type MapKey = [u8; 32];

/// One change to the map: set the key's value, or delete the key with `None`.
pub type MapUpdate = (MapKey, Option<Vec<u8>>);

/// Domain tag of [`account_map_key`].
pub const ACCOUNT_KEY_DOMAIN: &[u8] = b"testigo/acct/v1";

/// The root of the empty map (jmt's placeholder, not a hash output, so no record can forge it).
pub const EMPTY_MAP_ROOT: Hash = Hash(hasher::PLACEHOLDER);

/// The map key of an account: `BLAKE3("testigo/acct/v1" ‖ public key)`.
///
/// Hashing spreads keys evenly over the tree, which keeps proofs short, and the domain tag keeps
/// map keys apart from every other hash in the protocol.
pub fn account_map_key(pk: &PublicKey) -> MapKey {
    blake3_parts(&[ACCOUNT_KEY_DOMAIN, pk.as_bytes()]).0
}

/// Bits in a [`MapKey`]: the depth of the tree.
pub(crate) const KEY_BITS: usize = 256;

/// The key's bit at `depth`, most significant bit of byte 0 first; `false` past the key.
pub(crate) fn key_bit(key: &MapKey, depth: usize) -> bool {
    key.get(depth / 8)
        .is_some_and(|byte| (byte >> (7 - depth % 8)) & 1 == 1)
}

/// Number of leading bits `a` and `b` share: [`KEY_BITS`] if they are equal.
pub(crate) fn common_prefix(a: &MapKey, b: &MapKey) -> usize {
    a.iter()
        .zip(b)
        .position(|(x, y)| x != y)
        .map_or(KEY_BITS, |i| i * 8 + (a[i] ^ b[i]).leading_zeros() as usize)
}

/// Checks that `version` is the one after `latest` (0 for a map never applied).
fn check_next_version(latest: Option<u64>, version: u64) -> Result<(), MapError> {
    let expected = match latest {
        None => 0,
        Some(latest) => latest.checked_add(1).ok_or(MapError::VersionOutOfOrder {
            expected: latest,
            got: version,
        })?,
    };
    if version != expected {
        return Err(MapError::VersionOutOfOrder {
            expected,
            got: version,
        });
    }
    Ok(())
}

/// A versioned authenticated map from [`MapKey`] to opaque value bytes.
///
/// Versions are consecutive from 0: version `n` is written by the `n`-th call to
/// [`StateMap::apply`]. Every version keeps its root and stays provable until it is pruned.
/// The sequencer, replay and the API program against this trait only, so the tree behind it
/// (`JmtStateMap` or [`SparseMap`]) can be replaced without touching them.
pub trait StateMap {
    /// Applies `updates` as `version` and returns the new root. A key updated twice in one call
    /// takes its last value; `None` deletes the key (deleting an absent key is a no-op). An empty
    /// update list still creates the version, with the previous root.
    ///
    /// # Errors
    /// [`MapError::VersionOutOfOrder`] unless `version` is the next version (0 for an empty map);
    /// [`MapError::Store`] if the node store fails, in which case nothing was written.
    fn apply(&mut self, version: u64, updates: Vec<MapUpdate>) -> Result<Hash, MapError>;

    /// The newest version written, `None` for a map that has never been applied.
    ///
    /// # Errors
    /// [`MapError::Store`] if the node store fails.
    fn latest_version(&self) -> Result<Option<u64>, MapError>;

    /// The root at `version`.
    ///
    /// # Errors
    /// [`MapError::VersionPruned`] or [`MapError::VersionNotWritten`] if the version is not
    /// available; [`MapError::Store`] or [`MapError::Corrupt`] if the store fails.
    fn root(&self, version: u64) -> Result<Hash, MapError>;

    /// The value of `key` at `version`, without a proof.
    ///
    /// # Errors
    /// As [`StateMap::root`].
    fn get(&self, key: &MapKey, version: u64) -> Result<Option<Vec<u8>>, MapError>;

    /// The value of `key` at `version` (`None` if absent) and a proof of it (inclusion or
    /// non-inclusion) against [`StateMap::root`] of that version.
    ///
    /// # Errors
    /// As [`StateMap::root`].
    fn prove(&self, key: &MapKey, version: u64) -> Result<(Option<Vec<u8>>, MapProof), MapError>;

    /// Deletes what only versions below `oldest_kept` need. Afterwards those versions answer
    /// [`MapError::VersionPruned`]; `oldest_kept` and newer versions are unchanged. Pruning to a
    /// version at or below an earlier prune does nothing.
    ///
    /// # Errors
    /// [`MapError::VersionNotWritten`] if `oldest_kept` is newer than the latest version (that
    /// would make the current state unprovable); [`MapError::Store`] if the store fails.
    fn prune(&mut self, oldest_kept: u64) -> Result<PruneStats, MapError>;
}

/// Why a map operation failed.
#[derive(Debug, thiserror::Error)]
pub enum MapError {
    /// `apply` was called with a version other than the next one. Fatal for the caller's batch:
    /// the caller's version counter and the map disagree (replay from the log to rebuild).
    #[error("map version {got} applied out of order: the next version is {expected}")]
    VersionOutOfOrder { expected: u64, got: u64 },
    /// The version was pruned; ask for a newer one.
    #[error("map version {version} was pruned: the oldest version kept is {oldest_kept}")]
    VersionPruned { version: u64, oldest_kept: u64 },
    /// The version has not been written yet.
    #[error("map version {version} was not written: the latest version is {latest:?}")]
    VersionNotWritten { version: u64, latest: Option<u64> },
    /// A paged map's snapshot could not read its version from the store, which holds `stored`
    /// (the store moved on past what the map still remembers, or has not caught up): ask again,
    /// at a newer version if this one stays unanswerable.
    #[error(
        "map version {version} is not readable from the store, which holds version {stored:?}: \
         ask again"
    )]
    Moved { version: u64, stored: Option<u64> },
    /// The node store failed; retrying may help if the engine's error is transient.
    #[error("map node store: {0}")]
    Store(#[from] MapStoreError),
    /// The store holds something the tree cannot use (missing or undecodable nodes): rebuild the
    /// map from the log.
    #[error("map store is inconsistent: {0}")]
    Corrupt(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_and_prefixes() {
        let mut a = [0u8; 32];
        a[0] = 0b1000_0000;
        assert!(key_bit(&a, 0));
        assert!(!key_bit(&a, 1));
        assert!(!key_bit(&a, KEY_BITS), "past the key");
        let mut b = a;
        assert_eq!(common_prefix(&a, &b), KEY_BITS);
        b[3] = 0b0010_0000;
        assert_eq!(common_prefix(&a, &b), 24 + 2);
        b[3] = 0;
        b[31] = 1;
        assert_eq!(common_prefix(&a, &b), 255);
        assert!(key_bit(&b, 255));
    }

    #[test]
    fn versions_follow_each_other() {
        assert!(check_next_version(None, 0).is_ok());
        assert!(check_next_version(Some(4), 5).is_ok());
        assert!(matches!(
            check_next_version(Some(4), 4),
            Err(MapError::VersionOutOfOrder {
                expected: 5,
                got: 4
            })
        ));
        assert!(check_next_version(Some(u64::MAX), 0).is_err());
    }
}

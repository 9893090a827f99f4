//! Verification of state map proofs (DESIGN §6): an account record, or its absence, against the
//! map root committed by a `StateRoot` leaf.
//!
//! The checks restate `jmt` 0.12's `SparseMerkleProof::verify` in ledger code (tests compare the
//! two on the same proofs), over our own [`MapProof`] format. Pure and total: any input gives an
//! answer, never a panic.

use crate::hash::Hash;
use crate::keys::PublicKey;
use crate::map::{
    EMPTY_MAP_ROOT, MapKey, MapProof, account_map_key, common_prefix, internal_hash, key_bit,
    leaf_hash, value_hash,
};

/// Why a map proof was rejected. Variants carry the hashes involved, so a client can show or
/// export the evidence.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MapProofError {
    /// The proof's `version` field names a format this code does not know.
    #[error("map proof format {version} is not supported (expected 1)")]
    UnsupportedFormat { version: u8 },
    /// More siblings than a 256-bit key has levels.
    #[error("map proof has {count} siblings, at most 256 are possible")]
    TooManySiblings { count: usize },
    /// The proof's bytes do not decode.
    #[error("map proof is malformed: {0}")]
    Malformed(String),
    /// An inclusion proof for a different key than the one asked about.
    #[error("proof is for key {proven:?}, not for {expected:?}")]
    WrongKey { proven: Hash, expected: Hash },
    /// The record given does not hash to the value hash in the proof.
    #[error("record hashes to {given:?}, the proof commits to {proven:?}")]
    WrongValue { proven: Hash, given: Hash },
    /// A record was given but the proof shows the key absent.
    #[error("a record was given but the proof shows the key absent")]
    ProvesAbsence,
    /// The key was claimed absent but the proof holds its leaf.
    #[error("the key was claimed absent but the proof contains its leaf")]
    ProvesPresence,
    /// A non-inclusion proof whose leaf is not where the key's path would end.
    #[error("non-inclusion leaf {leaf_key:?} is not on the key's path")]
    LeafNotOnPath { leaf_key: Hash },
    /// The proof is well formed but leads to another root.
    #[error("proof leads to map root {computed:?}, expected {expected:?}")]
    RootMismatch { computed: Hash, expected: Hash },
}

/// Verifies that the account `key` has the record `value` (or, with `None`, no record) in the
/// map whose root is `root`.
///
/// # Errors
/// A [`MapProofError`] saying why the proof does not show that.
pub fn verify_account_proof(
    root: &Hash,
    key: &PublicKey,
    value: Option<&[u8]>,
    proof: &MapProof,
) -> Result<(), MapProofError> {
    verify_map_proof(root, &account_map_key(key), value, proof)
}

/// [`verify_account_proof`] for a raw map key.
///
/// # Errors
/// A [`MapProofError`] saying why the proof does not show that.
pub fn verify_map_proof(
    root: &Hash,
    key: &MapKey,
    value: Option<&[u8]>,
    proof: &MapProof,
) -> Result<(), MapProofError> {
    let computed = map_root_from_proof(key, value, proof)?;
    if computed != *root {
        return Err(MapProofError::RootMismatch {
            computed,
            expected: *root,
        });
    }
    Ok(())
}

/// The map root that `proof` yields for `key` having `value` (or no value), after checking that
/// the proof can say so at all.
///
/// # Errors
/// Any [`MapProofError`] except [`MapProofError::RootMismatch`].
pub fn map_root_from_proof(
    key: &MapKey,
    value: Option<&[u8]>,
    proof: &MapProof,
) -> Result<Hash, MapProofError> {
    proof.check_shape()?;
    let depth = proof.siblings.len();
    match (value, &proof.leaf) {
        (Some(value), Some(leaf)) => {
            if leaf.key_hash.0 != *key {
                return Err(MapProofError::WrongKey {
                    proven: leaf.key_hash,
                    expected: Hash(*key),
                });
            }
            let given = value_hash(value);
            if given != leaf.value_hash {
                return Err(MapProofError::WrongValue {
                    proven: leaf.value_hash,
                    given,
                });
            }
        }
        (Some(_), None) => return Err(MapProofError::ProvesAbsence),
        (None, Some(leaf)) => {
            if leaf.key_hash.0 == *key {
                return Err(MapProofError::ProvesPresence);
            }
            // The leaf must sit where the key's path ends: it is the only key in the subtree
            // that the first `depth` bits of the key select.
            if common_prefix(key, &leaf.key_hash.0) < depth {
                return Err(MapProofError::LeafNotOnPath {
                    leaf_key: leaf.key_hash,
                });
            }
        }
        (None, None) => {}
    }
    let mut hash = match &proof.leaf {
        Some(leaf) => leaf_hash(&leaf.key_hash.0, &leaf.value_hash.0),
        None => EMPTY_MAP_ROOT,
    };
    // Sibling `i` (from the bottom) sits at depth `depth - 1 - i`; the key's bit at that depth
    // says whether the path goes right (sibling on the left) or left.
    for (i, sibling) in proof.siblings.iter().enumerate() {
        hash = if key_bit(key, depth - 1 - i) {
            internal_hash(&sibling.0, &hash.0)
        } else {
            internal_hash(&hash.0, &sibling.0)
        };
    }
    Ok(hash)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_proof_proves_absence_from_the_empty_map() {
        let proof = MapProof {
            version: 1,
            leaf: None,
            siblings: vec![],
        };
        assert_eq!(
            verify_map_proof(&EMPTY_MAP_ROOT, &[7; 32], None, &proof),
            Ok(())
        );
        assert_eq!(
            verify_map_proof(&EMPTY_MAP_ROOT, &[7; 32], Some(b"x"), &proof),
            Err(MapProofError::ProvesAbsence)
        );
    }
}

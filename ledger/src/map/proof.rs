//! The map proof wire format, ours rather than `jmt`'s, so clients verify with ledger code alone
//! and the tree behind the map can change without changing what clients parse.
//!
//! JSON (the API), with hashes in standard base64:
//!
//! ```text
//! {"version":1,
//!  "leaf":{"key_hash":"<base64>","value_hash":"<base64>"} | null,
//!  "siblings":["<base64>", ...]}
//! ```
//!
//! bincode 2 (`config::standard()`), via [`MapProof::to_bytes`]: `version` (1 byte), `leaf`
//! (0x00, or 0x01 then 32 + 32 bytes), sibling count (varint), then 32 bytes per sibling.
//!
//! `leaf` is the leaf the path ends at: the key's own leaf (inclusion), another key's leaf whose
//! subtree the key would fall in (non-inclusion), or nothing (an empty subtree: non-inclusion).
//! `siblings` run from the leaf's level up to the root; an empty subtree's sibling is the
//! placeholder [`crate::map::EMPTY_MAP_ROOT`].

use serde::{Deserialize, Serialize};

use crate::hash::Hash;
use crate::verify::MapProofError;

/// The proof format this code writes and verifies (the `version` field).
pub const MAP_PROOF_FORMAT: u8 = 1;

/// A path in a tree over 256-bit keys has at most 256 siblings.
pub const MAX_MAP_PROOF_SIBLINGS: usize = 256;

/// Largest bincode encoding of a valid proof, with room to spare; bounds allocation on decode.
const MAX_ENCODED_LEN: usize = 1 + 1 + 64 + 9 + MAX_MAP_PROOF_SIBLINGS * 32;

/// An inclusion or non-inclusion proof for one key of the state map.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MapProof {
    /// Wire format version, [`MAP_PROOF_FORMAT`].
    pub version: u8,
    /// The leaf the key's path ends at, if the path ends at a leaf.
    pub leaf: Option<MapLeaf>,
    /// Sibling hashes from the bottom of the path up to the root.
    pub siblings: Vec<Hash>,
}

/// A leaf of the map as it appears in a proof.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MapLeaf {
    /// The leaf's map key.
    pub key_hash: Hash,
    /// BLAKE3 of the leaf's value bytes.
    pub value_hash: Hash,
}

fn bincode_config() -> impl bincode::config::Config {
    bincode::config::standard().with_limit::<MAX_ENCODED_LEN>()
}

impl MapProof {
    /// The compact binary encoding (see the module docs).
    pub fn to_bytes(&self) -> Vec<u8> {
        // Encoding into a Vec only fails past the size limit, which a proof built by this crate
        // never reaches; an oversized hand-built proof encodes without the limit and is then
        // rejected by `from_bytes` and by verification.
        bincode::serde::encode_to_vec(self, bincode_config())
            .or_else(|_| bincode::serde::encode_to_vec(self, bincode::config::standard()))
            .unwrap_or_default()
    }

    /// Decodes [`MapProof::to_bytes`], accepting exactly one encoding per proof.
    ///
    /// # Errors
    /// [`MapProofError::Malformed`] for bytes that are not one whole proof (including trailing
    /// bytes or more than [`MAX_MAP_PROOF_SIBLINGS`] siblings);
    /// [`MapProofError::UnsupportedFormat`] for another format version.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, MapProofError> {
        let (proof, used): (Self, usize) =
            bincode::serde::decode_from_slice(bytes, bincode_config())
                .map_err(|e| MapProofError::Malformed(e.to_string()))?;
        if used != bytes.len() {
            return Err(MapProofError::Malformed(format!(
                "{} trailing bytes",
                bytes.len() - used
            )));
        }
        proof.check_shape()?;
        // bincode accepts non-minimal varints; re-encoding pins one byte string per proof.
        if proof.to_bytes() != bytes {
            return Err(MapProofError::Malformed("non-canonical encoding".into()));
        }
        Ok(proof)
    }

    /// Checks the format version and the sibling bound, the parts of a proof's shape that do not
    /// depend on the key.
    ///
    /// # Errors
    /// [`MapProofError::UnsupportedFormat`] or [`MapProofError::TooManySiblings`].
    pub fn check_shape(&self) -> Result<(), MapProofError> {
        if self.version != MAP_PROOF_FORMAT {
            return Err(MapProofError::UnsupportedFormat {
                version: self.version,
            });
        }
        if self.siblings.len() > MAX_MAP_PROOF_SIBLINGS {
            return Err(MapProofError::TooManySiblings {
                count: self.siblings.len(),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> MapProof {
        MapProof {
            version: MAP_PROOF_FORMAT,
            leaf: Some(MapLeaf {
                key_hash: Hash([1; 32]),
                value_hash: Hash([2; 32]),
            }),
            siblings: vec![Hash([3; 32]), Hash([4; 32])],
        }
    }

    #[test]
    fn bincode_layout_is_as_documented() {
        let bytes = sample().to_bytes();
        assert_eq!(bytes.len(), 1 + 1 + 64 + 1 + 2 * 32);
        assert_eq!(&bytes[..3], &[1, 1, 1]);
        assert_eq!(bytes[66], 2);
        assert_eq!(MapProof::from_bytes(&bytes).unwrap(), sample());
    }

    #[test]
    fn json_uses_base64() {
        let json = serde_json::to_string(&sample()).unwrap();
        assert!(
            json.starts_with(r#"{"version":1,"leaf":{"key_hash":"AQEB"#),
            "{json}"
        );
        let back: MapProof = serde_json::from_str(&json).unwrap();
        assert_eq!(back, sample());
    }

    #[test]
    fn decoding_rejects_garbage() {
        let bytes = sample().to_bytes();
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert!(MapProof::from_bytes(&trailing).is_err());
        assert!(MapProof::from_bytes(&bytes[..bytes.len() - 1]).is_err());
        let mut other_format = bytes.clone();
        other_format[0] = 2;
        assert!(matches!(
            MapProof::from_bytes(&other_format),
            Err(MapProofError::UnsupportedFormat { version: 2 })
        ));
        // A huge claimed sibling count is refused before allocating.
        let huge = [1u8, 0, 0xfd, 0xff, 0xff, 0xff, 0xff];
        assert!(MapProof::from_bytes(&huge).is_err());
        let too_many = MapProof {
            siblings: vec![Hash::default(); MAX_MAP_PROOF_SIBLINGS + 1],
            ..sample()
        };
        assert!(MapProof::from_bytes(&too_many.to_bytes()).is_err());
    }
}

//! Hashes and the tree hasher (DESIGN §3, normative).
//!
//! Leaves hash as `H(0x00 ‖ leaf_bytes)`, interior nodes as `H(0x01 ‖ left ‖ right)`, the empty tree
//! as `H("")`. Production logs use BLAKE3; the same Merkle code runs with SHA-256 against the
//! public RFC 6962 conformance vectors.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

/// Length in bytes of every hash in the protocol.
pub const HASH_LEN: usize = 32;

/// A 32-byte hash: a leaf hash, an interior node, a tree root or a map root.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Hash(pub [u8; HASH_LEN]);

impl Hash {
    /// The hash's bytes.
    pub fn as_bytes(&self) -> &[u8; HASH_LEN] {
        &self.0
    }

    /// Standard base64, as used in checkpoints and the JSON API.
    pub fn to_base64(&self) -> String {
        BASE64.encode(self.0)
    }

    /// Parses standard base64 of exactly 32 bytes.
    ///
    /// # Errors
    /// `None` if the text is not base64 or does not decode to 32 bytes.
    pub fn from_base64(text: &str) -> Option<Self> {
        let bytes = BASE64.decode(text).ok()?;
        Some(Self(bytes.try_into().ok()?))
    }

    /// Lowercase hexadecimal, for logs and reports.
    pub fn to_hex(&self) -> String {
        use fmt::Write as _;
        self.0.iter().fold(String::with_capacity(64), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({})", self.to_hex())
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_base64())
    }
}

impl From<[u8; HASH_LEN]> for Hash {
    fn from(bytes: [u8; HASH_LEN]) -> Self {
        Self(bytes)
    }
}

impl serde::Serialize for Hash {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        crate::keys::serialize_bytes(&self.0, serializer)
    }
}

impl<'de> serde::Deserialize<'de> for Hash {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        crate::keys::deserialize_bytes(deserializer).map(Self)
    }
}

/// Domain separation prefix of a leaf hash.
pub const LEAF_PREFIX: u8 = 0x00;
/// Domain separation prefix of an interior node hash.
pub const NODE_PREFIX: u8 = 0x01;

/// The hash function of a Merkle tree, with RFC 6962 domain separation.
pub trait TreeHasher: Clone + Send + Sync + 'static {
    /// `H(0x00 ‖ leaf)`.
    fn hash_leaf(&self, leaf: &[u8]) -> Hash;
    /// `H(0x01 ‖ left ‖ right)`.
    fn hash_children(&self, left: &Hash, right: &Hash) -> Hash;
    /// `H("")`, the root of the empty tree.
    fn empty_root(&self) -> Hash;
}

/// BLAKE3, the production hash.
#[derive(Clone, Copy, Debug, Default)]
pub struct Blake3;

impl TreeHasher for Blake3 {
    fn hash_leaf(&self, leaf: &[u8]) -> Hash {
        let mut h = blake3::Hasher::new();
        h.update(&[LEAF_PREFIX]);
        h.update(leaf);
        Hash(*h.finalize().as_bytes())
    }

    fn hash_children(&self, left: &Hash, right: &Hash) -> Hash {
        let mut buf = [0u8; 1 + 2 * HASH_LEN];
        buf[0] = NODE_PREFIX;
        buf[1..33].copy_from_slice(&left.0);
        buf[33..].copy_from_slice(&right.0);
        Hash(*blake3::hash(&buf).as_bytes())
    }

    fn empty_root(&self) -> Hash {
        Hash(*blake3::hash(b"").as_bytes())
    }
}

/// SHA-256, used to run the Merkle code against the RFC 6962 conformance vectors.
#[derive(Clone, Copy, Debug, Default)]
pub struct Sha256;

impl TreeHasher for Sha256 {
    fn hash_leaf(&self, leaf: &[u8]) -> Hash {
        use sha2::Digest as _;
        let mut h = sha2::Sha256::new();
        h.update([LEAF_PREFIX]);
        h.update(leaf);
        Hash(h.finalize().into())
    }

    fn hash_children(&self, left: &Hash, right: &Hash) -> Hash {
        use sha2::Digest as _;
        let mut h = sha2::Sha256::new();
        h.update([NODE_PREFIX]);
        h.update(left.0);
        h.update(right.0);
        Hash(h.finalize().into())
    }

    fn empty_root(&self) -> Hash {
        use sha2::Digest as _;
        Hash(sha2::Sha256::digest(b"").into())
    }
}

/// Plain BLAKE3 over the concatenation of `parts`: the protocol's other hashes (map keys, the
/// history chain) are built from domain-tagged parts with it.
pub fn blake3_parts(parts: &[&[u8]]) -> Hash {
    let mut h = blake3::Hasher::new();
    for part in parts {
        h.update(part);
    }
    Hash(*h.finalize().as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_empty_root_is_the_rfc_value() {
        assert_eq!(
            Sha256.empty_root().to_hex(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn blake3_separates_leaves_from_nodes() {
        let a = Blake3.hash_leaf(b"x");
        let b = Blake3.hash_children(&a, &a);
        let mut fake_leaf = vec![];
        fake_leaf.extend_from_slice(&a.0);
        fake_leaf.extend_from_slice(&a.0);
        assert_ne!(Blake3.hash_leaf(&fake_leaf), b);
    }

    #[test]
    fn base64_round_trip_and_rejects_wrong_length() {
        let h = Blake3.hash_leaf(b"abc");
        assert_eq!(Hash::from_base64(&h.to_base64()), Some(h));
        assert_eq!(Hash::from_base64("AAAA"), None);
        assert_eq!(Hash::from_base64("not base64!"), None);
    }
}

//! BLAKE3 for the Jellyfish Merkle Tree, and the tree's hash rules written out in our own code.
//!
//! `jmt` 0.12 asks for a `SimpleHasher` (its own trait; its blanket impl targets `digest` 0.10,
//! while blake3 1.8 implements `digest` 0.11), so `Blake3Jmt` (feature `reference-jmt`) adapts
//! `blake3::Hasher` by hand.
//! The free functions restate how `jmt` hashes values, leaves and internal nodes, so that proof
//! verification ([`crate::verify::verify_account_proof`]) needs no `jmt` code; a unit test pins
//! them to `jmt`'s constants.

use crate::hash::Hash;

/// `jmt`'s hash of an empty subtree: a fixed string rather than a hash output.
pub(crate) const PLACEHOLDER: [u8; 32] = *b"SPARSE_MERKLE_PLACEHOLDER_HASH__";
/// `jmt`'s domain tag of a leaf hash.
const LEAF_DOMAIN: &[u8] = b"JMT::LeafNode";
/// `jmt`'s domain tag of an internal node hash ("chop a vowel to fit in 16 bytes").
const INTERNAL_DOMAIN: &[u8] = b"JMT::IntrnalNode";

/// BLAKE3 behind `jmt::SimpleHasher`.
#[cfg(feature = "reference-jmt")]
#[derive(Debug, Default, Clone)]
pub(crate) struct Blake3Jmt(blake3::Hasher);

#[cfg(feature = "reference-jmt")]
impl jmt::SimpleHasher for Blake3Jmt {
    fn new() -> Self {
        Self(blake3::Hasher::new())
    }

    fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }

    fn finalize(self) -> [u8; 32] {
        *self.0.finalize().as_bytes()
    }
}

/// The hash `jmt` stores for a value: plain BLAKE3 of the value bytes, with no domain tag.
///
/// That is safe here because a value hash only ever enters the tree inside [`leaf_hash`], which
/// is tagged; and the per-account salt inside every record keeps a value hash from revealing the
/// record to someone who could guess it.
pub(crate) fn value_hash(value: &[u8]) -> Hash {
    Hash(*blake3::hash(value).as_bytes())
}

/// `BLAKE3("JMT::LeafNode" ‖ key hash ‖ value hash)`.
pub(crate) fn leaf_hash(key_hash: &[u8; 32], value_hash: &[u8; 32]) -> Hash {
    let mut h = blake3::Hasher::new();
    h.update(LEAF_DOMAIN);
    h.update(key_hash);
    h.update(value_hash);
    Hash(*h.finalize().as_bytes())
}

/// `BLAKE3("JMT::IntrnalNode" ‖ left ‖ right)`.
pub(crate) fn internal_hash(left: &[u8; 32], right: &[u8; 32]) -> Hash {
    let mut h = blake3::Hasher::new();
    h.update(INTERNAL_DOMAIN);
    h.update(left);
    h.update(right);
    Hash(*h.finalize().as_bytes())
}

#[cfg(all(test, feature = "reference-jmt"))]
mod tests {
    use jmt::SimpleHasher as _;

    use super::*;

    #[test]
    fn constants_are_jmts() {
        assert_eq!(LEAF_DOMAIN, jmt::proof::LEAF_DOMAIN_SEPARATOR);
        assert_eq!(INTERNAL_DOMAIN, jmt::proof::INTERNAL_DOMAIN_SEPARATOR);
    }

    #[test]
    fn adapter_is_blake3() {
        let mut h = Blake3Jmt::new();
        h.update(b"ab");
        h.update(b"c");
        assert_eq!(h.finalize(), *blake3::hash(b"abc").as_bytes());
        assert_eq!(Blake3Jmt::hash(b"abc"), value_hash(b"abc").0);
    }
}

//! Cross-check of our roots against an independent implementation, rs_merkle 1.5.0.
//!
//! rs_merkle builds its tree bottom-up and promotes an odd last node unchanged to the next
//! level; with RFC 6962's `0x01` node prefix that is the same left-balanced tree as RFC 9162's
//! largest-power-of-two split, so the roots must agree for every size. Only `from_leaves` is used:
//! its `commit` is O(n) per call (DESIGN §10).

use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{Rng as _, SeedableRng as _};
use rs_merkle::MerkleTree;
use testigo_ledger::merkle::{MemoryStore, root};
use testigo_ledger::{Hash, Sha256, TreeHasher};

/// RFC 6962 hashing with SHA-256 in rs_merkle's terms: inputs are already leaf hashes, and a lone
/// right-most node moves up as it is.
#[derive(Clone)]
struct Rfc6962Sha256;

impl rs_merkle::Hasher for Rfc6962Sha256 {
    type Hash = [u8; 32];

    fn hash(data: &[u8]) -> [u8; 32] {
        Sha256.hash_leaf(data).0
    }

    fn concat_and_hash(left: &[u8; 32], right: Option<&[u8; 32]>) -> [u8; 32] {
        match right {
            Some(right) => Sha256.hash_children(&Hash(*left), &Hash(*right)).0,
            None => *left,
        }
    }
}

fn leaves(n: u64) -> Vec<Hash> {
    (0..n).map(|i| Sha256.hash_leaf(&i.to_le_bytes())).collect()
}

fn rs_merkle_root(leaves: &[Hash]) -> Hash {
    let raw: Vec<[u8; 32]> = leaves.iter().map(|h| h.0).collect();
    Hash(
        MerkleTree::<Rfc6962Sha256>::from_leaves(&raw)
            .root()
            .expect("non-empty tree"),
    )
}

#[test]
fn roots_equal_rs_merkle_for_every_size_up_to_2000() {
    let leaves = leaves(2000);
    let mut store = MemoryStore::new();
    for (n, leaf) in (1..).zip(&leaves) {
        let appended = store
            .append(&Sha256, std::slice::from_ref(leaf))
            .unwrap()
            .root;
        let theirs = rs_merkle_root(&leaves[..n]);
        assert_eq!(
            appended, theirs,
            "root of {n} leaves, appended one at a time"
        );
    }
    for n in 1..=2000u64 {
        let theirs = rs_merkle_root(&leaves[..n as usize]);
        assert_eq!(
            root(&Sha256, &store, n).unwrap(),
            theirs,
            "root({n}) read back"
        );
    }
}

#[test]
fn roots_equal_rs_merkle_at_random_sizes_up_to_a_million() {
    const MAX: u64 = 1_000_000;
    let leaves = leaves(MAX);
    let mut store = MemoryStore::new();
    for batch in leaves.chunks(10_000) {
        store.append(&Sha256, batch).unwrap();
    }
    let mut rng = ChaCha8Rng::seed_from_u64(0x7e57_1602);
    let mut sizes: Vec<u64> = (0..3).map(|_| 1 + rng.next_u64() % MAX).collect();
    sizes.extend([MAX, (1 << 19) + 1]);
    for n in sizes {
        let theirs = rs_merkle_root(&leaves[..n as usize]);
        assert_eq!(root(&Sha256, &store, n).unwrap(), theirs, "root({n})");
    }
}

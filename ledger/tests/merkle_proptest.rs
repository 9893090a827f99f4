//! Properties where the Merkle code could lie (STYLE 16): every generated proof verifies, every
//! single-bit change makes it fail, and no input, however malformed, panics.
//!
//! A note on sizes: an RFC 9162 proof does not commit to the tree size on its own. A proof for
//! leaf 0 of a 6-leaf tree hashes exactly like one for a 7-leaf tree, so it verifies against the
//! *same* root with size 7. What binds the size is the checkpoint, which signs size and root
//! together. The property that matters, and the one checked, is that a proof never verifies
//! against the genuine root of a different size. Flips above the size's top bit cannot even
//! produce the right proof length, so those are checked against the original root.
//!
//! The runner uses a fixed seed, so a failure reproduces on every run.

use std::sync::OnceLock;

use proptest::prelude::*;
use proptest::test_runner::RngSeed;
use testigo_ledger::merkle::{MemoryStore, consistency_proof, inclusion_proof_with_leaf, root};
use testigo_ledger::verify::{
    consistency_proof_len, inclusion_proof_len, root_from_inclusion_proof, verify_consistency,
    verify_inclusion,
};
use testigo_ledger::{Blake3, Hash, TreeHasher};

/// Largest tree the properties pick; the store is built to the next power of two so that the
/// genuine root of every size reachable by flipping a bit below the top bit is available.
const MAX_SIZE: u64 = 10_000;
const BUILT: u64 = 16_384;

fn store() -> &'static MemoryStore {
    static STORE: OnceLock<MemoryStore> = OnceLock::new();
    STORE.get_or_init(|| {
        let leaves: Vec<Hash> = (0..BUILT)
            .map(|i| Blake3.hash_leaf(&i.to_be_bytes()))
            .collect();
        let mut store = MemoryStore::new();
        store.append(&Blake3, &leaves).unwrap();
        store
    })
}

fn root_of(size: u64) -> Hash {
    root(&Blake3, store(), size).unwrap()
}

fn flip(hash: &Hash, bit: usize) -> Hash {
    let mut out = *hash;
    out.0[bit / 8] ^= 1 << (bit % 8);
    out
}

/// Every tree size reachable from `size` by flipping one bit, and the root to check against:
/// the genuine root of that size when it exists in the store, else the original root.
fn flipped_sizes(size: u64, original_root: Hash) -> impl Iterator<Item = (u64, Hash)> {
    (0..64).map(move |bit| {
        let flipped = size ^ (1 << bit);
        let against = if flipped < BUILT {
            root_of(flipped)
        } else {
            original_root
        };
        (flipped, against)
    })
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        rng_seed: RngSeed::Fixed(0x7e57_160d),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn inclusion_proofs_verify_and_every_bit_flip_fails(
        size in 1..=MAX_SIZE,
        pick in any::<u64>(),
    ) {
        let index = pick % size;
        let (leaf, proof) = inclusion_proof_with_leaf(&Blake3, store(), index, size).unwrap();
        let good = root_of(size);
        prop_assert_eq!(proof.len(), inclusion_proof_len(index, size));
        prop_assert!(verify_inclusion(&Blake3, index, size, &leaf, &proof, &good).is_ok());

        for i in 0..proof.len() {
            for bit in 0..256 {
                let mut bad = proof.clone();
                bad[i] = flip(&bad[i], bit);
                prop_assert!(
                    verify_inclusion(&Blake3, index, size, &leaf, &bad, &good).is_err(),
                    "proof[{}] bit {} flipped", i, bit
                );
            }
        }
        for bit in 0..256 {
            let bad_root = flip(&good, bit);
            prop_assert!(verify_inclusion(&Blake3, index, size, &leaf, &proof, &bad_root).is_err());
            let bad_leaf = flip(&leaf, bit);
            prop_assert!(verify_inclusion(&Blake3, index, size, &bad_leaf, &proof, &good).is_err());
        }
        for bit in 0..64 {
            let other = index ^ (1 << bit);
            prop_assert!(
                verify_inclusion(&Blake3, other, size, &leaf, &proof, &good).is_err(),
                "index {} accepted for leaf {}", other, index
            );
        }
        for (other, against) in flipped_sizes(size, good) {
            prop_assert!(
                verify_inclusion(&Blake3, index, other, &leaf, &proof, &against).is_err(),
                "proof for size {} accepted for size {}", size, other
            );
        }
    }

    #[test]
    fn consistency_proofs_verify_and_every_bit_flip_fails(
        to in 2..=MAX_SIZE,
        pick in any::<u64>(),
    ) {
        let from = 1 + pick % (to - 1);
        let proof = consistency_proof(&Blake3, store(), from, to).unwrap();
        let (old, new) = (root_of(from), root_of(to));
        prop_assert_eq!(proof.len(), consistency_proof_len(from, to));
        prop_assert!(verify_consistency(&Blake3, from, to, &old, &new, &proof).is_ok());

        for i in 0..proof.len() {
            for bit in 0..256 {
                let mut bad = proof.clone();
                bad[i] = flip(&bad[i], bit);
                prop_assert!(
                    verify_consistency(&Blake3, from, to, &old, &new, &bad).is_err(),
                    "proof[{}] bit {} flipped", i, bit
                );
            }
        }
        for bit in 0..256 {
            let (bad_old, bad_new) = (flip(&old, bit), flip(&new, bit));
            prop_assert!(verify_consistency(&Blake3, from, to, &bad_old, &new, &proof).is_err());
            prop_assert!(verify_consistency(&Blake3, from, to, &old, &bad_new, &proof).is_err());
        }
        for (other, against) in flipped_sizes(from, old) {
            prop_assert!(
                verify_consistency(&Blake3, other, to, &against, &new, &proof).is_err(),
                "proof from {} accepted from {}", from, other
            );
        }
        for (other, against) in flipped_sizes(to, new) {
            prop_assert!(
                verify_consistency(&Blake3, from, other, &old, &against, &proof).is_err(),
                "proof to {} accepted to {}", to, other
            );
        }
    }

    #[test]
    fn garbage_never_panics(
        index in size_strategy(),
        size in size_strategy(),
        from in size_strategy(),
        to in size_strategy(),
        proof in prop::collection::vec(any::<[u8; 32]>(), 0..70),
        roots in any::<([u8; 32], [u8; 32])>(),
    ) {
        let proof: Vec<Hash> = proof.into_iter().map(Hash).collect();
        let (root1, root2) = (Hash(roots.0), Hash(roots.1));
        let leaf = Hash(roots.0);
        inclusion_proof_len(index, size);
        consistency_proof_len(from, to);
        let _ = root_from_inclusion_proof(&Blake3, index, size, &leaf, &proof);
        // Accepting random bytes would take a hash collision.
        prop_assert!(verify_inclusion(&Blake3, index, size, &leaf, &proof, &root2).is_err());
        // Not even from the empty tree: no proof from size 0 is accepted (RFC 9162).
        prop_assert!(verify_consistency(&Blake3, from, to, &root1, &root2, &proof).is_err());

        // Proof generation with nonsense parameters errs; it never panics.
        let small = MemoryStore::new();
        let generated = inclusion_proof_with_leaf(&Blake3, &small, index, size);
        prop_assert!(generated.is_err());
        let generated = consistency_proof(&Blake3, &small, from, to);
        prop_assert_eq!(generated.is_ok(), from <= to && (from == 0 || from == to));
        let generated = inclusion_proof_with_leaf(&Blake3, store(), index, size);
        prop_assert_eq!(generated.is_ok(), index < size && size <= BUILT);
        let generated = consistency_proof(&Blake3, store(), from, to);
        prop_assert_eq!(generated.is_ok(), from <= to && (to <= BUILT || from == 0 || from == to));
    }
}

fn size_strategy() -> impl Strategy<Value = u64> {
    prop_oneof![
        0..20u64,
        0..=BUILT + 1,
        any::<u64>(),
        (u64::MAX - 20)..=u64::MAX
    ]
}

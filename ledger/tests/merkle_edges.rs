//! Precise errors, misbehaving stores, and trees near `u64::MAX` leaves.

use std::error::Error as _;

use testigo_ledger::merkle::{
    CountingReader, HashReader, MemoryStore, MerkleError, NodeId, StoreError, consistency_proof,
    inclusion_proof, inclusion_proof_with_leaf, integrate, root,
};
use testigo_ledger::verify::{verify_consistency, verify_inclusion};
use testigo_ledger::{Blake3, Hash, TreeHasher};

/// A virtual tree of any size up to `u64::MAX` whose leaves are all the same hash, so every
/// perfect subtree of a level has the same, genuinely computed, hash. It lets proofs at sizes
/// no store could hold be generated and verified.
#[derive(Debug)]
struct UniformTree {
    by_level: Vec<Hash>,
}

impl UniformTree {
    fn new() -> Self {
        let mut by_level = vec![Blake3.hash_leaf(b"same")];
        for level in 0..63 {
            let below = by_level[level];
            by_level.push(Blake3.hash_children(&below, &below));
        }
        Self { by_level }
    }
}

impl HashReader for UniformTree {
    fn read_hashes(&self, ids: &[NodeId]) -> Result<Vec<Hash>, StoreError> {
        ids.iter()
            .map(
                |id| match (id.leaves(), self.by_level.get(usize::from(id.level))) {
                    (Some(_), Some(hash)) => Ok(*hash),
                    _ => Err(StoreError::Missing(*id)),
                },
            )
            .collect()
    }
}

fn small_store(n: u64) -> MemoryStore {
    let mut store = MemoryStore::new();
    let leaves: Vec<Hash> = (0..n).map(|i| Blake3.hash_leaf(&i.to_be_bytes())).collect();
    store.append(&Blake3, &leaves).unwrap();
    store
}

#[test]
fn bad_arguments_get_precise_errors() {
    let store = small_store(10);
    for (index, size) in [(0, 0), (10, 10), (11, 10), (u64::MAX, 3)] {
        let err = inclusion_proof(&Blake3, &store, index, size).unwrap_err();
        assert!(
            matches!(err, MerkleError::IndexOutOfRange { index: i, size: s } if (i, s) == (index, size)),
            "{err}"
        );
    }
    let err = consistency_proof(&Blake3, &store, 5, 4).unwrap_err();
    assert!(
        matches!(err, MerkleError::SizesReversed { from: 5, to: 4 }),
        "{err}"
    );
    assert!(consistency_proof(&Blake3, &store, 0, 7).unwrap().is_empty());
    assert!(consistency_proof(&Blake3, &store, 7, 7).unwrap().is_empty());

    let err = root(&Blake3, &store, 11).unwrap_err();
    assert!(
        matches!(err, MerkleError::NotStored { size: 11, missing } if missing == NodeId::leaf(10)),
        "{err}"
    );
    let err = inclusion_proof(&Blake3, &store, 10, 11).unwrap_err();
    assert!(
        matches!(err, MerkleError::NotStored { size: 11, .. }),
        "{err}"
    );
    let err = consistency_proof(&Blake3, &store, 3, 12).unwrap_err();
    assert!(
        matches!(err, MerkleError::NotStored { size: 12, .. }),
        "{err}"
    );
    let err = integrate(&Blake3, &store, 12, &[Hash::default()]).unwrap_err();
    assert!(
        matches!(err, MerkleError::NotStored { size: 12, .. }),
        "{err}"
    );
}

#[test]
fn integrate_refuses_to_overflow_the_size() {
    let tree = UniformTree::new();
    let leaf = tree.by_level[0];
    let err = integrate(&Blake3, &tree, u64::MAX, &[leaf]).unwrap_err();
    assert!(
        matches!(
            err,
            MerkleError::SizeOverflow {
                size: u64::MAX,
                added: 1
            }
        ),
        "{err}"
    );
    let err = integrate(&Blake3, &tree, u64::MAX - 3, &[leaf; 4]).unwrap_err();
    assert!(
        matches!(err, MerkleError::SizeOverflow { added: 4, .. }),
        "{err}"
    );
}

#[test]
fn integrate_reaches_u64_max_and_completes_level_63() {
    let tree = UniformTree::new();
    let leaf = tree.by_level[0];
    let out = integrate(&Blake3, &tree, u64::MAX - 3, &[leaf; 3]).unwrap();
    assert_eq!(out.new_size, u64::MAX);
    assert_eq!(out.root, root(&Blake3, &tree, u64::MAX).unwrap());
    assert_eq!(out.writes[0], (NodeId::leaf(u64::MAX - 3), leaf));
    assert_eq!(out.writes.last().unwrap().0, NodeId::leaf(u64::MAX - 1));

    // The last leaf of the left half completes the largest subtree any tree can have.
    let out = integrate(&Blake3, &tree, (1 << 63) - 1, &[leaf]).unwrap();
    assert_eq!(out.writes.len(), 64);
    assert_eq!(
        *out.writes.last().unwrap(),
        (NodeId::new(63, 0), tree.by_level[63])
    );
    assert_eq!(out.root, tree.by_level[63]);
}

#[test]
fn proofs_near_u64_max_verify_and_stay_logarithmic() {
    let tree = CountingReader::new(UniformTree::new());
    let leaf = tree.inner().by_level[0];
    let top = 1u64 << 63;
    let sizes = [u64::MAX, u64::MAX - 1, top + 1, top, top - 1];
    for size in sizes {
        let size_root = root(&Blake3, &tree, size).unwrap();
        for index in [0, 1, top - 1, top, size - 2, size - 1]
            .into_iter()
            .filter(|&i| i < size)
        {
            tree.reset();
            let (got, proof) = inclusion_proof_with_leaf(&Blake3, &tree, index, size).unwrap();
            assert_eq!(got, leaf);
            assert_eq!(tree.calls(), 1);
            assert!(tree.ids_read() <= 2 * 64 + 2, "{} ids", tree.ids_read());
            verify_inclusion(&Blake3, index, size, &leaf, &proof, &size_root)
                .unwrap_or_else(|e| panic!("inclusion {index} in {size}: {e}"));
        }
        for from in [1, 2, 3, top - 1, top, top + 1, size - 1]
            .into_iter()
            .filter(|&f| f < size)
        {
            tree.reset();
            let proof = consistency_proof(&Blake3, &tree, from, size).unwrap();
            assert!(tree.ids_read() <= 2 * 64 + 2, "{} ids", tree.ids_read());
            let from_root = root(&Blake3, &tree, from).unwrap();
            verify_consistency(&Blake3, from, size, &from_root, &size_root, &proof)
                .unwrap_or_else(|e| panic!("consistency {from} to {size}: {e}"));
        }
    }
}

/// A store that answers with one hash too few, or fails outright.
#[derive(Debug)]
enum Broken {
    ShortRead,
    Failing,
}

impl HashReader for Broken {
    fn read_hashes(&self, ids: &[NodeId]) -> Result<Vec<Hash>, StoreError> {
        match self {
            Broken::ShortRead => Ok(vec![Hash::default(); ids.len() - 1]),
            Broken::Failing => Err(StoreError::backend(std::io::Error::other("disk on fire"))),
        }
    }
}

#[test]
fn misbehaving_stores_are_errors_not_panics() {
    let err = root(&Blake3, &Broken::ShortRead, 7).unwrap_err();
    assert!(
        matches!(err, MerkleError::WrongReadCount { asked: 3, got: 2 }),
        "{err}"
    );
    let err = inclusion_proof(&Blake3, &Broken::ShortRead, 0, 7).unwrap_err();
    assert!(matches!(err, MerkleError::WrongReadCount { .. }), "{err}");
    let err = integrate(&Blake3, &Broken::ShortRead, 7, &[]).unwrap_err();
    assert!(matches!(err, MerkleError::WrongReadCount { .. }), "{err}");

    let err = consistency_proof(&Blake3, &Broken::Failing, 3, 7).unwrap_err();
    assert!(
        matches!(err, MerkleError::Store(StoreError::Backend(_))),
        "{err}"
    );
    // The chain reaches the engine's own error, for logs and `anyhow` reports.
    let store_error = err.source().unwrap();
    assert_eq!(store_error.source().unwrap().to_string(), "disk on fire");
}

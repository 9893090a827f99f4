//! The conformance suite every tree store must pass (cargo feature `testing`).
//!
//! The node's redb and sled tile stores and [`MemoryStore`](super::MemoryStore) run the same
//! checks, the way akd ships `run_test_cases_for_storage_impl` for any backend:
//!
//! ```text
//! #[test]
//! fn redb_store_conforms() {
//!     let dir = tempfile::tempdir().unwrap();
//!     let mut n = 0;
//!     testigo_ledger::merkle::conformance::run_hash_store_conformance(|| {
//!         n += 1;
//!         RedbTreeStore::create(dir.path().join(format!("{n}.redb"))).unwrap()
//!     });
//! }
//! ```
//!
//! Failures panic with the name of the check, as test assertions do.

use super::{
    HashReader, HashWriter, Integration, MerkleError, NodeId, StoreError, consistency_proof,
    inclusion_proof_with_leaf, integrate, root,
};
use crate::hash::{Blake3, Hash, TreeHasher};
use crate::verify::{verify_consistency, verify_inclusion};

/// Runs every check against fresh stores from `make`; each call must return an empty store.
///
/// Checks: an empty store holds nothing; hashes round-trip and a read of many ids (reversed,
/// shuffled, repeated) answers in the order asked; missing ids, even impossible ones (level 255,
/// index `u64::MAX`), are [`StoreError::Missing`] and never a panic; rewriting stored pairs is
/// idempotent; appending one leaf at a time, in irregular batches or all at once gives the same
/// roots and proofs at every size; trees ending on and around 256-hash tile boundaries (255, 256,
/// 257 … 65535, 65536, 65537) have the reference roots, and their inclusion and consistency
/// proofs, including those for every past size, verify.
///
/// # Panics
/// On the first check the store fails, naming it.
pub fn run_hash_store_conformance<S: HashReader + HashWriter>(mut make: impl FnMut() -> S) {
    empty_store_holds_nothing(&make());
    round_trip_keeps_order(make());
    missing_ids_are_errors(make());
    rewrites_are_idempotent(make());
    append_granularity_does_not_matter(&mut make);
    tile_boundaries_and_past_sizes(make());
}

fn empty_store_holds_nothing<S: HashReader>(store: &S) {
    let read = store.read_hashes(&[]).expect("empty store: reading no ids");
    assert!(
        read.is_empty(),
        "empty store: reading no ids returned hashes"
    );
    let err = store
        .read_hashes(&[NodeId::leaf(0)])
        .expect_err("empty store: leaf 0 was found");
    assert!(
        matches!(err, StoreError::Missing(id) if id == NodeId::leaf(0)),
        "empty store: {err}"
    );
    assert_eq!(
        root(&Blake3, store, 0).expect("empty store: root(0)"),
        Blake3.empty_root()
    );
    let err = root(&Blake3, store, 1).expect_err("empty store: root(1) was computed");
    assert!(
        matches!(err, MerkleError::NotStored { size: 1, .. }),
        "empty store: {err}"
    );
}

fn round_trip_keeps_order<S: HashReader + HashWriter>(mut store: S) {
    let leaves = leaf_hashes(0, 1000);
    let out = append(&mut store, 0, &leaves, "round trip");
    assert_eq!(
        out.root,
        reference_root(&leaves),
        "round trip: integrate root"
    );
    let (ids, hashes): (Vec<NodeId>, Vec<Hash>) = out.writes.iter().copied().unzip();
    let read = store
        .read_hashes(&ids)
        .expect("round trip: reading every write");
    assert!(
        read == hashes,
        "round trip: hashes differ from the writes, or are out of order"
    );

    let reversed: Vec<NodeId> = ids.iter().rev().copied().collect();
    let read = store
        .read_hashes(&reversed)
        .expect("round trip: reversed read");
    assert!(
        read.iter().eq(hashes.iter().rev()),
        "round trip: reversed read out of order"
    );

    let mut rng = SplitMix64(7);
    let picks: Vec<usize> = (0..3000)
        .map(|_| rng.below(ids.len() as u64) as usize)
        .collect();
    let shuffled: Vec<NodeId> = picks.iter().map(|&i| ids[i]).collect();
    let read = store
        .read_hashes(&shuffled)
        .expect("round trip: shuffled read with repeats");
    assert!(
        read.iter().eq(picks.iter().map(|&i| &hashes[i])),
        "round trip: shuffled read with repeats out of order"
    );
    assert_eq!(
        root(&Blake3, &store, 1000).expect("round trip: root"),
        out.root
    );
}

fn missing_ids_are_errors<S: HashReader + HashWriter>(mut store: S) {
    let leaves = leaf_hashes(0, 300);
    append(&mut store, 0, &leaves, "missing ids");
    let missing = [
        NodeId::leaf(300),
        NodeId::new(1, 150),
        NodeId::new(8, 1),
        NodeId::new(9, 0),
        NodeId::new(40, u64::MAX >> 40),
        NodeId::new(63, 0),
        NodeId::new(63, 1),
        NodeId::new(64, 0),
        NodeId::leaf(u64::MAX),
        NodeId::new(u8::MAX, u64::MAX),
    ];
    for id in missing {
        for ids in [vec![id], vec![NodeId::leaf(0), id, NodeId::leaf(299)]] {
            match store.read_hashes(&ids) {
                Err(StoreError::Missing(got)) if got == id => {}
                other => panic!("missing ids: reading {ids:?} gave {other:?}, not Missing({id})"),
            }
        }
    }
    let read = store.read_hashes(&[NodeId::new(8, 0), NodeId::leaf(299)]);
    let read = read.expect("missing ids: stored ids unreadable after failed reads");
    assert_eq!(read[1], leaves[299], "missing ids: leaf 299");
    assert_eq!(
        read[0],
        reference_root(&leaves[..256]),
        "missing ids: node (8, 0)"
    );
}

fn rewrites_are_idempotent<S: HashReader + HashWriter>(mut store: S) {
    let leaves = leaf_hashes(0, 305);
    let out = append(&mut store, 0, &leaves[..300], "rewrites");
    store
        .write_hashes(&out.writes)
        .expect("rewrites: writing the same pairs again");
    store
        .write_hashes(&out.writes[out.writes.len() - 10..])
        .expect("rewrites: a tail again");
    assert_eq!(
        root(&Blake3, &store, 300).expect("rewrites: root"),
        out.root
    );
    let out = append(&mut store, 300, &leaves[300..], "rewrites");
    assert_eq!(
        out.root,
        reference_root(&leaves),
        "rewrites: appending after rewrites"
    );
}

fn append_granularity_does_not_matter<S: HashReader + HashWriter>(make: &mut impl FnMut() -> S) {
    const N: usize = 600;
    let leaves = leaf_hashes(0, N as u64);
    let mut roots = vec![Blake3.empty_root()];
    let mut one = make();
    for (size, leaf) in leaves.iter().enumerate() {
        let out = append(
            &mut one,
            size as u64,
            std::slice::from_ref(leaf),
            "one at a time",
        );
        roots.push(out.root);
    }
    let mut batched = make();
    let mut size = 0;
    for batch in [1, 2, 3, 250, 7, 256, 64, 17].iter().cycle() {
        let end = (size + batch).min(N);
        let out = append(&mut batched, size as u64, &leaves[size..end], "batched");
        assert_eq!(out.root, roots[end], "batched: root at size {end}");
        size = end;
        if size == N {
            break;
        }
    }
    let mut whole = make();
    append(&mut whole, 0, &leaves, "all at once");

    let stores = [&one, &batched, &whole];
    for (size, want) in roots.iter().enumerate() {
        assert_eq!(
            *want,
            reference_root(&leaves[..size]),
            "granularity: reference root {size}"
        );
        for store in stores {
            let got = root(&Blake3, store, size as u64).expect("granularity: past root");
            assert_eq!(got, *want, "granularity: root({size}) read back");
        }
    }
    let sizes = [1u64, 2, 3, 255, 256, 257, 511, 512, 513, 600];
    for &to in &sizes {
        for index in [0, 1, to / 2, to.saturating_sub(2), to - 1, 255, 256] {
            if index >= to {
                continue;
            }
            let proofs = stores.map(|s| inclusion_proof_with_leaf(&Blake3, s, index, to));
            let (leaf, proof) = proofs[0].as_ref().expect("granularity: inclusion proof");
            for other in &proofs[1..] {
                assert_eq!(
                    other.as_ref().ok(),
                    Some(&(*leaf, proof.clone())),
                    "granularity: proofs"
                );
            }
            verify_inclusion(&Blake3, index, to, leaf, proof, &roots[to as usize])
                .expect("granularity: inclusion proof verifies");
        }
        for &from in sizes.iter().filter(|&&from| from <= to) {
            let proofs = stores.map(|s| consistency_proof(&Blake3, s, from, to));
            let proof = proofs[0].as_ref().expect("granularity: consistency proof");
            for other in &proofs[1..] {
                assert_eq!(
                    other.as_ref().ok(),
                    Some(proof),
                    "granularity: consistency proofs"
                );
            }
            let (old, new) = (&roots[from as usize], &roots[to as usize]);
            verify_consistency(&Blake3, from, to, old, new, proof)
                .expect("granularity: consistency proof verifies");
        }
    }
}

fn tile_boundaries_and_past_sizes<S: HashReader + HashWriter>(mut store: S) {
    const TARGETS: [u64; 10] = [255, 256, 257, 511, 512, 513, 65535, 65536, 65537, 65793];
    let leaves = leaf_hashes(0, TARGETS[TARGETS.len() - 1]);
    let mut roots = Vec::new();
    let mut size = 0u64;
    for target in TARGETS {
        while size < target {
            let end = (size + 4096).min(target);
            append(
                &mut store,
                size,
                &leaves[size as usize..end as usize],
                "tile boundaries",
            );
            size = end;
        }
        let want = reference_root(&leaves[..target as usize]);
        let got = root(&Blake3, &store, target).expect("tile boundaries: root");
        assert_eq!(got, want, "tile boundaries: root({target})");
        roots.push(want);
    }
    for (&to, to_root) in TARGETS.iter().zip(&roots) {
        assert_eq!(
            root(&Blake3, &store, to).expect("past root"),
            *to_root,
            "past root({to})"
        );
        for index in [0, 1, 254, 255, 256, 257, 65534, 65535, 65536, to - 1] {
            if index >= to {
                continue;
            }
            let (leaf, proof) = inclusion_proof_with_leaf(&Blake3, &store, index, to)
                .expect("tile boundaries: inclusion proof");
            assert_eq!(
                leaf, leaves[index as usize],
                "tile boundaries: leaf {index}"
            );
            verify_inclusion(&Blake3, index, to, &leaf, &proof, to_root)
                .expect("tile boundaries: inclusion proof verifies");
        }
        for (&from, from_root) in TARGETS.iter().zip(&roots).filter(|(from, _)| **from <= to) {
            let proof = consistency_proof(&Blake3, &store, from, to)
                .expect("tile boundaries: consistency proof");
            verify_consistency(&Blake3, from, to, from_root, to_root, &proof)
                .expect("tile boundaries: consistency proof verifies");
        }
    }
    let beyond = size + 1;
    let err = root(&Blake3, &store, beyond).expect_err("root beyond the stored tree");
    assert!(
        matches!(err, MerkleError::NotStored { .. }),
        "root beyond: {err}"
    );
    let err = inclusion_proof_with_leaf(&Blake3, &store, size, beyond)
        .expect_err("inclusion proof beyond the stored tree");
    assert!(
        matches!(err, MerkleError::NotStored { .. }),
        "inclusion beyond: {err}"
    );
    let err = consistency_proof(&Blake3, &store, 1, beyond)
        .expect_err("consistency proof beyond the stored tree");
    assert!(
        matches!(err, MerkleError::NotStored { .. }),
        "consistency beyond: {err}"
    );
}

/// Integrates and persists, panicking with `what` on failure.
fn append<S: HashReader + HashWriter>(
    store: &mut S,
    size: u64,
    leaves: &[Hash],
    what: &str,
) -> Integration {
    let out = integrate(&Blake3, &*store, size, leaves)
        .unwrap_or_else(|e| panic!("{what}: integrate at size {size}: {e}"));
    store
        .write_hashes(&out.writes)
        .unwrap_or_else(|e| panic!("{what}: writing at {size}: {e}"));
    out
}

fn leaf_hashes(start: u64, end: u64) -> Vec<Hash> {
    (start..end)
        .map(|i| Blake3.hash_leaf(&i.to_be_bytes()))
        .collect()
}

/// RFC 9162 §2.1.1 `MTH`, straight from the definition: the independent reference.
fn reference_root(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => Blake3.empty_root(),
        1 => leaves[0],
        n => {
            let k = 1 << (usize::BITS - 1 - (n - 1).leading_zeros());
            Blake3.hash_children(&reference_root(&leaves[..k]), &reference_root(&leaves[k..]))
        }
    }
}

/// A seeded generator, so that any failure reproduces (no `rand` in the library).
struct SplitMix64(u64);

impl SplitMix64 {
    fn below(&mut self, bound: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)) % bound
    }
}

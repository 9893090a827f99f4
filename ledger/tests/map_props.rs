//! Property tests of the state map: every proof verifies against a model, every changed byte
//! fails, and no input makes verification panic.

use std::collections::BTreeMap;

use proptest::collection::vec;
use proptest::prelude::*;
use testigo_ledger::Hash;
use testigo_ledger::map::{
    JmtStateMap, MapKey, MapLeaf, MapNodeStore, MapProof, MapUpdate, MemoryMapStore, StateMap,
};
use testigo_ledger::verify::verify_map_proof;

/// Keys from a small alphabet, so updates hit the same keys again and proofs share paths.
fn key(i: u8) -> MapKey {
    *blake3::hash(&[i]).as_bytes()
}

fn update() -> impl Strategy<Value = MapUpdate> {
    (
        0u8..40,
        prop::option::weighted(0.75, vec(any::<u8>(), 0..48)),
    )
        .prop_map(|(i, value)| (key(i), value))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Random versions of updates, with pruning, against a BTreeMap per version.
    #[test]
    fn map_matches_a_model(
        versions in vec(vec(update(), 0..24), 1..12),
        prune_every in 2u64..6,
    ) {
        let mut map = JmtStateMap::new(MemoryMapStore::new());
        let mut model: BTreeMap<MapKey, Vec<u8>> = BTreeMap::new();
        let mut history = Vec::new();
        for (version, updates) in versions.into_iter().enumerate() {
            let version = version as u64;
            for (k, v) in &updates {
                match v {
                    Some(v) => { model.insert(*k, v.clone()); }
                    None => { model.remove(k); }
                }
            }
            let root = map.apply(version, updates).unwrap();
            // The root depends only on the contents: a fresh map built from the model agrees.
            let mut fresh = JmtStateMap::new(MemoryMapStore::new());
            let contents = model.iter().map(|(k, v)| (*k, Some(v.clone()))).collect();
            prop_assert_eq!(fresh.apply(0, contents).unwrap(), root);
            history.push((root, model.clone()));
            if version % prune_every == prune_every - 1 {
                map.prune(version.saturating_sub(1)).unwrap();
            }
            let oldest = map.store().oldest_kept().unwrap();
            for (old, (old_root, old_model)) in history.iter().enumerate().skip(oldest as usize) {
                let old = old as u64;
                prop_assert_eq!(map.root(old).unwrap(), *old_root);
                for i in 0..40u8 {
                    let (value, proof) = map.prove(&key(i), old).unwrap();
                    prop_assert_eq!(value.as_ref(), old_model.get(&key(i)));
                    prop_assert!(verify_map_proof(old_root, &key(i), value.as_deref(), &proof).is_ok());
                }
            }
        }
    }

    /// Flipping any bit of a valid proof, of its value or of its root makes it fail.
    #[test]
    fn every_changed_byte_fails(
        contents in vec(update(), 1..30),
        probe in 0u8..40,
        flip in any::<prop::sample::Index>(),
        bit in 0u8..8,
    ) {
        let mut map = JmtStateMap::new(MemoryMapStore::new());
        let root = map.apply(0, contents).unwrap();
        let (value, proof) = map.prove(&key(probe), 0).unwrap();
        prop_assert!(verify_map_proof(&root, &key(probe), value.as_deref(), &proof).is_ok());

        let mut bytes = proof.to_bytes();
        let at = flip.index(bytes.len());
        bytes[at] ^= 1 << bit;
        if let Ok(bad) = MapProof::from_bytes(&bytes) {
            prop_assert!(verify_map_proof(&root, &key(probe), value.as_deref(), &bad).is_err(),
                "flipped bit {} of byte {} still verifies", bit, at);
        }
        let mut bad_root = root;
        bad_root.0[flip.index(32)] ^= 1 << bit;
        prop_assert!(verify_map_proof(&bad_root, &key(probe), value.as_deref(), &proof).is_err());
        if let Some(mut v) = value.clone() {
            if v.is_empty() { v.push(0) } else { let i = flip.index(v.len()); v[i] ^= 1 << bit; }
            prop_assert!(verify_map_proof(&root, &key(probe), Some(&v), &proof).is_err());
        }
    }

    /// Garbage never panics, in the decoder or in verification.
    #[test]
    fn garbage_never_panics(
        bytes in vec(any::<u8>(), 0..600),
        siblings in vec(any::<[u8; 32]>(), 0..300),
        leaf in prop::option::of((any::<[u8; 32]>(), any::<[u8; 32]>())),
        version in any::<u8>(),
        key in any::<[u8; 32]>(),
        value in prop::option::of(vec(any::<u8>(), 0..8)),
    ) {
        let _ = MapProof::from_bytes(&bytes);
        let proof = MapProof {
            version,
            leaf: leaf.map(|(k, v)| MapLeaf { key_hash: Hash(k), value_hash: Hash(v) }),
            siblings: siblings.into_iter().map(Hash).collect(),
        };
        let _ = verify_map_proof(&Hash(key), &key, value.as_deref(), &proof);
        let _ = MapProof::from_bytes(&proof.to_bytes());
    }
}

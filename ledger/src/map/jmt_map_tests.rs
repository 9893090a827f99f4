//! Tests that need jmt's own types: the proof conversion against jmt's verifier, node key
//! encoding, and pruning down to exactly the live tree.

use std::collections::BTreeMap;

use jmt::RootHash;
use jmt::storage::NibblePath;

use super::*;
use crate::map::{EMPTY_MAP_ROOT, MemoryMapStore};
use crate::verify::{MapProofError, map_root_from_proof, verify_map_proof};

fn key(i: u32) -> MapKey {
    *blake3::hash(&i.to_be_bytes()).as_bytes()
}

fn filled(n: u32) -> JmtStateMap<MemoryMapStore> {
    let mut map = JmtStateMap::new(MemoryMapStore::new());
    let updates = (0..n)
        .map(|i| (key(i), Some(i.to_le_bytes().to_vec())))
        .collect();
    map.apply(0, updates).unwrap();
    map
}

fn path(nibbles: &[u8]) -> NibblePath {
    nibbles.iter().map(|&n| n.into()).collect()
}

#[test]
fn empty_map_root_is_the_placeholder() {
    let mut map = JmtStateMap::new(MemoryMapStore::new());
    assert_eq!(map.apply(0, vec![]).unwrap(), EMPTY_MAP_ROOT);
    assert_eq!(map.root(0).unwrap(), EMPTY_MAP_ROOT);
    // Deleting the only key returns to the same root.
    map.apply(1, vec![(key(1), Some(b"v".to_vec()))]).unwrap();
    assert_eq!(map.apply(2, vec![(key(1), None)]).unwrap(), EMPTY_MAP_ROOT);
}

#[test]
fn node_keys_put_the_version_first_and_pack_nibbles() {
    assert_eq!(
        encode_node_key(&NodeKey::new(7, path(&[]))),
        root_node_key(7)
    );
    assert_eq!(
        encode_node_key(&NodeKey::new(0x0102, path(&[0xa, 0xb, 0xc]))),
        [0, 0, 0, 0, 0, 0, 1, 2, 3, 0xab, 0xc0]
    );
    // Odd and even paths with the same bytes stay distinct.
    assert_ne!(
        encode_node_key(&NodeKey::new(1, path(&[0xa]))),
        encode_node_key(&NodeKey::new(1, path(&[0xa, 0x0])))
    );
}

/// Our conversion and verifier against jmt's `SparseMerkleProof::verify` on the same proofs:
/// present and absent keys, right and wrong values, right and wrong roots.
#[test]
fn converted_proofs_agree_with_jmts_verifier() {
    let map = filled(300);
    let root = map.root(0).unwrap();
    let reader = Reader(map.store());
    let tree = Tree::new(&reader);
    for i in 0..400u32 {
        let k = key(i);
        let (value, jmt_proof) = tree.get_with_proof(KeyHash(k), 0).unwrap();
        let ours = convert_proof(&jmt_proof).unwrap();
        assert_eq!(value.is_some(), i < 300);
        let wrong_root = Hash([9; 32]);
        for (claim, root_) in [
            (value.as_deref(), root),
            (value.as_deref(), wrong_root),
            (Some(&b"other"[..]), root),
            (None, root),
        ] {
            let theirs = jmt_proof.verify(RootHash(root_.0), KeyHash(k), claim);
            let mine = verify_map_proof(&root_, &k, claim, &ours);
            assert_eq!(
                theirs.is_ok(),
                mine.is_ok(),
                "key {i}: {theirs:?} vs {mine:?}"
            );
        }
        if ours.leaf.is_some() {
            // jmt's own root computation (defined only when the proof has a leaf).
            assert_eq!(
                Hash(jmt_proof.root_hash().0),
                map_root_from_proof(&k, value.as_deref(), &ours).unwrap()
            );
        }
    }
}

#[test]
fn tampered_sibling_fails() {
    let map = filled(50);
    let root = map.root(0).unwrap();
    let (value, proof) = map.prove(&key(3), 0).unwrap();
    assert!(!proof.siblings.is_empty());
    for i in 0..proof.siblings.len() {
        let mut bad = proof.clone();
        bad.siblings[i].0[0] ^= 1;
        assert!(matches!(
            verify_map_proof(&root, &key(3), value.as_deref(), &bad),
            Err(MapProofError::RootMismatch { .. })
        ));
    }
}

/// Counts the nodes reachable from the root of `version`.
fn live_nodes(store: &MemoryMapStore, version: u64) -> usize {
    let mut stack = vec![NodeKey::new(version, path(&[]))];
    let mut count = 0;
    while let Some(node_key) = stack.pop() {
        let bytes = store
            .get_node(&encode_node_key(&node_key))
            .unwrap()
            .unwrap();
        count += 1;
        if let Node::Internal(internal) = decode_node(&bytes).unwrap() {
            for (nibble, child) in internal.children_sorted() {
                let child_path = node_key
                    .nibble_path()
                    .nibbles()
                    .chain(std::iter::once(nibble))
                    .collect();
                stack.push(NodeKey::new(child.version, child_path));
            }
        }
    }
    count
}

#[test]
fn pruning_to_the_latest_version_keeps_exactly_the_live_tree() {
    let mut map = JmtStateMap::new(MemoryMapStore::new());
    let mut model = BTreeMap::new();
    for version in 0..40u64 {
        let mut updates = vec![];
        for j in 0..25u32 {
            let i = (version as u32 * 7 + j * 13) % 120;
            // Every third touch deletes, and some versions change nothing at all.
            let value = (j % 3 != 0).then(|| format!("{version}/{j}").into_bytes());
            if version % 10 != 5 {
                updates.push((key(i), value));
            }
        }
        for (k, v) in &updates {
            match v {
                Some(v) => model.insert(*k, v.clone()),
                None => model.remove(k),
            };
        }
        map.apply(version, updates).unwrap();
    }
    let before = map.store().node_count();
    let stats = map.prune(39).unwrap();
    let store = map.store();
    assert_eq!(store.node_count(), live_nodes(store, 39));
    assert_eq!(before - store.node_count(), stats.nodes as usize);
    assert_eq!(store.value_count(), model.len());
    for (k, v) in &model {
        assert_eq!(map.get(k, 39).unwrap().as_ref(), Some(v));
    }
}

#[test]
fn store_failures_stay_store_errors() {
    let err = from_jmt(anyhow::Error::new(MapStoreError::Corrupt("x".into())).context("ctx"));
    assert!(matches!(err, MapError::Store(MapStoreError::Corrupt(_))));
    assert!(matches!(
        from_jmt(anyhow::anyhow!("tree bug")),
        MapError::Corrupt(_)
    ));
}

#[test]
fn an_undecodable_node_keeps_the_decoders_error() {
    match decode_node(&[0xff; 3]) {
        Err(e @ MapStoreError::Undecodable(_)) => {
            assert!(std::error::Error::source(&e).is_some(), "{e}")
        }
        other => panic!("expected Undecodable, got {other:?}"),
    }
}

/// Writes-only versions take jmt's batch path, versions with a deletion the per-key path: both
/// must give the same roots and prune to the same live tree.
#[test]
fn batch_and_per_key_paths_agree() {
    let mut batch_path = JmtStateMap::new(MemoryMapStore::new());
    let mut per_key_path = JmtStateMap::new(MemoryMapStore::new());
    let never_written = [0xee; 32];
    for version in 0..25u64 {
        let writes: Vec<MapUpdate> = (0..30u32)
            .map(|j| {
                let i = (version as u32 * 11 + j * 17) % 200;
                (key(i), Some(format!("{version}/{j}").into_bytes()))
            })
            .collect();
        let mut with_deletion = writes.clone();
        with_deletion.push((never_written, None));
        let root = batch_path.apply(version, writes).unwrap();
        assert_eq!(root, per_key_path.apply(version, with_deletion).unwrap());
    }
    batch_path.prune(24).unwrap();
    let store = batch_path.store();
    assert_eq!(store.node_count(), live_nodes(store, 24));
    // The 750 writes cover all 200 accounts; one value entry each survives.
    assert_eq!(store.value_count(), 200);
}

//! `SparseMap` through its public API: the tree's edge cases (empty, one key, the longest chain),
//! version rules, pruning and snapshots. `sparse_map_props.rs` compares it with jmt at random.

use testigo_ledger::Hash;
use testigo_ledger::map::{
    EMPTY_MAP_ROOT, JmtStateMap, MapError, MapKey, MapSnapshot, MapUpdate, MemoryMapStore,
    SparseMap, StateMap,
};
use testigo_ledger::verify::verify_map_proof;

fn key(i: u32) -> MapKey {
    *blake3::hash(&i.to_be_bytes()).as_bytes()
}

/// jmt's leaf hash, written out: `BLAKE3("JMT::LeafNode" ‖ key ‖ BLAKE3(value))`.
fn leaf_hash(key: &MapKey, value: &[u8]) -> Hash {
    let mut h = blake3::Hasher::new();
    h.update(b"JMT::LeafNode");
    h.update(key);
    h.update(blake3::hash(value).as_bytes());
    Hash(*h.finalize().as_bytes())
}

/// Applies the same versions to a `SparseMap` and to jmt, checking that the roots agree.
fn both(versions: &[Vec<MapUpdate>]) -> (SparseMap, JmtStateMap<MemoryMapStore>) {
    let mut sparse = SparseMap::new();
    let mut jmt = JmtStateMap::new(MemoryMapStore::new());
    for (version, batch) in versions.iter().enumerate() {
        let version = version as u64;
        let root = jmt.apply(version, batch.clone()).unwrap();
        assert_eq!(
            sparse.apply(version, batch.clone()).unwrap(),
            root,
            "version {version}"
        );
    }
    (sparse, jmt)
}

fn assert_same_proof(
    sparse: &SparseMap,
    jmt: &JmtStateMap<MemoryMapStore>,
    key: &MapKey,
    version: u64,
) {
    let ours = sparse.prove(key, version).unwrap();
    assert_eq!(ours, jmt.prove(key, version).unwrap(), "{:?}", Hash(*key));
    let root = sparse.root(version).unwrap();
    verify_map_proof(&root, key, ours.0.as_deref(), &ours.1).unwrap();
}

#[test]
fn empty_map_root_is_the_placeholder() {
    let mut map = SparseMap::new();
    assert!(map.is_empty());
    assert_eq!(map.apply(0, vec![]).unwrap(), EMPTY_MAP_ROOT);
    assert_eq!(map.root(0).unwrap(), EMPTY_MAP_ROOT);
    let (value, proof) = map.prove(&key(1), 0).unwrap();
    assert_eq!((value, proof.leaf, proof.siblings.len()), (None, None, 0));
    // Deleting from the empty map changes nothing.
    assert_eq!(map.apply(1, vec![(key(1), None)]).unwrap(), EMPTY_MAP_ROOT);
}

#[test]
fn one_key_root_is_its_leaf_hash() {
    let mut map = SparseMap::new();
    let root = map
        .apply(0, vec![(key(7), Some(b"seven".to_vec()))])
        .unwrap();
    assert_eq!(root, leaf_hash(&key(7), b"seven"));
    assert_eq!(map.len(), 1);
    let (value, proof) = map.prove(&key(7), 0).unwrap();
    assert_eq!(value.as_deref(), Some(&b"seven"[..]));
    assert!(
        proof.siblings.is_empty(),
        "a lone leaf is lifted to the root"
    );
    // Another key's proof ends at the same leaf.
    let (none, other) = map.prove(&key(8), 0).unwrap();
    assert_eq!((none, other.leaf), (None, proof.leaf));
    verify_map_proof(&root, &key(8), None, &other).unwrap();
}

#[test]
fn deleting_every_key_returns_to_the_empty_root() {
    let (mut sparse, _) = both(&[(0..50).map(|i| (key(i), Some(vec![i as u8]))).collect()]);
    assert_eq!(sparse.len(), 50);
    let root = sparse
        .apply(1, (0..50).map(|i| (key(i), None)).collect())
        .unwrap();
    assert_eq!(root, EMPTY_MAP_ROOT);
    assert!(sparse.is_empty());
    // One by one, too, re-lifting the last leaves on the way.
    let (mut sparse, mut jmt) = both(&[(0..20).map(|i| (key(i), Some(vec![1]))).collect()]);
    for i in 0..20 {
        let version = u64::from(i) + 1;
        let root = jmt.apply(version, vec![(key(i), None)]).unwrap();
        assert_eq!(sparse.apply(version, vec![(key(i), None)]).unwrap(), root);
        for j in 0..20 {
            assert_same_proof(&sparse, &jmt, &key(j), version);
        }
    }
    assert_eq!(sparse.root(20).unwrap(), EMPTY_MAP_ROOT);
}

/// Two keys that differ only in bit 255: a chain of 255 placeholders above their split.
#[test]
fn keys_differing_in_the_last_bit_have_256_siblings() {
    let a = [0x3c; 32];
    let mut b = a;
    b[31] ^= 1;
    let (sparse, jmt) = both(&[vec![(a, Some(b"a".to_vec())), (b, Some(b"b".to_vec()))]]);
    let (value, proof) = sparse.prove(&a, 0).unwrap();
    assert_eq!(value.as_deref(), Some(&b"a"[..]));
    assert_eq!(proof.siblings.len(), 256);
    assert_eq!(proof.siblings[0], leaf_hash(&b, b"b"));
    assert!(proof.siblings[1..].iter().all(|s| *s == EMPTY_MAP_ROOT));
    // Absent keys that leave the chain at every depth: each proof ends at an empty subtree.
    for depth in [0, 1, 100, 254] {
        let mut c = a;
        c[depth / 8] ^= 0x80 >> (depth % 8);
        let (value, proof) = sparse.prove(&c, 0).unwrap();
        assert_eq!(
            (value, proof.leaf, proof.siblings.len()),
            (None, None, depth + 1)
        );
        assert_same_proof(&sparse, &jmt, &c, 0);
    }
    assert_same_proof(&sparse, &jmt, &a, 0);
    assert_same_proof(&sparse, &jmt, &b, 0);
}

#[test]
fn extreme_keys_and_neighbours_match_jmt() {
    let zeros = [0u8; 32];
    let ones = [0xffu8; 32];
    let mut near_zeros = zeros;
    near_zeros[31] = 1;
    let mut near_ones = ones;
    near_ones[0] = 0x7f;
    let keys = [zeros, ones, near_zeros, near_ones];
    let (sparse, jmt) = both(&[
        keys.iter().map(|k| (*k, Some(k[..4].to_vec()))).collect(),
        vec![(zeros, None), (ones, Some(vec![]))],
        vec![(near_zeros, None)],
    ]);
    for version in 0..3 {
        for k in keys.iter().chain(&[[0x80; 32], [0x7f; 32]]) {
            assert_same_proof(&sparse, &jmt, k, version);
        }
    }
}

#[test]
fn a_batch_is_sorted_deduplicated_and_last_wins() {
    let mut sparse = SparseMap::new();
    let batch = vec![
        (key(2), Some(b"first".to_vec())),
        (key(1), Some(b"one".to_vec())),
        (key(2), None),
        (key(3), None),
        (key(2), Some(b"last".to_vec())),
    ];
    let root = sparse.apply(0, batch).unwrap();
    let mut jmt = JmtStateMap::new(MemoryMapStore::new());
    let expected = jmt
        .apply(
            0,
            vec![
                (key(1), Some(b"one".to_vec())),
                (key(2), Some(b"last".to_vec())),
            ],
        )
        .unwrap();
    assert_eq!(root, expected);
    assert_eq!(sparse.len(), 2);
    assert_eq!(sparse.get(&key(2), 0).unwrap(), Some(b"last".to_vec()));
    // An empty batch is a version with the same root; so is rewriting a value unchanged.
    assert_eq!(sparse.apply(1, vec![]).unwrap(), root);
    assert_eq!(
        sparse
            .apply(2, vec![(key(1), Some(b"one".to_vec()))])
            .unwrap(),
        root
    );
}

/// The version rules common to every `StateMap` are in `map.rs`; a snapshot follows them too.
#[test]
fn snapshots_of_unwritten_versions_are_refused() {
    let mut map = SparseMap::new();
    assert!(matches!(
        map.snapshot(0),
        Err(MapError::VersionNotWritten {
            version: 0,
            latest: None
        })
    ));
    map.apply(0, vec![(key(1), Some(vec![1]))]).unwrap();
    assert!(map.snapshot(0).is_ok());
    assert!(matches!(
        map.snapshot(1),
        Err(MapError::VersionNotWritten {
            version: 1,
            latest: Some(0)
        })
    ));
}

/// Version 0 has 100 keys; version 1 rewrites ten values, version 2 deletes ten keys, version 3
/// changes nothing.
fn four_versions() -> SparseMap {
    let mut map = SparseMap::new();
    map.apply(0, (0..100).map(|i| (key(i), Some(vec![0]))).collect())
        .unwrap();
    map.apply(1, (0..10).map(|i| (key(i), Some(vec![1]))).collect())
        .unwrap();
    map.apply(2, (10..20).map(|i| (key(i), None)).collect())
        .unwrap();
    map.apply(3, vec![]).unwrap();
    map
}

#[test]
fn pruning_frees_what_only_old_versions_use() {
    let mut map = four_versions();
    assert_eq!(map.len(), 90);
    let root3 = map.root(3).unwrap();
    let stats = map.prune(3).unwrap();
    // The ten values replaced at version 1 and the ten deleted at version 2 go, with their
    // leaves, and so do the internal nodes that only versions 0 to 2 had.
    assert_eq!(stats.values, 20);
    assert!(stats.nodes > 20, "{stats:?}");
    assert_eq!(map.prune(3).unwrap(), Default::default(), "again: no-op");
    assert_eq!(map.prune(2).unwrap(), Default::default(), "below: no-op");
    for version in 0..3 {
        assert!(matches!(
            map.root(version),
            Err(MapError::VersionPruned { oldest_kept: 3, .. })
        ));
    }
    assert_eq!(map.root(3).unwrap(), root3);
    for i in 0..100 {
        let (value, proof) = map.prove(&key(i), 3).unwrap();
        assert_eq!(value.is_some(), !(10..20).contains(&i));
        verify_map_proof(&root3, &key(i), value.as_deref(), &proof).unwrap();
    }
}

#[test]
fn snapshots_outlive_pruning() {
    let mut map = four_versions();
    let first = map.snapshot(0).unwrap();
    let root0 = first.root();
    // `first` still holds version 0, so pruning it frees nothing yet.
    assert_eq!(map.prune(1).unwrap(), Default::default());
    assert!(matches!(
        map.root(0),
        Err(MapError::VersionPruned {
            version: 0,
            oldest_kept: 1
        })
    ));
    assert!(map.snapshot(0).is_err());
    // Version 1 and 2's own internal nodes go; every leaf they had is also version 0's or 3's.
    let stats = map.prune(3).unwrap();
    assert_eq!(stats.values, 0, "{stats:?}");
    assert!(stats.nodes > 0, "{stats:?}");
    assert_eq!((first.version(), first.len()), (0, 100));
    for i in 0..100 {
        assert_eq!(first.get(&key(i)).unwrap(), Some(vec![0]));
        let (old, proof) = first.prove(&key(i)).unwrap();
        assert_eq!(old, Some(vec![0]));
        verify_map_proof(&root0, &key(i), old.as_deref(), &proof).unwrap();
    }
}

#[test]
fn snapshots_are_send_sync_and_cheap() {
    fn is_send_sync<T: Send + Sync>() {}
    is_send_sync::<MapSnapshot>();
    is_send_sync::<SparseMap>();
    let mut map = SparseMap::new();
    map.apply(0, vec![(key(1), Some(vec![1]))]).unwrap();
    let snapshot = map.snapshot(0).unwrap();
    let handle = std::thread::spawn(move || snapshot.get(&key(1)).unwrap());
    assert_eq!(handle.join().unwrap(), Some(vec![1]));
}

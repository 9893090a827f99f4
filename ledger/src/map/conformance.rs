//! The conformance suite every [`MapNodeStore`] must pass (feature `testing`).
//!
//! The node's redb and sled stores call [`run_map_store_conformance`] from their tests, and this
//! crate runs it against [`MemoryMapStore`](crate::map::MemoryMapStore), so every engine is held
//! to the same contract: versioned value lookups, atomic batches, pruning that leaves newer
//! versions untouched, and, end to end, the same roots and proofs as the in-memory reference.
//! Failures panic with a message naming the broken rule, as test helpers do.

use crate::map::store::{MapNodeStore, MapWriteBatch, StaleNode};
use crate::map::{JmtStateMap, MapError, MapKey, MapUpdate, MemoryMapStore, StateMap};

/// Runs every check against fresh stores from `new_store` (each check takes a new, empty one).
///
/// # Panics
/// On the first rule the store breaks, with a message saying which.
pub fn run_map_store_conformance<S: MapNodeStore>(mut new_store: impl FnMut() -> S) {
    empty_store(&mut new_store());
    nodes_round_trip(&mut new_store());
    values_answer_the_newest_at_or_below(&mut new_store());
    prune_removes_only_what_older_versions_need(&mut new_store());
    same_roots_and_proofs_as_the_reference(new_store());
}

fn key(last: u8, first: u8) -> MapKey {
    let mut k = [0x5a; 32];
    k[0] = first;
    k[31] = last;
    k
}

fn empty_store<S: MapNodeStore>(store: &mut S) {
    assert_eq!(
        store.latest_version().unwrap(),
        None,
        "fresh store has a version"
    );
    assert_eq!(store.oldest_kept().unwrap(), 0, "fresh store was pruned");
    assert_eq!(
        store.get_node(&[0; 9]).unwrap(),
        None,
        "fresh store has a node"
    );
    assert_eq!(store.get_value(&[0; 32], u64::MAX).unwrap(), None);
}

fn nodes_round_trip<S: MapNodeStore>(store: &mut S) {
    // Keys that are prefixes of one another must stay distinct.
    let short = vec![0, 0, 0, 0, 0, 0, 0, 0, 1];
    let long = vec![0, 0, 0, 0, 0, 0, 0, 0, 1, 0xa0];
    store
        .write(MapWriteBatch {
            version: 0,
            nodes: vec![(short.clone(), b"short".to_vec()), (long.clone(), vec![])],
            values: vec![(key(1, 0), Some(b"v".to_vec()))],
            stale: vec![],
        })
        .unwrap();
    assert_eq!(
        store.get_node(&short).unwrap().as_deref(),
        Some(&b"short"[..])
    );
    assert_eq!(
        store.get_node(&long).unwrap().as_deref(),
        Some(&[][..]),
        "an empty node must read back as empty, not absent"
    );
    assert_eq!(store.get_node(&short[..8]).unwrap(), None);
    assert_eq!(store.latest_version().unwrap(), Some(0));
    store
        .write(MapWriteBatch {
            version: 1,
            ..MapWriteBatch::default()
        })
        .unwrap();
    assert_eq!(
        store.latest_version().unwrap(),
        Some(1),
        "an empty batch still sets the version"
    );
}

/// Writes of one key at versions 1, 3, 5 (deletion), 7, with neighbours in key order around it.
fn write_value_history<S: MapNodeStore>(store: &mut S) {
    let a = key(0x80, 0x80);
    let batches: [Vec<(MapKey, Option<Vec<u8>>)>; 8] = [
        vec![(key(0x7f, 0x80), Some(b"below".to_vec()))],
        vec![(a, Some(b"a1".to_vec()))],
        vec![(key(0x81, 0x80), Some(b"above".to_vec()))],
        vec![
            (a, Some(b"a3".to_vec())),
            ([0xff; 32], Some(b"max".to_vec())),
        ],
        vec![([0; 32], Some(b"min".to_vec()))],
        vec![(a, None)],
        vec![],
        vec![(a, Some(b"a7".to_vec()))],
    ];
    for (version, values) in batches.into_iter().enumerate() {
        store
            .write(MapWriteBatch {
                version: version as u64,
                values,
                ..MapWriteBatch::default()
            })
            .unwrap();
    }
}

fn expected_a(version: u64) -> Option<&'static [u8]> {
    match version {
        0 => None,
        1..=2 => Some(b"a1"),
        3..=4 => Some(b"a3"),
        5..=6 => None,
        _ => Some(b"a7"),
    }
}

fn values_answer_the_newest_at_or_below<S: MapNodeStore>(store: &mut S) {
    write_value_history(store);
    let a = key(0x80, 0x80);
    for version in (0..10).chain([u64::MAX]) {
        assert_eq!(
            store.get_value(&a, version).unwrap().as_deref(),
            expected_a(version),
            "value of a key at version {version}"
        );
    }
    assert_eq!(
        store.get_value(&key(0x7f, 0x80), 0).unwrap().as_deref(),
        Some(&b"below"[..])
    );
    assert_eq!(
        store.get_value(&key(0x81, 0x80), 1).unwrap(),
        None,
        "value read before written"
    );
    assert_eq!(
        store.get_value(&key(0x81, 0x80), 9).unwrap().as_deref(),
        Some(&b"above"[..])
    );
    assert_eq!(
        store.get_value(&[0xff; 32], u64::MAX).unwrap().as_deref(),
        Some(&b"max"[..])
    );
    assert_eq!(
        store.get_value(&[0; 32], 4).unwrap().as_deref(),
        Some(&b"min"[..])
    );
    assert_eq!(
        store.get_value(&key(0x82, 0x80), u64::MAX).unwrap(),
        None,
        "unwritten key"
    );
}

fn prune_removes_only_what_older_versions_need<S: MapNodeStore>(store: &mut S) {
    write_value_history(store);
    let node = |i: u8| vec![0, 0, 0, 0, 0, 0, 0, 0, 1, i];
    store
        .write(MapWriteBatch {
            version: 8,
            nodes: (0..3).map(|i| (node(i), vec![i])).collect(),
            values: vec![],
            stale: vec![
                StaleNode {
                    since: 9,
                    key: node(0),
                },
                StaleNode {
                    since: 11,
                    key: node(1),
                },
            ],
        })
        .unwrap();
    store
        .write(MapWriteBatch {
            version: 9,
            ..MapWriteBatch::default()
        })
        .unwrap();

    let stats = store.prune(6).unwrap();
    assert_eq!(store.oldest_kept().unwrap(), 6);
    assert_eq!(stats.nodes, 0, "no node was stale by version 6");
    // Entries at 1 and 3 are superseded by version 5's deletion marker, which goes too.
    assert_eq!(stats.values, 3, "values pruned at 6");
    for version in 6..10 {
        let a = key(0x80, 0x80);
        assert_eq!(
            store.get_value(&a, version).unwrap().as_deref(),
            expected_a(version)
        );
    }

    let stats = store.prune(9).unwrap();
    assert_eq!((stats.nodes, stats.values), (1, 0), "prune at 9");
    assert_eq!(
        store.get_node(&node(0)).unwrap(),
        None,
        "node stale since 9 kept"
    );
    assert_eq!(
        store.get_node(&node(1)).unwrap(),
        Some(vec![1]),
        "node stale since 11 deleted"
    );
    assert_eq!(
        store.get_node(&node(2)).unwrap(),
        Some(vec![2]),
        "live node deleted"
    );
    assert_eq!(
        store.get_value(&key(0x7f, 0x80), 9).unwrap().as_deref(),
        Some(&b"below"[..])
    );
    assert_eq!(
        store.get_value(&[0; 32], 9).unwrap().as_deref(),
        Some(&b"min"[..])
    );

    let stats = store.prune(4).unwrap();
    assert_eq!(
        (stats.nodes, stats.values),
        (0, 0),
        "pruning backwards did something"
    );
    assert_eq!(
        store.oldest_kept().unwrap(),
        9,
        "pruning backwards moved oldest_kept"
    );
    assert_eq!(
        store.latest_version().unwrap(),
        Some(9),
        "pruning moved the latest version"
    );
}

/// Deterministic pseudo-random update sets (no RNG crate in the library).
fn updates(version: u64, accounts: u32, count: u32) -> Vec<MapUpdate> {
    (0..count)
        .map(|j| {
            let seed = blake3::hash(&[version.to_be_bytes(), u64::from(j).to_be_bytes()].concat());
            let bytes = seed.as_bytes();
            let account = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) % accounts;
            let key = *blake3::hash(&account.to_be_bytes()).as_bytes();
            let value = (!bytes[4].is_multiple_of(4))
                .then(|| bytes[5..5 + usize::from(bytes[6] % 24)].to_vec());
            (key, value)
        })
        .collect()
}

fn same_roots_and_proofs_as_the_reference<S: MapNodeStore>(store: S) {
    let mut map = JmtStateMap::new(store);
    let mut reference = JmtStateMap::new(MemoryMapStore::new());
    let probes: Vec<MapKey> = (0..80u32)
        .map(|a| *blake3::hash(&a.to_be_bytes()).as_bytes())
        .collect();
    for version in 0..30 {
        let batch = updates(version, 64, 20);
        let root = map.apply(version, batch.clone()).unwrap();
        assert_eq!(
            root,
            reference.apply(version, batch).unwrap(),
            "root at {version}"
        );
        if version % 7 == 6 {
            map.prune(version - 2).unwrap();
            reference.prune(version - 2).unwrap();
        }
        let oldest = map.store().oldest_kept().unwrap();
        for old in oldest..=version {
            assert_eq!(
                map.root(old).unwrap(),
                reference.root(old).unwrap(),
                "root of {old}"
            );
            for k in probes.iter().step_by(9) {
                let (value, proof) = map.prove(k, old).unwrap();
                assert_eq!(
                    (value.clone(), proof.clone()),
                    reference.prove(k, old).unwrap()
                );
                crate::verify::verify_map_proof(
                    &map.root(old).unwrap(),
                    k,
                    value.as_deref(),
                    &proof,
                )
                .unwrap_or_else(|e| panic!("proof at version {old} does not verify: {e}"));
            }
        }
        if oldest > 0 {
            assert!(
                matches!(
                    map.prove(&probes[0], oldest - 1),
                    Err(MapError::VersionPruned { .. })
                ),
                "a pruned version still answers"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn memory_store_conforms() {
        super::run_map_store_conformance(crate::map::MemoryMapStore::new);
    }
}

//! The state map through its public API only, as the sequencer, the API and the wallet use it.

use testigo_ledger::Hash;
use testigo_ledger::keys::PublicKey;
use testigo_ledger::map::{
    EMPTY_MAP_ROOT, JmtStateMap, MapError, MapProof, MemoryMapStore, SparseMap, StateMap,
    account_map_key,
};
use testigo_ledger::verify::{MapProofError, verify_account_proof};

fn pk(i: u8) -> PublicKey {
    PublicKey([i; 32])
}

fn record(i: u8, round: u8) -> Vec<u8> {
    // Stands in for an account record: salt then fields.
    let mut r = vec![i ^ 0x5a; 32];
    r.extend_from_slice(&[round; 40]);
    r
}

/// Accounts 0..20 at version 0; 0..10 updated and 10..15 deleted at version 1.
fn two_versions() -> (JmtStateMap<MemoryMapStore>, Hash, Hash) {
    let mut map = JmtStateMap::new(MemoryMapStore::new());
    let v0 = (0..20)
        .map(|i| (account_map_key(&pk(i)), Some(record(i, 0))))
        .collect();
    let root0 = map.apply(0, v0).unwrap();
    let mut v1: Vec<_> = (0..10)
        .map(|i| (account_map_key(&pk(i)), Some(record(i, 1))))
        .collect();
    v1.extend((10..15).map(|i| (account_map_key(&pk(i)), None)));
    let root1 = map.apply(1, v1).unwrap();
    (map, root0, root1)
}

#[test]
fn account_key_is_domain_separated_blake3() {
    let mut input = b"testigo/acct/v1".to_vec();
    input.extend_from_slice(&[3; 32]);
    assert_eq!(account_map_key(&pk(3)), *blake3::hash(&input).as_bytes());
}

#[test]
fn inclusion_and_non_inclusion_proofs_verify() {
    let (map, _, root1) = two_versions();
    for i in 0..30u8 {
        let (value, proof) = map.prove(&account_map_key(&pk(i)), 1).unwrap();
        let expected = match i {
            0..10 => Some(record(i, 1)),
            15..20 => Some(record(i, 0)),
            _ => None,
        };
        assert_eq!(value, expected, "account {i}");
        verify_account_proof(&root1, &pk(i), value.as_deref(), &proof)
            .unwrap_or_else(|e| panic!("account {i}: {e}"));
        // The proof travels as JSON and as bincode and still verifies.
        let json: MapProof = serde_json::from_str(&serde_json::to_string(&proof).unwrap()).unwrap();
        let bin = MapProof::from_bytes(&proof.to_bytes()).unwrap();
        assert_eq!((&json, &bin), (&proof, &proof));
    }
}

#[test]
fn wrong_value_key_root_or_sibling_fail() {
    let (map, root0, root1) = two_versions();
    let (value, proof) = map.prove(&account_map_key(&pk(4)), 1).unwrap();
    let value = value.unwrap();
    assert!(matches!(
        verify_account_proof(&root1, &pk(4), Some(&record(4, 0)), &proof),
        Err(MapProofError::WrongValue { .. })
    ));
    assert!(matches!(
        verify_account_proof(&root1, &pk(5), Some(&value), &proof),
        Err(MapProofError::WrongKey { .. })
    ));
    assert_eq!(
        verify_account_proof(&root1, &pk(4), None, &proof),
        Err(MapProofError::ProvesPresence)
    );
    assert!(matches!(
        verify_account_proof(&root0, &pk(4), Some(&value), &proof),
        Err(MapProofError::RootMismatch { .. })
    ));
    let mut tampered = proof.clone();
    tampered.siblings[0].0[31] ^= 0x80;
    assert!(matches!(
        verify_account_proof(&root1, &pk(4), Some(&value), &tampered),
        Err(MapProofError::RootMismatch { .. })
    ));
    let mut other_format = proof.clone();
    other_format.version = 2;
    assert_eq!(
        verify_account_proof(&root1, &pk(4), Some(&value), &other_format),
        Err(MapProofError::UnsupportedFormat { version: 2 })
    );

    // An absence proof cannot be passed off for a record, nor for another absent key.
    let (none, absent) = map.prove(&account_map_key(&pk(12)), 1).unwrap();
    assert_eq!(none, None);
    let forged = verify_account_proof(&root1, &pk(12), Some(b"forged"), &absent);
    if absent.leaf.is_some() {
        // The path ends at another account's leaf.
        assert!(
            matches!(forged, Err(MapProofError::WrongKey { .. })),
            "{forged:?}"
        );
    } else {
        assert_eq!(forged, Err(MapProofError::ProvesAbsence));
    }
    assert!(verify_account_proof(&root0, &pk(12), None, &absent).is_err());
}

#[test]
fn old_versions_prove_until_pruned() {
    let (mut map, root0, root1) = two_versions();
    assert_ne!(root0, root1);
    assert_eq!(map.root(0).unwrap(), root0);
    let (old, proof) = map.prove(&account_map_key(&pk(12)), 0).unwrap();
    assert_eq!(old, Some(record(12, 0)), "deleted at 1, present at 0");
    verify_account_proof(&root0, &pk(12), old.as_deref(), &proof).unwrap();
    assert_eq!(
        map.get(&account_map_key(&pk(3)), 0).unwrap(),
        Some(record(3, 0))
    );

    map.prune(1).unwrap();
    for result in [
        map.root(0).map(|_| ()),
        map.prove(&account_map_key(&pk(12)), 0).map(|_| ()),
        map.get(&account_map_key(&pk(3)), 0).map(|_| ()),
    ] {
        assert!(matches!(
            result,
            Err(MapError::VersionPruned {
                version: 0,
                oldest_kept: 1
            })
        ));
    }
    assert_eq!(map.root(1).unwrap(), root1, "the kept version is unchanged");
    let (value, proof) = map.prove(&account_map_key(&pk(3)), 1).unwrap();
    verify_account_proof(&root1, &pk(3), value.as_deref(), &proof).unwrap();
}

/// The version rules of `StateMap`, which every implementation keeps alike.
fn version_rules(mut map: impl StateMap) {
    assert!(matches!(
        map.apply(1, vec![]),
        Err(MapError::VersionOutOfOrder {
            expected: 0,
            got: 1
        })
    ));
    assert!(matches!(
        map.root(0),
        Err(MapError::VersionNotWritten {
            version: 0,
            latest: None
        })
    ));
    assert!(map.prune(0).is_err(), "nothing to prune in an empty map");
    assert_eq!(map.latest_version().unwrap(), None);
    assert_ne!(
        map.apply(0, vec![(account_map_key(&pk(1)), Some(vec![1]))])
            .unwrap(),
        EMPTY_MAP_ROOT
    );
    assert!(matches!(
        map.apply(0, vec![]),
        Err(MapError::VersionOutOfOrder {
            expected: 1,
            got: 0
        })
    ));
    assert!(matches!(
        map.prove(&[0; 32], 1),
        Err(MapError::VersionNotWritten {
            version: 1,
            latest: Some(0)
        })
    ));
    assert!(matches!(
        map.prune(1),
        Err(MapError::VersionNotWritten {
            version: 1,
            latest: Some(0)
        })
    ));
    assert_eq!(map.latest_version().unwrap(), Some(0));
}

#[test]
fn versions_are_consecutive_and_cannot_be_read_ahead() {
    version_rules(JmtStateMap::new(MemoryMapStore::new()));
    version_rules(SparseMap::new());
}

#[test]
fn deleting_everything_returns_to_the_empty_root() {
    let (mut map, _, _) = two_versions();
    let all = (0..20).map(|i| (account_map_key(&pk(i)), None)).collect();
    assert_eq!(map.apply(2, all).unwrap(), EMPTY_MAP_ROOT);
    let (value, proof) = map.prove(&account_map_key(&pk(1)), 2).unwrap();
    assert_eq!(value, None);
    verify_account_proof(&EMPTY_MAP_ROOT, &pk(1), None, &proof).unwrap();
}

#[test]
fn root_depends_only_on_the_final_contents() {
    let (_, _, root1) = two_versions();
    // The same final contents written in one version, in reverse order, with a key written
    // twice (last one wins) and a deletion of a key that never existed.
    let mut map = JmtStateMap::new(MemoryMapStore::new());
    let mut updates: Vec<_> = (0..20u8)
        .rev()
        .filter(|i| !(10..15).contains(i))
        .map(|i| {
            let round = u8::from(i < 10);
            (account_map_key(&pk(i)), Some(record(i, round)))
        })
        .collect();
    updates.insert(0, (account_map_key(&pk(0)), Some(b"overwritten".to_vec())));
    updates.push((account_map_key(&pk(99)), None));
    assert_eq!(map.apply(0, updates).unwrap(), root1);
    // And split over several versions in yet another order.
    let mut map = JmtStateMap::new(MemoryMapStore::new());
    let mut version = 0;
    for i in [19u8, 3, 7, 15, 0, 1, 2, 4, 5, 6, 8, 9, 16, 17, 18] {
        let round = u8::from(i < 10);
        let root = map
            .apply(
                version,
                vec![(account_map_key(&pk(i)), Some(record(i, round)))],
            )
            .unwrap();
        version += 1;
        if version == 15 {
            assert_eq!(root, root1);
        }
    }
}

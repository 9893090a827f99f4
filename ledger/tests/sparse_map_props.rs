//! `SparseMap` against `JmtStateMap`, the reference its roots and proofs must equal byte for byte:
//! random versions over keys that share long prefixes (where the compressed tree's chains, splits
//! and re-lifting happen), with pruning and snapshots; and the same for a paged `SparseMap`, whose
//! buckets live in a store that commits versions behind the map.

use std::collections::BTreeMap;
use std::sync::Arc;

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::RngSeed;
use testigo_ledger::Hash;
use testigo_ledger::map::{
    BucketSource, JmtStateMap, MapError, MapKey, MapSnapshot, MapUpdate, MemoryBuckets,
    MemoryMapStore, PagedLoader, SparseMap, StateMap,
};
use testigo_ledger::verify::verify_map_proof;

/// How one key of a case's key set is made; `Near` keys share all but one bit with an earlier
/// key, `Prefix` keys a long prefix.
#[derive(Clone, Debug)]
enum KeySpec {
    Random([u8; 32]),
    Zeros,
    Ones,
    /// Key `base` (modulo the keys made so far) with bit `bit` flipped.
    Near {
        base: usize,
        bit: usize,
    },
    /// The first `bits` bits of key `base`, then `tail`'s.
    Prefix {
        base: usize,
        bits: usize,
        tail: [u8; 32],
    },
}

fn key_spec() -> impl Strategy<Value = KeySpec> {
    // Late bits more often than uniform: those make the longest chains.
    let bit = prop_oneof![0usize..256, 240usize..256, Just(255usize)];
    prop_oneof![
        3 => any::<[u8; 32]>().prop_map(KeySpec::Random),
        1 => Just(KeySpec::Zeros),
        1 => Just(KeySpec::Ones),
        4 => (any::<usize>(), bit.clone()).prop_map(|(base, bit)| KeySpec::Near { base, bit }),
        2 => (any::<usize>(), bit, any::<[u8; 32]>())
            .prop_map(|(base, bits, tail)| KeySpec::Prefix { base, bits, tail }),
    ]
}

fn flip(key: &mut MapKey, bit: usize) {
    key[bit / 8] ^= 0x80 >> (bit % 8);
}

fn make_keys(specs: &[KeySpec]) -> Vec<MapKey> {
    let mut keys: Vec<MapKey> = Vec::with_capacity(specs.len());
    for spec in specs {
        let key = match (spec, keys.len()) {
            (KeySpec::Random(k), _) => *k,
            (KeySpec::Zeros, _) => [0; 32],
            (KeySpec::Ones, _) => [0xff; 32],
            (KeySpec::Near { .. } | KeySpec::Prefix { .. }, 0) => [0x55; 32],
            (KeySpec::Near { base, bit }, n) => {
                let mut k = keys[base % n];
                flip(&mut k, *bit);
                k
            }
            (KeySpec::Prefix { base, bits, tail }, n) => {
                let base = keys[base % n];
                let mut k = *tail;
                for i in 0..*bits {
                    if (base[i / 8] ^ k[i / 8]) & (0x80 >> (i % 8)) != 0 {
                        flip(&mut k, i);
                    }
                }
                k
            }
        };
        keys.push(key);
    }
    keys
}

/// An update of key `i` of the key set; values from a small set, so rewriting a key with the
/// value it has happens too.
fn update() -> impl Strategy<Value = (usize, Option<Vec<u8>>)> {
    let value = prop_oneof![vec(any::<u8>(), 0..40), (0u8..3).prop_map(|v| vec![v; 5]),];
    (any::<usize>(), prop::option::weighted(0.7, value))
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 64,
        rng_seed: RngSeed::Fixed(0x5ba5_e3a9),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Checks `sparse` against `jmt` at `version`: root, and for every probe the value and the very
/// same proof, which verifies.
/// `may_move`: whether the (paged) map may answer [`MapError::Moved`], its store not holding
/// what this version needs.
fn check_version(
    sparse: &SparseMap,
    jmt: &JmtStateMap<MemoryMapStore>,
    version: u64,
    probes: &[MapKey],
    may_move: bool,
) -> Result<(), TestCaseError> {
    let root = jmt.root(version).unwrap();
    prop_assert_eq!(
        sparse.root(version).unwrap(),
        root,
        "root of version {}",
        version
    );
    for key in probes {
        let (value, proof) = jmt.prove(key, version).unwrap();
        let Some(got) = allowed(sparse.get(key, version), may_move)? else {
            continue;
        };
        prop_assert_eq!(got, value.clone());
        let Some((ours, our_proof)) = allowed(sparse.prove(key, version), may_move)? else {
            continue;
        };
        prop_assert_eq!(&ours, &value);
        prop_assert_eq!(
            &our_proof,
            &proof,
            "proof of {:?} at version {}",
            Hash(*key),
            version
        );
        prop_assert!(verify_map_proof(&root, key, ours.as_deref(), &our_proof).is_ok());
    }
    Ok(())
}

/// A snapshot answers as its version did: root, values and proofs against that root.
fn check_snapshot(
    snapshot: &MapSnapshot,
    root: Hash,
    model: &BTreeMap<MapKey, Vec<u8>>,
    probes: &[MapKey],
    may_move: bool,
) -> Result<(), TestCaseError> {
    prop_assert_eq!(snapshot.root(), root);
    prop_assert_eq!(snapshot.len(), model.len());
    for key in probes {
        let expected = model.get(key).map(Vec::as_slice);
        let Some(got) = allowed(snapshot.get(key), may_move)? else {
            continue;
        };
        prop_assert_eq!(got.as_deref(), expected);
        let Some((value, proof)) = allowed(snapshot.prove(key), may_move)? else {
            continue;
        };
        prop_assert_eq!(value.as_deref(), expected);
        prop_assert!(verify_map_proof(&root, key, expected, &proof).is_ok());
    }
    Ok(())
}

/// `Ok(None)` for a [`MapError::Moved`] that `may_move` allows; any other error fails the case.
fn allowed<T>(answer: Result<T, MapError>, may_move: bool) -> Result<Option<T>, TestCaseError> {
    match answer {
        Ok(answer) => Ok(Some(answer)),
        Err(MapError::Moved { .. }) if may_move => Ok(None),
        Err(e) => Err(TestCaseError::fail(format!("{e}"))),
    }
}

/// A paged map's store, committed by the test when it chooses.
type TestStore = MemoryBuckets;

/// How a case's map is paged: bucket depth, and how many versions its store commits behind.
#[derive(Clone, Copy, Debug)]
struct Paging {
    bits: usize,
    lag: usize,
}

fn run_case(
    specs: &[KeySpec],
    versions: Vec<Vec<(usize, Option<Vec<u8>>)>>,
    prune_every: u64,
    absent: Vec<[u8; 32]>,
    paging: Option<Paging>,
) -> Result<(), TestCaseError> {
    {
        let keys = make_keys(specs);
        // Absent probes: random keys, and neighbours of present ones.
        let mut probes = keys.clone();
        probes.extend(absent);
        for (i, key) in keys.iter().enumerate().take(6) {
            let mut near = *key;
            flip(&mut near, 255 - i * 37);
            probes.push(near);
        }

        let store = Arc::new(TestStore::default());
        let mut sparse = match paging {
            None => SparseMap::new(),
            Some(paging) => {
                SparseMap::paged(Arc::clone(&store) as Arc<dyn BucketSource>, paging.bits)
            }
        };
        let mut jmt = JmtStateMap::new(MemoryMapStore::new());
        let mut model = BTreeMap::new();
        let mut models = Vec::new();
        let mut taken = Vec::new();
        let may_move = |version: u64| {
            let stored = BucketSource::version(store.as_ref()).unwrap();
            paging.is_some() && stored.is_none_or(|stored| version > stored)
        };
        for (version, updates) in versions.into_iter().enumerate() {
            let version = version as u64;
            let batch: Vec<MapUpdate> = updates
                .into_iter()
                .map(|(i, value)| (keys[i % keys.len()], value))
                .collect();
            for (key, value) in &batch {
                match value {
                    Some(v) => model.insert(*key, v.clone()),
                    None => model.remove(key),
                };
            }
            let root = jmt.apply(version, batch.clone()).unwrap();
            prop_assert_eq!(sparse.apply(version, batch).unwrap(), root);
            prop_assert_eq!(sparse.len(), model.len());
            models.push(model.clone());
            if let Some(Paging { lag, .. }) = paging
                && let Some(committed) = (version as usize).checked_sub(lag)
            {
                store.replace(committed as u64, &models[committed]);
            }
            prop_assert_eq!(sparse.latest_version().unwrap(), Some(version));
            taken.push((sparse.snapshot(version).unwrap(), root, model.clone()));

            if version % prune_every == prune_every - 1 {
                let oldest = version.saturating_sub(1);
                jmt.prune(oldest).unwrap();
                sparse.prune(oldest).unwrap();
            }
            // Every kept version still answers exactly as jmt does; pruned ones are refused alike.
            for old in 0..=version {
                match jmt.root(old) {
                    // The latest version reads the store and what is pending, at any lag.
                    Ok(_) => {
                        let may_move = old < version && may_move(old);
                        check_version(&sparse, &jmt, old, &probes, may_move)?;
                    }
                    Err(MapError::VersionPruned { oldest_kept, .. }) => {
                        let refused = sparse.prove(&keys[0], old);
                        let pruned = matches!(
                            refused,
                            Err(MapError::VersionPruned { version, oldest_kept: o })
                                if version == old && o == oldest_kept
                        );
                        prop_assert!(pruned, "{:?}", refused.map(|_| ()));
                        prop_assert!(sparse.snapshot(old).is_err());
                    }
                    Err(e) => return Err(TestCaseError::fail(e.to_string())),
                }
            }
            for (snapshot, root, model) in &taken {
                check_snapshot(
                    snapshot,
                    *root,
                    model,
                    &probes,
                    may_move(snapshot.version()),
                )?;
            }
        }
        let Some(paging) = paging else { return Ok(()) };
        // Once the store has caught up, every snapshot answers; and a map loaded from the store
        // (a node's start-up) has the latest root and the same proofs.
        let latest = models.len() as u64 - 1;
        store.replace(latest, &model);
        for (snapshot, root, model) in &taken {
            check_snapshot(snapshot, *root, model, &probes, false)?;
        }
        let mut loader = PagedLoader::new(paging.bits);
        for (key, value) in &model {
            loader.push(*key, value.clone()).unwrap();
        }
        let loaded = SparseMap::load_paged(store, latest, loader);
        prop_assert_eq!(loaded.root(latest).unwrap(), jmt.root(latest).unwrap());
        check_version(&loaded, &jmt, latest, &probes, false)?;
    }
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn sparse_map_equals_jmt(
        specs in vec(key_spec(), 1..24),
        versions in vec(vec(update(), 0..16), 1..10),
        prune_every in 2u64..5,
        absent in vec(any::<[u8; 32]>(), 2),
    ) {
        run_case(&specs, versions, prune_every, absent, None)?;
    }

    /// Buckets from the whole map (0 bits) to a few keys each, the store committing each version
    /// at once, or one or two versions behind the map.
    #[test]
    fn a_paged_sparse_map_equals_jmt(
        specs in vec(key_spec(), 1..24),
        versions in vec(vec(update(), 0..16), 1..10),
        prune_every in 2u64..5,
        absent in vec(any::<[u8; 32]>(), 2),
        bits in prop_oneof![Just(0usize), 1usize..4, Just(8usize), Just(255usize)],
        lag in 0usize..3,
    ) {
        run_case(&specs, versions, prune_every, absent, Some(Paging { bits, lag }))?;
    }
}

/// A larger map than the property test reaches (thousands of keys, among them pairs that differ
/// only in late bits), updated, deleted from and re-filled over a few versions.
#[test]
fn thousands_of_keys_equal_jmt() {
    let key = |i: u32| *blake3::hash(&i.to_be_bytes()).as_bytes();
    let mut keys: Vec<MapKey> = (0..3_000).map(key).collect();
    for i in 0..300 {
        let mut near = keys[i * 7];
        flip(&mut near, 200 + i % 56);
        keys.push(near);
    }
    let mut sparse = SparseMap::new();
    let mut jmt = JmtStateMap::new(MemoryMapStore::new());
    // And paged in 8-bit buckets (about 13 keys each), its store one version behind.
    let store = Arc::new(TestStore::default());
    let mut paged = SparseMap::paged(Arc::clone(&store) as Arc<dyn BucketSource>, 8);
    let mut model = BTreeMap::new();
    let mut previous = None;
    let value = |i: usize, round: u64| format!("{i}/{round}").into_bytes();
    let mut batches: Vec<Vec<MapUpdate>> = vec![
        keys.iter()
            .enumerate()
            .map(|(i, k)| (*k, Some(value(i, 0))))
            .collect(),
    ];
    for round in 1..4u64 {
        batches.push(
            keys.iter()
                .enumerate()
                .filter(|(i, _)| (*i as u64 + round).is_multiple_of(3))
                .map(|(i, k)| {
                    let v = (i % 2 == 0).then(|| value(i, round));
                    (*k, v)
                })
                .collect(),
        );
    }
    for (version, batch) in batches.into_iter().enumerate() {
        let version = version as u64;
        let root = jmt.apply(version, batch.clone()).unwrap();
        assert_eq!(paged.apply(version, batch.clone()).unwrap(), root);
        if let Some((committed, values)) = previous.take() {
            store.replace(committed, &values);
        }
        for (key, value) in &batch {
            match value {
                Some(v) => model.insert(*key, v.clone()),
                None => model.remove(key),
            };
        }
        previous = Some((version, model.clone()));
        assert_eq!(
            sparse.apply(version, batch).unwrap(),
            root,
            "version {version}"
        );
        for k in keys.iter().step_by(37).chain([&[0; 32], &[0xff; 32]]) {
            assert_eq!(
                sparse.prove(k, version).unwrap(),
                jmt.prove(k, version).unwrap()
            );
            assert_eq!(
                paged.prove(k, version).unwrap(),
                jmt.prove(k, version).unwrap()
            );
        }
    }
}

/// A paged map never builds on, or proves from, a bucket its store damaged: the stored rows must
/// give the stub's hash. An update to the bucket is refused with nothing changed, and a proof
/// from it is refused; other buckets go on working.
#[test]
fn a_damaged_bucket_is_refused_and_changes_nothing() {
    let key = |i: u32| *blake3::hash(&i.to_be_bytes()).as_bytes();
    let store = Arc::new(TestStore::default());
    let mut paged = SparseMap::paged(Arc::clone(&store) as Arc<dyn BucketSource>, 2);
    let values: BTreeMap<MapKey, Vec<u8>> = (0..64).map(|i| (key(i), vec![i as u8; 8])).collect();
    let updates = values.iter().map(|(k, v)| (*k, Some(v.clone()))).collect();
    let root = paged.apply(0, updates).unwrap();
    store.replace(0, &values);

    // One stored value altered behind the map's back.
    let victim = key(7);
    let mut damaged = values.clone();
    damaged.insert(victim, b"forged".to_vec());
    store.replace(0, &damaged);
    let refused = paged.apply(1, vec![(victim, Some(vec![1]))]);
    assert!(
        matches!(refused, Err(MapError::Corrupt(_))),
        "{:?}",
        refused.map(|_| ())
    );
    assert_eq!(
        paged.latest_version().unwrap(),
        Some(0),
        "no version was written"
    );
    assert_eq!(paged.root(0).unwrap(), root);
    let snapshot = paged.snapshot(0).unwrap();
    assert!(matches!(snapshot.prove(&victim), Err(MapError::Corrupt(_))));
    assert!(matches!(snapshot.get(&victim), Err(MapError::Corrupt(_))));

    // A row of another bucket deleted: its proofs are refused too; the store repaired, all is well.
    let (&other, _) = values
        .iter()
        .find(|(k, _)| k[0] >> 6 != victim[0] >> 6)
        .unwrap();
    let mut missing = values.clone();
    missing.remove(&other);
    store.replace(0, &missing);
    assert!(matches!(snapshot.prove(&other), Err(MapError::Corrupt(_))));
    store.replace(0, &values);
    let (value, proof) = snapshot.prove(&victim).unwrap();
    assert!(verify_map_proof(&root, &victim, value.as_deref(), &proof).is_ok());
    assert!(paged.apply(1, vec![(victim, Some(vec![1]))]).is_ok());
}

//! The log backend's unit tests: what is written when, the grant lists, and a witness on a
//! tiny working set.

use testigo_ledger::map::BucketSource;
use testigo_ledger::state::{AccountRecord, StateHeader};

use super::*;
use crate::sequencer::test_support::{ORIGIN, enroll, genesis};
use crate::storage::StoreConfig;

/// A group commits its leaves alone; the checkpoint adds their index entries and the state
/// snapshot as of its `StateRoot`, and lets go of old map versions.
#[test]
fn leaves_are_durable_at_once_and_derived_data_comes_with_the_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(&dir.path().join("store"), &StoreConfig::default()).unwrap());
    let key = SigningKey::from_bytes(&[3; 32]);
    let operator = PublicKey(key.verifying_key().to_bytes());
    let metrics = Arc::new(Metrics::new());
    let engine = Engine::new(SparseMap::new());
    let mut backend = LogBackend::new(
        engine,
        Tail::default(),
        store.clone(),
        Some(key.clone()),
        ORIGIN.into(),
        metrics,
    );
    let results = backend.append(vec![genesis(&key)], 1).unwrap();
    assert!(results[0].is_ok(), "{results:?}");
    let subject = SigningKey::from_bytes(&[4; 32]);
    let results = backend.append(vec![enroll(&key, 1, &subject)], 2).unwrap();
    assert!(results[0].is_ok(), "{results:?}");

    assert_eq!(store.tree_size(), 2, "acknowledged leaves are stored");
    assert!(store.account_history(&operator, 0, 10).unwrap().is_empty());
    assert_eq!(store.leaf_by_nonce(&operator, 1).unwrap(), None);
    assert_eq!(store.state_header().unwrap(), None);
    // A retry of a tail entry is still recognised, from the tail's nonces.
    let retry = backend.append(vec![enroll(&key, 1, &subject)], 3).unwrap();
    assert!(retry[0].as_ref().is_ok_and(|r| r.duplicate && r.index == 1));

    let before: State = backend.engine.state().clone();
    let checkpoint = backend.checkpoint(3).unwrap();
    assert_eq!(checkpoint.size, 3);
    assert!(backend.tail.is_empty());
    assert_eq!(store.account_history(&operator, 0, 10).unwrap(), [0, 1]);
    assert_eq!(store.leaf_by_nonce(&operator, 1).unwrap(), Some(1));
    let header = StateHeader::from_bytes(&store.state_header().unwrap().unwrap()).unwrap();
    assert_eq!(header.next_index, 2, "the snapshot is as of the StateRoot");
    let saved = AccountRecord::from_bytes(&store.record(&operator).unwrap().unwrap()).unwrap();
    assert_eq!(Some(&saved), before.account(&operator));
    assert_eq!(
        checkpoint.map.root(),
        backend.engine.map().root(checkpoint.map.version()).unwrap()
    );

    for at in 4..10 {
        backend.checkpoint(at).unwrap();
    }
    assert!(
        backend.engine.map().root(checkpoint.map.version()).is_err(),
        "old map versions are pruned"
    );
    assert!(
        checkpoint
            .map
            .get(&testigo_ledger::map::account_map_key(&operator))
            .unwrap()
            .is_some()
    );
}

/// A checkpoint saves each party's grant list beside its consents; the reader pages it
/// back, and a damaged row is caught by the read and by `fsck` alike.
#[test]
fn grant_lists_are_saved_with_the_snapshot_and_checked_when_read() {
    use testigo_ledger::entry::{Body, DataCategory, GrantConsent, Purpose, sign_body};
    use testigo_ledger::state::GrantList;

    use crate::reader::{LogRead as _, ReadError};

    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(&dir.path().join("store"), &StoreConfig::default()).unwrap());
    let key = SigningKey::from_bytes(&[3; 32]);
    let mut backend = LogBackend::new(
        Engine::new(SparseMap::new()),
        Tail::default(),
        store.clone(),
        Some(key.clone()),
        ORIGIN.into(),
        Arc::new(Metrics::new()),
    );
    let subject = SigningKey::from_bytes(&[4; 32]);
    let alice = PublicKey(subject.verifying_key().to_bytes());
    let buyer = PublicKey([9; 32]);
    let grant = |nonce: u64| {
        let body = Body::GrantConsent(GrantConsent {
            nonce,
            accessor: None,
            categories: vec![DataCategory::Location],
            purposes: vec![Purpose::ServiceProvision],
            price: 5,
            valid_from: 0,
            valid_until: None,
        });
        sign_body(ORIGIN, &subject, &body)
    };
    let mut leaves = vec![genesis(&key), enroll(&key, 1, &subject)];
    leaves.extend((0..3).map(grant));
    let results = backend.append(leaves, 10).unwrap();
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    backend.checkpoint(11).unwrap();

    let (mine, next) = store.consents(&alice, 0, 10).unwrap();
    assert_eq!(mine.iter().map(|c| c.index).collect::<Vec<_>>(), [2, 3, 4]);
    assert_eq!(next, None);
    let (page, next) = store.consents(&buyer, 0, 2).unwrap();
    assert_eq!(page.iter().map(|c| c.index).collect::<Vec<_>>(), [2, 3]);
    assert_eq!(next, Some(4));
    assert_eq!(store.next_nonce(&alice).unwrap(), Some(3));
    crate::fsck::check_grant_lists(&store, backend.engine.state()).unwrap();

    // The subject's list now claims grant 4 at position 1, where grant 3 was.
    store.raw_put(
        crate::storage::Table::Grants,
        crate::storage::grant_key(&GrantList::BySubject(alice), 1),
        4u64.to_be_bytes().to_vec(),
    );
    assert!(matches!(
        store.consents(&alice, 0, 10),
        Err(ReadError::Store(StorageError::Corrupt { .. }))
    ));
    let found = crate::fsck::check_grant_lists(&store, backend.engine.state()).unwrap_err();
    assert!(found.to_string().contains("grant lists"), "{found}");
}

/// A witness whose state keeps almost nothing in memory follows a synthetic log of every
/// kind of entry: each leaf loads what it reads from the map and the store, every
/// `StateRoot` still matches, and `fsck` (a whole-state replay) agrees with what it saved.
#[test]
fn a_witness_with_a_tiny_working_set_follows_every_kind_of_entry() {
    use testigo_ledger::state::Residency;
    use testigo_ledger::synth::{Item, SynthConfig, build};

    let config = SynthConfig {
        subjects: 40,
        accessors: 6,
        batch: 50,
        ..SynthConfig::default()
    };
    let (builder, items) = build(config, 2_000);
    let log_key = PublicKey(builder.log_key().verifying_key().to_bytes());
    let origin = builder
        .engine()
        .state()
        .params()
        .map(|p| p.origin.clone())
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(&dir.path().join("store"), &StoreConfig::default()).unwrap());
    // Buckets of 2 bits: nearly every account is in a stub, its record only in the store.
    let paged = SparseMap::paged(store.clone() as Arc<dyn BucketSource>, 2);
    let mut backend = LogBackend::new(
        Engine::from_parts(State::new_partial(), paged),
        Tail::default(),
        store.clone(),
        None,
        origin.clone(),
        Arc::new(Metrics::new()),
    );
    backend.set_residency(Residency::each(2));
    let mut snapshots = Vec::new();
    let mut segment = Vec::new();
    let mut checkpoints = 0;
    for item in items {
        match item {
            Item::Leaf { leaf, .. } => {
                let bytes = leaf.to_bytes();
                segment.push((leaf, bytes));
            }
            Item::Checkpoint { note } => {
                let leaves = std::mem::take(&mut segment);
                let info = backend.follow(leaves, &note, &log_key).unwrap();
                snapshots.push(info.map.clone());
                checkpoints += 1;
                let (accounts, consents, claims) = backend.engine.state().resident();
                assert!(
                    accounts <= 3 && consents <= 2 && claims <= 2,
                    "{accounts} accounts, {consents} consents, {claims} claims resident"
                );
            }
        }
    }
    assert!(checkpoints > 30, "only {checkpoints} checkpoints");
    assert_eq!(store.tree_size(), builder.size());
    let report = crate::fsck::fsck(&store, |_, _| {}).unwrap();
    assert_eq!(report.leaves, builder.size());
    let root = builder.engine().map().latest_snapshot().unwrap().root();
    assert_eq!(backend.engine.map().latest_snapshot().unwrap().root(), root);
    // Every account's proof at the last checkpoint, and at older ones (undoing what the store
    // moved on to), verifies against its root.
    let accounts: Vec<PublicKey> = builder
        .engine()
        .state()
        .accounts()
        .map(|(key, _)| *key)
        .collect();
    assert!(accounts.len() > 40, "{} accounts", accounts.len());
    for map in snapshots.iter().rev().take(5) {
        for account in &accounts {
            let key = testigo_ledger::map::account_map_key(account);
            let (value, proof) = map.prove(&key).unwrap();
            testigo_ledger::verify::verify_map_proof(&map.root(), &key, value.as_deref(), &proof)
                .unwrap();
        }
    }
    // Restarted from the store: the map is rebuilt from the saved records, to the same root.
    drop(backend);
    let (_, latest) =
        crate::recovery::recover(store, None, log_key, origin, Arc::new(Metrics::new())).unwrap();
    assert_eq!(latest.unwrap().map.root(), root);
}

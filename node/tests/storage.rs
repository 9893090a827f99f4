//! The storage layer through its public API, on both engines: the ledger's conformance suites,
//! reopening, range reads, index paging, tile boundaries, batch validation.

use std::path::Path;

use tempfile::TempDir;
use testigo_ledger::map::{MapNodeStore, account_map_key};
use testigo_ledger::merkle::{HashReader, NodeId, inclusion_proof, root};
use testigo_ledger::verify::verify_inclusion;
use testigo_ledger::{Blake3, Hash, PublicKey, TreeHasher};
use testigo_node::storage::{EngineKind, StorageError, Store, StoreConfig, WriteBatch};

fn config(engine: EngineKind) -> StoreConfig {
    StoreConfig {
        engine,
        ..StoreConfig::default()
    }
}

fn open(dir: &Path, engine: EngineKind) -> Store {
    Store::open(dir, &config(engine)).expect("open store")
}

fn leaf(i: u64) -> Vec<u8> {
    format!("leaf {i}").into_bytes()
}

fn key(n: u8) -> PublicKey {
    PublicKey([n; 32])
}

/// A checkpoint note as the sequencer would store it (signature line is not checked here).
fn note(size: u64, root: &Hash) -> String {
    format!(
        "test.example/log\n{size}\n{}\n\n— test.example/log AAAA\n",
        root.to_base64()
    )
}

/// Appends `count` leaves in one batch, with a checkpoint for the new size.
fn append(store: &Store, count: u64) -> Hash {
    let mut batch = store.batch();
    let start = batch.new_size();
    let leaves = (start..start + count).map(leaf).collect();
    let out = store
        .append_leaves(&mut batch, &Blake3, leaves)
        .expect("append");
    batch.set_checkpoint(out.new_size, note(out.new_size, &out.root));
    assert_eq!(store.commit(batch).expect("commit"), start + count);
    out.root
}

fn reference_root(count: u64) -> Hash {
    let hashes: Vec<Hash> = (0..count).map(|i| Blake3.hash_leaf(&leaf(i))).collect();
    fn fold(h: &[Hash]) -> Hash {
        match h.len() {
            0 => Blake3.empty_root(),
            1 => h[0],
            n => {
                let k = 1 << (usize::BITS - 1 - (n - 1).leading_zeros());
                Blake3.hash_children(&fold(&h[..k]), &fold(&h[k..]))
            }
        }
    }
    fold(&hashes)
}

fn hash_store_conforms(engine: EngineKind) {
    let dir = TempDir::new().unwrap();
    let mut n = 0;
    testigo_ledger::merkle::conformance::run_hash_store_conformance(|| {
        n += 1;
        open(&dir.path().join(n.to_string()), engine)
    });
}

/// The engines also implement the ledger's map node store (kept for replays over more accounts
/// than memory holds; the sequencer's own map is in memory) and pass its conformance suite.
fn map_store_conforms(engine: EngineKind) {
    let dir = TempDir::new().unwrap();
    let mut n = 0;
    testigo_ledger::map::conformance::run_map_store_conformance(|| {
        n += 1;
        open(&dir.path().join(n.to_string()), engine)
    });
}

/// Nonces are stored one chunk per signer per batch: every one is found, across chunks and
/// signers, and nonces never used (gaps, before the first, after the last) are not.
fn nonce_chunks(engine: EngineKind) {
    let dir = TempDir::new().unwrap();
    let store = open(dir.path(), engine);
    let mut used: Vec<(PublicKey, u64, u64)> = Vec::new();
    let mut index = 0;
    for round in 0..4u64 {
        let mut batch = store.batch();
        for signer in [key(3), key(2), key(4)] {
            // Gaps between nonces, and a different count per signer and round.
            for n in 0..(round + u64::from(signer.0[0])) {
                let nonce = round * 100 + n * 3;
                batch.index_nonce(signer, nonce, index);
                used.push((signer, nonce, index));
                index += 1;
            }
        }
        store.commit(batch).unwrap();
    }
    for (signer, nonce, index) in &used {
        assert_eq!(store.leaf_by_nonce(signer, *nonce).unwrap(), Some(*index));
        assert_eq!(store.leaf_by_nonce(signer, nonce + 1).unwrap(), None);
    }
    assert_eq!(store.leaf_by_nonce(&key(3), 99).unwrap(), None);
    assert_eq!(store.leaf_by_nonce(&key(3), 10_000).unwrap(), None);
    assert_eq!(store.leaf_by_nonce(&key(9), 0).unwrap(), None);
}

fn reopen_preserves_everything(engine: EngineKind) {
    let dir = TempDir::new().unwrap();
    let tree_root = {
        let store = open(dir.path(), engine);
        let mut batch = store.batch();
        batch.set_log_params(b"genesis".to_vec());
        let out = store
            .append_leaves(&mut batch, &Blake3, (0..300).map(leaf).collect())
            .unwrap();
        batch.index_account(key(1), 0, vec![7]);
        batch.index_nonce(key(1), 42, 7);
        batch.put_record(key(1), b"record one".to_vec());
        batch.put_record(key(2), b"record two".to_vec());
        batch.put_consent(5, b"consent five".to_vec());
        batch.put_consent(9, b"consent nine".to_vec());
        batch.put_claim(8, b"claim eight".to_vec());
        batch.set_state_header(b"header".to_vec());
        batch.set_checkpoint(300, note(300, &out.root));
        batch.add_cosignature(
            300,
            "witness.example".into(),
            "— witness.example BBBB".into(),
        );
        store.commit(batch).unwrap();
        out.root
    };
    let root_300 = tree_root;
    let store = open(dir.path(), engine);
    assert_eq!(store.engine(), engine);
    assert_eq!(store.tree_size(), 300);
    assert_eq!(root(&Blake3, &store, 300).unwrap(), root_300);
    assert_eq!(store.leaf(299).unwrap(), Some(leaf(299)));
    assert_eq!(
        store.log_params().unwrap().as_deref(),
        Some(&b"genesis"[..])
    );
    assert_eq!(store.account_history(&key(1), 0, 10).unwrap(), [7]);
    assert_eq!(store.leaf_by_nonce(&key(1), 42).unwrap(), Some(7));
    assert_eq!(store.leaf_by_nonce(&key(1), 43).unwrap(), None);
    assert_eq!(
        store.record(&key(2)).unwrap().as_deref(),
        Some(&b"record two"[..])
    );
    let latest = store.latest_checkpoint().unwrap().unwrap();
    assert_eq!((latest.size, latest.note), (300, note(300, &root_300)));
    assert_eq!(
        store.cosignatures(300).unwrap(),
        [(
            "witness.example".to_string(),
            "— witness.example BBBB".to_string()
        )]
    );
    assert!(store.cosignatures(299).unwrap().is_empty());
    // In the order of the accounts' state-map keys, which a page continues from.
    let mut saved = vec![
        (account_map_key(&key(1)), key(1), b"record one".to_vec()),
        (account_map_key(&key(2)), key(2), b"record two".to_vec()),
    ];
    saved.sort();
    assert_eq!(store.records(None, 10).unwrap(), saved);
    assert_eq!(store.records(Some(&saved[0].0), 10).unwrap(), saved[1..]);
    assert_eq!(
        store.consents(0, 10).unwrap(),
        [(5, b"consent five".to_vec()), (9, b"consent nine".to_vec())]
    );
    assert_eq!(
        store.consents(6, 10).unwrap(),
        [(9, b"consent nine".to_vec())]
    );
    assert_eq!(store.claims(0, 1).unwrap(), [(8, b"claim eight".to_vec())]);
    assert_eq!(
        store.state_header().unwrap().as_deref(),
        Some(&b"header"[..])
    );
}

fn range_reads_and_paging(engine: EngineKind) {
    let dir = TempDir::new().unwrap();
    let store = open(dir.path(), engine);
    append(&store, 50);
    assert_eq!(
        store.leaves(10, 13).unwrap(),
        [leaf(10), leaf(11), leaf(12)]
    );
    assert_eq!(
        store.leaves(48, 100).unwrap(),
        [leaf(48), leaf(49)],
        "clipped to the tree"
    );
    assert!(store.leaves(50, 60).unwrap().is_empty());
    assert!(store.leaves(20, 10).unwrap().is_empty());
    assert_eq!(store.leaf(50).unwrap(), None);

    // Key 5's history in chunks of uneven length, as successive checkpoints write it, beside
    // neighbouring keys whose chunks must never be read as key 5's.
    let history: Vec<u64> = (0..50).step_by(3).collect();
    let mut batch = store.batch();
    let mut first = 0;
    for chunk in [&history[..1], &history[1..7], &history[7..8], &history[8..]] {
        batch.index_account(key(5), first, chunk.to_vec());
        first += chunk.len() as u64;
    }
    batch.index_account(key(4), 0, (0..40).collect());
    batch.index_account(key(6), 0, vec![2, 5]);
    batch.index_account(PublicKey([0xff; 32]), 0, vec![1]);
    batch.index_account(key(7), 0, Vec::new());
    for k in [3u8, 1, 2, 0xff] {
        batch.put_record(key(k), vec![k]);
    }
    store.commit(batch).unwrap();
    for limit in [1, 4, 5, 100] {
        let mut pages = Vec::new();
        let mut from = 0;
        loop {
            let page = store.account_history(&key(5), from, limit).unwrap();
            if page.is_empty() {
                break;
            }
            from += page.len() as u64;
            pages.push(page);
        }
        assert_eq!(
            pages.concat(),
            history,
            "pages of {limit} cover key 5 only, in order"
        );
        assert!(pages[..pages.len() - 1].iter().all(|p| p.len() == limit));
    }
    for from in 0..=history.len() {
        assert_eq!(
            store.account_history(&key(5), from as u64, 3).unwrap(),
            history[from..(from + 3).min(history.len())],
            "from {from}"
        );
    }
    assert_eq!(
        store
            .account_history(&PublicKey([0xff; 32]), 0, 10)
            .unwrap(),
        [1]
    );
    assert!(store.account_history(&key(7), 0, 10).unwrap().is_empty());
    assert!(store.account_history(&key(8), 0, 10).unwrap().is_empty());
    assert!(store.account_history(&key(6), 2, 10).unwrap().is_empty());

    let mut saved: Vec<_> = [1, 2, 3, 0xff]
        .map(|n| (account_map_key(&key(n)), key(n), vec![n]))
        .into();
    saved.sort();
    let first = store.records(None, 2).unwrap();
    assert_eq!(first, saved[..2]);
    let rest = store.records(Some(&first[1].0), 10).unwrap();
    assert_eq!(rest, saved[2..]);
    assert!(store.records(Some(&saved[3].0), 10).unwrap().is_empty());
    let mut batch = store.batch();
    batch.delete_record(key(2));
    store.commit(batch).unwrap();
    assert_eq!(store.record(&key(2)).unwrap(), None);
}

/// Trees ending on and around tile edges, at level 0 and above, read back from a cold store.
fn tile_boundaries(engine: EngineKind) {
    let dir = TempDir::new().unwrap();
    let mut roots = vec![Blake3.empty_root()];
    {
        let store = open(dir.path(), engine);
        for count in [255u64, 1, 1, 254, 1, 1, 511, 1] {
            append(&store, count);
            let size = store.tree_size();
            assert_eq!(
                root(&Blake3, &store, size).unwrap(),
                reference_root(size),
                "root({size})"
            );
            roots.push(reference_root(size));
        }
    }
    let store = open(dir.path(), engine);
    assert_eq!(store.tree_size(), 1025);
    for size in [255u64, 256, 257, 511, 512, 513, 1024, 1025] {
        assert_eq!(
            root(&Blake3, &store, size).unwrap(),
            reference_root(size),
            "cold root({size})"
        );
    }
    let ids = [
        NodeId::leaf(255),
        NodeId::leaf(256),
        NodeId::leaf(1024),
        NodeId::new(1, 127),
        NodeId::new(1, 128),
        NodeId::new(8, 3),
        NodeId::new(9, 1),
        NodeId::new(10, 0),
    ];
    let hashes = store.read_hashes(&ids).unwrap();
    assert_eq!(hashes[0], Blake3.hash_leaf(&leaf(255)));
    assert_eq!(hashes[2], Blake3.hash_leaf(&leaf(1024)));
    assert_eq!(hashes[7], reference_root(1024));
    assert!(store.read_hashes(&[NodeId::leaf(1025)]).is_err());
    assert!(store.read_hashes(&[NodeId::new(8, 4)]).is_err());
    let proof = inclusion_proof(&Blake3, &store, 256, 1025).unwrap();
    verify_inclusion(
        &Blake3,
        256,
        1025,
        &Blake3.hash_leaf(&leaf(256)),
        &proof,
        &roots[8],
    )
    .unwrap();
}

/// Two appends in one batch read each other's pending hashes and equal one append.
fn pending_appends_see_each_other(engine: EngineKind) {
    let dir = TempDir::new().unwrap();
    let store = open(dir.path(), engine);
    append(&store, 200);
    let mut batch = store.batch();
    store
        .append_leaves(&mut batch, &Blake3, (200..300).map(leaf).collect())
        .unwrap();
    let out = store
        .append_leaves(&mut batch, &Blake3, (300..520).map(leaf).collect())
        .unwrap();
    assert_eq!(out.root, reference_root(520));
    assert_eq!(store.tree_size(), 200, "nothing visible before commit");
    assert_eq!(
        store
            .pending(&batch)
            .read_hashes(&[NodeId::leaf(519)])
            .unwrap()
            .len(),
        1
    );
    store.commit(batch).unwrap();
    assert_eq!(root(&Blake3, &store, 520).unwrap(), reference_root(520));
}

fn invalid_batches_are_refused(engine: EngineKind) {
    let dir = TempDir::new().unwrap();
    let store = open(dir.path(), engine);
    append(&store, 10);
    let mut stale = WriteBatch::new(5);
    stale.push_leaf(leaf(5));
    assert!(matches!(
        store.commit(stale),
        Err(StorageError::StaleBatch {
            batch_base: 5,
            tree_size: 10
        })
    ));
    let mut bare = store.batch();
    bare.push_leaf(leaf(10));
    assert!(matches!(
        store.commit(bare),
        Err(StorageError::MissingLeafHash { index: 10 })
    ));
    let mut beyond = store.batch();
    beyond.set_checkpoint(11, note(11, &Hash::default()));
    assert!(matches!(
        store.commit(beyond),
        Err(StorageError::CheckpointBeyondTree {
            checkpoint: 11,
            tree_size: 10
        })
    ));
    let mut mislabelled = store.batch();
    mislabelled.set_checkpoint(9, note(8, &Hash::default()));
    assert!(matches!(
        store.commit(mislabelled),
        Err(StorageError::MalformedCheckpoint { size: 9, .. })
    ));
    let mut conflict = store.batch();
    conflict.put_tree_hashes(&[(NodeId::leaf(3), Hash([7; 32]))]);
    assert!(
        matches!(store.commit(conflict), Err(StorageError::HashConflict(id)) if id == NodeId::leaf(3))
    );
    let mut gap = store.batch();
    gap.put_tree_hashes(&[(NodeId::leaf(12), Hash([7; 32]))]);
    assert!(matches!(
        store.commit(gap),
        Err(StorageError::TileGap { stored: 10, .. })
    ));
    assert_eq!(store.tree_size(), 10);
    assert_eq!(root(&Blake3, &store, 10).unwrap(), reference_root(10));
    let empty = store.batch();
    assert!(empty.is_empty());
    assert_eq!(store.commit(empty).unwrap(), 10);
}

fn older_checkpoints_stay_and_latest_is_largest(engine: EngineKind) {
    let dir = TempDir::new().unwrap();
    let store = open(dir.path(), engine);
    let r3 = append(&store, 3);
    let r5 = append(&store, 2);
    assert_eq!(store.checkpoint(3).unwrap(), Some(note(3, &r3)));
    let mut batch = store.batch();
    batch.set_checkpoint(3, note(3, &r3));
    store.commit(batch).unwrap();
    assert_eq!(
        store.latest_checkpoint().unwrap().unwrap().note,
        note(5, &r5)
    );
    assert_eq!(store.checkpoint(4).unwrap(), None);
}

macro_rules! per_engine {
    ($($test:ident),* $(,)?) => {
        mod redb {
            $(#[test] fn $test() { super::$test(super::EngineKind::Redb) })*
        }
        mod sled {
            $(#[test] fn $test() { super::$test(super::EngineKind::Sled) })*
        }
    };
}

per_engine!(
    hash_store_conforms,
    map_store_conforms,
    nonce_chunks,
    reopen_preserves_everything,
    range_reads_and_paging,
    tile_boundaries,
    pending_appends_see_each_other,
    invalid_batches_are_refused,
    older_checkpoints_stay_and_latest_is_largest,
);

#[test]
fn a_directory_opens_only_with_its_engine() {
    let dir = TempDir::new().unwrap();
    drop(open(dir.path(), EngineKind::Redb));
    match Store::open(dir.path(), &config(EngineKind::Sled)) {
        Err(StorageError::WrongEngine {
            requested: EngineKind::Sled,
            found: EngineKind::Redb,
            ..
        }) => {}
        other => panic!("opened a redb directory with sled: {other:?}"),
    }
    assert_eq!("sled".parse::<EngineKind>().unwrap(), EngineKind::Sled);
    assert!("rocksdb".parse::<EngineKind>().is_err());
}

#[test]
fn the_store_is_shareable_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Store>();
    let _: fn(&Store) -> Result<Option<u64>, _> = |s| MapNodeStore::latest_version(&s);
}

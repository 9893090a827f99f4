//! Tests that need the store's insides: atomicity under injected engine failures, and the
//! startup check refusing stores corrupted behind its back.

use tempfile::TempDir;
use testigo_ledger::merkle::{HashReader, NodeId, root};
use testigo_ledger::{Blake3, Hash, PublicKey, TreeHasher};

use super::layout::{
    FORMAT_VERSION, META_FORMAT, META_LATEST_CHECKPOINT, META_TREE_SIZE, Table, TileId,
    decode_tile, encode_tile, u64_key,
};
use super::{EngineKind, Inconsistent, StorageError, Store, StoreConfig, WriteBatch};

fn open(dir: &TempDir, engine: EngineKind) -> Result<Store, StorageError> {
    Store::open(
        dir.path(),
        &StoreConfig {
            engine,
            ..StoreConfig::default()
        },
    )
}

fn leaf(i: u64) -> Vec<u8> {
    format!("leaf {i}").into_bytes()
}

fn note(size: u64, root: &Hash) -> String {
    format!(
        "test.example/log\n{size}\n{}\n\n— test.example/log AAAA\n",
        root.to_base64()
    )
}

/// `count` more leaves, an index entry, a nonce, a state snapshot and a checkpoint.
fn full_batch(store: &Store, count: u64) -> WriteBatch {
    let mut batch = store.batch();
    let start = batch.new_size();
    let out = store
        .append_leaves(
            &mut batch,
            &Blake3,
            (start..start + count).map(leaf).collect(),
        )
        .unwrap();
    batch.index_account(PublicKey([1; 32]), start / 100, vec![start]);
    batch.index_nonce(PublicKey([1; 32]), start, start);
    batch.put_record(PublicKey([1; 32]), start.to_be_bytes().to_vec());
    batch.put_consent(start, b"consent".to_vec());
    batch.put_claim(start + 1, b"claim".to_vec());
    batch.set_state_header(start.to_be_bytes().to_vec());
    batch.set_checkpoint(out.new_size, note(out.new_size, &out.root));
    batch
}

/// What a store holding exactly the first `full_batch(_, 100)` shows.
fn assert_only_first_batch(store: &Store) {
    assert_eq!(store.tree_size(), 100);
    assert_eq!(store.leaf(100).unwrap(), None);
    assert!(store.read_hashes(&[NodeId::leaf(100)]).is_err());
    assert_eq!(store.leaf_by_nonce(&PublicKey([1; 32]), 100).unwrap(), None);
    assert_eq!(
        store.account_history(&PublicKey([1; 32]), 0, 10).unwrap(),
        [0]
    );
    assert_eq!(
        store.record(&PublicKey([1; 32])).unwrap(),
        Some(0u64.to_be_bytes().to_vec())
    );
    assert_eq!(store.consents(0, 10).unwrap().len(), 1);
    assert_eq!(store.claims(0, 10).unwrap(), [(1, b"claim".to_vec())]);
    assert_eq!(
        store.state_header().unwrap(),
        Some(0u64.to_be_bytes().to_vec())
    );
    assert_eq!(store.latest_checkpoint().unwrap().unwrap().size, 100);
    assert!(root(&Blake3, store, 100).is_ok());
}

fn batches_are_all_or_nothing(engine: EngineKind) {
    let dir = TempDir::new().unwrap();
    {
        let store = open(&dir, engine).unwrap();
        store.commit(full_batch(&store, 100)).unwrap();
        let batch = full_batch(&store, 300);
        let ops = store.prepare(&batch).unwrap().ops.len();
        assert!(ops > 300, "the batch spans many tables ({ops} ops)");
        for at in [0, 1, 150, ops / 2, ops - 1, ops] {
            store.fail_next_commit_after(at);
            match store.commit(batch.clone()) {
                Err(StorageError::Injected) => {}
                other => panic!("failure after {at} ops: {other:?}"),
            }
            assert_only_first_batch(&store);
        }
    }
    let store = open(&dir, engine).unwrap();
    assert_only_first_batch(&store);
    store.commit(full_batch(&store, 300)).unwrap();
    assert_eq!(store.tree_size(), 400);
    assert_eq!(
        store.leaf_by_nonce(&PublicKey([1; 32]), 100).unwrap(),
        Some(100)
    );
    assert_eq!(store.consents(0, 10).unwrap().len(), 2);
    assert_eq!(
        store.state_header().unwrap(),
        Some(100u64.to_be_bytes().to_vec())
    );
    drop(store);
    assert_eq!(
        open(&dir, engine)
            .unwrap()
            .latest_checkpoint()
            .unwrap()
            .unwrap()
            .size,
        400
    );
}

/// A store of 300 leaves with a checkpoint at 300, then `corrupt`, then reopened.
fn reopen_after(engine: EngineKind, corrupt: impl FnOnce(&Store)) -> StorageError {
    let dir = TempDir::new().unwrap();
    {
        let store = open(&dir, engine).unwrap();
        store.commit(full_batch(&store, 300)).unwrap();
        corrupt(&store);
    }
    match open(&dir, engine) {
        Err(error) => error,
        Ok(_) => panic!("a corrupted store opened"),
    }
}

fn rewrite_tile(store: &Store, tile: TileId, edit: impl FnOnce(&mut Vec<Hash>)) {
    let key = tile.key();
    let mut hashes = decode_tile(
        &key,
        &store.engine.get(Table::Tiles, &key).unwrap().unwrap(),
    )
    .unwrap();
    edit(&mut hashes);
    store.raw_put(Table::Tiles, key, encode_tile(&hashes));
}

fn inconsistent(error: StorageError) -> Inconsistent {
    match error {
        StorageError::Inconsistent(inconsistent) => inconsistent,
        other => panic!("expected an inconsistency, got {other}"),
    }
}

fn corrupted_stores_are_refused(engine: EngineKind) {
    // root(300) = H((8,0), H((5,8), H((3,36), (2,74)))): corrupt (8,0).
    let bad = Hash([0xab; 32]);
    let mut expected = None;
    let error = reopen_after(engine, |store| {
        let rest = store
            .read_hashes(&[NodeId::new(5, 8), NodeId::new(3, 36), NodeId::new(2, 74)])
            .unwrap();
        let right = Blake3.hash_children(&rest[0], &Blake3.hash_children(&rest[1], &rest[2]));
        let stored = root(&Blake3, store, 300).unwrap();
        expected = Some((stored, Blake3.hash_children(&bad, &right)));
        rewrite_tile(store, TileId { level: 8, index: 0 }, |h| h[0] = bad);
    });
    let (stored_root, computed_root) = expected.unwrap();
    assert_eq!(
        inconsistent(error),
        Inconsistent::CheckpointRootMismatch {
            size: 300,
            stored_root,
            computed_root
        }
    );

    let forged = Hash([0xcd; 32]);
    let mut real = None;
    let error = reopen_after(engine, |store| {
        real = Some(root(&Blake3, store, 300).unwrap());
        store.raw_put(
            Table::Checkpoints,
            u64_key(300),
            note(300, &forged).into_bytes(),
        );
    });
    assert_eq!(
        inconsistent(error),
        Inconsistent::CheckpointRootMismatch {
            size: 300,
            stored_root: forged,
            computed_root: real.unwrap()
        }
    );

    let error = reopen_after(engine, |store| {
        store.raw_put(Table::Meta, META_TREE_SIZE.to_vec(), u64_key(301));
    });
    assert_eq!(
        inconsistent(error),
        Inconsistent::LeafCountMismatch {
            tree_size: 301,
            leaves: 300
        }
    );

    let error = reopen_after(engine, |store| {
        store.raw_put(Table::Leaves, u64_key(299), b"forged".to_vec());
    });
    assert_eq!(
        inconsistent(error),
        Inconsistent::LeafHashMismatch {
            index: 299,
            stored: Blake3.hash_leaf(&leaf(299)),
            computed: Blake3.hash_leaf(b"forged"),
        }
    );

    let error = reopen_after(engine, |store| {
        rewrite_tile(store, TileId { level: 0, index: 1 }, |h| {
            h.push(Hash([1; 32]))
        });
    });
    assert_eq!(
        inconsistent(error),
        Inconsistent::HashCountMismatch {
            tree_size: 300,
            leaf_hashes: 301
        }
    );

    let error = reopen_after(engine, |store| {
        rewrite_tile(store, TileId { level: 2, index: 0 }, |h| {
            h.pop();
        });
    });
    assert_eq!(
        inconsistent(error),
        Inconsistent::MissingTreeHash {
            size: 300,
            missing: NodeId::new(2, 74)
        }
    );

    let error = reopen_after(engine, |store| {
        store.raw_put(Table::Meta, META_LATEST_CHECKPOINT.to_vec(), u64_key(250));
    });
    assert_eq!(
        inconsistent(error),
        Inconsistent::LatestCheckpointMissing { size: 250 }
    );

    let error = reopen_after(engine, |store| {
        store.raw_put(
            Table::Checkpoints,
            u64_key(400),
            note(400, &forged).into_bytes(),
        );
        store.raw_put(Table::Meta, META_LATEST_CHECKPOINT.to_vec(), u64_key(400));
    });
    assert_eq!(
        inconsistent(error),
        Inconsistent::CheckpointBeyondTree {
            checkpoint_size: 400,
            tree_size: 300
        }
    );

    let error = reopen_after(engine, |store| {
        store.raw_put(
            Table::Checkpoints,
            u64_key(300),
            b"log\n300\nnot a hash\n".to_vec(),
        );
    });
    assert!(matches!(
        inconsistent(error),
        Inconsistent::MalformedCheckpoint { size: 300, .. }
    ));

    let error = reopen_after(engine, |store| {
        store.raw_put(
            Table::Meta,
            META_FORMAT.to_vec(),
            (FORMAT_VERSION + 1).to_be_bytes().to_vec(),
        );
    });
    assert!(matches!(
        error,
        StorageError::UnsupportedFormat {
            found: Some(found),
            supported: FORMAT_VERSION,
        } if found == FORMAT_VERSION + 1
    ));
}

fn full_tiles_are_cached_and_partial_ones_are_not(engine: EngineKind) {
    let dir = TempDir::new().unwrap();
    let store = open(&dir, engine).unwrap();
    store.commit(full_batch(&store, 300)).unwrap();
    let cached = store.tiles.cached();
    assert_eq!(
        cached,
        [TileId { level: 0, index: 0 }],
        "only the full level-0 tile"
    );
    store.commit(full_batch(&store, 212)).unwrap();
    let cached = store.tiles.cached();
    assert_eq!(
        cached,
        [
            TileId { level: 0, index: 0 },
            TileId { level: 0, index: 1 },
            TileId { level: 1, index: 0 }
        ]
    );
    assert_eq!(
        root(&Blake3, &store, 512).unwrap(),
        root(&Blake3, &store.pending(&store.batch()), 512).unwrap()
    );
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
    batches_are_all_or_nothing,
    corrupted_stores_are_refused,
    full_tiles_are_cached_and_partial_ones_are_not,
);

#[test]
fn checkpoint_notes_parse_strictly() {
    use super::check::parse_checkpoint;
    let root = Hash([3; 32]);
    assert_eq!(parse_checkpoint(&note(7, &root)), Ok((7, root)));
    assert_eq!(parse_checkpoint(&note(0, &root)), Ok((0, root)));
    for bad in [
        "",
        "log",
        "log\n07\nAAAA\n",
        "log\n+7\n",
        "log\n7\nAAAA\n",
        "\n7\n",
    ] {
        assert!(parse_checkpoint(bad).is_err(), "{bad:?} parsed");
    }
}

/// A grant list reads whole, a page at a time, and damage to it reads as corrupt, never as a
/// list with a grant missing or out of order.
#[test]
fn a_damaged_grant_list_reads_as_corrupt_never_short() {
    use testigo_ledger::state::{GrantList, GrantPosition};

    use super::layout::{GRANT_LIST_LEN, grant_key};

    for engine in [EngineKind::Redb, EngineKind::Sled] {
        let dir = TempDir::new().unwrap();
        let store = open(&dir, engine).unwrap();
        let list = GrantList::BySubject(PublicKey([7; 32]));
        let grants = [3u64, 5, 9, 12];
        let mut batch = store.batch();
        for (position, index) in (0..).zip(grants) {
            batch.put_consent(index, vec![index as u8]);
            let at = GrantPosition {
                list,
                position,
                len: grants.len() as u64,
            };
            batch.put_grant_position(at, index);
        }
        store.commit(batch).unwrap();
        let indexes = |page: &[(u64, Vec<u8>)]| page.iter().map(|(i, _)| *i).collect::<Vec<_>>();
        let (page, more) = store.grants(&list, 0, 10).unwrap();
        assert_eq!((indexes(&page), more), (grants.to_vec(), false));
        assert_eq!(page[1].1, vec![5]);
        let (page, more) = store.grants(&list, 4, 2).unwrap();
        assert_eq!((indexes(&page), more), (vec![5, 9], true));
        let (page, more) = store.grants(&list, 13, 2).unwrap();
        assert_eq!((indexes(&page), more), (vec![], false));
        let other = GrantList::ForAny;
        assert_eq!(store.grants(&other, 0, 10).unwrap(), (vec![], false));

        let corrupt = |store: &Store, from: u64| {
            matches!(
                store.grants(&list, from, 10),
                Err(StorageError::Corrupt { .. })
            )
        };
        // A grant out of order.
        store.raw_put(Table::Grants, grant_key(&list, 2), u64_key(4));
        assert!(corrupt(&store, 0), "{engine:?}");
        store.raw_put(Table::Grants, grant_key(&list, 2), u64_key(9));
        assert!(!corrupt(&store, 0));
        // A length that claims a grant the list does not hold.
        store.raw_put(Table::Grants, grant_key(&list, GRANT_LIST_LEN), u64_key(5));
        assert!(corrupt(&store, 0));
        assert!(corrupt(&store, 10));
        store.raw_put(Table::Grants, grant_key(&list, GRANT_LIST_LEN), u64_key(4));
        // A listed grant without its consent.
        store.raw_put(Table::Grants, grant_key(&list, 3), u64_key(13));
        assert!(corrupt(&store, 10));
    }
}

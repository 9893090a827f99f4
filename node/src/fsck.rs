//! `testigo-node fsck`: re-derives what the store holds from its leaves alone and names the first
//! thing that disagrees.
//!
//! Beyond the checks a start makes (the tail, the latest checkpoint, the saved state against its
//! `StateRoot`), it reads every leaf: each must hash to its stored leaf hash and pass the rules
//! when replayed from the genesis with the ledger's `Engine` (so every signature, nonce, balance
//! and every `StateRoot`'s map root is checked again); the tree is rebuilt in memory from the
//! leaves and every stored tree hash at every checkpoint size must give the same root, which
//! must be the root each stored checkpoint note states under a valid log signature; each
//! account's stored history index must list exactly the leaves that involve it, and the nonce
//! index must find every signed entry. Memory grows with the log here (the rebuilt tree, 64
//! bytes per leaf, and the histories): it is an offline check, not the node's read path.

use std::collections::BTreeMap;

use testigo_ledger::checkpoint::{SignedNote, verify_checkpoint_note};
use testigo_ledger::entry::Leaf;
use testigo_ledger::map::SparseMap;
use testigo_ledger::merkle::{HashReader as _, MemoryStore, NodeId, root};
use testigo_ledger::state::{Engine, State};
use testigo_ledger::{Blake3, Hash, PublicKey, TreeHasher as _};

use crate::storage::{StorageError, Store, grant_key};

/// Leaves read per page.
const PAGE: u64 = 1_000;

/// What `fsck` went through.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FsckReport {
    /// Leaves read, hashed and replayed.
    pub leaves: u64,
    /// Checkpoints whose note and root were checked.
    pub checkpoints: u64,
    /// Accounts whose history index was compared.
    pub accounts: u64,
}

/// Why a store fails `fsck`.
#[derive(Debug, thiserror::Error)]
pub enum FsckError {
    /// The store could not be read at all (or refused to open).
    #[error("store: {0}")]
    Store(#[from] StorageError),
    /// The first thing found that disagrees with the leaves.
    #[error("{}{what}", index.map(|i| format!("leaf {i}: ")).unwrap_or_default())]
    Bad {
        /// The leaf index where it shows, when there is one.
        index: Option<u64>,
        /// What was expected and what was found.
        what: String,
    },
}

fn bad(index: Option<u64>, what: impl Into<String>) -> FsckError {
    FsckError::Bad {
        index,
        what: what.into(),
    }
}

fn merkle(index: Option<u64>, e: impl std::fmt::Display) -> FsckError {
    bad(index, format!("the tree: {e}"))
}

/// Checks `store` against its own leaves, calling `progress(done, total)` after each page.
///
/// # Errors
/// The first [`FsckError`] found.
pub fn fsck(store: &Store, mut progress: impl FnMut(u64, u64)) -> Result<FsckReport, FsckError> {
    let size = store.tree_size();
    let mut engine = Engine::new(SparseMap::new());
    let mut tree = MemoryStore::new();
    let mut histories: BTreeMap<PublicKey, Vec<u64>> = BTreeMap::new();
    let mut signed: Vec<(PublicKey, u64, u64)> = Vec::new();
    let mut start = 0;
    while start < size {
        let end = (start + PAGE).min(size);
        let leaves = store.leaves(start, end)?;
        let ids: Vec<NodeId> = (start..end).map(NodeId::leaf).collect();
        let stored = store
            .read_hashes(&ids)
            .map_err(|e| merkle(Some(start), e))?;
        let mut hashes = Vec::with_capacity(leaves.len());
        for (i, (bytes, stored)) in leaves.iter().zip(stored).enumerate() {
            let index = start + i as u64;
            let computed = Blake3.hash_leaf(bytes);
            if computed != stored {
                return Err(bad(
                    Some(index),
                    format!("hashes to {computed}, its stored leaf hash is {stored}"),
                ));
            }
            hashes.push(computed);
            let leaf = Leaf::from_bytes(bytes)
                .map_err(|e| bad(Some(index), format!("not a leaf: {e}")))?;
            let effects = engine
                .apply(&leaf, leaf.sequenced_at)
                .map_err(|e| bad(Some(index), format!("the rules refuse it on replay: {e}")))?;
            for account in effects.involved {
                histories.entry(account).or_default().push(index);
            }
            if let Some(nonce) = effects.nonce {
                signed.push((leaf.signer, nonce, index));
            }
        }
        tree.append(&Blake3, &hashes)
            .map_err(|e| merkle(Some(start), e))?;
        start = end;
        progress(start, size);
    }
    let origin = engine
        .state()
        .params()
        .map(|p| (p.origin.clone(), p.log_key))
        .ok_or_else(|| bad(None, "the log has no genesis"));
    let mut report = FsckReport {
        leaves: size,
        ..FsckReport::default()
    };
    if size == 0 {
        return Ok(report);
    }
    let (origin, log_key) = origin?;
    check_tree(store, &tree, size)?;
    report.checkpoints = check_checkpoints(store, &tree, &origin, &log_key)?;
    for (account, expected) in &histories {
        let listed = store.account_history(account, 0, expected.len() + 1)?;
        if listed != *expected {
            let first = listed
                .iter()
                .zip(expected)
                .find(|(a, b)| a != b)
                .map(|(_, b)| *b)
                .or_else(|| expected.get(listed.len()).copied());
            return Err(bad(
                first,
                format!(
                    "the history index of {account} lists {} leaves, the log gives {}",
                    listed.len(),
                    expected.len()
                ),
            ));
        }
    }
    report.accounts = histories.len() as u64;
    for (signer, nonce, index) in signed {
        if store.leaf_by_nonce(&signer, nonce)? != Some(index) {
            return Err(bad(
                Some(index),
                format!("the nonce index does not find nonce {nonce} of {signer} here"),
            ));
        }
    }
    Ok(report)
}

/// Every stored tree hash above the leaves (every complete subtree, level by level) equals the one
/// rebuilt from the leaves: a damaged inner hash shows in some proof, if not in any root.
fn check_tree(store: &Store, tree: &MemoryStore, size: u64) -> Result<(), FsckError> {
    let mut level = 1u8;
    while level < 64 && (size >> level) > 0 {
        let count = size >> level;
        let mut start = 0;
        while start < count {
            let end = (start + PAGE).min(count);
            let ids: Vec<NodeId> = (start..end).map(|i| NodeId::new(level, i)).collect();
            let rebuilt = tree.read_hashes(&ids).map_err(|e| merkle(None, e))?;
            let stored = store.read_hashes(&ids).map_err(|e| merkle(None, e))?;
            if let Some((id, (r, s))) = ids
                .iter()
                .zip(rebuilt.iter().zip(&stored))
                .find(|(_, (r, s))| r != s)
            {
                let first = id.leaves().map(|range| range.start);
                return Err(bad(
                    first,
                    format!("the stored tree hash {id} is {s}, the leaves give {r}"),
                ));
            }
            start = end;
        }
        level += 1;
    }
    Ok(())
}

/// Every stored checkpoint: a valid log signature, a size within the log, and the same root
/// from the stored hashes as from the tree rebuilt from the leaves.
fn check_checkpoints(
    store: &Store,
    tree: &MemoryStore,
    origin: &str,
    log_key: &PublicKey,
) -> Result<u64, FsckError> {
    let mut checked = 0;
    let mut from = 0;
    loop {
        let page = store.checkpoints_from(from, 100)?;
        let Some(last) = page.last().map(|c| c.size) else {
            return Ok(checked);
        };
        for stored in page {
            let at = Some(stored.size.saturating_sub(1));
            let note = SignedNote::parse(stored.note.as_bytes())
                .map_err(|e| bad(at, format!("the checkpoint note does not parse: {e}")))?;
            let checkpoint = verify_checkpoint_note(&note, origin, log_key)
                .map_err(|e| bad(at, format!("the checkpoint of size {}: {e}", stored.size)))?;
            let rebuilt: Hash = root(&Blake3, tree, stored.size).map_err(|e| merkle(at, e))?;
            let from_store = root(&Blake3, store, stored.size).map_err(|e| merkle(at, e))?;
            if checkpoint.size() != stored.size
                || *checkpoint.root() != rebuilt
                || from_store != rebuilt
            {
                return Err(bad(
                    at,
                    format!(
                        "the checkpoint of size {} states root {}, the leaves give {rebuilt}, \
                         the stored hashes {from_store}",
                        stored.size,
                        checkpoint.root()
                    ),
                ));
            }
            checked += 1;
        }
        from = last + 1;
    }
}

/// Opens the store of `config`'s data directory (which runs the start-up check) and checks it
/// with [`fsck`]; then restores the saved state as a start would, so a snapshot that disagrees
/// with the log, or a consent or claim the log did not make, is named too.
///
/// # Errors
/// The first [`FsckError`] found.
pub fn fsck_data_dir(
    config: &crate::Config,
    progress: impl FnMut(u64, u64),
) -> Result<FsckReport, FsckError> {
    let engine = match config.storage {
        crate::StorageEngine::Redb => crate::storage::EngineKind::Redb,
        crate::StorageEngine::Sled => crate::storage::EngineKind::Sled,
    };
    let store_config = crate::storage::StoreConfig {
        engine,
        ..crate::storage::StoreConfig::default()
    };
    let store = std::sync::Arc::new(Store::open(&config.store_path(), &store_config)?);
    let report = fsck(&store, progress)?;
    if let Some(latest) = store.latest_checkpoint()? {
        let engine =
            crate::recovery::restore(&store, latest.size, crate::recovery::Residence::Whole)
                .map_err(|e| bad(Some(latest.size - 1), e.to_string()))?;
        check_grant_lists(&store, engine.state())?;
    }
    Ok(report)
}

/// Compares the `grants` table, row for row, with the grant lists the restored state derives
/// from its consents: each grant at its position in its two lists, each list's length, nothing
/// else.
pub(crate) fn check_grant_lists(store: &Store, state: &State) -> Result<(), FsckError> {
    let mut expected: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
    for (index, _) in state.consents() {
        for at in state.grant_positions(index) {
            expected.insert(
                grant_key(&at.list, at.position),
                index.to_be_bytes().to_vec(),
            );
            expected.insert(
                grant_key(&at.list, crate::storage::GRANT_LIST_LEN),
                at.len.to_be_bytes().to_vec(),
            );
        }
    }
    let stored = store.grant_rows()?;
    let mut want = expected.iter();
    for (key, value) in &stored {
        match want.next() {
            Some((k, v)) if k == key && v == value => {}
            Some((k, v)) => {
                return Err(bad(
                    None,
                    format!(
                        "the grant lists: stored row {} = {} where the consents give {} = {}",
                        hex(key),
                        hex(value),
                        hex(k),
                        hex(v)
                    ),
                ));
            }
            None => {
                return Err(bad(
                    None,
                    format!(
                        "the grant lists: stored row {} is not the consents'",
                        hex(key)
                    ),
                ));
            }
        }
    }
    if let Some((k, _)) = want.next() {
        return Err(bad(
            None,
            format!("the grant lists: row {} is missing", hex(k)),
        ));
    }
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

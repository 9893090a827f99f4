//! One atomic, durable commit: everything a sequencer batch writes.

use std::collections::BTreeMap;

use testigo_ledger::map::{MapWriteBatch, account_map_key};
use testigo_ledger::merkle::{HashReader, Integration, NodeId, StoreError, integrate};
use testigo_ledger::state::GrantPosition;
use testigo_ledger::{Hash, PublicKey, TreeHasher};

use super::check::parse_checkpoint;
use super::layout::{
    GRANT_LIST_LEN, META_LATEST_CHECKPOINT, META_LOG_PARAMS, META_MAP_LATEST, META_RECORDS_VERSION,
    META_STATE, META_TREE_SIZE, Op, Table, account_key, decode_u64, grant_key, prefixed_u64,
    u64_key,
};
use super::{StorageError, Store};

/// Everything one commit writes: leaves, their tree hashes, index entries, a state snapshot
/// (records, consents, claims, header), a checkpoint, cosignatures. [`Store::commit`] writes all of it in one engine
/// transaction, or nothing.
///
/// Start one with [`Store::batch`]; append leaves with [`Store::append_leaves`] (which also
/// computes their tree hashes, reading through [`Store::pending`]), then add the rest.
#[derive(Clone, Debug, Default)]
pub struct WriteBatch {
    base_size: u64,
    leaves: Vec<Vec<u8>>,
    tree_hashes: BTreeMap<NodeId, Hash>,
    account_leaves: Vec<(PublicKey, u64, Vec<u64>)>,
    nonces: Vec<(PublicKey, u64, u64)>,
    records: BTreeMap<PublicKey, Option<Vec<u8>>>,
    consents: BTreeMap<u64, Vec<u8>>,
    claims: BTreeMap<u64, Vec<u8>>,
    grants: Vec<(GrantPosition, u64)>,
    state_header: Option<Vec<u8>>,
    records_version: Option<u64>,
    map: Vec<MapWriteBatch>,
    checkpoints: Vec<(u64, String)>,
    cosignatures: Vec<(u64, String, String)>,
    log_params: Option<Vec<u8>>,
}

impl WriteBatch {
    /// An empty batch for a tree of `base_size` leaves; [`Store::batch`] fills in the size.
    pub fn new(base_size: u64) -> Self {
        Self {
            base_size,
            ..Self::default()
        }
    }

    /// The tree size this batch appends to.
    pub fn base_size(&self) -> u64 {
        self.base_size
    }

    /// The tree size once this batch is committed.
    pub fn new_size(&self) -> u64 {
        self.base_size + self.leaves.len() as u64
    }

    /// True if committing would change nothing.
    pub fn is_empty(&self) -> bool {
        self.leaves.is_empty()
            && self.tree_hashes.is_empty()
            && self.account_leaves.is_empty()
            && self.nonces.is_empty()
            && self.records.is_empty()
            && self.consents.is_empty()
            && self.claims.is_empty()
            && self.grants.is_empty()
            && self.state_header.is_none()
            && self.records_version.is_none()
            && self.map.is_empty()
            && self.checkpoints.is_empty()
            && self.cosignatures.is_empty()
            && self.log_params.is_none()
    }

    /// Appends leaf bytes at index [`WriteBatch::new_size`] and returns that index. Its tree
    /// hashes must be added too ([`WriteBatch::put_tree_hashes`]); [`Store::append_leaves`] does
    /// both.
    pub fn push_leaf(&mut self, leaf: Vec<u8>) -> u64 {
        let index = self.new_size();
        self.leaves.push(leaf);
        index
    }

    /// Appends `leaves` with the tree hashes [`Store::integrate_leaves`] computed for them over
    /// this batch as it is now.
    pub fn push_integrated(&mut self, leaves: Vec<Vec<u8>>, integration: &Integration) {
        debug_assert_eq!(integration.new_size, self.new_size() + leaves.len() as u64);
        self.leaves.extend(leaves);
        self.put_tree_hashes(&integration.writes);
    }

    /// Adds tree hashes to persist, such as [`Integration::writes`].
    pub fn put_tree_hashes(&mut self, writes: &[(NodeId, Hash)]) {
        self.tree_hashes.extend(writes.iter().copied());
    }

    /// Records that `account`'s history, from its entry number `first` (0-based) on, continues
    /// with the leaves `indexes` (history queries). One call per account per checkpoint: the
    /// chunk is one key, whatever its length.
    pub fn index_account(&mut self, account: PublicKey, first: u64, indexes: Vec<u64>) {
        if !indexes.is_empty() {
            self.account_leaves.push((account, first, indexes));
        }
    }

    /// Records that `signer`'s `nonce` was sequenced at leaf `index` (idempotent retries). A
    /// batch stores each signer's nonces as one chunk, so a signer's nonces must grow from batch
    /// to batch, as the state machine makes them.
    pub fn index_nonce(&mut self, signer: PublicKey, nonce: u64, index: u64) {
        self.nonces.push((signer, nonce, index));
    }

    /// Sets an account's state record (the last call per account wins).
    pub fn put_record(&mut self, account: PublicKey, record: Vec<u8>) {
        self.records.insert(account, Some(record));
    }

    /// Records that the account records, with this batch's, are those of state-map version
    /// `version` (what a paged state map reads them as).
    pub fn set_records_version(&mut self, version: u64) {
        self.records_version = Some(version);
    }

    /// Deletes an account's state record.
    pub fn delete_record(&mut self, account: PublicKey) {
        self.records.insert(account, None);
    }

    /// Sets a consent's snapshot bytes, by the index of its grant (the last call per index wins).
    pub fn put_consent(&mut self, index: u64, consent: Vec<u8>) {
        self.consents.insert(index, consent);
    }

    /// Records that grant `index` sits at `at.position` of `at.list`, which is now `at.len` long.
    /// Idempotent, so a revoked grant may be written again.
    pub fn put_grant_position(&mut self, at: GrantPosition, index: u64) {
        self.grants.push((at, index));
    }

    /// Sets a claim's snapshot bytes, by the index of its claim (the last call per index wins).
    pub fn put_claim(&mut self, index: u64, claim: Vec<u8>) {
        self.claims.insert(index, claim);
    }

    /// Sets the state header of the snapshot this batch completes.
    pub fn set_state_header(&mut self, header: Vec<u8>) {
        self.state_header = Some(header);
    }

    /// Adds one state-map version for the store's own `MapNodeStore` (as prepared by
    /// `JmtStateMap::prepare`). Versions must be added in order, each the next after the stored
    /// latest.
    pub fn put_map(&mut self, batch: MapWriteBatch) {
        self.map.push(batch);
    }

    /// Stores a signed checkpoint note for tree size `size`; it becomes the latest checkpoint
    /// unless a larger one is stored. A batch may store several (a witness catching up commits
    /// a run of checkpoints at once), in growing order; the last is the one published.
    pub fn set_checkpoint(&mut self, size: u64, note: String) {
        self.checkpoints.push((size, note));
    }

    /// Stores a witness's cosignature line for the checkpoint of `size`.
    pub fn add_cosignature(&mut self, size: u64, witness: String, line: String) {
        self.cosignatures.push((size, witness, line));
    }

    /// Stores the log's parameters (e.g. the genesis body).
    pub fn set_log_params(&mut self, params: Vec<u8>) {
        self.log_params = Some(params);
    }

    pub(crate) fn pending_hash(&self, id: &NodeId) -> Option<Hash> {
        self.tree_hashes.get(id).copied()
    }
}

/// The stored tree plus a batch's pending tree hashes: what `integrate` must read while a batch
/// is being built, before it is committed.
#[derive(Debug, Clone, Copy)]
pub struct PendingTree<'a> {
    store: &'a Store,
    batch: &'a WriteBatch,
}

impl HashReader for PendingTree<'_> {
    fn read_hashes(&self, ids: &[NodeId]) -> Result<Vec<Hash>, StoreError> {
        let stored_ids: Vec<NodeId> = ids
            .iter()
            .filter(|id| self.batch.pending_hash(id).is_none())
            .copied()
            .collect();
        let mut stored = if stored_ids.is_empty() {
            Vec::new()
        } else {
            self.store.read_hashes(&stored_ids)?
        }
        .into_iter();
        ids.iter()
            .map(|id| match self.batch.pending_hash(id) {
                Some(hash) => Ok(hash),
                None => stored.next().ok_or(StoreError::Missing(*id)),
            })
            .collect()
    }
}

/// What a prepared batch changes besides the engine: the new tree size and full tiles to cache.
pub(crate) struct Prepared {
    pub(crate) ops: Vec<Op>,
    pub(crate) new_size: u64,
    pub(crate) full_tiles: super::tiles::FullTiles,
}

impl Store {
    /// An empty batch appending to the current tree.
    pub fn batch(&self) -> WriteBatch {
        WriteBatch::new(self.tree_size())
    }

    /// A reader over the stored tree and `batch`'s pending tree hashes.
    pub fn pending<'a>(&'a self, batch: &'a WriteBatch) -> PendingTree<'a> {
        PendingTree { store: self, batch }
    }

    /// Appends `leaves` to `batch`, computes their tree hashes with the pure `integrate` over the
    /// stored tree plus the batch's earlier appends, and adds those hashes to the batch. Returns
    /// the integration (new size and root) for the checkpoint.
    ///
    /// # Errors
    /// [`StorageError::Merkle`] if the stored tree is shorter than the batch's base (a store that
    /// lost data) or reading it fails.
    pub fn append_leaves<H: TreeHasher>(
        &self,
        batch: &mut WriteBatch,
        hasher: &H,
        leaves: Vec<Vec<u8>>,
    ) -> Result<Integration, StorageError> {
        let hashes: Vec<Hash> = leaves.iter().map(|leaf| hasher.hash_leaf(leaf)).collect();
        let integration = self.integrate_leaves(batch, hasher, &hashes)?;
        batch.push_integrated(leaves, &integration);
        Ok(integration)
    }

    /// What appending leaves with `leaf_hashes` to the stored tree plus `batch` would make (new
    /// size, root, hashes to write), without changing `batch`: a caller can check the root first
    /// and then [`WriteBatch::push_integrated`].
    ///
    /// # Errors
    /// As [`Store::append_leaves`].
    pub fn integrate_leaves<H: TreeHasher>(
        &self,
        batch: &WriteBatch,
        hasher: &H,
        leaf_hashes: &[Hash],
    ) -> Result<Integration, StorageError> {
        Ok(integrate(
            hasher,
            &self.pending(batch),
            batch.new_size(),
            leaf_hashes,
        )?)
    }

    /// Turns `batch` into engine operations, checking it against the stored state. Called with
    /// the writer lock held, so nothing changes between this and the engine commit.
    pub(crate) fn prepare(&self, batch: &WriteBatch) -> Result<Prepared, StorageError> {
        let tree_size = self.tree_size();
        let mut ops = Vec::new();
        let mut new_size = tree_size;
        if !batch.leaves.is_empty() {
            if batch.base_size != tree_size {
                return Err(StorageError::StaleBatch {
                    batch_base: batch.base_size,
                    tree_size,
                });
            }
            for (index, leaf) in (tree_size..).zip(&batch.leaves) {
                if batch.pending_hash(&NodeId::leaf(index)).is_none() {
                    return Err(StorageError::MissingLeafHash { index });
                }
                ops.push(Op::Put(Table::Leaves, u64_key(index), leaf.clone()));
            }
            new_size = batch.new_size();
            ops.push(Op::Put(
                Table::Meta,
                META_TREE_SIZE.to_vec(),
                u64_key(new_size),
            ));
        }
        let full_tiles = self.prepare_tiles(&batch.tree_hashes, &mut ops)?;
        for (account, first, indexes) in &batch.account_leaves {
            ops.push(Op::Put(
                Table::AccountLeaves,
                account_key(account, *first),
                indexes.iter().flat_map(|i| i.to_be_bytes()).collect(),
            ));
        }
        let mut nonces = batch.nonces.clone();
        nonces.sort_unstable();
        for chunk in nonces.chunk_by(|a, b| a.0 == b.0) {
            let (signer, first, _) = chunk[0];
            let value = chunk
                .iter()
                .flat_map(|(_, nonce, index)| [nonce.to_be_bytes(), index.to_be_bytes()])
                .flatten()
                .collect();
            ops.push(Op::Put(Table::Nonces, account_key(&signer, first), value));
        }
        for (account, record) in &batch.records {
            let key = account_map_key(account).to_vec();
            ops.push(match record {
                Some(record) => {
                    let mut value = Vec::with_capacity(32 + record.len());
                    value.extend_from_slice(account.as_bytes());
                    value.extend_from_slice(record);
                    Op::Put(Table::Records, key, value)
                }
                None => Op::Delete(Table::Records, key),
            });
        }
        if let Some(version) = batch.records_version {
            ops.push(Op::Put(
                Table::Meta,
                META_RECORDS_VERSION.to_vec(),
                u64_key(version),
            ));
        }
        for (index, consent) in &batch.consents {
            ops.push(Op::Put(Table::Consents, u64_key(*index), consent.clone()));
        }
        for (index, claim) in &batch.claims {
            ops.push(Op::Put(Table::Claims, u64_key(*index), claim.clone()));
        }
        for (at, index) in &batch.grants {
            ops.push(Op::Put(
                Table::Grants,
                grant_key(&at.list, at.position),
                u64_key(*index),
            ));
            ops.push(Op::Put(
                Table::Grants,
                grant_key(&at.list, GRANT_LIST_LEN),
                u64_key(at.len),
            ));
        }
        if let Some(header) = &batch.state_header {
            ops.push(Op::Put(Table::Meta, META_STATE.to_vec(), header.clone()));
        }
        for map in &batch.map {
            map_ops(map, &mut ops);
        }
        let mut previous = None;
        for (size, note) in &batch.checkpoints {
            if previous.is_some_and(|previous| *size <= previous) {
                return Err(StorageError::MalformedCheckpoint {
                    size: *size,
                    reason: "checkpoints of one batch must grow".into(),
                });
            }
            previous = Some(*size);
            self.checkpoint_ops(*size, note, new_size, &mut ops)?;
        }
        for (size, witness, line) in &batch.cosignatures {
            let key = [&size.to_be_bytes()[..], witness.as_bytes()].concat();
            ops.push(Op::Put(Table::Cosignatures, key, line.clone().into_bytes()));
        }
        if let Some(params) = &batch.log_params {
            ops.push(Op::Put(
                Table::Meta,
                META_LOG_PARAMS.to_vec(),
                params.clone(),
            ));
        }
        Ok(Prepared {
            ops,
            new_size,
            full_tiles,
        })
    }

    fn checkpoint_ops(
        &self,
        size: u64,
        note: &str,
        tree_size: u64,
        ops: &mut Vec<Op>,
    ) -> Result<(), StorageError> {
        if size > tree_size {
            return Err(StorageError::CheckpointBeyondTree {
                checkpoint: size,
                tree_size,
            });
        }
        let (note_size, _) = parse_checkpoint(note)
            .map_err(|reason| StorageError::MalformedCheckpoint { size, reason })?;
        if note_size != size {
            return Err(StorageError::MalformedCheckpoint {
                size,
                reason: format!("the note is for size {note_size}"),
            });
        }
        ops.push(Op::Put(
            Table::Checkpoints,
            u64_key(size),
            note.as_bytes().to_vec(),
        ));
        let latest = match self.engine.get(Table::Meta, META_LATEST_CHECKPOINT)? {
            Some(bytes) => Some(decode_u64(
                Table::Meta.name(),
                META_LATEST_CHECKPOINT,
                &bytes,
            )?),
            None => None,
        };
        if latest.is_none_or(|latest| size >= latest) {
            ops.push(Op::Put(
                Table::Meta,
                META_LATEST_CHECKPOINT.to_vec(),
                u64_key(size),
            ));
        }
        Ok(())
    }

    /// Commits `batch` atomically and durably, and returns the tree size after it.
    ///
    /// When this returns `Ok`, the whole batch is on stable storage (see [`super::EngineKind`]
    /// for what each engine guarantees); when it returns `Err`, nothing of it is stored and the
    /// batch may be retried.
    ///
    /// # Errors
    /// [`StorageError::StaleBatch`] if the batch appends leaves but the tree grew since it was
    /// built; [`StorageError::MissingLeafHash`], [`StorageError::HashConflict`],
    /// [`StorageError::TileGap`], [`StorageError::CheckpointBeyondTree`] or
    /// [`StorageError::MalformedCheckpoint`] if the batch is not a valid continuation of the
    /// store; engine errors.
    pub fn commit(&self, batch: WriteBatch) -> Result<u64, StorageError> {
        let _writer = self.lock_writer();
        let prepared = self.prepare(&batch)?;
        #[cfg(test)]
        let prepared = self.inject_failure(prepared);
        self.engine.commit(&prepared.ops)?;
        self.committed(prepared);
        // `prepare` parsed the note already; its root is the one just signed.
        if let Some((size, note)) = batch.checkpoints.last()
            && let Ok((_, root)) = parse_checkpoint(note)
        {
            self.set_anchor(*size, root);
            self.record_published(note)?;
        }
        Ok(self.tree_size())
    }
}

/// The engine operations of one map version (DESIGN §6; `MapNodeStore` contract).
pub(crate) fn map_ops(map: &MapWriteBatch, ops: &mut Vec<Op>) {
    let version = map.version.to_be_bytes();
    for (key, node) in &map.nodes {
        ops.push(Op::Put(Table::MapNodes, key.clone(), node.clone()));
    }
    for (key_hash, value) in &map.values {
        let tagged = match value {
            Some(value) => [&[1u8][..], value].concat(),
            None => vec![0],
        };
        ops.push(Op::Put(
            Table::MapValues,
            prefixed_u64(key_hash, map.version),
            tagged,
        ));
        ops.push(Op::Put(
            Table::MapWritten,
            [&version[..], key_hash].concat(),
            Vec::new(),
        ));
    }
    for stale in &map.stale {
        let key = [&stale.since.to_be_bytes()[..], &stale.key].concat();
        ops.push(Op::Put(Table::MapStale, key, Vec::new()));
    }
    ops.push(Op::Put(
        Table::Meta,
        META_MAP_LATEST.to_vec(),
        version.to_vec(),
    ));
}

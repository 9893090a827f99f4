//! The read side of the log: leaves, proofs and per-account indexes, read from the store by any
//! number of concurrent requests while the sequencer writes (the engines give readers a
//! consistent snapshot). [`LogRead`] is what the API and the intake see; its implementation over
//! the node's [`Store`] computes RFC 9162 proofs from the tile hashes.
//!
//! **Nothing wrong is served.** Every leaf read is hashed and compared with its stored leaf
//! hash; every inclusion and consistency proof is verified before it leaves, against the root
//! of the latest checkpoint as signed (held in memory, [`Store::anchor`]) — directly at that
//! size, and through a consistency proof from the stored tree to it for smaller sizes. A
//! mismatch is [`ReadError::Corrupt`] naming the index (`storage_corrupt`), never a wrong
//! answer. What lies past the latest checkpoint has no signed root yet: its proofs are checked
//! against the stored tree only.

use std::sync::Arc;

use testigo_ledger::api::{
    CheckpointEntry, ClaimView, ConsentView, ConsistencyProof, InclusionProof,
};
use testigo_ledger::merkle::{
    HashReader as _, MerkleError, NodeId, StoreError, consistency_proof, inclusion_proof_with_leaf,
    root,
};
use testigo_ledger::state::{AccountRecord, ClaimRecord, Consent, GrantList, Role};
use testigo_ledger::verify::{root_from_inclusion_proof, verify_consistency};
use testigo_ledger::{Blake3, Hash, PublicKey, TreeHasher as _};

use crate::storage::Store;

/// Why a read failed.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The request names leaves or sizes the log does not have.
    #[error("{0}")]
    OutOfRange(String),
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] crate::storage::StorageError),
    /// A proof could not be built from the stored hashes.
    #[error("proof: {0}")]
    Proof(#[from] testigo_ledger::merkle::MerkleError),
    /// What the store holds does not match the signed tree: damaged on disk.
    #[error("stored data is damaged{}: {reason}", index.map(|i| format!(" at leaf {i}")).unwrap_or_default())]
    Corrupt {
        /// The leaf index the damage shows at, when one is known.
        index: Option<u64>,
        /// What was expected and what was found.
        reason: String,
    },
}

fn corrupt(index: Option<u64>, reason: String) -> ReadError {
    ReadError::Corrupt { index, reason }
}

/// A failure to build a proof for a range already checked against the tree size: a hash that is
/// missing or does not decode is damage; an engine failure stays what it is.
fn merkle(error: MerkleError) -> ReadError {
    let damaged = match &error {
        MerkleError::NotStored { .. } | MerkleError::Store(StoreError::Missing(_)) => true,
        MerkleError::Store(StoreError::Backend(cause)) => matches!(
            cause.downcast_ref::<crate::storage::StorageError>(),
            Some(crate::storage::StorageError::Corrupt { .. })
        ),
        _ => false,
    };
    if damaged {
        corrupt(None, format!("the stored tree: {error}"))
    } else {
        ReadError::Proof(error)
    }
}

/// What the HTTP API reads. Every method may touch the disk: call it on a blocking thread.
pub(crate) trait LogRead: Send + Sync + 'static {
    /// Leaves `start..end` (`end` exclusive and at most the durable size).
    ///
    /// # Errors
    /// [`ReadError::OutOfRange`] past the end.
    fn leaves(&self, start: u64, end: u64) -> Result<Vec<Vec<u8>>, ReadError>;

    /// The RFC 9162 inclusion proof of leaf `index` in the tree of `size`.
    ///
    /// # Errors
    /// [`ReadError::OutOfRange`] unless `index < size <= durable size`.
    fn inclusion(&self, index: u64, size: u64) -> Result<InclusionProof, ReadError>;

    /// The RFC 9162 consistency proof from `from` to `to`.
    ///
    /// # Errors
    /// [`ReadError::OutOfRange`] unless `0 < from <= to <= durable size`.
    fn consistency(&self, from: u64, to: u64) -> Result<ConsistencyProof, ReadError>;

    /// Indexes of the leaves in `key`'s history from its `from`th, at most `limit`, below `size`.
    ///
    /// # Errors
    /// [`ReadError::Store`].
    fn account_leaves(
        &self,
        key: &PublicKey,
        from: u64,
        limit: usize,
        size: u64,
    ) -> Result<Vec<u64>, ReadError>;

    /// Up to `limit` published checkpoints with size at least `from`, ascending, each note with
    /// the cosignature lines stored for it.
    ///
    /// # Errors
    /// [`ReadError::Store`].
    fn checkpoints(&self, from: u64, limit: usize) -> Result<Vec<CheckpointEntry>, ReadError>;

    /// `key`'s account record as of the latest `StateRoot` the store holds.
    ///
    /// # Errors
    /// [`ReadError::Store`]; [`ReadError::Corrupt`] for a record that does not decode.
    fn record(&self, key: &PublicKey) -> Result<Option<AccountRecord>, ReadError>;

    /// The nonce `key`'s next entry must be above the last one of (0 if it signed none), with
    /// every leaf sequenced so far counted; `None` if there is no such account.
    ///
    /// # Errors
    /// As [`LogRead::record`].
    fn next_nonce(&self, key: &PublicKey) -> Result<Option<u64>, ReadError>;

    /// Up to `limit` grants with index at least `from`, ascending, as of the latest `StateRoot`:
    /// those `key` made if it is a subject, else those naming it or any accessor. With them, the
    /// index the next page starts at, if the grants go on.
    ///
    /// # Errors
    /// [`ReadError::Store`]; [`ReadError::Corrupt`] for a damaged list or a consent that is not
    /// the list's.
    fn consents(
        &self,
        key: &PublicKey,
        from: u64,
        limit: usize,
    ) -> Result<(Vec<ConsentView>, Option<u64>), ReadError>;

    /// Up to `limit` claims not yet settled with index at least `from`, ascending, as of the
    /// latest `StateRoot`, and the index the next page starts at, if there may be more.
    ///
    /// # Errors
    /// [`ReadError::Store`]; [`ReadError::Corrupt`] for a claim that does not decode.
    fn pending_claims(
        &self,
        from: u64,
        limit: usize,
    ) -> Result<(Vec<ClaimView>, Option<u64>), ReadError>;
}

/// The saved consents of one page of `list`, each checked to be the list's.
fn grant_page(
    store: &Store,
    list: GrantList,
    from: u64,
    limit: usize,
) -> Result<(Vec<ConsentView>, bool), ReadError> {
    let (rows, more) = store.grants(&list, from, limit)?;
    let page = rows
        .into_iter()
        .map(|(index, bytes)| {
            let consent = Consent::from_bytes(&bytes)
                .map_err(|e| corrupt(Some(index), format!("the saved consent: {e}")))?;
            let belongs = match list {
                GrantList::BySubject(subject) => consent.subject == subject,
                GrantList::ForAccessor(accessor) => consent.accessor == Some(accessor),
                GrantList::ForAny => consent.accessor.is_none(),
            };
            if !belongs {
                return Err(corrupt(
                    Some(index),
                    format!("the saved grant is listed under {list:?}, which it is not for"),
                ));
            }
            Ok(ConsentView { index, consent })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok((page, more))
}

/// Checks that `root`, the root at `size` derived from stored hashes, is the signed tree's: equal
/// to the latest checkpoint's at its size, consistent with it below. Past the latest checkpoint
/// there is nothing signed to check against.
trait Anchored {
    fn check_against_anchor(
        &self,
        size: u64,
        root: &Hash,
        index: Option<u64>,
    ) -> Result<(), ReadError>;
}

impl Anchored for Arc<Store> {
    fn check_against_anchor(
        &self,
        size: u64,
        root: &Hash,
        index: Option<u64>,
    ) -> Result<(), ReadError> {
        let Some((signed_size, signed_root)) = self.anchor() else {
            return Ok(());
        };
        if size > signed_size {
            return Ok(());
        }
        if size == signed_size {
            return if *root == signed_root {
                Ok(())
            } else {
                Err(corrupt(
                    index,
                    format!(
                        "the stored tree's root at size {size} is {root}, the checkpoint signed \
                         {signed_root}"
                    ),
                ))
            };
        }
        let path = consistency_proof(&Blake3, self.as_ref(), size, signed_size).map_err(merkle)?;
        verify_consistency(&Blake3, size, signed_size, root, &signed_root, &path).map_err(|e| {
            corrupt(
                index,
                format!(
                    "the stored tree at size {size} is not consistent with the checkpoint of \
                     size {signed_size}: {e}"
                ),
            )
        })
    }
}

impl LogRead for Arc<Store> {
    fn leaves(&self, start: u64, end: u64) -> Result<Vec<Vec<u8>>, ReadError> {
        let size = self.tree_size();
        if start >= size {
            return Err(ReadError::OutOfRange(format!(
                "start {start} is not below the log size {size}"
            )));
        }
        let leaves = Store::leaves(self, start, end.min(size))?;
        let ids: Vec<NodeId> = (start..start + leaves.len() as u64)
            .map(NodeId::leaf)
            .collect();
        let stored = self
            .read_hashes(&ids)
            .map_err(|e| merkle(MerkleError::Store(e)))?;
        for (i, (leaf, stored)) in leaves.iter().zip(stored).enumerate() {
            let computed = Blake3.hash_leaf(leaf);
            if computed != stored {
                let index = start + i as u64;
                return Err(corrupt(
                    Some(index),
                    format!("the leaf hashes to {computed}, its stored leaf hash is {stored}"),
                ));
            }
        }
        Ok(leaves)
    }

    fn inclusion(&self, index: u64, size: u64) -> Result<InclusionProof, ReadError> {
        let tree = self.tree_size();
        if index >= size || size > tree {
            return Err(ReadError::OutOfRange(format!(
                "need index < size <= {tree}, got index {index}, size {size}"
            )));
        }
        let (leaf_hash, path) =
            inclusion_proof_with_leaf(&Blake3, self.as_ref(), index, size).map_err(merkle)?;
        let root = root_from_inclusion_proof(&Blake3, index, size, &leaf_hash, &path)
            .map_err(|e| corrupt(Some(index), format!("the stored inclusion path: {e}")))?;
        self.check_against_anchor(size, &root, Some(index))?;
        Ok(InclusionProof {
            index,
            size,
            leaf_hash,
            path,
        })
    }

    fn consistency(&self, from: u64, to: u64) -> Result<ConsistencyProof, ReadError> {
        let tree = self.tree_size();
        if from == 0 || from > to || to > tree {
            return Err(ReadError::OutOfRange(format!(
                "need 0 < from <= to <= {tree}, got from {from}, to {to}"
            )));
        }
        let path = consistency_proof(&Blake3, self.as_ref(), from, to).map_err(merkle)?;
        let from_root = root(&Blake3, self.as_ref(), from).map_err(merkle)?;
        let to_root = root(&Blake3, self.as_ref(), to).map_err(merkle)?;
        verify_consistency(&Blake3, from, to, &from_root, &to_root, &path).map_err(|e| {
            corrupt(
                None,
                format!("the stored tree from size {from} to {to}: {e}"),
            )
        })?;
        self.check_against_anchor(to, &to_root, None)?;
        Ok(ConsistencyProof { from, to, path })
    }

    fn account_leaves(
        &self,
        key: &PublicKey,
        from: u64,
        limit: usize,
        size: u64,
    ) -> Result<Vec<u64>, ReadError> {
        let mut indexes = Store::account_history(self, key, from, limit)?;
        // The index can be ahead of the checkpoint the caller reads at (a newer one landed).
        indexes.retain(|&index| index < size);
        Ok(indexes)
    }

    fn checkpoints(&self, from: u64, limit: usize) -> Result<Vec<CheckpointEntry>, ReadError> {
        let mut out = Vec::new();
        for stored in self.checkpoints_from(from, limit)? {
            let mut note = stored.note;
            for (_, line) in self.cosignatures(stored.size)? {
                note.push_str(&line);
                if !line.ends_with('\n') {
                    note.push('\n');
                }
            }
            out.push(CheckpointEntry {
                size: stored.size,
                note,
            });
        }
        Ok(out)
    }

    fn record(&self, key: &PublicKey) -> Result<Option<AccountRecord>, ReadError> {
        Store::record(self, key)?
            .map(|bytes| {
                AccountRecord::from_bytes(&bytes)
                    .map_err(|e| corrupt(None, format!("the saved record of {key}: {e}")))
            })
            .transpose()
    }

    fn next_nonce(&self, key: &PublicKey) -> Result<Option<u64>, ReadError> {
        // The live entry first: once the snapshot that makes it redundant is committed, it is
        // dropped, and the record read after that has it.
        if let Some(next) = self.live_nonce(key) {
            return Ok(Some(next));
        }
        Ok(LogRead::record(self, key)?.map(|r| r.last_nonce.map_or(0, |n| n.saturating_add(1))))
    }

    fn consents(
        &self,
        key: &PublicKey,
        from: u64,
        limit: usize,
    ) -> Result<(Vec<ConsentView>, Option<u64>), ReadError> {
        let is_subject = LogRead::record(self, key)?.is_some_and(|r| r.role == Role::Subject);
        let (page, more) = if is_subject {
            grant_page(self, GrantList::BySubject(*key), from, limit)?
        } else {
            // The grants naming the accessor and those for anyone, merged by index.
            let (mut named, named_more) =
                grant_page(self, GrantList::ForAccessor(*key), from, limit)?;
            let (any, any_more) = grant_page(self, GrantList::ForAny, from, limit)?;
            named.extend(any);
            named.sort_unstable_by_key(|c| c.index);
            let more = named.len() > limit || named_more || any_more;
            named.truncate(limit);
            (named, more)
        };
        let next = more.then(|| page.last().map_or(from, |c| c.index + 1));
        Ok((page, next))
    }

    fn pending_claims(
        &self,
        from: u64,
        limit: usize,
    ) -> Result<(Vec<ClaimView>, Option<u64>), ReadError> {
        // Settled claims are skipped a bounded run at a time, so a page costs at most
        // `CLAIM_SCAN` rows however many claims are settled.
        const CLAIM_SCAN: usize = 4_096;
        let rows = Store::claims(self, from, CLAIM_SCAN)?;
        let scanned_all = rows.len() < CLAIM_SCAN;
        let mut last = None;
        let mut page = Vec::new();
        for (index, bytes) in rows {
            let claim = ClaimRecord::from_bytes(&bytes)
                .map_err(|e| corrupt(Some(index), format!("the saved claim: {e}")))?;
            last = Some(index);
            if claim.settled_at.is_none() {
                page.push(ClaimView { index, claim });
                if page.len() == limit {
                    break;
                }
            }
        }
        let next = match last {
            Some(last) if page.len() == limit || !scanned_all => Some(last + 1),
            _ => None,
        };
        Ok((page, next))
    }
}

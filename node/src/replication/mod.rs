//! What primary and witnesses share on top of [`crate::p2p`]: serving leaf ranges from the
//! store, collecting cosignatures into the store and telling who waits when a checkpoint becomes
//! witnessed, and keeping evidence of a split view. The witness's own loop is [`witness`].
//!
//! A witness keeps its copy of the log in the same [`Store`] as the operator (same engines, same
//! layout, same recovery): leaves, tiles, indexes, state snapshots and every checkpoint note,
//! written checkpoint by checkpoint by [`crate::sequencer::LogBackend::follow`]. That is why its
//! proofs, account answers and histories are the operator's byte for byte: the same code reads
//! the same data.

pub(crate) mod witness;

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use testigo_ledger::checkpoint::{
    Checkpoint, Cosignature, Evidence, LeafProof, SignedNote, WitnessKey, cosignature_key_hash,
    verify_checkpoint, verify_quorum,
};
use testigo_ledger::merkle::{HashReader as _, MemoryStore, NodeId};
use testigo_ledger::replication::{
    LeafRangeRequest, LeafRangeResponse, MAX_RANGE_RESPONSE_BYTES, RangeCheckpoint,
};
use testigo_ledger::{Blake3, Hash, PublicKey};
use tokio::sync::watch;

use crate::metrics::Metrics;
use crate::storage::{StorageError, Store};

/// Resolves once `stop` turns true (or its sender is gone).
pub(crate) async fn stopped(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// Why a witness stopped following its log, once it has: set once, shown by `GET /v1/p2p`
/// (`halted`) and counted in `testigo_witness_halted`.
#[derive(Debug, Default)]
pub(crate) struct Halted(std::sync::Mutex<Option<String>>);

impl Halted {
    /// Records why (the first reason stays).
    pub(crate) fn set(&self, why: String, metrics: &Metrics) {
        let mut held = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if held.is_none() {
            tracing::error!(reason = %why, "witness stopped following the log");
            metrics.p2p.halted.set(1);
            *held = Some(why);
        }
    }

    /// Why it stopped, if it has.
    pub(crate) fn reason(&self) -> Option<String> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

/// Leaves hashed at once when comparing two trees.
const COMPARE_CHUNK: u64 = 4096;

/// Fork evidence between this store's tree and another checkpoint of the log: `mine` is the
/// stored checkpoint note of size `my_size`, `theirs` a note the log key signed (verified by the
/// caller) and `their_hashes` the leaf hashes a peer sent for it, from index 0. `None` if those
/// hashes do not make the signed root (the peer sent other leaves: no evidence against the log)
/// or if both trees agree on every leaf they share (one extends the other). Runs on a blocking
/// thread.
///
/// # Errors
/// Store errors, or a note that does not parse.
pub(crate) fn fork_evidence(
    store: &Store,
    mine: (u64, &str),
    theirs: &str,
    their_hashes: &[Hash],
) -> Result<Option<Evidence>, String> {
    let (my_size, my_note) = mine;
    let their_note = SignedNote::parse(theirs.as_bytes()).map_err(|e| e.to_string())?;
    let their_checkpoint = Checkpoint::parse_body(their_note.body()).map_err(|e| e.to_string())?;
    let their_size = their_checkpoint.size();
    if their_hashes.len() as u64 != their_size {
        return Ok(None);
    }
    let mut tree = MemoryStore::new();
    tree.append(&Blake3, their_hashes)
        .map_err(|e| e.to_string())?;
    let root =
        testigo_ledger::merkle::root(&Blake3, &tree, their_size).map_err(|e| e.to_string())?;
    if root != *their_checkpoint.root() {
        return Ok(None);
    }
    let shared = my_size.min(their_size);
    let mut start = 0;
    while start < shared {
        let end = (start + COMPARE_CHUNK).min(shared);
        let ids: Vec<NodeId> = (start..end).map(NodeId::leaf).collect();
        let ours = store.read_hashes(&ids).map_err(|e| e.to_string())?;
        let differs = (start..end)
            .zip(ours)
            .find(|(index, hash)| their_hashes[*index as usize] != *hash);
        if let Some((index, _)) = differs {
            let (leaf_hash, proof) =
                testigo_ledger::merkle::inclusion_proof_with_leaf(&Blake3, store, index, my_size)
                    .map_err(|e| e.to_string())?;
            let their_proof =
                testigo_ledger::merkle::inclusion_proof(&Blake3, &tree, index, their_size)
                    .map_err(|e| e.to_string())?;
            return Ok(Some(Evidence::Fork {
                first: my_note.to_owned(),
                second: theirs.to_owned(),
                index,
                first_leaf: LeafProof { leaf_hash, proof },
                second_leaf: LeafProof {
                    leaf_hash: their_hashes[index as usize],
                    proof: their_proof,
                },
            }));
        }
        start = end;
    }
    Ok(None)
}

/// A checkpoint with cosignatures from the quorum, as `GET /v1/checkpoint` serves it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Witnessed {
    /// Tree size.
    pub size: u64,
    /// The operator's note with every valid cosignature line stored for it.
    pub note: String,
}

/// The leaves `request.start..` up to `published` (the latest checkpoint's size: nothing beyond
/// a published checkpoint is served), cut to the response limits, with the stored checkpoints
/// ending inside the answered range.
///
/// # Errors
/// Store errors.
pub(crate) fn serve_range(
    store: &Store,
    published: u64,
    request: LeafRangeRequest,
) -> Result<LeafRangeResponse, StorageError> {
    let start = request.start;
    let end = request.end.min(published);
    if start >= end {
        return Ok(cut_range(start, published, Vec::new(), Vec::new()));
    }
    let leaves = store.leaves(start, end)?;
    let notes = store.checkpoints_from(start + 1, leaves.len())?;
    let notes = notes
        .into_iter()
        .filter(|c| c.size <= end)
        .map(|c| RangeCheckpoint {
            size: c.size,
            note: c.note,
        });
    Ok(cut_range(start, published, leaves, notes))
}

/// The answer to a leaf-range request from the leaves read from `start` on and the
/// checkpoints ending among them (ascending), cut to [`MAX_RANGE_RESPONSE_BYTES`];
/// `published` is the responder's tree size.
pub(crate) fn cut_range(
    start: u64,
    published: u64,
    leaves: Vec<Vec<u8>>,
    notes: impl IntoIterator<Item = RangeCheckpoint>,
) -> LeafRangeResponse {
    let mut response = LeafRangeResponse {
        start,
        leaves: Vec::new(),
        checkpoints: Vec::new(),
        tree_size: published,
    };
    let mut notes = notes.into_iter().peekable();
    let mut bytes = response.encoded_len();
    for (index, leaf) in (start..).zip(leaves) {
        let note = notes.next_if(|c| c.size == index + 1);
        let add = leaf.len() + 4 + note.as_ref().map_or(0, |c| c.note.len() + 12);
        if bytes + add > MAX_RANGE_RESPONSE_BYTES {
            break;
        }
        bytes += add;
        response.leaves.push(leaf);
        response.checkpoints.extend(note);
    }
    response
}

/// Why a received cosigned note was not taken.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CosignError {
    /// Not a checkpoint note of this log.
    #[error("not a checkpoint of this log: {0}")]
    Malformed(String),
    /// This node has no checkpoint of that size (yet).
    #[error("no checkpoint of size {0} here")]
    Unknown(u64),
    /// The cosigned body is not the checkpoint stored for that size: a witness cosigned a
    /// checkpoint this node never published or holds.
    #[error("the cosigned checkpoint of size {size} is not the one stored")]
    Conflict {
        /// Its size.
        size: u64,
    },
    /// A listed witness's line does not verify.
    #[error("witness {name}: {reason}")]
    Invalid {
        /// The witness.
        name: String,
        /// Why.
        reason: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StorageError),
}

/// Collects witnesses' cosignatures into the store and publishes the newest witnessed checkpoint.
#[derive(Debug)]
pub(crate) struct Cosignatures {
    store: Arc<Store>,
    origin: String,
    log_key: PublicKey,
    witnesses: Vec<WitnessKey>,
    quorum: usize,
    witnessed: watch::Sender<Option<Arc<Witnessed>>>,
    /// Witnesses that must hold a checkpoint before it is published, and the newest size held.
    hold: usize,
    held: watch::Sender<u64>,
    metrics: Arc<Metrics>,
}

impl Cosignatures {
    /// A collector for the log `origin` with the `Genesis`'s witnesses and quorum; the newest
    /// witnessed checkpoint is looked up among the last stored ones. `hold` witnesses must hold
    /// a checkpoint before it is published ([`Cosignatures::held`]); the latest stored one
    /// counts as held (the disk it is on survived).
    pub(crate) fn new(
        store: Arc<Store>,
        origin: String,
        log_key: PublicKey,
        witnesses: Vec<WitnessKey>,
        quorum: usize,
        hold: usize,
        metrics: Arc<Metrics>,
    ) -> Result<Self, StorageError> {
        let (witnessed, _) = watch::channel(None);
        let (held, _) = watch::channel(store.latest_checkpoint()?.map_or(0, |c| c.size));
        let this = Self {
            store,
            origin,
            log_key,
            witnesses,
            quorum,
            witnessed,
            hold,
            held,
            metrics,
        };
        if let Some(latest) = this.store.latest_checkpoint()? {
            // The last few checkpoints, newest first: the newest with a quorum is the start.
            let from = latest.size.saturating_sub(1 << 16);
            let recent = this.store.checkpoints_from(from, 1 << 16)?;
            for stored in recent.iter().rev().take(64) {
                if let Some(witnessed) = this.witnessed_note(stored.size)? {
                    this.witnessed.send_replace(Some(Arc::new(witnessed)));
                    break;
                }
            }
        }
        Ok(this)
    }

    /// The newest witnessed checkpoint, as it changes.
    pub(crate) fn watch(&self) -> watch::Receiver<Option<Arc<Witnessed>>> {
        self.witnessed.subscribe()
    }

    /// The newest checkpoint size that [`Cosignatures::new`]'s `hold` witnesses hold (have
    /// cosigned), as it grows.
    pub(crate) fn held(&self) -> watch::Receiver<u64> {
        self.held.subscribe()
    }

    /// Whether the log names witnesses at all.
    pub(crate) fn has_witnesses(&self) -> bool {
        self.quorum > 0
    }

    /// The stored note of `size` with every stored cosignature line, as `GET /v1/checkpoints`
    /// serves it.
    pub(crate) fn note_with_cosignatures(&self, size: u64) -> Result<Option<String>, StorageError> {
        let found =
            crate::reader::LogRead::checkpoints(&self.store, size, 1).map_err(|e| match e {
                crate::reader::ReadError::Store(e) => e,
                other => {
                    StorageError::corrupt("checkpoints", &size.to_be_bytes(), other.to_string())
                }
            })?;
        Ok(found.into_iter().find(|c| c.size == size).map(|c| c.note))
    }

    /// The note of `size` with its cosignatures if they make the quorum.
    fn witnessed_note(&self, size: u64) -> Result<Option<Witnessed>, StorageError> {
        if self.quorum == 0 {
            return Ok(None);
        }
        let Some(text) = self.note_with_cosignatures(size)? else {
            return Ok(None);
        };
        let Ok(note) = SignedNote::parse(text.as_bytes()) else {
            return Ok(None);
        };
        Ok(verify_quorum(&note, &self.witnesses, self.quorum)
            .ok()
            .map(|_| Witnessed { size, note: text }))
    }

    /// Takes the valid cosignature lines of listed witnesses from `text` (a checkpoint note
    /// with cosignatures) into the store, and publishes the checkpoint if it is now the newest
    /// witnessed one. Returns how many new lines were stored. Runs on a blocking thread.
    ///
    /// # Errors
    /// [`CosignError`]; nothing is stored then.
    pub(crate) fn add(&self, text: &str) -> Result<usize, CosignError> {
        let note = SignedNote::parse(text.as_bytes())
            .map_err(|e| CosignError::Malformed(e.to_string()))?;
        let checkpoint = Checkpoint::parse_body(note.body())
            .map_err(|e| CosignError::Malformed(e.to_string()))?;
        if checkpoint.origin() != self.origin {
            return Err(CosignError::Malformed(format!(
                "origin {:?}",
                checkpoint.origin()
            )));
        }
        let size = checkpoint.size();
        let stored = self
            .store
            .checkpoint(size)?
            .ok_or(CosignError::Unknown(size))?;
        let stored_body = SignedNote::parse(stored.as_bytes())
            .map(|n| n.body().to_owned())
            .map_err(|e| CosignError::Malformed(e.to_string()))?;
        if stored_body != note.body() {
            return Err(CosignError::Conflict { size });
        }
        let have: Vec<String> = self
            .store
            .cosignatures(size)?
            .into_iter()
            .map(|(name, _)| name)
            .collect();
        let mut batch = self.store.batch();
        let mut added = 0;
        for line in note.signatures() {
            let Some(witness) = self.witnesses.iter().find(|w| {
                w.name == line.name() && *line.key_hash() == cosignature_key_hash(&w.name, &w.key)
            }) else {
                continue;
            };
            let invalid = |reason: String| CosignError::Invalid {
                name: witness.name.clone(),
                reason,
            };
            let cosignature =
                Cosignature::from_note_signature(line).map_err(|e| invalid(e.to_string()))?;
            cosignature
                .verify(note.body(), &witness.key)
                .map_err(|e| invalid(e.to_string()))?;
            if have.contains(&witness.name) {
                continue;
            }
            batch.add_cosignature(size, witness.name.clone(), line.to_line());
            added += 1;
        }
        if added > 0 {
            self.store.commit(batch)?;
            self.metrics.p2p.cosignatures_collected.inc_by(added as u64);
            if have.len() + added >= self.hold {
                self.held.send_if_modified(|held| {
                    let newer = *held < size;
                    *held = (*held).max(size);
                    newer
                });
            }
            let newer = self
                .witnessed
                .borrow()
                .as_ref()
                .is_none_or(|w| w.size < size);
            if newer && let Some(witnessed) = self.witnessed_note(size)? {
                tracing::info!(size, "checkpoint witnessed");
                self.witnessed.send_replace(Some(Arc::new(witnessed)));
            }
        }
        Ok(added)
    }

    /// Checks a checkpoint note signed by the log key against the one stored for its size:
    /// `Some(evidence)` if the log signed two different roots for it.
    pub(crate) fn conflict(&self, text: &str) -> Result<Option<Evidence>, CosignError> {
        let checkpoint = verify_checkpoint(text.as_bytes(), &self.origin, &self.log_key)
            .map_err(|e| CosignError::Malformed(e.to_string()))?;
        let Some(stored) = self.store.checkpoint(checkpoint.size())? else {
            return Ok(None);
        };
        let stored_checkpoint = verify_checkpoint(stored.as_bytes(), &self.origin, &self.log_key)
            .map_err(|e| CosignError::Malformed(e.to_string()))?;
        if stored_checkpoint.root() == checkpoint.root() {
            return Ok(None);
        }
        Ok(Some(Evidence::SplitView {
            first: stored,
            second: text.to_owned(),
        }))
    }
}

/// Evidence of a split view, kept in `evidence/` in the data directory (one JSON file each,
/// written atomically), loaded at start: a witness that holds any never cosigns that log again.
#[derive(Debug)]
pub(crate) struct EvidenceStore {
    dir: PathBuf,
    held: RwLock<Vec<Evidence>>,
    origin: String,
    log_key: PublicKey,
    metrics: Arc<Metrics>,
}

impl EvidenceStore {
    /// Opens (and creates) `dir`, loading and re-verifying what it holds.
    ///
    /// # Errors
    /// I/O errors; a stored file that does not verify is refused.
    pub(crate) fn open(
        dir: &Path,
        origin: String,
        log_key: PublicKey,
        metrics: Arc<Metrics>,
    ) -> Result<Self, std::io::Error> {
        std::fs::create_dir_all(dir)?;
        let mut held = Vec::new();
        let mut names: Vec<_> = std::fs::read_dir(dir)?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        names.sort();
        for path in names {
            let bytes = std::fs::read(&path)?;
            let evidence: Evidence = serde_json::from_slice(&bytes)
                .map_err(|e| std::io::Error::other(format!("{}: {e}", path.display())))?;
            evidence
                .verify(&origin, &log_key)
                .map_err(|e| std::io::Error::other(format!("{}: {e}", path.display())))?;
            held.push(evidence);
        }
        metrics.p2p.evidence.set(held.len() as i64);
        Ok(Self {
            dir: dir.to_owned(),
            held: RwLock::new(held),
            origin,
            log_key,
            metrics,
        })
    }

    /// Verifies `evidence` and keeps it (once). Returns whether it is new.
    ///
    /// # Errors
    /// The evidence does not verify, or it cannot be written.
    pub(crate) fn add(&self, evidence: Evidence) -> Result<bool, String> {
        evidence
            .verify(&self.origin, &self.log_key)
            .map_err(|e| e.to_string())?;
        let mut held = self
            .held
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if held.contains(&evidence) {
            return Ok(false);
        }
        let json = serde_json::to_vec_pretty(&evidence).map_err(|e| e.to_string())?;
        let path = self.dir.join(format!("{:06}.json", held.len()));
        crate::keyfile::write_atomically(&path, &json, false).map_err(|e| e.to_string())?;
        held.push(evidence);
        self.metrics.p2p.evidence.set(held.len() as i64);
        tracing::error!(file = %path.display(), "evidence of a split view: the log signed conflicting checkpoints");
        Ok(true)
    }

    /// Everything held.
    pub(crate) fn all(&self) -> Vec<Evidence> {
        self.held
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Whether any is held.
    pub(crate) fn any(&self) -> bool {
        !self
            .held
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .is_empty()
    }
}

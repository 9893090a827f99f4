//! `testigo-node restore`: rebuilds a primary whose data directory is lost from a witness's copy
//! of its log and the operator's own backup of the log key.
//!
//! A primary publishes a checkpoint only once a witness holds its leaves
//! ([`crate::sequencer::spawn_gated`]), so every checkpoint anyone was shown is on some witness.
//! Restoring reads that witness's read API as the operator (bulk reads are signed with the log
//! key), trusts none of it, and rebuilds the store exactly as a witness builds its own: every
//! signature checked (`verify_leaves`), then checkpoint by checkpoint the note verified under the
//! log key, the root recomputed from the leaves, every rule and `StateRoot` replayed
//! ([`crate::sequencer::LogBackend::follow`]), and the cosignatures of the `Genesis` witnesses
//! kept. The restored primary then goes on from the last checkpoint, so its new checkpoints
//! extend every one it published. The key file and `genesis.leaf` are written last: a restore
//! that stops half-way leaves a directory that `run` refuses (no log key), to be deleted and
//! restored again.

use std::sync::Arc;

use futures::TryStreamExt as _;
use testigo_client::{Client, Signer};
use testigo_ledger::checkpoint::{SignedNote, note_key_hash};
use testigo_ledger::entry::signature::verify_leaves;
use testigo_ledger::entry::{Body, Leaf};

use crate::config::Config;
use crate::keyfile::{KeyFile, write_atomically};
use crate::metrics::Metrics;
use crate::node::NodeError;
use crate::storage::{EngineKind, Store, StoreConfig};

/// What was restored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Restored {
    /// Leaves in the rebuilt store.
    pub leaves: u64,
    /// Checkpoints replayed.
    pub checkpoints: u64,
}

/// Why a restore failed.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    /// The data directory already holds a log (or the start of one).
    #[error("{0} is not empty: restore only into a new directory")]
    NotEmpty(std::path::PathBuf),
    /// The witness could not be read.
    #[error("reading the witness: {0}")]
    Client(#[from] testigo_client::ClientError),
    /// The witness's copy does not verify, or is not this key's log.
    #[error("the witness's copy is refused: {0}")]
    Refused(String),
    /// The store or the data directory.
    #[error(transparent)]
    Node(#[from] NodeError),
}

/// Rebuilds `config.data_dir` (new, or empty) from the witness at `from` (its HTTP URL), as the
/// log of `key`; `p2p_key` keeps the primary's libp2p identity (so its witnesses' allowlists
/// still name it), else a new one is made. `progress(done, total)` is called after each
/// checkpoint.
///
/// # Errors
/// [`RestoreError`]; nothing is usable in the directory then (no key file is written).
pub async fn restore(
    config: &Config,
    from: &str,
    key: KeyFile,
    p2p_key: Option<KeyFile>,
    mut progress: impl FnMut(u64, u64),
) -> Result<Restored, RestoreError> {
    let taken = std::fs::read_dir(&config.data_dir).is_ok_and(|mut d| d.next().is_some());
    if taken {
        return Err(RestoreError::NotEmpty(config.data_dir.clone()));
    }
    let refused = |m: String| RestoreError::Refused(m);
    let client = Client::new(from)?.with_signer(Signer::new(key.signing_key().clone()));
    let log = client.log().await?;
    let genesis_leaf = Leaf::from_bytes(&log.genesis_leaf.0)
        .map_err(|e| refused(format!("leaf 0 does not parse: {e}")))?;
    let Ok(Body::Genesis(genesis)) = genesis_leaf.decode_body() else {
        return Err(refused("leaf 0 is not a Genesis".into()));
    };
    if genesis.log_key != key.public() {
        return Err(refused(format!(
            "the witness follows the log of key {}, not {}",
            genesis.log_key,
            key.public()
        )));
    }
    let origin = genesis.origin.clone();
    let mut checkpoints = Vec::new();
    let mut next = Some(0);
    while let Some(from) = next {
        let page = client.checkpoints(from).await?;
        next = page.next;
        checkpoints.extend(page.checkpoints);
    }
    let total = checkpoints.last().map_or(0, |c| c.size);

    std::fs::create_dir_all(&config.data_dir)
        .map_err(|e| refused(format!("creating {}: {e}", config.data_dir.display())))?;
    let store_config = StoreConfig {
        engine: match config.storage {
            crate::config::StorageEngine::Redb => EngineKind::Redb,
            crate::config::StorageEngine::Sled => EngineKind::Sled,
        },
        ..StoreConfig::default()
    };
    let store_dir = config.store_path();
    let store = Arc::new(
        tokio::task::spawn_blocking(move || Store::open(&store_dir, &store_config))
            .await
            .map_err(|e| refused(e.to_string()))?
            .map_err(NodeError::from)?,
    );
    let metrics = Arc::new(Metrics::new());
    let (mut backend, _) = {
        let (store, metrics, origin) = (store.clone(), metrics.clone(), origin.clone());
        let public = genesis.log_key;
        tokio::task::spawn_blocking(move || {
            crate::recovery::recover(store, None, public, origin, metrics)
        })
        .await
        .map_err(|e| refused(e.to_string()))??
    };
    let cosignatures = crate::replication::Cosignatures::new(
        store.clone(),
        origin.clone(),
        genesis.log_key,
        genesis.witnesses.clone(),
        usize::from(genesis.quorum),
        0,
        metrics,
    )
    .map_err(NodeError::from)?;
    let log_line = note_key_hash(&origin, &genesis.log_key);
    let mut done = 0u64;
    let mut replayed = 0u64;
    for checkpoint in checkpoints {
        if checkpoint.size <= done {
            continue;
        }
        let mut segment = Vec::new();
        let mut stream = std::pin::pin!(client.entries_stream(done, checkpoint.size));
        while let Some(entry) = stream.try_next().await? {
            let leaf = Leaf::from_bytes(&entry.leaf.0)
                .map_err(|e| refused(format!("leaf {}: {e}", entry.index)))?;
            segment.push((leaf, entry.leaf.0));
        }
        let refs: Vec<&Leaf> = segment.iter().map(|(leaf, _)| leaf).collect();
        if let Some((i, Err(e))) = verify_leaves(&origin, &refs)
            .into_iter()
            .enumerate()
            .find(|(_, v)| v.is_err())
        {
            return Err(refused(format!("leaf {}: signature {e}", done + i as u64)));
        }
        // The operator's own line only: the witnesses' lines are stored apart, as cosignatures.
        let full = SignedNote::parse(checkpoint.note.as_bytes())
            .map_err(|e| refused(format!("checkpoint {}: {e}", checkpoint.size)))?;
        let own: Vec<_> = full
            .signatures()
            .iter()
            .filter(|s| *s.key_hash() == log_line)
            .cloned()
            .collect();
        let note = SignedNote::new(full.body().to_owned(), own)
            .map_err(|e| refused(format!("checkpoint {}: {e}", checkpoint.size)))?
            .to_text();
        let (back, result) = tokio::task::spawn_blocking(move || {
            let result = backend.follow(segment, &note, &genesis.log_key);
            (backend, result)
        })
        .await
        .map_err(|e| refused(e.to_string()))?;
        backend = back;
        result.map_err(|e| refused(format!("checkpoint {}: {e}", checkpoint.size)))?;
        if full.signatures().len() > 1 {
            cosignatures
                .add(&checkpoint.note)
                .map_err(|e| refused(format!("checkpoint {}: {e}", checkpoint.size)))?;
        }
        done = checkpoint.size;
        replayed += 1;
        progress(done, total);
    }
    drop(backend);
    drop(cosignatures);
    let leaves = store.tree_size();
    drop(store);
    if let Some(p2p) = p2p_key {
        p2p.create(&config.p2p_key_path())
            .map_err(|e| refused(e.to_string()))?;
    } else {
        crate::datadir::p2p_key(config).map_err(NodeError::from)?;
    }
    write_atomically(&config.genesis_path(), &log.genesis_leaf.0, false)
        .map_err(|e| refused(e.to_string()))?;
    key.create(&config.key_path())
        .map_err(|e| refused(e.to_string()))?;
    tracing::info!(leaves, checkpoints = replayed, "restored from {from}");
    Ok(Restored {
        leaves,
        checkpoints: replayed,
    })
}

//! Starting and stopping a node: open the data directory and the store, replay the log into the
//! state, check that tree, checkpoint and state agree, start the sequencer, serve HTTP until the
//! shutdown future resolves, then close the open batch and stop.

use std::future::Future;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use testigo_ledger::Blake3;
use testigo_ledger::api::{Bytes, LogInfo, Wait};
use testigo_ledger::checkpoint::{SignedNote, verify_checkpoint_note};
use testigo_ledger::entry::Leaf;
use testigo_ledger::map::{JmtStateMap, MapNodeStore as _, StateMap as _};
use testigo_ledger::merkle::root;
use testigo_ledger::state::replay;
use tokio::net::TcpListener;

use crate::api::auth::Authorizer;
use crate::api::{AppState, Limits, Metrics, router};
use crate::config::Config;
use crate::datadir::{DataDirError, GenesisParams, open_or_init};
use crate::sequencer::{
    Backend, BackendError, CheckpointInfo, LogBackend, SequencerError, Settings, SharedStore, spawn,
};
use crate::storage::{EngineKind, StorageError, Store, StoreConfig};

/// Why a node could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// The data directory.
    #[error(transparent)]
    DataDir(#[from] DataDirError),
    /// The store could not be opened or read.
    #[error("store: {0}")]
    Storage(#[from] StorageError),
    /// The stored log, its checkpoint and the replayed state disagree: the node refuses to start.
    #[error("refusing to start: {0}")]
    Inconsistent(String),
    /// The write path failed.
    #[error("sequencer: {0}")]
    Sequencer(String),
    /// Serving HTTP failed.
    #[error("http server: {0}")]
    Http(#[from] std::io::Error),
}

impl From<BackendError> for NodeError {
    fn from(e: BackendError) -> Self {
        NodeError::Sequencer(e.0)
    }
}

impl From<SequencerError> for NodeError {
    fn from(e: SequencerError) -> Self {
        NodeError::Sequencer(e.to_string())
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Runs a node on an already-bound listener until `shutdown` resolves (STYLE 7). A fresh data
/// directory gets a new key and the default genesis ([`GenesisParams::default`]).
///
/// # Errors
/// [`NodeError`] naming what prevented the start or broke the node.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), NodeError> {
    config.validate()?;
    let (key, genesis_leaf, genesis) = open_or_init(&config, &GenesisParams::default())?;
    let engine = match config.storage {
        crate::config::StorageEngine::Redb => EngineKind::Redb,
        crate::config::StorageEngine::Sled => EngineKind::Sled,
    };
    let store_config = StoreConfig {
        engine,
        ..StoreConfig::default()
    };
    let store_dir = config.store_path();
    let store = tokio::task::spawn_blocking(move || Store::open(&store_dir, &store_config))
        .await
        .map_err(|e| NodeError::Sequencer(e.to_string()))??;
    let store = Arc::new(store);
    let metrics = Arc::new(Metrics::new());
    let (backend, latest) = {
        let (store, metrics) = (store.clone(), metrics.clone());
        let key = key.signing_key().clone();
        let origin = genesis.origin.clone();
        tokio::task::spawn_blocking(move || load(store, key, origin, metrics))
            .await
            .map_err(|e| NodeError::Sequencer(e.to_string()))??
    };
    let settings = Settings {
        max_entries: config.batch_max_entries,
        max_delay: config.batch_delay(),
        queue_capacity: config.queue_capacity,
        max_queued_entries: config.max_queued_entries,
    };
    let (sequencer, task) = spawn(Box::new(backend), latest, settings, metrics.clone());
    if store.tree_size() == 0 {
        let outcome = sequencer
            .submit(vec![genesis_leaf], Wait::Checkpointed)
            .await?;
        if let Some(Err(refusal)) = outcome.results.first() {
            return Err(NodeError::Inconsistent(format!(
                "the genesis in {} is refused: {}",
                config.genesis_path().display(),
                refusal.message
            )));
        }
    }
    let genesis_bytes = store.leaf(0)?.unwrap_or_default();
    let log = LogInfo {
        origin: genesis.origin.clone(),
        log_key: genesis.log_key,
        witnesses: genesis.witnesses.clone(),
        quorum: genesis.quorum,
        currency: genesis.currency.clone(),
        decimals: genesis.decimals,
        fee_bps: genesis.fee_bps,
        genesis_leaf: Bytes(genesis_bytes),
    };
    let readers = std::iter::once(genesis.log_key)
        .chain(genesis.witnesses.iter().map(|w| w.key))
        .chain(genesis.regulators.iter().copied());
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let state = Arc::new(AppState {
        log,
        sequencer,
        reader: Arc::new(store.clone()),
        metrics,
        authorizer: Authorizer::new(readers, config.replay_cache_capacity),
        limits: Limits {
            max_request_bytes: config.max_request_bytes,
            max_batch_submission: config.max_batch_submission,
            max_entries_page: config.max_entries_page,
        },
        stopping,
    });
    let address = listener.local_addr()?;
    tracing::info!(%address, origin = %genesis.origin, size = store.tree_size(), "serving");
    let served = axum::serve(listener, router(state))
        .with_graceful_shutdown(async move {
            shutdown.await;
            tracing::info!("shutting down: finishing requests, closing event streams");
            stop.send_replace(true);
        })
        .await;
    // The router (and with it every handle) is dropped: the task closes its batch and ends.
    match task.await {
        Ok(result) => result?,
        Err(e) => return Err(NodeError::Sequencer(e.to_string())),
    }
    served?;
    tracing::info!("stopped");
    Ok(())
}

/// Replays the stored log into the state and checks that the stored tree, the latest checkpoint
/// and the state map agree; closes a batch left open by a crash.
fn load(
    store: Arc<Store>,
    key: ed25519_dalek::SigningKey,
    origin: String,
    metrics: Arc<Metrics>,
) -> Result<(LogBackend, Option<CheckpointInfo>), NodeError> {
    let size = store.tree_size();
    let inconsistent = |m: String| NodeError::Inconsistent(m);
    let mut read_error = None;
    let pages = (0..size).step_by(1024).flat_map(|start| {
        match store.leaves(start, (start + 1024).min(size)) {
            Ok(page) => page,
            Err(e) => {
                read_error.get_or_insert(e);
                Vec::new()
            }
        }
    });
    let mut parse_error = None;
    let leaves = (0u64..)
        .zip(pages)
        .map_while(|(i, bytes)| match Leaf::from_bytes(&bytes) {
            Ok(leaf) => Some((i, leaf)),
            Err(e) => {
                parse_error = Some(format!("stored leaf {i} is not a leaf: {e}"));
                None
            }
        });
    let replayed =
        replay(leaves).map_err(|e| inconsistent(format!("replaying the stored log: {e}")))?;
    if let Some(e) = read_error {
        return Err(e.into());
    }
    if let Some(e) = parse_error {
        return Err(inconsistent(e));
    }
    if replayed.state.next_index() != size {
        return Err(inconsistent(format!(
            "replayed {} leaves but the store holds {size}",
            replayed.state.next_index()
        )));
    }
    let mut latest = None;
    if let Some(stored) = store.latest_checkpoint()? {
        let note = SignedNote::parse(stored.note.as_bytes())
            .map_err(|e| inconsistent(format!("stored checkpoint does not parse: {e}")))?;
        let public = testigo_ledger::PublicKey(key.verifying_key().to_bytes());
        let checkpoint = verify_checkpoint_note(&note, &origin, &public).map_err(|e| {
            inconsistent(format!(
                "stored checkpoint is not signed by this log key: {e}"
            ))
        })?;
        let tree_root = root(&Blake3, store.as_ref(), checkpoint.size())
            .map_err(|e| inconsistent(format!("tree at the checkpoint size: {e}")))?;
        if checkpoint.size() != stored.size || *checkpoint.root() != tree_root {
            return Err(inconsistent(format!(
                "checkpoint of size {} has root {} but the stored tree has {tree_root}",
                checkpoint.size(),
                checkpoint.root()
            )));
        }
        let Some(&(last_root_index, map_root)) = replayed.state_roots.last() else {
            return Err(inconsistent("a checkpoint exists but no StateRoot".into()));
        };
        if last_root_index + 1 != checkpoint.size() {
            return Err(inconsistent(format!(
                "the checkpoint of size {} does not end with the last StateRoot (leaf {last_root_index})",
                checkpoint.size()
            )));
        }
        let map = JmtStateMap::new(SharedStore(store.clone()));
        let newest = map
            .store()
            .latest_version()
            .map_err(|e| inconsistent(e.to_string()))?
            .ok_or_else(|| inconsistent("the state map is empty".into()))?;
        let map_version = [newest, newest.saturating_sub(1)]
            .into_iter()
            .find(|&v| map.root(v).is_ok_and(|r| r == map_root))
            .ok_or_else(|| {
                inconsistent(format!(
                    "the stored state map's root does not match StateRoot leaf {last_root_index}"
                ))
            })?;
        latest = Some(CheckpointInfo {
            size: checkpoint.size(),
            root: tree_root,
            note: stored.note,
            map_version,
        });
    } else if size > 0 {
        return Err(inconsistent(format!(
            "{size} leaves stored but no checkpoint"
        )));
    }
    let mut backend = LogBackend::new(replayed.state, store.clone(), key, origin, metrics);
    if let Some(cp) = &latest
        && cp.size < size
    {
        // Entries acknowledged as sequenced before a crash: checkpoint them now.
        latest = Some(backend.checkpoint(now_ms().max(backend.last_sequenced_at()))?);
    }
    Ok((backend, latest))
}

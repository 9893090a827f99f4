//! Starting and stopping a node: open the data directory and the store, recover the state
//! ([`crate::recovery`]), start the sequencer, write the genesis on a log's first start, serve
//! HTTP until the shutdown future resolves, then close the open batch and stop.

use std::future::Future;
use std::sync::Arc;

use testigo_ledger::api::{LogInfo, Wait};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::api::auth::{AuthLimits, Authorizer};
use crate::api::limits::RequestLimits;
use crate::api::{AppState, Limits, router};
use crate::config::{Config, Role};
use crate::datadir::{self, DataDirError};
use crate::intake::Intake;
use crate::metrics::Metrics;
use crate::recovery::recover;
use crate::sequencer::{BackendError, SequencerError, Settings, spawn};
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
    /// The stored log, its checkpoint and the saved state disagree: the node refuses to start.
    #[error("refusing to start: {0}")]
    Inconsistent(String),
    /// The write path failed.
    #[error("sequencer: {0}")]
    Backend(#[from] BackendError),
    /// The sequencer stopped or refused.
    #[error("sequencer: {0}")]
    Sequencer(#[from] SequencerError),
    /// The TLS certificate or key cannot be used.
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
    /// Serving HTTP failed.
    #[error("http server: {0}")]
    Http(#[from] std::io::Error),
}

/// Runs a node on an already-bound listener until `shutdown` resolves (STYLE 7), on a data
/// directory that [`datadir::init`] created; `run` creates none itself.
///
/// # Errors
/// [`NodeError`] naming what prevented the start or broke the node.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), NodeError> {
    run_announced(config, listener, shutdown, |_| {}).await
}

/// [`run`], calling `ready` with the URL it serves (`http://ADDR` or `https://ADDR`) once the
/// data directory is open, recovery is done, the genesis is sequenced and the router is about to
/// accept: a request sent after `ready` returns is answered (the listener is already bound, so
/// it waits in the backlog for at most the time it takes to start the accept loop). `main`
/// prints its `listening on` line here, which scripts and tests wait for.
///
/// # Errors
/// As [`run`]; `ready` is not called when the node fails to start.
pub async fn run_announced(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
    ready: impl FnOnce(&str) + Send,
) -> Result<(), NodeError> {
    config.validate()?;
    // Before anything is opened: a bad certificate should fail the start at once.
    let tls = config.tls.as_ref().map(crate::tls::acceptor).transpose()?;
    match config.role {
        // A witness (replicate the operator's log, re-apply it, cosign its checkpoints) will be
        // a second arm with its own start-up; what the roles share (data directory, recovery,
        // the read API) is in modules of its own already.
        Role::Operator => run_operator(config, tls, listener, shutdown, ready).await,
    }
}

/// The operator: the log key's holder, sequencing submissions and signing checkpoints.
async fn run_operator(
    config: Config,
    tls: Option<TlsAcceptor>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
    ready: impl FnOnce(&str) + Send,
) -> Result<(), NodeError> {
    let (key, genesis_leaf, genesis) = datadir::open(&config)?;
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
        .map_err(|e| NodeError::Backend(BackendError::caused_by(e)))??;
    let store = Arc::new(store);
    tracing::info!(
        size = store.tree_size(),
        "store checked at start (its tail, its latest checkpoint; the saved state next); \
         `testigo-node fsck` checks every leaf with the node stopped"
    );
    let metrics = Arc::new(Metrics::new());
    let (backend, latest) = {
        let (store, metrics) = (store.clone(), metrics.clone());
        let key = key.signing_key().clone();
        let origin = genesis.origin.clone();
        tokio::task::spawn_blocking(move || recover(store, key, origin, metrics))
            .await
            .map_err(|e| NodeError::Backend(BackendError::caused_by(e)))??
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
    let params = testigo_ledger::verify::verify_genesis(&genesis_bytes, None).map_err(|e| {
        NodeError::Inconsistent(format!("the stored leaf 0 is not this log's genesis: {e}"))
    })?;
    let log = LogInfo::new(&params, genesis_bytes);
    let readers = std::iter::once(genesis.log_key)
        .chain(genesis.witnesses.iter().map(|w| w.key))
        .chain(genesis.regulators.iter().copied());
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let reader: Arc<dyn crate::reader::LogRead> = Arc::new(store.clone());
    let intake = Intake::new(
        &genesis.origin,
        sequencer.clone(),
        reader.clone(),
        metrics.clone(),
        config.max_batch_submission,
    );
    let state = Arc::new(AppState {
        log,
        sequencer,
        reader,
        metrics: metrics.clone(),
        authorizer: Authorizer::new(
            readers,
            AuthLimits {
                replay_keys: config.replay_max_keys,
                rate_per_second: config.signed_read_rate,
                rate_burst: config.signed_read_burst,
            },
            metrics.clone(),
        ),
        intake,
        limits: Limits {
            max_request_bytes: config.max_request_bytes,
            max_entries_page: config.max_entries_page,
            max_batch_submission: config.max_batch_submission,
        },
        request_limits: RequestLimits::new(config.request_limits()),
        stopping,
    });
    match crate::serve::raise_fd_limit() {
        Ok(Some(fds)) if fds < config.max_connections as u64 + 256 => tracing::warn!(
            fds,
            max_connections = config.max_connections,
            "the open-file limit is below max_connections plus the store's files: at the \
             limit new connections are shed"
        ),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "cannot raise the open-file limit"),
    }
    let address = listener.local_addr()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    tracing::info!(%address, scheme, origin = %genesis.origin, size = store.tree_size(), "serving");
    ready(&format!("{scheme}://{address}"));
    let shutdown = async move {
        shutdown.await;
        tracing::info!("shutting down: finishing requests, closing event streams");
        stop.send_replace(true);
    };
    let served = crate::serve::serve(
        listener,
        tls,
        router(state),
        config.connection_limits(),
        metrics,
        shutdown,
    )
    .await;
    // The router (and with it every handle) is dropped: the task closes its batch and ends.
    match task.await {
        Ok(result) => result?,
        Err(e) => return Err(NodeError::Backend(BackendError::caused_by(e))),
    }
    served?;
    tracing::info!("stopped");
    Ok(())
}

//! Starting and stopping a node: open the data directory and the store, recover the state
//! ([`crate::recovery`]), start the sequencer (an operator) or the follower (a witness), start
//! libp2p when peers are configured ([`crate::p2p`], [`crate::replication`]), write the genesis
//! on a log's first start, serve HTTP until the shutdown future resolves, then close the open
//! batch and stop.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use testigo_ledger::api::{LogInfo, Wait};
use testigo_ledger::entry::Genesis;
use testigo_ledger::replication::GossipMessage;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio_rustls::TlsAcceptor;

use crate::api::auth::{AuthLimits, Authorizer};
use crate::api::limits::RequestLimits;
use crate::api::{AppState, Limits, router};
use crate::config::{Config, Role};
use crate::datadir::{self, DataDirError};
use crate::intake::{Intake, WitnessWait};
use crate::metrics::Metrics;
use crate::p2p::{P2pEvent, P2pHandle, P2pSettings};
use crate::recovery::recover;
use crate::replication::witness::{Witness, WitnessSettings};
use crate::replication::{Cosignatures, EvidenceStore, Halted, serve_range};
use crate::sequencer::{
    BackendError, CheckpointInfo, SequencerError, SequencerHandle, Settings, spawn_follower,
    spawn_gated,
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
    /// libp2p could not start.
    #[error(transparent)]
    P2p(#[from] crate::p2p::P2pError),
}

/// Runs a node on an already-bound listener until `shutdown` resolves (STYLE 7), on a data
/// directory that [`datadir::init`] (or [`datadir::init_witness`]) created; `run` creates none
/// itself.
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
/// data directory is open, recovery is done, the genesis is sequenced (a witness: fetched and
/// verified) and the router is about to accept: a request sent after `ready` returns is
/// answered (the listener is already bound, so it waits in the backlog for at most the time it
/// takes to start the accept loop). `main` prints its `listening on` line here, which scripts and
/// tests wait for.
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
        Role::Operator => run_operator(config, tls, listener, shutdown, ready).await,
        Role::Witness => run_witness(config, tls, listener, shutdown, ready).await,
    }
}

async fn open_store(config: &Config) -> Result<Arc<Store>, NodeError> {
    let engine = match config.storage {
        crate::config::StorageEngine::Redb => EngineKind::Redb,
        crate::config::StorageEngine::Sled => EngineKind::Sled,
    };
    let store_config = StoreConfig {
        engine,
        map_bucket_bits: config.state_map_bucket_bits,
        ..StoreConfig::default()
    };
    let store_dir = config.store_path();
    let store = tokio::task::spawn_blocking(move || Store::open(&store_dir, &store_config))
        .await
        .map_err(|e| NodeError::Backend(BackendError::caused_by(e)))??;
    tracing::info!(
        size = store.tree_size(),
        "store checked at start (its tail, its latest checkpoint; the saved state next); \
         `testigo-node fsck` checks every leaf with the node stopped"
    );
    Ok(Arc::new(store))
}

/// What both roles open first: the store, the metrics and the recovered write path.
struct Opened {
    store: Arc<Store>,
    metrics: Arc<Metrics>,
    backend: crate::sequencer::LogBackend,
    latest: Option<CheckpointInfo>,
}

/// Opens the store and recovers the state on a blocking thread; `key` is the log key on an
/// operator, `None` on a witness.
async fn open_log(
    config: &Config,
    genesis: &Genesis,
    key: Option<ed25519_dalek::SigningKey>,
) -> Result<Opened, NodeError> {
    let store = open_store(config).await?;
    let metrics = Arc::new(Metrics::new());
    let (backend, latest) = {
        let (store, metrics) = (store.clone(), metrics.clone());
        let origin = genesis.origin.clone();
        let public = genesis.log_key;
        tokio::task::spawn_blocking(move || recover(store, key, public, origin, metrics))
            .await
            .map_err(|e| NodeError::Backend(BackendError::caused_by(e)))??
    };
    Ok(Opened {
        store,
        metrics,
        backend,
        latest,
    })
}

/// The cosignature collector of the log `genesis` names; `hold` witnesses must hold a
/// checkpoint before it is published.
fn cosignatures(
    store: &Arc<Store>,
    genesis: &Genesis,
    hold: usize,
    metrics: &Arc<Metrics>,
) -> Result<Arc<Cosignatures>, NodeError> {
    Ok(Arc::new(Cosignatures::new(
        store.clone(),
        genesis.origin.clone(),
        genesis.log_key,
        genesis.witnesses.clone(),
        usize::from(genesis.quorum),
        hold,
        metrics.clone(),
    )?))
}

/// How many witnesses must hold a checkpoint before the operator publishes it.
fn publish_after(config: &Config, genesis: &Genesis) -> Result<usize, NodeError> {
    let named = genesis.witnesses.len();
    let hold = config
        .publish_after_witnesses
        .unwrap_or(usize::from(named > 0));
    if hold > named {
        return Err(NodeError::Config(crate::config::ConfigError::Invalid(
            format!("publish_after_witnesses is {hold}, but the Genesis names {named} witness(es)"),
        )));
    }
    Ok(hold)
}

/// Starts libp2p, serving leaf ranges from `store` up to the latest published checkpoint.
fn start_p2p(
    settings: P2pSettings,
    store: &Arc<Store>,
    sequencer: &SequencerHandle,
    metrics: &Arc<Metrics>,
) -> Result<
    (
        P2pHandle,
        mpsc::Receiver<P2pEvent>,
        tokio::task::JoinHandle<()>,
    ),
    NodeError,
> {
    let source = range_source(store.clone(), sequencer.signed_checkpoints());
    Ok(crate::p2p::spawn(settings, source, metrics.clone())?)
}

/// libp2p's settings from the config, or `None` when no peer is listed.
fn p2p_settings(config: &Config, origin: &str) -> Result<Option<P2pSettings>, NodeError> {
    if config.peers.is_empty() {
        return Ok(None);
    }
    let invalid = |m: String| NodeError::Config(crate::config::ConfigError::Invalid(m));
    let key = datadir::p2p_key(config)?;
    let keypair = crate::p2p::keypair(&key)?;
    let listen = config
        .p2p_listen
        .parse()
        .map_err(|e| invalid(format!("p2p_listen: {e}")))?;
    let peers = crate::p2p::parse_peers(&config.peers).map_err(invalid)?;
    Ok(Some(P2pSettings {
        keypair,
        listen,
        peers,
        origin: origin.to_owned(),
    }))
}

/// Serves leaf ranges from `store`, up to the latest published checkpoint.
fn range_source(
    store: Arc<Store>,
    checkpoints: watch::Receiver<Option<Arc<CheckpointInfo>>>,
) -> crate::p2p::RangeSource {
    Arc::new(move |request| {
        let published = checkpoints.borrow().as_ref().map_or(0, |c| c.size);
        serve_range(&store, published, request).unwrap_or_else(|e| {
            tracing::error!(error = %e, "reading a leaf range");
            testigo_ledger::replication::LeafRangeResponse {
                start: request.start,
                tree_size: published,
                ..Default::default()
            }
        })
    })
}

/// What both roles serve over HTTP.
struct Serving {
    log: LogInfo,
    genesis: Genesis,
    sequencer: SequencerHandle,
    store: Arc<Store>,
    metrics: Arc<Metrics>,
    cosignatures: Arc<Cosignatures>,
    evidence: Option<Arc<EvidenceStore>>,
    witness: bool,
    p2p: Option<P2pHandle>,
    halted: Option<Arc<Halted>>,
}

/// Builds the API over `serving` and serves it until `shutdown`; then flips `stop`.
async fn serve(
    config: &Config,
    serving: Serving,
    tls: Option<TlsAcceptor>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
    ready: impl FnOnce(&str) + Send,
    stop: watch::Sender<bool>,
) -> Result<(), NodeError> {
    let Serving {
        log,
        genesis,
        sequencer,
        store,
        metrics,
        cosignatures,
        evidence,
        witness,
        p2p,
        halted,
    } = serving;
    let stopping = stop.subscribe();
    let readers = std::iter::once(genesis.log_key)
        .chain(genesis.witnesses.iter().map(|w| w.key))
        .chain(genesis.regulators.iter().copied());
    let reader: Arc<dyn crate::reader::LogRead> = Arc::new(store.clone());
    let mut intake = Intake::new(
        &genesis.origin,
        sequencer.clone(),
        reader.clone(),
        metrics.clone(),
        config.max_batch_submission,
    );
    if cosignatures.has_witnesses() {
        intake = intake.with_witnesses(WitnessWait {
            witnessed: cosignatures.watch(),
            timeout: Duration::from_millis(config.witnessed_timeout_ms),
        });
    }
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
        cosignatures: Some(cosignatures),
        evidence,
        witness,
        p2p,
        halted,
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
    tracing::info!(%address, scheme, origin = %genesis.origin, size = store.tree_size(), witness, "serving");
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
    Ok(served?)
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
    let Opened {
        store,
        metrics,
        backend,
        latest,
    } = open_log(&config, &genesis, Some(key.signing_key().clone())).await?;
    let settings = Settings {
        max_entries: config.batch_max_entries,
        max_delay: config.batch_delay(),
        queue_capacity: config.queue_capacity,
        max_queued_entries: config.max_queued_entries,
        idle_checkpoint: config.idle_checkpoint(),
    };
    let hold = publish_after(&config, &genesis)?;
    let cosignatures = cosignatures(&store, &genesis, hold, &metrics)?;
    let held = (hold > 0).then(|| cosignatures.held());
    if hold > 0 {
        tracing::info!(
            witnesses = hold,
            "a checkpoint is published once witnesses hold it"
        );
    }
    let (sequencer, task) = spawn_gated(Box::new(backend), latest, settings, metrics.clone(), held);
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
    let log = log_info(&store)?;
    let (stop, stopping) = watch::channel(false);
    let replication = match p2p_settings(&config, &genesis.origin)? {
        Some(settings) => {
            let (p2p, events, swarm) = start_p2p(settings, &store, &sequencer, &metrics)?;
            tracing::info!(peer_id = %p2p.local_peer_id(), "replicating to witnesses");
            let primary = tokio::spawn(primary_loop(
                p2p.clone(),
                events,
                sequencer.signed_checkpoints(),
                cosignatures.clone(),
                stopping,
            ));
            Some((primary, swarm, p2p))
        }
        None => None,
    };
    let p2p = replication.as_ref().map(|(_, _, p2p)| p2p.clone());
    let serving = Serving {
        log,
        genesis,
        sequencer,
        store,
        metrics,
        cosignatures,
        evidence: None,
        witness: false,
        p2p,
        halted: None,
    };
    let served = serve(&config, serving, tls, listener, shutdown, ready, stop).await;
    if let Some((primary, swarm, p2p)) = replication {
        drop(p2p);
        // The primary loop ends on `stop` and drops the last libp2p handle.
        let _ = primary.await;
        let _ = swarm.await;
    }
    // The router (and with it every handle) is dropped: the task closes its batch and ends.
    finish(task, served).await
}

/// Waits for the write-path task, which ends once the router (and every handle) is gone, and
/// reports the first failure.
async fn finish(
    task: tokio::task::JoinHandle<Result<(), BackendError>>,
    served: Result<(), NodeError>,
) -> Result<(), NodeError> {
    match task.await {
        Ok(result) => result?,
        Err(e) => return Err(NodeError::Backend(BackendError::caused_by(e))),
    }
    served?;
    tracing::info!("stopped");
    Ok(())
}

/// The log's parameters from the stored leaf 0, checked to be its genesis.
fn log_info(store: &Store) -> Result<LogInfo, NodeError> {
    let genesis_bytes = store.leaf(0)?.unwrap_or_default();
    let params = testigo_ledger::verify::verify_genesis(&genesis_bytes, None).map_err(|e| {
        NodeError::Inconsistent(format!("the stored leaf 0 is not this log's genesis: {e}"))
    })?;
    Ok(LogInfo::new(&params, genesis_bytes))
}

/// The operator's side of replication: gossip every new checkpoint, collect cosignatures.
async fn primary_loop(
    p2p: P2pHandle,
    mut events: mpsc::Receiver<P2pEvent>,
    mut checkpoints: watch::Receiver<Option<Arc<CheckpointInfo>>>,
    cosignatures: Arc<Cosignatures>,
    stop: watch::Receiver<bool>,
) {
    let mut stopped = std::pin::pin!(crate::replication::stopped(stop));
    loop {
        tokio::select! {
            () = &mut stopped => break,
            changed = checkpoints.changed() => {
                if changed.is_err() {
                    break;
                }
                let note = checkpoints.borrow_and_update().as_ref().map(|c| c.note.clone());
                if let Some(note) = note {
                    let _ = p2p.publish(GossipMessage::Checkpoint(note)).await;
                }
            }
            event = events.recv() => match event {
                None => break,
                Some(P2pEvent::Gossip { from, message: GossipMessage::Cosignature(text) }) => {
                    let cosignatures = cosignatures.clone();
                    match tokio::task::spawn_blocking(move || cosignatures.add(&text)).await {
                        Ok(Ok(_)) => {}
                        Ok(Err(e)) => tracing::warn!(peer = %from, error = %e, "cosignature refused"),
                        Err(e) => tracing::error!(error = %e, "cosignature task"),
                    }
                }
                Some(P2pEvent::Gossip { from, message: GossipMessage::Evidence(_) }) => {
                    tracing::error!(
                        peer = %from,
                        "a witness holds evidence that this log's key signed conflicting \
                         checkpoints: see its GET /v1/evidence"
                    );
                }
                Some(_) => {}
            },
        }
    }
}

/// A witness: replicates the operator's log over libp2p, re-verifies it, cosigns its
/// checkpoints and serves the same read API from its own store.
async fn run_witness(
    config: Config,
    tls: Option<TlsAcceptor>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
    ready: impl FnOnce(&str) + Send,
) -> Result<(), NodeError> {
    let name = config.witness_name.clone().unwrap_or_default();
    let (key, genesis_file_leaf, genesis) = datadir::open_witness(&config, &name)?;
    let Opened {
        store,
        metrics,
        backend,
        latest,
    } = open_log(&config, &genesis, None).await?;
    let (sequencer, follower, task) =
        spawn_follower(backend, latest, genesis.log_key, config.queue_capacity);
    let cosignatures = cosignatures(&store, &genesis, 0, &metrics)?;
    let evidence = Arc::new(
        EvidenceStore::open(
            &config.evidence_path(),
            genesis.origin.clone(),
            genesis.log_key,
            metrics.clone(),
        )
        .map_err(|e| NodeError::Inconsistent(format!("evidence directory: {e}")))?,
    );
    let settings = p2p_settings(&config, &genesis.origin)?
        .ok_or_else(|| NodeError::Inconsistent("a witness needs peers".into()))?;
    let (p2p, events, swarm) = start_p2p(settings, &store, &sequencer, &metrics)?;
    tracing::info!(peer_id = %p2p.local_peer_id(), witness = %name, "witnessing");
    let (stop, stopping) = watch::channel(false);
    let halted = Arc::new(Halted::default());
    let witness = Witness::new(
        WitnessSettings {
            name,
            key: key.signing_key().clone(),
            origin: genesis.origin.clone(),
            log_key: genesis.log_key,
            poll: Duration::from_millis(config.witness_poll_ms),
            clock_offset_ms: config.witness_clock_offset_ms,
        },
        store.clone(),
        follower,
        sequencer.checkpoints(),
        p2p,
        events,
        cosignatures.clone(),
        evidence.clone(),
        metrics.clone(),
        halted.clone(),
    );
    let handle = witness.p2p.clone();
    let witnessing = tokio::spawn(witness.run(stopping));
    // The read API needs the log's stamped leaf 0: wait for the first verified checkpoint.
    let mut shutdown = Box::pin(shutdown);
    let mut first = sequencer.checkpoints();
    let started = tokio::select! {
        got = first.wait_for(Option::is_some) => got.is_ok(),
        () = &mut shutdown => false,
    };
    if !started {
        drop(handle);
        stop.send_replace(true);
        let _ = witnessing.await;
        let _ = swarm.await;
        drop(sequencer);
        let _ = task.await;
        return Ok(());
    }
    let genesis_bytes = store.leaf(0)?.unwrap_or_default();
    let same = testigo_ledger::entry::Leaf::from_bytes(&genesis_bytes)
        .is_ok_and(|leaf| testigo_ledger::state::is_same_entry(&leaf, &genesis_file_leaf));
    if !same {
        return Err(NodeError::Inconsistent(format!(
            "leaf 0 of the replicated log is not the genesis in {}",
            config.genesis_path().display()
        )));
    }
    let log = log_info(&store)?;
    let serving = Serving {
        log,
        genesis,
        sequencer,
        store,
        metrics,
        cosignatures,
        evidence: Some(evidence),
        witness: true,
        p2p: Some(handle),
        halted: Some(halted),
    };
    let served = serve(&config, serving, tls, listener, shutdown, ready, stop).await;
    let _ = witnessing.await;
    let _ = swarm.await;
    finish(task, served).await
}

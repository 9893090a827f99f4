//! The HTTP API (DESIGN §7) under `/v1`, plus `/metrics` and `/healthz` at the root.
//!
//! | route | auth | answer |
//! | --- | --- | --- |
//! | `GET /v1/log` | – | [`LogInfo`] |
//! | `POST /v1/entries?wait=sequenced\|checkpointed\|witnessed` | – | one entry (`{"leaf"}`) or a batch (`{"leaves"}`, or `application/octet-stream`: leaves each prefixed by its length as u32 big-endian) |
//! | `GET /v1/entries?start&end` | operator, witness, regulator | leaves, end exclusive, capped |
//! | `GET /v1/checkpoint` | – | `text/plain` signed note with cosignature lines: with witnesses, the newest witnessed one (until one is, the newest) |
//! | `GET /v1/checkpoints?from` | – | published checkpoints with their cosignatures, paged |
//! | `GET /v1/proof/inclusion?index&size` | – | inclusion proof with the leaf hash |
//! | `GET /v1/proof/consistency?from&to` | – | consistency proof |
//! | `GET /v1/accounts/{key}?size` | the account, operator, witness, regulator | record + map proof + the `StateRoot` leaf and its inclusion proof |
//! | `GET /v1/accounts/{key}/nonce` | same | the next nonce (live) |
//! | `GET /v1/accounts/{key}/history?from&size` | same | leaves + inclusion proofs, paged |
//! | `GET /v1/accounts/{key}/consents` | same | grants |
//! | `GET /v1/claims/pending?from` | operator, witness, regulator | claims awaiting payout, paged |
//! | `GET /v1/events` | – | server-sent events: `checkpoint` per new checkpoint, `witnessed` per newly witnessed one |
//! | `GET /v1/p2p` | – | this node's libp2p peer id, listen addresses and connected peers (`{"peer_id", "listen", "connected"}`; 404 without libp2p) |
//! | `GET /v1/evidence` | – | evidence of a split view this node holds (`{"evidence": [..]}`) |
//! | `GET /metrics`, `GET /healthz` | – | Prometheus text; `{"status"}` |
//!
//! Errors: see [`error`]; refusals from below the handlers (axum's extractors, header limits)
//! are made JSON by [`refusal`].

mod accounts;
pub mod auth;
mod claims;
mod entries;
pub mod error;
mod events;
pub(crate) mod limits;
mod metrics;
mod proofs;
mod rate;
mod refusal;
mod replay;
mod submission;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use testigo_ledger::api::{ErrorCode, Health, LogInfo};

pub use error::ApiError;
/// The binary batch framing now lives in the ledger; re-exported here until its callers import
/// it from `testigo_ledger::api`.
pub use testigo_ledger::api::encode_binary_batch;

use crate::intake::Intake;
use crate::metrics::Metrics;
use crate::reader::{LogRead, ReadError};
use crate::sequencer::SequencerHandle;
use crate::storage::StorageError;

/// Request and page limits.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    pub(crate) max_request_bytes: usize,
    pub(crate) max_entries_page: u64,
    /// Most leaves in one submission: a JSON batch stops parsing past it.
    pub(crate) max_batch_submission: usize,
}

/// What every handler shares.
pub(crate) struct AppState {
    pub(crate) log: LogInfo,
    pub(crate) sequencer: SequencerHandle,
    pub(crate) reader: Arc<dyn LogRead>,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) authorizer: auth::Authorizer,
    /// Parse, verify, sequence: the submission path the handler hands raw leaves to.
    pub(crate) intake: Intake,
    pub(crate) limits: Limits,
    /// Concurrent requests, event streams and the memory of bodies in flight.
    pub(crate) request_limits: limits::RequestLimits,
    /// Becomes `true` when the node starts shutting down: long-lived responses end on it.
    pub(crate) stopping: tokio::sync::watch::Receiver<bool>,
    /// Cosignatures and the newest witnessed checkpoint (a node that replicates).
    pub(crate) cosignatures: Option<Arc<crate::replication::Cosignatures>>,
    /// A witness's evidence of a split view.
    pub(crate) evidence: Option<Arc<crate::replication::EvidenceStore>>,
    /// Whether this node is a witness (it refuses submissions).
    pub(crate) witness: bool,
    /// The libp2p task, when the node replicates.
    pub(crate) p2p: Option<crate::p2p::P2pHandle>,
    /// A witness: why it stopped following the log, once it has.
    pub(crate) halted: Option<Arc<crate::replication::Halted>>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("origin", &self.log.origin)
            .finish_non_exhaustive()
    }
}

/// The whole API, testable without a socket (`tower::ServiceExt::oneshot`).
pub(crate) fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/v1/log", get(log_info))
        .route(
            "/v1/entries",
            get(entries::get_entries).post(entries::post_entries),
        )
        .route("/v1/checkpoint", get(proofs::checkpoint))
        .route("/v1/checkpoints", get(proofs::checkpoints))
        .route("/v1/proof/inclusion", get(proofs::inclusion))
        .route("/v1/proof/consistency", get(proofs::consistency))
        .route("/v1/accounts/{key}", get(accounts::account))
        .route("/v1/accounts/{key}/nonce", get(accounts::nonce))
        .route("/v1/accounts/{key}/history", get(accounts::history))
        .route("/v1/accounts/{key}/consents", get(accounts::consents))
        .route("/v1/claims/pending", get(claims::pending))
        .route("/v1/events", get(events::events))
        .route("/v1/evidence", get(proofs::evidence))
        .route("/v1/p2p", get(p2p_info))
        .route("/metrics", get(metrics::metrics))
        .route("/healthz", get(healthz))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            limits::limit,
        ))
        .layer(axum::middleware::from_fn(refusal::json_refusals))
        .with_state(state)
}

async fn log_info(State(state): State<Arc<AppState>>) -> Json<LogInfo> {
    Json(state.log.clone())
}

async fn p2p_info(State(state): State<Arc<AppState>>) -> Result<Json<serde_json::Value>, ApiError> {
    let p2p = state.p2p.as_ref().ok_or_else(|| {
        ApiError::NotFound("this node runs no libp2p (no peers configured)".into())
    })?;
    let listen: Vec<String> = p2p
        .listen_addrs()
        .await
        .iter()
        .map(ToString::to_string)
        .collect();
    let connected: Vec<String> = p2p
        .connected()
        .await
        .iter()
        .map(ToString::to_string)
        .collect();
    Ok(Json(serde_json::json!({
        "peer_id": p2p.local_peer_id().to_string(),
        "listen": listen,
        "connected": connected,
        "halted": state.halted.as_ref().and_then(|h| h.reason()),
    })))
}

async fn healthz(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    let checkpoint_size = state
        .sequencer
        .checkpoints()
        .borrow()
        .as_ref()
        .map_or(0, |c| c.size);
    let running = state.sequencer.is_running();
    let status = if running {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let health = Health {
        status: if running { "ok" } else { "failed" }.to_owned(),
        checkpoint_size,
    };
    (status, [(header::CACHE_CONTROL, "no-store")], Json(health))
}

async fn not_found() -> ApiError {
    ApiError::NotFound("no such route; see /v1/log".into())
}

/// axum answers a wrong method with an empty 405; every refusal here is JSON with a code.
async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

/// Runs a store read on a blocking thread and maps its errors.
pub(crate) async fn read<R: Send + 'static>(
    state: &Arc<AppState>,
    f: impl FnOnce(&dyn LogRead) -> Result<R, ReadError> + Send + 'static,
) -> Result<R, ApiError> {
    let reader = state.reader.clone();
    let metrics = state.metrics.clone();
    tokio::task::spawn_blocking(move || f(reader.as_ref()))
        .await
        .map_err(ApiError::internal)?
        .map_err(|e| match e {
            ReadError::OutOfRange(message) => {
                ApiError::bad_request(ErrorCode::InvalidRange, message)
            }
            ReadError::Corrupt { index, reason } => storage_corrupt(&metrics, index, &reason),
            ReadError::Store(cause @ StorageError::Corrupt { .. }) => {
                storage_corrupt(&metrics, None, &cause.to_string())
            }
            cause @ (ReadError::Store(_) | ReadError::Proof(_)) => ApiError::internal(cause),
        })
}

/// The answer for a read that found its stored data damaged: logged with what was found and
/// counted; the client learns only that the node served nothing.
pub(crate) fn storage_corrupt(metrics: &Metrics, index: Option<u64>, reason: &str) -> ApiError {
    metrics.storage_corrupt.inc();
    tracing::error!(
        index,
        reason,
        "stored data is damaged; nothing was served from it"
    );
    ApiError::StorageCorrupt { index }
}

/// The size of the latest checkpoint: what account and history proofs are made against.
pub(crate) fn checkpoint_size(state: &AppState) -> u64 {
    state
        .sequencer
        .checkpoints()
        .borrow()
        .as_ref()
        .map_or(0, |c| c.size)
}

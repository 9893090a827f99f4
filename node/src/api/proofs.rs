//! The checkpoint and the proofs: public, no signature needed.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::IntoResponse;
use serde::Deserialize;
use testigo_ledger::api::{
    CheckpointEntry, CheckpointPage, ConsistencyProof, InclusionProof, LogInfo,
};
use testigo_ledger::checkpoint::{
    CosignatureError, SignedNote, verify_checkpoint_note, verify_cosignature,
};

use super::{ApiError, AppState, read};

/// `GET /v1/checkpoint`: the signed note with its cosignature lines, `text/plain`. On a log
/// with witnesses it is the newest witnessed checkpoint (until there is one, the newest with the
/// lines it has); on a log without, the newest checkpoint.
pub(crate) async fn checkpoint(
    State(state): State<Arc<AppState>>,
) -> Result<impl IntoResponse, ApiError> {
    let latest = state
        .sequencer
        .checkpoints()
        .borrow()
        .as_ref()
        .map(|c| (c.size, c.note.clone()))
        .ok_or_else(|| ApiError::NotFound("no checkpoint yet".into()))?;
    let note = match &state.cosignatures {
        Some(cosignatures) if cosignatures.has_witnesses() => {
            let witnessed = cosignatures.watch().borrow().clone();
            match witnessed {
                Some(w) => w.note.clone(),
                None => {
                    let cosignatures = cosignatures.clone();
                    let (size, note) = latest;
                    tokio::task::spawn_blocking(move || cosignatures.note_with_cosignatures(size))
                        .await
                        .map_err(ApiError::internal)?
                        .map_err(ApiError::internal)?
                        .unwrap_or(note)
                }
            }
        }
        _ => latest.1,
    };
    Ok((
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        note,
    ))
}

/// `GET /v1/evidence`: the evidence of a split view this node holds, `{"evidence": [..]}` in the
/// JSON form of `ledger::checkpoint::Evidence` (PROTOCOL §7); empty on a node that holds none.
pub(crate) async fn evidence(State(state): State<Arc<AppState>>) -> Json<serde_json::Value> {
    let held = state.evidence.as_ref().map(|e| e.all()).unwrap_or_default();
    Json(serde_json::json!({ "version": 1, "evidence": held }))
}

/// Checkpoints per page of `GET /v1/checkpoints`.
const CHECKPOINT_PAGE: usize = 256;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CheckpointsQuery {
    #[serde(default)]
    from: u64,
}

/// `GET /v1/checkpoints?from=S`: the published checkpoints from size `S` on, with their
/// cosignatures, so that monitors and auditors can check every one.
pub(crate) async fn checkpoints(
    State(state): State<Arc<AppState>>,
    q: Result<Query<CheckpointsQuery>, QueryRejection>,
) -> Result<Json<CheckpointPage>, ApiError> {
    let CheckpointsQuery { from } = query(q)?;
    let mut checkpoints = read(&state, move |r| r.checkpoints(from, CHECKPOINT_PAGE + 1)).await?;
    for stored in &checkpoints {
        if let Err(reason) = check_stored_note(&state.log, stored) {
            return Err(super::storage_corrupt(&state.metrics, None, &reason));
        }
    }
    let next = (checkpoints.len() > CHECKPOINT_PAGE).then(|| {
        checkpoints.truncate(CHECKPOINT_PAGE);
        checkpoints.last().map_or(from, |c| c.size + 1)
    });
    Ok(Json(CheckpointPage { checkpoints, next }))
}

/// Checks a stored note before it is served: the log's signature over the body at its size, a
/// valid line from every witness that has one, and no line from anyone else (a damaged name
/// would otherwise pass as a stranger's line that verifiers ignore).
fn check_stored_note(log: &LogInfo, stored: &CheckpointEntry) -> Result<(), String> {
    let note = SignedNote::parse(stored.note.as_bytes()).map_err(|e| {
        format!(
            "the stored note of size {} does not parse: {e}",
            stored.size
        )
    })?;
    let checkpoint = verify_checkpoint_note(&note, &log.origin, &log.log_key)
        .map_err(|e| format!("the stored note of size {}: {e}", stored.size))?;
    if checkpoint.size() != stored.size {
        return Err(format!(
            "the note stored for size {} is for size {}",
            stored.size,
            checkpoint.size()
        ));
    }
    let mut lines = 1;
    for witness in &log.witnesses {
        match verify_cosignature(&note, witness) {
            Ok(_) => lines += 1,
            Err(CosignatureError::Missing { .. }) => {}
            Err(e) => {
                return Err(format!(
                    "the cosignature stored for size {}: {e}",
                    stored.size
                ));
            }
        }
    }
    if note.signatures().len() != lines {
        return Err(format!(
            "the note stored for size {} has {} signature lines, {lines} of them valid",
            stored.size,
            note.signatures().len()
        ));
    }
    Ok(())
}

#[derive(Debug, Deserialize)]
pub(crate) struct InclusionQuery {
    index: u64,
    size: u64,
}

/// Maps a query-string rejection to a JSON 400.
pub(crate) fn query<T>(q: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    q.map(|Query(q)| q).map_err(|e| {
        ApiError::bad_request(testigo_ledger::api::ErrorCode::BadRequest, e.body_text())
    })
}

/// `GET /v1/proof/inclusion?index=I&size=N`.
pub(crate) async fn inclusion(
    State(state): State<Arc<AppState>>,
    q: Result<Query<InclusionQuery>, QueryRejection>,
) -> Result<Json<InclusionProof>, ApiError> {
    let InclusionQuery { index, size } = query(q)?;
    read(&state, move |r| r.inclusion(index, size))
        .await
        .map(Json)
}

#[derive(Debug, Deserialize)]
pub(crate) struct ConsistencyQuery {
    from: u64,
    to: u64,
}

/// `GET /v1/proof/consistency?from=M&to=N`.
pub(crate) async fn consistency(
    State(state): State<Arc<AppState>>,
    q: Result<Query<ConsistencyQuery>, QueryRejection>,
) -> Result<Json<ConsistencyProof>, ApiError> {
    let ConsistencyQuery { from, to } = query(q)?;
    read(&state, move |r| r.consistency(from, to))
        .await
        .map(Json)
}

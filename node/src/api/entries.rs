//! `POST /v1/entries` (submission) and `GET /v1/entries` (bulk read).
//!
//! Submissions come as JSON (`{"leaf": b64}` or `{"leaves": [b64, ..]}`) or, for high-volume
//! accessors, as `Content-Type: application/octet-stream`: the leaves concatenated, each preceded
//! by its length as a 4-byte big-endian integer. A single JSON entry is answered with its
//! [`Sequenced`] (200) or its error (4xx); a batch, in either form, with a [`BatchResponse`]
//! (200) holding one result per leaf in order. Envelopes must carry `sequenced_at` zero.

use std::sync::Arc;
use std::time::Instant;

use axum::Json;
use axum::body::Body as HttpBody;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use testigo_ledger::api::{
    BatchResponse, BatchResult, Entries, ErrorCode, IndexedLeaf, Sequenced, Submission, Wait,
};
use testigo_ledger::entry::{Body, Leaf};

use super::auth::Signed;
use super::proofs::query;
use super::{ApiError, AppState, read};
use crate::metrics::CodeLabel;
use crate::sequencer::{Outcome, Refusal, verify::verify_parallel};

#[derive(Debug, Default, Deserialize)]
pub(crate) struct SubmitQuery {
    #[serde(default)]
    wait: Wait,
}

/// The submission's form, which decides the answer's shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Form {
    One,
    Batch,
}

pub(crate) async fn post_entries(
    State(state): State<Arc<AppState>>,
    q: Result<Query<SubmitQuery>, QueryRejection>,
    headers: HeaderMap,
    body: HttpBody,
) -> Result<Response, ApiError> {
    let started = Instant::now();
    let SubmitQuery { wait } = query(q)?;
    if wait == Wait::Witnessed {
        return Err(ApiError::NotImplemented(
            "wait=witnessed needs witness replication, which this node does not run yet; \
             use wait=checkpointed",
        ));
    }
    let limit = state.limits.max_request_bytes;
    let bytes = axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| ApiError::PayloadTooLarge { limit })?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json");
    let (form, raw) = if content_type.starts_with("application/octet-stream") {
        (Form::Batch, split_binary(&bytes)?)
    } else if content_type.starts_with("application/json") {
        match serde_json::from_slice::<Submission>(&bytes) {
            Ok(Submission::One { leaf }) => (Form::One, vec![leaf.0]),
            Ok(Submission::Batch { leaves }) => {
                (Form::Batch, leaves.into_iter().map(|l| l.0).collect())
            }
            Err(e) => {
                return Err(ApiError::bad_request(
                    ErrorCode::BadRequest,
                    format!("expected {{\"leaf\": base64}} or {{\"leaves\": [base64, ..]}}: {e}"),
                ));
            }
        }
    } else {
        return Err(ApiError::UnsupportedMediaType(content_type.to_owned()));
    };
    if raw.is_empty() || raw.len() > state.limits.max_batch_submission {
        return Err(ApiError::bad_request(
            ErrorCode::BadRequest,
            format!(
                "a submission holds 1..={} leaves, not {}",
                state.limits.max_batch_submission,
                raw.len()
            ),
        ));
    }
    let results = submit(&state, raw, wait).await?;
    state
        .metrics
        .observe_latency(wait == Wait::Checkpointed, started.elapsed());
    // Entries by kind are counted by the sequencer, which also sees its own StateRoots.
    for refusal in results.iter().filter_map(|r| r.as_ref().err()) {
        state
            .metrics
            .refusals
            .get_or_create(&CodeLabel {
                code: refusal.code.as_str(),
            })
            .inc();
    }
    Ok(match form {
        Form::One => match results.into_iter().next() {
            Some(Ok(sequenced)) => Json(sequenced).into_response(),
            Some(Err(refusal)) => ApiError::Rejected(refusal).into_response(),
            None => ApiError::internal("no result for a single submission").into_response(),
        },
        Form::Batch => {
            let results = results
                .into_iter()
                .map(|r| match r {
                    Ok(s) => BatchResult::Ok(s),
                    Err(refusal) => BatchResult::Err {
                        error: ApiError::Rejected(refusal).body(),
                    },
                })
                .collect();
            Json(BatchResponse { results }).into_response()
        }
    })
}

/// Parses, verifies and sequences; one result per raw leaf, in order.
async fn submit(
    state: &Arc<AppState>,
    raw: Vec<Vec<u8>>,
    wait: Wait,
) -> Result<Vec<Result<Sequenced, Refusal>>, ApiError> {
    let parsing = Instant::now();
    let mut results: Vec<Option<Result<Sequenced, Refusal>>> = vec![None; raw.len()];
    let mut parsed = Vec::with_capacity(raw.len());
    let mut positions = Vec::with_capacity(raw.len());
    for (i, bytes) in raw.iter().enumerate() {
        match Leaf::from_bytes(bytes) {
            Ok(leaf) if leaf.sequenced_at != 0 => {
                results[i] = Some(Err(Refusal::new(
                    ErrorCode::MalformedLeaf,
                    "submit the envelope with sequenced_at zero; the sequencer sets it",
                    serde_json::json!({ "sequenced_at": leaf.sequenced_at }),
                )));
            }
            // Only the sequencer writes StateRoots, at batch boundaries right before it signs a
            // checkpoint; one submitted mid-batch would commit a map version out of turn.
            Ok(leaf) if matches!(leaf.decode_body(), Ok(Body::StateRoot(_))) => {
                results[i] = Some(Err(Refusal::new(
                    ErrorCode::StateRootReserved,
                    "StateRoot entries are written by the sequencer only",
                    serde_json::Value::Null,
                )));
            }
            Ok(leaf) => {
                parsed.push(leaf);
                positions.push(i);
            }
            Err(e) => {
                results[i] = Some(Err(Refusal::new(
                    ErrorCode::MalformedLeaf,
                    e.to_string(),
                    serde_json::Value::Null,
                )));
            }
        }
    }
    state.metrics.observe_phase("parse", parsing.elapsed());
    let parsed = Arc::new(parsed);
    let verifying = Instant::now();
    let verdicts = verify_parallel(
        state.log.origin.as_str().into(),
        parsed.clone(),
        state.metrics.clone(),
    )
    .await
    .map_err(ApiError::internal)?;
    state
        .metrics
        .observe_phase("verify_wait", verifying.elapsed());
    let parsed = Arc::try_unwrap(parsed).unwrap_or_else(|shared| shared.as_ref().clone());
    let mut valid = Vec::with_capacity(parsed.len());
    let mut valid_positions = Vec::with_capacity(parsed.len());
    for ((leaf, verdict), i) in parsed.into_iter().zip(verdicts).zip(positions) {
        match verdict {
            Ok(()) => {
                valid.push(leaf);
                valid_positions.push(i);
            }
            Err(e) => {
                results[i] = Some(Err(Refusal::new(
                    ErrorCode::InvalidSignature,
                    format!("entry signature by {} {e}", leaf.signer),
                    serde_json::json!({ "signer": leaf.signer }),
                )));
            }
        }
    }
    if !valid.is_empty() {
        let Outcome {
            results: sequenced,
            checkpoint,
        } = state.sequencer.submit(valid, wait).await?;
        // With a checkpoint, every sequenced entry gets its inclusion proof, all in one read.
        let proofs = match &checkpoint {
            Some(cp) => {
                let size = cp.size;
                let indexes: Vec<u64> = sequenced
                    .iter()
                    .filter_map(|r| r.as_ref().ok().map(|r| r.index))
                    .collect();
                read(state, move |r| {
                    indexes
                        .into_iter()
                        .map(|index| r.inclusion(index, size))
                        .collect::<Result<Vec<_>, _>>()
                })
                .await?
            }
            None => Vec::new(),
        };
        let mut proofs = proofs.into_iter();
        let note = checkpoint.map(|cp| cp.note.clone());
        for (result, i) in sequenced.into_iter().zip(valid_positions) {
            results[i] = Some(result.map(|receipt| Sequenced {
                index: receipt.index,
                sequenced_at: receipt.sequenced_at,
                leaf_hash: receipt.leaf_hash,
                duplicate: receipt.duplicate,
                checkpoint: note.clone(),
                inclusion: proofs.next(),
            }));
        }
    }
    results
        .into_iter()
        .map(|r| r.ok_or_else(|| ApiError::internal("an entry got no result")))
        .collect()
}

/// Splits the binary batch form: `(u32 BE length ‖ leaf)*`.
fn split_binary(mut bytes: &[u8]) -> Result<Vec<Vec<u8>>, ApiError> {
    let mut leaves = Vec::new();
    while !bytes.is_empty() {
        let Some((len, rest)) = bytes.split_first_chunk::<4>() else {
            return Err(ApiError::bad_request(
                ErrorCode::BadRequest,
                "binary batch: truncated length prefix",
            ));
        };
        let len = u32::from_be_bytes(*len) as usize;
        if len > rest.len() {
            return Err(ApiError::bad_request(
                ErrorCode::BadRequest,
                format!(
                    "binary batch: leaf {} declares {len} bytes, {} remain",
                    leaves.len(),
                    rest.len()
                ),
            ));
        }
        let (leaf, rest) = rest.split_at(len);
        leaves.push(leaf.to_vec());
        bytes = rest;
    }
    Ok(leaves)
}

/// Encodes leaves in the binary batch form.
pub fn encode_binary_batch<'a>(leaves: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut out = Vec::new();
    for leaf in leaves {
        // Leaves are bounded by MAX_LEAF_LEN, far below u32::MAX.
        out.extend_from_slice(&(leaf.len() as u32).to_be_bytes());
        out.extend_from_slice(leaf);
    }
    out
}

#[derive(Debug, Deserialize)]
pub(crate) struct RangeQuery {
    start: u64,
    end: u64,
}

/// `GET /v1/entries?start=S&end=E`: operator, witnesses and regulators only.
pub(crate) async fn get_entries(
    State(state): State<Arc<AppState>>,
    signed: Signed,
    q: Result<Query<RangeQuery>, QueryRejection>,
) -> Result<Json<Entries>, ApiError> {
    state.authorizer.require(&signed, None)?;
    let RangeQuery { start, end } = query(q)?;
    if start >= end {
        return Err(ApiError::bad_request(
            ErrorCode::InvalidRange,
            format!("start {start} must be below end {end}"),
        ));
    }
    let end = end.min(start.saturating_add(state.limits.max_entries_page));
    let leaves = read(&state, move |r| r.leaves(start, end)).await?;
    Ok(Json(Entries {
        entries: (start..)
            .zip(leaves)
            .map(|(index, leaf)| IndexedLeaf {
                index,
                leaf: testigo_ledger::api::Bytes(leaf),
            })
            .collect(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_binary_form_round_trips_and_refuses_truncation() {
        let batch = encode_binary_batch([&b"abc"[..], &b""[..], &b"de"[..]]);
        assert_eq!(
            split_binary(&batch).unwrap(),
            vec![b"abc".to_vec(), vec![], b"de".to_vec()]
        );
        assert!(split_binary(&batch[..batch.len() - 1]).is_err());
        assert!(split_binary(&[0, 0]).is_err());
    }
}

//! `POST /v1/entries` (submission) and `GET /v1/entries` (bulk read).
//!
//! Submissions come as JSON (`{"leaf": b64}` or `{"leaves": [b64, ..]}`) or, for high-volume
//! accessors, as `Content-Type: application/octet-stream`: the leaves concatenated, each preceded
//! by its length as a 4-byte big-endian integer. A single JSON entry is answered with its
//! [`Sequenced`] (200) or its error (4xx); a batch, in either form, with a [`BatchResponse`]
//! (200) holding one result per leaf in order. Envelopes must carry `sequenced_at` zero.
//!
//! This handler only speaks HTTP (content type, body limit, JSON in and out); parsing, signature
//! checks and sequencing are [`crate::intake`]'s, and the binary framing is the ledger's.

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
    BatchResponse, BatchResult, Entries, ErrorCode, IndexedLeaf, Wait, decode_binary_batch,
};

use super::auth::Signed;
use super::proofs::query;
use super::refusal::media_type;
use super::submission::JsonSubmission;
use super::{ApiError, AppState, read};

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
    if state.witness {
        return Err(ApiError::NotImplemented(
            "this node is a witness: it serves the log's reads; submit entries to the operator",
        ));
    }
    // Media types match exactly (`application/jsonx` is not JSON); parameters are allowed.
    let Some(content_type) = headers.get(header::CONTENT_TYPE) else {
        return Err(ApiError::MissingContentType);
    };
    let media = content_type.to_str().ok().and_then(media_type);
    if !matches!(media, Some("application/json" | "application/octet-stream")) {
        return Err(ApiError::UnsupportedMediaType(
            String::from_utf8_lossy(content_type.as_bytes()).into_owned(),
        ));
    }
    let limit = state.limits.max_request_bytes;
    let bytes = axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| ApiError::PayloadTooLarge { limit })?;
    let (form, raw) = if media == Some("application/octet-stream") {
        let leaves = decode_binary_batch(&bytes)
            .map_err(|e| ApiError::bad_request(ErrorCode::BadRequest, e.to_string()))?;
        (
            Form::Batch,
            leaves.into_iter().map(<[u8]>::to_vec).collect(),
        )
    } else {
        match super::submission::parse(&bytes, state.limits.max_batch_submission) {
            Ok(JsonSubmission::One(leaf)) => (Form::One, vec![leaf]),
            Ok(JsonSubmission::Batch(leaves)) => (Form::Batch, leaves),
            Err(e) => {
                return Err(ApiError::bad_request(
                    ErrorCode::BadRequest,
                    format!("expected {{\"leaf\": base64}} or {{\"leaves\": [base64, ..]}}: {e}"),
                ));
            }
        }
    };
    let results = state.intake.submit(raw, wait).await?;
    state
        .metrics
        .observe_latency(wait != Wait::Sequenced, started.elapsed());
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

//! Per-account reads: the record with its map proof, the history with inclusion proofs, and the
//! consents. Signed by the account, the operator, a witness or a regulator.
//!
//! Keys in the path are standard base64 with `/` percent-encoded as `%2F` (and `+` as `%2B`), or
//! URL-safe base64; the signature covers the path exactly as sent.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use base64::Engine as _;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use serde::Deserialize;
use testigo_ledger::PublicKey;
use testigo_ledger::api::{AccountProof, Bytes, Consents, History, HistoryEntry};
use testigo_ledger::map::account_map_key;

use super::auth::Signed;
use super::proofs::query;
use super::{ApiError, AppState, checkpoint_size, read};

/// Leaves per history page.
const HISTORY_PAGE: usize = 256;

fn parse_key(text: &str) -> Result<PublicKey, ApiError> {
    PublicKey::from_base64(text)
        .or_else(|| {
            let bytes = URL_SAFE
                .decode(text)
                .or_else(|_| URL_SAFE_NO_PAD.decode(text))
                .ok()?;
            Some(PublicKey(bytes.try_into().ok()?))
        })
        .ok_or_else(|| {
            ApiError::bad_request(
                testigo_ledger::api::ErrorCode::BadRequest,
                "account key is not 32 bytes of base64",
            )
        })
}

/// `GET /v1/accounts/{key}`.
pub(crate) async fn account(
    State(state): State<Arc<AppState>>,
    Path(key): Path<String>,
    signed: Signed,
) -> Result<Json<AccountProof>, ApiError> {
    let key = parse_key(&key)?;
    state.authorizer.require(&signed, Some(&key))?;
    let next_nonce = state
        .sequencer
        .read(move |b| b.next_nonce(&key))
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no account {key}")))?;
    let checkpoint = state
        .sequencer
        .checkpoints()
        .borrow()
        .clone()
        .ok_or_else(|| ApiError::NotFound("no checkpoint yet".into()))?;
    let size = checkpoint.size;
    // The checkpoint holds its own version of the map, so the proof is against exactly the
    // `StateRoot` that closes it, however many checkpoints have been made since.
    let (record, proof) = checkpoint.map.prove(&account_map_key(&key));
    let proof = proof.to_bytes();
    Ok(Json(AccountProof {
        key,
        checkpoint_size: size,
        record: record.map(Bytes),
        map_proof: Bytes(proof),
        next_nonce,
    }))
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct HistoryQuery {
    #[serde(default)]
    from: u64,
}

/// `GET /v1/accounts/{key}/history?from=N`.
pub(crate) async fn history(
    State(state): State<Arc<AppState>>,
    Path(key): Path<String>,
    signed: Signed,
    q: Result<Query<HistoryQuery>, QueryRejection>,
) -> Result<Json<History>, ApiError> {
    let key = parse_key(&key)?;
    state.authorizer.require(&signed, Some(&key))?;
    let HistoryQuery { from } = query(q)?;
    let size = checkpoint_size(&state);
    let entries = read(&state, move |r| {
        let mut indexes = r.account_leaves(&key, from, HISTORY_PAGE + 1, size)?;
        let more = indexes.len() > HISTORY_PAGE;
        indexes.truncate(HISTORY_PAGE);
        let mut entries = Vec::with_capacity(indexes.len());
        for index in indexes {
            let leaf = r.leaves(index, index + 1)?.pop().unwrap_or_default();
            let inclusion = r.inclusion(index, size)?;
            entries.push(HistoryEntry {
                leaf: Bytes(leaf),
                inclusion,
            });
        }
        Ok((entries, more))
    })
    .await?;
    let (entries, more) = entries;
    let next = more.then(|| from + entries.len() as u64);
    Ok(Json(History {
        key,
        checkpoint_size: size,
        from,
        entries,
        next,
    }))
}

/// `GET /v1/accounts/{key}/consents`.
pub(crate) async fn consents(
    State(state): State<Arc<AppState>>,
    Path(key): Path<String>,
    signed: Signed,
) -> Result<Json<Consents>, ApiError> {
    let key = parse_key(&key)?;
    state.authorizer.require(&signed, Some(&key))?;
    let consents = state.sequencer.read(move |b| b.consents(&key)).await?;
    Ok(Json(Consents { consents }))
}

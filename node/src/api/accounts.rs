//! Per-account reads: the record with its `StateRoot` leaf and proofs, the next nonce, the
//! history with inclusion proofs, and the consents. Signed by the account, the operator, a
//! witness or a regulator.
//!
//! Keys in the path are URL-safe base64 without padding (RFC 4648 §5,
//! `ledger::api::key_segment`), and only that: the signature covers the path exactly as sent,
//! and proxies rewrite percent-encoded slashes.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use serde::Deserialize;
use testigo_ledger::PublicKey;
use testigo_ledger::api::{
    AccountProof, Bytes, Consents, ErrorCode, History, HistoryEntry, NextNonce, StateRootProof,
    parse_key_segment,
};
use testigo_ledger::entry::{Body, Leaf};
use testigo_ledger::map::{MapError, MapSnapshot, account_map_key};
use testigo_ledger::state::AccountRecord;
use testigo_ledger::state::history::{IndirectParty, direct_parties};

use super::auth::Signed;
use super::proofs::query;
use super::{ApiError, AppState, checkpoint_size, read, storage_corrupt};
use crate::reader::{LogRead, ReadError};
use crate::sequencer::{CheckpointInfo, KEPT_MAP_VERSIONS};

/// Leaves per history page.
const HISTORY_PAGE: usize = 256;

/// The `{key}` path segment, percent-decoded. A segment that is not UTF-8 once decoded is a
/// `bad_request` like any other bad key (axum's own `Path` rejection is plain text).
pub(crate) struct KeySegment(String);

impl<S: Send + Sync> FromRequestParts<S> for KeySegment {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Path::<String>::from_request_parts(parts, state)
            .await
            .map(|Path(key)| KeySegment(key))
            .map_err(|e: PathRejection| {
                ApiError::bad_request(
                    ErrorCode::BadRequest,
                    format!("account key in the path: {}", e.body_text()),
                )
            })
    }
}

fn parse_key(text: &str) -> Result<PublicKey, ApiError> {
    parse_key_segment(text).ok_or_else(|| {
        ApiError::bad_request(
            ErrorCode::BadRequest,
            "account key in the path is not 32 bytes of URL-safe base64 without padding",
        )
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AccountQuery {
    size: Option<u64>,
}

/// The checkpoint of `size` (the latest by default) with its map version.
fn checkpoint_at(state: &AppState, size: Option<u64>) -> Result<Arc<CheckpointInfo>, ApiError> {
    let latest = state
        .sequencer
        .checkpoints()
        .borrow()
        .clone()
        .ok_or_else(|| ApiError::NotFound("no checkpoint yet".into()))?;
    match size {
        None => Ok(latest),
        Some(size) if size == latest.size => Ok(latest),
        Some(size) if size > latest.size => Err(ApiError::bad_request(
            ErrorCode::InvalidRange,
            format!(
                "size {size} is beyond the latest checkpoint {}",
                latest.size
            ),
        )),
        Some(size) => state.sequencer.recent_checkpoint(size).ok_or_else(|| {
            ApiError::NotFound(format!(
                "no map version kept for size {size}: it is not one of the last \
                 {KEPT_MAP_VERSIONS} checkpoints (latest {}); ask at a newer one",
                latest.size
            ))
        }),
    }
}

/// Reads `checkpoint`'s version of the state map beside the sequencer: a paged map reads its
/// buckets from the store, checked against the map's hashes. A read that meets the store
/// mid-commit ([`MapError::Moved`]) is asked again, a few times, before the client is told to
/// retry.
async fn map_read<T: Send + 'static>(
    state: &AppState,
    checkpoint: &CheckpointInfo,
    read: impl Fn(&MapSnapshot) -> Result<T, MapError> + Send + 'static,
) -> Result<T, ApiError> {
    const ATTEMPTS: usize = 3;
    let map = checkpoint.map.clone();
    let answer = tokio::task::spawn_blocking(move || {
        let mut answer = read(&map);
        for _ in 1..ATTEMPTS {
            if !matches!(answer, Err(MapError::Moved { .. })) {
                break;
            }
            answer = read(&map);
        }
        answer
    })
    .await
    .map_err(ApiError::internal)?;
    answer.map_err(|e| match e {
        MapError::Moved { .. } => ApiError::Busy("the state map moved on while it was read"),
        MapError::Corrupt(reason) => storage_corrupt(&state.metrics, None, &reason),
        other => ApiError::internal(other),
    })
}

/// `GET /v1/accounts/{key}?size=N`.
pub(crate) async fn account(
    State(state): State<Arc<AppState>>,
    KeySegment(key): KeySegment,
    signed: Signed,
    q: Result<Query<AccountQuery>, QueryRejection>,
) -> Result<Json<AccountProof>, ApiError> {
    let key = parse_key(&key)?;
    state.authorizer.require(&signed, Some(&key))?;
    let AccountQuery { size } = query(q)?;
    let checkpoint = checkpoint_at(&state, size)?;
    let size = checkpoint.size;
    // The checkpoint holds its own version of the map, so the proof is against exactly the
    // `StateRoot` that closes it, however many checkpoints have been made since. An account not
    // in the map gets its non-inclusion proof.
    let map_key = account_map_key(&key);
    let (record, proof) = map_read(&state, &checkpoint, move |map| map.prove(&map_key)).await?;
    let state_root = match checkpoint.state_root.get() {
        Some(cached) => cached.clone(),
        None => {
            let index = size - 1;
            let proof = read(&state, move |r| {
                let leaf = r.leaves(index, size)?.pop().unwrap_or_default();
                Ok(StateRootProof {
                    leaf: Bytes(leaf),
                    inclusion: r.inclusion(index, size)?,
                })
            })
            .await?;
            checkpoint.state_root.get_or_init(|| proof).clone()
        }
    };
    Ok(Json(AccountProof {
        key,
        checkpoint_size: size,
        state_root,
        record: record.map(Bytes),
        map_proof: Bytes(proof.to_bytes()),
    }))
}

/// `GET /v1/accounts/{key}/nonce`: every leaf sequenced so far counted, read beside the
/// sequencer (never through it).
pub(crate) async fn nonce(
    State(state): State<Arc<AppState>>,
    KeySegment(key): KeySegment,
    signed: Signed,
) -> Result<Json<NextNonce>, ApiError> {
    let key = parse_key(&key)?;
    state.authorizer.require(&signed, Some(&key))?;
    let next_nonce = read(&state, move |r| r.next_nonce(&key))
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no account {key}")))?;
    Ok(Json(NextNonce { key, next_nonce }))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct HistoryQuery {
    #[serde(default)]
    from: u64,
    size: Option<u64>,
}

/// `GET /v1/accounts/{key}/history?from=N`.
pub(crate) async fn history(
    State(state): State<Arc<AppState>>,
    KeySegment(key): KeySegment,
    signed: Signed,
    q: Result<Query<HistoryQuery>, QueryRejection>,
) -> Result<Json<History>, ApiError> {
    let key = parse_key(&key)?;
    state.authorizer.require(&signed, Some(&key))?;
    let HistoryQuery { from, size } = query(q)?;
    let latest = checkpoint_size(&state);
    let size = size.unwrap_or(latest);
    if size > latest {
        return Err(ApiError::bad_request(
            ErrorCode::InvalidRange,
            format!("size {size} is beyond the latest checkpoint {latest}"),
        ));
    }
    // The record committed at `size` says how long the history is, when its map version is
    // still kept: a damaged index that drops or adds a leaf is caught by the count.
    let history_len = match checkpoint_at(&state, Some(size)) {
        Err(_) => None,
        Ok(checkpoint) => {
            let map_key = account_map_key(&key);
            let record = map_read(&state, &checkpoint, move |map| map.get(&map_key)).await?;
            Some(
                record
                    .and_then(|bytes| AccountRecord::from_bytes(&bytes).ok())
                    .map_or(0, |record| record.history_len),
            )
        }
    };
    let entries = read(&state, move |r| {
        let mut indexes = r.account_leaves(&key, from, HISTORY_PAGE + 1, size)?;
        let more = indexes.len() > HISTORY_PAGE;
        indexes.truncate(HISTORY_PAGE);
        let mut entries = Vec::with_capacity(indexes.len());
        let mut previous = None;
        for index in indexes {
            if previous.is_some_and(|p| index <= p) {
                return Err(ReadError::Corrupt {
                    index: Some(index),
                    reason: format!("the history index of {key} lists leaf {index} out of order"),
                });
            }
            previous = Some(index);
            let leaf = r.leaves(index, index + 1)?.pop().unwrap_or_default();
            check_involves(r, &key, index, &leaf)?;
            let inclusion = r.inclusion(index, size)?;
            entries.push(HistoryEntry {
                leaf: Bytes(leaf),
                inclusion,
            });
        }
        if let Some(len) = history_len {
            let end = from + entries.len() as u64;
            let wrong = if from >= len {
                !entries.is_empty()
            } else {
                end > len || (!more && end != len)
            };
            if wrong {
                return Err(ReadError::Corrupt {
                    index: None,
                    reason: format!(
                        "the history index of {key} lists {} leaves from {from}, its record at \
                         size {size} counts {len} in all",
                        entries.len()
                    ),
                });
            }
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

/// Checks that the leaf the history index lists at `index` involves `key` (DESIGN §6), reading
/// the grant or claim it refers to when it involves `key` through one: a damaged index must not
/// put another account's leaf in this one's history.
fn check_involves(
    r: &dyn LogRead,
    key: &PublicKey,
    index: u64,
    leaf: &[u8],
) -> Result<(), ReadError> {
    let not = |why: &str| ReadError::Corrupt {
        index: Some(index),
        reason: format!("the history index of {key} lists leaf {index}, which {why}"),
    };
    let leaf = Leaf::from_bytes(leaf).map_err(|_| not("is not a leaf"))?;
    let body = leaf.decode_body().map_err(|_| not("has no valid body"))?;
    let (parties, indirect) = direct_parties(&leaf.signer, &body);
    if parties.contains(key) {
        return Ok(());
    }
    let referred = match indirect {
        Some(IndirectParty::GrantAccessor { consent }) => consent,
        Some(IndirectParty::ClaimSubject { claim }) => claim,
        None => return Err(not("does not involve it")),
    };
    let earlier = r.leaves(referred, referred + 1)?.pop().unwrap_or_default();
    let earlier = Leaf::from_bytes(&earlier).map_err(|_| not("refers to no leaf"))?;
    let named = match (indirect, earlier.decode_body()) {
        (Some(IndirectParty::GrantAccessor { .. }), Ok(Body::GrantConsent(grant))) => {
            grant.accessor
        }
        (Some(IndirectParty::ClaimSubject { .. }), Ok(Body::Claim(_))) => Some(earlier.signer),
        _ => None,
    };
    if named == Some(*key) {
        Ok(())
    } else {
        Err(not("does not involve it"))
    }
}

/// Grants per consents page.
const CONSENTS_PAGE: usize = 256;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConsentsQuery {
    #[serde(default)]
    from: u64,
}

/// `GET /v1/accounts/{key}/consents?from=I`: as of the latest `StateRoot`, a page at a time.
pub(crate) async fn consents(
    State(state): State<Arc<AppState>>,
    KeySegment(key): KeySegment,
    signed: Signed,
    q: Result<Query<ConsentsQuery>, QueryRejection>,
) -> Result<Json<Consents>, ApiError> {
    let key = parse_key(&key)?;
    state.authorizer.require(&signed, Some(&key))?;
    let ConsentsQuery { from } = query(q)?;
    let (consents, next) = read(&state, move |r| r.consents(&key, from, CONSENTS_PAGE)).await?;
    Ok(Json(Consents { consents, next }))
}

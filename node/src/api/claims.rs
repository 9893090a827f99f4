//! `GET /v1/claims/pending?from=I`: the claims waiting for a payout, for the operator's
//! `settle` (and for witnesses and regulators). A bulk read: signed by the operator, a witness or
//! a regulator. Served from the store as of the latest `StateRoot`, beside the sequencer.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use serde::Deserialize;
use testigo_ledger::api::PendingClaims;

use super::auth::Signed;
use super::proofs::query;
use super::{ApiError, AppState, read};

/// Claims per page.
const CLAIMS_PAGE: usize = 256;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ClaimsQuery {
    #[serde(default)]
    from: u64,
}

pub(crate) async fn pending(
    State(state): State<Arc<AppState>>,
    signed: Signed,
    q: Result<Query<ClaimsQuery>, QueryRejection>,
) -> Result<Json<PendingClaims>, ApiError> {
    state.authorizer.require(&signed, None)?;
    let ClaimsQuery { from } = query(q)?;
    let (claims, next) = read(&state, move |r| r.pending_claims(from, CLAIMS_PAGE)).await?;
    Ok(Json(PendingClaims { claims, next }))
}

//! `GET /v1/claims/pending?from=I`: the claims waiting for a payout, for the operator's
//! `settle` (and for witnesses and regulators). A bulk read: signed by the operator, a witness or
//! a regulator. Served from the live state between batches.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use serde::Deserialize;
use testigo_ledger::api::PendingClaims;

use super::auth::Signed;
use super::proofs::query;
use super::{ApiError, AppState};

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
    let mut claims = state
        .sequencer
        .read(move |b| b.pending_claims(from, CLAIMS_PAGE + 1))
        .await?;
    let next = (claims.len() > CLAIMS_PAGE).then(|| {
        claims.truncate(CLAIMS_PAGE);
        claims.last().map_or(from, |c| c.index + 1)
    });
    Ok(Json(PendingClaims { claims, next }))
}

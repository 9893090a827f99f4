//! `operator claims`: the claims waiting for a payout, with the index `settle` takes.
//!
//! ```text
//! $ testigo-node operator claims
//! claim 41  subject 11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=  amount 1250  payout_ref 3q2+7w==…
//! 1 pending claim, 1250 in all
//! ```

use testigo_ledger::api::ClaimView;

use super::{Operator, OperatorError};

/// List the claims not yet settled, oldest first.
#[derive(Clone, Debug, clap::Args)]
pub struct ClaimsArgs {
    /// Start at this claim index.
    #[arg(long, default_value_t = 0)]
    pub from: u64,
}

impl ClaimsArgs {
    /// Reads every page of `GET /v1/claims/pending`.
    ///
    /// # Errors
    /// See [`OperatorError`].
    pub async fn run(&self, operator: &Operator) -> Result<Vec<ClaimView>, OperatorError> {
        let mut claims = Vec::new();
        let mut from = Some(self.from);
        while let Some(start) = from {
            let page = operator.client().pending_claims(start).await?;
            claims.extend(page.claims);
            from = page.next;
        }
        Ok(claims)
    }
}

/// The listing as printed: one line per claim and a total.
pub fn describe(claims: &[ClaimView]) -> String {
    let mut out = String::new();
    let mut total: u128 = 0;
    for c in claims {
        total += u128::from(c.claim.amount);
        out.push_str(&format!(
            "claim {}  subject {}  amount {}  payout_ref {}\n",
            c.index,
            c.claim.subject,
            c.claim.amount,
            c.claim.payout_ref.to_base64()
        ));
    }
    let plural = if claims.len() == 1 { "" } else { "s" };
    out.push_str(&format!(
        "{} pending claim{plural}, {total} in all",
        claims.len()
    ));
    out
}

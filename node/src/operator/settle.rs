//! `operator settle <claim-index> --reference`: closes a subject's claim once the money has left.

use testigo_ledger::api::Sequenced;
use testigo_ledger::entry::{Body, PayoutSettled};

use super::{Operator, OperatorError};

/// Record that a claim was paid out.
#[derive(Clone, Debug, clap::Args)]
pub struct SettleArgs {
    /// Index of the subject's `Claim` leaf.
    pub claim: u64,
    /// The settlement reference (bank transfer id).
    #[arg(long)]
    pub reference: String,
}

impl SettleArgs {
    /// Submits the `PayoutSettled` entry.
    ///
    /// # Errors
    /// See [`OperatorError`]; `claim_not_found`, `claim_already_settled`, `empty_field`.
    pub async fn run(&self, operator: &Operator) -> Result<Sequenced, OperatorError> {
        operator
            .submit(|nonce| {
                Body::PayoutSettled(PayoutSettled {
                    nonce,
                    claim: self.claim,
                    settlement_ref: self.reference.clone(),
                })
            })
            .await
    }
}

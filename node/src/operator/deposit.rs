//! `operator deposit <accessor-key> <amount> --reference`: credits funds received off-ledger.

use testigo_ledger::PublicKey;
use testigo_ledger::api::Sequenced;
use testigo_ledger::entry::{Body, Deposit};

use super::{Operator, OperatorError, parse_key};

/// Credit an accessor (or the operator's own key, for its own accesses) with funds received.
#[derive(Clone, Debug, clap::Args)]
pub struct DepositArgs {
    /// The accessor credited, standard base64.
    #[arg(value_parser = parse_key)]
    pub accessor: PublicKey,
    /// Amount in minor units of the log's currency (cents for EUR).
    pub amount: u64,
    /// The operator's reference for the incoming payment.
    #[arg(long)]
    pub reference: String,
}

impl DepositArgs {
    /// Submits the `Deposit` entry.
    ///
    /// # Errors
    /// See [`OperatorError`]; `zero_amount`, `empty_field`, `unknown_account`, `overflow`.
    pub async fn run(&self, operator: &Operator) -> Result<Sequenced, OperatorError> {
        operator
            .submit(|nonce| {
                Body::Deposit(Deposit {
                    nonce,
                    accessor: self.accessor,
                    amount: self.amount,
                    reference: self.reference.clone(),
                })
            })
            .await
    }
}

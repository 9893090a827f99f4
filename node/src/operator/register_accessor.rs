//! `operator register-accessor <key> --name --lei`: creates an accessor (data buyer) account.

use testigo_ledger::PublicKey;
use testigo_ledger::api::Sequenced;
use testigo_ledger::entry::{Body, RegisterAccessor};

use super::{Operator, OperatorError, parse_key, random_salt};

/// Register a data buyer's key as an accessor.
#[derive(Clone, Debug, clap::Args)]
pub struct RegisterAccessorArgs {
    /// The accessor's public key, standard base64.
    #[arg(value_parser = parse_key)]
    pub key: PublicKey,
    /// The name subjects see, e.g. "Acme Ads Ltd".
    #[arg(long)]
    pub name: String,
    /// Legal entity identifier (LEI or national register number).
    #[arg(long)]
    pub lei: String,
}

impl RegisterAccessorArgs {
    /// Submits the `RegisterAccessor` entry with a fresh random salt.
    ///
    /// # Errors
    /// See [`OperatorError`]; `already_registered`, `empty_field`, `weak_key`.
    pub async fn run(&self, operator: &Operator) -> Result<Sequenced, OperatorError> {
        let salt = random_salt()?;
        operator
            .submit(|nonce| {
                Body::RegisterAccessor(RegisterAccessor {
                    nonce,
                    accessor: self.key,
                    display_name: self.name.clone(),
                    legal_entity_id: self.lei.clone(),
                    salt,
                })
            })
            .await
    }
}

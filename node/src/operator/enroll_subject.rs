//! `operator enroll-subject <key>`: creates a subject (customer) account for a wallet key.

use testigo_ledger::PublicKey;
use testigo_ledger::api::Sequenced;
use testigo_ledger::entry::{Body, EnrollSubject};

use super::{Operator, OperatorError, parse_key, random_salt};

/// Enrol a customer's wallet key as a subject.
#[derive(Clone, Debug, clap::Args)]
pub struct EnrollSubjectArgs {
    /// The subject's wallet public key, standard base64.
    #[arg(value_parser = parse_key)]
    pub key: PublicKey,
}

impl EnrollSubjectArgs {
    /// Submits the `EnrollSubject` entry with a fresh random salt.
    ///
    /// # Errors
    /// See [`OperatorError`]; `already_registered` if the key has an account.
    pub async fn run(&self, operator: &Operator) -> Result<Sequenced, OperatorError> {
        let salt = random_salt()?;
        operator
            .submit(|nonce| {
                Body::EnrollSubject(EnrollSubject {
                    nonce,
                    subject: self.key,
                    salt,
                })
            })
            .await
    }
}

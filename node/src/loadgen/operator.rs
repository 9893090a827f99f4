//! The operator's side of a driven node: its key (read from the node's data directory), its
//! nonces counted locally, and the entries only it may sign (enrolments, registrations,
//! deposits, settlements), signed ahead in bulk. The connection and the key check are the
//! operator commands' ([`crate::operator::Operator`]).

use std::path::Path;

use anyhow::{Context as _, bail};
use ed25519_dalek::SigningKey;
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::Rng as _;
use testigo_ledger::PublicKey;
use testigo_ledger::api::{ErrorBody, Sequenced, Wait};
use testigo_ledger::entry::{
    Body, Deposit, EnrollSubject, Leaf, PayoutSettled, RegisterAccessor, sign_body,
};

use testigo_client::Client;

use crate::config::Config;
use crate::keyfile::KeyFile;

/// Leaves per setup request: well under the node's default submission cap (10,000).
pub const SETUP_CHUNK: usize = 1000;

/// The operator's key with a local nonce counter, for entries signed ahead in bulk.
#[derive(Debug)]
pub struct OperatorSigner {
    key: SigningKey,
    origin: String,
    next_nonce: u64,
}

impl OperatorSigner {
    /// Loads the log key from `data_dir` (the node's layout), checks that it is the key of the
    /// log at `client`, and asks the node for the operator's next nonce.
    ///
    /// # Errors
    /// If the key cannot be read, belongs to another log, or the node cannot be asked.
    pub async fn connect(client: &Client, data_dir: &Path) -> anyhow::Result<Self> {
        let config = Config {
            data_dir: data_dir.to_owned(),
            ..Config::default()
        };
        let key = KeyFile::load(&config.key_path())
            .with_context(|| format!("reading the operator key from {}", data_dir.display()))?;
        let operator = crate::operator::Operator::with_client(
            client.clone(),
            key.signing_key().clone(),
            testigo_ledger::api::Wait::Sequenced,
        )
        .await
        .with_context(|| format!("connecting to {} as its operator", client.base()))?;
        let next_nonce = operator
            .next_nonce()
            .await
            .context("reading the operator's next nonce")?;
        Ok(Self {
            key: key.signing_key().clone(),
            origin: operator.origin().to_owned(),
            next_nonce,
        })
    }

    /// The log's origin, which every entry signature covers.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The operator's public key.
    pub fn public(&self) -> PublicKey {
        PublicKey(self.key.verifying_key().to_bytes())
    }

    /// The operator's signing key (it may also read everything, and access data itself).
    pub fn signing_key(&self) -> &SigningKey {
        &self.key
    }

    /// The nonce the next operator entry will carry: distinct on every run against one log, so
    /// seeds mixed with it give fresh keys each run.
    pub fn next_nonce(&self) -> u64 {
        self.next_nonce
    }

    /// Signs the body `make(nonce)` with the next nonce.
    pub fn sign(&mut self, make: impl FnOnce(u64) -> Body) -> Leaf {
        let nonce = self.next_nonce;
        self.next_nonce += 1;
        sign_body(&self.origin, &self.key, &make(nonce))
    }

    /// `EnrollSubject` with a salt from `rng`.
    pub fn enroll(&mut self, subject: PublicKey, rng: &mut ChaCha8Rng) -> Leaf {
        let salt = random_32(rng);
        self.sign(|nonce| {
            Body::EnrollSubject(EnrollSubject {
                nonce,
                subject,
                salt,
            })
        })
    }

    /// `RegisterAccessor` with a salt from `rng`.
    pub fn register(
        &mut self,
        accessor: PublicKey,
        display_name: &str,
        legal_entity_id: &str,
        rng: &mut ChaCha8Rng,
    ) -> Leaf {
        let salt = random_32(rng);
        self.sign(|nonce| {
            Body::RegisterAccessor(RegisterAccessor {
                nonce,
                accessor,
                display_name: display_name.to_owned(),
                legal_entity_id: legal_entity_id.to_owned(),
                salt,
            })
        })
    }

    /// `Deposit` of `amount` minor units.
    pub fn deposit(&mut self, accessor: PublicKey, amount: u64, reference: &str) -> Leaf {
        self.sign(|nonce| {
            Body::Deposit(Deposit {
                nonce,
                accessor,
                amount,
                reference: reference.to_owned(),
            })
        })
    }

    /// `PayoutSettled` for the claim at leaf `claim`.
    pub fn settle(&mut self, claim: u64, settlement_ref: &str) -> Leaf {
        self.sign(|nonce| {
            Body::PayoutSettled(PayoutSettled {
                nonce,
                claim,
                settlement_ref: settlement_ref.to_owned(),
            })
        })
    }
}

/// 32 random bytes (salts, key seeds).
pub fn random_32(rng: &mut ChaCha8Rng) -> [u8; 32] {
    let mut bytes = [0u8; 32];
    rng.fill_bytes(&mut bytes);
    bytes
}

/// A signing key from `rng`: seeded runs make the same keys.
pub fn random_key(rng: &mut ChaCha8Rng) -> SigningKey {
    SigningKey::from_bytes(&random_32(rng))
}

/// The public key of a signing key.
pub fn public(key: &SigningKey) -> PublicKey {
    PublicKey(key.verifying_key().to_bytes())
}

/// A uniform integer in `0..n` (`n` > 0); the tiny modulo bias does not matter for traffic.
pub fn below(rng: &mut ChaCha8Rng, n: u64) -> u64 {
    rng.next_u64() % n.max(1)
}

/// Submits `leaves` in chunks of [`SETUP_CHUNK`] and requires every one to be sequenced.
///
/// # Errors
/// Connection failures, or the first refused leaf with its code.
pub async fn submit_all(
    client: &Client,
    leaves: &[Leaf],
    wait: Wait,
) -> anyhow::Result<Vec<Sequenced>> {
    let mut out = Vec::with_capacity(leaves.len());
    for chunk in leaves.chunks(SETUP_CHUNK) {
        for result in client.submit_binary(chunk, wait).await? {
            match result {
                Ok(sequenced) => out.push(sequenced),
                Err(ErrorBody { code, message, .. }) => {
                    bail!("setup entry {} refused: {code}: {message}", out.len())
                }
            }
        }
    }
    Ok(out)
}

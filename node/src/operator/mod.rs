//! `testigo-node operator …`: the operator's own entries against a running node.
//!
//! Each command builds one body, signs it with the log key from the data directory and submits it
//! through `testigo-client`, like any other client would: it reads the log's origin from
//! `GET /v1/log` (and checks that the node's log key is this key), the key's next nonce from its
//! signed `GET /v1/accounts/{key}/nonce`, and answers with the entry's index. `claims` lists the
//! claims awaiting payout (for `settle`); `enroll-bulk` enrols a file of wallet keys.
//!
//! ```text
//! $ testigo-node operator enroll-subject 11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=
//! index 12
//! ```
//!
//! | exit code | meaning |
//! | --- | --- |
//! | 0 | sequenced (or an identical earlier submission: `duplicate`) |
//! | 1 | local problem: data directory, key file, randomness, arguments |
//! | 2 | usage error (from the argument parser) |
//! | 3 | the node refused the entry; the message carries the node's code (`insufficient_funds`, …) |
//! | 4 | the node cannot be reached or answered something that is not the API |
//! | 5 | the node is busy or stopping (503): retry later |

pub mod access;
pub mod claims;
pub mod deposit;
pub mod enroll_bulk;
pub mod enroll_subject;
pub mod register_accessor;
pub mod settle;

use ed25519_dalek::SigningKey;
use testigo_client::{Client, ClientError, Retry, Signer};
use testigo_ledger::PublicKey;
use testigo_ledger::api::{Sequenced, Wait};
use testigo_ledger::entry::{Body, Leaf, sign_body};

use crate::keyfile::KeyFileError;

/// Why an operator command failed; [`OperatorError::exit_code`] says how the process exits.
#[derive(Debug, thiserror::Error)]
pub enum OperatorError {
    /// The key file cannot be read.
    #[error(transparent)]
    Key(#[from] KeyFileError),
    /// No randomness for a salt.
    #[error("cannot draw a random salt from the operating system: {0}")]
    Random(#[source] getrandom::Error),
    /// A local file (the bulk enrolment's input) cannot be read.
    #[error("{path}: {source}")]
    File {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The node serves another log: its log key is not the key in this data directory.
    #[error(
        "the node serves log {origin} with log key {node_key}, but this data directory's key is {our_key}; \
         point --node at this log's node or --data-dir at its data directory"
    )]
    WrongLog {
        /// The node's origin.
        origin: String,
        /// The node's log key.
        node_key: PublicKey,
        /// The key we would sign with.
        our_key: PublicKey,
    },
    /// Talking to the node failed, or it refused the request or the entry.
    #[error("{0}{hint}", hint = node_hint(.0))]
    Node(#[from] ClientError),
}

fn node_hint(error: &ClientError) -> &'static str {
    match error {
        ClientError::Retryable {
            reason: Retry::Unreachable(_) | Retry::Timeout(_),
            ..
        } => " (is the node running? see --node)",
        _ => "",
    }
}

impl OperatorError {
    /// The process exit code (see the module docs).
    pub fn exit_code(&self) -> u8 {
        match self {
            OperatorError::Key(_) | OperatorError::Random(_) | OperatorError::File { .. } => 1,
            OperatorError::WrongLog { .. } => 3,
            OperatorError::Node(e) => match e {
                ClientError::Config(_) => 1,
                ClientError::Refused { .. } => 3,
                ClientError::Retryable {
                    reason: Retry::Busy { .. },
                    ..
                } => 5,
                ClientError::Retryable { .. }
                | ClientError::Server { .. }
                | ClientError::Protocol { .. }
                | ClientError::Integrity(_) => 4,
            },
        }
    }
}

/// A connection to the node on behalf of the operator's key.
#[derive(Debug)]
pub struct Operator {
    client: Client,
    origin: String,
    wait: Wait,
}

impl Operator {
    /// Connects to the node at `node` (`http://host:port` or `https://…`) and checks that it
    /// serves the log whose key is `key`. Submissions wait for `wait`.
    ///
    /// # Errors
    /// [`OperatorError::Node`] (a bad URL, an unreachable node), [`OperatorError::WrongLog`].
    pub async fn connect(node: &str, key: SigningKey, wait: Wait) -> Result<Self, OperatorError> {
        Self::with_client(Client::new(node)?, key, wait).await
    }

    /// [`Operator::connect`] over a client already set up (timeouts, trusted roots).
    ///
    /// # Errors
    /// As [`Operator::connect`].
    pub async fn with_client(
        client: Client,
        key: SigningKey,
        wait: Wait,
    ) -> Result<Self, OperatorError> {
        let signer = Signer::new(key);
        let log = client.log().await?;
        if log.log_key != signer.public() {
            return Err(OperatorError::WrongLog {
                origin: log.origin,
                node_key: log.log_key,
                our_key: signer.public(),
            });
        }
        Ok(Self {
            client: client.with_signer(signer),
            origin: log.origin,
            wait,
        })
    }

    /// The operator's public key.
    pub fn public(&self) -> PublicKey {
        self.signer().public()
    }

    fn signer(&self) -> &Signer {
        self.client
            .signer()
            .expect("an operator's client always has the operator's key")
    }

    /// The log's origin, which every entry signature covers.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The client, signing as the operator.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// What submissions wait for.
    pub fn wait(&self) -> Wait {
        self.wait
    }

    /// The nonce the operator's next entry must carry, from the node's live state.
    ///
    /// # Errors
    /// Transport errors, or a refusal of the signed read.
    pub async fn next_nonce(&self) -> Result<u64, OperatorError> {
        Ok(self.client.next_nonce(&self.public()).await?)
    }

    /// Signs `body` as the operator for this log.
    pub fn sign(&self, body: &Body) -> Leaf {
        sign_body(&self.origin, self.signer().signing_key(), body)
    }

    /// Builds the body for the next nonce, signs it and submits it.
    ///
    /// # Errors
    /// Transport errors, or the node's refusal with its code.
    pub async fn submit(&self, body: impl FnOnce(u64) -> Body) -> Result<Sequenced, OperatorError> {
        let nonce = self.next_nonce().await?;
        let leaf = self.sign(&body(nonce));
        Ok(self.client.submit(&leaf, self.wait).await?)
    }
}

/// 32 random bytes from the operating system, for an account record's salt (DESIGN §6).
///
/// # Errors
/// [`OperatorError::Random`] if the OS has no randomness to give.
pub fn random_salt() -> Result<[u8; 32], OperatorError> {
    let mut salt = [0u8; 32];
    getrandom::fill(&mut salt).map_err(OperatorError::Random)?;
    Ok(salt)
}

/// Parses a public key in standard base64 (as keys are printed) or URL-safe base64 without
/// padding (as in API paths) (clap value parser).
///
/// # Errors
/// A sentence for the argument parser.
pub fn parse_key(text: &str) -> Result<PublicKey, String> {
    PublicKey::from_base64(text)
        .or_else(|| testigo_ledger::api::parse_key_segment(text))
        .ok_or_else(|| "expected 32 bytes of base64".to_owned())
}

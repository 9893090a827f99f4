//! `testigo-node operator …`: the operator's own entries against a running node.
//!
//! Each command builds one body, signs it with the log key from the data directory and submits it
//! over HTTP, like any other client would: it reads the log's origin from `GET /v1/log` (and
//! checks that the node's log key is this key), the key's next nonce from its signed
//! `GET /v1/accounts/{key}` (`next_nonce`), and answers with the entry's index.
//!
//! ```text
//! $ testigo-node operator enroll-subject 9OKVwTcoxsQkhfwAGdxOosn07Bu+b3sGkEt5Q1Ydn3U=
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
mod client;
pub mod deposit;
pub mod enroll_subject;
pub mod register_accessor;
pub mod settle;

use std::sync::atomic::{AtomicU64, Ordering};

use ed25519_dalek::SigningKey;
use testigo_ledger::PublicKey;
use testigo_ledger::api::{AccountProof, LogInfo, Sequenced, Submission, Wait};
use testigo_ledger::auth::sign_request;
use testigo_ledger::entry::{Body, sign_body};

use crate::keyfile::KeyFileError;
use client::Client;

/// Why an operator command failed; [`OperatorError::exit_code`] says how the process exits.
#[derive(Debug, thiserror::Error)]
pub enum OperatorError {
    /// The key file cannot be read.
    #[error(transparent)]
    Key(#[from] KeyFileError),
    /// `--node` is not a plain `http://host:port`.
    #[error("--node {url}: {why}")]
    BadNodeUrl {
        /// What was given.
        url: String,
        /// What is wrong with it.
        why: String,
    },
    /// No randomness for a salt.
    #[error("cannot draw a random salt from the operating system: {0}")]
    Random(String),
    /// The node cannot be reached, or the connection broke.
    #[error("cannot reach the node at {node}: {cause} (is it running? see --node)")]
    Unreachable {
        /// The node's URL.
        node: String,
        /// The transport's message.
        cause: String,
    },
    /// The node answered, but not as the API does.
    #[error("the node at {node} does not speak the Testigo API: {message}")]
    Protocol {
        /// The node's URL.
        node: String,
        /// What was unexpected.
        message: String,
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
    /// The node refused the request or the entry; nothing was appended.
    #[error("the node refused ({status} {code}): {message}")]
    Refused {
        /// HTTP status.
        status: u16,
        /// The node's stable code.
        code: String,
        /// The node's sentence.
        message: String,
        /// The rejection's fields.
        details: serde_json::Value,
    },
    /// Back-pressure or shutdown (503).
    #[error("the node is busy ({code}): {message}; retry{}", retry_after_secs.map(|s| format!(" in {s} s")).unwrap_or_default())]
    Busy {
        /// `queue_full`, `shutting_down`, …
        code: String,
        /// The node's sentence.
        message: String,
        /// The node's `Retry-After`, if it sent one.
        retry_after_secs: Option<u64>,
    },
}

impl OperatorError {
    /// The process exit code (see the module docs).
    pub fn exit_code(&self) -> u8 {
        match self {
            OperatorError::Key(_) | OperatorError::BadNodeUrl { .. } | OperatorError::Random(_) => {
                1
            }
            OperatorError::Refused { .. } | OperatorError::WrongLog { .. } => 3,
            OperatorError::Unreachable { .. } | OperatorError::Protocol { .. } => 4,
            OperatorError::Busy { .. } => 5,
        }
    }
}

/// A connection to the node on behalf of the operator's key.
#[derive(Debug)]
pub struct Operator {
    client: Client,
    key: SigningKey,
    origin: String,
    wait: Wait,
    last_ts: AtomicU64,
}

impl Operator {
    /// Connects to the node at `node` (`http://host:port`) and checks that it serves the log whose
    /// key is `key`. Submissions wait for `wait`.
    ///
    /// # Errors
    /// [`OperatorError::BadNodeUrl`], [`OperatorError::Unreachable`], [`OperatorError::WrongLog`].
    pub async fn connect(node: &str, key: SigningKey, wait: Wait) -> Result<Self, OperatorError> {
        let client = Client::new(node)?;
        let log: LogInfo = client.get("/v1/log", None).await?;
        let our_key = PublicKey(key.verifying_key().to_bytes());
        if log.log_key != our_key {
            return Err(OperatorError::WrongLog {
                origin: log.origin,
                node_key: log.log_key,
                our_key,
            });
        }
        Ok(Self {
            client,
            key,
            origin: log.origin,
            wait,
            last_ts: AtomicU64::new(0),
        })
    }

    /// The operator's public key.
    pub fn public(&self) -> PublicKey {
        PublicKey(self.key.verifying_key().to_bytes())
    }

    /// The nonce the operator's next entry must carry, from the node's live state.
    ///
    /// # Errors
    /// Transport errors, or a refusal of the signed read.
    pub async fn next_nonce(&self) -> Result<u64, OperatorError> {
        let path = format!(
            "/v1/accounts/{}",
            // Standard base64 in a path: '/' and '+' must be percent-encoded.
            self.public()
                .to_base64()
                .replace('+', "%2B")
                .replace('/', "%2F")
        );
        // A later timestamp than this session's last signed read: the same read signed twice in
        // one millisecond would be the same signature, which the node refuses as a replay.
        let now = crate::api::auth::now_ms();
        let ts = self
            .last_ts
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |last| {
                Some(now.max(last + 1))
            })
            .map_or(now, |last| now.max(last + 1));
        let authorization = sign_request(&self.key, "GET", &path, ts);
        let account: AccountProof = self.client.get(&path, Some(authorization)).await?;
        Ok(account.next_nonce)
    }

    /// Builds the body for the next nonce, signs it and submits it.
    ///
    /// # Errors
    /// Transport errors, or the node's refusal with its code.
    pub async fn submit(&self, body: impl FnOnce(u64) -> Body) -> Result<Sequenced, OperatorError> {
        let nonce = self.next_nonce().await?;
        let leaf = sign_body(&self.origin, &self.key, &body(nonce));
        let submission = Submission::One {
            leaf: testigo_ledger::api::Bytes(leaf.to_bytes()),
        };
        let json = serde_json::to_vec(&submission).map_err(|e| OperatorError::Protocol {
            node: self.client.base().to_owned(),
            message: e.to_string(),
        })?;
        let path = format!("/v1/entries?wait={}", self.wait.as_str());
        self.client.post(&path, json).await
    }
}

/// 32 random bytes from the operating system, for an account record's salt (DESIGN §6).
///
/// # Errors
/// [`OperatorError::Random`] if the OS has no randomness to give.
pub fn random_salt() -> Result<[u8; 32], OperatorError> {
    let mut salt = [0u8; 32];
    getrandom::fill(&mut salt).map_err(|e| OperatorError::Random(e.to_string()))?;
    Ok(salt)
}

/// Parses a standard-base64 public key (clap value parser).
///
/// # Errors
/// A sentence for the argument parser.
pub fn parse_key(text: &str) -> Result<PublicKey, String> {
    PublicKey::from_base64(text).ok_or_else(|| "expected 32 bytes of standard base64".to_owned())
}

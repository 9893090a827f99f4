//! # testigo-client
//!
//! The one client of a Testigo node's HTTP API (DESIGN §7, `docs/PROTOCOL.md` §10): the node's
//! own operator commands, the load generator, the simulator, the end-to-end tests, the witness,
//! the wallet and the audit tool all talk to nodes through it. Wire types are
//! `testigo_ledger::api`'s; what the answers prove is checked with `testigo_ledger::verify`.
//!
//! ```no_run
//! # async fn example(key: ed25519_dalek::SigningKey) -> Result<(), testigo_client::ClientError> {
//! use testigo_client::{Client, Signer};
//!
//! let node = Client::new("https://node.example:7700")?.with_signer(Signer::new(key));
//! let log = node.verified_log(None).await?;         // the log's parameters, from its genesis leaf
//! let me = node.signer().expect("a signer").public();
//! let account = node.verified_account(&log, &me).await?; // checkpoint → StateRoot → map proof
//! let history = node.verified_history(&account).await?; // every leaf about me, nothing else
//! # let _ = history;
//! # Ok(()) }
//! ```
//!
//! Errors are typed by what the caller can do ([`ClientError`]): retry later (503 or 429 with
//! `Retry-After`, connection refused, timeout), fix the request (a refusal with the node's
//! code), or distrust the node ([`Integrity`], carrying what it received).

mod error;
mod events;
mod paging;
mod signer;
mod transport;
mod verified;

pub use verified::VerifiedCheckpoint;

use hyper::Method;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE};
use serde::de::DeserializeOwned;
use testigo_ledger::PublicKey;
use testigo_ledger::api::{
    AccountProof, BatchResponse, BatchResult, Bytes as B64, CheckpointPage, Consents,
    ConsistencyProof, Entries, ErrorBody, ErrorCode, Health, History, InclusionProof, LogInfo,
    NextNonce, PendingClaims, Sequenced, Submission, Wait, encode_binary_batch, key_segment,
};
use testigo_ledger::entry::Leaf;

pub use error::{ClientError, Integrity, Retry};
pub use events::{CheckpointEvent, EventBuffer, Events, MAX_EVENT_BYTES};
pub use signer::{Signer, now_ms};
pub use transport::{Answer, Options};

use transport::Transport;

/// A client of one node. Cheap to clone: connections are pooled and shared.
#[derive(Clone, Debug)]
pub struct Client {
    transport: Transport,
    signer: Option<Signer>,
}

/// One entry's answer in a batch: sequenced, or refused with the node's error.
pub type EntryResult = Result<Sequenced, ErrorBody>;

impl Client {
    /// A client for the node at `base` (`http://host:port` or `https://host[:port]`), with
    /// default [`Options`].
    ///
    /// # Errors
    /// [`ClientError::Config`] for a URL that is not a plain scheme and authority.
    pub fn new(base: &str) -> Result<Self, ClientError> {
        Self::with_options(base, Options::default())
    }

    /// A client with explicit timeouts, answer limit and extra trusted roots.
    ///
    /// # Errors
    /// [`ClientError::Config`] for a bad URL or an unreadable CA certificate.
    pub fn with_options(base: &str, options: Options) -> Result<Self, ClientError> {
        Ok(Self {
            transport: Transport::new(base, options)?,
            signer: None,
        })
    }

    /// The same client, signing reads with `signer`.
    pub fn with_signer(&self, signer: Signer) -> Self {
        Self {
            transport: self.transport.clone(),
            signer: Some(signer),
        }
    }

    /// The key that signs this client's reads, if any.
    pub fn signer(&self) -> Option<&Signer> {
        self.signer.as_ref()
    }

    /// The node's base URL.
    pub fn base(&self) -> &str {
        self.transport.base()
    }

    /// Sends any request and returns the answer whatever its status: for tests and tools that
    /// look at exact codes and bytes. `path` includes the query.
    ///
    /// # Errors
    /// Only when there is no answer ([`ClientError::Retryable`]).
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Result<Answer, ClientError> {
        self.transport.send(method, path, headers, body).await
    }

    /// `GET path` signed by this client's signer, whatever the status. A refusal as
    /// `auth_replayed` (another process signed with this key in the same millisecond) is retried
    /// once with a fresh timestamp.
    ///
    /// # Errors
    /// [`ClientError::Config`] without a signer; [`ClientError::Retryable`] without an answer.
    pub async fn get_signed(&self, path: &str) -> Result<Answer, ClientError> {
        let signer = self.signer.as_ref().ok_or_else(|| {
            ClientError::Config(format!("{path} is a signed read: the client has no key"))
        })?;
        let mut retried = false;
        loop {
            let authorization = signer.authorization("GET", path);
            let answer = self
                .send(
                    Method::GET,
                    path,
                    &[(AUTHORIZATION.as_str(), &authorization)],
                    Vec::new(),
                )
                .await?;
            let replayed = answer
                .error_body()
                .is_some_and(|e| e.code == ErrorCode::AuthReplayed.as_str());
            if !replayed || retried {
                return Ok(answer);
            }
            retried = true;
        }
    }

    async fn get_json<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        let answer = self.send(Method::GET, path, &[], Vec::new()).await?;
        self.decode(path, &answer)
    }

    async fn get_signed_json<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        let answer = self.get_signed(path).await?;
        self.decode(path, &answer)
    }

    async fn post_body(
        &self,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> Result<Answer, ClientError> {
        self.send(
            Method::POST,
            path,
            &[(CONTENT_TYPE.as_str(), content_type)],
            body,
        )
        .await
    }

    /// Checks the status and decodes a JSON answer.
    ///
    /// # Errors
    /// [`ClientError::Retryable`] for 503, `Refused` for 4xx, `Server` for other 5xx, and
    /// `Protocol` for an answer that is not the API's.
    pub fn decode<T: DeserializeOwned>(
        &self,
        path: &str,
        answer: &Answer,
    ) -> Result<T, ClientError> {
        self.check(path, answer)?;
        serde_json::from_slice(&answer.body).map_err(|e| self.protocol(path, answer, e))
    }

    /// Turns an error status into its [`ClientError`].
    ///
    /// # Errors
    /// As [`Client::decode`].
    pub fn check(&self, path: &str, answer: &Answer) -> Result<(), ClientError> {
        let status = answer.status;
        if status.is_success() {
            return Ok(());
        }
        let error = answer.error_body().ok_or_else(|| {
            self.protocol(
                path,
                answer,
                "an error answer without {\"code\", \"message\"}",
            )
        })?;
        Err(if matches!(status.as_u16(), 503 | 429) {
            ClientError::Retryable {
                url: self.transport.url(path),
                retry_after: answer.retry_after(),
                reason: Retry::Busy {
                    code: error.code,
                    message: error.message,
                },
            }
        } else if status.is_client_error() {
            ClientError::Refused {
                status: status.as_u16(),
                error,
            }
        } else {
            ClientError::Server {
                status: status.as_u16(),
                error,
            }
        })
    }

    fn protocol(&self, path: &str, answer: &Answer, why: impl std::fmt::Display) -> ClientError {
        let text = answer.text();
        let shown: String = text.chars().take(300).collect();
        ClientError::Protocol {
            url: self.transport.url(path),
            status: answer.status.as_u16(),
            message: format!("{why}: {shown}"),
        }
    }

    /// `GET /v1/log`: the log's parameters as the node states them (see
    /// [`Client::verified_log`] to check them against the genesis leaf).
    ///
    /// # Errors
    /// See [`ClientError`].
    pub async fn log(&self) -> Result<LogInfo, ClientError> {
        self.get_json("/v1/log").await
    }

    /// `GET /healthz`.
    ///
    /// # Errors
    /// See [`ClientError`]; a failed node answers 503 with `{"status": "failed"}`, returned here
    /// as the health rather than an error.
    pub async fn health(&self) -> Result<Health, ClientError> {
        let answer = self.send(Method::GET, "/healthz", &[], Vec::new()).await?;
        serde_json::from_slice(&answer.body).map_err(|e| self.protocol("/healthz", &answer, e))
    }

    /// `GET /metrics`: the Prometheus text.
    ///
    /// # Errors
    /// See [`ClientError`].
    pub async fn metrics(&self) -> Result<String, ClientError> {
        self.get_text("/metrics").await
    }

    async fn get_text(&self, path: &str) -> Result<String, ClientError> {
        let answer = self.send(Method::GET, path, &[], Vec::new()).await?;
        self.check(path, &answer)?;
        String::from_utf8(answer.body.to_vec()).map_err(|e| self.protocol(path, &answer, e))
    }

    /// `GET /v1/checkpoint`: the latest signed note, with its cosignature lines (unverified;
    /// see [`Client::verified_checkpoint`]).
    ///
    /// # Errors
    /// See [`ClientError`].
    pub async fn checkpoint(&self) -> Result<String, ClientError> {
        self.get_text("/v1/checkpoint").await
    }

    /// `GET /v1/checkpoints?from=S`: one page of the published checkpoints (see
    /// [`Client::checkpoints_from`] for all of them).
    ///
    /// # Errors
    /// See [`ClientError`].
    pub async fn checkpoints(&self, from: u64) -> Result<CheckpointPage, ClientError> {
        self.get_json(&format!("/v1/checkpoints?from={from}")).await
    }

    /// `GET /v1/proof/inclusion?index=I&size=N`.
    ///
    /// # Errors
    /// See [`ClientError`].
    pub async fn inclusion(&self, index: u64, size: u64) -> Result<InclusionProof, ClientError> {
        self.get_json(&format!("/v1/proof/inclusion?index={index}&size={size}"))
            .await
    }

    /// `GET /v1/proof/consistency?from=M&to=N`.
    ///
    /// # Errors
    /// See [`ClientError`].
    pub async fn consistency(&self, from: u64, to: u64) -> Result<ConsistencyProof, ClientError> {
        self.get_json(&format!("/v1/proof/consistency?from={from}&to={to}"))
            .await
    }

    /// `GET /v1/entries?start=S&end=E`, signed (operator, witness or regulator): one page, which
    /// the node may cut short (see [`Client::entries_stream`]).
    ///
    /// # Errors
    /// See [`ClientError`].
    pub async fn entries(&self, start: u64, end: u64) -> Result<Entries, ClientError> {
        self.get_signed_json(&format!("/v1/entries?start={start}&end={end}"))
            .await
    }

    /// `GET /v1/accounts/{key}?size=N`, signed: the record with its `StateRoot` leaf and proofs
    /// against the checkpoint of size `N` (`None`: the latest). Unverified; see
    /// [`Client::verified_account`].
    ///
    /// # Errors
    /// See [`ClientError`].
    pub async fn account(
        &self,
        key: &PublicKey,
        size: Option<u64>,
    ) -> Result<AccountProof, ClientError> {
        let mut path = format!("/v1/accounts/{}", key_segment(key));
        if let Some(size) = size {
            path.push_str(&format!("?size={size}"));
        }
        self.get_signed_json(&path).await
    }

    /// `GET /v1/accounts/{key}/nonce`, signed: the nonce `key`'s next entry must carry.
    ///
    /// # Errors
    /// See [`ClientError`] (`not_found` for an account the log does not have).
    pub async fn next_nonce(&self, key: &PublicKey) -> Result<u64, ClientError> {
        let answer: NextNonce = self
            .get_signed_json(&format!("/v1/accounts/{}/nonce", key_segment(key)))
            .await?;
        Ok(answer.next_nonce)
    }

    /// `GET /v1/accounts/{key}/history?from=F&size=N`, signed: one page of the account's
    /// history (see [`Client::verified_history`]).
    ///
    /// # Errors
    /// See [`ClientError`].
    pub async fn history(
        &self,
        key: &PublicKey,
        from: u64,
        size: Option<u64>,
    ) -> Result<History, ClientError> {
        let mut path = format!("/v1/accounts/{}/history?from={from}", key_segment(key));
        if let Some(size) = size {
            path.push_str(&format!("&size={size}"));
        }
        self.get_signed_json(&path).await
    }

    /// `GET /v1/accounts/{key}/consents?from=I`, signed, every page: the node's list of grants
    /// made by or naming the account (as of its latest `StateRoot`, not proven).
    ///
    /// # Errors
    /// See [`ClientError`]; [`ClientError::Protocol`] if a page does not move on.
    pub async fn consents(&self, key: &PublicKey) -> Result<Consents, ClientError> {
        let mut all = Vec::new();
        let mut from = 0;
        loop {
            let path = format!("/v1/accounts/{}/consents?from={from}", key_segment(key));
            let page: Consents = self.get_signed_json(&path).await?;
            all.extend(page.consents);
            match page.next {
                Some(next) if next > from => from = next,
                Some(next) => {
                    return Err(ClientError::Protocol {
                        url: self.transport.url(&path),
                        status: 200,
                        message: format!("the next page starts at {next}, not after {from}"),
                    });
                }
                None => break,
            }
        }
        Ok(Consents {
            consents: all,
            next: None,
        })
    }

    /// `GET /v1/claims/pending?from=I`, signed (operator, witness or regulator): one page of
    /// the claims awaiting payout (as of the node's latest `StateRoot`, not proven).
    ///
    /// # Errors
    /// See [`ClientError`].
    pub async fn pending_claims(&self, from: u64) -> Result<PendingClaims, ClientError> {
        self.get_signed_json(&format!("/v1/claims/pending?from={from}"))
            .await
    }

    /// `POST /v1/entries?wait=W` with one signed leaf (`{"leaf"}`).
    ///
    /// # Errors
    /// [`ClientError::Refused`] with the rejection's code when the entry is refused; see
    /// [`ClientError`].
    pub async fn submit(&self, leaf: &Leaf, wait: Wait) -> Result<Sequenced, ClientError> {
        let body = serde_json::to_vec(&Submission::One {
            leaf: B64(leaf.to_bytes()),
        })
        .map_err(|e| ClientError::Config(e.to_string()))?;
        let path = entries_path(wait);
        let answer = self.post_body(&path, "application/json", body).await?;
        self.decode(&path, &answer)
    }

    /// `POST /v1/entries?wait=W` with a JSON batch (`{"leaves"}`): one result per leaf.
    ///
    /// # Errors
    /// A refusal of the whole request; per-entry refusals are in the results.
    pub async fn submit_batch(
        &self,
        leaves: &[Leaf],
        wait: Wait,
    ) -> Result<Vec<EntryResult>, ClientError> {
        let body = serde_json::to_vec(&Submission::Batch {
            leaves: leaves.iter().map(|l| B64(l.to_bytes())).collect(),
        })
        .map_err(|e| ClientError::Config(e.to_string()))?;
        self.submit_batch_body(body, "application/json", wait).await
    }

    /// `POST /v1/entries?wait=W` in the binary batch form (cheaper to build and parse).
    ///
    /// # Errors
    /// As [`Client::submit_batch`].
    pub async fn submit_binary(
        &self,
        leaves: &[Leaf],
        wait: Wait,
    ) -> Result<Vec<EntryResult>, ClientError> {
        let bytes: Vec<Vec<u8>> = leaves.iter().map(Leaf::to_bytes).collect();
        self.submit_binary_encoded(encode_binary_batch(bytes.iter().map(Vec::as_slice)), wait)
            .await
    }

    /// [`Client::submit_binary`] with a body already framed (`ledger::api::encode_binary_batch`),
    /// for load generators that build their bodies ahead of time.
    ///
    /// # Errors
    /// As [`Client::submit_batch`].
    pub async fn submit_binary_encoded(
        &self,
        body: Vec<u8>,
        wait: Wait,
    ) -> Result<Vec<EntryResult>, ClientError> {
        self.submit_batch_body(body, "application/octet-stream", wait)
            .await
    }

    async fn submit_batch_body(
        &self,
        body: Vec<u8>,
        content_type: &str,
        wait: Wait,
    ) -> Result<Vec<EntryResult>, ClientError> {
        let path = entries_path(wait);
        let answer = self.post_body(&path, content_type, body).await?;
        let response: BatchResponse = self.decode(&path, &answer)?;
        Ok(response
            .results
            .into_iter()
            .map(|r| match r {
                BatchResult::Ok(s) => Ok(s),
                BatchResult::Err { error } => Err(error),
            })
            .collect())
    }
}

/// `/v1/entries?wait=…`.
pub fn entries_path(wait: Wait) -> String {
    format!("/v1/entries?wait={}", wait.as_str())
}

//! A small HTTP client for driving a node from outside: the load generator, the traffic
//! simulator and the crash test use it. It speaks the API of DESIGN §7 and nothing else: wire
//! types come from `testigo_ledger::api`, signed reads use `testigo_ledger::auth`.

use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, bail};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use ed25519_dalek::SigningKey;
use http_body_util::{BodyExt as _, Full};
use hyper::{Method, Request, header};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use testigo_ledger::PublicKey;
use testigo_ledger::api::{
    AccountProof, BatchResponse, BatchResult, ConsistencyProof, ErrorBody, Health, LogInfo,
    Sequenced, Submission, Wait,
};
use testigo_ledger::auth::sign_request;
use testigo_ledger::entry::Leaf;

use crate::api::encode_binary_batch;

/// A status and a body, whatever the status.
#[derive(Clone, Debug)]
pub struct Reply {
    /// HTTP status code.
    pub status: u16,
    /// The body's bytes.
    pub body: Bytes,
}

impl Reply {
    /// The body as JSON of `T`.
    ///
    /// # Errors
    /// If the body is not that JSON.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> anyhow::Result<T> {
        serde_json::from_slice(&self.body).with_context(|| {
            format!(
                "unexpected answer (HTTP {}): {}",
                self.status,
                String::from_utf8_lossy(&self.body[..self.body.len().min(300)])
            )
        })
    }

    /// The error body of a 4xx/5xx answer.
    ///
    /// # Errors
    /// If the status is a success or the body is not `{"code", "message"}`.
    pub fn error(&self) -> anyhow::Result<ErrorBody> {
        if self.status < 400 {
            bail!("expected an error, got HTTP {}", self.status);
        }
        self.json()
    }
}

/// A client of one node, e.g. `http://127.0.0.1:7700`. Cheap to clone; connections are pooled.
#[derive(Clone, Debug)]
pub struct NodeClient {
    http: HyperClient<HttpConnector, Full<Bytes>>,
    base: String,
}

/// Milliseconds since the Unix epoch (for signed-request timestamps).
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// An account key as a path segment (URL-safe base64: no `/` or `+` to escape).
pub fn key_segment(key: &PublicKey) -> String {
    URL_SAFE_NO_PAD.encode(key.as_bytes())
}

impl NodeClient {
    /// A client for the node at `base` (scheme, host and port, no trailing slash needed).
    ///
    /// # Errors
    /// If `base` is not an `http://` URL.
    pub fn new(base: &str) -> anyhow::Result<Self> {
        let base = base.trim_end_matches('/').to_owned();
        if !base.starts_with("http://") {
            bail!("node URL must start with http:// (got {base})");
        }
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let http = HyperClient::builder(TokioExecutor::new()).build(connector);
        Ok(Self { http, base })
    }

    /// The base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Sends any request; `path` includes the query. Every status is a [`Reply`].
    ///
    /// # Errors
    /// Connection or protocol failures only.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> anyhow::Result<Reply> {
        let mut request = Request::builder()
            .method(method.clone())
            .uri(format!("{}{path}", self.base));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request
            .body(Full::new(Bytes::from(body)))
            .context("building the request")?;
        let response = self
            .http
            .request(request)
            .await
            .with_context(|| format!("{method} {}{path}", self.base))?;
        let status = response.status().as_u16();
        let body = response
            .into_body()
            .collect()
            .await
            .with_context(|| format!("reading the answer to {method} {path}"))?
            .to_bytes();
        Ok(Reply { status, body })
    }

    /// `GET path`, unsigned.
    ///
    /// # Errors
    /// Connection failures.
    pub async fn get(&self, path: &str) -> anyhow::Result<Reply> {
        self.send(Method::GET, path, &[], Vec::new()).await
    }

    /// `GET path` signed by `key` (DESIGN §7 signed requests).
    ///
    /// # Errors
    /// Connection failures.
    pub async fn get_signed(&self, path: &str, key: &SigningKey) -> anyhow::Result<Reply> {
        let auth = sign_request(key, "GET", path, now_ms());
        self.send(
            Method::GET,
            path,
            &[(header::AUTHORIZATION.as_str(), &auth)],
            Vec::new(),
        )
        .await
    }

    /// `GET /v1/log`.
    ///
    /// # Errors
    /// Connection failures or an unexpected answer.
    pub async fn log_info(&self) -> anyhow::Result<LogInfo> {
        self.get("/v1/log").await?.json()
    }

    /// `GET /healthz`.
    ///
    /// # Errors
    /// Connection failures or an unexpected answer.
    pub async fn health(&self) -> anyhow::Result<Health> {
        self.get("/healthz").await?.json()
    }

    /// `GET /v1/checkpoint`: the signed note.
    ///
    /// # Errors
    /// Connection failures or a non-200 answer.
    pub async fn checkpoint(&self) -> anyhow::Result<String> {
        let reply = self.get("/v1/checkpoint").await?;
        if reply.status != 200 {
            bail!("GET /v1/checkpoint: HTTP {}", reply.status);
        }
        String::from_utf8(reply.body.to_vec()).context("checkpoint is not UTF-8")
    }

    /// `GET /v1/proof/consistency?from&to`.
    ///
    /// # Errors
    /// Connection failures or an unexpected answer.
    pub async fn consistency(&self, from: u64, to: u64) -> anyhow::Result<ConsistencyProof> {
        self.get(&format!("/v1/proof/consistency?from={from}&to={to}"))
            .await?
            .json()
    }

    /// `GET /v1/accounts/{key}` signed by `signer`.
    ///
    /// # Errors
    /// Connection failures or an unexpected answer (404 if no such account).
    pub async fn account(
        &self,
        key: &PublicKey,
        signer: &SigningKey,
    ) -> anyhow::Result<AccountProof> {
        let path = format!("/v1/accounts/{}", key_segment(key));
        self.get_signed(&path, signer).await?.json()
    }

    /// `GET /v1/entries?start&end` signed by `reader` (operator, witness or regulator); follows
    /// the node's page cap until `end`.
    ///
    /// # Errors
    /// Connection failures or an unexpected answer.
    pub async fn leaves(
        &self,
        start: u64,
        end: u64,
        reader: &SigningKey,
    ) -> anyhow::Result<Vec<Vec<u8>>> {
        let mut out = Vec::new();
        let mut next = start;
        while next < end {
            let path = format!("/v1/entries?start={next}&end={end}");
            let page: testigo_ledger::api::Entries =
                self.get_signed(&path, reader).await?.json()?;
            if page.entries.is_empty() {
                bail!("GET {path}: empty page");
            }
            for entry in page.entries {
                if entry.index != next {
                    bail!("GET {path}: expected index {next}, got {}", entry.index);
                }
                out.push(entry.leaf.0);
                next += 1;
            }
        }
        Ok(out)
    }

    /// Follows `GET /v1/events`, calling `on_checkpoint(size)` for every checkpoint event (the
    /// event id is the tree size), until the node closes the stream.
    ///
    /// # Errors
    /// Connection failures.
    pub async fn follow_checkpoints(
        &self,
        mut on_checkpoint: impl FnMut(u64) + Send,
    ) -> anyhow::Result<()> {
        let request = Request::get(format!("{}/v1/events", self.base))
            .body(Full::new(Bytes::new()))
            .context("building the events request")?;
        let response = self.http.request(request).await.context("GET /v1/events")?;
        let mut body = response.into_body();
        let mut pending = Vec::new();
        while let Some(frame) = body.frame().await {
            let frame = frame.context("reading /v1/events")?;
            let Some(data) = frame.data_ref() else {
                continue;
            };
            pending.extend_from_slice(data);
            while let Some(end) = pending.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = pending.drain(..=end).collect();
                let line = String::from_utf8_lossy(&line);
                if let Some(size) = line
                    .trim_end()
                    .strip_prefix("id:")
                    .and_then(|id| id.trim().parse().ok())
                {
                    on_checkpoint(size);
                }
            }
        }
        Ok(())
    }

    /// Submits leaves in the binary batch form; one result per leaf, in order.
    ///
    /// # Errors
    /// Connection failures or a whole-request refusal (anything but 200), with its code.
    pub async fn submit_binary(
        &self,
        body: Vec<u8>,
        wait: Wait,
    ) -> anyhow::Result<Vec<Result<Sequenced, ErrorBody>>> {
        let path = format!("/v1/entries?wait={}", wait.as_str());
        let reply = self
            .send(
                Method::POST,
                &path,
                &[(header::CONTENT_TYPE.as_str(), "application/octet-stream")],
                body,
            )
            .await?;
        batch_results(&reply)
    }

    /// [`Self::submit_binary`] from leaves.
    ///
    /// # Errors
    /// As [`Self::submit_binary`].
    pub async fn submit(
        &self,
        leaves: &[Leaf],
        wait: Wait,
    ) -> anyhow::Result<Vec<Result<Sequenced, ErrorBody>>> {
        let bytes: Vec<Vec<u8>> = leaves.iter().map(Leaf::to_bytes).collect();
        let body = encode_binary_batch(bytes.iter().map(Vec::as_slice));
        self.submit_binary(body, wait).await
    }

    /// Submits one leaf as JSON (`{"leaf"}`); the node answers it with its status.
    ///
    /// # Errors
    /// Connection failures.
    pub async fn submit_one(&self, leaf: &Leaf, wait: Wait) -> anyhow::Result<Reply> {
        let body = serde_json::to_vec(&Submission::One {
            leaf: testigo_ledger::api::Bytes(leaf.to_bytes()),
        })?;
        let path = format!("/v1/entries?wait={}", wait.as_str());
        self.send(
            Method::POST,
            &path,
            &[(header::CONTENT_TYPE.as_str(), "application/json")],
            body,
        )
        .await
    }
}

/// The per-leaf results of a batch answer.
///
/// # Errors
/// If the answer is not a 200 batch response.
pub fn batch_results(reply: &Reply) -> anyhow::Result<Vec<Result<Sequenced, ErrorBody>>> {
    if reply.status != 200 {
        let error = reply.error()?;
        bail!(
            "batch refused: HTTP {} {}: {}",
            reply.status,
            error.code,
            error.message
        );
    }
    let response: BatchResponse = reply.json()?;
    Ok(response
        .results
        .into_iter()
        .map(|r| match r {
            BatchResult::Ok(s) => Ok(s),
            BatchResult::Err { error } => Err(error),
        })
        .collect())
}

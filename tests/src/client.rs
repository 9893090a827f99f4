//! A small HTTP client for tests: plain HTTP/1.1 over hyper, raw answers (status, headers, bytes)
//! so tests can check exact codes, plus typed helpers for the happy paths. Signed reads use
//! `ledger::auth::sign_request`, as a wallet would.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use ed25519_dalek::SigningKey;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap};
use hyper::{Method, Request, StatusCode};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::de::DeserializeOwned;
use testigo_ledger::PublicKey;
use testigo_ledger::api::{
    AccountProof, BatchResponse, Bytes as B64, ErrorBody, Sequenced, Submission, Wait,
};
use testigo_ledger::auth::sign_request;
use testigo_ledger::entry::Leaf;

/// An answer, fully read.
#[derive(Debug)]
pub struct Answer {
    /// HTTP status.
    pub status: StatusCode,
    /// Headers.
    pub headers: HeaderMap,
    /// Body bytes.
    pub body: Bytes,
}

impl Answer {
    /// The body as JSON of type `T`; panics with the body if it is not.
    pub fn json<T: DeserializeOwned>(&self) -> T {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "answer {} is not the expected JSON ({e}): {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// The error body; panics on a success.
    pub fn error(&self) -> ErrorBody {
        assert!(
            !self.status.is_success(),
            "expected an error, got {}: {}",
            self.status,
            String::from_utf8_lossy(&self.body)
        );
        self.json()
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Panics unless the status is 200, showing the body.
    pub fn ok(self) -> Self {
        assert_eq!(self.status, StatusCode::OK, "{}", self.text());
        self
    }
}

/// A client for one node.
#[derive(Clone, Debug)]
pub struct Client {
    base: String,
    http: HyperClient<HttpConnector, Full<Bytes>>,
    last_ts: Arc<AtomicU64>,
}

/// A timestamp above `last` and at least now, stored back into `last`.
fn next_ts(last: &AtomicU64) -> u64 {
    let now = now_ms();
    let previous = last
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |last| {
            Some(now.max(last + 1))
        })
        .unwrap_or(now);
    now.max(previous + 1)
}

/// Unix milliseconds now.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The path segment for an account key: standard base64 with `+` and `/` percent-encoded.
pub fn key_segment(key: &PublicKey) -> String {
    key.to_base64().replace('+', "%2B").replace('/', "%2F")
}

impl Client {
    /// A client for `http://{addr}`.
    pub fn new(addr: std::net::SocketAddr) -> Self {
        Self {
            base: format!("http://{addr}"),
            http: HyperClient::builder(TokioExecutor::new()).build_http(),
            last_ts: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Sends a request and returns the answer's head with its body still streaming.
    ///
    /// # Errors
    /// The transport's error (connection refused while a node starts, for instance).
    pub async fn open(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> Result<hyper::Response<Incoming>, hyper_util::client::legacy::Error> {
        let mut request = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base));
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let request = request
            .body(Full::new(Bytes::from(body)))
            .expect("a request from valid parts");
        self.http.request(request).await
    }

    /// Sends a request and reads the whole answer.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> Answer {
        let response = self
            .open(method, path, headers, body)
            .await
            .unwrap_or_else(|e| panic!("{path}: {e}"));
        let status = response.status();
        let headers = response.headers().clone();
        let body = response
            .into_body()
            .collect()
            .await
            .expect("read the answer")
            .to_bytes();
        Answer {
            status,
            headers,
            body,
        }
    }

    /// `GET path`, unsigned.
    pub async fn get(&self, path: &str) -> Answer {
        self.send(Method::GET, path, &[], Vec::new()).await
    }

    /// `GET path` with an `Authorization` header as given.
    pub async fn get_with_auth(&self, path: &str, authorization: String) -> Answer {
        self.send(
            Method::GET,
            path,
            &[(AUTHORIZATION.as_str(), authorization)],
            Vec::new(),
        )
        .await
    }

    /// `GET path` signed by `key` now. Each signature gets a later timestamp than the last one,
    /// as a real client must: the same request signed twice in one millisecond is the same
    /// signature, which the node refuses as a replay.
    pub async fn get_signed(&self, key: &SigningKey, path: &str) -> Answer {
        let ts = next_ts(&self.last_ts);
        self.get_with_auth(path, sign_request(key, "GET", path, ts))
            .await
    }

    /// `POST path` with a content type and raw body.
    pub async fn post(&self, path: &str, content_type: &str, body: Vec<u8>) -> Answer {
        self.send(
            Method::POST,
            path,
            &[(CONTENT_TYPE.as_str(), content_type.to_owned())],
            body,
        )
        .await
    }

    /// Submits one leaf as JSON (`{"leaf"}`) and returns the raw answer.
    pub async fn submit(&self, leaf: &Leaf, wait: Wait) -> Answer {
        let json = serde_json::to_vec(&Submission::One {
            leaf: B64(leaf.to_bytes()),
        })
        .expect("encode submission");
        self.post(&entries_path(wait), "application/json", json)
            .await
    }

    /// Submits one leaf and expects it sequenced.
    pub async fn sequence(&self, leaf: &Leaf, wait: Wait) -> Sequenced {
        self.submit(leaf, wait).await.ok().json()
    }

    /// Submits leaves as a JSON batch (`{"leaves"}`).
    pub async fn submit_batch(&self, leaves: &[Leaf], wait: Wait) -> BatchResponse {
        let json = serde_json::to_vec(&Submission::Batch {
            leaves: leaves.iter().map(|l| B64(l.to_bytes())).collect(),
        })
        .expect("encode submission");
        self.post(&entries_path(wait), "application/json", json)
            .await
            .ok()
            .json()
    }

    /// Submits leaves in the binary batch form.
    pub async fn submit_binary(&self, leaves: &[Leaf], wait: Wait) -> BatchResponse {
        let bytes: Vec<Vec<u8>> = leaves.iter().map(Leaf::to_bytes).collect();
        let body = testigo_node::api::encode_binary_batch(bytes.iter().map(Vec::as_slice));
        self.post(&entries_path(wait), "application/octet-stream", body)
            .await
            .ok()
            .json()
    }

    /// `GET /v1/accounts/{key}` signed by `reader`.
    pub async fn account(&self, reader: &SigningKey, key: &PublicKey) -> AccountProof {
        self.get_signed(reader, &format!("/v1/accounts/{}", key_segment(key)))
            .await
            .ok()
            .json()
    }

    /// The signed checkpoint note.
    pub async fn checkpoint(&self) -> String {
        self.get("/v1/checkpoint").await.ok().text()
    }
}

/// `/v1/entries?wait=…`.
pub fn entries_path(wait: Wait) -> String {
    format!("/v1/entries?wait={}", wait.as_str())
}

/// An open `GET /v1/events` stream.
#[derive(Debug)]
pub struct Events {
    body: Incoming,
    buffer: String,
}

/// One server-sent `checkpoint` event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckpointEvent {
    /// The event id: the checkpoint's tree size.
    pub size: u64,
    /// The signed note (its lines joined by newlines, without the final one).
    pub note: String,
}

impl Client {
    /// Subscribes to `GET /v1/events`.
    pub async fn events(&self) -> Events {
        let response = self
            .open(Method::GET, "/v1/events", &[], Vec::new())
            .await
            .expect("open /v1/events");
        assert_eq!(response.status(), StatusCode::OK);
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        assert!(
            content_type.starts_with("text/event-stream"),
            "{content_type}"
        );
        Events {
            body: response.into_body(),
            buffer: String::new(),
        }
    }
}

impl Events {
    /// The next `checkpoint` event; `None` when the stream ends.
    pub async fn next_checkpoint(&mut self) -> Option<CheckpointEvent> {
        loop {
            while let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                if let Some(event) = parse_checkpoint_event(&block) {
                    return Some(event);
                }
            }
            let frame = self.body.frame().await?.expect("read the event stream");
            if let Ok(data) = frame.into_data() {
                self.buffer.push_str(&String::from_utf8_lossy(&data));
            }
        }
    }
}

fn parse_checkpoint_event(block: &str) -> Option<CheckpointEvent> {
    let (mut kind, mut id, mut data) = (None, None, Vec::new());
    for line in block.lines() {
        if let Some(v) = line.strip_prefix("event:") {
            kind = Some(v.trim());
        } else if let Some(v) = line.strip_prefix("id:") {
            id = v.trim().parse().ok();
        } else if let Some(v) = line.strip_prefix("data:") {
            data.push(v.strip_prefix(' ').unwrap_or(v));
        }
    }
    (kind == Some("checkpoint")).then(|| CheckpointEvent {
        size: id.expect("a checkpoint event has an id"),
        note: data.join("\n"),
    })
}

//! Test helpers over `testigo-client` for tests that check exact statuses, codes and bytes: they
//! panic with the answer on anything unexpected, so a failing test shows what the node said.
//! Every request goes through [`testigo_client::Client`]; nothing here speaks HTTP itself.

use ed25519_dalek::SigningKey;
use hyper::Method;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE};
use serde::de::DeserializeOwned;
use testigo_client::{Answer, Client, Signer, entries_path};
use testigo_ledger::PublicKey;
use testigo_ledger::api::{
    AccountProof, BatchResponse, Bytes as B64, ErrorBody, Sequenced, Submission, Wait,
    encode_binary_batch, key_segment,
};
use testigo_ledger::entry::Leaf;

/// Reading an answer in a test.
pub trait AnswerExt {
    /// The body as JSON of type `T`; panics with the body if it is not.
    fn json<T: DeserializeOwned>(&self) -> T;
    /// The error body; panics on a success.
    fn error(&self) -> ErrorBody;
    /// Panics unless the status is 200, showing the body.
    fn ok(self) -> Self;
}

impl AnswerExt for Answer {
    fn json<T: DeserializeOwned>(&self) -> T {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "answer {} is not the expected JSON ({e}): {}",
                self.status,
                self.text()
            )
        })
    }

    fn error(&self) -> ErrorBody {
        assert!(
            !self.status.is_success(),
            "expected an error, got {}: {}",
            self.status,
            self.text()
        );
        self.json()
    }

    fn ok(self) -> Self {
        assert_eq!(self.status, 200, "{}", self.text());
        self
    }
}

/// Requests that return the raw answer, panicking only when there is none.
#[allow(async_fn_in_trait)]
pub trait Probe {
    /// Any request.
    async fn raw(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Answer;
    /// `GET path`, unsigned.
    async fn get(&self, path: &str) -> Answer;
    /// `GET path` with this `Authorization` header.
    async fn get_with_auth(&self, path: &str, authorization: String) -> Answer;
    /// `GET path` signed by `key` (a fresh, strictly increasing timestamp).
    async fn get_signed_as(&self, key: &SigningKey, path: &str) -> Answer;
    /// `POST path` with a content type.
    async fn post(&self, path: &str, content_type: &str, body: Vec<u8>) -> Answer;
    /// One leaf as JSON (`{"leaf"}`).
    async fn submit_raw(&self, leaf: &Leaf, wait: Wait) -> Answer;
    /// One leaf, expected sequenced.
    async fn sequence(&self, leaf: &Leaf, wait: Wait) -> Sequenced;
    /// A JSON batch, expected answered 200.
    async fn batch_json(&self, leaves: &[Leaf], wait: Wait) -> BatchResponse;
    /// A binary batch, expected answered 200.
    async fn batch_binary(&self, leaves: &[Leaf], wait: Wait) -> BatchResponse;
    /// `GET /v1/accounts/{key}` signed by `reader`, expected 200.
    async fn account_as(&self, reader: &SigningKey, key: &PublicKey) -> AccountProof;
    /// `GET /v1/accounts/{key}/nonce` signed by `reader`.
    async fn nonce_as(&self, reader: &SigningKey, key: &PublicKey) -> u64;
}

impl Probe for Client {
    async fn raw(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Answer {
        self.send(method, path, headers, body)
            .await
            .unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    async fn get(&self, path: &str) -> Answer {
        self.raw(Method::GET, path, &[], Vec::new()).await
    }

    async fn get_with_auth(&self, path: &str, authorization: String) -> Answer {
        self.raw(
            Method::GET,
            path,
            &[(AUTHORIZATION.as_str(), &authorization)],
            Vec::new(),
        )
        .await
    }

    async fn get_signed_as(&self, key: &SigningKey, path: &str) -> Answer {
        let authorization = Signer::new(key.clone()).authorization("GET", path);
        self.get_with_auth(path, authorization).await
    }

    async fn post(&self, path: &str, content_type: &str, body: Vec<u8>) -> Answer {
        self.raw(
            Method::POST,
            path,
            &[(CONTENT_TYPE.as_str(), content_type)],
            body,
        )
        .await
    }

    async fn submit_raw(&self, leaf: &Leaf, wait: Wait) -> Answer {
        let json = serde_json::to_vec(&Submission::One {
            leaf: B64(leaf.to_bytes()),
        })
        .expect("encode submission");
        self.post(&entries_path(wait), "application/json", json)
            .await
    }

    async fn sequence(&self, leaf: &Leaf, wait: Wait) -> Sequenced {
        self.submit_raw(leaf, wait).await.ok().json()
    }

    async fn batch_json(&self, leaves: &[Leaf], wait: Wait) -> BatchResponse {
        let json = serde_json::to_vec(&Submission::Batch {
            leaves: leaves.iter().map(|l| B64(l.to_bytes())).collect(),
        })
        .expect("encode submission");
        self.post(&entries_path(wait), "application/json", json)
            .await
            .ok()
            .json()
    }

    async fn batch_binary(&self, leaves: &[Leaf], wait: Wait) -> BatchResponse {
        let bytes: Vec<Vec<u8>> = leaves.iter().map(Leaf::to_bytes).collect();
        let body = encode_binary_batch(bytes.iter().map(Vec::as_slice));
        self.post(&entries_path(wait), "application/octet-stream", body)
            .await
            .ok()
            .json()
    }

    async fn account_as(&self, reader: &SigningKey, key: &PublicKey) -> AccountProof {
        self.get_signed_as(reader, &format!("/v1/accounts/{}", key_segment(key)))
            .await
            .ok()
            .json()
    }

    async fn nonce_as(&self, reader: &SigningKey, key: &PublicKey) -> u64 {
        self.with_signer(Signer::new(reader.clone()))
            .next_nonce(key)
            .await
            .unwrap_or_else(|e| panic!("next nonce of {key}: {e}"))
    }
}

/// A metric's value in a `/metrics` text (summed over its labels when `name` names a family
/// without them); 0 when absent.
pub fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with(' ') || rest.starts_with('{'))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

//! The operator commands' HTTP client: plain HTTP/1.1 over hyper, JSON in and out, every answer
//! read with a size limit. The node's error bodies (`{"code", "message", "details"}`) become
//! [`OperatorError::Refused`] with the node's own code, so the command can say what to fix.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use hyper::{Method, Request, StatusCode, Uri};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::de::DeserializeOwned;
use testigo_ledger::api::ErrorBody;

use super::OperatorError;

/// Largest answer read: a single-entry answer is a few kilobytes.
const MAX_ANSWER_BYTES: usize = 1 << 20;
/// How long one request may take, including `wait=checkpointed` (a batch closes within 250 ms).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// A client for one node.
#[derive(Clone, Debug)]
pub(crate) struct Client {
    base: String,
    http: HyperClient<HttpConnector, Full<Bytes>>,
}

impl Client {
    /// A client for the node at `base` (`http://host:port`, no path).
    ///
    /// # Errors
    /// [`OperatorError::BadNodeUrl`] for anything but a plain `http://` authority.
    pub(crate) fn new(base: &str) -> Result<Self, OperatorError> {
        let bad = |why: &str| OperatorError::BadNodeUrl {
            url: base.to_owned(),
            why: why.to_owned(),
        };
        let uri: Uri = base.parse().map_err(|_| bad("not a URL"))?;
        if uri.scheme_str() != Some("http") {
            return Err(bad(
                "only http:// is supported; put TLS in front of the node",
            ));
        }
        if uri.authority().is_none() || !uri.path().trim_end_matches('/').is_empty() {
            return Err(bad("expected http://host:port with no path"));
        }
        Ok(Self {
            base: base.trim_end_matches('/').to_owned(),
            http: HyperClient::builder(TokioExecutor::new()).build_http(),
        })
    }

    /// The node's URL, for messages.
    pub(crate) fn base(&self) -> &str {
        &self.base
    }

    /// `GET path`, optionally with an `Authorization` header, answer decoded from JSON.
    pub(crate) async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        authorization: Option<String>,
    ) -> Result<T, OperatorError> {
        self.send(Method::GET, path, authorization, None).await
    }

    /// `POST path` with a JSON body, answer decoded from JSON.
    pub(crate) async fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        body: Vec<u8>,
    ) -> Result<T, OperatorError> {
        self.send(Method::POST, path, None, Some(body)).await
    }

    async fn send<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        authorization: Option<String>,
        body: Option<Vec<u8>>,
    ) -> Result<T, OperatorError> {
        let mut request = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base));
        if let Some(value) = authorization {
            request = request.header(AUTHORIZATION, value);
        }
        if body.is_some() {
            request = request.header(CONTENT_TYPE, "application/json");
        }
        let request = request
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .map_err(|e| self.transport(e))?;
        let response = tokio::time::timeout(REQUEST_TIMEOUT, self.http.request(request))
            .await
            .map_err(|_| self.transport("no answer within 30 s"))?
            .map_err(|e| self.transport(e))?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        let bytes = Limited::new(response.into_body(), MAX_ANSWER_BYTES)
            .collect()
            .await
            .map_err(|e| self.transport(e))?
            .to_bytes();
        if status.is_success() {
            return serde_json::from_slice(&bytes).map_err(|e| OperatorError::Protocol {
                node: self.base.clone(),
                message: format!("unexpected answer to {path}: {e}"),
            });
        }
        let error: ErrorBody =
            serde_json::from_slice(&bytes).map_err(|_| OperatorError::Protocol {
                node: self.base.clone(),
                message: format!("{path} answered {status} without an error body"),
            })?;
        if status == StatusCode::SERVICE_UNAVAILABLE {
            return Err(OperatorError::Busy {
                code: error.code,
                message: error.message,
                retry_after_secs: retry_after,
            });
        }
        Err(OperatorError::Refused {
            status: status.as_u16(),
            code: error.code,
            message: error.message,
            details: error.details,
        })
    }

    fn transport(&self, cause: impl std::fmt::Display) -> OperatorError {
        OperatorError::Unreachable {
            node: self.base.clone(),
            cause: cause.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_http_authorities_are_accepted() {
        assert!(Client::new("http://127.0.0.1:7700").is_ok());
        assert!(Client::new("http://127.0.0.1:7700/").is_ok());
        for bad in [
            "https://node:7700",
            "127.0.0.1:7700",
            "http://node/v1",
            "not a url",
        ] {
            assert!(
                matches!(Client::new(bad), Err(OperatorError::BadNodeUrl { .. })),
                "{bad}"
            );
        }
    }
}

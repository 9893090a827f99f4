//! HTTP/1.1 over plain TCP or rustls, with a timeout on every request and a size limit on every
//! answer. [`Transport::send`] returns any status as an [`Answer`]; the typed calls in
//! [`crate::Client`] turn statuses into [`ClientError`]s.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderMap, RETRY_AFTER};
use hyper::{Method, Request, StatusCode, Uri};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject as _;
use testigo_ledger::api::ErrorBody;

use crate::error::{ClientError, Retry};

/// An answer, fully read: any status.
#[derive(Clone, Debug)]
pub struct Answer {
    /// HTTP status.
    pub status: StatusCode,
    /// Headers.
    pub headers: HeaderMap,
    /// Body bytes.
    pub body: Bytes,
}

impl Answer {
    /// The body as text (lossy), for messages.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The node's error body, if this is an error answer that has one.
    pub fn error_body(&self) -> Option<ErrorBody> {
        (!self.status.is_success())
            .then(|| serde_json::from_slice(&self.body).ok())
            .flatten()
    }

    /// The `Retry-After` header, in seconds.
    pub fn retry_after(&self) -> Option<Duration> {
        self.headers
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse().ok())
            .map(Duration::from_secs)
    }
}

/// How the client connects.
#[derive(Clone, Debug)]
pub struct Options {
    /// Per-request timeout (connect, send, and read the whole answer).
    pub timeout: Duration,
    /// Largest answer body read.
    pub max_answer_bytes: usize,
    /// Extra trusted roots (PEM), beside the public web PKI: a node with a private or
    /// self-signed certificate.
    pub extra_roots_pem: Vec<Vec<u8>>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(30),
            max_answer_bytes: 64 << 20,
            extra_roots_pem: Vec::new(),
        }
    }
}

type Hyper = HyperClient<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// One node's base URL and a connection pool.
#[derive(Clone, Debug)]
pub(crate) struct Transport {
    base: String,
    http: Hyper,
    options: Options,
}

fn config_error(what: impl std::fmt::Display) -> ClientError {
    ClientError::Config(what.to_string())
}

impl Transport {
    /// A transport for `base` (`http://host:port` or `https://host[:port]`, no path).
    pub(crate) fn new(base: &str, options: Options) -> Result<Self, ClientError> {
        let bad = |why: &str| config_error(format!("node URL {base:?}: {why}"));
        let uri: Uri = base.parse().map_err(|_| bad("not a URL"))?;
        match uri.scheme_str() {
            Some("http" | "https") => {}
            _ => return Err(bad("expected http:// or https://")),
        }
        if uri.authority().is_none() || !uri.path().trim_end_matches('/').is_empty() {
            return Err(bad("expected scheme://host:port with no path"));
        }
        if uri.query().is_some() {
            return Err(bad("expected no query"));
        }
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots_anchors());
        for pem in &options.extra_roots_pem {
            let mut found = false;
            for cert in CertificateDer::pem_slice_iter(pem) {
                let cert = cert.map_err(|e| config_error(format!("CA certificate: {e}")))?;
                roots
                    .add(cert)
                    .map_err(|e| config_error(format!("CA certificate: {e}")))?;
                found = true;
            }
            if !found {
                return Err(config_error("CA file holds no PEM certificate"));
            }
        }
        let tls = rustls::ClientConfig::builder_with_provider(
            rustls::crypto::ring::default_provider().into(),
        )
        .with_safe_default_protocol_versions()
        .map_err(config_error)?
        .with_root_certificates(roots)
        .with_no_client_auth();
        let mut http = HttpConnector::new();
        http.set_nodelay(true);
        http.enforce_http(false);
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        Ok(Self {
            base: base.trim_end_matches('/').to_owned(),
            http: HyperClient::builder(TokioExecutor::new()).build(connector),
            options,
        })
    }

    pub(crate) fn base(&self) -> &str {
        &self.base
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn unreachable(&self, path: &str, cause: impl std::fmt::Display) -> ClientError {
        ClientError::Retryable {
            url: self.url(path),
            reason: Retry::Unreachable(cause.to_string()),
            retry_after: None,
        }
    }

    fn timed_out(&self, path: &str) -> ClientError {
        ClientError::Retryable {
            url: self.url(path),
            reason: Retry::Timeout(self.options.timeout),
            retry_after: None,
        }
    }

    /// Sends a request and returns the answer's head with its body still streaming (for
    /// server-sent events). The timeout covers the head only.
    pub(crate) async fn open(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Result<hyper::Response<Incoming>, ClientError> {
        let mut request = Request::builder().method(method).uri(self.url(path));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| config_error(format!("{path}: {e}")))?;
        tokio::time::timeout(self.options.timeout, self.http.request(request))
            .await
            .map_err(|_| self.timed_out(path))?
            .map_err(|e| self.unreachable(path, error_chain(&e)))
    }

    /// Sends a request and reads the whole answer, whatever its status.
    pub(crate) async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Result<Answer, ClientError> {
        let exchange = async {
            let response = self.open(method, path, headers, body).await?;
            let status = response.status();
            let headers = response.headers().clone();
            let body = Limited::new(response.into_body(), self.options.max_answer_bytes)
                .collect()
                .await
                .map_err(|e| {
                    if e.is::<http_body_util::LengthLimitError>() {
                        ClientError::Protocol {
                            url: self.url(path),
                            status: status.as_u16(),
                            message: format!(
                                "answer larger than {} bytes",
                                self.options.max_answer_bytes
                            ),
                        }
                    } else {
                        self.unreachable(path, e)
                    }
                })?
                .to_bytes();
            Ok(Answer {
                status,
                headers,
                body,
            })
        };
        tokio::time::timeout(self.options.timeout, exchange)
            .await
            .map_err(|_| self.timed_out(path))?
    }
}

/// The error and its sources in one line: hyper's top-level message alone ("client error
/// (Connect)") does not say what happened.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn webpki_roots_anchors() -> impl Iterator<Item = rustls_pki_types::TrustAnchor<'static>> {
    webpki_roots::TLS_SERVER_ROOTS.iter().cloned()
}

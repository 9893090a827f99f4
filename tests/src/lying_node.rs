//! A loopback HTTP proxy between a wallet and a real node that can rewrite the node's answers:
//! the lying node of the wallet's tests. Requests go through unchanged (signed reads stay
//! valid: the path and the `Authorization` header are forwarded as they are). Its
//! `GET /v1/events` is its own: the upstream's `checkpoint` events, relayed, merged with the
//! events the test announces ([`Proxy::announce`], each subscriber getting every one from the
//! first), so a node can show a monitor checkpoints its upstream never made.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use testigo_client::Client;
use tokio::sync::Notify;

/// Rewrites an answer: `(path with query, body) -> new body`; `None` leaves it as it is.
pub type Rewrite = Box<dyn Fn(&str, &[u8]) -> Option<Vec<u8>> + Send + Sync>;

#[derive(Default)]
struct Rules {
    rewrite: Option<Rewrite>,
    stall_prefix: Option<String>,
}

struct Inner {
    upstream: Client,
    rules: Mutex<Rules>,
    stalled: Notify,
    seen: Mutex<Vec<String>>,
    /// Every event announced so far, as server-sent-event blocks.
    events: tokio::sync::watch::Sender<Vec<String>>,
}

/// A running proxy.
pub struct Proxy {
    /// Its address.
    pub addr: SocketAddr,
    inner: Arc<Inner>,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Proxy({})", self.addr)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Proxy {
    /// A proxy in front of `upstream` (`http://127.0.0.1:PORT`), on an ephemeral port.
    pub async fn start(upstream: &str) -> Self {
        let inner = Arc::new(Inner {
            upstream: Client::new(upstream).expect("upstream URL"),
            rules: Mutex::new(Rules::default()),
            stalled: Notify::new(),
            seen: Mutex::new(Vec::new()),
            events: tokio::sync::watch::Sender::new(Vec::new()),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("address");
        let app = axum::Router::new()
            .fallback(forward)
            .with_state(inner.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { addr, inner, task }
    }

    /// Its URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Rewrites answers from now on.
    pub fn rewrite(
        &self,
        rewrite: impl Fn(&str, &[u8]) -> Option<Vec<u8>> + Send + Sync + 'static,
    ) {
        self.inner.rules.lock().expect("rules").rewrite = Some(Box::new(rewrite));
    }

    /// Passes answers through unchanged again.
    pub fn honest(&self) {
        *self.inner.rules.lock().expect("rules") = Rules::default();
    }

    /// Never answers requests whose path starts with `prefix` (a node that hangs mid-sync).
    pub fn stall(&self, prefix: &str) {
        self.inner.rules.lock().expect("rules").stall_prefix = Some(prefix.to_owned());
    }

    /// Waits until a request was stalled.
    pub async fn stalled(&self) {
        self.inner.stalled.notified().await;
    }

    /// Announces an event (`checkpoint` or `witnessed`, id `size`, data the note's lines) on
    /// its `GET /v1/events`, to every subscriber, present or future.
    pub fn announce(&self, kind: &str, size: u64, note: &str) {
        let block = sse_block(kind, size, note);
        self.inner.events.send_modify(|events| events.push(block));
    }

    /// The paths requested so far.
    pub fn seen(&self) -> Vec<String> {
        self.inner.seen.lock().expect("seen").clone()
    }
}

async fn forward(State(inner): State<Arc<Inner>>, request: Request) -> Response {
    let method = request.method().clone();
    let path = request
        .uri()
        .path_and_query()
        .map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned());
    inner.seen.lock().expect("seen").push(path.clone());
    if path == "/v1/events" {
        return events(&inner).await;
    }
    let stall = inner
        .rules
        .lock()
        .expect("rules")
        .stall_prefix
        .as_ref()
        .is_some_and(|p| path.starts_with(p.as_str()));
    if stall {
        inner.stalled.notify_one();
        std::future::pending::<()>().await;
    }
    let headers: Vec<(String, String)> = request
        .headers()
        .iter()
        .filter(|(name, _)| *name == header::AUTHORIZATION || *name == header::CONTENT_TYPE)
        .filter_map(|(name, value)| {
            Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned()))
        })
        .collect();
    let Ok(body) = axum::body::to_bytes(request.into_body(), 64 << 20).await else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let header_refs: Vec<(&str, &str)> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let Ok(answer) = inner
        .upstream
        .send(method, &path, &header_refs, body.to_vec())
        .await
    else {
        return StatusCode::BAD_GATEWAY.into_response();
    };
    let rewritten = {
        let rules = inner.rules.lock().expect("rules");
        rules.rewrite.as_ref().and_then(|r| r(&path, &answer.body))
    };
    let body = rewritten.unwrap_or_else(|| answer.body.to_vec());
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = answer.status;
    for name in [header::CONTENT_TYPE, header::RETRY_AFTER] {
        if let Some(value) = answer.headers.get(&name) {
            response.headers_mut().insert(
                name,
                HeaderValue::from_bytes(value.as_bytes()).unwrap_or(HeaderValue::from_static("")),
            );
        }
    }
    response
}

/// Its own event stream: the upstream's checkpoint events, and every announced event from the
/// first, then each new one, until the proxy stops.
async fn events(inner: &Inner) -> Response {
    let Ok(upstream) = inner.upstream.events().await else {
        return StatusCode::BAD_GATEWAY.into_response();
    };
    let relayed = futures::stream::unfold(upstream, |mut upstream| async move {
        let event = upstream.next_checkpoint().await.ok()??;
        Some((
            Ok::<_, std::convert::Infallible>(sse_block("checkpoint", event.size, &event.note)),
            upstream,
        ))
    });
    let watching = inner.events.subscribe();
    let announced =
        futures::stream::unfold((watching, 0usize), |(mut watching, sent)| async move {
            loop {
                let next = watching.borrow_and_update().get(sent).cloned();
                if let Some(block) = next {
                    return Some((
                        Ok::<_, std::convert::Infallible>(block),
                        (watching, sent + 1),
                    ));
                }
                watching.changed().await.ok()?;
            }
        });
    let stream = futures::stream::select(relayed, announced);
    let mut response = Response::new(Body::from_stream(stream));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    response
}

/// One server-sent event: `kind`, id `size`, the note's lines as data.
fn sse_block(kind: &str, size: u64, note: &str) -> String {
    let mut block = format!("event: {kind}\nid: {size}\n");
    for line in note.strip_suffix('\n').unwrap_or(note).split('\n') {
        block.push_str("data: ");
        block.push_str(line);
        block.push('\n');
    }
    block.push('\n');
    block
}

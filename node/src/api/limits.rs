//! Request limits, the layer between the connection ([`crate::serve`]) and the handlers:
//!
//! - **Concurrent requests**: at most `max_concurrent_requests` are in a handler (or reading
//!   their body) at once; one more is answered `503 busy` with `Retry-After` at once, instead of
//!   queueing without bound. Event streams (`GET /v1/events`) live for hours, so they are not
//!   counted there but against `max_event_streams`.
//! - **Bodies**: read here, before any handler, frame by frame. A body over `max_request_bytes`
//!   is `413 payload_too_large`. The node still reads and drops a body of up to
//!   [`DRAIN_FACTOR`] times the limit before it answers (bounded by the body timeout, holding
//!   nothing), so a client that is still sending reads its 413 instead of a connection reset
//!   (a broken pipe on its side); a larger one, by its `Content-Length` or as it arrives, is
//!   answered at once and the connection closed. A body that has not
//!   arrived within `body_timeout_ms` of its head is `408 request_timeout`, so a slow upload
//!   cannot hold its memory for as long as it likes.
//! - **Memory of all bodies together**: every body byte read is charged [`CHARGE_PER_BYTE`]
//!   times (the bytes, joining them, and what decoding them may hold: leaves are at most their
//!   base64's size, and a JSON batch is parsed without an intermediate tree, see `entries`)
//!   against one budget of
//!   `max_inflight_body_bytes` for the whole node, held until the handler has answered. A read
//!   that would pass it is refused `503 busy` and the bytes already read are dropped; so 256 slow
//!   8 MiB uploads hold at most the budget, not 2 GiB.
//!
//! Every refusal is counted in `testigo_requests_shed_total{reason}`; the charge and its peak are
//! the `testigo_inflight_body_bytes` gauges.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt as _;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::{ApiError, AppState};
use crate::metrics::Metrics;

/// Each body byte read is charged this many times against the in-flight budget: the frames as
/// read, joined once into one buffer (both held for an instant), then the leaves decoded from it
/// (at most its size again) beside it.
pub(crate) const CHARGE_PER_BYTE: usize = 3;

/// What one frame of a body costs besides its bytes (its handle in the list of frames): charged
/// too, so a client sending its body a byte at a time cannot make the list cost 30 times it.
const FRAME_OVERHEAD: usize = 64;

/// The limits' configuration.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RequestLimitConfig {
    pub(crate) max_concurrent_requests: usize,
    pub(crate) max_event_streams: usize,
    pub(crate) max_inflight_body_bytes: usize,
    pub(crate) body_timeout: Duration,
    pub(crate) max_request_bytes: usize,
}

/// The limits' shared state: one semaphore per bound.
#[derive(Debug)]
pub(crate) struct RequestLimits {
    config: RequestLimitConfig,
    requests: Arc<Semaphore>,
    event_streams: Arc<Semaphore>,
    body_bytes: Arc<Semaphore>,
}

impl RequestLimits {
    pub(crate) fn new(config: RequestLimitConfig) -> Self {
        Self {
            config,
            requests: Arc::new(Semaphore::new(config.max_concurrent_requests)),
            event_streams: Arc::new(Semaphore::new(config.max_event_streams)),
            body_bytes: Arc::new(Semaphore::new(config.max_inflight_body_bytes)),
        }
    }
}

/// Bytes charged against the in-flight budget, given back when dropped.
struct Charge {
    permit: Option<OwnedSemaphorePermit>,
    metrics: Arc<Metrics>,
}

impl Charge {
    fn add(&mut self, more: OwnedSemaphorePermit) {
        let n = more.num_permits();
        match &mut self.permit {
            Some(permit) => permit.merge(more),
            None => self.permit = Some(more),
        }
        self.metrics.limits.charge(as_i64(n));
    }
}

impl Drop for Charge {
    fn drop(&mut self) {
        if let Some(permit) = &self.permit {
            self.metrics.limits.discharge(as_i64(permit.num_permits()));
        }
    }
}

fn as_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The middleware: see the module documentation.
pub(crate) async fn limit(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    let limits = &state.request_limits;
    let metrics = &state.metrics;
    if request.uri().path() == "/v1/events" {
        let Ok(stream) = limits.event_streams.clone().try_acquire_owned() else {
            metrics.limits.request_shed("event_streams");
            return ApiError::Busy("too many event streams open").into_response();
        };
        // The stream's slot is held by its body, for as long as the client reads it.
        return next
            .run(request)
            .await
            .map(|body| Body::new(body.map_frame(move |frame| hold(&stream, frame))));
    }
    let Ok(_request_slot) = limits.requests.clone().try_acquire_owned() else {
        metrics.limits.request_shed("requests");
        return ApiError::Busy("too many requests at once").into_response();
    };
    let (parts, body) = request.into_parts();
    let mut charge = Charge {
        permit: None,
        metrics: metrics.clone(),
    };
    let body = match read_body(body, &parts.headers, limits, &mut charge, metrics).await {
        Ok(body) => body,
        Err(refusal) => return refusal.into_response(),
    };
    let response = next.run(Request::from_parts(parts, body)).await;
    // The handler has answered: what it decoded from the body is gone, and so is the charge.
    drop(charge);
    response
}

/// How many times `max_request_bytes` an oversized body may be before the node stops reading it
/// to answer 413 (module docs).
const DRAIN_FACTOR: usize = 2;

/// Reads and discards at most `left` more bytes of `body` (the rest of a body under the size
/// limit); the caller's timeout bounds the time.
async fn drain(body: &mut Body, mut left: usize) {
    while let Some(Ok(frame)) = body.frame().await {
        let Ok(data) = frame.into_data() else {
            continue;
        };
        if data.len() > left {
            return;
        }
        left -= data.len();
    }
}

fn hold<T>(_slot: &OwnedSemaphorePermit, frame: T) -> T {
    frame
}

/// Reads the whole body under the size, time and memory limits.
async fn read_body(
    body: Body,
    headers: &axum::http::HeaderMap,
    limits: &RequestLimits,
    charge: &mut Charge,
    metrics: &Metrics,
) -> Result<Body, ApiError> {
    let max = limits.config.max_request_bytes;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let drain_limit = max.saturating_mul(DRAIN_FACTOR);
    if let Some(n) = declared.filter(|&n| n > max as u64) {
        if n <= drain_limit as u64 {
            let mut body = body;
            let _ = tokio::time::timeout(limits.config.body_timeout, drain(&mut body, drain_limit))
                .await;
        }
        return Err(ApiError::PayloadTooLarge { limit: max });
    }
    if declared == Some(0) || axum::body::HttpBody::size_hint(&body).upper() == Some(0) {
        return Ok(body);
    }
    let timeout = limits.config.body_timeout;
    let read = async {
        let mut body = body;
        let mut frames: Vec<Bytes> = Vec::new();
        let mut len = 0;
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| {
                ApiError::bad_request(
                    testigo_ledger::api::ErrorCode::BadRequest,
                    format!("reading the request body failed: {e}"),
                )
            })?;
            let Ok(data) = frame.into_data() else {
                continue;
            };
            if len + data.len() > max {
                drop(frames);
                drain(&mut body, drain_limit.saturating_sub(len + data.len())).await;
                return Err(ApiError::PayloadTooLarge { limit: max });
            }
            let wanted = data.len() * CHARGE_PER_BYTE + FRAME_OVERHEAD;
            let wanted = u32::try_from(wanted).unwrap_or(u32::MAX);
            let Ok(more) = limits.body_bytes.clone().try_acquire_many_owned(wanted) else {
                metrics.limits.request_shed("body_bytes");
                // Read the rest and drop it, holding nothing: closing with bytes unread would
                // reset the connection and lose the answer that tells the client to retry.
                drop(frames);
                drain(&mut body, max.saturating_sub(len + data.len())).await;
                return Err(ApiError::Busy("too many request bytes in flight"));
            };
            charge.add(more);
            len += data.len();
            frames.push(data);
        }
        // One buffer, so the handler reads it without copying again.
        Ok(match frames.len() {
            1 => frames.swap_remove(0),
            _ => Bytes::from(frames.concat()),
        })
    };
    match tokio::time::timeout(timeout, read).await {
        Ok(Ok(bytes)) => Ok(Body::from(bytes)),
        Ok(Err(refusal)) => Err(refusal),
        Err(_) => {
            metrics.limits.request_shed("body_timeout");
            Err(ApiError::RequestTimeout {
                timeout_ms: u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
            })
        }
    }
}

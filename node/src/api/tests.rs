//! The router without a socket (`tower::ServiceExt::oneshot`): the refusals that need no log —
//! body limit, media type, malformed JSON and queries, batch size, unknown routes, missing
//! signatures — each as its status and stable code.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use ed25519_dalek::SigningKey;
use http_body_util::BodyExt as _;
use testigo_ledger::PublicKey;
use testigo_ledger::api::{Bytes, ErrorBody, LogInfo};
use testigo_ledger::map::SparseMap;
use testigo_ledger::state::Engine;
use tower::ServiceExt as _;

use super::auth::{AuthLimits, Authorizer};
use super::{AppState, Limits, Metrics, router};
use crate::intake::Intake;
use crate::reader::LogRead;
use crate::sequencer::{LogBackend, Settings, Tail, spawn};
use crate::storage::{Store, StoreConfig};

/// A router over an empty store with small limits; the directory lives as long as the router.
fn app(dir: &tempfile::TempDir) -> Router {
    let store = Arc::new(Store::open(&dir.path().join("store"), &StoreConfig::default()).unwrap());
    let key = SigningKey::from_bytes(&[1; 32]);
    let log_key = PublicKey(key.verifying_key().to_bytes());
    let metrics = Arc::new(Metrics::new());
    let backend = LogBackend::new(
        Engine::new(SparseMap::new()),
        Tail::default(),
        store.clone(),
        Some(key),
        "o".into(),
        metrics.clone(),
    );
    let settings = Settings {
        max_entries: 16,
        max_delay: Duration::from_millis(10),
        queue_capacity: 4,
        max_queued_entries: 16,
        idle_checkpoint: Duration::from_secs(60),
    };
    let (sequencer, _task) = spawn(Box::new(backend), None, settings, metrics.clone());
    let (_stop, stopping) = tokio::sync::watch::channel(false);
    let reader: Arc<dyn LogRead> = Arc::new(store);
    let intake = Intake::new("o", sequencer.clone(), reader.clone(), metrics.clone(), 2);
    router(Arc::new(AppState {
        log: LogInfo {
            origin: "o".into(),
            log_key,
            witnesses: Vec::new(),
            quorum: 0,
            currency: "EUR".into(),
            decimals: 2,
            fee_bps: 0,
            genesis_leaf: Bytes::default(),
        },
        sequencer,
        reader,
        metrics: metrics.clone(),
        authorizer: Authorizer::new(
            [log_key],
            AuthLimits {
                replay_keys: 16,
                rate_per_second: 50,
                rate_burst: 100,
            },
            metrics.clone(),
        ),
        intake,
        limits: Limits {
            max_request_bytes: 256,
            max_entries_page: 10,
            max_batch_submission: 100,
        },
        request_limits: super::limits::RequestLimits::new(super::limits::RequestLimitConfig {
            max_concurrent_requests: 64,
            max_event_streams: 8,
            max_inflight_body_bytes: 1 << 20,
            body_timeout: std::time::Duration::from_secs(30),
            max_request_bytes: 256,
        }),
        stopping,
        cosignatures: None,
        evidence: None,
        witness: false,
        p2p: None,
        halted: None,
    }))
}

/// Sends one request and returns its status and error code.
async fn refusal(app: Router, request: Request<Body>) -> (StatusCode, String) {
    let response = app.oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let body: ErrorBody = serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("{status} without an error body ({e}): {bytes:?}"));
    (status, body.code)
}

fn post(uri: &str, content_type: &str, body: impl Into<Body>) -> Request<Body> {
    Request::post(uri)
        .header(header::CONTENT_TYPE, content_type)
        .body(body.into())
        .unwrap()
}

#[tokio::test]
async fn request_shape_refusals_have_their_status_and_code() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(&dir);
    let leaf = Bytes(vec![0; 8]);
    let cases = [
        (
            post("/v1/entries", "application/json", vec![b' '; 257]),
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        ),
        (
            post("/v1/entries", "text/plain", "hello"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            post("/v1/entries", "application/json", "{\"leaf\": 3"),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            post(
                "/v1/entries",
                "application/json",
                serde_json::to_vec(&serde_json::json!({ "leaves": [leaf, leaf, leaf] })).unwrap(),
            ),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            post("/v1/entries?wait=soon", "application/json", "{}"),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            post("/v1/entries", "application/octet-stream", vec![0, 0]),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            post(
                "/v1/entries?wait=witnessed",
                "application/json",
                r#"{"leaf":"AAAA"}"#,
            ),
            StatusCode::NOT_IMPLEMENTED,
            "not_implemented",
        ),
        (
            Request::get("/v1/proof/inclusion?index=x&size=1")
                .body(Body::empty())
                .unwrap(),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            Request::get("/v1/entries?start=0&end=1")
                .body(Body::empty())
                .unwrap(),
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        ),
        (
            // The signature is checked before the path is parsed: nothing is read unsigned.
            Request::get("/v1/accounts/not-a-key")
                .body(Body::empty())
                .unwrap(),
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        ),
        (
            Request::get("/v2/nothing").body(Body::empty()).unwrap(),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
    ];
    for (request, status, code) in cases {
        let what = format!("{} {}", request.method(), request.uri());
        assert_eq!(
            refusal(app.clone(), request).await,
            (status, code.to_owned()),
            "{what}"
        );
    }
}

#[tokio::test]
async fn a_single_malformed_leaf_is_a_400_with_its_code() {
    let dir = tempfile::tempdir().unwrap();
    let body = serde_json::to_vec(&serde_json::json!({ "leaf": Bytes(vec![1, 2, 3]) })).unwrap();
    let (status, code) = refusal(app(&dir), post("/v1/entries", "application/json", body)).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::BAD_REQUEST, "malformed_leaf")
    );
}

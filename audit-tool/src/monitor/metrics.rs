//! The monitor's Prometheus metrics, served as text on `GET /metrics` (`--metrics ADDR`), so an
//! alerting system fires on `testigo_monitor_violations_total > 0`.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabel {
    kind: &'static str,
}

/// The monitor's counters.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    violations: Family<KindLabel, Counter>,
    checkpoints: Counter,
    verified_size: Gauge,
    streams_lost: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let violations = Family::<KindLabel, Counter>::default();
        let checkpoints = Counter::default();
        let verified_size = Gauge::default();
        let streams_lost = Counter::default();
        registry.register(
            "testigo_monitor_violations",
            "Violations seen, by kind (split_view, inconsistent, bad_checkpoint, root_mismatch, rule_violation, ...)",
            violations.clone(),
        );
        registry.register(
            "testigo_monitor_checkpoints_verified",
            "Checkpoint notes verified, from every node followed",
            checkpoints.clone(),
        );
        registry.register(
            "testigo_monitor_verified_size",
            "Leaves replayed whose root matched a checkpoint",
            verified_size.clone(),
        );
        registry.register(
            "testigo_monitor_streams_lost",
            "Event streams from followed nodes that broke or ended and were reconnected",
            streams_lost.clone(),
        );
        Self {
            registry,
            violations,
            checkpoints,
            verified_size,
            streams_lost,
        }
    }
}

impl Metrics {
    pub(super) fn violation(&self, kind: &'static str) {
        self.violations.get_or_create(&KindLabel { kind }).inc();
    }

    pub(super) fn checkpoint_verified(&self) {
        self.checkpoints.inc();
    }

    pub(super) fn stream_lost(&self) {
        self.streams_lost.inc();
    }

    pub(super) fn verified_to(&self, size: u64) {
        self.verified_size
            .set(i64::try_from(size).unwrap_or(i64::MAX));
    }

    /// The text exposition format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

async fn metrics(State(metrics): State<Arc<Metrics>>) -> impl IntoResponse {
    (
        [(
            CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        metrics.encode(),
    )
}

/// Serves `GET /metrics` on `listener` until the task is dropped.
///
/// # Errors
/// If the server fails.
pub async fn serve_metrics(listener: TcpListener, metrics: Arc<Metrics>) -> std::io::Result<()> {
    let app = Router::new()
        .route("/metrics", get(self::metrics))
        .with_state(metrics);
    axum::serve(listener, app).await
}

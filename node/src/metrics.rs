//! The node's Prometheus metrics: queue depth, batch sizes, latencies to sequenced and to
//! checkpointed, entries by kind, refusals by code, and time per phase of the write path.
//!
//! Their own module, not the API's, because the sequencer records into them too; the API only
//! serves them (`GET /metrics`, in `api::metrics`).

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct KindLabel {
    pub(crate) kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct PhaseLabel {
    pub(crate) phase: &'static str,
}

/// Buckets of the per-phase histograms: 50 µs to about 1.6 s.
fn phase_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.000_05, 2.0, 16))
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct CodeLabel {
    pub(crate) code: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct ReasonLabel {
    pub(crate) reason: &'static str,
}

/// What the network limits (`serve`, `api::limits`) count when they trip, and what they hold.
#[derive(Debug, Default)]
pub(crate) struct LimitMetrics {
    /// Connections open now.
    pub(crate) connections_open: Gauge,
    /// Connections closed on arrival: `limit` (`max_connections`), `fd` (descriptor limit).
    pub(crate) connections_shed: Family<ReasonLabel, Counter>,
    /// Requests refused `busy` or `request_timeout`: `requests` (`max_concurrent_requests`),
    /// `event_streams` (`max_event_streams`), `body_bytes` (`max_inflight_body_bytes`),
    /// `body_timeout` (`body_timeout_ms`).
    pub(crate) requests_shed: Family<ReasonLabel, Counter>,
    /// Bytes charged now against `max_inflight_body_bytes` (twice the body bytes read).
    pub(crate) inflight_body_bytes: Gauge,
    /// The most ever charged at once since the node started.
    pub(crate) inflight_body_bytes_peak: Gauge,
}

/// Counts an open connection until dropped.
#[derive(Debug)]
pub(crate) struct OpenConnection(Gauge);

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.dec();
    }
}

impl LimitMetrics {
    fn register(&self, registry: &mut Registry) {
        registry.register(
            "connections_open",
            "HTTP connections open",
            self.connections_open.clone(),
        );
        registry.register(
            "connections_shed",
            "Connections closed on arrival, by reason (limit, fd)",
            self.connections_shed.clone(),
        );
        registry.register(
            "requests_shed",
            "Requests refused by a limit, by reason (requests, event_streams, body_bytes, body_timeout)",
            self.requests_shed.clone(),
        );
        registry.register(
            "inflight_body_bytes",
            "Bytes charged against the in-flight body bound (twice the body bytes read)",
            self.inflight_body_bytes.clone(),
        );
        registry.register(
            "inflight_body_bytes_peak",
            "Most bytes ever charged against the in-flight body bound at once",
            self.inflight_body_bytes_peak.clone(),
        );
    }

    /// Counts a connection open until the guard drops.
    pub(crate) fn connection_opened(&self) -> OpenConnection {
        self.connections_open.inc();
        OpenConnection(self.connections_open.clone())
    }

    /// Counts a connection closed on arrival.
    pub(crate) fn connection_shed(&self, reason: &'static str) {
        self.connections_shed
            .get_or_create(&ReasonLabel { reason })
            .inc();
    }

    /// Counts a request refused by a limit.
    pub(crate) fn request_shed(&self, reason: &'static str) {
        self.requests_shed
            .get_or_create(&ReasonLabel { reason })
            .inc();
    }

    /// Adds `n` to the in-flight charge and raises the peak if it is passed.
    pub(crate) fn charge(&self, n: i64) {
        let now = self.inflight_body_bytes.inc_by(n) + n;
        self.inflight_body_bytes_peak
            .inner()
            .fetch_max(now, std::sync::atomic::Ordering::Relaxed);
    }

    /// Removes `n` from the in-flight charge.
    pub(crate) fn discharge(&self, n: i64) {
        self.inflight_body_bytes.dec_by(n);
    }
}

/// The node's metrics and their registry.
pub struct Metrics {
    registry: Registry,
    pub(crate) queue_depth: Gauge,
    pub(crate) commit_entries: Histogram,
    pub(crate) checkpoint_entries: Histogram,
    pub(crate) latency_sequenced: Histogram,
    pub(crate) latency_checkpointed: Histogram,
    pub(crate) entries: Family<KindLabel, Counter>,
    pub(crate) refusals: Family<CodeLabel, Counter>,
    /// Where a batch's time goes: `parse` and `verify` (request handlers, all cores), then in
    /// the sequencer `apply` (rules and state), `tree` (hashes and tiles), `commit` (the durable
    /// write with its fsync), and per checkpoint `state_root` (state map), `sign`,
    /// `checkpoint_commit`.
    pub(crate) phases: Family<PhaseLabel, Histogram, fn() -> Histogram>,
    /// Signed reads refused, by code (`unauthorized`, `auth_*`, `forbidden`, `rate_limited`).
    pub(crate) signed_refusals: Family<CodeLabel, Counter>,
    /// Live strangers' keys evicted from the replay state (each raises the floor).
    pub(crate) replay_evictions: Counter,
    /// Strangers' keys whose replay state is held now.
    pub(crate) replay_keys: Gauge,
    /// The network limits.
    pub(crate) limits: LimitMetrics,
    /// Reads refused `storage_corrupt`: stored data that did not match the signed tree.
    pub(crate) storage_corrupt: Counter,
    /// Replication (libp2p, witnessing).
    pub(crate) p2p: ReplicationMetrics,
}

/// Replication metrics: the libp2p layer, and the witness's progress.
#[derive(Debug, Default)]
pub(crate) struct ReplicationMetrics {
    /// Connections refused because the peer id is not in the allowlist.
    pub(crate) refused_connections: Counter,
    /// Leaf-range requests refused (too many at once, or not allowed).
    pub(crate) requests_refused: Counter,
    /// Leaves served to peers.
    pub(crate) leaves_served: Counter,
    /// Allowed peers connected now.
    pub(crate) connected: Gauge,
    /// Gossip messages published.
    pub(crate) gossip_sent: Counter,
    /// Gossip messages that did not decode.
    pub(crate) gossip_refused: Counter,
    /// Events dropped because the node's logic was behind.
    pub(crate) events_dropped: Counter,
    /// Witness: leaves fetched from peers.
    pub(crate) leaves_fetched: Counter,
    /// Witness: leaves verified, applied and stored.
    pub(crate) leaves_verified: Counter,
    /// Witness: leaves behind the newest checkpoint heard of.
    pub(crate) lag_entries: Gauge,
    /// Witness: milliseconds between the newest checkpoint heard of and the one verified.
    pub(crate) lag_ms: Gauge,
    /// Witness: checkpoints cosigned.
    pub(crate) cosigned: Counter,
    /// Witness: checkpoints not cosigned because of the clock rule.
    pub(crate) clock_refusals: Counter,
    /// Primary: valid cosignatures collected.
    pub(crate) cosignatures_collected: Counter,
    /// Cosignatures or checkpoints received that did not verify.
    pub(crate) invalid_received: Counter,
    /// Pieces of evidence of a split view held (0 or more).
    pub(crate) evidence: Gauge,
    /// Witness: 1 once it has stopped following the log (a rule broken, the store failed).
    pub(crate) halted: Gauge,
    /// Witness: leaves fetched again that an earlier fetch had already brought.
    pub(crate) leaves_refetched: Counter,
    /// Witness: leaves fetched and verified per second over the last few seconds of catch-up.
    pub(crate) catch_up_rate: Gauge,
    /// Witness: the size of its store when it started (where its catch-up resumed).
    pub(crate) resumed_from: Gauge,
}

impl ReplicationMetrics {
    fn register(&self, registry: &mut Registry) {
        let r = registry.sub_registry_with_prefix("p2p");
        r.register(
            "refused_connections",
            "Connections refused: peer id not in the allowlist",
            self.refused_connections.clone(),
        );
        r.register(
            "requests_refused",
            "Leaf-range requests refused",
            self.requests_refused.clone(),
        );
        r.register(
            "leaves_served",
            "Leaves served to peers",
            self.leaves_served.clone(),
        );
        r.register(
            "connected_peers",
            "Allowed peers connected",
            self.connected.clone(),
        );
        r.register(
            "gossip_sent",
            "Gossip messages published",
            self.gossip_sent.clone(),
        );
        r.register(
            "gossip_refused",
            "Gossip messages that did not decode",
            self.gossip_refused.clone(),
        );
        r.register(
            "events_dropped",
            "Network events dropped (logic behind)",
            self.events_dropped.clone(),
        );
        let w = registry.sub_registry_with_prefix("witness");
        w.register(
            "leaves_fetched",
            "Leaves fetched from peers",
            self.leaves_fetched.clone(),
        );
        w.register(
            "leaves_verified",
            "Leaves verified, applied and stored",
            self.leaves_verified.clone(),
        );
        w.register(
            "lag_entries",
            "Leaves behind the newest checkpoint heard of",
            self.lag_entries.clone(),
        );
        w.register(
            "lag_milliseconds",
            "Time between the newest checkpoint heard of and the newest verified",
            self.lag_ms.clone(),
        );
        w.register("cosigned", "Checkpoints cosigned", self.cosigned.clone());
        w.register(
            "clock_refusals",
            "Checkpoints not cosigned: last leaf more than 5 minutes from the clock",
            self.clock_refusals.clone(),
        );
        w.register(
            "cosignatures_collected",
            "Valid witness cosignatures collected (primary)",
            self.cosignatures_collected.clone(),
        );
        w.register(
            "invalid_received",
            "Checkpoints or cosignatures received that did not verify",
            self.invalid_received.clone(),
        );
        w.register(
            "evidence",
            "Pieces of split-view evidence held",
            self.evidence.clone(),
        );
        w.register(
            "halted",
            "1 once the witness has stopped following the log (see GET /v1/p2p)",
            self.halted.clone(),
        );
        w.register(
            "catch_up_rate",
            "Leaves fetched and verified per second during the last catch-up interval",
            self.catch_up_rate.clone(),
        );
        w.register(
            "resumed_from",
            "Leaves in the store when the witness started",
            self.resumed_from.clone(),
        );
        w.register(
            "leaves_refetched",
            "Leaves fetched again after an earlier fetch had brought them",
            self.leaves_refetched.clone(),
        );
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh registry with every metric registered.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("testigo");
        let queue_depth = Gauge::default();
        let commit_entries = Histogram::new(exponential_buckets(1.0, 4.0, 9));
        let checkpoint_entries = Histogram::new(exponential_buckets(1.0, 4.0, 9));
        let latency_sequenced = Histogram::new(exponential_buckets(0.0005, 2.0, 14));
        let latency_checkpointed = Histogram::new(exponential_buckets(0.0005, 2.0, 14));
        let entries = Family::<KindLabel, Counter>::default();
        let refusals = Family::<CodeLabel, Counter>::default();
        let signed_refusals = Family::<CodeLabel, Counter>::default();
        let replay_evictions = Counter::default();
        let replay_keys = Gauge::default();
        let phases: Family<PhaseLabel, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(phase_histogram);
        registry.register(
            "queue_depth",
            "Entries queued for the sequencer",
            queue_depth.clone(),
        );
        registry.register(
            "commit_entries",
            "Entries per durable commit",
            commit_entries.clone(),
        );
        registry.register(
            "checkpoint_entries",
            "New entries per checkpoint (batch size)",
            checkpoint_entries.clone(),
        );
        registry.register(
            "latency_sequenced_seconds",
            "Submission to durable answer",
            latency_sequenced.clone(),
        );
        registry.register(
            "latency_checkpointed_seconds",
            "Submission to checkpointed answer",
            latency_checkpointed.clone(),
        );
        registry.register("entries", "Entries sequenced, by kind", entries.clone());
        registry.register("refusals", "Entries refused, by code", refusals.clone());
        registry.register(
            "phase_seconds",
            "Time per phase of the write path",
            phases.clone(),
        );
        registry.register(
            "signed_refusals",
            "Signed reads refused, by code",
            signed_refusals.clone(),
        );
        registry.register(
            "replay_evictions",
            "Live keys evicted from the replay state",
            replay_evictions.clone(),
        );
        registry.register(
            "replay_keys",
            "Keys whose replay state is held (readers not counted)",
            replay_keys.clone(),
        );
        let limits = LimitMetrics::default();
        limits.register(&mut registry);
        let storage_corrupt = Counter::default();
        registry.register(
            "storage_corrupt",
            "Reads refused because stored data did not match the signed tree",
            storage_corrupt.clone(),
        );
        let p2p = ReplicationMetrics::default();
        p2p.register(&mut registry);
        Self {
            registry,
            limits,
            storage_corrupt,
            p2p,
            queue_depth,
            commit_entries,
            checkpoint_entries,
            latency_sequenced,
            latency_checkpointed,
            entries,
            refusals,
            phases,
            signed_refusals,
            replay_evictions,
            replay_keys,
        }
    }

    /// Records the time one phase of the write path took.
    pub(crate) fn observe_phase(&self, phase: &'static str, elapsed: Duration) {
        self.phases
            .get_or_create(&PhaseLabel { phase })
            .observe(elapsed.as_secs_f64());
    }

    /// Records one answered submission's latency.
    pub(crate) fn observe_latency(&self, checkpointed: bool, elapsed: Duration) {
        let histogram = if checkpointed {
            &self.latency_checkpointed
        } else {
            &self.latency_sequenced
        };
        histogram.observe(elapsed.as_secs_f64());
    }

    /// The text exposition format.
    ///
    /// # Errors
    /// Only if formatting fails, which writing to a `String` does not.
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
    }
}

//! `monitor`: follows a live node and its witnesses and trusts none of them (issue 11 point 5).
//!
//! Every node's `GET /v1/events` stream is followed (`checkpoint` and `witnessed` events), and
//! its `GET /v1/checkpoint` first. Each note is verified (the log key's signature; for a
//! witnessed one the quorum of `Genesis`) and compared with every note of the same size any node
//! showed: two validly signed notes of one size with different roots are a split view, saved as
//! `ledger::checkpoint::Evidence` JSON (PROTOCOL §7) in the evidence directory. Then it is held
//! against the one tree the monitor itself replayed (the newest checkpoint whose leaves it
//! fetched, replayed with the regulator's [`Auditor`] — the ledger's `Engine`: signatures,
//! rules, state roots — and whose root it recomputed from a compact range): a smaller note must
//! be a prefix of it and a larger one must extend it (consistency proofs), and a larger one's new
//! leaves are fetched from the node that announced it, hashed and compared with its root before
//! anything is replayed, so a node serving wrong leaves changes nothing. Notes of one node are
//! not expected in order: its `witnessed` notes lag its newest checkpoint.
//!
//! Any violation is a line on stderr (`ALERT <kind> …`), a count in
//! `testigo_monitor_violations_total{kind}` (served on `--metrics`), and, unless `keep_going`, the
//! end of the run with the violation as its result (the CLI's exit code 1).

mod metrics;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use futures::TryStreamExt as _;
use testigo_client::{Client, ClientError, Signer};
use testigo_ledger::api::CheckpointEntry;
use testigo_ledger::checkpoint::{Checkpoint, Evidence, verify_checkpoint};
use testigo_ledger::entry::Leaf;
use testigo_ledger::merkle::CompactRange;
use testigo_ledger::state::LogParams;
use testigo_ledger::verify::{verify_consistency, verify_log_checkpoint};
use testigo_ledger::{Blake3, Hash, TreeHasher as _};
use tokio::sync::{mpsc, watch};

pub use metrics::{Metrics, serve_metrics};

use crate::regulator::{Auditor, Finding, Options};
use crate::report::write_atomically;

/// Checkpoint sizes remembered for split-view checks: the most recent ones.
const REMEMBERED_SIZES: usize = 4096;
/// Events queued from the node streams.
const QUEUE: usize = 256;
/// Most leaves fetched and held at once, between two signed checkpoints (a node's batches are
/// far smaller: 4,096 entries by default): the default of [`MonitorConfig::max_step`].
pub const MAX_STEP: u64 = 1 << 16;

/// What to follow and where to keep evidence.
#[derive(Clone, Debug)]
pub struct MonitorConfig {
    /// The nodes' base URLs: the operator's primary, its witnesses, mirrors, in any order.
    pub nodes: Vec<String>,
    /// The key that signs the bulk reads of leaves (a regulator's or a witness's).
    pub signer: Signer,
    /// The genesis leaf hash to trust; `None` trusts the first node's on first use.
    pub pinned_genesis: Option<Hash>,
    /// Where split-view evidence is written (`evidence-<n>.json`).
    pub evidence_dir: PathBuf,
    /// Keep following after a violation (alerting each one) instead of stopping at the first.
    pub keep_going: bool,
    /// Most leaves fetched and held at once ([`MAX_STEP`] unless a test wants catch-up steps
    /// on a short log).
    pub max_step: u64,
}

/// A violation the monitor alerts on.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Violation {
    /// A stable snake_case word: `bad_checkpoint`, `inconsistent`, `split_view`,
    /// `root_mismatch`, `rule_violation`, `bad_leaves`, `genesis_mismatch`.
    pub kind: &'static str,
    /// The node whose answer shows it.
    pub node: String,
    /// What was expected and what was found.
    pub message: String,
    /// The evidence file written, for a split view.
    pub evidence: Option<PathBuf>,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} from {}: {}", self.kind, self.node, self.message)?;
        if let Some(path) = &self.evidence {
            write!(f, " (evidence in {})", path.display())?;
        }
        Ok(())
    }
}

/// Why the monitor could not run at all.
#[derive(Debug, thiserror::Error)]
pub enum MonitorError {
    /// No node given.
    #[error("no node to follow")]
    NoNodes,
    /// The first node's log could not be read or verified.
    #[error("reading the log's genesis from {node}")]
    Genesis {
        /// The node.
        node: String,
        /// Why.
        #[source]
        source: ClientError,
    },
    /// A URL is not usable.
    #[error("node {node}")]
    Node {
        /// The URL.
        node: String,
        /// Why.
        #[source]
        source: ClientError,
    },
}

/// How far the monitor got: what tests and the metrics watch.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    /// Leaves replayed and whose root matched a checkpoint.
    pub verified_size: u64,
    /// Checkpoint notes verified, from all nodes.
    pub checkpoints: u64,
    /// Of those, witnessed notes whose cosignatures met the quorum of `Genesis`.
    pub witnessed: u64,
    /// Checkpoint notes verified from each node, in the order of [`MonitorConfig::nodes`].
    pub checkpoints_by_node: Vec<u64>,
    /// Violations alerted.
    pub violations: u64,
    /// Event streams lost (and reconnected), from all nodes.
    pub streams_lost: u64,
}

/// One note from one node's event stream.
#[derive(Debug)]
struct Seen {
    node: usize,
    note: String,
    witnessed: bool,
}

/// Follows the nodes until `shutdown` resolves (returning what was alerted so far) or, unless
/// `keep_going`, until the first violation, which it returns. Lost event streams are
/// reconnected, with a warning on stderr.
///
/// # Errors
/// [`MonitorError`] if it cannot start: no node, or the first node's genesis is unreadable.
pub async fn monitor(
    config: MonitorConfig,
    metrics: Arc<Metrics>,
    progress: watch::Sender<Progress>,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<Vec<Violation>, MonitorError> {
    let clients = config
        .nodes
        .iter()
        .map(|url| {
            Client::new(url)
                .map(|c| c.with_signer(config.signer.clone()))
                .map_err(|source| MonitorError::Node {
                    node: url.clone(),
                    source,
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let first = clients.first().ok_or(MonitorError::NoNodes)?;
    let log = first
        .verified_log(config.pinned_genesis.as_ref())
        .await
        .map_err(|source| MonitorError::Genesis {
            node: first.base().to_owned(),
            source,
        })?;
    let (tx, mut rx) = mpsc::channel(QUEUE);
    let mut followers = Vec::new();
    for (i, client) in clients.iter().enumerate() {
        for witnessed in [false, true] {
            followers.push(tokio::spawn(follow(
                client.clone(),
                i,
                witnessed,
                tx.clone(),
            )));
        }
    }
    drop(tx);
    let mut state = Watcher {
        config,
        clients,
        log,
        metrics,
        progress,
        auditor: Auditor::new(Options::default()),
        findings_seen: 0,
        range: CompactRange::new(Blake3),
        by_size: BTreeMap::new(),
        verified: None,
        violations: Vec::new(),
        evidence_written: 0,
    };
    state.check_genesis_everywhere().await;
    tokio::pin!(shutdown);
    loop {
        if state.should_stop() {
            break;
        }
        let seen = tokio::select! {
            () = &mut shutdown => break,
            seen = rx.recv() => seen,
        };
        match seen {
            Some(Message::Note(seen)) => state.take(seen).await,
            Some(Message::Lost { node, reason }) => state.lost(node, &reason),
            None => break,
        }
    }
    for follower in followers {
        follower.abort();
    }
    Ok(state.violations)
}

/// First wait before reconnecting to a node whose event stream broke; doubled up to
/// [`MAX_RECONNECT`] while it stays down.
const FIRST_RECONNECT: Duration = Duration::from_millis(500);
/// Longest wait between reconnection attempts.
const MAX_RECONNECT: Duration = Duration::from_secs(30);

/// Feeds one node's stream of one event kind into the queue, for as long as the queue is open:
/// a stream that cannot be opened, ends or breaks is reported ([`Message::Lost`]) and opened
/// again after a growing wait, then the node's current note is taken again, so nothing announced
/// meanwhile is missed for long.
async fn follow(client: Client, node: usize, witnessed: bool, tx: mpsc::Sender<Message>) {
    let mut wait = FIRST_RECONNECT;
    loop {
        let reason = match follow_once(&client, node, witnessed, &tx, &mut wait).await {
            Ok(()) => return,
            Err(reason) => reason,
        };
        if tx.send(Message::Lost { node, reason }).await.is_err() {
            return;
        }
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(MAX_RECONNECT);
    }
}

/// One connection: `Ok` when the queue closed (the monitor stopped), otherwise why the stream
/// was lost.
async fn follow_once(
    client: &Client,
    node: usize,
    witnessed: bool,
    tx: &mpsc::Sender<Message>,
    wait: &mut Duration,
) -> Result<(), String> {
    let mut events = client.events().await.map_err(|e| e.to_string())?;
    *wait = FIRST_RECONNECT;
    let send = |note: String| {
        tx.send(Message::Note(Seen {
            node,
            note,
            witnessed,
        }))
    };
    // What the node holds now, then every new one.
    if !witnessed {
        let note = client.checkpoint().await.map_err(|e| e.to_string())?;
        if send(note).await.is_err() {
            return Ok(());
        }
    }
    loop {
        let next = if witnessed {
            events.next_witnessed().await
        } else {
            events.next_checkpoint().await
        };
        match next {
            Ok(Some(event)) => {
                if send(event.note).await.is_err() {
                    return Ok(());
                }
            }
            Ok(None) => return Err("the node ended its event stream".to_owned()),
            Err(e) => return Err(e.to_string()),
        }
    }
}

/// What the followers tell the monitor.
#[derive(Debug)]
enum Message {
    /// A note from a node.
    Note(Seen),
    /// A node's event stream was lost; its follower reconnects.
    Lost { node: usize, reason: String },
}

struct Watcher {
    config: MonitorConfig,
    clients: Vec<Client>,
    log: LogParams,
    metrics: Arc<Metrics>,
    progress: watch::Sender<Progress>,
    auditor: Auditor,
    findings_seen: usize,
    range: CompactRange<Blake3>,
    /// Size → (root, the note showing it), for split views.
    by_size: BTreeMap<u64, (Hash, String)>,
    /// The newest checkpoint whose leaves were replayed and whose root matched.
    verified: Option<Verified>,
    violations: Vec<Violation>,
    evidence_written: u64,
}

impl Watcher {
    fn should_stop(&self) -> bool {
        !self.config.keep_going && !self.violations.is_empty()
    }

    /// A node's stream was lost: a warning, not a violation (its follower reconnects).
    fn lost(&mut self, node: usize, reason: &str) {
        eprintln!(
            "testigo-audit monitor: warning: {}: event stream lost ({reason}); reconnecting",
            self.name(node)
        );
        self.metrics.stream_lost();
        self.progress.send_modify(|p| p.streams_lost += 1);
    }

    fn name(&self, node: usize) -> String {
        self.clients[node].base().to_owned()
    }

    fn alert(
        &mut self,
        kind: &'static str,
        node: usize,
        message: String,
        evidence: Option<PathBuf>,
    ) {
        let violation = Violation {
            kind,
            node: self.name(node),
            message,
            evidence,
        };
        eprintln!("testigo-audit monitor: ALERT {violation}");
        self.metrics.violation(kind);
        self.violations.push(violation);
        self.progress.send_modify(|p| p.violations += 1);
    }

    /// Every node must serve the same genesis as the first.
    async fn check_genesis_everywhere(&mut self) {
        for node in 1..self.clients.len() {
            match self.clients[node]
                .verified_log(Some(&self.log.genesis_leaf))
                .await
            {
                Ok(_) => {}
                Err(e) => self.alert("genesis_mismatch", node, e.to_string(), None),
            }
        }
    }

    async fn take(&mut self, seen: Seen) {
        let Seen {
            node,
            note,
            witnessed,
        } = seen;
        let verified = if witnessed {
            verify_log_checkpoint(note.as_bytes(), &self.log)
                .map(|(c, _)| c)
                .map_err(|e| e.to_string())
        } else {
            verify_checkpoint(note.as_bytes(), &self.log.origin, &self.log.log_key)
                .map_err(|e| e.to_string())
        };
        let checkpoint = match verified {
            Ok(c) => c,
            Err(e) => {
                return self.alert("bad_checkpoint", node, format!("{e}; note: {note:?}"), None);
            }
        };
        self.metrics.checkpoint_verified();
        let nodes = self.clients.len();
        self.progress.send_modify(|p| {
            p.checkpoints += 1;
            p.witnessed += u64::from(witnessed);
            p.checkpoints_by_node.resize(nodes, 0);
            p.checkpoints_by_node[node] += 1;
        });
        if !self.split_view(node, &checkpoint, &note) {
            return;
        }
        // Every note is held against the one tree the monitor replayed, not against the last
        // note of the node that showed it: a node's witnessed note lags its newest checkpoint,
        // so one node shows sizes out of order without anything being wrong.
        let within = self
            .verified
            .as_ref()
            .is_some_and(|v| checkpoint.size() <= v.checkpoint.size());
        if within {
            self.prefix_of_verified(node, &checkpoint, &note).await;
        } else if self.extends_verified(node, &checkpoint, &note).await {
            self.replay_to(node, &checkpoint, &note).await;
        }
    }

    /// Records the note's root for its size; false (and evidence saved) if another note of the
    /// same size has another root.
    fn split_view(&mut self, node: usize, checkpoint: &Checkpoint, note: &str) -> bool {
        let size = checkpoint.size();
        match self.by_size.get(&size) {
            Some((root, _)) if root == checkpoint.root() => true,
            Some((root, first)) => {
                let (root, first) = (*root, first.clone());
                self.split_view_found(node, size, (root, first), checkpoint, note);
                false
            }
            None => {
                self.by_size
                    .insert(size, (*checkpoint.root(), note.to_owned()));
                while self.by_size.len() > REMEMBERED_SIZES {
                    self.by_size.pop_first();
                }
                true
            }
        }
    }

    /// Two notes of one size with different roots: the evidence is saved and alerted.
    fn split_view_found(
        &mut self,
        node: usize,
        size: u64,
        (root, first): (Hash, String),
        checkpoint: &Checkpoint,
        note: &str,
    ) {
        let evidence = Evidence::SplitView {
            first,
            second: note.to_owned(),
        };
        let path = match self.save(&evidence) {
            Ok(path) => Some(path),
            Err(e) => {
                eprintln!("testigo-audit monitor: could not save evidence: {e}");
                None
            }
        };
        let message = format!(
            "two signed checkpoints of size {size}: root {root} and {}",
            checkpoint.root()
        );
        self.alert("split_view", node, message, path);
    }

    fn save(&mut self, evidence: &Evidence) -> std::io::Result<PathBuf> {
        evidence
            .verify(&self.log.origin, &self.log.log_key)
            .map_err(|e| std::io::Error::other(format!("evidence does not verify: {e}")))?;
        std::fs::create_dir_all(&self.config.evidence_dir)?;
        let path = next_evidence_path(&self.config.evidence_dir, &mut self.evidence_written);
        let json = serde_json::to_vec_pretty(evidence).map_err(std::io::Error::other)?;
        write_atomically(&path, &json)?;
        Ok(path)
    }

    /// A note no larger than the verified tree: its tree must be a prefix of it. The proof
    /// comes from the node that served the verified leaves (the note's own node may not hold
    /// that many yet, as a witness catching up); a proof verifies whoever sends it.
    async fn prefix_of_verified(&mut self, node: usize, new: &Checkpoint, note: &str) {
        let Some(v) = self.verified.clone() else {
            return;
        };
        let (from, to) = (new.size(), v.checkpoint.size());
        if from == to {
            if new.root() != v.checkpoint.root() {
                let first = (*v.checkpoint.root(), v.note.clone());
                self.split_view_found(node, to, first, new, note);
            }
            return;
        }
        if from == 0 {
            return;
        }
        let mut proof = self.clients[v.node].consistency(from, to).await;
        if proof.is_err() && node != v.node {
            proof = self.clients[node].consistency(from, to).await;
        }
        let checked = match proof {
            Ok(p) => {
                verify_consistency(&Blake3, from, to, new.root(), v.checkpoint.root(), &p.path)
                    .map_err(|e| e.to_string())
            }
            Err(e) => Err(format!("no consistency proof {from}→{to}: {e}")),
        };
        if let Err(e) = checked {
            self.alert(
                "inconsistent",
                node,
                format!(
                    "checkpoint of size {from} is not a prefix of the verified one of size {to}: {e}; notes {note:?} and {:?}",
                    v.note
                ),
                None,
            );
        }
    }

    /// A note larger than the verified tree must extend it: the node's consistency proof.
    async fn extends_verified(&mut self, node: usize, new: &Checkpoint, note: &str) -> bool {
        let Some(v) = self.verified.clone() else {
            return true;
        };
        let (from, to) = (v.checkpoint.size(), new.size());
        if from == 0 {
            return true;
        }
        let checked = match self.clients[node].consistency(from, to).await {
            Ok(p) => {
                verify_consistency(&Blake3, from, to, v.checkpoint.root(), new.root(), &p.path)
                    .map_err(|e| e.to_string())
            }
            Err(e) => Err(format!("no consistency proof {from}→{to}: {e}")),
        };
        match checked {
            Ok(()) => true,
            Err(e) => {
                self.alert(
                    "inconsistent",
                    node,
                    format!(
                        "checkpoint of size {to} does not extend the verified one of size {from}: {e}; notes {:?} and {note:?}",
                        v.note
                    ),
                    None,
                );
                false
            }
        }
    }

    /// Replays the leaves up to `target` from `node`: in one step when few, otherwise through
    /// the node's signed checkpoints in between, so that at most [`MAX_STEP`] leaves are held
    /// and each step's root is checked before its leaves are replayed.
    async fn replay_to(&mut self, node: usize, target: &Checkpoint, note: &str) {
        let max_step = self.config.max_step.max(1);
        if target.size() - self.range.size() > max_step {
            // Each step goes to the furthest signed checkpoint at most max_step leaves on; every
            // note passed on the way is verified and held for split views.
            let client = self.clients[node].clone();
            let mut between = Box::pin(
                client
                    .checkpoints_from(self.range.size() + 1)
                    .try_take_while(|c| std::future::ready(Ok(c.size < target.size()))),
            );
            let mut reachable: Option<(Checkpoint, String)> = None;
            loop {
                let entry = match between.try_next().await {
                    Ok(entry) => entry,
                    Err(e) => {
                        let message = format!("its checkpoints after {}: {e}", self.range.size());
                        return self.alert("bad_leaves", node, message, None);
                    }
                };
                let Some(CheckpointEntry { note: text, .. }) = entry else {
                    break;
                };
                let checkpoint =
                    match verify_checkpoint(text.as_bytes(), &self.log.origin, &self.log.log_key) {
                        Ok(c) => c,
                        Err(e) => {
                            let message = format!("{e}; note: {text:?}");
                            return self.alert("bad_checkpoint", node, message, None);
                        }
                    };
                if checkpoint.size() <= self.range.size() {
                    continue;
                }
                if !self.split_view(node, &checkpoint, &text) {
                    return;
                }
                if checkpoint.size() - self.range.size() > max_step
                    && let Some((furthest, furthest_note)) = reachable.take()
                    && !self.step(node, &furthest, &furthest_note).await
                {
                    return;
                }
                reachable = Some((checkpoint, text));
            }
            if target.size() - self.range.size() > max_step
                && let Some((furthest, furthest_note)) = reachable.take()
                && !self.step(node, &furthest, &furthest_note).await
            {
                return;
            }
        }
        self.step(node, target, note).await;
    }

    /// Fetches the leaves from the verified size to `checkpoint` from `node`, checks that they
    /// hash to its root, and only then replays them: a node serving wrong leaves changes
    /// nothing. True if the checkpoint is now the verified one.
    async fn step(&mut self, node: usize, checkpoint: &Checkpoint, note: &str) -> bool {
        let max_step = self.config.max_step.max(1);
        let (start, end) = (self.range.size(), checkpoint.size());
        if end <= start {
            return true;
        }
        if end - start > max_step {
            let message = format!(
                "{} leaves between signed checkpoints {start} and {end}: more than the {max_step} the monitor holds at once",
                end - start
            );
            self.alert("bad_leaves", node, message, None);
            return false;
        }
        let client = self.clients[node].clone();
        let fetched: Result<Vec<_>, _> = client.entries_stream(start, end).try_collect().await;
        let entries = match fetched {
            Ok(entries) => entries,
            Err(e) => {
                let message = format!("leaves {start}..{end}: {e}");
                self.alert("bad_leaves", node, message, None);
                return false;
            }
        };
        let mut range = self.range.clone();
        let mut leaves = Vec::with_capacity(entries.len());
        for entry in entries {
            let bytes = entry.leaf.0;
            match Leaf::from_bytes(&bytes) {
                Ok(leaf) => leaves.push((entry.index, leaf)),
                Err(e) => {
                    let message = format!("leaf {}: {e}", entry.index);
                    self.alert("bad_leaves", node, message, None);
                    return false;
                }
            }
            range.push(Blake3.hash_leaf(&bytes));
        }
        let root = range.root();
        if range.size() != end || &root != checkpoint.root() {
            let message = format!(
                "leaves 0..{} hash to {root}, the checkpoint of size {end} says {}",
                range.size(),
                checkpoint.root()
            );
            self.alert("root_mismatch", node, message, None);
            return false;
        }
        self.range = range;
        for (index, leaf) in leaves {
            self.auditor.push(index, leaf);
        }
        self.auditor.flush();
        self.verified = Some(Verified {
            checkpoint: checkpoint.clone(),
            note: note.to_owned(),
            node,
        });
        let new_findings: Vec<Finding> = self.auditor.findings()[self.findings_seen..].to_vec();
        self.findings_seen += new_findings.len();
        for finding in new_findings {
            if let Finding::RuleViolation { .. } = finding {
                self.alert("rule_violation", node, finding.describe(), None);
            }
        }
        self.metrics.verified_to(end);
        self.progress.send_modify(|p| p.verified_size = end);
        true
    }
}

/// The checkpoint whose root the monitor recomputed from the leaves it replayed.
#[derive(Clone, Debug)]
struct Verified {
    checkpoint: Checkpoint,
    note: String,
    /// The node that served its leaves.
    node: usize,
}

/// The first `evidence-<n>.json` in `dir` not already there.
fn next_evidence_path(dir: &Path, counter: &mut u64) -> PathBuf {
    loop {
        *counter += 1;
        let path = dir.join(format!("evidence-{:06}.json", *counter));
        if !path.exists() {
            return path;
        }
    }
}

//! `monitor`: follows a live node and its witnesses and trusts none of them (issue 11 point 5).
//!
//! Every node's `GET /v1/events` stream is followed (`checkpoint` and `witnessed` events). Each
//! note is verified (the log key's signature; for a witnessed one the quorum of `Genesis`), checked
//! consistent with the last one that node showed (a consistency proof from that node), and
//! compared with every note of the same size any node showed: two validly signed notes of one
//! size with different roots are a split view, saved as `ledger::checkpoint::Evidence` JSON
//! (PROTOCOL §7) in the evidence directory. New leaves up to each checkpoint are fetched from the
//! node that announced it and replayed by the regulator's [`Auditor`] (the ledger's `Engine`:
//! signatures, rules, state roots), and the tree's root is recomputed from a compact range and
//! compared with the checkpoint's.
//!
//! Any violation is a line on stderr (`ALERT <kind> …`), a count in
//! `testigo_monitor_violations_total{kind}` (served on `--metrics`), and, unless `keep_going`, the
//! end of the run with the violation as its result (the CLI's exit code 3).

mod metrics;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures::TryStreamExt as _;
use testigo_client::{Client, ClientError, Signer};
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
}

/// A violation the monitor alerts on.
#[derive(Clone, Debug, PartialEq, Eq)]
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
    #[error("reading the log's genesis from {node}: {source}")]
    Genesis {
        /// The node.
        node: String,
        /// Why.
        #[source]
        source: ClientError,
    },
    /// A URL is not usable.
    #[error("node {node}: {source}")]
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
    /// Violations alerted.
    pub violations: u64,
}

/// One note from one node's event stream.
#[derive(Debug)]
struct Seen {
    node: usize,
    note: String,
    witnessed: bool,
}

/// Follows the nodes until `shutdown` resolves, a stream ends (`Ok(vec![])`… with what was
/// alerted so far), or, unless `keep_going`, the first violation, which it returns.
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
        last: BTreeMap::new(),
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
        let Some(seen) = seen else { break };
        state.take(seen).await;
    }
    for follower in followers {
        follower.abort();
    }
    Ok(state.violations)
}

/// Feeds one node's stream of one event kind into the queue; reconnects never (a stream that
/// ends or breaks is reported as a violation-free end of that follower).
async fn follow(client: Client, node: usize, witnessed: bool, tx: mpsc::Sender<Seen>) {
    let Ok(mut events) = client.events().await else {
        return;
    };
    // What the node holds now, then every new one.
    if !witnessed && let Ok(note) = client.checkpoint().await {
        let _ = tx
            .send(Seen {
                node,
                note,
                witnessed: false,
            })
            .await;
    }
    loop {
        let next = if witnessed {
            events.next_witnessed().await
        } else {
            events.next_checkpoint().await
        };
        match next {
            Ok(Some(event)) => {
                if tx
                    .send(Seen {
                        node,
                        note: event.note,
                        witnessed,
                    })
                    .await
                    .is_err()
                {
                    return;
                }
            }
            _ => return,
        }
    }
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
    /// Each node's last verified checkpoint and its note.
    last: BTreeMap<usize, (Checkpoint, String)>,
    violations: Vec<Violation>,
    evidence_written: u64,
}

impl Watcher {
    fn should_stop(&self) -> bool {
        !self.config.keep_going && !self.violations.is_empty()
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
        self.progress.send_modify(|p| p.checkpoints += 1);
        if !self.split_view(node, &checkpoint, &note) {
            return;
        }
        if !self.consistent_with_last(node, &checkpoint, &note).await {
            return;
        }
        self.last.insert(node, (checkpoint.clone(), note));
        self.replay_to(node, &checkpoint).await;
    }

    /// Records the note's root for its size; false (and evidence saved) if another note of the
    /// same size has another root.
    fn split_view(&mut self, node: usize, checkpoint: &Checkpoint, note: &str) -> bool {
        let size = checkpoint.size();
        match self.by_size.get(&size) {
            Some((root, _)) if root == checkpoint.root() => true,
            Some((_, first)) => {
                let evidence = Evidence::SplitView {
                    first: first.clone(),
                    second: note.to_owned(),
                };
                let saved = self.save(&evidence);
                let message = format!(
                    "two signed checkpoints of size {size}: root {} and {}",
                    self.by_size[&size].0,
                    checkpoint.root()
                );
                let path = match saved {
                    Ok(path) => Some(path),
                    Err(e) => {
                        eprintln!("testigo-audit monitor: could not save evidence: {e}");
                        None
                    }
                };
                self.alert("split_view", node, message, path);
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

    /// The node's new checkpoint extends the last one it showed (its own consistency proof).
    async fn consistent_with_last(&mut self, node: usize, new: &Checkpoint, note: &str) -> bool {
        let Some((old, old_note)) = self.last.get(&node).cloned() else {
            return true;
        };
        let (from, to) = (old.size(), new.size());
        if to < from {
            self.alert(
                "inconsistent",
                node,
                format!("checkpoint of size {to} after one of size {from}: the log shrank; notes {old_note:?} then {note:?}"),
                None,
            );
            return false;
        }
        if from == 0 || from == to {
            // Equal sizes were compared by root already; everything extends the empty tree.
            return true;
        }
        let proof = match self.clients[node].consistency(from, to).await {
            Ok(p) => p.path,
            Err(e) => {
                self.alert(
                    "inconsistent",
                    node,
                    format!("no consistency proof {from}→{to}: {e}"),
                    None,
                );
                return false;
            }
        };
        if let Err(e) = verify_consistency(&Blake3, from, to, old.root(), new.root(), &proof) {
            self.alert(
                "inconsistent",
                node,
                format!("{from}→{to}: {e}; notes {old_note:?} then {note:?}"),
                None,
            );
            return false;
        }
        true
    }

    /// Fetches the leaves up to `checkpoint` from `node`, replays them, and compares the root.
    async fn replay_to(&mut self, node: usize, checkpoint: &Checkpoint) {
        let (start, end) = (self.range.size(), checkpoint.size());
        if end <= start {
            return;
        }
        let client = self.clients[node].clone();
        let fetched: Result<Vec<_>, _> = client.entries_stream(start, end).try_collect().await;
        let entries = match fetched {
            Ok(entries) => entries,
            Err(e) => {
                return self.alert(
                    "bad_leaves",
                    node,
                    format!("leaves {start}..{end}: {e}"),
                    None,
                );
            }
        };
        for entry in entries {
            let bytes = entry.leaf.0;
            let leaf = match Leaf::from_bytes(&bytes) {
                Ok(leaf) => leaf,
                Err(e) => {
                    return self.alert(
                        "bad_leaves",
                        node,
                        format!("leaf {}: {e}", entry.index),
                        None,
                    );
                }
            };
            self.range.push(Blake3.hash_leaf(&bytes));
            self.auditor.push(entry.index, leaf);
        }
        self.auditor.flush();
        let root = self.range.root();
        if &root != checkpoint.root() {
            return self.alert(
                "root_mismatch",
                node,
                format!(
                    "leaves 0..{end} hash to {root}, the checkpoint says {}",
                    checkpoint.root()
                ),
                None,
            );
        }
        let new_findings: Vec<Finding> = self.auditor.findings()[self.findings_seen..].to_vec();
        self.findings_seen += new_findings.len();
        for finding in new_findings {
            if let Finding::RuleViolation { .. } = finding {
                self.alert("rule_violation", node, finding.describe(), None);
            }
        }
        self.metrics.verified_to(end);
        self.progress.send_modify(|p| p.verified_size = end);
    }
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

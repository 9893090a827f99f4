//! The dashboard's wallet process: it holds the key (never sent to the browser), keeps the
//! verified view and follows the log. Every change it shows comes from a full verified sync
//! ([`crate::sync::sync`]: checkpoint witnessed by the quorum, consistent with the trusted one,
//! the account proven against it, its history resumed from the held one with only the new
//! leaves fetched, and the whole of it chained into the record), run when the primary announces a
//! witnessed checkpoint on `/v1/events`, when the checkpoint a node serves changes (polled as a
//! fallback, so a node without events, or behind a proxy, is still followed), and after each
//! action. Each view change bumps a version the browser is told about over server-sent events.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use ed25519_dalek::SigningKey;
use testigo_client::{Client, ClientError};
use testigo_ledger::PublicKey;
use testigo_ledger::api::Wait;
use testigo_ledger::entry::{Body, sign_body};
use testigo_ledger::state::LogParams;
use testigo_ledger::verify::{VerifiedAccount, VerifiedEntry};
use tokio::sync::{Mutex, Notify, watch};

use crate::error::WalletError;
use crate::state::WalletState;
use crate::sync::sync;

/// How long after a broken event stream it is reopened.
const EVENTS_RETRY: Duration = Duration::from_secs(1);
/// How often the served checkpoint is polled while no event stream is open.
const POLL_WITHOUT_EVENTS: Duration = Duration::from_millis(500);
/// How often it is polled while events arrive (a missed event is caught up this late).
const POLL_WITH_EVENTS: Duration = Duration::from_secs(5);
/// How often, and how far apart, a sync is retried until it reaches an announced checkpoint.
const CATCH_UP_TRIES: usize = 20;
const CATCH_UP_PAUSE: Duration = Duration::from_millis(50);
/// The most actions kept on the page.
const MAX_ACTIONS: usize = 50;
/// The most alerts kept.
const MAX_ALERTS: usize = 50;

/// The last verified sync.
#[derive(Clone, Debug)]
pub(crate) struct Snapshot {
    pub(crate) account: VerifiedAccount,
    pub(crate) entries: Vec<VerifiedEntry>,
    pub(crate) last_leaf_ms: u64,
    pub(crate) node: String,
}

/// What an entry was first verified against.
#[derive(Clone, Debug)]
pub(crate) struct Seen {
    pub(crate) size: u64,
    pub(crate) witnesses: Vec<String>,
}

/// An integrity alert: what a node did, kept until the dashboard stops.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum AlertKind {
    /// A node answered something that fails verification.
    LyingNode,
    /// Two signed checkpoints of one size with different roots (evidence saved).
    SplitView,
}

/// An integrity alert.
#[derive(Clone, Debug)]
pub(crate) struct Alert {
    pub(crate) kind: AlertKind,
    pub(crate) detail: String,
    pub(crate) evidence: Option<PathBuf>,
    pub(crate) at_ms: u64,
}

/// What the customer asked for.
#[derive(Clone, Debug)]
pub(crate) enum ActionKind {
    Grant,
    Revoke(u64),
    Claim(u64),
}

/// Where an action stands.
#[derive(Clone, Debug)]
pub(crate) enum ActionStatus {
    /// The node sequenced it; not yet in a witnessed, verified checkpoint.
    Sequenced { index: u64 },
    /// Seen in the verified history at a witnessed checkpoint.
    Witnessed {
        index: u64,
        size: u64,
        witnesses: Vec<String>,
    },
    /// Refused, by the node (its code) or by the dashboard before anything was sent.
    Refused {
        code: Option<String>,
        message: String,
    },
}

/// One action and its status.
#[derive(Clone, Debug)]
pub(crate) struct Action {
    pub(crate) kind: ActionKind,
    pub(crate) at_ms: u64,
    pub(crate) status: ActionStatus,
}

/// Everything the page shows.
#[derive(Clone, Debug, Default)]
pub(crate) struct View {
    pub(crate) synced: Option<Snapshot>,
    pub(crate) seen: BTreeMap<u64, Seen>,
    /// The last sync's problem other than an integrity failure (stale, unreachable).
    pub(crate) problem: Option<String>,
    pub(crate) alerts: Vec<Alert>,
    pub(crate) actions: Vec<Action>,
}

/// The wallet side of the dashboard.
pub(crate) struct Core {
    pub(crate) dir: PathBuf,
    pub(crate) me: PublicKey,
    pub(crate) params: LogParams,
    key: SigningKey,
    clients: Vec<Client>,
    state: Mutex<WalletState>,
    view: RwLock<View>,
    version: watch::Sender<u64>,
    kick: Notify,
    streaming: AtomicBool,
    announced: AtomicU64,
    submitting: Mutex<()>,
}

impl std::fmt::Debug for Core {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Core({})", self.me)
    }
}

impl Core {
    pub(crate) fn new(
        dir: PathBuf,
        state: WalletState,
        params: LogParams,
        key: SigningKey,
        clients: Vec<Client>,
    ) -> Self {
        Self {
            dir,
            me: state.account,
            params,
            key,
            clients,
            state: Mutex::new(state),
            view: RwLock::new(View::default()),
            version: watch::channel(0).0,
            kick: Notify::new(),
            streaming: AtomicBool::new(false),
            announced: AtomicU64::new(0),
            submitting: Mutex::new(()),
        }
    }

    /// A copy of the view.
    pub(crate) fn view(&self) -> View {
        self.view.read().map(|v| v.clone()).unwrap_or_default()
    }

    /// Told each time the view changes.
    pub(crate) fn subscribe(&self) -> watch::Receiver<u64> {
        self.version.subscribe()
    }

    fn change(&self, f: impl FnOnce(&mut View)) {
        if let Ok(mut view) = self.view.write() {
            f(&mut view);
        }
        self.version.send_modify(|v| *v += 1);
    }

    /// One verified contact with the log; the view shows its result.
    pub(crate) async fn sync_once(&self) {
        let evidence_before = evidence_count(&self.dir);
        let now = testigo_client::now_ms();
        let result = {
            let mut state = self.state.lock().await;
            sync(&self.dir, &mut state, &self.params, &self.clients, now).await
        };
        self.change(|view| match result {
            Ok(synced) => {
                let size = synced.account.checkpoint.size();
                let witnesses: Vec<String> = synced
                    .account
                    .cosigners
                    .iter()
                    .map(|c| c.name.clone())
                    .collect();
                for e in &synced.entries {
                    view.seen.entry(e.index).or_insert_with(|| Seen {
                        size,
                        witnesses: witnesses.clone(),
                    });
                }
                for action in &mut view.actions {
                    if let ActionStatus::Sequenced { index } = action.status
                        && synced.entries.iter().any(|e| e.index == index)
                    {
                        action.status = ActionStatus::Witnessed {
                            index,
                            size,
                            witnesses: witnesses.clone(),
                        };
                    }
                }
                view.problem = None;
                view.synced = Some(Snapshot {
                    account: synced.account,
                    entries: synced.entries,
                    last_leaf_ms: synced.last_leaf_ms,
                    node: synced.node,
                });
            }
            Err(WalletError::Integrity(detail)) => {
                let saved = newest_evidence(&self.dir, evidence_before);
                let kind = if detail.contains("SPLIT VIEW") {
                    AlertKind::SplitView
                } else {
                    AlertKind::LyingNode
                };
                if !view.alerts.iter().any(|a| a.detail == detail) {
                    view.alerts.push(Alert {
                        kind,
                        detail,
                        evidence: saved,
                        at_ms: now,
                    });
                    if view.alerts.len() > MAX_ALERTS {
                        view.alerts.remove(0);
                    }
                }
            }
            Err(other) => view.problem = Some(other.to_string()),
        });
    }

    /// Follows the log until the task is dropped: the event listener and the poller run side
    /// by side, so a stream that hangs (a node or proxy that buffers it) never delays polling.
    pub(crate) async fn follow(self: Arc<Self>) {
        tokio::select! {
            () = self.listen() => {}
            () = self.poll() => {}
        }
    }

    /// Each checkpoint event (witnessed ones on a log with witnesses) asks the poller for a sync;
    /// a broken stream is reopened a second later.
    async fn listen(&self) {
        let witnessed = self.params.quorum > 0;
        loop {
            if let Ok(mut events) = self.clients[0].events().await {
                self.streaming.store(true, Ordering::Relaxed);
                loop {
                    let next = if witnessed {
                        events.next_witnessed().await
                    } else {
                        events.next_checkpoint().await
                    };
                    match next {
                        Ok(Some(event)) => {
                            self.announced.fetch_max(event.size, Ordering::Relaxed);
                            self.kick.notify_one();
                        }
                        _ => break,
                    }
                }
                self.streaming.store(false, Ordering::Relaxed);
            }
            tokio::time::sleep(EVENTS_RETRY).await;
        }
    }

    /// Syncs when asked (an event, an action), and when the checkpoint a node serves changes.
    async fn poll(&self) {
        self.sync_once().await;
        let mut last_note: Option<String> = None;
        loop {
            let every = if self.streaming.load(Ordering::Relaxed) {
                POLL_WITH_EVENTS
            } else {
                POLL_WITHOUT_EVENTS
            };
            tokio::select! {
                () = self.kick.notified() => self.sync_to_announced().await,
                () = tokio::time::sleep(every) => {
                    if let Ok(note) = self.clients[0].checkpoint().await
                        && last_note.as_ref() != Some(&note)
                    {
                        last_note = Some(note);
                        self.sync_once().await;
                    }
                }
            }
        }
    }

    /// Syncs until the verified checkpoint covers the newest one announced: a node may announce
    /// a checkpoint a moment before it serves it, and the next event may be long in coming.
    async fn sync_to_announced(&self) {
        for _ in 0..CATCH_UP_TRIES {
            self.sync_once().await;
            let verified = self
                .view
                .read()
                .ok()
                .and_then(|v| v.synced.as_ref().map(|s| s.account.checkpoint.size()))
                .unwrap_or(0);
            if verified >= self.announced.load(Ordering::Relaxed) {
                return;
            }
            tokio::time::sleep(CATCH_UP_PAUSE).await;
        }
    }

    /// Refuses an action before anything is sent, in the customer's words.
    pub(crate) fn refuse(&self, kind: ActionKind, message: String) {
        self.change(|view| {
            push_action(
                view,
                Action {
                    kind,
                    at_ms: testigo_client::now_ms(),
                    status: ActionStatus::Refused {
                        code: None,
                        message,
                    },
                },
            );
        });
    }

    /// Signs `body` with the wallet key and submits it to the first node; the view shows it
    /// sequenced (or refused) when this returns, and witnessed once a verified sync holds it.
    pub(crate) async fn submit(&self, kind: ActionKind, body: impl FnOnce(u64) -> Body) {
        let _one_at_a_time = self.submitting.lock().await;
        let client = &self.clients[0];
        let result: Result<u64, ClientError> = async {
            let nonce = client.next_nonce(&self.me).await?;
            let leaf = sign_body(&self.params.origin, &self.key, &body(nonce));
            Ok(client.submit(&leaf, Wait::Sequenced).await?.index)
        }
        .await;
        let status = match result {
            Ok(index) => ActionStatus::Sequenced { index },
            Err(e) => ActionStatus::Refused {
                code: e.code().map(str::to_owned),
                message: match &e {
                    ClientError::Refused { error, .. } | ClientError::Server { error, .. } => {
                        error.message.clone()
                    }
                    other => other.to_string(),
                },
            },
        };
        self.change(|view| {
            push_action(
                view,
                Action {
                    kind,
                    at_ms: testigo_client::now_ms(),
                    status,
                },
            );
        });
        self.kick.notify_one();
    }
}

fn push_action(view: &mut View, action: Action) {
    view.actions.push(action);
    if view.actions.len() > MAX_ACTIONS {
        view.actions.remove(0);
    }
}

fn evidence_files(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(WalletState::evidence_dir(dir))
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.sort();
    files
}

fn evidence_count(dir: &std::path::Path) -> usize {
    evidence_files(dir).len()
}

/// The evidence file saved since there were `before`.
fn newest_evidence(dir: &std::path::Path, before: usize) -> Option<PathBuf> {
    let files = evidence_files(dir);
    (files.len() > before)
        .then(|| files.last().cloned())
        .flatten()
}

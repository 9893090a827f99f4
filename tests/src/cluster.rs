//! Real nodes in-process: `testigo_node::run` on a listener bound to `127.0.0.1:0` and a temporary
//! data directory, stopped through its shutdown future. Readiness is the first `200` from
//! `/healthz`; the listener is bound before the node starts, so that request simply waits for
//! the node to serve, and the wait is bounded and fails fast if the node stops.

use std::net::SocketAddr;
use std::time::Duration;

use ed25519_dalek::SigningKey;
use hyper::StatusCode;
use tempfile::TempDir;
use testigo_ledger::Hash;
use testigo_ledger::checkpoint::{Checkpoint, SignedNote, verify_checkpoint_note};
use testigo_node::{Config, GenesisParams, KeyFile, NodeError, StorageEngine};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use futures::TryStreamExt as _;
use testigo_client::{Client, Signer};

use crate::fixtures::{OPERATOR_SEED, ORIGIN, REGULATOR_SEED, key, public};
use crate::probe::{AnswerExt as _, Probe as _};

/// How long a node may take to become ready or to stop.
const DEADLINE: Duration = Duration::from_secs(60);
/// Connection attempts while a node starts (the listener is bound first, so one normally does).
const READY_ATTEMPTS: usize = 100;

/// How to start a node.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// The storage engine.
    pub storage: StorageEngine,
    /// Batch delay: short, so `wait=checkpointed` answers quickly.
    pub batch_max_delay_ms: u64,
    /// Strangers' keys whose replay state the node holds (`Config::replay_max_keys`).
    pub replay_max_keys: usize,
    /// Signed reads per second per key (`Config::signed_read_rate`).
    pub signed_read_rate: u32,
    /// Signed reads a key may make at once (`Config::signed_read_burst`).
    pub signed_read_burst: u32,
    /// Any other change to the configuration, made last (limits, timeouts).
    pub adjust: fn(&mut Config),
}

impl Default for Options {
    fn default() -> Self {
        Self {
            storage: StorageEngine::Redb,
            batch_max_delay_ms: 5,
            replay_max_keys: Config::default().replay_max_keys,
            signed_read_rate: Config::default().signed_read_rate,
            signed_read_burst: Config::default().signed_read_burst,
            adjust: |_| {},
        }
    }
}

/// A running node and what a test needs to talk to it.
#[derive(Debug)]
pub struct TestNode {
    /// Its HTTP address.
    pub addr: SocketAddr,
    /// A client for it.
    pub client: Client,
    /// The log key (seeded).
    pub operator: SigningKey,
    /// A regulator named in the genesis (seeded).
    pub regulator: SigningKey,
    /// The configuration it runs with.
    pub config: Config,
    dir: TempDir,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), NodeError>>,
}

/// A stopped node's data directory, ready to start again.
#[derive(Debug)]
pub struct Stopped {
    dir: TempDir,
    config: Config,
}

impl TestNode {
    /// A node with the default [`Options`] on a fresh log.
    pub async fn start() -> Self {
        Self::start_with(Options::default()).await
    }

    /// A node on a fresh log whose key and regulator are the seeded ones.
    pub async fn start_with(options: Options) -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let mut config = Config {
            data_dir: dir.path().join("data"),
            storage: options.storage,
            batch_max_delay_ms: options.batch_max_delay_ms,
            replay_max_keys: options.replay_max_keys,
            signed_read_rate: options.signed_read_rate,
            signed_read_burst: options.signed_read_burst,
            ..Config::default()
        };
        (options.adjust)(&mut config);
        let params = GenesisParams {
            origin: ORIGIN.to_owned(),
            regulators: vec![public(&key(REGULATOR_SEED))],
            ..GenesisParams::default()
        };
        testigo_node::datadir::init_with_key(
            &config,
            &params,
            KeyFile::from_key(key(OPERATOR_SEED)),
        )
        .expect("initialise the data directory");
        Self::launch(dir, config).await
    }

    async fn launch(dir: TempDir, config: Config) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local address");
        let (shutdown, stop) = oneshot::channel::<()>();
        let task = tokio::spawn(testigo_node::run(config.clone(), listener, async move {
            let _ = stop.await;
        }));
        let mut node = Self {
            addr,
            client: Client::new(&format!("http://{addr}")).expect("a loopback URL"),
            operator: key(OPERATOR_SEED),
            regulator: key(REGULATOR_SEED),
            config,
            dir,
            shutdown: Some(shutdown),
            task,
        };
        tokio::time::timeout(DEADLINE, node.ready())
            .await
            .expect("node ready within the deadline");
        node
    }

    async fn ready(&mut self) {
        for _ in 0..READY_ATTEMPTS {
            tokio::select! {
                ended = &mut self.task => panic!("node stopped while starting: {ended:?}"),
                answer = self.client.send(hyper::Method::GET, "/healthz", &[], Vec::new()) => match answer {
                    Ok(response) if response.status == StatusCode::OK => return,
                    Ok(response) => panic!("node unhealthy while starting: {}", response.status),
                    // Not accepting yet: try again, a bounded number of times.
                    Err(_) => tokio::task::yield_now().await,
                },
            }
        }
        panic!("node not ready after {READY_ATTEMPTS} attempts");
    }

    /// Stops the node cleanly (it closes its open batch) and keeps its data directory.
    pub async fn stop(mut self) -> Stopped {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        let result = tokio::time::timeout(DEADLINE, &mut self.task)
            .await
            .expect("node stopped within the deadline")
            .expect("node task did not panic");
        result.expect("node stopped without an error");
        Stopped {
            dir: self.dir,
            config: self.config,
        }
    }

    /// A client signing as the operator.
    pub fn as_operator(&self) -> Client {
        self.client.with_signer(Signer::new(self.operator.clone()))
    }

    /// A client signing as `key`.
    pub fn as_key(&self, key: &SigningKey) -> Client {
        self.client.with_signer(Signer::new(key.clone()))
    }

    /// The latest checkpoint note, verified against the log key.
    pub async fn checkpoint(&self) -> (String, Checkpoint) {
        let text = self.client.checkpoint().await.expect("GET /v1/checkpoint");
        let note = SignedNote::parse(text.as_bytes()).expect("checkpoint parses");
        let checkpoint = verify_checkpoint_note(&note, ORIGIN, &public(&self.operator))
            .expect("checkpoint is signed by the log key");
        (text, checkpoint)
    }

    /// The latest checkpoint's size and root.
    pub async fn checkpoint_size_root(&self) -> (u64, Hash) {
        let (_, checkpoint) = self.checkpoint().await;
        (checkpoint.size(), *checkpoint.root())
    }

    /// Leaves `start..end` read as the operator (bulk read), in pages.
    pub async fn leaves(&self, start: u64, end: u64) -> Vec<Vec<u8>> {
        self.as_operator()
            .entries_stream(start, end)
            .map_ok(|entry| entry.leaf.0)
            .try_collect()
            .await
            .expect("read the leaves as the operator")
    }

    /// The number of leaves stored, checkpointed or not: the checkpoint's size plus whatever
    /// `GET /v1/entries` still finds after it.
    pub async fn tree_size(&self) -> u64 {
        let (size, _) = self.checkpoint_size_root().await;
        let answer = self
            .client
            .get_signed_as(
                &self.operator,
                &format!("/v1/entries?start={size}&end={}", size + 1000),
            )
            .await;
        if answer.status == StatusCode::BAD_REQUEST {
            assert_eq!(answer.error().code, "invalid_range");
            return size;
        }
        let entries: testigo_ledger::api::Entries = answer.ok().json();
        size + entries.entries.len() as u64
    }
}

impl Stopped {
    /// Starts a node again on the same data directory, on a new port.
    pub async fn restart(self) -> TestNode {
        TestNode::launch(self.dir, self.config).await
    }

    /// Starts a node on this data directory, or says why it refused to start (a test of what
    /// a node does with a damaged store expects refusals).
    ///
    /// # Errors
    /// The node's start-up error, as text.
    pub async fn try_restart(self) -> Result<TestNode, String> {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local address");
        let (shutdown, stop) = oneshot::channel::<()>();
        let ready = std::sync::Arc::new(tokio::sync::Notify::new());
        let announced = ready.clone();
        let mut task = tokio::spawn(testigo_node::run_announced(
            self.config.clone(),
            listener,
            async move {
                let _ = stop.await;
            },
            move |_| announced.notify_one(),
        ));
        tokio::select! {
            () = ready.notified() => {}
            ended = &mut task => {
                return Err(match ended {
                    Ok(Err(e)) => e.to_string(),
                    Ok(Ok(())) => "the node stopped before serving".to_owned(),
                    Err(panic) => format!("the node panicked while starting: {panic}"),
                });
            }
        }
        Ok(TestNode {
            addr,
            client: Client::new(&format!("http://{addr}")).expect("a loopback URL"),
            operator: key(OPERATOR_SEED),
            regulator: key(REGULATOR_SEED),
            config: self.config,
            dir: self.dir,
            shutdown: Some(shutdown),
            task,
        })
    }

    /// The configuration the node ran with (its data directory and engine).
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// A copy of this data directory, in a new temporary directory, to damage or start apart.
    pub fn duplicate(&self) -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        copy_tree(self.dir.path(), dir.path());
        let data_dir = dir.path().join(
            self.config
                .data_dir
                .strip_prefix(self.dir.path())
                .expect("the data directory is inside the temporary one"),
        );
        Self {
            config: Config {
                data_dir,
                ..self.config.clone()
            },
            dir,
        }
    }

    /// The storage engine's files, largest first, with their sizes.
    pub fn store_files(&self) -> Vec<(std::path::PathBuf, u64)> {
        let mut files = Vec::new();
        let mut pending = vec![self.config.store_path()];
        while let Some(dir) = pending.pop() {
            for entry in std::fs::read_dir(&dir).expect("read the store directory") {
                let entry = entry.expect("a directory entry");
                let meta = entry.metadata().expect("metadata");
                if meta.is_dir() {
                    pending.push(entry.path());
                } else if meta.len() > 0 {
                    files.push((entry.path(), meta.len()));
                }
            }
        }
        files.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        files
    }
}

fn copy_tree(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).expect("create a directory");
    for entry in std::fs::read_dir(from).expect("read a directory") {
        let entry = entry.expect("a directory entry");
        let target = to.join(entry.file_name());
        if entry.metadata().expect("metadata").is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy a file");
        }
    }
}

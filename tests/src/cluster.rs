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
use testigo_ledger::checkpoint::{
    Checkpoint, CosignedCheckpoint, SignedNote, verify_checkpoint_note,
};
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
        Self::launch_on(dir, config, listener).await
    }

    async fn launch_on(dir: TempDir, config: Config, listener: TcpListener) -> Self {
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

    /// Stops the node cleanly and starts it again on the same data directory, HTTP address and
    /// libp2p address, as an operator restarting the service does: clients and peers that
    /// reconnect to where it was find it there.
    pub async fn restart_in_place(self) -> TestNode {
        let addr = self.addr;
        let listen = if self.config.p2p_listen.ends_with("/tcp/0") {
            let p2p: serde_json::Value = self.client.get("/v1/p2p").await.ok().json();
            p2p["listen"][0].as_str().map(str::to_owned)
        } else {
            None
        };
        let Stopped { dir, mut config } = self.stop().await;
        if let Some(listen) = listen {
            config.p2p_listen = listen;
        }
        let listener = TcpListener::bind(addr)
            .await
            .expect("bind the address the node had");
        Self::launch_on(dir, config, listener).await
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

    /// Its libp2p address and peer id, from `GET /v1/p2p`, as an allowlist entry that dials it.
    pub async fn p2p_peer(&self) -> testigo_node::PeerConfig {
        let p2p: serde_json::Value = self.client.get("/v1/p2p").await.ok().json();
        testigo_node::PeerConfig {
            id: p2p["peer_id"].as_str().expect("peer id").to_owned(),
            addr: Some(
                p2p["listen"][0]
                    .as_str()
                    .expect("a listen address")
                    .to_owned(),
            ),
        }
    }

    /// The value of the metric `name` in its `/metrics` (summed over labels).
    pub async fn metric(&self, name: &str) -> f64 {
        let text = self.client.metrics().await.expect("GET /metrics");
        crate::probe::metric(&text, name)
    }

    /// Enrols the fresh subject of key seed `seed` as `operator`, answered at `wait`.
    pub async fn enroll_fresh(
        &self,
        operator: &mut crate::fixtures::Party,
        seed: u8,
        wait: testigo_ledger::api::Wait,
    ) -> testigo_ledger::api::Sequenced {
        let subject = crate::fixtures::Party::fresh(seed).public();
        self.client
            .sequence(&operator.entry(crate::fixtures::enroll(subject)), wait)
            .await
    }

    /// Waits (bounded) until its metric `name` is at least `value`.
    pub async fn metric_reaches(&self, name: &str, value: f64) {
        let wait = async {
            while self.metric(name).await < value {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        };
        tokio::time::timeout(DEADLINE, wait)
            .await
            .unwrap_or_else(|_| panic!("{name} did not reach {value} within the deadline"));
    }

    /// Waits (bounded) until it has verified and stored the checkpoint of `size` (its
    /// `/healthz`, then its checkpoint events).
    pub async fn caught_up(&self, size: u64) {
        let wait = async {
            // Subscribe first, then look: a checkpoint stored in between is announced.
            let mut events = self.client.events().await.expect("subscribe to /v1/events");
            let health: testigo_ledger::api::Health = self.client.get("/healthz").await.ok().json();
            if health.checkpoint_size >= size {
                return;
            }
            while let Some(event) = events.next_checkpoint().await.expect("event stream") {
                if event.size >= size {
                    return;
                }
            }
            panic!("the event stream ended before checkpoint {size}");
        };
        tokio::time::timeout(DEADLINE, wait)
            .await
            .expect("caught up within the deadline");
    }

    /// The size of the latest checkpoint it stored (`/healthz`).
    pub async fn stored_size(&self) -> u64 {
        let health: testigo_ledger::api::Health = self.client.get("/healthz").await.ok().json();
        health.checkpoint_size
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

    /// The configuration it ran with (to change before [`Stopped::restart_with`]).
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

    /// Starts it again with another configuration on the same data directory.
    pub async fn restart_with(self, config: Config) -> TestNode {
        TestNode::launch(self.dir, config).await
    }
}

/// Seed of the first witness's key; witness `i` has seed `WITNESS_SEED + i`.
pub const WITNESS_SEED: u8 = 60;

/// How a [`Cluster`] starts.
#[derive(Clone, Copy, Debug)]
pub struct ClusterOptions {
    /// Witnesses named in the genesis.
    pub witnesses: usize,
    /// Witnesses started with the primary (the others can be started later).
    pub started: usize,
    /// Cosignatures a witnessed checkpoint needs.
    pub quorum: u16,
    /// The primary's idle checkpoint interval, ms.
    pub idle_checkpoint_ms: u64,
    /// How long `wait=witnessed` waits, ms.
    pub witnessed_timeout_ms: u64,
    /// Whether every node also allows the observer's peer id ([`observer_key`]): a
    /// [`testigo_node::p2p::GossipPeer`] of the test's, to watch or inject gossip and serve
    /// leaves of its own making.
    pub observer: bool,
    /// The primary's `publish_after_witnesses` (`None`: 1 on a log with witnesses).
    pub publish_after_witnesses: Option<usize>,
}

/// Seed of the observer's libp2p key (see [`ClusterOptions::observer`]).
pub const OBSERVER_SEED: u8 = 90;

/// The observer's libp2p key file.
pub fn observer_key() -> KeyFile {
    KeyFile::from_key(key(OBSERVER_SEED))
}

/// The observer's peer id.
pub fn observer_id() -> String {
    testigo_node::p2p::peer_id(&observer_key())
        .expect("peer id")
        .to_string()
}

impl Default for ClusterOptions {
    fn default() -> Self {
        Self {
            witnesses: 3,
            started: 3,
            quorum: 2,
            idle_checkpoint_ms: 60_000,
            witnessed_timeout_ms: 20_000,
            observer: false,
            publish_after_witnesses: None,
        }
    }
}

/// A witness not running yet: its data directory and configuration.
#[derive(Debug)]
pub struct WitnessDir {
    dir: TempDir,
    /// Its configuration (role witness, following the primary).
    pub config: Config,
    /// Its cosigning key.
    pub key: SigningKey,
    /// Its libp2p peer id.
    pub peer_id: String,
}

impl WitnessDir {
    /// Starts it.
    pub async fn start(self) -> TestNode {
        TestNode::launch(self.dir, self.config).await
    }
}

/// A primary and its witnesses on loopback, replicating over libp2p: the witnesses dial the
/// primary, which allows exactly them.
#[derive(Debug)]
pub struct Cluster {
    /// The operator's node.
    pub primary: TestNode,
    /// The running witnesses, in order.
    pub witnesses: Vec<TestNode>,
    /// The witnesses not started yet.
    pub waiting: Vec<WitnessDir>,
    /// The primary's libp2p address (`/ip4/127.0.0.1/tcp/PORT/p2p/ID`).
    pub primary_addr: String,
    /// The primary's peer id.
    pub primary_id: String,
}

/// The name of witness `i` in the genesis.
pub fn witness_name(i: usize) -> String {
    format!("witness{i}.test")
}

impl Cluster {
    /// A fresh log with `options.witnesses` witnesses named in its genesis.
    pub async fn start(options: ClusterOptions) -> Self {
        let mut dirs = Vec::new();
        for i in 0..options.witnesses {
            let dir = tempfile::tempdir().expect("temporary directory");
            let mut config = Config {
                data_dir: dir.path().join("data"),
                role: testigo_node::Role::Witness,
                witness_name: Some(witness_name(i)),
                p2p_listen: "/ip4/127.0.0.1/tcp/0".to_owned(),
                witness_poll_ms: 100,
                ..Config::default()
            };
            let key = key(WITNESS_SEED + i as u8);
            let (_, p2p) = testigo_node::datadir::init_witness_with_key(
                &config,
                KeyFile::from_key(key.clone()),
            )
            .expect("initialise the witness");
            let peer_id = testigo_node::p2p::peer_id(&p2p)
                .expect("peer id")
                .to_string();
            config.peers = Vec::new();
            dirs.push(WitnessDir {
                dir,
                config,
                key,
                peer_id,
            });
        }
        let dir = tempfile::tempdir().expect("temporary directory");
        let config = Config {
            data_dir: dir.path().join("data"),
            batch_max_delay_ms: 5,
            p2p_listen: "/ip4/127.0.0.1/tcp/0".to_owned(),
            peers: dirs
                .iter()
                .map(|w| w.peer_id.clone())
                .chain(options.observer.then(observer_id))
                .map(|id| testigo_node::PeerConfig { id, addr: None })
                .collect(),
            idle_checkpoint_ms: options.idle_checkpoint_ms,
            witnessed_timeout_ms: options.witnessed_timeout_ms,
            publish_after_witnesses: options.publish_after_witnesses,
            ..Config::default()
        };
        let params = GenesisParams {
            origin: ORIGIN.to_owned(),
            regulators: vec![public(&key(REGULATOR_SEED))],
            witnesses: dirs
                .iter()
                .enumerate()
                .map(|(i, w)| testigo_ledger::entry::WitnessKey {
                    name: witness_name(i),
                    key: public(&w.key),
                })
                .collect(),
            quorum: options.quorum,
            ..GenesisParams::default()
        };
        testigo_node::datadir::init_with_key(
            &config,
            &params,
            KeyFile::from_key(key(OPERATOR_SEED)),
        )
        .expect("initialise the primary");
        let primary = TestNode::launch(dir, config.clone()).await;
        let p2p: serde_json::Value = primary.client.get("/v1/p2p").await.ok().json();
        let primary_id = p2p["peer_id"].as_str().expect("peer id").to_owned();
        let listen = p2p["listen"][0]
            .as_str()
            .expect("a listen address")
            .to_owned();
        let primary_addr = format!("{listen}/p2p/{primary_id}");
        for w in &mut dirs {
            std::fs::copy(config.genesis_path(), w.config.genesis_path())
                .expect("copy the genesis to the witness");
            w.config.peers = vec![testigo_node::PeerConfig {
                id: primary_id.clone(),
                addr: Some(listen.clone()),
            }];
            if options.observer {
                w.config.peers.push(testigo_node::PeerConfig {
                    id: observer_id(),
                    addr: None,
                });
            }
        }
        let waiting = dirs.split_off(options.started.min(dirs.len()));
        let mut witnesses = Vec::new();
        for w in dirs {
            witnesses.push(w.start().await);
        }
        Self {
            primary,
            witnesses,
            waiting,
            primary_addr,
            primary_id,
        }
    }

    /// Waits until the primary announces a witnessed checkpoint of at least `size` leaves
    /// (`witnessed` events on `/v1/events`); returns its note. Bounded by the deadline.
    pub async fn witnessed(&self, size: u64) -> String {
        let wait = async {
            let mut events = self
                .primary
                .client
                .events()
                .await
                .expect("subscribe to /v1/events");
            // The newest one may be announced already.
            let served = self
                .primary
                .client
                .checkpoint()
                .await
                .expect("GET /v1/checkpoint");
            if let Ok(checkpoint) = CosignedCheckpoint::parse(served.as_bytes())
                && checkpoint.checkpoint().size() >= size
                && checkpoint.note().signatures().len() > 1
            {
                return served;
            }
            loop {
                let event = events
                    .next_witnessed()
                    .await
                    .expect("event stream")
                    .expect("stream open");
                if event.size >= size {
                    return event.note;
                }
            }
        };
        tokio::time::timeout(DEADLINE, wait)
            .await
            .expect("witnessed within the deadline")
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

//! Replication over libp2p (DESIGN §7, PROTOCOL §11): TCP + Noise + Yamux, gossipsub for
//! checkpoints, cosignatures and evidence (one topic of each per log origin), a request-response
//! protocol for leaf ranges, identify, and an allowlist of peer ids.
//!
//! ```text
//!  witness / primary logic ──P2pHandle (bounded mpsc)──▶ swarm task ──▶ Swarm (owned here only)
//!            ▲                                              │ inbound leaf ranges: read on a
//!            └──────── P2pEvent (bounded mpsc) ◀────────────┘ blocking thread, at most 16 at once
//! ```
//!
//! One task owns the `Swarm`; the rest of the node talks to it through [`P2pHandle`]. Every
//! channel is bounded: a full command queue makes the caller wait, a full event queue drops the
//! event (and counts it); gossip is re-sent and ranges are polled again, so nothing is lost for
//! good. A connection from a peer id not in the configured list is refused after the Noise
//! handshake (which is what proves the peer id), logged and counted in
//! `testigo_p2p_refused_connections_total`; it never reaches gossip or the leaf protocol.
//!
//! The libp2p identity is a key of its own (`p2p.key` in the data directory), not the log key
//! nor the witness key: those sign only the formats PROTOCOL.md names (entries, checkpoints,
//! cosignatures), and libp2p signs others (the Noise static key, gossipsub envelopes, identify
//! records); keeping them apart means no libp2p signature can ever be taken for a log signature,
//! and a peer key can be replaced without touching the `Genesis`.

pub(crate) mod codec;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt as _;
use futures::stream::FuturesUnordered;
use libp2p::allow_block_list::{self, AllowedPeers};
use libp2p::gossipsub::{self, IdentTopic, MessageAuthenticity, TopicHash, ValidationMode};
use libp2p::identity::Keypair;
use libp2p::request_response::{self, OutboundRequestId, ProtocolSupport, ResponseChannel};
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{Multiaddr, PeerId, Swarm, connection_limits, identify, noise, tcp, yamux};
use testigo_ledger::replication::{
    GossipKind, GossipMessage, LeafRangeRequest, LeafRangeResponse, MAX_GOSSIP_BYTES,
    RangeCheckpoint,
};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use self::codec::{LEAF_RANGE_PROTOCOL, LeafRangeCodec};
use crate::metrics::Metrics;

/// Inbound leaf-range requests served at once; more are refused (the requester retries).
const MAX_SERVING: usize = 16;
/// Commands queued for the swarm task.
const COMMAND_QUEUE: usize = 256;
/// Events queued for the node's logic before new ones are dropped.
const EVENT_QUEUE: usize = 1024;
/// Connections per peer, and in all.
const MAX_CONNECTIONS_PER_PEER: u32 = 2;
/// How often listed peers with an address are dialled again when not connected.
const REDIAL: Duration = Duration::from_secs(1);
/// A leaf-range request not answered by then fails.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// A peer this node may talk to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Peer {
    /// Its libp2p peer id (from its `p2p.key`).
    pub id: PeerId,
    /// Where to dial it; without one, it must dial this node.
    pub addr: Option<Multiaddr>,
}

/// Everything the swarm task needs.
pub(crate) struct P2pSettings {
    /// This node's libp2p identity.
    pub(crate) keypair: Keypair,
    /// Where to listen.
    pub(crate) listen: Multiaddr,
    /// The allowlist, and whom to dial.
    pub(crate) peers: Vec<Peer>,
    /// The log's origin: its topics.
    pub(crate) origin: String,
}

impl std::fmt::Debug for P2pSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("P2pSettings")
            .field("listen", &self.listen)
            .field("peers", &self.peers)
            .finish_non_exhaustive()
    }
}

/// What reads a leaf range from this node's store (on a blocking thread).
pub(crate) type RangeSource = Arc<dyn Fn(LeafRangeRequest) -> LeafRangeResponse + Send + Sync>;

/// Why the swarm could not start or a fetch failed.
#[derive(Debug, thiserror::Error)]
pub enum P2pError {
    /// The transport could not be built or could not listen.
    #[error("libp2p transport: {0}")]
    Transport(String),
    /// A leaf-range request failed (dial failure, timeout, refused or undecodable answer).
    #[error("leaf range from {peer}: {reason}")]
    Fetch {
        /// Who was asked.
        peer: PeerId,
        /// What went wrong.
        reason: String,
    },
    /// The swarm task has stopped.
    #[error("the libp2p task has stopped")]
    Stopped,
}

/// Something the network told this node.
#[derive(Debug)]
pub(crate) enum P2pEvent {
    /// A gossip message from an allowed peer, decoded (not verified).
    Gossip {
        /// Who forwarded it.
        from: PeerId,
        /// What it says.
        message: GossipMessage,
    },
    /// A connection to an allowed peer was established.
    Connected(PeerId),
    /// An allowed peer joined one of the log's topics.
    Subscribed {
        /// Who.
        peer: PeerId,
        /// Which topic.
        kind: GossipKind,
    },
}

enum Command {
    Publish(GossipMessage),
    Fetch {
        peer: PeerId,
        request: LeafRangeRequest,
        reply: oneshot::Sender<Result<LeafRangeResponse, P2pError>>,
    },
    Connected(oneshot::Sender<Vec<PeerId>>),
}

/// Cloneable handle to the swarm task.
#[derive(Clone, Debug)]
pub(crate) struct P2pHandle {
    tx: mpsc::Sender<Command>,
    local: PeerId,
    listening: tokio::sync::watch::Receiver<Vec<Multiaddr>>,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Command::Publish(m) => write!(f, "Publish({:?})", m.kind()),
            Command::Fetch { peer, request, .. } => write!(f, "Fetch({peer}, {request:?})"),
            Command::Connected(_) => f.write_str("Connected"),
        }
    }
}

impl P2pHandle {
    /// Gossips `message` on its topic (dropped quietly if no peer is subscribed yet: the next
    /// checkpoint, or the peer's own polling, makes up for it).
    pub(crate) async fn publish(&self, message: GossipMessage) -> Result<(), P2pError> {
        self.tx
            .send(Command::Publish(message))
            .await
            .map_err(|_| P2pError::Stopped)
    }

    /// Asks `peer` for a leaf range.
    pub(crate) async fn fetch(
        &self,
        peer: PeerId,
        request: LeafRangeRequest,
    ) -> Result<LeafRangeResponse, P2pError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Command::Fetch {
                peer,
                request,
                reply,
            })
            .await
            .map_err(|_| P2pError::Stopped)?;
        answer.await.map_err(|_| P2pError::Stopped)?
    }

    /// The allowed peers connected now.
    pub(crate) async fn connected(&self) -> Vec<PeerId> {
        let (reply, answer) = oneshot::channel();
        if self.tx.send(Command::Connected(reply)).await.is_err() {
            return Vec::new();
        }
        answer.await.unwrap_or_default()
    }

    /// This node's peer id.
    pub(crate) fn local_peer_id(&self) -> PeerId {
        self.local
    }

    /// Waits until the swarm listens, and returns its addresses.
    pub(crate) async fn listen_addrs(&self) -> Vec<Multiaddr> {
        let mut listening = self.listening.clone();
        let _ = listening.wait_for(|a| !a.is_empty()).await;
        listening.borrow().clone()
    }
}

#[derive(NetworkBehaviour)]
struct Behaviour {
    allow: allow_block_list::Behaviour<AllowedPeers>,
    limits: connection_limits::Behaviour,
    gossipsub: gossipsub::Behaviour,
    leaves: request_response::Behaviour<LeafRangeCodec>,
    identify: identify::Behaviour,
}

/// Builds the swarm, starts listening and spawns its task.
///
/// # Errors
/// [`P2pError::Transport`] if the transport cannot be built or the address cannot be listened on.
pub(crate) fn spawn(
    settings: P2pSettings,
    source: RangeSource,
    metrics: Arc<Metrics>,
) -> Result<(P2pHandle, mpsc::Receiver<P2pEvent>, JoinHandle<()>), P2pError> {
    let transport = |e: &dyn std::fmt::Display| P2pError::Transport(e.to_string());
    let gossip_config = gossipsub::ConfigBuilder::default()
        .heartbeat_interval(Duration::from_millis(500))
        .validation_mode(ValidationMode::Strict)
        .max_transmit_size(MAX_GOSSIP_BYTES)
        // Content-addressed: the same note re-announced by several peers is one message.
        .message_id_fn(|m| {
            use testigo_ledger::TreeHasher as _;
            gossipsub::MessageId::from(testigo_ledger::Blake3.hash_leaf(&m.data).0.to_vec())
        })
        .build()
        .map_err(|e| transport(&e))?;
    let mut swarm = libp2p::SwarmBuilder::with_existing_identity(settings.keypair.clone())
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )
        .map_err(|e| transport(&e))?
        .with_behaviour(|key| {
            let mut allow = allow_block_list::Behaviour::<AllowedPeers>::default();
            for peer in &settings.peers {
                allow.allow_peer(peer.id);
            }
            let limits = connection_limits::ConnectionLimits::default()
                .with_max_established_per_peer(Some(MAX_CONNECTIONS_PER_PEER))
                .with_max_pending_incoming(Some(64))
                .with_max_established(Some(
                    (settings.peers.len() as u32 + 1) * MAX_CONNECTIONS_PER_PEER,
                ));
            let gossipsub =
                gossipsub::Behaviour::new(MessageAuthenticity::Signed(key.clone()), gossip_config)
                    .map_err(|e| std::io::Error::other(e.to_owned()))?;
            let leaves = request_response::Behaviour::with_codec(
                LeafRangeCodec,
                [(LEAF_RANGE_PROTOCOL, ProtocolSupport::Full)],
                request_response::Config::default()
                    .with_request_timeout(REQUEST_TIMEOUT)
                    .with_max_concurrent_streams(MAX_SERVING),
            );
            let identify = identify::Behaviour::new(identify::Config::new(
                "/testigo/1".to_owned(),
                key.public(),
            ));
            Ok(Behaviour {
                allow,
                limits: connection_limits::Behaviour::new(limits),
                gossipsub,
                leaves,
                identify,
            })
        })
        .map_err(|e| transport(&e))?
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(3600)))
        .build();
    let mut topics = HashMap::new();
    for kind in GossipKind::ALL {
        let topic = IdentTopic::new(kind.topic(&settings.origin));
        swarm
            .behaviour_mut()
            .gossipsub
            .subscribe(&topic)
            .map_err(|e| transport(&e))?;
        topics.insert(topic.hash(), kind);
    }
    swarm
        .listen_on(settings.listen.clone())
        .map_err(|e| transport(&e))?;
    let (tx, rx) = mpsc::channel(COMMAND_QUEUE);
    let (events, events_rx) = mpsc::channel(EVENT_QUEUE);
    let (listening_tx, listening) = tokio::sync::watch::channel(Vec::new());
    let local = *swarm.local_peer_id();
    let task = SwarmTask {
        swarm,
        rx,
        events,
        source,
        metrics,
        topics,
        origin: settings.origin,
        allowed: settings.peers.iter().map(|p| p.id).collect(),
        dial: settings
            .peers
            .iter()
            .filter_map(|p| p.addr.clone().map(|a| (p.id, a)))
            .collect(),
        pending: HashMap::new(),
        serving: FuturesUnordered::new(),
        listening: listening_tx,
    };
    let handle = P2pHandle {
        tx,
        local,
        listening,
    };
    Ok((handle, events_rx, tokio::spawn(task.run())))
}

type Serving = JoinHandle<(ResponseChannel<LeafRangeResponse>, LeafRangeResponse)>;

struct SwarmTask {
    swarm: Swarm<Behaviour>,
    rx: mpsc::Receiver<Command>,
    events: mpsc::Sender<P2pEvent>,
    source: RangeSource,
    metrics: Arc<Metrics>,
    topics: HashMap<TopicHash, GossipKind>,
    origin: String,
    allowed: HashSet<PeerId>,
    dial: Vec<(PeerId, Multiaddr)>,
    pending:
        HashMap<OutboundRequestId, (PeerId, oneshot::Sender<Result<LeafRangeResponse, P2pError>>)>,
    serving: FuturesUnordered<Serving>,
    listening: tokio::sync::watch::Sender<Vec<Multiaddr>>,
}

impl SwarmTask {
    async fn run(mut self) {
        let mut redial = tokio::time::interval(REDIAL);
        loop {
            tokio::select! {
                command = self.rx.recv() => match command {
                    Some(command) => self.command(command),
                    // Every handle is gone: the node is stopping.
                    None => break,
                },
                event = self.swarm.select_next_some() => self.swarm_event(event),
                Some(served) = self.serving.next(), if !self.serving.is_empty() => {
                    if let Ok((channel, response)) = served {
                        self.metrics.p2p.leaves_served.inc_by(response.leaves.len() as u64);
                        // An error means the requester has gone; nothing to do.
                        let _ = self.swarm.behaviour_mut().leaves.send_response(channel, response);
                    }
                }
                _ = redial.tick() => self.redial(),
            }
        }
        tracing::debug!("libp2p task stopped");
    }

    fn redial(&mut self) {
        for (peer, addr) in &self.dial {
            if !self.swarm.is_connected(peer) {
                let opts = libp2p::swarm::dial_opts::DialOpts::peer_id(*peer)
                    .addresses(vec![addr.clone()])
                    .build();
                if let Err(e) = self.swarm.dial(opts) {
                    tracing::debug!(%peer, error = %e, "dial");
                }
            }
        }
    }

    fn command(&mut self, command: Command) {
        match command {
            Command::Publish(message) => {
                let topic = IdentTopic::new(message.kind().topic(&self.origin));
                match self
                    .swarm
                    .behaviour_mut()
                    .gossipsub
                    .publish(topic, message.encode())
                {
                    Ok(_) => {
                        self.metrics.p2p.gossip_sent.inc();
                    }
                    Err(e) => tracing::debug!(error = %e, kind = ?message.kind(), "not gossiped"),
                }
            }
            Command::Fetch {
                peer,
                request,
                reply,
            } => {
                let id = self
                    .swarm
                    .behaviour_mut()
                    .leaves
                    .send_request(&peer, request);
                self.pending.insert(id, (peer, reply));
            }
            Command::Connected(reply) => {
                let peers = self
                    .swarm
                    .connected_peers()
                    .filter(|p| self.allowed.contains(p))
                    .copied()
                    .collect();
                let _ = reply.send(peers);
            }
        }
    }

    fn emit(&self, event: P2pEvent) {
        if self.events.try_send(event).is_err() {
            self.metrics.p2p.events_dropped.inc();
        }
    }

    fn swarm_event(&mut self, event: SwarmEvent<BehaviourEvent>) {
        match event {
            SwarmEvent::NewListenAddr { address, .. } => {
                tracing::info!(%address, peer_id = %self.swarm.local_peer_id(), "p2p listening");
                self.listening.send_modify(|a| a.push(address));
            }
            SwarmEvent::ConnectionEstablished { peer_id, .. } => {
                self.metrics
                    .p2p
                    .connected
                    .set(self.swarm.connected_peers().count() as i64);
                self.emit(P2pEvent::Connected(peer_id));
            }
            SwarmEvent::ConnectionClosed { .. } => {
                self.metrics
                    .p2p
                    .connected
                    .set(self.swarm.connected_peers().count() as i64);
            }
            SwarmEvent::IncomingConnectionError {
                error: libp2p::swarm::ListenError::Denied { cause },
                peer_id,
                send_back_addr,
                ..
            } => {
                self.metrics.p2p.refused_connections.inc();
                tracing::warn!(
                    peer = ?peer_id, from = %send_back_addr, %cause,
                    "refused a connection from a peer not in the allowlist"
                );
            }
            SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(gossipsub::Event::Message {
                propagation_source,
                message,
                ..
            })) => {
                let Some(kind) = self.topics.get(&message.topic).copied() else {
                    return;
                };
                match GossipMessage::decode(kind, &message.data) {
                    Ok(message) => self.emit(P2pEvent::Gossip {
                        from: propagation_source,
                        message,
                    }),
                    Err(e) => {
                        self.metrics.p2p.gossip_refused.inc();
                        tracing::warn!(peer = %propagation_source, error = %e, "undecodable gossip");
                    }
                }
            }
            SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(gossipsub::Event::Subscribed {
                peer_id,
                topic,
            })) => {
                if let Some(kind) = self.topics.get(&topic).copied() {
                    self.emit(P2pEvent::Subscribed {
                        peer: peer_id,
                        kind,
                    });
                }
            }
            SwarmEvent::Behaviour(BehaviourEvent::Leaves(event)) => self.leaves_event(event),
            _ => {}
        }
    }

    fn leaves_event(
        &mut self,
        event: request_response::Event<LeafRangeRequest, LeafRangeResponse>,
    ) {
        match event {
            request_response::Event::Message { peer, message, .. } => match message {
                request_response::Message::Request {
                    request, channel, ..
                } => {
                    if !self.allowed.contains(&peer) || self.serving.len() >= MAX_SERVING {
                        // Dropping the channel refuses the request; the requester retries.
                        self.metrics.p2p.requests_refused.inc();
                        return;
                    }
                    let source = self.source.clone();
                    self.serving.push(tokio::task::spawn_blocking(move || {
                        (channel, source(request))
                    }));
                }
                request_response::Message::Response {
                    request_id,
                    response,
                } => {
                    if let Some((_, reply)) = self.pending.remove(&request_id) {
                        let _ = reply.send(Ok(response));
                    }
                }
            },
            request_response::Event::OutboundFailure {
                request_id, error, ..
            } => {
                if let Some((peer, reply)) = self.pending.remove(&request_id) {
                    let _ = reply.send(Err(P2pError::Fetch {
                        peer,
                        reason: error.to_string(),
                    }));
                }
            }
            request_response::Event::InboundFailure { peer, error, .. } => {
                tracing::debug!(%peer, %error, "leaf range request failed");
            }
            request_response::Event::ResponseSent { .. } => {}
        }
    }
}

/// The libp2p identity made from an Ed25519 key file's seed (`p2p.key`).
///
/// # Errors
/// [`P2pError::Transport`] if libp2p refuses the seed (it takes any 32 bytes).
pub(crate) fn keypair(key: &crate::keyfile::KeyFile) -> Result<Keypair, P2pError> {
    let mut seed = key.signing_key().to_bytes();
    // libp2p zeroes the seed it is given.
    Keypair::ed25519_from_bytes(&mut seed).map_err(|e| P2pError::Transport(e.to_string()))
}

/// The peer id of the key file's libp2p identity.
///
/// # Errors
/// As [`keypair`].
pub fn peer_id(key: &crate::keyfile::KeyFile) -> Result<PeerId, P2pError> {
    Ok(keypair(key)?.public().to_peer_id())
}

/// The allowlist entries of a configuration as libp2p peers.
///
/// # Errors
/// The first peer id or address that does not parse, as text.
pub(crate) fn parse_peers(peers: &[crate::config::PeerConfig]) -> Result<Vec<Peer>, String> {
    peers
        .iter()
        .map(|peer| {
            Ok(Peer {
                id: peer
                    .id
                    .parse()
                    .map_err(|e| format!("peer id {}: {e}", peer.id))?,
                addr: peer
                    .addr
                    .as_deref()
                    .map(str::parse)
                    .transpose()
                    .map_err(|e| format!("peer address: {e}"))?,
            })
        })
        .collect()
}

/// A bare peer of a log's gossip, for tools and tests that watch or inject messages (a monitor,
/// a test holding the operator key that injects a conflicting checkpoint): it joins the log's
/// topics under its own key, dials the given peers, serves the leaves it is given (none, or a
/// log of the test's making), and can ask for ranges.
#[derive(Debug)]
pub struct GossipPeer {
    handle: P2pHandle,
    events: mpsc::Receiver<P2pEvent>,
    task: JoinHandle<()>,
    subscribed: HashSet<PeerId>,
    log: ServedLog,
}

/// The leaves and checkpoint notes a [`GossipPeer`] serves.
type ServedLog = Arc<std::sync::RwLock<(Vec<Vec<u8>>, Vec<(u64, String)>)>>;

impl GossipPeer {
    /// Starts a peer listening on `listen` (`/ip4/127.0.0.1/tcp/0` for any port) with the
    /// libp2p identity of `key`, allowing and dialling `peers`; it serves no leaves.
    ///
    /// # Errors
    /// [`P2pError::Transport`] for a bad address or id, or if libp2p cannot start.
    pub fn start(
        key: &crate::keyfile::KeyFile,
        origin: &str,
        listen: &str,
        peers: &[crate::config::PeerConfig],
        metrics: Arc<Metrics>,
    ) -> Result<Self, P2pError> {
        Self::serving(key, origin, listen, peers, Vec::new(), Vec::new(), metrics)
    }

    /// As [`GossipPeer::start`], serving `leaves` (stored leaf bytes, from index 0) and the
    /// checkpoint notes `checkpoints` (size, note) over the leaf-range protocol, as a node
    /// serves its store: a log of the caller's making, true or forked.
    ///
    /// # Errors
    /// As [`GossipPeer::start`].
    pub fn serving(
        key: &crate::keyfile::KeyFile,
        origin: &str,
        listen: &str,
        peers: &[crate::config::PeerConfig],
        leaves: Vec<Vec<u8>>,
        checkpoints: Vec<(u64, String)>,
        metrics: Arc<Metrics>,
    ) -> Result<Self, P2pError> {
        let settings = P2pSettings {
            keypair: keypair(key)?,
            listen: listen
                .parse()
                .map_err(|e: libp2p::multiaddr::Error| P2pError::Transport(e.to_string()))?,
            peers: parse_peers(peers).map_err(P2pError::Transport)?,
            origin: origin.to_owned(),
        };
        let log = Arc::new(std::sync::RwLock::new((leaves, checkpoints)));
        let served = log.clone();
        let source: RangeSource = Arc::new(move |request: LeafRangeRequest| {
            let held = served
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let (leaves, checkpoints) = &*held;
            let published = leaves.len() as u64;
            let end = request.end.min(published);
            let range = usize::try_from(request.start).unwrap_or(usize::MAX)
                ..usize::try_from(end).unwrap_or(usize::MAX);
            let notes = checkpoints
                .iter()
                .filter(|(size, _)| *size > request.start && *size <= end)
                .map(|(size, note)| RangeCheckpoint {
                    size: *size,
                    note: note.clone(),
                });
            let leaves = leaves.get(range).unwrap_or_default().to_vec();
            crate::replication::cut_range(request.start, published, leaves, notes)
        });
        let (handle, events, task) = spawn(settings, source, metrics)?;
        Ok(Self {
            handle,
            events,
            task,
            subscribed: HashSet::new(),
            log,
        })
    }

    /// Serves `leaves` after the ones it serves already, and the checkpoint notes
    /// `checkpoints` (size, note) with them.
    pub fn extend(&self, leaves: Vec<Vec<u8>>, checkpoints: Vec<(u64, String)>) {
        let mut held = self
            .log
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        held.0.extend(leaves);
        held.1.extend(checkpoints);
    }

    /// Its peer id.
    pub fn peer_id(&self) -> String {
        self.handle.local_peer_id().to_string()
    }

    /// The addresses it listens on, once it does.
    pub async fn listen_addrs(&self) -> Vec<String> {
        self.handle
            .listen_addrs()
            .await
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    /// Publishes `message` on its topic.
    ///
    /// # Errors
    /// [`P2pError::Stopped`] if the task has stopped.
    pub async fn publish(&self, message: GossipMessage) -> Result<(), P2pError> {
        self.handle.publish(message).await
    }

    /// Asks `peer` for the leaves `start..end`.
    ///
    /// # Errors
    /// [`P2pError::Fetch`] if the peer refuses or cannot be reached.
    pub async fn fetch(
        &self,
        peer: &str,
        start: u64,
        end: u64,
    ) -> Result<LeafRangeResponse, P2pError> {
        let peer: PeerId = peer
            .parse()
            .map_err(|e: libp2p::identity::ParseError| P2pError::Transport(e.to_string()))?;
        self.handle
            .fetch(peer, LeafRangeRequest { start, end })
            .await
    }

    /// The allowed peers connected now.
    pub async fn connected(&self) -> Vec<String> {
        self.handle
            .connected()
            .await
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    /// Waits until `count` peers have joined the log's checkpoint topic, so that what is
    /// published next reaches them (gossipsub sends only to peers known to be subscribed).
    /// Gossip received meanwhile is dropped.
    pub async fn wait_subscribed(&mut self, count: usize) {
        while self.subscribed.len() < count {
            if self.next_event().await.is_none() {
                return;
            }
        }
    }

    async fn next_event(&mut self) -> Option<P2pEvent> {
        let event = self.events.recv().await?;
        if let P2pEvent::Subscribed {
            peer,
            kind: GossipKind::Checkpoint,
        } = &event
        {
            self.subscribed.insert(*peer);
        }
        Some(event)
    }

    /// The next gossip message received, with its topic kind.
    pub async fn next_gossip(&mut self) -> Option<GossipMessage> {
        loop {
            if let P2pEvent::Gossip { message, .. } = self.next_event().await? {
                return Some(message);
            }
        }
    }

    /// Stops the peer.
    pub async fn stop(self) {
        drop(self.handle);
        drop(self.events);
        let _ = self.task.await;
    }
}

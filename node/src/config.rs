//! The node's configuration: embedded defaults, an optional TOML file, then command-line flags,
//! validated into a [`Config`] before any work starts.
//!
//! ```toml
//! role = "operator"                      # or "witness" (`run --witness`)
//! data_dir = "./testigo-data"
//! http_listen = "127.0.0.1:7700"
//! p2p_listen = "/ip4/127.0.0.1/tcp/7701" # libp2p, started when `peers` lists any
//! idle_checkpoint_ms = 60000             # an idle log still checkpoints this often
//! publish_after_witnesses = 1            # witnesses holding a checkpoint before it is published
//!
//! [[peers]]                              # the allowlist: no one else may connect
//! id = "12D3KooW…"                       # the peer's id (`testigo-node peer-id`)
//! addr = "/ip4/127.0.0.1/tcp/7711"       # optional: dial it (else it dials this node)
//! storage = "redb"                       # or "sled" (not power-loss safe, see README)
//! state_map_bucket_bits = 16              # the state map's top levels kept in memory
//! batch_max_entries = 4096
//! batch_max_delay_ms = 50
//!
//! [tls]                                  # optional: serve HTTPS (PEM files)
//! cert = "/etc/testigo/cert.pem"
//! key = "/etc/testigo/key.pem"
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The most state-map levels kept in memory: 2^24 buckets, some 2 GiB.
pub const MAX_MAP_BUCKET_BITS: usize = 24;

/// The largest batch delay allowed: a checkpoint at least four times a second.
pub const MAX_BATCH_DELAY_MS: u64 = 250;

/// Which embedded engine stores the log.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum StorageEngine {
    /// redb: one `fdatasync` per commit; the default.
    #[default]
    Redb,
    /// sled 0.34: survives a process crash but not a power loss.
    Sled,
}

/// What a node does for its log. `node::run` starts the role's tasks; each role is one match
/// arm there.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Holds the log key: sequences submissions, signs checkpoints, serves the API.
    #[default]
    Operator,
    /// Holds a witness key: replicates the operator's log, re-verifies it, cosigns its
    /// checkpoints and serves the same read API from its own copy.
    Witness,
}

/// A peer of the libp2p allowlist.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeerConfig {
    /// Its libp2p peer id.
    pub id: String,
    /// A multiaddr to dial it at; without one this node waits for it to dial.
    #[serde(default)]
    pub addr: Option<String>,
}

/// The PEM files of the HTTPS the node serves itself (`run --tls-cert --tls-key`, or `[tls]` in
/// the config file).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsFiles {
    /// Certificate chain, leaf first.
    pub cert: PathBuf,
    /// The certificate's private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// Everything `run` needs, validated.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// What this node does.
    pub role: Role,
    /// Where the key, the genesis entry and the store live.
    pub data_dir: PathBuf,
    /// HTTP API address (`main` binds it; `run` takes a bound listener).
    pub http_listen: SocketAddr,
    /// Serve HTTPS with these files instead of plain HTTP (or leave TLS to a proxy in front).
    pub tls: Option<TlsFiles>,
    /// libp2p listen address (a multiaddr).
    pub p2p_listen: String,
    /// The peers that may connect over libp2p (everyone else is refused); libp2p runs only when
    /// this lists any.
    pub peers: Vec<PeerConfig>,
    /// Operator: an idle log appends a `StateRoot` and signs a checkpoint this often, at most
    /// `ledger::replication::MAX_IDLE_CHECKPOINT_INTERVAL_MS`.
    pub idle_checkpoint_ms: u64,
    /// Operator: how long `wait=witnessed` waits for the quorum before `witness_timeout`.
    pub witnessed_timeout_ms: u64,
    /// Operator: how many witnesses must hold a checkpoint's leaves (shown by their
    /// cosignature, committed after the leaves) before it is published; `None` is 1 on a log
    /// with witnesses, 0 on one without. 0 publishes at once.
    pub publish_after_witnesses: Option<usize>,
    /// Witness: the name of its key in the `Genesis`.
    pub witness_name: Option<String>,
    /// Witness: how often it asks its peers for new leaves unprompted.
    pub witness_poll_ms: u64,
    /// Witness: milliseconds added to this machine's clock when the clock rule is applied. Zero
    /// in production; set to show (and test) that a witness whose clock is far from the log's
    /// refuses to cosign.
    pub witness_clock_offset_ms: i64,
    /// The storage engine.
    pub storage: StorageEngine,
    /// The state map keeps this many top levels in memory, and each bucket of accounts below
    /// them in the store (`2^bits` buckets: 16 holds about 16 MiB in memory, whatever the
    /// number of accounts, and an update reads `accounts / 65,536` records back). 0..=24.
    pub state_map_bucket_bits: usize,
    /// A batch closes after this many entries...
    pub batch_max_entries: usize,
    /// ...or this many milliseconds after its first entry, whichever comes first.
    pub batch_max_delay_ms: u64,
    /// Submissions waiting for the sequencer before new ones get 503.
    pub queue_capacity: usize,
    /// Entries waiting for the sequencer, over all submissions, before new ones get 503: what
    /// bounds the queue's memory, since one submission may hold `max_batch_submission` leaves.
    pub max_queued_entries: usize,
    /// Largest request body, bytes (413 beyond).
    pub max_request_bytes: usize,
    /// Most leaves in one submission.
    pub max_batch_submission: usize,
    /// Most entries in one `GET /v1/entries` page.
    pub max_entries_page: u64,
    /// Keys whose replay state (highest `ts` and the used ones just below it, PROTOCOL §10) is
    /// held at once, besides the reserved slots of the operator, witnesses and regulators. When
    /// full, the live key with the oldest highest `ts` is evicted and raises the floor.
    pub replay_max_keys: usize,
    /// Signed reads per second one key may make (operator, witnesses, regulators exempt).
    pub signed_read_rate: u32,
    /// Signed reads one key may make at once before `signed_read_rate` applies.
    pub signed_read_burst: u32,
    /// HTTP connections open at once; one more is closed on arrival. The node raises its
    /// file-descriptor limit to the hard limit at start and warns if this does not fit.
    pub max_connections: usize,
    /// Requests in a handler (or reading their body) at once; one more is answered `busy`.
    pub max_concurrent_requests: usize,
    /// `GET /v1/events` streams open at once; one more is answered `busy`.
    pub max_event_streams: usize,
    /// One bound on the memory of every request body in flight and its decoding, bytes: each
    /// body byte read is charged 3 times (`api::limits`); a read past it is answered `busy`.
    pub max_inflight_body_bytes: usize,
    /// Time a connection has to send a whole request head, from when it opens, ms.
    pub header_timeout_ms: u64,
    /// Time a request's body has to arrive after its head, ms (`408 request_timeout` after).
    pub body_timeout_ms: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            role: Role::Operator,
            data_dir: PathBuf::from("./testigo-data"),
            http_listen: SocketAddr::from(([127, 0, 0, 1], 7700)),
            tls: None,
            p2p_listen: "/ip4/127.0.0.1/tcp/7701".to_owned(),
            peers: Vec::new(),
            idle_checkpoint_ms: 60_000,
            witnessed_timeout_ms: 30_000,
            publish_after_witnesses: None,
            witness_name: None,
            witness_poll_ms: 1000,
            witness_clock_offset_ms: 0,
            storage: StorageEngine::Redb,
            state_map_bucket_bits: crate::storage::DEFAULT_MAP_BUCKET_BITS,
            batch_max_entries: 4096,
            batch_max_delay_ms: 50,
            queue_capacity: 1024,
            max_queued_entries: 65_536,
            max_request_bytes: 8 * 1024 * 1024,
            max_batch_submission: 10_000,
            max_entries_page: 1000,
            replay_max_keys: 450_000,
            signed_read_rate: 50,
            signed_read_burst: 100,
            max_connections: 10_000,
            max_concurrent_requests: 512,
            max_event_streams: 4_096,
            max_inflight_body_bytes: 256 * 1024 * 1024,
            header_timeout_ms: 10_000,
            body_timeout_ms: 30_000,
        }
    }
}

/// A configuration that cannot run.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML for [`Config`].
    #[error("config file {path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message, with line and column.
        message: String,
    },
    /// A value is out of range.
    #[error("config: {0}")]
    Invalid(String),
}

impl Config {
    /// Reads a TOML file; keys it does not set keep their defaults.
    ///
    /// # Errors
    /// [`ConfigError::Read`] or [`ConfigError::Parse`] (unknown keys are refused).
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: e.to_string(),
        })
    }

    /// Checks the ranges the node relies on.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] naming the key and its allowed range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |m: String| Err(ConfigError::Invalid(m));
        if self.batch_max_entries == 0 {
            return bad("batch_max_entries must be at least 1".into());
        }
        if self.state_map_bucket_bits > MAX_MAP_BUCKET_BITS {
            return bad(format!(
                "state_map_bucket_bits must be 0..={MAX_MAP_BUCKET_BITS}, not {}",
                self.state_map_bucket_bits
            ));
        }
        if !(1..=MAX_BATCH_DELAY_MS).contains(&self.batch_max_delay_ms) {
            return bad(format!(
                "batch_max_delay_ms must be 1..={MAX_BATCH_DELAY_MS}, not {}",
                self.batch_max_delay_ms
            ));
        }
        if self.queue_capacity == 0 || self.max_batch_submission == 0 {
            return bad("queue_capacity and max_batch_submission must be at least 1".into());
        }
        if self.max_queued_entries < self.max_batch_submission {
            return bad(format!(
                "max_queued_entries ({}) must hold one maximal submission ({})",
                self.max_queued_entries, self.max_batch_submission
            ));
        }
        if self.max_entries_page == 0 || self.replay_max_keys == 0 {
            return bad("max_entries_page and replay_max_keys must be at least 1".into());
        }
        if self.signed_read_rate == 0 || self.signed_read_burst == 0 {
            return bad("signed_read_rate and signed_read_burst must be at least 1".into());
        }
        let max_idle = testigo_ledger::replication::MAX_IDLE_CHECKPOINT_INTERVAL_MS;
        if !(10..=max_idle).contains(&self.idle_checkpoint_ms) {
            return bad(format!(
                "idle_checkpoint_ms must be 10..={max_idle}, not {}",
                self.idle_checkpoint_ms
            ));
        }
        if self.witnessed_timeout_ms == 0 || self.witness_poll_ms == 0 {
            return bad("witnessed_timeout_ms and witness_poll_ms must be at least 1".into());
        }
        if self.p2p_listen.parse::<libp2p::Multiaddr>().is_err() {
            return bad(format!(
                "p2p_listen {:?} is not a multiaddr",
                self.p2p_listen
            ));
        }
        for peer in &self.peers {
            if peer.id.parse::<libp2p::PeerId>().is_err() {
                return bad(format!("peer id {:?} is not a libp2p peer id", peer.id));
            }
            if let Some(addr) = &peer.addr
                && addr.parse::<libp2p::Multiaddr>().is_err()
            {
                return bad(format!("peer address {addr:?} is not a multiaddr"));
            }
        }
        if self.role == Role::Witness {
            if self.witness_name.is_none() {
                return bad("a witness needs witness_name (its key's name in the Genesis)".into());
            }
            if self.peers.is_empty() {
                return bad("a witness needs at least one peer to follow".into());
            }
        }
        if self.max_request_bytes < testigo_ledger::entry::MAX_LEAF_LEN * 2 {
            return bad(format!(
                "max_request_bytes must hold at least one leaf ({} bytes)",
                testigo_ledger::entry::MAX_LEAF_LEN * 2
            ));
        }
        if self.max_connections == 0
            || self.max_concurrent_requests == 0
            || self.max_event_streams == 0
            || self.header_timeout_ms == 0
            || self.body_timeout_ms == 0
        {
            return bad(
                "max_connections, max_concurrent_requests, max_event_streams, header_timeout_ms \
                 and body_timeout_ms must be at least 1"
                    .into(),
            );
        }
        // One request of the largest size must fit, with room for its frames' overhead.
        let least = self.max_request_bytes.saturating_mul(4);
        if self.max_inflight_body_bytes < least {
            return bad(format!(
                "max_inflight_body_bytes ({}) must be at least 4 × max_request_bytes ({least})",
                self.max_inflight_body_bytes
            ));
        }
        Ok(())
    }

    /// The connection limits `serve` enforces.
    pub(crate) fn connection_limits(&self) -> crate::serve::ConnectionLimits {
        crate::serve::ConnectionLimits {
            max_connections: self.max_connections,
            header_timeout: Duration::from_millis(self.header_timeout_ms),
        }
    }

    /// The request limits `api::limits` enforces.
    pub(crate) fn request_limits(&self) -> crate::api::limits::RequestLimitConfig {
        crate::api::limits::RequestLimitConfig {
            max_concurrent_requests: self.max_concurrent_requests,
            max_event_streams: self.max_event_streams,
            max_inflight_body_bytes: self.max_inflight_body_bytes,
            body_timeout: Duration::from_millis(self.body_timeout_ms),
            max_request_bytes: self.max_request_bytes,
        }
    }

    /// The batch delay as a duration.
    pub fn batch_delay(&self) -> Duration {
        Duration::from_millis(self.batch_max_delay_ms)
    }

    /// The operator key file inside the data directory.
    pub fn key_path(&self) -> PathBuf {
        self.data_dir.join(KEY_FILE)
    }

    /// A witness's cosigning key file inside the data directory.
    pub fn witness_key_path(&self) -> PathBuf {
        self.data_dir.join(WITNESS_KEY_FILE)
    }

    /// The libp2p identity's key file inside the data directory.
    pub fn p2p_key_path(&self) -> PathBuf {
        self.data_dir.join(P2P_KEY_FILE)
    }

    /// Where a witness keeps evidence of a split view.
    pub fn evidence_path(&self) -> PathBuf {
        self.data_dir.join(EVIDENCE_DIR)
    }

    /// The idle checkpoint interval.
    pub fn idle_checkpoint(&self) -> Duration {
        Duration::from_millis(self.idle_checkpoint_ms)
    }

    /// The signed genesis leaf inside the data directory.
    pub fn genesis_path(&self) -> PathBuf {
        self.data_dir.join(GENESIS_FILE)
    }

    /// The storage engine's directory inside the data directory.
    pub fn store_path(&self) -> PathBuf {
        self.data_dir.join(STORE_DIR)
    }
}

/// File name of the operator key.
pub const KEY_FILE: &str = "log.key";
/// File name of the signed genesis leaf (`sequenced_at` zero until it is leaf 0 of the log).
pub const GENESIS_FILE: &str = "genesis.leaf";
/// Directory of the storage engine.
pub const STORE_DIR: &str = "store";
/// File name of a witness's cosigning key.
pub const WITNESS_KEY_FILE: &str = "witness.key";
/// File name of the libp2p identity key.
pub const P2P_KEY_FILE: &str = "p2p.key";
/// Directory of a witness's evidence files.
pub const EVIDENCE_DIR: &str = "evidence";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_a_file_overrides_only_what_it_names() {
        Config::default().validate().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.toml");
        std::fs::write(
            &path,
            "role = \"operator\"\nbatch_max_delay_ms = 20\nstorage = \"sled\"\n",
        )
        .unwrap();
        let config = Config::from_file(&path).unwrap();
        assert_eq!(config.batch_max_delay_ms, 20);
        assert_eq!(config.storage, StorageEngine::Sled);
        assert_eq!(config.batch_max_entries, 4096);
    }

    #[test]
    fn unknown_keys_and_out_of_range_values_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.toml");
        std::fs::write(&path, "batch_delay = 20\n").unwrap();
        assert!(matches!(
            Config::from_file(&path),
            Err(ConfigError::Parse { .. })
        ));
        std::fs::write(&path, "role = \"mirror\"\n").unwrap();
        assert!(matches!(
            Config::from_file(&path),
            Err(ConfigError::Parse { .. })
        ));
        let config = Config {
            batch_max_delay_ms: 251,
            ..Config::default()
        };
        assert!(matches!(config.validate(), Err(ConfigError::Invalid(_))));
        let config = Config {
            state_map_bucket_bits: MAX_MAP_BUCKET_BITS + 1,
            ..Config::default()
        };
        let refused = config.validate().unwrap_err().to_string();
        assert!(
            refused.contains("state_map_bucket_bits must be 0..=24"),
            "{refused}"
        );
    }
}

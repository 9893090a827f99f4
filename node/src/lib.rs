//! # testigo-node
//!
//! The operator (and, later, witness) node: a sequencer task that owns the state and the write
//! path, an embedded store, and the HTTP API of DESIGN §7. The rules live in `testigo-ledger`;
//! this crate orders, stores and serves.
//!
//! ```text
//! POST /v1/entries ─▶ parse ─▶ verify signatures (all cores, batched) ─▶ sequencer task
//!     ─▶ Engine::apply ─▶ durable commit of the leaves ─▶ answer `sequenced`
//!     ─▶ (batch closes: N entries or T ms) StateRoot ─▶ tree ─▶ signed checkpoint, committed
//!        with the indexes and the state snapshot ─▶ publish (/v1/events) ─▶ answer `checkpointed`
//! ```

pub mod api;
pub mod config;
pub mod datadir;
pub mod export;
pub mod fsck;
mod intake;
pub mod keyfile;
pub mod loadgen;
pub mod metrics;
mod node;
pub mod operator;
pub mod p2p;
pub mod reader;
pub mod restore;

mod recovery;
pub mod replication;
pub mod sequencer;
mod serve;
pub use serve::raise_fd_limit;
pub mod simulate;
pub mod storage;
pub mod tls;

pub use config::{Config, ConfigError, PeerConfig, Role, StorageEngine, TlsFiles};
pub use datadir::GenesisParams;
pub use keyfile::{KeyFile, KeyFileError};
pub use node::{NodeError, run, run_announced};

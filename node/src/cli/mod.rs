//! The command line: `testigo-node [run]`, `testigo-node init`, `testigo-node operator …`, and
//! the tools that drive a running node, `loadgen` and `simulate`. Raw flags become a validated
//! [`Config`] (and [`GenesisParams`]) before any work starts.

pub(crate) mod operator;

mod loadgen;
mod simulate;

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context as _;
use testigo_ledger::PublicKey;
use testigo_ledger::entry::WitnessKey;
use testigo_node::{Config, GenesisParams, StorageEngine};

/// Testigo operator node: a signed, Merkle-anchored, append-only log of accesses to customers'
/// personal data. Without a subcommand, runs a node on the defaults (data in ./testigo-data,
/// HTTP on 127.0.0.1:7700), creating the log key and genesis there on first start; any other
/// data directory is created with `testigo-node init`.
#[derive(Debug, clap::Parser)]
#[command(version)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Option<Command>,
}

#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// Run the node (the default) on a data directory made by `init` (only the default
    /// ./testigo-data is created on first start).
    Run(RunArgs),
    /// Create the data directory, the log key (0600) and the signed genesis entry.
    #[command(after_help = INIT_EXAMPLE)]
    Init(InitArgs),
    /// Benchmark a running node (build with --release).
    Loadgen(loadgen::LoadgenArgs),
    /// Drive a running node with a simulated telecom day.
    Simulate(simulate::SimulateArgs),
    /// Submit an operator entry to a running node, signed with the data directory's key.
    Operator(operator::OperatorArgs),
}

const INIT_EXAMPLE: &str = "Example:
  testigo-node init --data-dir /var/lib/testigo --origin telco.example/log/1 \\
      --fee-bps 300 --currency EUR \\
      --witness w1=BASE64KEY --quorum 1 --regulator BASE64KEY
  testigo-node run --data-dir /var/lib/testigo";

/// Flags shared by `run` and `init`.
#[derive(Debug, Default, clap::Args)]
pub(crate) struct NodeArgs {
    /// TOML config file; flags override its values.
    #[arg(long, env = "TESTIGO_CONFIG")]
    pub(crate) config: Option<PathBuf>,
    /// Data directory (key, genesis, store) [default: ./testigo-data].
    #[arg(long)]
    pub(crate) data_dir: Option<PathBuf>,
}

#[derive(Debug, Default, clap::Args)]
pub(crate) struct RunArgs {
    #[command(flatten)]
    pub(crate) node: NodeArgs,
    /// HTTP API address [default: 127.0.0.1:7700]; port 0 picks a free one. The bound address
    /// is printed on stdout as `listening on http://ADDR`.
    #[arg(long)]
    pub(crate) http: Option<SocketAddr>,
    /// libp2p listen address, reserved for replication (not used yet).
    #[arg(long)]
    pub(crate) p2p: Option<String>,
    /// Storage engine: redb (default) or sled (not power-loss safe).
    #[arg(long, value_enum)]
    pub(crate) storage: Option<StorageEngine>,
    /// A batch (and its checkpoint) closes after this many entries [default: 4096].
    #[arg(long)]
    pub(crate) batch_max_entries: Option<usize>,
    /// ... or this many milliseconds after its first entry, at most 250 [default: 50].
    #[arg(long)]
    pub(crate) batch_max_delay_ms: Option<u64>,
}

#[derive(Debug, clap::Args)]
pub(crate) struct InitArgs {
    #[command(flatten)]
    pub(crate) node: NodeArgs,
    /// The log's name, covered by every signature and checkpoint.
    #[arg(long, default_value = "testigo.localhost/log")]
    pub(crate) origin: String,
    /// Operator fee on every paid access, in basis points (500 = 5%).
    #[arg(long, default_value_t = 500)]
    pub(crate) fee_bps: u16,
    /// ISO 4217 currency code.
    #[arg(long, default_value = "EUR")]
    pub(crate) currency: String,
    /// Minor units per major unit, as a power of ten.
    #[arg(long, default_value_t = 2)]
    pub(crate) decimals: u8,
    /// A witness as NAME=BASE64KEY; repeat for each.
    #[arg(long = "witness", value_parser = parse_witness)]
    pub(crate) witnesses: Vec<WitnessKey>,
    /// Cosignatures needed for a witnessed checkpoint (0 without witnesses).
    #[arg(long, default_value_t = 0)]
    pub(crate) quorum: u16,
    /// A regulator's base64 key; repeat for each.
    #[arg(long = "regulator", value_parser = parse_key)]
    pub(crate) regulators: Vec<PublicKey>,
}

fn parse_key(text: &str) -> Result<PublicKey, String> {
    PublicKey::from_base64(text).ok_or_else(|| "expected 32 bytes of standard base64".to_owned())
}

fn parse_witness(text: &str) -> Result<WitnessKey, String> {
    let (name, key) = text
        .split_once('=')
        .ok_or_else(|| "expected NAME=BASE64KEY".to_owned())?;
    Ok(WitnessKey {
        name: name.to_owned(),
        key: parse_key(key)?,
    })
}

impl NodeArgs {
    /// Defaults, then the file, then the flags.
    pub(crate) fn config(&self) -> anyhow::Result<Config> {
        let mut config = match &self.config {
            Some(path) => Config::from_file(path)?,
            None => Config::default(),
        };
        if let Some(dir) = &self.data_dir {
            config.data_dir.clone_from(dir);
        }
        Ok(config)
    }
}

impl RunArgs {
    /// Whether `run` may create a new log in `config`'s data directory: only in the default
    /// one, named by neither `--data-dir` nor the config file, and only if it holds no log. A
    /// directory the user named must exist already, so a typo cannot start a second log.
    pub(crate) fn creates_log(&self, config: &Config) -> bool {
        self.node.data_dir.is_none()
            && config.data_dir == Config::default().data_dir
            && testigo_node::datadir::is_empty(config)
    }

    pub(crate) fn config(&self) -> anyhow::Result<Config> {
        let mut config = self.node.config()?;
        if let Some(http) = self.http {
            config.http_listen = http;
        }
        if let Some(p2p) = &self.p2p {
            config.p2p_listen.clone_from(p2p);
        }
        if let Some(storage) = self.storage {
            config.storage = storage;
        }
        if let Some(n) = self.batch_max_entries {
            config.batch_max_entries = n;
        }
        if let Some(ms) = self.batch_max_delay_ms {
            config.batch_max_delay_ms = ms;
        }
        config.validate().context("invalid configuration")?;
        Ok(config)
    }
}

impl InitArgs {
    pub(crate) fn genesis(&self) -> GenesisParams {
        GenesisParams {
            origin: self.origin.clone(),
            fee_bps: self.fee_bps,
            currency: self.currency.clone(),
            decimals: self.decimals,
            witnesses: self.witnesses.clone(),
            quorum: self.quorum,
            regulators: self.regulators.clone(),
        }
    }
}

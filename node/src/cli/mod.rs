//! The command line: `testigo-node [run]`, `testigo-node init`, `testigo-node operator …`, and
//! the tools that drive a running node, `loadgen` and `simulate`. Raw flags become a validated
//! [`Config`] (and [`GenesisParams`]) before any work starts.

pub(crate) mod operator;

mod loadgen;
mod simulate;
pub(crate) mod trust_file;

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context as _;
use testigo_ledger::PublicKey;
use testigo_ledger::api::Wait;
use testigo_ledger::entry::WitnessKey;
use testigo_node::{Config, GenesisParams, StorageEngine, TlsFiles};

/// Testigo operator node: a signed, Merkle-anchored, append-only log of accesses to customers'
/// personal data. Without a subcommand, runs a node on the defaults (data in ./testigo-data,
/// HTTP on 127.0.0.1:7700), creating the log key and genesis there on first start; any other
/// data directory is created with `testigo-node init`.
#[derive(Debug, clap::Parser)]
#[command(version)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) global: GlobalArgs,
    #[command(subcommand)]
    pub(crate) command: Option<Command>,
}

/// Options that name where things are, accepted before or after the subcommand
/// (`testigo-node --data-dir D operator deposit …` or `… deposit … --data-dir D`): people put
/// them where habit takes them, and scripts prepend them.
#[derive(Debug, Default, clap::Args)]
pub(crate) struct GlobalArgs {
    /// Data directory (key, genesis, store) [default: ./testigo-data].
    #[arg(long, global = true)]
    pub(crate) data_dir: Option<PathBuf>,
    /// The running node's HTTP API, for operator, loadgen and simulate
    /// [default: http://127.0.0.1:7700].
    #[arg(long = "node", global = true, env = "TESTIGO_NODE")]
    pub(crate) node: Option<String>,
    /// What each submission waits for, for operator and loadgen [default: sequenced].
    #[arg(long, global = true, value_enum)]
    pub(crate) wait: Option<WaitArg>,
}

/// What a submission waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum WaitArg {
    /// Durable, with its index.
    Sequenced,
    /// In a signed checkpoint, with an inclusion proof.
    Checkpointed,
    /// In a checkpoint cosigned by the witness quorum.
    Witnessed,
}

impl GlobalArgs {
    /// The node's URL, or the default.
    pub(crate) fn node_url(&self) -> String {
        self.node
            .clone()
            .unwrap_or_else(|| "http://127.0.0.1:7700".to_owned())
    }

    /// The data directory, or the default.
    pub(crate) fn data_dir(&self) -> PathBuf {
        self.data_dir
            .clone()
            .unwrap_or_else(|| Config::default().data_dir)
    }

    /// What to wait for, or `sequenced`.
    pub(crate) fn wait(&self) -> Wait {
        match self.wait {
            None | Some(WaitArg::Sequenced) => Wait::Sequenced,
            Some(WaitArg::Checkpointed) => Wait::Checkpointed,
            Some(WaitArg::Witnessed) => Wait::Witnessed,
        }
    }

    /// Refuses `--node` and `--wait` where they mean nothing (`run`, `init`), rather than
    /// silently ignoring what the user asked for. `--node` from `TESTIGO_NODE` is not refused:
    /// an environment variable is set for all commands at once.
    pub(crate) fn refuse_client_options(&self, command: &str) -> anyhow::Result<()> {
        let from_flag = std::env::var_os("TESTIGO_NODE").is_none() && self.node.is_some();
        if from_flag || self.wait.is_some() {
            anyhow::bail!(
                "--node and --wait are for operator, loadgen and simulate; `{command}` does not \
                 talk to a node"
            );
        }
        Ok(())
    }
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
    /// Check a stopped node's data directory against its own leaves: every leaf hash, every rule
    /// replayed, every tree hash and checkpoint, the indexes and the saved state.
    #[command(after_help = FSCK_EXAMPLE)]
    Fsck(FsckArgs),
    /// Write the data directory's log (every leaf to the latest checkpoint and every checkpoint
    /// with its cosignatures) as an archive file for `testigo-audit replay --archive`.
    #[command(after_help = EXPORT_EXAMPLE)]
    Export(ExportArgs),
    /// Print the data directory's libp2p peer id (creating its p2p.key if missing): what the
    /// other nodes list under `peers` / `--peer`.
    PeerId(PeerIdArgs),
    /// Rebuild a primary whose data directory is lost from a witness's copy of its log, with
    /// the log key from the operator's own backup; every leaf, rule and checkpoint is checked.
    #[command(after_help = RESTORE_EXAMPLE)]
    Restore(RestoreArgs),
    /// Write the trust file wallets pin this log with (log key, genesis leaf and its hash, node
    /// URLs), from the running node, checked against this data directory's key.
    #[command(after_help = trust_file::TRUST_FILE_EXAMPLE)]
    TrustFile(trust_file::TrustFileArgs),
    /// Measure this machine's signature ceiling: the ledger's batch check of entry signatures
    /// (ZIP 215, 1024 distinct keys) on every core at once, which throughput figures (loadgen,
    /// a witness's catch-up, an audit replay) are divided by. Build with --release.
    #[command(after_help = CEILING_EXAMPLE)]
    Ceiling(CeilingArgs),
}

const CEILING_EXAMPLE: &str =
    "Example (before and after a witness catches up, to divide its rate by):
  testigo-node ceiling --seconds 2
Prints: ceiling: 172024 sig/s on 2 cores at once (one core's best batch 90012/s)";

/// What `ceiling` measures.
#[derive(Debug, clap::Args)]
pub(crate) struct CeilingArgs {
    /// Threads verifying at once [default: the cores this process may use].
    #[arg(long)]
    pub(crate) cores: Option<usize>,
    /// How long to measure, in seconds (0.1 to 60).
    #[arg(long, default_value_t = 1.0)]
    pub(crate) seconds: f64,
}

const RESTORE_EXAMPLE: &str = "Example (the primary stopped, its data directory lost):
  testigo-node restore --from http://127.0.0.1:7710 --log-key /backup/log.key \\
      --p2p-key /backup/p2p.key --data-dir /var/lib/testigo
  testigo-node run --data-dir /var/lib/testigo --p2p /ip4/127.0.0.1/tcp/7701 --peer W1PEERID
Exit codes: 0 restored; 1 the directory is not empty, the witness cannot be read, or its copy
does not verify (the reason on stderr; delete the directory before trying again).";

#[derive(Debug, clap::Args)]
pub(crate) struct RestoreArgs {
    #[command(flatten)]
    pub(crate) node: NodeArgs,
    /// The HTTP URL of a witness of the log (its read API).
    #[arg(long)]
    pub(crate) from: String,
    /// The log key file (the operator's backup of `log.key`, 0600).
    #[arg(long)]
    pub(crate) log_key: PathBuf,
    /// The primary's libp2p key file (backup of `p2p.key`), to keep its peer id; else a new one.
    #[arg(long)]
    pub(crate) p2p_key: Option<PathBuf>,
}

const FSCK_EXAMPLE: &str = "Example (with the node stopped):
  testigo-node fsck --data-dir /var/lib/testigo
Exit codes: 0 all agree; 1 the first disagreement, named on stderr with its leaf index.";

#[derive(Debug, clap::Args)]
pub(crate) struct FsckArgs {
    #[command(flatten)]
    pub(crate) node: NodeArgs,
    /// The storage engine of the data directory (as `run --storage`).
    #[arg(long, value_enum)]
    pub(crate) storage: Option<testigo_node::StorageEngine>,
}

const EXPORT_EXAMPLE: &str = "Example (with the node stopped, or on a copy of its data directory):
  testigo-node export --data-dir /var/lib/testigo --out log.archive
  testigo-audit replay --archive log.archive
Exit codes: 0 written; 1 the store could not be read or the file written (nothing is left behind).";

#[derive(Debug, clap::Args)]
pub(crate) struct ExportArgs {
    #[command(flatten)]
    pub(crate) node: NodeArgs,
    /// The storage engine of the data directory (as `run --storage`).
    #[arg(long, value_enum)]
    pub(crate) storage: Option<testigo_node::StorageEngine>,
    /// The archive to write (replaced atomically if it exists).
    #[arg(long, value_name = "FILE")]
    pub(crate) out: PathBuf,
}

#[derive(Debug, clap::Args)]
pub(crate) struct PeerIdArgs {
    #[command(flatten)]
    pub(crate) node: NodeArgs,
}

const INIT_EXAMPLE: &str = "Examples:
  testigo-node init --role witness --data-dir /var/lib/testigo-w1   # prints the witness key
  testigo-node init --data-dir /var/lib/testigo --origin telco.example/log/1 \\
      --fee-bps 300 --currency EUR \\
      --witness w1.example=BASE64KEY --quorum 1 --regulator BASE64KEY
  testigo-node run --data-dir /var/lib/testigo --p2p /ip4/127.0.0.1/tcp/7701 --peer W1PEERID
  cp /var/lib/testigo/genesis.leaf /var/lib/testigo-w1/
  testigo-node run --data-dir /var/lib/testigo-w1 --http 127.0.0.1:7710 \\
      --witness w1.example --p2p /ip4/127.0.0.1/tcp/7711 \\
      --peer PRIMARYPEERID@/ip4/127.0.0.1/tcp/7701";

/// Flags shared by `run`, `init` and `operator`.
#[derive(Debug, Default, clap::Args)]
pub(crate) struct NodeArgs {
    /// TOML config file; flags override its values.
    #[arg(long, env = "TESTIGO_CONFIG")]
    pub(crate) config: Option<PathBuf>,
}

#[derive(Debug, Default, clap::Args)]
pub(crate) struct RunArgs {
    #[command(flatten)]
    pub(crate) node: NodeArgs,
    /// HTTP API address [default: 127.0.0.1:7700]; port 0 picks a free one. The bound address
    /// is printed on stdout as `listening on http://ADDR`.
    #[arg(long)]
    pub(crate) http: Option<SocketAddr>,
    /// Serve HTTPS with this PEM certificate chain (leaf first); needs --tls-key.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub(crate) tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub(crate) tls_key: Option<PathBuf>,
    /// libp2p listen address (multiaddr) [default: /ip4/127.0.0.1/tcp/7701]; libp2p runs only
    /// when peers are listed.
    #[arg(long)]
    pub(crate) p2p: Option<String>,
    /// A libp2p peer allowed to connect, as PEERID, or PEERID@MULTIADDR to dial it too; repeat
    /// for each. Every other peer is refused.
    #[arg(long = "peer", value_name = "PEERID[@ADDR]", value_parser = parse_peer)]
    pub(crate) peers: Vec<testigo_node::PeerConfig>,
    /// Run as the witness named NAME in the log's Genesis (the data directory from
    /// `init --role witness`, with the log's genesis.leaf copied in).
    #[arg(long, value_name = "NAME")]
    pub(crate) witness: Option<String>,
    /// An idle log checkpoints this often, in milliseconds [default: 60000, at most 240000].
    #[arg(long)]
    pub(crate) idle_checkpoint_ms: Option<u64>,
    /// Storage engine: redb (default) or sled (not power-loss safe).
    #[arg(long, value_enum)]
    pub(crate) storage: Option<StorageEngine>,
    /// The state map's levels kept in memory, 0..=24; below them, each bucket of accounts is
    /// read from the store when one of them changes [default: 16].
    #[arg(long, value_name = "BITS")]
    pub(crate) state_map_bucket_bits: Option<usize>,
    /// A batch (and its checkpoint) closes after this many entries [default: 4096].
    #[arg(long)]
    pub(crate) batch_max_entries: Option<usize>,
    /// ... or this many milliseconds after its first entry, at most 250 [default: 50].
    #[arg(long)]
    pub(crate) batch_max_delay_ms: Option<u64>,
}

/// What `init` creates.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum InitRole {
    /// A log: the log key, the signed genesis and a libp2p key.
    #[default]
    Operator,
    /// A witness: its cosigning key and a libp2p key (the log's genesis is copied in later).
    Witness,
}

#[derive(Debug, clap::Args)]
pub(crate) struct InitArgs {
    #[command(flatten)]
    pub(crate) node: NodeArgs,
    /// Create a log (operator) or a witness's data directory.
    #[arg(long, value_enum, default_value_t = InitRole::Operator)]
    pub(crate) role: InitRole,
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

fn parse_peer(text: &str) -> Result<testigo_node::PeerConfig, String> {
    let (id, addr) = match text.split_once('@') {
        Some((id, addr)) => (id, Some(addr.to_owned())),
        None => (text, None),
    };
    Ok(testigo_node::PeerConfig {
        id: id.to_owned(),
        addr,
    })
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
    pub(crate) fn config(&self, global: &GlobalArgs) -> anyhow::Result<Config> {
        let mut config = match &self.config {
            Some(path) => Config::from_file(path)?,
            None => Config::default(),
        };
        if let Some(dir) = &global.data_dir {
            config.data_dir.clone_from(dir);
        }
        Ok(config)
    }
}

impl RunArgs {
    /// Whether `run` may create a new log in `config`'s data directory: only in the default
    /// one, named by neither `--data-dir` nor the config file, and only if it holds no log. A
    /// directory the user named must exist already, so a typo cannot start a second log.
    pub(crate) fn creates_log(&self, global: &GlobalArgs, config: &Config) -> bool {
        global.data_dir.is_none()
            && config.data_dir == Config::default().data_dir
            && testigo_node::datadir::is_empty(config)
    }

    pub(crate) fn config(&self, global: &GlobalArgs) -> anyhow::Result<Config> {
        let mut config = self.node.config(global)?;
        if let Some(http) = self.http {
            config.http_listen = http;
        }
        if let (Some(cert), Some(key)) = (&self.tls_cert, &self.tls_key) {
            config.tls = Some(TlsFiles {
                cert: cert.clone(),
                key: key.clone(),
            });
        }
        if let Some(p2p) = &self.p2p {
            config.p2p_listen.clone_from(p2p);
        }
        config.peers.extend(self.peers.iter().cloned());
        if let Some(name) = &self.witness {
            config.role = testigo_node::Role::Witness;
            config.witness_name = Some(name.clone());
        }
        if let Some(ms) = self.idle_checkpoint_ms {
            config.idle_checkpoint_ms = ms;
        }
        if let Some(storage) = self.storage {
            config.storage = storage;
        }
        if let Some(n) = self.batch_max_entries {
            config.batch_max_entries = n;
        }
        if let Some(bits) = self.state_map_bucket_bits {
            config.state_map_bucket_bits = bits;
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

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::*;

    const KEY: &str = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";

    fn parse(args: &[&str]) -> Cli {
        Cli::try_parse_from(std::iter::once("testigo-node").chain(args.iter().copied()))
            .unwrap_or_else(|e| panic!("{args:?}: {e}"))
    }

    #[test]
    fn location_options_parse_before_or_after_the_subcommand() {
        let before = parse(&[
            "--data-dir",
            "D",
            "--node",
            "http://n:1",
            "--wait",
            "checkpointed",
            "operator",
            "deposit",
            KEY,
            "5",
            "--reference",
            "r",
        ]);
        let after = parse(&[
            "operator",
            "deposit",
            KEY,
            "5",
            "--reference",
            "r",
            "--data-dir",
            "D",
            "--node",
            "http://n:1",
            "--wait",
            "checkpointed",
        ]);
        let between = parse(&[
            "operator",
            "--data-dir",
            "D",
            "--node",
            "http://n:1",
            "--wait",
            "checkpointed",
            "deposit",
            KEY,
            "5",
            "--reference",
            "r",
        ]);
        for cli in [before, after, between] {
            assert_eq!(cli.global.data_dir, Some(PathBuf::from("D")));
            assert_eq!(cli.global.node.as_deref(), Some("http://n:1"));
            assert_eq!(cli.global.wait(), Wait::Checkpointed);
            assert!(matches!(cli.command, Some(Command::Operator(_))));
        }
        let run = parse(&["run", "--http", "127.0.0.1:0", "--data-dir", "D"]);
        assert_eq!(run.global.data_dir(), PathBuf::from("D"));
        let run = parse(&["--data-dir", "D", "run"]);
        assert_eq!(run.global.data_dir(), PathBuf::from("D"));
        let tls = parse(&["run", "--tls-cert", "c.pem", "--tls-key", "k.pem"]);
        let Some(Command::Run(args)) = &tls.command else {
            panic!("not run")
        };
        let config = args.config(&tls.global).unwrap();
        assert_eq!(
            config.tls,
            Some(TlsFiles {
                cert: "c.pem".into(),
                key: "k.pem".into()
            })
        );
        assert!(Cli::try_parse_from(["testigo-node", "run", "--tls-cert", "c.pem"]).is_err());
        let init = parse(&["init", "--origin", "o.example/log", "--data-dir", "D"]);
        assert_eq!(init.global.data_dir(), PathBuf::from("D"));
    }

    #[test]
    fn defaults_and_bad_values() {
        let cli = parse(&["operator", "settle", "3", "--reference", "r"]);
        assert_eq!(cli.global.data_dir(), PathBuf::from("./testigo-data"));
        assert_eq!(cli.global.wait(), Wait::Sequenced);
        let error = Cli::try_parse_from(["testigo-node", "--wait", "forever", "run"]).unwrap_err();
        assert_eq!(error.kind(), clap::error::ErrorKind::InvalidValue);
        let run = parse(&[
            "run",
            "--witness",
            "w1.example",
            "--peer",
            "12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN@/ip4/127.0.0.1/tcp/7701",
        ]);
        let Some(Command::Run(args)) = &run.command else {
            panic!("not run")
        };
        let config = args.config(&run.global).unwrap();
        assert_eq!(config.role, testigo_node::Role::Witness);
        assert_eq!(config.witness_name.as_deref(), Some("w1.example"));
        assert_eq!(
            config.peers[0].addr.as_deref(),
            Some("/ip4/127.0.0.1/tcp/7701")
        );
        assert!(
            Cli::try_parse_from([
                "testigo-node",
                "run",
                "--witness",
                "w",
                "--peer",
                "not-an-id"
            ])
            .is_ok_and(|cli| match &cli.command {
                Some(Command::Run(args)) => args.config(&cli.global).is_err(),
                _ => false,
            }),
            "a bad peer id is refused when the config is validated"
        );
        let cli = parse(&["run", "--wait", "checkpointed"]);
        assert!(cli.global.refuse_client_options("run").is_err());
        assert!(parse(&["run"]).global.refuse_client_options("run").is_ok());
    }

    #[test]
    fn run_creates_a_log_only_in_the_default_directory() {
        let dir = tempfile::tempdir().unwrap();
        let named = dir.path().join("named");
        let named = named.to_str().unwrap();
        let cli = parse(&["run", "--data-dir", named]);
        let Some(Command::Run(args)) = &cli.command else {
            panic!("not run")
        };
        let config = args.config(&cli.global).unwrap();
        assert!(!args.creates_log(&cli.global, &config));
        let cli = parse(&["run"]);
        let Some(Command::Run(args)) = &cli.command else {
            panic!("not run")
        };
        let config = args.config(&cli.global).unwrap();
        assert_eq!(
            args.creates_log(&cli.global, &config),
            testigo_node::datadir::is_empty(&config)
        );
    }
}

//! The command line (clap derive): one subcommand enum, one module per command in `cmd/`.

use std::path::PathBuf;

/// Exit codes, shown at the end of `--help` and in the README.
pub const EXIT_CODES: &str = "Exit codes:
  0  done, everything verified
  1  local error (wallet directory, key file, wrong passphrase, bad file)
  2  usage error (bad arguments)
  3  the node refused the request (its code and message are printed)
  4  no node could be reached
  5  the node is busy: try again later
  6  INTEGRITY FAILURE: a node answered something that fails verification (a lying node); evidence is saved where it can be
  7  stale or unwitnessed: the only checkpoints on offer are older than allowed, older than the trusted one, or lack the witness quorum

Passphrase: from --passphrase-file, else $TESTIGO_WALLET_PASSPHRASE, else a prompt without echo.";

const EXAMPLES: &str = "Examples:
  testigo-wallet init --node http://127.0.0.1:7700 --trust-file log.trust.json
  testigo-wallet address
  testigo-wallet history --category pd:Location --since 2026-12-01
  testigo-wallet balance --json
  testigo-wallet consent grant --any --category pd:Location --purpose dpv:ResearchAndDevelopment --price 0.05
  testigo-wallet consent revoke 12
  testigo-wallet claim 1.50 --payout-ref 'IBAN ES91 2100 0418 4502 0005 1332'
  testigo-wallet verify";

/// Testigo wallet: your verified view of who used your data, your consents, prices, earnings
/// and receipts. Everything it shows is checked against the log's signatures first.
#[derive(Debug, clap::Parser)]
#[command(version, after_help = format!("{EXAMPLES}\n\n{EXIT_CODES}"))]
pub struct Cli {
    /// Options every command takes.
    #[command(flatten)]
    pub global: Global,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes.
#[derive(Debug, Clone, clap::Args)]
pub struct Global {
    /// The wallet directory (key file, trust state, evidence) [default: ~/.testigo-wallet].
    #[arg(long, global = true, env = "TESTIGO_WALLET_DIR")]
    pub wallet_dir: Option<PathBuf>,
    /// A node of the log (repeat for the primary and its witnesses); replaces the nodes saved at init.
    #[arg(long = "node", global = true)]
    pub nodes: Vec<String>,
    /// Read the passphrase from this file (its first line) instead of the environment or a prompt.
    #[arg(long, global = true)]
    pub passphrase_file: Option<PathBuf>,
    /// Print data as JSON.
    #[arg(long, global = true)]
    pub json: bool,
}

/// The commands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Create a wallet: a new key in an encrypted key file, and the pinned log.
    #[command(after_help = INIT_HELP)]
    Init(InitArgs),
    /// Create a wallet from a key file exported before (`export`), pinning the log as `init` does.
    Import(ImportArgs),
    /// Print the wallet's public key (its account in the log).
    Address,
    /// Write the key file, still encrypted, to FILE for a backup.
    Export(ExportArgs),
    /// Fetch and verify the account and its whole history, and save the new trusted state.
    Sync,
    /// The verified history: who accessed what, why, under which legal basis, when, at what price.
    History(HistoryArgs),
    /// The verified balance, earnings, fees and claims.
    Balance,
    /// Re-check everything held locally (no network); non-zero exit with the reason if anything fails.
    Verify,
    /// Grant, list and revoke consents.
    #[command(subcommand)]
    Consent(ConsentCommand),
    /// Claim earnings (any amount up to the balance) to be paid out to PAYOUT_REF.
    Claim(ClaimArgs),
    /// Data buyers: access a subject's data, finding a matching consent and its price if none is named.
    Access(AccessArgs),
    /// Data buyers: the consents that name this key or any accessor.
    ConsentsReceived,
    /// Serve your dashboard on 127.0.0.1: the verified history live, charts, alerts, and
    /// granting, revoking and claiming in one click.
    #[command(after_help = DASHBOARD_HELP)]
    Dashboard(DashboardArgs),
}

const DASHBOARD_HELP: &str =
    "The dashboard listens on 127.0.0.1 only and prints a URL with a session token; open it in \
your browser (the token becomes a cookie). The key stays in this process; the passphrase is asked
in this terminal (or taken from --passphrase-file or $TESTIGO_WALLET_PASSPHRASE). Ctrl-C stops it.

Examples:
  testigo-wallet dashboard
  testigo-wallet dashboard --port 7781
  testigo-wallet --node http://127.0.0.1:7700 --node http://127.0.0.1:7710 dashboard --json";

/// `dashboard`.
#[derive(Debug, Clone, clap::Args)]
pub struct DashboardArgs {
    /// The loopback port to listen on (0: any free port).
    #[arg(long, default_value_t = 7781)]
    pub port: u16,
}

const INIT_HELP: &str = "The log must be pinned in one of three ways, never learned silently:
  --log-key KEY --genesis-hash HASH   values the operator published (base64, as `testigo-node trust-file` prints them)
  --trust-file FILE                   the trust file the operator published (`testigo-node trust-file`)
  --tofu                              trust the node on first use; compare the printed fingerprint out of band

Example:
  testigo-wallet init --node http://127.0.0.1:7700 --tofu";

/// How to pin the log.
#[derive(Debug, Clone, clap::Args)]
pub struct PinArgs {
    /// The log key (base64), published by the operator.
    #[arg(long, requires = "genesis_hash", conflicts_with_all = ["trust_file", "tofu"])]
    pub log_key: Option<String>,
    /// The genesis leaf hash (base64 or hex), published by the operator.
    #[arg(long, requires = "log_key")]
    pub genesis_hash: Option<String>,
    /// The trust file the operator published.
    #[arg(long, conflicts_with = "tofu")]
    pub trust_file: Option<PathBuf>,
    /// Trust the node on first use, printing the fingerprint to compare out of band.
    #[arg(long)]
    pub tofu: bool,
    /// scrypt work factor (log2) of the key file [default: 18, about a second].
    #[arg(long, hide = true, default_value_t = crate::keyfile::DEFAULT_WORK_FACTOR)]
    pub work_factor: u8,
}

/// `init`.
#[derive(Debug, Clone, clap::Args)]
pub struct InitArgs {
    /// How to pin the log.
    #[command(flatten)]
    pub pin: PinArgs,
}

/// `import`.
#[derive(Debug, Clone, clap::Args)]
pub struct ImportArgs {
    /// The exported key file.
    pub file: PathBuf,
    /// How to pin the log.
    #[command(flatten)]
    pub pin: PinArgs,
}

/// `export`.
#[derive(Debug, Clone, clap::Args)]
pub struct ExportArgs {
    /// Where to write it (must not exist).
    pub file: PathBuf,
}

/// `history`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct HistoryArgs {
    /// Only accesses by this accessor (base64 key).
    #[arg(long)]
    pub accessor: Option<String>,
    /// Only this data category (DPV term, e.g. pd:Location).
    #[arg(long)]
    pub category: Option<String>,
    /// Only this purpose (DPV term, e.g. dpv:PersonalisedAdvertising).
    #[arg(long)]
    pub purpose: Option<String>,
    /// Only entries from this time on (RFC 3339, local date, or Unix ms).
    #[arg(long)]
    pub since: Option<String>,
    /// Only entries before this time.
    #[arg(long)]
    pub until: Option<String>,
    /// Print CSV.
    #[arg(long, conflicts_with = "json")]
    pub csv: bool,
    /// Only the verified local state, without contacting a node.
    #[arg(long)]
    pub offline: bool,
}

/// `consent …`.
#[derive(Debug, clap::Subcommand)]
pub enum ConsentCommand {
    /// Grant a consent.
    #[command(
        after_help = "Example:\n  testigo-wallet consent grant --any --category pd:Location --purpose dpv:ResearchAndDevelopment --price 0.05 --until 2027-01-01"
    )]
    Grant(GrantArgs),
    /// List your consents (from your verified history).
    List,
    /// Revoke a consent by its id (the index `consent list` shows).
    Revoke(RevokeArgs),
}

/// `consent grant`.
#[derive(Debug, Clone, clap::Args)]
pub struct GrantArgs {
    /// The accessor allowed (base64 key).
    #[arg(long, conflicts_with = "any", required_unless_present = "any")]
    pub to: Option<String>,
    /// Any accessor (and the operator).
    #[arg(long)]
    pub any: bool,
    /// Data categories (repeat), DPV terms.
    #[arg(long = "category", required = true)]
    pub categories: Vec<String>,
    /// Purposes (repeat), DPV terms.
    #[arg(long = "purpose", required = true)]
    pub purposes: Vec<String>,
    /// Price per access, in the log's currency (e.g. 0.05).
    #[arg(long)]
    pub price: String,
    /// Valid until (RFC 3339, local date, or Unix ms); open-ended without.
    #[arg(long)]
    pub until: Option<String>,
}

/// `consent revoke`.
#[derive(Debug, Clone, clap::Args)]
pub struct RevokeArgs {
    /// The consent id.
    pub id: u64,
}

/// `claim`.
#[derive(Debug, Clone, clap::Args)]
pub struct ClaimArgs {
    /// The amount, in the log's currency (e.g. 1.50).
    pub amount: String,
    /// Your payout instructions (e.g. an IBAN); only their hash is logged.
    #[arg(long)]
    pub payout_ref: String,
}

/// `access`.
#[derive(Debug, Clone, clap::Args)]
pub struct AccessArgs {
    /// The subject (base64 key).
    #[arg(long)]
    pub subject: String,
    /// The data category (DPV term).
    #[arg(long)]
    pub category: String,
    /// The purpose (DPV term).
    #[arg(long)]
    pub purpose: String,
    /// The consent to use (its id); found among the consents received when not given.
    #[arg(long)]
    pub consent: Option<u64>,
}

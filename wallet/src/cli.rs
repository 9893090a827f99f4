//! The command line (clap derive): one subcommand enum, one module per command in `cmd/`.

use std::path::PathBuf;

/// Exit codes, shown at the end of `--help` and in the README.
pub const EXIT_CODES: &str = "Exit codes:
  0  done, everything verified
  1  local error (wallet directory, key file, wrong passphrase, bad file)
  2  usage error (bad arguments)
  3  the node refused the request (its code and message are printed), or refused lines of an access-batch
  4  no node could be reached
  5  the node is busy: try again later
  6  INTEGRITY FAILURE: a node answered something that fails verification (a lying node; evidence is saved where it can be), or a receipt does not verify
  7  stale or unwitnessed: the only checkpoints on offer are older than allowed, older than the trusted one, or lack the witness quorum

With --json, data goes to standard output as JSON (watch: one object per line) and an error to
standard error as one JSON line: {\"error\": {\"exit_code\", \"kind\", \"message\"}}.

Passphrase: from --passphrase-file, else $TESTIGO_WALLET_PASSPHRASE, else a prompt without echo.";

const EXAMPLES: &str = "Examples:
  testigo-wallet init --node http://127.0.0.1:7700 --trust-file log.trust.json
  testigo-wallet address
  testigo-wallet history --category pd:Location --since 2026-12-01
  testigo-wallet balance --json
  testigo-wallet consent grant --any --category pd:Location --purpose dpv:ResearchAndDevelopment --price 0.05
  testigo-wallet consent revoke 12
  testigo-wallet claim 1.50 --payout-ref 'IBAN ES91 2100 0418 4502 0005 1332'
  testigo-wallet verify
  testigo-wallet watch
  testigo-wallet proof 12 31 --out revoked-then-used.testigo-receipt
  testigo-wallet verify-proof revoked-then-used.testigo-receipt
  testigo-wallet export-data --out my-data.json
  testigo-wallet access-batch requests.jsonl --json";

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
    /// Milliseconds added to this machine's clock when judging a checkpoint's age (hidden: to
    /// show, and test, what a wallet does with a log that stopped checkpointing).
    #[arg(
        long,
        global = true,
        hide = true,
        default_value_t = 0,
        allow_hyphen_values = true
    )]
    pub clock_offset_ms: i64,
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
    /// Fetch and verify the account and the history entries after those held, and save the new
    /// trusted state.
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
    /// Write an offline receipt of entries of your verified history (e.g. a revocation and an access after it).
    #[command(after_help = PROOF_HELP)]
    Proof(ProofArgs),
    /// Your GDPR Art. 15/20 export in JSON: every recipient by name (key), every access, every consent as an ISO/IEC TS 27560 record.
    #[command(after_help = EXPORT_DATA_HELP)]
    ExportData(ExportDataArgs),
    /// Data buyers: submit accesses from a JSON-lines file, with progress and a summary of what was accepted and refused.
    #[command(after_help = BATCH_HELP)]
    AccessBatch(BatchArgs),
    /// Print each new access to your data as soon as a witnessed checkpoint covers it, verified first; reconnects by itself.
    #[command(after_help = WATCH_HELP)]
    Watch(WatchArgs),
    /// Check a receipt offline, against the pinned log key (or --log-key), with no node.
    #[command(after_help = VERIFY_PROOF_HELP)]
    VerifyProof(VerifyProofArgs),
    /// Serve your dashboard on 127.0.0.1: the verified history live, charts, alerts, and
    /// granting, revoking and claiming in one click.
    #[command(after_help = DASHBOARD_HELP)]
    Dashboard(DashboardArgs),
}

const PROOF_HELP: &str =
    "The receipt (docs/PROTOCOL.md §12) holds the genesis leaf, the entries with their inclusion
proofs and the trusted checkpoint with its cosignatures: anyone with the log key checks it offline.

Example:
  testigo-wallet proof 12 31 --out revoked-then-used.testigo-receipt";

const VERIFY_PROOF_HELP: &str =
    "Exit 0 when every entry is proven; 6 with the reason when anything fails.

Examples:
  testigo-wallet verify-proof revoked-then-used.testigo-receipt
  testigo-wallet verify-proof receipt.testigo-receipt --log-key BASE64KEY --genesis-hash HASH";

const EXPORT_DATA_HELP: &str =
    "Everything in it comes from your verified history (format testigo.gdpr-export/v1, README).

Examples:
  testigo-wallet export-data --out my-data.json
  testigo-wallet export-data --offline | jq '.recipients'";

/// `export-data`.
#[derive(Debug, Clone, clap::Args)]
pub struct ExportDataArgs {
    /// Write the export to FILE (must not exist) instead of standard output.
    #[arg(long, short = 'o')]
    pub out: Option<PathBuf>,
    /// Only the verified local state, without contacting a node.
    #[arg(long)]
    pub offline: bool,
}

const BATCH_HELP: &str = "One request per line, as `access` takes it (the consent is found when not given):
  {\"subject\": \"BASE64KEY\", \"category\": \"pd:Location\", \"purpose\": \"dpv:ResearchAndDevelopment\"}
  {\"subject\": \"BASE64KEY\", \"category\": \"pd:Location\", \"purpose\": \"dpv:ResearchAndDevelopment\", \"consent\": 12}
Blank lines are skipped; at most 100,000 lines of 4 KiB. Exit 0 when every line was accepted (and
found in your verified history), 3 when any was refused: the summary names each by its line.

Example:
  testigo-wallet access-batch requests.jsonl --json > summary.json";

/// `access-batch`.
#[derive(Debug, Clone, clap::Args)]
pub struct BatchArgs {
    /// The JSON-lines file.
    pub file: PathBuf,
    /// Entries per request to the node (1 to 1000).
    #[arg(long, default_value_t = 256)]
    pub chunk: usize,
}

const WATCH_HELP: &str =
    "Runs until stopped (or until --count accesses were printed). With --json, one JSON object per
line. A node that fails verification ends the watch with exit 6; a lost connection is retried.

Examples:
  testigo-wallet watch
  testigo-wallet watch --json --count 1   # wait for the next access, then exit";

/// `watch`.
#[derive(Debug, Clone, clap::Args)]
pub struct WatchArgs {
    /// Exit after printing this many accesses.
    #[arg(long)]
    pub count: Option<u64>,
}

/// `proof`.
#[derive(Debug, Clone, clap::Args)]
pub struct ProofArgs {
    /// Leaf indexes of entries in your verified history (as `history` shows them).
    #[arg(required = true)]
    pub indexes: Vec<u64>,
    /// The receipt file to write (must not exist).
    #[arg(long, short = 'o')]
    pub out: PathBuf,
}

/// `verify-proof`.
#[derive(Debug, Clone, clap::Args)]
pub struct VerifyProofArgs {
    /// The receipt file.
    pub file: PathBuf,
    /// Check against this log key (base64) instead of the wallet's pinned one.
    #[arg(long)]
    pub log_key: Option<String>,
    /// And this genesis leaf hash (base64 or hex).
    #[arg(long)]
    pub genesis_hash: Option<String>,
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

#[cfg(test)]
mod tests {
    use clap::{CommandFactory as _, Parser as _};

    use super::*;

    #[test]
    fn every_command_takes_json_and_the_help_documents_exit_codes_and_examples() {
        let mut cli = Cli::command();
        cli.build();
        let help = cli.render_long_help().to_string();
        for needle in [
            "Exit codes:",
            "0  done",
            "6  INTEGRITY FAILURE",
            "7  stale",
            "Examples:",
        ] {
            assert!(
                help.contains(needle),
                "{needle:?} missing from --help:\n{help}"
            );
        }
        let leaves: Vec<Vec<String>> = cli
            .get_subcommands()
            .flat_map(|c| {
                let name = c.get_name().to_owned();
                let subs: Vec<Vec<String>> = c
                    .get_subcommands()
                    .map(|s| vec![name.clone(), s.get_name().to_owned()])
                    .collect();
                if subs.is_empty() {
                    vec![vec![name]]
                } else {
                    subs
                }
            })
            .filter(|path| path[0] != "help" && path.get(1).is_none_or(|s| s != "help"))
            .collect();
        assert!(leaves.len() >= 19, "{leaves:?}");
        for path in leaves {
            let cmd = cli
                .find_subcommand(&path[0])
                .and_then(|c| path.get(1).map_or(Some(c), |s| c.find_subcommand(s)))
                .expect("subcommand");
            assert!(
                cmd.get_arguments().any(|a| a.get_id() == "json"),
                "{path:?} does not take --json"
            );
            let help = cmd.clone().render_long_help().to_string();
            assert!(help.contains("--json"), "{path:?}: {help}");
        }
        // A global flag parses after any command.
        let parsed = Cli::try_parse_from(["testigo-wallet", "address", "--json"]).expect("parses");
        assert!(parsed.global.json);
    }
}

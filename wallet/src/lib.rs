//! # testigo-wallet
//!
//! The customer's wallet (DESIGN §6, §8): everything it shows is verified, never taken on
//! trust. At `init` it pins the log (its log key and genesis leaf hash, from the command line,
//! from the operator's trust file, or on first use with a fingerprint to compare); then on every
//! contact it walks the chain of trust with `testigo_ledger::verify`:
//!
//! ```text
//! checkpoint ─▶ signed by the log key, cosigned by the Genesis quorum, not stale
//!            ─▶ consistent with the trusted checkpoint (trust.json), same root as every other
//!               node's checkpoint of that size (else: split-view evidence saved)
//!            ─▶ StateRoot leaf included as its last leaf ─▶ map proof of the account record
//!            ─▶ every history leaf included, involving the account, chained into the record's
//!               history length and head, and signed (batched: ledger::entry::verify_leaves)
//! ```
//!
//! and only then replaces `trust.json` atomically. The key lives in an `age` file under a
//! passphrase ([`keyfile`]). The binary is `src/main.rs`; [`run`] is the whole program, so the
//! end-to-end tests drive the real wallet in-process.

pub mod batch_file;
pub mod cli;
mod cmd;
pub mod dashboard;
pub mod error;
pub mod format;
mod fsutil;
pub mod keyfile;
pub mod state;
pub mod sync;

use std::io::Write;
use std::path::PathBuf;

use clap::Parser as _;
use ed25519_dalek::SigningKey;
use testigo_client::{Client, Signer};

pub use error::{WalletError, exit};

use cli::{Cli, Command, Global};
use error::Result;

/// Where the wallet writes: data and results on `out`, progress and errors on `err`.
pub struct Io {
    /// Standard output.
    pub out: Box<dyn Write + Send>,
    /// Standard error.
    pub err: Box<dyn Write + Send>,
}

impl std::fmt::Debug for Io {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Io")
    }
}

/// Runs the wallet with `args` (the first being the program name) and returns its exit code.
pub async fn run<I, T>(args: I, io: &mut Io) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            };
            let text = e.render().to_string();
            let _ = if e.use_stderr() {
                io.err.write_all(text.as_bytes())
            } else {
                io.out.write_all(text.as_bytes())
            };
            return code;
        }
    };
    let json = cli.global.json;
    match execute(cli, io).await {
        Ok(()) => exit::OK,
        Err(e) => {
            let _ = if json {
                let error = serde_json::json!({"error": {
                    "exit_code": e.exit_code(), "kind": e.kind(), "message": e.to_string(),
                }});
                writeln!(io.err, "{error}")
            } else {
                writeln!(io.err, "testigo-wallet: {e}")
            };
            e.exit_code()
        }
    }
}

async fn execute(cli: Cli, io: &mut Io) -> Result<()> {
    let mut ctx = Ctx::new(cli.global, io)?;
    match cli.command {
        Command::Init(args) => cmd::keys::init(&mut ctx, &args.pin, None).await,
        Command::Import(args) => cmd::keys::init(&mut ctx, &args.pin, Some(&args.file)).await,
        Command::Address => cmd::keys::address(&mut ctx),
        Command::Export(args) => cmd::keys::export(&mut ctx, &args.file),
        Command::Sync => cmd::view::sync(&mut ctx).await,
        Command::History(args) => cmd::view::history(&mut ctx, &args).await,
        Command::Balance => cmd::view::balance(&mut ctx).await,
        Command::Verify => cmd::view::verify(&mut ctx),
        Command::Consent(c) => cmd::consent::run(&mut ctx, c).await,
        Command::Claim(args) => cmd::consent::claim(&mut ctx, &args).await,
        Command::Access(args) => cmd::buyer::access(&mut ctx, &args).await,
        Command::ConsentsReceived => cmd::buyer::consents_received(&mut ctx).await,
        Command::ExportData(args) => cmd::export::export_data(&mut ctx, &args).await,
        Command::AccessBatch(args) => cmd::batch::access_batch(&mut ctx, &args).await,
        Command::Watch(args) => cmd::watch::watch(&mut ctx, &args).await,
        Command::Proof(args) => cmd::receipt::proof(&mut ctx, &args).await,
        Command::VerifyProof(args) => cmd::receipt::verify_proof(&mut ctx, &args),
        Command::Dashboard(args) => dashboard::run(&mut ctx, &args).await,
    }
}

/// What every command works with.
pub(crate) struct Ctx<'a> {
    pub(crate) global: Global,
    pub(crate) dir: PathBuf,
    pub(crate) io: &'a mut Io,
    pub(crate) now_ms: u64,
}

impl<'a> Ctx<'a> {
    fn new(global: Global, io: &'a mut Io) -> Result<Self> {
        let dir = match &global.wallet_dir {
            Some(d) => d.clone(),
            None => std::env::var_os("HOME")
                .map(|h| PathBuf::from(h).join(".testigo-wallet"))
                .ok_or_else(|| WalletError::Usage("no --wallet-dir and no $HOME".into()))?,
        };
        let mut ctx = Self {
            global,
            dir,
            io,
            now_ms: 0,
        };
        ctx.now_ms = ctx.now();
        Ok(ctx)
    }

    /// The time now, Unix ms, as this wallet judges it (the clock plus `--clock-offset-ms`).
    pub(crate) fn now(&self) -> u64 {
        testigo_client::now_ms().saturating_add_signed(self.global.clock_offset_ms)
    }

    /// Writes to standard output.
    pub(crate) fn out(&mut self, text: &str) -> Result<()> {
        self.io
            .out
            .write_all(text.as_bytes())
            .and_then(|()| self.io.out.flush())
            .map_err(|e| WalletError::local("writing the output", e))
    }

    /// Writes a line to standard error (progress, warnings).
    pub(crate) fn note(&mut self, text: &str) {
        let _ = writeln!(self.io.err, "{text}");
    }

    /// Prints a JSON value on one line.
    pub(crate) fn json(&mut self, value: &serde_json::Value) -> Result<()> {
        let text =
            serde_json::to_string_pretty(value).map_err(|e| WalletError::local("encoding", e))?;
        self.out(&format!("{text}\n"))
    }

    /// The passphrase: `--passphrase-file`, `$TESTIGO_WALLET_PASSPHRASE`, or a prompt (twice
    /// when `confirm`).
    pub(crate) fn passphrase(&mut self, confirm: bool) -> Result<String> {
        if let Some(path) = &self.global.passphrase_file {
            let bytes = fsutil::read_limited(path, 4096)?;
            let text = String::from_utf8(bytes)
                .map_err(|_| WalletError::Local(format!("{} is not text", path.display())))?;
            let line = text.lines().next().unwrap_or_default().to_owned();
            return non_empty(line);
        }
        if let Ok(p) = std::env::var("TESTIGO_WALLET_PASSPHRASE") {
            return non_empty(p);
        }
        let first = rpassword::prompt_password("Wallet passphrase: ")
            .map_err(|e| WalletError::local("reading the passphrase (no terminal? use --passphrase-file or TESTIGO_WALLET_PASSPHRASE)", e))?;
        if confirm {
            let again = rpassword::prompt_password("Again: ")
                .map_err(|e| WalletError::local("reading the passphrase", e))?;
            if again != first {
                return Err(WalletError::Local(
                    "the passphrases differ; nothing was changed".into(),
                ));
            }
        }
        non_empty(first)
    }

    /// Opens the key file.
    pub(crate) fn key(&mut self) -> Result<SigningKey> {
        let path = self.dir.join(state::KEY_FILE);
        let bytes = fsutil::read_limited(&path, keyfile::MAX_KEY_FILE_BYTES as u64)?;
        let passphrase = self.passphrase(false)?;
        keyfile::open(&bytes, &passphrase).map_err(|e| WalletError::local(path.display(), e))
    }

    /// Clients for the nodes given on the command line, else those saved, signing with `key`.
    pub(crate) fn clients(&self, saved: &[String], key: &SigningKey) -> Result<Vec<Client>> {
        let nodes = if self.global.nodes.is_empty() {
            saved
        } else {
            &self.global.nodes
        };
        if nodes.is_empty() {
            return Err(WalletError::Usage("no node: give --node URL".into()));
        }
        nodes
            .iter()
            .map(|url| {
                Client::new(url)
                    .map(|c| c.with_signer(Signer::new(key.clone())))
                    .map_err(|e| WalletError::Usage(format!("--node {url}: {e}")))
            })
            .collect()
    }
}

fn non_empty(passphrase: String) -> Result<String> {
    if passphrase.is_empty() {
        return Err(WalletError::Local(
            "an empty passphrase is not allowed".into(),
        ));
    }
    Ok(passphrase)
}

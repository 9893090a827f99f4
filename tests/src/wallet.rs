//! Runs the real wallet (`testigo_wallet::run`, the whole program behind the binary) in-process
//! on its own temporary wallet directory, capturing its output and exit code.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tempfile::TempDir;

/// The passphrase every test wallet uses.
pub const PASSPHRASE: &str = "correct horse battery staple";

/// A wallet directory and how to run the wallet on it.
#[derive(Debug)]
pub struct Wallet {
    root: TempDir,
    /// The nodes given with `--node` to every command (none: the ones saved at init).
    pub nodes: Vec<String>,
}

/// One run's result.
#[derive(Debug, Clone)]
pub struct Run {
    /// The exit code.
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Run {
    /// The output parsed as JSON; panics with the run if it is not.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {self:?}"))
    }

    /// Panics unless the run exited 0.
    #[track_caller]
    pub fn ok(self) -> Self {
        assert_eq!(self.code, 0, "wallet failed: {self:?}");
        self
    }
}

/// Captured output; every write wakes whoever waits for a text to appear in it.
#[derive(Clone, Default)]
struct Buffer(Arc<(Mutex<Vec<u8>>, tokio::sync::Notify)>);

impl Write for Buffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.0.lock().expect("buffer").extend_from_slice(bytes);
        self.0.1.notify_waiters();
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Buffer {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.0.lock().expect("buffer")).into_owned()
    }

    /// Waits until the output holds `wanted` `times` times; returns the whole output.
    async fn until(&self, wanted: &str, times: usize) -> String {
        loop {
            let notified = self.0.1.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let text = self.text();
            if text.matches(wanted).count() >= times {
                return text;
            }
            notified.await;
        }
    }
}

/// A wallet command running in the background (`watch`), its output readable as it comes.
#[derive(Debug)]
pub struct Live {
    out: Buffer,
    err: Buffer,
    task: tokio::task::JoinHandle<i32>,
}

impl std::fmt::Debug for Buffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.text())
    }
}

/// How long a test waits for a running wallet to print something.
const LIVE_DEADLINE: std::time::Duration = std::time::Duration::from_secs(60);

impl Live {
    /// Waits until standard output holds `wanted` `times` times; returns it.
    pub async fn stdout_has(&self, wanted: &str, times: usize) -> String {
        tokio::time::timeout(LIVE_DEADLINE, self.out.until(wanted, times))
            .await
            .unwrap_or_else(|_| panic!("{wanted:?} not printed: {self:?}"))
    }

    /// Waits until standard error holds `wanted` `times` times; returns it.
    pub async fn stderr_has(&self, wanted: &str, times: usize) -> String {
        tokio::time::timeout(LIVE_DEADLINE, self.err.until(wanted, times))
            .await
            .unwrap_or_else(|_| panic!("{wanted:?} not in stderr: {self:?}"))
    }

    /// Waits for the command to end.
    pub async fn finish(self) -> Run {
        let code = tokio::time::timeout(LIVE_DEADLINE, self.task)
            .await
            .expect("the wallet ended within the deadline")
            .expect("the wallet did not panic");
        Run {
            code,
            stdout: self.out.text(),
            stderr: self.err.text(),
        }
    }
}

impl Default for Wallet {
    fn default() -> Self {
        Self::new()
    }
}

impl Wallet {
    /// A wallet directory not created yet (`init` creates it), with the passphrase in a file.
    pub fn new() -> Self {
        let root = tempfile::tempdir().expect("temporary directory");
        std::fs::write(root.path().join("passphrase"), format!("{PASSPHRASE}\n"))
            .expect("passphrase file");
        Self {
            root,
            nodes: Vec::new(),
        }
    }

    /// The wallet directory.
    pub fn dir(&self) -> PathBuf {
        self.root.path().join("wallet")
    }

    /// A path beside the wallet directory, for files a test writes or reads.
    pub fn path(&self, name: &str) -> PathBuf {
        self.root.path().join(name)
    }

    /// Runs `testigo-wallet ARGS` with this wallet's directory, passphrase file and nodes.
    pub async fn run(&self, args: &[&str]) -> Run {
        self.run_with_passphrase(args, &self.root.path().join("passphrase"))
            .await
    }

    /// Starts `testigo-wallet ARGS` in the background, as [`Wallet::run`] runs it.
    pub fn spawn(&self, args: &[&str]) -> Live {
        let argv = self.argv(args, &self.root.path().join("passphrase"));
        let (out, err) = (Buffer::default(), Buffer::default());
        let mut io = testigo_wallet::Io {
            out: Box::new(out.clone()),
            err: Box::new(err.clone()),
        };
        let task = tokio::spawn(async move { testigo_wallet::run(argv, &mut io).await });
        Live { out, err, task }
    }

    fn argv(&self, args: &[&str], file: &Path) -> Vec<String> {
        let mut argv: Vec<String> = vec![
            "testigo-wallet".into(),
            "--wallet-dir".into(),
            self.dir().display().to_string(),
            "--passphrase-file".into(),
            file.display().to_string(),
        ];
        for node in &self.nodes {
            argv.push("--node".into());
            argv.push(node.clone());
        }
        argv.extend(args.iter().map(|a| (*a).to_owned()));
        argv
    }

    /// As [`Wallet::run`], reading the passphrase from `file`.
    pub async fn run_with_passphrase(&self, args: &[&str], file: &Path) -> Run {
        let argv = self.argv(args, file);
        let (out, err) = (Buffer::default(), Buffer::default());
        let mut io = testigo_wallet::Io {
            out: Box::new(out.clone()),
            err: Box::new(err.clone()),
        };
        let code = testigo_wallet::run(argv, &mut io).await;
        Run {
            code,
            stdout: out.text(),
            stderr: err.text(),
        }
    }

    /// Runs with `--json`, requires exit 0, and returns the output.
    pub async fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut with = args.to_vec();
        with.push("--json");
        self.run(&with).await.ok().json()
    }

    /// `init --tofu` against `node` with a fast key-file work factor; returns the address.
    pub async fn init_tofu(&self, node: &str) -> testigo_ledger::PublicKey {
        let init = self
            .run(&[
                "init",
                "--node",
                node,
                "--tofu",
                "--work-factor",
                "10",
                "--json",
            ])
            .await
            .ok()
            .json();
        let address = init["address"].as_str().expect("address");
        testigo_ledger::PublicKey::from_base64(address).expect("a key")
    }

    /// The bytes of `trust.json`.
    pub fn trust_state(&self) -> Vec<u8> {
        std::fs::read(self.dir().join("trust.json")).expect("trust.json")
    }

    /// The evidence files saved, in order.
    pub fn evidence(&self) -> Vec<PathBuf> {
        let Ok(dir) = std::fs::read_dir(self.dir().join("evidence")) else {
            return Vec::new();
        };
        let mut files: Vec<PathBuf> = dir.filter_map(|e| e.ok().map(|e| e.path())).collect();
        files.sort();
        files
    }
}

/// A primary with one witness at quorum 1: the log a wallet test verifies against.
pub async fn witnessed_cluster() -> crate::cluster::Cluster {
    crate::cluster::Cluster::start(crate::cluster::ClusterOptions {
        witnesses: 1,
        started: 1,
        quorum: 1,
        ..crate::cluster::ClusterOptions::default()
    })
    .await
}

/// Submits an operator entry to `cluster`'s primary, answered once witnessed; its index.
pub async fn operator_submits(
    cluster: &crate::cluster::Cluster,
    leaf: &testigo_ledger::entry::Leaf,
) -> u64 {
    cluster
        .primary
        .as_operator()
        .submit(leaf, testigo_ledger::api::Wait::Witnessed)
        .await
        .expect("operator entry")
        .index
}

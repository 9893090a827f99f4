//! `testigo-node loadgen`: a benchmark of a running node.
//!
//! It registers subjects and one accessor per concurrent connection (so each accessor's nonces
//! arrive in order), funds them, has every subject grant a consent, pre-signs the `Access`
//! entries on all cores, and then — the timed part — submits them in the binary batch form with
//! `concurrency` requests in flight. It follows `/v1/events` meanwhile, so it knows when each
//! batch was first covered by a checkpoint even when it only waits for `sequenced`.
//!
//! ```text
//! loadgen: 200000 Access entries, concurrency 8, batch 256, wait=sequenced
//! throughput        24310 entries/s (200000 in 8.23 s), 0 refused, 0 retries after 503
//! ceiling           ZIP 215 verify_batch(1024 keys) on 2 cores at once: 172024 sig/s (1 s before and after the run; one core's best batch 90012/s); ratio 0.141
//! to sequenced      p50 80.1 ms, p95 120.3 ms, p99 150.0 ms, max 170.2 ms (782 requests)
//! ```
//!
//! It talks to the node through `testigo-client`. Its operator and statistics modules are public:
//! the traffic simulator and the crash test drive nodes with them too.

mod ceiling;
pub mod operator;
mod report;
mod run;
mod setup;
pub mod stats;

use std::path::PathBuf;

use anyhow::ensure;
use testigo_ledger::api::Wait;

pub use ceiling::{Ceiling, measure as measure_ceiling};
pub use report::Report;
pub use run::run;

/// A validated load-generator run.
#[derive(Clone, Debug)]
pub struct LoadgenConfig {
    /// The node, e.g. `http://127.0.0.1:7700`.
    pub node: String,
    /// The node's data directory: the operator key is read from it.
    pub data_dir: PathBuf,
    /// `Access` entries to submit.
    pub entries: usize,
    /// Requests in flight (and accessors).
    pub concurrency: usize,
    /// Entries per request.
    pub batch: usize,
    /// What each request waits for.
    pub wait: Wait,
    /// Subjects the accesses are spread over.
    pub subjects: usize,
    /// Seed of every key and choice (mixed with the operator's nonce, so reruns differ).
    pub seed: u64,
    /// The node's process id, to report its memory.
    pub node_pid: Option<u32>,
    /// Cores the ceiling assumes (the node's machine).
    pub cores: usize,
    /// Offered load in entries/s; `None` sends as fast as the node answers.
    pub rate: Option<u64>,
}

impl LoadgenConfig {
    /// Checks ranges before any work starts.
    ///
    /// # Errors
    /// Naming the flag that is out of range.
    pub fn validate(&self) -> anyhow::Result<()> {
        ensure!(self.entries > 0, "--entries must be at least 1");
        ensure!(
            (1..=1024).contains(&self.concurrency),
            "--concurrency must be 1..=1024"
        );
        ensure!(
            (1..=10_000).contains(&self.batch),
            "--batch must be 1..=10000 (the node's default submission cap)"
        );
        ensure!(self.subjects > 0, "--subjects must be at least 1");
        ensure!(self.cores > 0, "--cores must be at least 1");
        ensure!(self.rate != Some(0), "--rate must be at least 1 entry/s");
        Ok(())
    }
}

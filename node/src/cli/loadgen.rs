//! `testigo-node loadgen`: flags → [`LoadgenConfig`], then the run and its report.

use std::path::PathBuf;

use anyhow::Context as _;
use testigo_ledger::api::Wait;
use testigo_node::loadgen::{self, LoadgenConfig};

/// What each request waits for.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub(crate) enum WaitArg {
    /// Durable, with its index.
    Sequenced,
    /// In a signed checkpoint, with an inclusion proof.
    Checkpointed,
}

/// Benchmark a running node: set up subjects, accessors and consents, pre-sign `Access`
/// entries on all cores, submit them in binary batches, report throughput, latency, the ratio
/// to the Ed25519 batch-verification ceiling, and the node's memory and per-phase time.
#[derive(Debug, clap::Args)]
pub(crate) struct LoadgenArgs {
    /// The node's HTTP address.
    #[arg(long, default_value = "http://127.0.0.1:7700")]
    node: String,
    /// The node's data directory (the operator key is read from it).
    #[arg(long, default_value = "./testigo-data")]
    data_dir: PathBuf,
    /// `Access` entries to submit.
    #[arg(long, default_value_t = 200_000)]
    entries: usize,
    /// Requests in flight (one accessor each).
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Entries per request.
    #[arg(long, default_value_t = 256)]
    batch: usize,
    /// What each request waits for.
    #[arg(long, value_enum, default_value = "sequenced")]
    wait: WaitArg,
    /// Subjects the accesses are spread over.
    #[arg(long, default_value_t = 1000)]
    subjects: usize,
    /// Seed of keys and choices.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// The node's process id, to report its resident memory (Linux /proc).
    #[arg(long)]
    node_pid: Option<u32>,
    /// Cores of the node's machine, for the verification ceiling.
    #[arg(long, default_value_t = 2)]
    cores: usize,
    /// Offered load in entries/s, spread evenly over the connections (default: as fast as the
    /// node answers). Latency at a given fraction of the maximum rate is measured with this.
    #[arg(long)]
    rate: Option<u64>,
}

impl LoadgenArgs {
    fn config(&self) -> anyhow::Result<LoadgenConfig> {
        let config = LoadgenConfig {
            node: self.node.clone(),
            data_dir: self.data_dir.clone(),
            entries: self.entries,
            concurrency: self.concurrency,
            batch: self.batch,
            wait: match self.wait {
                WaitArg::Sequenced => Wait::Sequenced,
                WaitArg::Checkpointed => Wait::Checkpointed,
            },
            subjects: self.subjects,
            seed: self.seed,
            node_pid: self.node_pid,
            cores: self.cores,
            rate: self.rate,
        };
        config.validate()?;
        Ok(config)
    }

    /// Runs the benchmark and prints its report.
    pub(crate) fn run(&self) -> anyhow::Result<()> {
        let config = self.config()?;
        let runtime = tokio::runtime::Runtime::new().context("cannot start the runtime")?;
        let report = runtime.block_on(loadgen::run(&config))?;
        print!("{report}");
        Ok(())
    }
}

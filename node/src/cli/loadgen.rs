//! `testigo-node loadgen`: flags → [`LoadgenConfig`], then the run and its report.

use anyhow::Context as _;
use testigo_node::loadgen::{self, LoadgenConfig};

use super::GlobalArgs;

/// Benchmark a running node: set up subjects, accessors and consents, pre-sign `Access`
/// entries on all cores, submit them in binary batches, report throughput, latency, the ratio
/// to the Ed25519 batch-verification ceiling, and the node's memory and per-phase time. The
/// node is `--node`, the operator key is read from `--data-dir`, and each request waits for
/// `--wait`.
#[derive(Debug, clap::Args)]
pub(crate) struct LoadgenArgs {
    /// `Access` entries to submit.
    #[arg(long, default_value_t = 200_000)]
    entries: usize,
    /// Requests in flight (one accessor each).
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Entries per request.
    #[arg(long, default_value_t = 256)]
    batch: usize,
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
    fn config(&self, global: &GlobalArgs) -> anyhow::Result<LoadgenConfig> {
        let config = LoadgenConfig {
            node: global.node_url(),
            data_dir: global.data_dir(),
            entries: self.entries,
            concurrency: self.concurrency,
            batch: self.batch,
            wait: global.wait(),
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
    pub(crate) fn run(&self, global: &GlobalArgs) -> anyhow::Result<()> {
        let config = self.config(global)?;
        let runtime = tokio::runtime::Runtime::new().context("cannot start the runtime")?;
        let report = runtime.block_on(loadgen::run(&config))?;
        print!("{report}");
        Ok(())
    }
}

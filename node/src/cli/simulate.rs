//! `testigo-node simulate`: flags → [`SimulateConfig`], then the run and its summary.

use anyhow::{Context as _, bail};
use testigo_node::simulate::{self, SimulateConfig};

use super::GlobalArgs;

/// Drive a running node with a plausible telecom day: subscribers, data buyers, consents with
/// prices, accesses following daily patterns, revocations, claims and payouts, and invalid
/// requests that must be refused with the expected code. The node is `--node`; the operator key
/// is read from `--data-dir`.
#[derive(Debug, clap::Args)]
pub(crate) struct SimulateArgs {
    /// Subscribers.
    #[arg(long, default_value_t = 1000)]
    subjects: usize,
    /// Data buyers besides the operator (ad networks, research institutes, insurers in turn).
    #[arg(long, default_value_t = 6)]
    accessors: usize,
    /// Simulated hours.
    #[arg(long, default_value_t = 24)]
    hours: u32,
    /// Seed of keys and choices.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Accesses per subscriber in an average hour.
    #[arg(long, default_value_t = 0.5)]
    rate: f64,
}

impl SimulateArgs {
    /// Runs the simulation and prints its summary; fails if any invalid request was answered
    /// otherwise than expected.
    pub(crate) fn run(&self, global: &GlobalArgs) -> anyhow::Result<()> {
        if global.wait.is_some() {
            bail!("--wait is for operator and loadgen; simulate chooses per entry");
        }
        let config = SimulateConfig {
            node: global.node_url(),
            data_dir: global.data_dir(),
            subjects: self.subjects,
            accessors: self.accessors,
            hours: self.hours,
            seed: self.seed,
            rate: self.rate,
        };
        config.validate()?;
        let runtime = tokio::runtime::Runtime::new().context("cannot start the runtime")?;
        let summary = runtime.block_on(simulate::run(&config))?;
        print!("{summary}");
        if !summary.mismatches.is_empty() {
            bail!(
                "{} invalid requests were not refused as expected",
                summary.mismatches.len()
            );
        }
        Ok(())
    }
}

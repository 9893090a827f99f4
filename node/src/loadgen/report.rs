//! The load generator's report, and the node's per-phase timings scraped from `/metrics`.

use std::collections::BTreeMap;
use std::time::Duration;

use testigo_client::Client;
use testigo_ledger::api::Wait;

use super::Ceiling;
use super::stats::{Percentiles, Rss};

/// The node's histogram of time per phase of the write path (`testigo_phase_seconds`).
const PHASE_METRIC: &str = "testigo_phase_seconds";

/// The phases that run on the sequencer's one thread, one after another.
const SEQUENCER_PHASES: [&str; 7] = [
    "apply",
    "tree",
    "commit",
    "state_root",
    "index",
    "sign",
    "checkpoint_commit",
];

/// Seconds and count per phase, from the node's `/metrics`.
#[derive(Clone, Debug, Default)]
pub struct Phases(pub BTreeMap<String, (f64, u64)>);

impl Phases {
    /// Reads the phase histograms' sums and counts (empty if the node has none).
    ///
    /// # Errors
    /// Connection failures.
    pub async fn scrape(client: &Client) -> anyhow::Result<Self> {
        let text = client.metrics().await?;
        let mut phases: BTreeMap<String, (f64, u64)> = BTreeMap::new();
        for line in text.lines() {
            let Some(rest) = line.strip_prefix(PHASE_METRIC) else {
                continue;
            };
            let (which, rest) = match (rest.strip_prefix("_sum{"), rest.strip_prefix("_count{")) {
                (Some(rest), _) => (true, rest),
                (_, Some(rest)) => (false, rest),
                _ => continue,
            };
            let Some((labels, value)) = rest.split_once("} ") else {
                continue;
            };
            let Some(phase) = labels
                .strip_prefix("phase=\"")
                .and_then(|p| p.strip_suffix('"'))
            else {
                continue;
            };
            let entry = phases.entry(phase.to_owned()).or_default();
            if which {
                entry.0 = value.trim().parse().unwrap_or(0.0);
            } else {
                entry.1 = value.trim().parse().unwrap_or(0);
            }
        }
        Ok(Self(phases))
    }

    /// The difference from an earlier scrape: this run's share.
    pub fn since(&self, before: &Phases) -> Phases {
        Phases(
            self.0
                .iter()
                .map(|(phase, (secs, n))| {
                    let (b_secs, b_n) = before.0.get(phase).copied().unwrap_or_default();
                    (phase.clone(), (secs - b_secs, n.saturating_sub(b_n)))
                })
                .collect(),
        )
    }
}

/// Everything a run measured.
#[derive(Debug)]
pub struct Report {
    /// Entries answered (sequenced or refused).
    pub entries: usize,
    /// Requests in flight.
    pub concurrency: usize,
    /// Entries per request.
    pub batch: usize,
    /// What requests waited for.
    pub wait: Wait,
    /// Subjects registered.
    pub subjects: usize,
    /// Registering, funding and consenting.
    pub setup: Duration,
    /// Pre-signing every access.
    pub signing: Duration,
    /// Offered load (`--rate`), entries/s; `None`: as fast as the node answers.
    pub rate: Option<u64>,
    /// First request sent to last answer.
    pub elapsed: Duration,
    /// Refused entries by code (none expected).
    pub refused: BTreeMap<String, usize>,
    /// Requests resent after `503 queue_full`.
    pub retries: usize,
    /// The signature-verification ceiling.
    pub ceiling: Ceiling,
    /// Latency to `sequenced` (only when waiting for it).
    pub to_sequenced: Option<Percentiles>,
    /// Latency to the first checkpoint covering the request.
    pub to_checkpointed: Option<Percentiles>,
    /// Latency from sending to the answer, with `--wait witnessed` (the node answers once the
    /// `Genesis` quorum has cosigned a checkpoint covering the batch).
    pub to_witnessed: Option<Percentiles>,
    /// Node memory before the timed run.
    pub rss_before: Option<Rss>,
    /// Node memory after it.
    pub rss_after: Option<Rss>,
    /// The node's time per write-path phase during the run.
    pub phases: Phases,
}

impl Report {
    /// Entries per second over the timed run.
    pub fn throughput(&self) -> f64 {
        self.entries as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Throughput as a share of the batch-verification ceiling.
    pub fn ratio(&self) -> f64 {
        self.throughput() / self.ceiling.total()
    }
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let refused: usize = self.refused.values().sum();
        writeln!(
            f,
            "loadgen: {} Access entries over {} subjects, concurrency {}, batch {}, wait={}",
            self.entries,
            self.subjects,
            self.concurrency,
            self.batch,
            self.wait.as_str()
        )?;
        if let Some(rate) = self.rate {
            writeln!(f, "offered load      {rate} entries/s")?;
        }
        writeln!(
            f,
            "setup             {:.2} s (accounts, deposits, consents); pre-signing {:.2} s",
            self.setup.as_secs_f64(),
            self.signing.as_secs_f64()
        )?;
        writeln!(
            f,
            "throughput        {:.0} entries/s ({} in {:.2} s), {refused} refused {:?}, {} retries after 503",
            self.throughput(),
            self.entries,
            self.elapsed.as_secs_f64(),
            self.refused,
            self.retries
        )?;
        writeln!(
            f,
            "ceiling           ZIP 215 verify_batch(1024 keys) on {} cores at once: {:.0} sig/s (1 s before and after the run; one core's best batch {:.0}/s); ratio {:.3}",
            self.ceiling.cores,
            self.ceiling.total(),
            self.ceiling.one_core_best,
            self.ratio()
        )?;
        let line = |p: &Option<Percentiles>| {
            p.map_or_else(|| "n/a (not waited for)".to_owned(), |p| p.to_string())
        };
        writeln!(f, "to sequenced      {}", line(&self.to_sequenced))?;
        writeln!(f, "to checkpointed   {}", line(&self.to_checkpointed))?;
        if self.to_witnessed.is_some() {
            writeln!(f, "to witnessed      {}", line(&self.to_witnessed))?;
        }
        if let (Some(before), Some(after)) = (self.rss_before, self.rss_after) {
            writeln!(
                f,
                "node RSS          {:.1} MiB before, {:.1} MiB after, peak {:.1} MiB",
                before.current_kib as f64 / 1024.0,
                after.current_kib as f64 / 1024.0,
                after.peak_kib as f64 / 1024.0
            )?;
        }
        if !self.phases.0.is_empty() {
            let per_entry = 1e6 / (self.entries.max(1) as f64);
            writeln!(
                f,
                "node phases       (seconds busy in the run, µs per entry, calls)"
            )?;
            for (phase, (secs, n)) in &self.phases.0 {
                let note = match phase.as_str() {
                    "verify_wait" => "  (requests' wall time, overlapping: not busy time)",
                    _ => "",
                };
                writeln!(
                    f,
                    "  {phase:<18}{secs:>8.3} s {:>8.1} µs {n:>8}{note}",
                    secs * per_entry
                )?;
            }
            let sequencer: f64 = self
                .phases
                .0
                .iter()
                .filter(|(phase, _)| SEQUENCER_PHASES.contains(&phase.as_str()))
                .map(|(_, (secs, _))| secs)
                .sum();
            writeln!(
                f,
                "  sequencer busy    {:.0}% of the run (one thread: {})",
                100.0 * sequencer / self.elapsed.as_secs_f64().max(1e-9),
                SEQUENCER_PHASES.join(", ")
            )?;
        }
        Ok(())
    }
}

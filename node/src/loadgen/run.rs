//! The timed part of a load-generator run: workers submit their batches, a follower of
//! `/v1/events` notes when each checkpoint arrives, and the samples become a [`Report`].

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::SeedableRng as _;
use testigo_client::{Client, ClientError};
use testigo_ledger::api::Wait;

use super::operator::OperatorSigner;
use super::report::{Phases, Report};
use super::setup::{Batch, prepare};
use super::stats::{Percentiles, rss};
use super::{LoadgenConfig, ceiling};

/// One answered request.
struct Sample {
    sent: Instant,
    answered: Instant,
    /// Highest index sequenced by the request.
    max_index: Option<u64>,
    entries: usize,
    refused: BTreeMap<String, usize>,
    retries: usize,
}

/// Checkpoint sizes seen on `/v1/events`, with when they arrived.
type Seen = Arc<Mutex<Vec<(u64, Instant)>>>;

/// How long the ceiling is measured for, before the run and again after it.
const CEILING_WINDOW: Duration = Duration::from_secs(1);

/// Runs the benchmark described by `config` against a running node.
///
/// # Errors
/// An invalid configuration, an unreachable node, a key that is not the log's, or a refused
/// setup entry.
pub async fn run(config: &LoadgenConfig) -> anyhow::Result<Report> {
    config.validate()?;
    let cores = config.cores;
    let before = tokio::task::spawn_blocking(move || ceiling::measure(cores, CEILING_WINDOW))
        .await
        .context("ceiling measurement panicked")??;
    let client = Client::new(&config.node)?;
    let mut operator = OperatorSigner::connect(&client, &config.data_dir).await?;
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed ^ operator.next_nonce().rotate_left(32));
    let prepared = prepare(&client, &mut operator, config, &mut rng).await?;
    let rss_before = config.node_pid.map(rss).transpose()?;
    let phases_before = Phases::scrape(&client).await?;

    let seen: Seen = Arc::default();
    let follower = {
        let (client, seen) = (client.clone(), seen.clone());
        tokio::spawn(async move {
            let mut events = client.events().await?;
            while let Some(event) = events.next_checkpoint().await? {
                if let Ok(mut seen) = seen.lock() {
                    seen.push((event.size, Instant::now()));
                }
            }
            Ok::<_, ClientError>(())
        })
    };
    // The stream starts with the current checkpoint: once it is here, the follower is live.
    wait_for(&seen, 0, Duration::from_secs(10)).await?;

    let started = Instant::now();
    let workers: Vec<_> = prepared
        .workers
        .into_iter()
        .enumerate()
        .map(|(w, batches)| {
            let pace = config.rate.map(|rate| Pace::new(started, rate, config, w));
            tokio::spawn(worker(client.clone(), batches, config.wait, pace))
        })
        .collect();
    let mut samples = Vec::new();
    for worker in workers {
        samples.extend(worker.await.context("a worker panicked")??);
    }
    let finished = samples.iter().map(|s| s.answered).max().unwrap_or(started);
    let elapsed = finished - started;
    let last = samples.iter().filter_map(|s| s.max_index).max();
    if let Some(last) = last {
        wait_for(&seen, last + 1, Duration::from_secs(30)).await?;
    }
    follower.abort();

    let seen = seen
        .lock()
        .map_err(|_| anyhow::anyhow!("lock poisoned"))?
        .clone();
    let checkpointed_at = |index: u64| {
        seen.iter()
            .find(|(size, _)| *size > index)
            .map(|(_, at)| *at)
    };
    let response: Vec<Duration> = samples.iter().map(|s| s.answered - s.sent).collect();
    let to_checkpoint: Vec<Duration> = samples
        .iter()
        .filter_map(|s| Some(checkpointed_at(s.max_index?)?.max(s.answered) - s.sent))
        .collect();
    let mut refused = BTreeMap::new();
    for s in &samples {
        for (code, n) in &s.refused {
            *refused.entry(code.clone()).or_default() += n;
        }
    }
    let entries: usize = samples.iter().map(|s| s.entries).sum();
    let rss_after = config.node_pid.map(rss).transpose()?;
    let phases = Phases::scrape(&client).await?.since(&phases_before);
    // Measured again now that the node is idle, so the ceiling spans the run's conditions.
    let after = tokio::task::spawn_blocking(move || ceiling::measure(cores, CEILING_WINDOW))
        .await
        .context("ceiling measurement panicked")??;
    Ok(Report {
        entries,
        concurrency: config.concurrency,
        batch: config.batch,
        wait: config.wait,
        subjects: prepared.subjects,
        setup: prepared.setup,
        signing: prepared.signing,
        rate: config.rate,
        elapsed,
        refused,
        retries: samples.iter().map(|s| s.retries).sum(),
        ceiling: before.mean(&after),
        to_sequenced: match config.wait {
            Wait::Sequenced => Percentiles::of(response.clone()),
            _ => None,
        },
        to_witnessed: match config.wait {
            Wait::Witnessed => Percentiles::of(response.clone()),
            _ => None,
        },
        to_checkpointed: match config.wait {
            Wait::Checkpointed => Percentiles::of(response),
            _ => Percentiles::of(to_checkpoint),
        },
        rss_before,
        rss_after,
        phases,
    })
}

/// When one worker's batches are due under `--rate`: the workers take turns, so batch `j` of
/// worker `w` of `c` is due at `(j·c + w) · batch / rate` seconds after the start.
#[derive(Clone, Copy, Debug)]
struct Pace {
    started: Instant,
    /// Time between two batches of the whole run.
    step: Duration,
    worker: u32,
    workers: u32,
}

impl Pace {
    fn new(started: Instant, rate: u64, config: &LoadgenConfig, worker: usize) -> Self {
        let batch = config.batch as f64;
        Self {
            started,
            step: Duration::from_secs_f64(batch / rate.max(1) as f64),
            worker: u32::try_from(worker).unwrap_or(u32::MAX),
            workers: u32::try_from(config.concurrency).unwrap_or(u32::MAX),
        }
    }

    fn due(&self, batch: u32) -> Instant {
        let turn = batch
            .saturating_mul(self.workers)
            .saturating_add(self.worker);
        self.started + self.step.saturating_mul(turn)
    }
}

/// Sends one worker's batches in order (each no earlier than `pace` says), retrying after
/// `503 queue_full`. Latency is measured from the actual send.
async fn worker(
    client: Client,
    batches: Vec<Batch>,
    wait: Wait,
    pace: Option<Pace>,
) -> anyhow::Result<Vec<Sample>> {
    let mut samples = Vec::with_capacity(batches.len());
    for (j, batch) in batches.into_iter().enumerate() {
        if let Some(pace) = pace {
            tokio::time::sleep_until(pace.due(u32::try_from(j).unwrap_or(u32::MAX)).into()).await;
        }
        let mut retries = 0;
        let sent = Instant::now();
        let results = loop {
            match client.submit_binary_encoded(batch.body.clone(), wait).await {
                Err(ClientError::Retryable {
                    reason: testigo_client::Retry::Busy { .. },
                    ..
                }) => {}
                other => break other.context("a timed batch")?,
            }
            retries += 1;
            if retries > 10_000 {
                bail!("the node kept answering 503 for one batch");
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        };
        let answered = Instant::now();
        let mut sample = Sample {
            sent,
            answered,
            max_index: None,
            entries: batch.len,
            refused: BTreeMap::new(),
            retries,
        };
        for result in results {
            match result {
                Ok(s) => sample.max_index = sample.max_index.max(Some(s.index)),
                Err(e) => *sample.refused.entry(e.code).or_default() += 1,
            }
        }
        samples.push(sample);
    }
    Ok(samples)
}

/// Waits until a checkpoint of at least `size` has been seen (any, for 0).
async fn wait_for(seen: &Seen, size: u64, limit: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + limit;
    loop {
        let reached = seen
            .lock()
            .map_err(|_| anyhow::anyhow!("lock poisoned"))?
            .last()
            .is_some_and(|(s, _)| *s >= size);
        if reached {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("no checkpoint of size {size} on /v1/events within {limit:?}");
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

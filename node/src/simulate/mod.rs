//! `testigo-node simulate`: drives a running node with a plausible telecom day.
//!
//! The operator (its key read from the node's data directory) enrols the subscribers, registers
//! and funds the data buyers — ad networks, research institutes, insurers — and logs its own uses
//! of customer data. Subscribers grant consents (each buyer's usual categories, purposes and
//! price), revoke some, and claim what they earn; the operator settles the claims an hour later.
//! Accesses follow the hour's intensity and category mix ([`day`]). Every hour a few requests
//! that break a rule are sent too, each with the code and status the node must answer.
//!
//! Time is compressed: the node stamps real time, so the day shapes the order and mix of entries,
//! not wall-clock waits. Seeded: the same seed against a fresh node sends the same entries.

mod day;
mod invalid;
mod summary;
mod traffic;
mod world;

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context as _, bail, ensure};
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::SeedableRng as _;
use testigo_ledger::api::Wait;
use testigo_ledger::checkpoint::{SignedNote, verify_checkpoint_note};
use testigo_ledger::entry::BodyKind;

pub use summary::Summary;

use testigo_client::{Client, ClientError};

use crate::loadgen::operator::{OperatorSigner, SETUP_CHUNK, below};
use day::Archetype;
use world::{Effect, Pending, World};

/// A validated simulation.
#[derive(Clone, Debug)]
pub struct SimulateConfig {
    /// The node, e.g. `http://127.0.0.1:7700`.
    pub node: String,
    /// The node's data directory (the operator key is read from it).
    pub data_dir: PathBuf,
    /// Subscribers.
    pub subjects: usize,
    /// Data buyers besides the operator.
    pub accessors: usize,
    /// Simulated hours.
    pub hours: u32,
    /// Seed of keys and choices.
    pub seed: u64,
    /// Accesses per subscriber in an average hour.
    pub rate: f64,
}

impl SimulateConfig {
    /// Checks ranges before any work starts.
    ///
    /// # Errors
    /// Naming the flag that is out of range.
    pub fn validate(&self) -> anyhow::Result<()> {
        ensure!(self.subjects >= 1, "--subjects must be at least 1");
        ensure!(self.accessors >= 2, "--accessors must be at least 2");
        ensure!(self.hours >= 1, "--hours must be at least 1");
        ensure!(
            self.rate > 0.0 && self.rate <= 100.0,
            "--rate must be in (0, 100]"
        );
        Ok(())
    }
}

/// Runs the simulation and returns its summary; refused valid entries are errors, invalid
/// requests answered otherwise than expected are listed in [`Summary::mismatches`].
///
/// # Errors
/// An unreachable node, a key that is not the log's, a valid entry refused, or a final
/// checkpoint that does not verify.
pub async fn run(config: &SimulateConfig) -> anyhow::Result<Summary> {
    config.validate()?;
    let started = Instant::now();
    let client = Client::new(&config.node)?;
    let operator = OperatorSigner::connect(&client, &config.data_dir).await?;
    let log = client.log().await?;
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed ^ operator.next_nonce().rotate_left(32));
    let mut world = World::new(
        operator,
        log.fee_bps,
        config.subjects,
        config.accessors,
        &mut rng,
    );
    let mut summary = Summary::new(config, &log);

    // Morning of day one: accounts, money, the expired consent, then everyone's consents.
    let mut setup = Pending::default();
    for s in 0..world.subjects.len() {
        let leaf = world.operator.enroll(world.subjects[s].public, &mut rng);
        setup.push(leaf, BodyKind::EnrollSubject, Effect::None, 0);
    }
    let buyers: Vec<_> = world.buyers[1..]
        .iter()
        .map(|b| (b.public, b.archetype))
        .chain(std::iter::once((world.broke.public, Archetype::AdNetwork)))
        .collect();
    for (n, (key, archetype)) in buyers.iter().enumerate() {
        let (name, entity) = archetype.names(n);
        let leaf = world.operator.register(*key, &name, &entity, &mut rng);
        setup.push(leaf, BodyKind::RegisterAccessor, Effect::None, 0);
    }
    submit(&client, &mut world, setup, &mut summary).await?;
    let mut expired = Pending::default();
    expired.push(
        invalid::expired_grant(&mut world),
        BodyKind::GrantConsent,
        Effect::None,
        0,
    );
    let expired = submit(&client, &mut world, expired, &mut summary).await?[0];
    let mut grants = Pending::default();
    for s in 0..world.subjects.len() {
        for b in 1..world.buyers.len() {
            if below(&mut rng, 100) < world.buyers[b].archetype.consent_rate() / 2 {
                world.grant(s, b, &mut rng, &mut grants);
            }
        }
    }
    submit(&client, &mut world, grants, &mut summary).await?;

    let mut case = below(&mut rng, invalid::CASES);
    for hour in 0..config.hours {
        let bookkeeping = traffic::bookkeeping(&mut world, hour, &mut rng);
        submit(&client, &mut world, bookkeeping, &mut summary).await?;
        let accesses = traffic::accesses(&mut world, hour, config.rate, &mut rng);
        let invalid_count = (accesses.leaves.len() / 40).max(3);
        submit(&client, &mut world, accesses, &mut summary).await?;
        for _ in 0..invalid_count {
            case += 1 + below(&mut rng, 2);
            let Some(bad) = invalid::make(&mut world, case, expired, &mut rng) else {
                continue;
            };
            let (status, code) = match client.submit(&bad.leaf, Wait::Sequenced).await {
                Ok(_) => (200, String::new()),
                Err(ClientError::Refused { status, error }) => (status, error.code),
                Err(e) => return Err(e).context("an invalid request got no refusal"),
            };
            summary.refused(bad.code, bad.status, status, &code);
        }
    }

    // The last batch may still be open: retrying the last entry (an idempotent retry, answered
    // with its original index) with wait=checkpointed returns once a checkpoint covers it, and
    // the node publishes a checkpoint before it answers, so the note read next covers every entry.
    if let Some(last) = world.last_sequenced.clone() {
        client.submit(&last, Wait::Checkpointed).await?;
    }
    let note = client.checkpoint().await?;
    let parsed = SignedNote::parse(note.as_bytes()).context("the final checkpoint")?;
    let checkpoint = verify_checkpoint_note(&parsed, &log.origin, &log.log_key)
        .context("the final checkpoint does not verify under the log key")?;
    summary.finish(
        checkpoint.size(),
        checkpoint.root().to_base64(),
        started.elapsed(),
    );
    Ok(summary)
}

/// Submits `pending` in order and learns from the answers; any refusal is an error (the
/// simulator only sends valid traffic here). Returns the indices.
async fn submit(
    client: &Client,
    world: &mut World,
    pending: Pending,
    summary: &mut Summary,
) -> anyhow::Result<Vec<u64>> {
    let mut indices = Vec::with_capacity(pending.leaves.len());
    let mut offset = 0;
    for chunk in pending.leaves.chunks(SETUP_CHUNK) {
        let results = client.submit_binary(chunk, Wait::Sequenced).await?;
        for (i, result) in results.into_iter().enumerate() {
            let at = offset + i;
            let kind = pending.kinds[at];
            let sequenced = match result {
                Ok(s) => s,
                Err(e) => bail!(
                    "a valid {kind} entry was refused: {}: {}",
                    e.code,
                    e.message
                ),
            };
            summary.sequenced(kind, pending.amounts[at], world.fee_bps);
            match pending.effects[at] {
                Effect::None => {}
                Effect::Granted { subject, slot } => {
                    world.subjects[subject].grants[slot].index = Some(sequenced.index);
                }
                Effect::Claimed => world
                    .open_claims
                    .push((sequenced.index, pending.amounts[at])),
            }
            indices.push(sequenced.index);
        }
        offset += chunk.len();
        world.last_sequenced = chunk.last().cloned();
    }
    Ok(indices)
}

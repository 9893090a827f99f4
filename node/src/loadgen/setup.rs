//! Before the clock starts: accounts, money and consents on the node, then every `Access` entry
//! signed (on all cores) and encoded in the binary batch form, so the timed run measures the
//! node and not the client.

use std::time::{Duration, Instant};

use anyhow::{Context as _, ensure};
use ed25519_dalek::SigningKey;
use rand_chacha::ChaCha8Rng;
use testigo_ledger::api::Wait;
use testigo_ledger::entry::{
    Access, Body, DataCategory, GrantConsent, LegalBasis, Purpose, sign_body,
};

use super::LoadgenConfig;
use testigo_client::Client;
use testigo_ledger::api::encode_binary_batch;

use super::operator::{OperatorSigner, below, public, random_key, submit_all};

/// The purposes every load-generator consent covers.
const PURPOSES: [Purpose; 3] = [
    Purpose::PersonalisedAdvertising,
    Purpose::ResearchAndDevelopment,
    Purpose::ServiceOptimisation,
];

/// Highest price of one generated access, minor units (deposits cover every access at it).
const MAX_PRICE: u64 = 3;

/// One request's worth of entries, already encoded.
#[derive(Clone, Debug)]
pub(crate) struct Batch {
    /// The binary batch body.
    pub(crate) body: Vec<u8>,
    /// Entries in it.
    pub(crate) len: usize,
}

/// Everything the timed run sends: per worker, its batches in order (one accessor per worker,
/// so each accessor's nonces reach the sequencer in order).
#[derive(Debug)]
pub(crate) struct Prepared {
    pub(crate) workers: Vec<Vec<Batch>>,
    pub(crate) subjects: usize,
    pub(crate) setup: Duration,
    pub(crate) signing: Duration,
}

/// What one access will say, drawn before signing.
struct Planned {
    worker: usize,
    nonce: u64,
    subject: usize,
    category: DataCategory,
    purpose: Purpose,
    price: u64,
}

/// Registers subjects and one accessor per worker, funds the accessors, has every subject grant
/// a consent, and pre-signs `config.entries` accesses.
///
/// # Errors
/// A refused setup entry or a connection failure.
pub(crate) async fn prepare(
    client: &Client,
    operator: &mut OperatorSigner,
    config: &LoadgenConfig,
    rng: &mut ChaCha8Rng,
) -> anyhow::Result<Prepared> {
    let started = Instant::now();
    let subjects: Vec<SigningKey> = (0..config.subjects).map(|_| random_key(rng)).collect();
    let accessors: Vec<SigningKey> = (0..config.concurrency).map(|_| random_key(rng)).collect();
    let shares: Vec<usize> = (0..config.concurrency)
        .map(|w| {
            config.entries / config.concurrency
                + usize::from(w < config.entries % config.concurrency)
        })
        .collect();
    let mut setup = Vec::new();
    for subject in &subjects {
        setup.push(operator.enroll(public(subject), rng));
    }
    for (w, (accessor, share)) in accessors.iter().zip(&shares).enumerate() {
        let name = format!("loadgen accessor {w}");
        setup.push(operator.register(public(accessor), &name, &format!("LG-{w}"), rng));
        let amount = (*share as u64).max(1) * MAX_PRICE;
        setup.push(operator.deposit(public(accessor), amount, &format!("loadgen-{w}")));
    }
    submit_all(client, &setup, Wait::Sequenced)
        .await
        .context("registering subjects and accessors")?;
    let grants: Vec<_> = subjects
        .iter()
        .map(|subject| {
            let body = Body::GrantConsent(GrantConsent {
                nonce: 0,
                accessor: None,
                categories: DataCategory::ALL.to_vec(),
                purposes: PURPOSES.to_vec(),
                price: 1,
                valid_from: 0,
                valid_until: None,
            });
            sign_body(operator.origin(), subject, &body)
        })
        .collect();
    let consents: Vec<u64> = submit_all(client, &grants, Wait::Sequenced)
        .await
        .context("granting consents")?
        .into_iter()
        .map(|s| s.index)
        .collect();
    let setup = started.elapsed();

    let mut plan = Vec::with_capacity(config.entries);
    for (worker, share) in shares.iter().enumerate() {
        for nonce in 0..*share as u64 {
            plan.push(Planned {
                worker,
                nonce,
                subject: below(rng, subjects.len() as u64) as usize,
                category: DataCategory::ALL[below(rng, DataCategory::ALL.len() as u64) as usize],
                purpose: PURPOSES[below(rng, PURPOSES.len() as u64) as usize],
                price: 1 + below(rng, MAX_PRICE),
            });
        }
    }
    let started = Instant::now();
    let leaves = sign_all(operator.origin(), &plan, &subjects, &accessors, &consents);
    let signing = started.elapsed();
    ensure!(
        leaves.len() == config.entries,
        "signed {} of {} entries",
        leaves.len(),
        config.entries
    );

    let mut workers = Vec::with_capacity(config.concurrency);
    let mut rest = leaves.as_slice();
    for share in shares {
        let (mine, tail) = rest.split_at(share);
        rest = tail;
        workers.push(
            mine.chunks(config.batch)
                .map(|chunk| Batch {
                    body: encode_binary_batch(chunk.iter().map(Vec::as_slice)),
                    len: chunk.len(),
                })
                .collect(),
        );
    }
    Ok(Prepared {
        workers,
        subjects: subjects.len(),
        setup,
        signing,
    })
}

/// Signs every planned access on all cores; leaf bytes in plan order.
fn sign_all(
    origin: &str,
    plan: &[Planned],
    subjects: &[SigningKey],
    accessors: &[SigningKey],
    consents: &[u64],
) -> Vec<Vec<u8>> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = plan.len().div_ceil(cores).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = plan
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .map(|p| {
                            let body = Body::Access(Access {
                                nonce: p.nonce,
                                subject: public(&subjects[p.subject]),
                                category: p.category,
                                purpose: p.purpose,
                                legal_basis: LegalBasis::Consent,
                                consent: Some(consents[p.subject]),
                                price: p.price,
                            });
                            sign_body(origin, &accessors[p.worker], &body).to_bytes()
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    })
}

//! The write path's front half, shared by every transport: parse the submitted envelopes, verify
//! their signatures (all cores, batched), hand the valid ones to the sequencer, and answer one
//! result per leaf in submission order, with inclusion proofs when a checkpoint covers them.
//!
//! The HTTP handler (`api::entries`) only turns a request into raw leaves and the results into
//! JSON; the witness's replication transport will call the same [`Intake::submit`].

use std::sync::Arc;
use std::time::Instant;

use testigo_ledger::api::{ErrorCode, Sequenced, Wait};
use testigo_ledger::entry::{Body, Leaf};

use crate::metrics::{CodeLabel, Metrics};
use crate::reader::{LogRead, ReadError};
use crate::sequencer::{
    Outcome, Refusal, SequencerError, SequencerHandle, verify::verify_parallel,
};

/// Why a submission got no per-entry answer at all.
#[derive(Debug, thiserror::Error)]
pub(crate) enum IntakeError {
    /// A submission holds 1 to `max` leaves.
    #[error("a submission holds 1..={max} leaves, not {got}")]
    BatchSize {
        /// Leaves submitted.
        got: usize,
        /// The node's limit.
        max: usize,
    },
    /// The sequencer refused the whole batch (back-pressure, shutdown, or a failed write path).
    #[error(transparent)]
    Sequencer(#[from] SequencerError),
    /// Reading the inclusion proofs of just-sequenced entries failed.
    #[error("reading inclusion proofs: {0}")]
    Read(#[from] ReadError),
    /// A verification task panicked, or an entry got no result: a bug, not the submitter's fault.
    #[error("{0}")]
    Internal(String),
    /// `wait=witnessed` on a log whose `Genesis` names no witnesses.
    #[error("this log has no witnesses")]
    NoWitnesses,
    /// `wait=witnessed` timed out; the entries are sequenced and checkpointed.
    #[error("no witnessed checkpoint covers index {last_index} after {waited_ms} ms")]
    WitnessTimeout {
        /// The last index to cover.
        last_index: u64,
        /// How long it waited.
        waited_ms: u64,
    },
}

/// What `wait=witnessed` waits on: the newest witnessed checkpoint, and for how long.
#[derive(Clone, Debug)]
pub(crate) struct WitnessWait {
    /// The newest witnessed checkpoint.
    pub(crate) witnessed: tokio::sync::watch::Receiver<Option<Arc<crate::replication::Witnessed>>>,
    /// How long a submission waits for it.
    pub(crate) timeout: std::time::Duration,
}

/// What a submission needs: the log's origin (signatures are bound to it), the sequencer, the
/// read side for inclusion proofs, and the metrics it records into.
pub(crate) struct Intake {
    origin: Arc<str>,
    sequencer: SequencerHandle,
    reader: Arc<dyn LogRead>,
    metrics: Arc<Metrics>,
    max_batch: usize,
    witnessed: Option<WitnessWait>,
}

impl std::fmt::Debug for Intake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Intake")
            .field("origin", &self.origin)
            .field("max_batch", &self.max_batch)
            .finish_non_exhaustive()
    }
}

impl Intake {
    /// An intake for the log named `origin`, taking at most `max_batch` leaves per submission.
    pub(crate) fn new(
        origin: &str,
        sequencer: SequencerHandle,
        reader: Arc<dyn LogRead>,
        metrics: Arc<Metrics>,
        max_batch: usize,
    ) -> Self {
        Self {
            origin: origin.into(),
            sequencer,
            reader,
            metrics,
            max_batch,
            witnessed: None,
        }
    }

    /// Lets `wait=witnessed` wait on `wait` (logs with witnesses).
    pub(crate) fn with_witnesses(mut self, wait: WitnessWait) -> Self {
        self.witnessed = Some(wait);
        self
    }

    /// Parses, verifies and sequences `raw` envelopes; one result per leaf, in order. A refused
    /// leaf does not stop the others.
    ///
    /// # Errors
    /// [`IntakeError`] when the submission as a whole gets no answer.
    pub(crate) async fn submit(
        &self,
        raw: Vec<Vec<u8>>,
        wait: Wait,
    ) -> Result<Vec<Result<Sequenced, Refusal>>, IntakeError> {
        if raw.is_empty() || raw.len() > self.max_batch {
            return Err(IntakeError::BatchSize {
                got: raw.len(),
                max: self.max_batch,
            });
        }
        if wait == Wait::Witnessed && self.witnessed.is_none() {
            return Err(IntakeError::NoWitnesses);
        }
        let results = self.sequence(raw, wait).await?;
        // Entries by kind are counted by the sequencer, which also sees its own StateRoots.
        for refusal in results.iter().filter_map(|r| r.as_ref().err()) {
            self.metrics
                .refusals
                .get_or_create(&CodeLabel {
                    code: refusal.code.as_str(),
                })
                .inc();
        }
        Ok(results)
    }

    async fn sequence(
        &self,
        raw: Vec<Vec<u8>>,
        wait: Wait,
    ) -> Result<Vec<Result<Sequenced, Refusal>>, IntakeError> {
        let parsing = Instant::now();
        let mut results: Vec<Option<Result<Sequenced, Refusal>>> = vec![None; raw.len()];
        let mut parsed = Vec::with_capacity(raw.len());
        let mut positions = Vec::with_capacity(raw.len());
        for (i, bytes) in raw.iter().enumerate() {
            match parse(bytes) {
                Ok(leaf) => {
                    parsed.push(leaf);
                    positions.push(i);
                }
                Err(refusal) => results[i] = Some(Err(refusal)),
            }
        }
        self.metrics.observe_phase("parse", parsing.elapsed());
        let parsed = Arc::new(parsed);
        let verifying = Instant::now();
        let verdicts = verify_parallel(self.origin.clone(), parsed.clone(), self.metrics.clone())
            .await
            .map_err(|e| IntakeError::Internal(format!("signature verification: {e}")))?;
        self.metrics
            .observe_phase("verify_wait", verifying.elapsed());
        let parsed = Arc::try_unwrap(parsed).unwrap_or_else(|shared| shared.as_ref().clone());
        let mut valid = Vec::with_capacity(parsed.len());
        let mut valid_positions = Vec::with_capacity(parsed.len());
        for ((leaf, verdict), i) in parsed.into_iter().zip(verdicts).zip(positions) {
            match verdict {
                Ok(()) => {
                    valid.push(leaf);
                    valid_positions.push(i);
                }
                Err(e) => {
                    results[i] = Some(Err(Refusal::new(
                        ErrorCode::InvalidSignature,
                        format!("entry signature by {} {e}", leaf.signer),
                        serde_json::json!({ "signer": leaf.signer }),
                    )));
                }
            }
        }
        if !valid.is_empty() {
            // With wait=witnessed the timeout runs from the sequencing on: a checkpoint that is
            // never published (no witness holds it) is a witness timeout too.
            let sequencer_wait = match wait {
                Wait::Witnessed => Wait::Sequenced,
                other => other,
            };
            let Outcome {
                results: sequenced,
                checkpoint,
            } = self.sequencer.submit(valid, sequencer_wait).await?;
            // With wait=witnessed: the first witnessed checkpoint covering every entry.
            let covering = match (&self.witnessed, wait, &checkpoint) {
                (Some(w), Wait::Witnessed, _) => {
                    let last = sequenced
                        .iter()
                        .filter_map(|r| r.as_ref().ok().map(|r| r.index))
                        .max();
                    match last {
                        Some(last) => Some(self.wait_witnessed(w, last).await?),
                        None => None,
                    }
                }
                _ => checkpoint.map(|cp| (cp.size, cp.note.clone())),
            };
            // With a checkpoint, every sequenced entry gets its inclusion proof, all in one read.
            let proofs = match &covering {
                Some((size, _)) => {
                    let size = *size;
                    let indexes: Vec<u64> = sequenced
                        .iter()
                        .filter_map(|r| r.as_ref().ok().map(|r| r.index))
                        .collect();
                    self.inclusion_proofs(indexes, size).await?
                }
                None => Vec::new(),
            };
            let mut proofs = proofs.into_iter();
            let note = covering.map(|(_, note)| note);
            for (result, i) in sequenced.into_iter().zip(valid_positions) {
                results[i] = Some(result.map(|receipt| Sequenced {
                    index: receipt.index,
                    sequenced_at: receipt.sequenced_at,
                    leaf_hash: receipt.leaf_hash,
                    duplicate: receipt.duplicate,
                    checkpoint: note.clone(),
                    inclusion: proofs.next(),
                }));
            }
        }
        results
            .into_iter()
            .map(|r| r.ok_or_else(|| IntakeError::Internal("an entry got no result".into())))
            .collect()
    }

    /// Waits for a witnessed checkpoint covering `last`; its size and note.
    async fn wait_witnessed(
        &self,
        wait: &WitnessWait,
        last: u64,
    ) -> Result<(u64, String), IntakeError> {
        let mut witnessed = wait.witnessed.clone();
        let started = std::time::Instant::now();
        let covered = tokio::time::timeout(
            wait.timeout,
            witnessed.wait_for(|w| w.as_ref().is_some_and(|w| w.size > last)),
        )
        .await;
        match covered {
            Ok(Ok(w)) => match w.as_ref() {
                Some(w) => Ok((w.size, w.note.clone())),
                None => Err(IntakeError::Internal(
                    "witnessed checkpoint vanished".into(),
                )),
            },
            Ok(Err(_)) => Err(IntakeError::Sequencer(SequencerError::Stopped)),
            Err(_) => Err(IntakeError::WitnessTimeout {
                last_index: last,
                waited_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            }),
        }
    }

    /// The proofs of `indexes` in the tree of `size`, read on a blocking thread (they touch disk).
    async fn inclusion_proofs(
        &self,
        indexes: Vec<u64>,
        size: u64,
    ) -> Result<Vec<testigo_ledger::api::InclusionProof>, IntakeError> {
        let reader = self.reader.clone();
        let proofs = tokio::task::spawn_blocking(move || {
            indexes
                .into_iter()
                .map(|index| reader.inclusion(index, size))
                .collect::<Result<Vec<_>, _>>()
        })
        .await
        .map_err(|e| IntakeError::Internal(format!("inclusion proof task: {e}")))??;
        Ok(proofs)
    }
}

/// One envelope as the sequencer may take it, or why not.
fn parse(bytes: &[u8]) -> Result<Leaf, Refusal> {
    match Leaf::from_bytes(bytes) {
        Ok(leaf) if leaf.sequenced_at != 0 => Err(Refusal::new(
            ErrorCode::MalformedLeaf,
            "submit the envelope with sequenced_at zero; the sequencer sets it",
            serde_json::json!({ "sequenced_at": leaf.sequenced_at }),
        )),
        // Only the sequencer writes StateRoots, at batch boundaries right before it signs a
        // checkpoint; one submitted mid-batch would commit a map version out of turn.
        Ok(leaf) if matches!(leaf.decode_body(), Ok(Body::StateRoot(_))) => Err(Refusal::new(
            ErrorCode::StateRootReserved,
            "StateRoot entries are written by the sequencer only",
            serde_json::Value::Null,
        )),
        Ok(leaf) => Ok(leaf),
        Err(e) => Err(Refusal::new(
            ErrorCode::MalformedLeaf,
            e.to_string(),
            serde_json::Value::Null,
        )),
    }
}

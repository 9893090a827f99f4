//! Witnessed checkpoints: the operator's note plus cosignatures from a quorum of known witnesses.

use std::fmt;

use super::cosignature::{Cosignature, CosignatureError, WitnessKey, verify_cosignature};
use super::note::{SignedNote, verify_checkpoint_note};
use super::{Checkpoint, CheckpointError};
use crate::keys::PublicKey;

/// A witness whose cosignature verified, and when it cosigned (Unix seconds).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Cosigner {
    /// The witness's key name.
    pub name: String,
    /// The cosignature's timestamp.
    pub time: u64,
}

/// Why a checkpoint is not witnessed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum QuorumError {
    /// The operator's checkpoint itself does not verify.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// A quorum of zero would make any checkpoint "witnessed".
    #[error("a quorum must be at least 1")]
    ZeroQuorum,
    /// A known witness's line is malformed or does not verify: the note is rejected (C2SP).
    #[error("witness {name:?}: {source}")]
    Cosignature {
        name: String,
        source: CosignatureError,
    },
    /// Too few distinct known witnesses cosigned.
    #[error("{have} of the {need} required witnesses cosigned: {signed_by:?}")]
    QuorumNotMet {
        have: usize,
        need: usize,
        signed_by: Vec<String>,
    },
}

/// Checks that at least `quorum` distinct witnesses of `witnesses` cosigned the note's body.
///
/// A witness counts once however many lines it has or however often it is listed; two entries
/// that share a name or a key are the same witness (tlog-cosignature v1 does not bind the name
/// into the signature, so one key is one witness). Lines from unlisted keys are ignored.
///
/// This does **not** check the operator's signature or the body's form: call it on a note that
/// [`super::verify_checkpoint_note`] accepted, or use [`verify_witnessed`], which does both.
///
/// # Errors
/// [`QuorumError::ZeroQuorum`], [`QuorumError::Cosignature`] for a bad line from a listed
/// witness, or [`QuorumError::QuorumNotMet`].
pub fn verify_quorum(
    note: &SignedNote,
    witnesses: &[WitnessKey],
    quorum: usize,
) -> Result<Vec<Cosigner>, QuorumError> {
    if quorum == 0 {
        return Err(QuorumError::ZeroQuorum);
    }
    let mut counted: Vec<&WitnessKey> = Vec::new();
    let mut cosigners = Vec::new();
    for (i, witness) in witnesses.iter().enumerate() {
        if witnesses[..i].contains(witness) {
            continue;
        }
        let time = match verify_cosignature(note, witness) {
            Ok(time) => time,
            Err(CosignatureError::Missing { .. }) => continue,
            Err(source) => {
                return Err(QuorumError::Cosignature {
                    name: witness.name.clone(),
                    source,
                });
            }
        };
        if !counted
            .iter()
            .any(|c| c.name == witness.name || c.key == witness.key)
        {
            counted.push(witness);
            cosigners.push(Cosigner {
                name: witness.name.clone(),
                time,
            });
        }
    }
    if cosigners.len() < quorum {
        return Err(QuorumError::QuorumNotMet {
            have: cosigners.len(),
            need: quorum,
            signed_by: cosigners.into_iter().map(|c| c.name).collect(),
        });
    }
    Ok(cosigners)
}

/// Verifies a witnessed checkpoint as a wallet receives it from `GET /v1/checkpoint`: the log's
/// signature, the body, and a quorum of cosignatures.
///
/// # Errors
/// [`QuorumError::Checkpoint`] if the operator's checkpoint fails, else as [`verify_quorum`].
pub fn verify_witnessed(
    note: &[u8],
    origin: &str,
    log_key: &PublicKey,
    witnesses: &[WitnessKey],
    quorum: usize,
) -> Result<(Checkpoint, Vec<Cosigner>), QuorumError> {
    let note = SignedNote::parse(note).map_err(CheckpointError::from)?;
    let checkpoint = verify_checkpoint_note(&note, origin, log_key)?;
    let cosigners = verify_quorum(&note, witnesses, quorum)?;
    Ok((checkpoint, cosigners))
}

/// A Testigo checkpoint note with its cosignatures, as a node stores and serves it.
///
/// Holding one means the body is a well-formed Testigo checkpoint and the framing is valid; it
/// says nothing about signatures until [`CosignedCheckpoint::verify`] is called.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CosignedCheckpoint {
    checkpoint: Checkpoint,
    note: SignedNote,
}

impl CosignedCheckpoint {
    /// Wraps an operator-signed note (from [`super::sign_checkpoint`] or parsed).
    ///
    /// # Errors
    /// A [`CheckpointError`] if the body is not a Testigo checkpoint.
    pub fn from_note(note: SignedNote) -> Result<Self, CheckpointError> {
        Ok(Self {
            checkpoint: Checkpoint::parse_body(note.body())?,
            note,
        })
    }

    /// Parses the note text, without verifying any signature.
    ///
    /// # Errors
    /// A [`CheckpointError`] for the framing or the body.
    pub fn parse(text: &[u8]) -> Result<Self, CheckpointError> {
        Self::from_note(SignedNote::parse(text)?)
    }

    /// The checkpoint the note's body states.
    pub fn checkpoint(&self) -> &Checkpoint {
        &self.checkpoint
    }

    /// The underlying signed note.
    pub fn note(&self) -> &SignedNote {
        &self.note
    }

    /// The lines that decode as cosignatures, unverified (the operator's line does not: it is
    /// 68 bytes, a cosignature 76).
    pub fn cosignatures(&self) -> Vec<Cosignature> {
        let lines = self.note.signatures().iter();
        lines
            .filter_map(|line| Cosignature::from_note_signature(line).ok())
            .collect()
    }

    /// Verifies `cosignature` against `key` over this body and adds it, replacing any earlier
    /// line from the same witness key.
    ///
    /// # Errors
    /// The [`CosignatureError`] if it does not verify, or [`CosignatureError::Note`] when the
    /// note already holds the maximum number of lines.
    pub fn add_cosignature(
        &mut self,
        cosignature: &Cosignature,
        key: &PublicKey,
    ) -> Result<(), CosignatureError> {
        cosignature.verify(self.note.body(), key)?;
        Ok(self.note.replace_or_push(cosignature.to_note_signature())?)
    }

    /// Verifies the log's signature and a quorum of witnesses, as [`verify_witnessed`].
    ///
    /// # Errors
    /// As [`verify_witnessed`].
    pub fn verify(
        &self,
        origin: &str,
        log_key: &PublicKey,
        witnesses: &[WitnessKey],
        quorum: usize,
    ) -> Result<Vec<Cosigner>, QuorumError> {
        verify_checkpoint_note(&self.note, origin, log_key)?;
        verify_quorum(&self.note, witnesses, quorum)
    }

    /// The note's exact text, cosignature lines included.
    pub fn to_text(&self) -> String {
        self.note.to_text()
    }
}

impl fmt::Display for CosignedCheckpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.note.fmt(f)
    }
}

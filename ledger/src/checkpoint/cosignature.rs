//! C2SP `tlog-cosignature` v1: a witness's timestamped Ed25519 signature on a checkpoint.
//!
//! The witness signs `"cosignature/v1\ntime <t>\n" ‖ checkpoint body` and publishes the line
//! `— <witness name> <base64(key hash ‖ t as 8 bytes big-endian ‖ signature)>`, key type `0x04`.

use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};

use super::note::{KEY_HASH_LEN, NoteError, NoteSignature, SignedNote, key_hash};
use super::{Checkpoint, is_valid_key_name};
use crate::keys::{PublicKey, SIGNATURE_LEN};

/// Signed-note signature type of a timestamped Ed25519 witness cosignature (C2SP).
pub const COSIGNATURE_V1_KEY_TYPE: u8 = 0x04;
/// Bytes after the key hash: the timestamp and the Ed25519 signature.
const COSIGNATURE_LEN: usize = 8 + SIGNATURE_LEN;
/// C2SP: "It MUST NOT exceed 2^63 - 1".
const MAX_TIME: u64 = i64::MAX as u64;

/// A witness as a verifier knows it: its key name and its Ed25519 public key.
///
/// In JSON (`GET /v1/log`): `{"name": "...", "key": "<base64>"}`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct WitnessKey {
    /// The witness's key name, as in its cosignature lines.
    pub name: String,
    /// The witness's Ed25519 public key.
    pub key: PublicKey,
}

/// One witness cosignature, decoded from or encoded as a signature line.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Cosignature {
    name: String,
    key_hash: [u8; KEY_HASH_LEN],
    time: u64,
    signature: [u8; SIGNATURE_LEN],
}

/// Why a cosignature was not made, decoded or accepted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CosignatureError {
    /// The witness name is not a valid signed-note key name.
    #[error("witness name {name:?} is empty or holds a space, '+' or a control character")]
    InvalidName { name: String },
    /// The timestamp exceeds 2^63 - 1.
    #[error("cosignature time {time} exceeds 2^63 - 1")]
    TimeOutOfRange { time: u64 },
    /// The line does not hold exactly a timestamp and a 64-byte signature after the key hash.
    #[error("cosignature from {name:?} is {len} bytes after the key hash, expected 72")]
    Length { name: String, len: usize },
    /// The cosignature's name and key hash do not match the key it was checked against.
    #[error("cosignature from {name:?} is not from the given witness key")]
    NotFromKey { name: String },
    /// The witness's public key is not a valid Ed25519 point.
    #[error("the key of witness {name:?} is not a valid Ed25519 public key")]
    InvalidWitnessKey { name: String },
    /// The signature does not verify over the cosigned message.
    #[error("cosignature from {name:?} does not verify")]
    SignatureInvalid { name: String },
    /// The note has no line from this witness.
    #[error("no cosignature from witness {name:?}")]
    Missing { name: String },
    /// Adding the cosignature to a note failed.
    #[error(transparent)]
    Note(#[from] NoteError),
}

/// `SHA-256(name ‖ "\n" ‖ 0x04 ‖ key)[:4]`, a witness's cosignature key hash.
pub fn cosignature_key_hash(name: &str, key: &PublicKey) -> [u8; KEY_HASH_LEN] {
    key_hash(name, COSIGNATURE_V1_KEY_TYPE, key.as_bytes())
}

/// The bytes a witness signs: `"cosignature/v1\ntime <time>\n" ‖ body`.
pub fn cosignature_message(body: &str, time: u64) -> Vec<u8> {
    let mut message = format!("cosignature/v1\ntime {time}\n").into_bytes();
    message.extend_from_slice(body.as_bytes());
    message
}

/// Cosigns `checkpoint` as the witness `witness_name` at `time` (Unix seconds).
///
/// Cosigning is a statement that the witness verified the log up to this checkpoint
/// (DESIGN §5); this function only makes the signature.
///
/// # Errors
/// [`CosignatureError::InvalidName`] or [`CosignatureError::TimeOutOfRange`].
pub fn cosign(
    checkpoint: &Checkpoint,
    witness_name: &str,
    witness_key: &SigningKey,
    time: u64,
) -> Result<Cosignature, CosignatureError> {
    if !is_valid_key_name(witness_name) {
        return Err(CosignatureError::InvalidName {
            name: witness_name.to_owned(),
        });
    }
    if time > MAX_TIME {
        return Err(CosignatureError::TimeOutOfRange { time });
    }
    let signature = witness_key.sign(&cosignature_message(&checkpoint.body(), time));
    let public = PublicKey(witness_key.verifying_key().to_bytes());
    Ok(Cosignature {
        name: witness_name.to_owned(),
        key_hash: cosignature_key_hash(witness_name, &public),
        time,
        signature: signature.to_bytes(),
    })
}

impl Cosignature {
    /// The witness's key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key hash the line carries.
    pub fn key_hash(&self) -> &[u8; KEY_HASH_LEN] {
        &self.key_hash
    }

    /// When the witness cosigned, in Unix seconds.
    pub fn time(&self) -> u64 {
        self.time
    }

    /// The Ed25519 signature.
    pub fn signature(&self) -> &[u8; SIGNATURE_LEN] {
        &self.signature
    }

    /// Decodes a signature line as a cosignature, without verifying it.
    ///
    /// # Errors
    /// [`CosignatureError::Length`] or [`CosignatureError::TimeOutOfRange`].
    pub fn from_note_signature(line: &NoteSignature) -> Result<Self, CosignatureError> {
        let bytes: &[u8; COSIGNATURE_LEN] =
            line.signature()
                .try_into()
                .map_err(|_| CosignatureError::Length {
                    name: line.name().to_owned(),
                    len: line.signature().len(),
                })?;
        let (time, signature) = bytes.split_at(8);
        let time = u64::from_be_bytes(time.try_into().expect("split at 8"));
        if time > MAX_TIME {
            return Err(CosignatureError::TimeOutOfRange { time });
        }
        Ok(Self {
            name: line.name().to_owned(),
            key_hash: *line.key_hash(),
            time,
            signature: signature.try_into().expect("72 - 8 = 64 bytes"),
        })
    }

    /// The signature line.
    pub fn to_note_signature(&self) -> NoteSignature {
        let mut bytes = Vec::with_capacity(COSIGNATURE_LEN);
        bytes.extend_from_slice(&self.time.to_be_bytes());
        bytes.extend_from_slice(&self.signature);
        NoteSignature::new(self.name.clone(), self.key_hash, bytes)
            .expect("cosignatures are only built with valid names and 72 bytes")
    }

    /// Verifies this cosignature over a checkpoint body, exactly as received, with `key`.
    ///
    /// # Errors
    /// [`CosignatureError::NotFromKey`], [`CosignatureError::InvalidWitnessKey`] or
    /// [`CosignatureError::SignatureInvalid`].
    pub fn verify(&self, body: &str, key: &PublicKey) -> Result<(), CosignatureError> {
        if self.key_hash != cosignature_key_hash(&self.name, key) {
            return Err(CosignatureError::NotFromKey {
                name: self.name.clone(),
            });
        }
        self.verify_with(body, &witness_key(&self.name, key)?)
    }

    fn verify_with(&self, body: &str, key: &VerifyingKey) -> Result<(), CosignatureError> {
        key.verify_strict(
            &cosignature_message(body, self.time),
            &Signature::from_bytes(&self.signature),
        )
        .map_err(|_| CosignatureError::SignatureInvalid {
            name: self.name.clone(),
        })
    }
}

fn witness_key(name: &str, key: &PublicKey) -> Result<VerifyingKey, CosignatureError> {
    VerifyingKey::from_bytes(key.as_bytes()).map_err(|_| CosignatureError::InvalidWitnessKey {
        name: name.to_owned(),
    })
}

/// Verifies `witness`'s cosignature on a note's body and returns its time.
///
/// Only lines with the witness's name and cosignature key hash are considered; every one of them
/// must verify (C2SP: reject a note when a known key's signature fails). With several valid lines
/// the latest time is returned. The body is not parsed here: see [`super::verify_witnessed`].
///
/// # Errors
/// [`CosignatureError::Missing`] if the witness has no line; otherwise the first failure.
pub fn verify_cosignature(
    note: &SignedNote,
    witness: &WitnessKey,
) -> Result<u64, CosignatureError> {
    let id = cosignature_key_hash(&witness.name, &witness.key);
    let mut lines = note
        .signatures()
        .iter()
        .filter(|s| s.is_from(&witness.name, &id))
        .peekable();
    if lines.peek().is_none() {
        return Err(CosignatureError::Missing {
            name: witness.name.clone(),
        });
    }
    let key = witness_key(&witness.name, &witness.key)?;
    let mut latest = 0;
    for line in lines {
        let cosignature = Cosignature::from_note_signature(line)?;
        cosignature.verify_with(note.body(), &key)?;
        latest = latest.max(cosignature.time);
    }
    Ok(latest)
}

//! Checkpoints, signed notes, witness cosignatures, quorums and split-view evidence (DESIGN §5,
//! normative).
//!
//! A checkpoint is a C2SP `tlog-checkpoint` body — origin, tree size, root hash, each on its own
//! line and nothing else — carried in a C2SP `signed-note`:
//!
//! ```text
//! <origin>\n<tree size, decimal>\n<root hash, base64>\n
//! \n
//! — <origin> <base64(key hash ‖ Ed25519 signature over the body)>\n
//! — <witness name> <base64(key hash ‖ time, 8 bytes big-endian ‖ Ed25519 signature)>\n
//! ```
//!
//! The first signature line is the operator's ([`sign_checkpoint`], key type `0x01`); the others
//! are C2SP `tlog-cosignature` v1 witness cosignatures ([`cosign`], key type `0x04`) over
//! `"cosignature/v1\ntime <t>\n" ‖ body`. Verifiers ([`verify_checkpoint`], [`verify_quorum`],
//! [`verify_witnessed`]) check the body bytes exactly as received, use strict Ed25519
//! verification, accept at most [`MAX_SIGNATURES`] signature lines and ignore lines from keys they
//! do not know. Two validly signed checkpoints that cannot both be true form [`Evidence`].
//!
//! Testigo is stricter than C2SP in two places, both because its own notes never need more: a
//! Testigo checkpoint has no extension lines, and its origin must be a valid key name (no Unicode
//! space, no `+`, no control character), since the origin is also the operator's key name.

mod cosignature;
mod evidence;
mod note;
mod quorum;

pub use cosignature::{
    COSIGNATURE_V1_KEY_TYPE, Cosignature, CosignatureError, WitnessKey, cosign,
    cosignature_key_hash, cosignature_message, verify_cosignature,
};
pub use evidence::{Evidence, EvidenceError, LeafProof, Which};
pub use note::{
    ED25519_KEY_TYPE, KEY_HASH_LEN, LineFault, MAX_SIGNATURES, NoteError, NoteSignature,
    SignedNote, key_hash, note_key_hash, sign_checkpoint, verify_checkpoint,
    verify_checkpoint_note,
};
pub use quorum::{CosignedCheckpoint, Cosigner, QuorumError, verify_quorum, verify_witnessed};

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use crate::hash::{HASH_LEN, Hash};

/// A log's signed statement of its tree: its name, its size and its root.
///
/// The fields are private so that every `Checkpoint` has an origin that can also serve as the
/// operator's key name: [`Checkpoint::body`] then always parses back to the same value.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Checkpoint {
    origin: String,
    size: u64,
    root: Hash,
}

/// Why a checkpoint body, or a checkpoint note as a whole, was rejected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    /// The signed-note framing around the body is malformed.
    #[error("malformed signed note: {0}")]
    Note(#[from] NoteError),
    /// The body does not end with a newline.
    #[error("checkpoint body does not end with a newline")]
    BodyMissingFinalNewline,
    /// The origin line is empty.
    #[error("checkpoint origin is empty")]
    EmptyOrigin,
    /// The origin contains a Unicode space, a `+` or a control character, so it cannot be the
    /// operator's key name.
    #[error("checkpoint origin {origin:?} contains a space, '+' or a control character")]
    InvalidOrigin { origin: String },
    /// The body has fewer than the three lines origin, size, root.
    #[error("checkpoint body has {got} line(s); origin, size and root hash are required")]
    MissingLines { got: usize },
    /// The tree size line is empty.
    #[error("checkpoint tree size is empty")]
    EmptySize,
    /// The tree size has a character other than an ASCII digit (a sign, a space, ...).
    #[error("checkpoint tree size {text:?} is not an unsigned decimal number")]
    SizeNotDecimal { text: String },
    /// The tree size has a leading zero: every size must have exactly one spelling.
    #[error("checkpoint tree size {text:?} has a leading zero")]
    SizeLeadingZero { text: String },
    /// The tree size does not fit in 64 bits.
    #[error("checkpoint tree size {text:?} does not fit in 64 bits")]
    SizeOverflow { text: String },
    /// The root hash line is not canonical standard base64.
    #[error("checkpoint root hash {text:?} is not canonical standard base64")]
    RootNotBase64 { text: String },
    /// The root hash does not decode to 32 bytes.
    #[error("checkpoint root hash decodes to {len} bytes, expected 32")]
    RootLength { len: usize },
    /// The body has lines after the root hash; Testigo checkpoints carry none.
    #[error("checkpoint has {count} extension line(s); Testigo checkpoints carry none")]
    ExtensionLines { count: usize },
    /// The checkpoint is for another log.
    #[error("checkpoint origin is {got:?}, expected {expected:?}")]
    OriginMismatch { expected: String, got: String },
    /// The log's public key is not a valid Ed25519 point.
    #[error("the log key is not a valid Ed25519 public key")]
    InvalidLogKey,
    /// No signature line carries the log key's name and key hash.
    #[error("no signature from the log key for {origin:?}")]
    NoLogSignature { origin: String },
    /// A line from the log key does not hold a 64-byte Ed25519 signature.
    #[error("the log key's signature is {len} bytes, expected 64")]
    LogSignatureLength { len: usize },
    /// A signature from the log key does not verify over the body.
    #[error("the log key's signature does not verify")]
    SignatureInvalid,
}

impl Checkpoint {
    /// A checkpoint for `origin`, `size` leaves and `root`.
    ///
    /// # Errors
    /// [`CheckpointError::EmptyOrigin`] or [`CheckpointError::InvalidOrigin`] if the origin
    /// cannot be a signed-note key name.
    pub fn new(origin: impl Into<String>, size: u64, root: Hash) -> Result<Self, CheckpointError> {
        let origin = origin.into();
        check_origin(&origin)?;
        Ok(Self { origin, size, root })
    }

    /// The log's name.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The number of leaves in the tree.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The tree's root hash.
    pub fn root(&self) -> &Hash {
        &self.root
    }

    /// The note body: `<origin>\n<size>\n<base64 root>\n`, the exact bytes that get signed.
    pub fn body(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            self.root.to_base64()
        )
    }

    /// Parses a Testigo checkpoint body, accepting only the one spelling that [`Self::body`]
    /// produces.
    ///
    /// # Errors
    /// The [`CheckpointError`] variant naming the first malformation found, line by line.
    pub fn parse_body(body: &str) -> Result<Self, CheckpointError> {
        let Some(text) = body.strip_suffix('\n') else {
            return Err(CheckpointError::BodyMissingFinalNewline);
        };
        let lines: Vec<&str> = text.split('\n').collect();
        check_origin(lines[0])?;
        if lines.len() < 3 {
            return Err(CheckpointError::MissingLines { got: lines.len() });
        }
        let size = parse_size(lines[1])?;
        let root = parse_root(lines[2])?;
        if lines.len() > 3 {
            return Err(CheckpointError::ExtensionLines {
                count: lines.len() - 3,
            });
        }
        Ok(Self {
            origin: lines[0].to_owned(),
            size,
            root,
        })
    }
}

impl fmt::Display for Checkpoint {
    /// Writes the note body.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.body())
    }
}

fn check_origin(origin: &str) -> Result<(), CheckpointError> {
    if origin.is_empty() {
        return Err(CheckpointError::EmptyOrigin);
    }
    if !is_valid_key_name(origin) {
        return Err(CheckpointError::InvalidOrigin {
            origin: origin.to_owned(),
        });
    }
    Ok(())
}

/// C2SP signed-note key names: non-empty, no Unicode space, no `+`. Control characters are
/// excluded too, since a note may not contain them anywhere.
pub(crate) fn is_valid_key_name(name: &str) -> bool {
    !name.is_empty()
        && !name
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '+')
}

fn parse_size(text: &str) -> Result<u64, CheckpointError> {
    if text.is_empty() {
        return Err(CheckpointError::EmptySize);
    }
    // `u64::from_str` alone would accept a leading '+'; one spelling per size is the point.
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(CheckpointError::SizeNotDecimal {
            text: text.to_owned(),
        });
    }
    if text.len() > 1 && text.starts_with('0') {
        return Err(CheckpointError::SizeLeadingZero {
            text: text.to_owned(),
        });
    }
    text.parse().map_err(|_| CheckpointError::SizeOverflow {
        text: text.to_owned(),
    })
}

fn parse_root(text: &str) -> Result<Hash, CheckpointError> {
    // The STANDARD engine requires canonical padding and zero trailing bits, so each root has
    // exactly one accepted spelling and re-encoding reproduces the line.
    let bytes = BASE64
        .decode(text)
        .map_err(|_| CheckpointError::RootNotBase64 {
            text: text.to_owned(),
        })?;
    let len = bytes.len();
    let bytes: [u8; HASH_LEN] = bytes
        .try_into()
        .map_err(|_| CheckpointError::RootLength { len })?;
    Ok(Hash(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> Hash {
        Hash([7; 32])
    }

    #[test]
    fn body_round_trips() {
        for size in [0, 1, 9, 10, u64::MAX] {
            let cp = Checkpoint::new("example.com/log", size, root()).unwrap();
            assert_eq!(Checkpoint::parse_body(&cp.body()), Ok(cp));
        }
    }

    #[test]
    fn size_spellings_are_unique() {
        let body = |size: &str| format!("o\n{size}\n{}\n", root().to_base64());
        assert_eq!(Checkpoint::parse_body(&body("0")).unwrap().size(), 0);
        for (size, want) in [
            ("", CheckpointError::EmptySize),
            ("+1", CheckpointError::SizeNotDecimal { text: "+1".into() }),
            ("-1", CheckpointError::SizeNotDecimal { text: "-1".into() }),
            (" 1", CheckpointError::SizeNotDecimal { text: " 1".into() }),
            ("01", CheckpointError::SizeLeadingZero { text: "01".into() }),
            ("00", CheckpointError::SizeLeadingZero { text: "00".into() }),
            (
                "18446744073709551616",
                CheckpointError::SizeOverflow {
                    text: "18446744073709551616".into(),
                },
            ),
        ] {
            assert_eq!(
                Checkpoint::parse_body(&body(size)),
                Err(want),
                "size {size:?}"
            );
        }
    }

    #[test]
    fn origins_must_be_key_names() {
        assert_eq!(
            Checkpoint::new("", 1, root()),
            Err(CheckpointError::EmptyOrigin)
        );
        for bad in ["a b", "a+b", "a\tb", "a\rb", "a\u{a0}b", "a\u{1}b"] {
            assert_eq!(
                Checkpoint::new(bad, 1, root()),
                Err(CheckpointError::InvalidOrigin { origin: bad.into() })
            );
        }
    }
}

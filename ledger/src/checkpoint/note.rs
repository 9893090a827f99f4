//! C2SP `signed-note`: the text framing, signature lines, key hashes, and the operator's Ed25519
//! signature on a checkpoint.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::Digest as _;

use super::{Checkpoint, CheckpointError, is_valid_key_name};
use crate::keys::{PublicKey, SIGNATURE_LEN};

/// Verifiers reject notes with more signature lines than this. C2SP requires accepting at least
/// 16; accepting no more bounds the work an attacker can make a verifier do.
pub const MAX_SIGNATURES: usize = 16;
/// Length of a signed-note key hash (key ID).
pub const KEY_HASH_LEN: usize = 4;
/// Signed-note signature type of a plain Ed25519 signature over the note text (the operator's).
pub const ED25519_KEY_TYPE: u8 = 0x01;

/// The separator line and the start of every signature line: U+2014 EM DASH, then a space.
const SIGNATURE_PREFIX: &str = "\u{2014} ";
/// Key hash ‖ signature, the shortest signature C2SP allows.
const MIN_SIGNATURE_BYTES: usize = KEY_HASH_LEN + 1;

/// A C2SP signed note: a text and one to [`MAX_SIGNATURES`] signature lines.
///
/// Parsing keeps the text exactly as received; [`SignedNote::to_text`] writes back the same bytes
/// (base64 is decoded canonically, so re-encoding cannot change a line).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedNote {
    body: String,
    signatures: Vec<NoteSignature>,
}

/// One signature line: `— <name> <base64(key hash ‖ signature)>`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct NoteSignature {
    name: String,
    key_hash: [u8; KEY_HASH_LEN],
    signature: Vec<u8>,
}

/// Why a signed note's framing was rejected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    /// The note is not UTF-8.
    #[error("note is not valid UTF-8 (first bad byte at offset {offset})")]
    NotUtf8 { offset: usize },
    /// The note contains an ASCII control character other than newline (e.g. CR).
    #[error("note contains control character {byte:#04x} at offset {offset}")]
    ControlCharacter { offset: usize, byte: u8 },
    /// The note does not end with a newline, so its last line is cut short.
    #[error("note does not end with a newline")]
    MissingFinalNewline,
    /// No blank line separates the text from the signatures.
    #[error("no blank line separates the note text from its signatures")]
    MissingBlankLine,
    /// The text to be signed is empty or does not end with a newline.
    #[error("note text must be non-empty and end with a newline")]
    BadText,
    /// The note has no signature line.
    #[error("note has no signature lines")]
    NoSignatures,
    /// The note has more than [`MAX_SIGNATURES`] signature lines.
    #[error("note has {count} signature lines, more than the {MAX_SIGNATURES} accepted")]
    TooManySignatures { count: usize },
    /// A signature line is malformed (`line` counts signature lines from 1).
    #[error("signature line {line}: {fault}")]
    BadSignatureLine { line: usize, fault: LineFault },
}

/// What is wrong with one signature line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LineFault {
    /// The line does not start with an em dash (U+2014) and a space.
    #[error("does not start with an em dash and a space")]
    MissingPrefix,
    /// No space separates the key name from the signature.
    #[error("no space after the key name")]
    MissingSpace,
    /// The key name is empty or holds a Unicode space, `+` or control character.
    #[error("invalid key name")]
    InvalidKeyName,
    /// The signature is not canonical standard base64.
    #[error("signature is not canonical standard base64")]
    BadBase64,
    /// The signature is shorter than a key hash plus one byte.
    #[error("signature is {len} bytes, at least 5 are required")]
    TooShort { len: usize },
}

/// `SHA-256(name ‖ "\n" ‖ key_type ‖ key)[:4]`, the signed-note key hash (key ID).
pub fn key_hash(name: &str, key_type: u8, key: &[u8]) -> [u8; KEY_HASH_LEN] {
    let mut h = sha2::Sha256::new();
    h.update(name.as_bytes());
    h.update(b"\n");
    h.update([key_type]);
    h.update(key);
    let digest = h.finalize();
    [digest[0], digest[1], digest[2], digest[3]]
}

/// The key hash of a plain Ed25519 note key: the operator's, with `name` the log's origin.
pub fn note_key_hash(name: &str, key: &PublicKey) -> [u8; KEY_HASH_LEN] {
    key_hash(name, ED25519_KEY_TYPE, key.as_bytes())
}

impl NoteSignature {
    /// A signature line from its parts.
    ///
    /// # Errors
    /// [`LineFault::InvalidKeyName`] or [`LineFault::TooShort`] (an empty signature).
    pub fn new(
        name: impl Into<String>,
        key_hash: [u8; KEY_HASH_LEN],
        signature: Vec<u8>,
    ) -> Result<Self, LineFault> {
        let name = name.into();
        if !is_valid_key_name(&name) {
            return Err(LineFault::InvalidKeyName);
        }
        if signature.is_empty() {
            return Err(LineFault::TooShort { len: KEY_HASH_LEN });
        }
        Ok(Self {
            name,
            key_hash,
            signature,
        })
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key hash (key ID) that, with the name, selects the verifying key.
    pub fn key_hash(&self) -> &[u8; KEY_HASH_LEN] {
        &self.key_hash
    }

    /// The signature bytes after the key hash.
    pub fn signature(&self) -> &[u8] {
        &self.signature
    }

    /// Parses one line without its newline.
    ///
    /// # Errors
    /// The [`LineFault`] found.
    pub fn parse_line(line: &str) -> Result<Self, LineFault> {
        let rest = line
            .strip_prefix(SIGNATURE_PREFIX)
            .ok_or(LineFault::MissingPrefix)?;
        let (name, b64) = rest.split_once(' ').ok_or(LineFault::MissingSpace)?;
        if !is_valid_key_name(name) {
            return Err(LineFault::InvalidKeyName);
        }
        let bytes = BASE64.decode(b64).map_err(|_| LineFault::BadBase64)?;
        if bytes.len() < MIN_SIGNATURE_BYTES {
            return Err(LineFault::TooShort { len: bytes.len() });
        }
        let (hash, signature) = bytes.split_at(KEY_HASH_LEN);
        let key_hash = [hash[0], hash[1], hash[2], hash[3]];
        Ok(Self {
            name: name.to_owned(),
            key_hash,
            signature: signature.to_vec(),
        })
    }

    /// The line, with its newline.
    pub fn to_line(&self) -> String {
        let mut bytes = Vec::with_capacity(KEY_HASH_LEN + self.signature.len());
        bytes.extend_from_slice(&self.key_hash);
        bytes.extend_from_slice(&self.signature);
        format!("{SIGNATURE_PREFIX}{} {}\n", self.name, BASE64.encode(bytes))
    }

    /// Whether this line claims to come from the key with this name and key hash.
    pub(crate) fn is_from(&self, name: &str, key_hash: &[u8; KEY_HASH_LEN]) -> bool {
        self.name == name && &self.key_hash == key_hash
    }
}

impl SignedNote {
    /// A note from its text and signature lines.
    ///
    /// # Errors
    /// [`NoteError::BadText`] if the text is empty, does not end with a newline or holds a
    /// control character other than newline; [`NoteError::NoSignatures`] or
    /// [`NoteError::TooManySignatures`] for the number of lines.
    pub fn new(body: String, signatures: Vec<NoteSignature>) -> Result<Self, NoteError> {
        if !body.ends_with('\n') || body.bytes().any(|b| b < 0x20 && b != b'\n') {
            return Err(NoteError::BadText);
        }
        check_count(signatures.len())?;
        Ok(Self { body, signatures })
    }

    /// Parses a note exactly as received, without verifying any signature.
    ///
    /// # Errors
    /// The [`NoteError`] naming the first malformation.
    pub fn parse(text: &[u8]) -> Result<Self, NoteError> {
        let text = std::str::from_utf8(text).map_err(|e| NoteError::NotUtf8 {
            offset: e.valid_up_to(),
        })?;
        // Control characters are all ASCII, so a byte scan finds them in UTF-8 text.
        if let Some(offset) = text.bytes().position(|b| b < 0x20 && b != b'\n') {
            return Err(NoteError::ControlCharacter {
                offset,
                byte: text.as_bytes()[offset],
            });
        }
        if !text.ends_with('\n') {
            return Err(NoteError::MissingFinalNewline);
        }
        // Signature lines are never empty, so the last blank line is the separator (C2SP).
        let split = text.rfind("\n\n").ok_or(NoteError::MissingBlankLine)?;
        let (body, signatures) = (&text[..=split], &text[split + 2..]);
        let lines: Vec<&str> = signatures.split_terminator('\n').collect();
        // Count before parsing any line, so an oversized note costs no base64 decoding.
        check_count(lines.len())?;
        let signatures = lines
            .iter()
            .enumerate()
            .map(|(i, line)| {
                NoteSignature::parse_line(line)
                    .map_err(|fault| NoteError::BadSignatureLine { line: i + 1, fault })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            body: body.to_owned(),
            signatures,
        })
    }

    /// The signed text, with its final newline and without the blank line.
    pub fn body(&self) -> &str {
        &self.body
    }

    /// The signature lines, in order.
    pub fn signatures(&self) -> &[NoteSignature] {
        &self.signatures
    }

    /// Appends a signature line.
    ///
    /// # Errors
    /// [`NoteError::TooManySignatures`] if the note already has [`MAX_SIGNATURES`] lines.
    pub fn push_signature(&mut self, signature: NoteSignature) -> Result<(), NoteError> {
        check_count(self.signatures.len() + 1)?;
        self.signatures.push(signature);
        Ok(())
    }

    /// Puts `signature` in place of the first line from the same name and key hash, dropping any
    /// later ones, or appends it: one line per key, so re-cosigning never grows the note.
    pub(crate) fn replace_or_push(&mut self, signature: NoteSignature) -> Result<(), NoteError> {
        let (name, id) = (signature.name.clone(), signature.key_hash);
        let Some(i) = self.signatures.iter().position(|s| s.is_from(&name, &id)) else {
            return self.push_signature(signature);
        };
        let tail = self.signatures.split_off(i + 1);
        self.signatures[i] = signature;
        self.signatures
            .extend(tail.into_iter().filter(|s| !s.is_from(&name, &id)));
        Ok(())
    }

    /// The note's exact text.
    pub fn to_text(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for SignedNote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.body)?;
        f.write_str("\n")?;
        self.signatures
            .iter()
            .try_for_each(|s| f.write_str(&s.to_line()))
    }
}

fn check_count(count: usize) -> Result<(), NoteError> {
    match count {
        0 => Err(NoteError::NoSignatures),
        1..=MAX_SIGNATURES => Ok(()),
        _ => Err(NoteError::TooManySignatures { count }),
    }
}

/// Signs a checkpoint as its log's operator: one signature line named after the origin.
pub fn sign_checkpoint(checkpoint: &Checkpoint, log_key: &SigningKey) -> SignedNote {
    let body = checkpoint.body();
    let signature = log_key.sign(body.as_bytes());
    let public = PublicKey(log_key.verifying_key().to_bytes());
    let line = NoteSignature {
        name: checkpoint.origin().to_owned(),
        key_hash: note_key_hash(checkpoint.origin(), &public),
        signature: signature.to_bytes().to_vec(),
    };
    SignedNote {
        body,
        signatures: vec![line],
    }
}

/// Parses a checkpoint note and verifies the log's signature on it.
///
/// Lines from other keys (witnesses, a rotated log key) are ignored; every line from the log key
/// must verify.
///
/// # Errors
/// A [`CheckpointError`]: the note's framing ([`CheckpointError::Note`]), the body, the origin,
/// or the signature.
pub fn verify_checkpoint(
    note: &[u8],
    origin: &str,
    log_key: &PublicKey,
) -> Result<Checkpoint, CheckpointError> {
    verify_checkpoint_note(&SignedNote::parse(note)?, origin, log_key)
}

/// [`verify_checkpoint`] for a note that is already parsed.
///
/// # Errors
/// As [`verify_checkpoint`].
pub fn verify_checkpoint_note(
    note: &SignedNote,
    origin: &str,
    log_key: &PublicKey,
) -> Result<Checkpoint, CheckpointError> {
    // Parsing untrusted text is safe; the result is only returned once the signature holds.
    let checkpoint = Checkpoint::parse_body(note.body())?;
    if checkpoint.origin() != origin {
        return Err(CheckpointError::OriginMismatch {
            expected: origin.to_owned(),
            got: checkpoint.origin().to_owned(),
        });
    }
    let key =
        VerifyingKey::from_bytes(log_key.as_bytes()).map_err(|_| CheckpointError::InvalidLogKey)?;
    let id = note_key_hash(origin, log_key);
    let mut found = false;
    for line in note.signatures().iter().filter(|s| s.is_from(origin, &id)) {
        let bytes: [u8; SIGNATURE_LEN] =
            line.signature()
                .try_into()
                .map_err(|_| CheckpointError::LogSignatureLength {
                    len: line.signature().len(),
                })?;
        key.verify_strict(note.body().as_bytes(), &Signature::from_bytes(&bytes))
            .map_err(|_| CheckpointError::SignatureInvalid)?;
        found = true;
    }
    if !found {
        return Err(CheckpointError::NoLogSignature {
            origin: origin.to_owned(),
        });
    }
    Ok(checkpoint)
}

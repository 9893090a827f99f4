//! The leaf envelope (DESIGN §4, normative): the bytes that are hashed into the tree.
//!
//! ```text
//! version(1) = 0x01 ‖ sequenced_at(8, BE, Unix ms) ‖ signer(32) ‖ signature(64) ‖ body_len(4, BE) ‖ body
//! ```

use super::canonical::MAX_BODY_LEN;
use super::{Body, BodyError};
use crate::hash::{Hash, TreeHasher};
use crate::keys::{PUBLIC_KEY_LEN, PublicKey, SIGNATURE_LEN};

/// The only envelope version.
pub const LEAF_VERSION: u8 = 0x01;
/// Bytes before the body.
pub const LEAF_HEADER_LEN: usize = 1 + 8 + PUBLIC_KEY_LEN + SIGNATURE_LEN + 4;
/// The largest leaf the protocol accepts.
pub const MAX_LEAF_LEN: usize = LEAF_HEADER_LEN + MAX_BODY_LEN;

/// Why bytes are not a leaf envelope.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LeafError {
    /// Fewer bytes than the fixed header.
    #[error("leaf is {len} bytes, shorter than the {LEAF_HEADER_LEN}-byte header")]
    TooShort { len: usize },
    /// An envelope version this implementation does not know.
    #[error("leaf version {0:#04x} is not supported (expected 0x01)")]
    UnsupportedVersion(u8),
    /// `body_len` disagrees with the bytes that follow.
    #[error("body_len says {declared} bytes but {actual} follow")]
    BodyLengthMismatch { declared: u64, actual: usize },
    /// The body is larger than the protocol allows.
    #[error("body of {len} bytes exceeds the {MAX_BODY_LEN}-byte limit")]
    BodyTooLarge { len: usize },
}

/// One signed, sequenced entry, holding its body bytes exactly as received.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Leaf {
    /// Unix milliseconds, set by the sequencer; zero in a submission.
    pub sequenced_at: u64,
    /// The author's key.
    pub signer: PublicKey,
    /// Ed25519 over `"testigo/entry/v1\n" ‖ origin ‖ "\n" ‖ body`.
    pub signature: [u8; SIGNATURE_LEN],
    /// The canonical body bytes.
    pub body: Vec<u8>,
}

impl std::fmt::Debug for Leaf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Leaf")
            .field("sequenced_at", &self.sequenced_at)
            .field("signer", &self.signer)
            .field("body_len", &self.body.len())
            .finish_non_exhaustive()
    }
}

impl Leaf {
    /// Parses the envelope. The body is not decoded and the signature is not checked: see
    /// [`Leaf::decode_body`] and [`super::signature::verify_leaf`].
    ///
    /// # Errors
    /// A [`LeafError`] for any byte string that is not exactly one envelope.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, LeafError> {
        if bytes.len() < LEAF_HEADER_LEN {
            return Err(LeafError::TooShort { len: bytes.len() });
        }
        let (header, body) = bytes.split_at(LEAF_HEADER_LEN);
        if header[0] != LEAF_VERSION {
            return Err(LeafError::UnsupportedVersion(header[0]));
        }
        let sequenced_at = u64::from_be_bytes(array(&header[1..9]));
        let signer = PublicKey(array(&header[9..41]));
        let signature = array(&header[41..105]);
        let declared = u32::from_be_bytes(array(&header[105..109]));
        if declared as usize != body.len() {
            return Err(LeafError::BodyLengthMismatch {
                declared: declared.into(),
                actual: body.len(),
            });
        }
        if body.len() > MAX_BODY_LEN {
            return Err(LeafError::BodyTooLarge { len: body.len() });
        }
        Ok(Self {
            sequenced_at,
            signer,
            signature,
            body: body.to_vec(),
        })
    }

    /// The envelope's bytes: `from_bytes(b)?.to_bytes() == b` for every accepted `b`.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(LEAF_HEADER_LEN + self.body.len());
        out.push(LEAF_VERSION);
        out.extend_from_slice(&self.sequenced_at.to_be_bytes());
        out.extend_from_slice(self.signer.as_bytes());
        out.extend_from_slice(&self.signature);
        // Bodies are bounded by MAX_BODY_LEN, far below u32::MAX.
        out.extend_from_slice(&(self.body.len() as u32).to_be_bytes());
        out.extend_from_slice(&self.body);
        out
    }

    /// The leaf hash under `hasher` (BLAKE3 for real logs).
    pub fn hash<H: TreeHasher>(&self, hasher: &H) -> Hash {
        hasher.hash_leaf(&self.to_bytes())
    }

    /// The same entry stamped with the sequencer's time. The signature does not cover the time,
    /// so stamping keeps it valid; the tree and the checkpoint cover it.
    pub fn sequenced(mut self, at: u64) -> Self {
        self.sequenced_at = at;
        self
    }

    /// Decodes the body under the canonical-bytes rule.
    ///
    /// # Errors
    /// A [`BodyError`] if the body bytes are not one canonical body.
    pub fn decode_body(&self) -> Result<Body, BodyError> {
        Body::from_bytes(&self.body)
    }
}

fn array<const N: usize>(slice: &[u8]) -> [u8; N] {
    let mut out = [0u8; N];
    out.copy_from_slice(slice);
    out
}

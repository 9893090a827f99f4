//! Public keys and fixed-size byte strings on the wire.
//!
//! Every key, hash and signature is standard base64 in human-readable formats (JSON) and raw
//! fixed-length bytes in bincode, so a body's canonical encoding carries no length prefixes for them.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::de::{self, SeqAccess, Visitor};
use serde::ser::SerializeTuple;

/// Length of an Ed25519 public key.
pub const PUBLIC_KEY_LEN: usize = 32;
/// Length of an Ed25519 signature.
pub const SIGNATURE_LEN: usize = 64;

/// An Ed25519 public key as it appears on the wire: 32 bytes, not yet checked to be a valid point.
///
/// Accounts are named by their key; [`crate::entry::signature`] decides whether a key verifies.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PublicKey(pub [u8; PUBLIC_KEY_LEN]);

impl PublicKey {
    /// The key's bytes.
    pub fn as_bytes(&self) -> &[u8; PUBLIC_KEY_LEN] {
        &self.0
    }

    /// Standard base64.
    pub fn to_base64(&self) -> String {
        BASE64.encode(self.0)
    }

    /// Parses standard base64 of exactly 32 bytes.
    ///
    /// # Errors
    /// `None` if the text is not base64 of 32 bytes.
    pub fn from_base64(text: &str) -> Option<Self> {
        let bytes = BASE64.decode(text).ok()?;
        Some(Self(bytes.try_into().ok()?))
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.to_base64())
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_base64())
    }
}

impl serde::Serialize for PublicKey {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serialize_bytes(&self.0, serializer)
    }
}

impl<'de> serde::Deserialize<'de> for PublicKey {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserialize_bytes(deserializer).map(Self)
    }
}

/// Serialises a fixed-size byte array: base64 text when human-readable, else a tuple of bytes.
/// First word of a key file (`testigo-node`'s log key, `testigo-audit`'s regulator key), so a
/// wrong file is refused by name, not by a base64 error.
pub const KEY_FILE_TAG: &str = "testigo-ed25519-seed-v1";

/// A key file's text: one line, `testigo-ed25519-seed-v1 <base64 of the 32-byte seed>`. The
/// file is the caller's to write owner-only; this text is the secret.
pub fn key_file_text(key: &ed25519_dalek::SigningKey) -> String {
    format!("{KEY_FILE_TAG} {}\n", BASE64.encode(key.to_bytes()))
}

/// Parses a key file's text.
///
/// # Errors
/// A sentence saying what is wrong, for the caller to name the file with.
pub fn parse_key_file(text: &str) -> Result<ed25519_dalek::SigningKey, &'static str> {
    let (tag, seed) = text
        .trim_end()
        .split_once(' ')
        .ok_or("expected `testigo-ed25519-seed-v1 <base64>`")?;
    if tag != KEY_FILE_TAG {
        return Err("unknown format tag");
    }
    let seed: [u8; 32] = BASE64
        .decode(seed)
        .ok()
        .and_then(|v| v.try_into().ok())
        .ok_or("seed is not 32 bytes of base64")?;
    Ok(ed25519_dalek::SigningKey::from_bytes(&seed))
}

pub(crate) fn serialize_bytes<S: serde::Serializer, const N: usize>(
    bytes: &[u8; N],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    if serializer.is_human_readable() {
        serializer.serialize_str(&BASE64.encode(bytes))
    } else {
        let mut tuple = serializer.serialize_tuple(N)?;
        for b in bytes {
            tuple.serialize_element(b)?;
        }
        tuple.end()
    }
}

/// The inverse of [`serialize_bytes`].
pub(crate) fn deserialize_bytes<'de, D: serde::Deserializer<'de>, const N: usize>(
    deserializer: D,
) -> Result<[u8; N], D::Error> {
    struct Fixed<const N: usize>;

    impl<'de, const N: usize> Visitor<'de> for Fixed<N> {
        type Value = [u8; N];

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "{N} bytes (standard base64 in text formats)")
        }

        fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
            let bytes = BASE64
                .decode(text)
                .map_err(|_| E::custom(format_args!("invalid base64 for a {N}-byte value")))?;
            bytes.try_into().map_err(|v: Vec<u8>| {
                E::custom(format_args!("expected {N} bytes, got {}", v.len()))
            })
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut out = [0u8; N];
            for (i, slot) in out.iter_mut().enumerate() {
                *slot = seq
                    .next_element()?
                    .ok_or_else(|| de::Error::invalid_length(i, &self))?;
            }
            Ok(out)
        }
    }

    if deserializer.is_human_readable() {
        deserializer.deserialize_str(Fixed::<N>)
    } else {
        deserializer.deserialize_tuple(N, Fixed::<N>)
    }
}

/// Serde adapter for `[u8; 64]` signatures and other fixed arrays inside derived types.
pub(crate) mod fixed_bytes {
    pub(crate) fn serialize<S: serde::Serializer, const N: usize>(
        bytes: &[u8; N],
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        super::serialize_bytes(bytes, serializer)
    }

    pub(crate) fn deserialize<'de, D: serde::Deserializer<'de>, const N: usize>(
        deserializer: D,
    ) -> Result<[u8; N], D::Error> {
        super::deserialize_bytes(deserializer)
    }
}

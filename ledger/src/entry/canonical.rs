//! The canonical-bytes rule (DESIGN §4): bincode 2 with `config::standard()`, and a body is
//! accepted only if decoding consumes every byte and re-encoding gives the same bytes.
//!
//! bincode alone accepts trailing bytes and non-minimal varints (and would encode a `HashMap` in
//! iteration order), so without this rule one body could have many byte strings, and signatures,
//! nonces and leaf hashes could not be compared by bytes.

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::BodyError;

/// The largest body the protocol accepts, in bytes. Bodies are small (an `Access` is about 90
/// bytes); the bound keeps a hostile length prefix from allocating.
pub const MAX_BODY_LEN: usize = 16 * 1024;

fn config() -> impl bincode::config::Config {
    bincode::config::standard().with_limit::<MAX_BODY_LEN>()
}

/// Encodes a value in its canonical form.
pub(crate) fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // Encoding into a Vec cannot fail for the protocol's types: they have no maps of unknown
    // length and no custom serialisers that error.
    bincode::serde::encode_to_vec(value, config()).unwrap_or_default()
}

/// Decodes bytes that must be the canonical encoding of a `T`.
pub(crate) fn decode<T: Serialize + DeserializeOwned>(bytes: &[u8]) -> Result<T, BodyError> {
    if bytes.len() > MAX_BODY_LEN {
        return Err(BodyError::TooLarge {
            len: bytes.len(),
            max: MAX_BODY_LEN,
        });
    }
    let (value, read): (T, usize) =
        bincode::serde::decode_from_slice(bytes, config()).map_err(BodyError::Undecodable)?;
    if read != bytes.len() {
        return Err(BodyError::TrailingBytes {
            extra: bytes.len() - read,
        });
    }
    if encode(&value) != bytes {
        return Err(BodyError::NotCanonical);
    }
    Ok(value)
}

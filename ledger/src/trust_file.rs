//! The trust file an operator publishes so wallets can pin its log without trusting the node
//! they are about to verify (`docs/PROTOCOL.md` §15). JSON:
//!
//! ```text
//! {"testigo_trust_file": 1, "origin": "testigo.example/log/1",
//!  "log_key": "<base64>", "genesis_hash": "<base64>", "genesis_leaf": "<base64>",
//!  "nodes": ["https://node.example:7700"]}
//! ```
//!
//! `genesis_leaf` is leaf 0 exactly as the log holds it; a reader accepts the file only if
//! that leaf passes the rules for leaf 0, hashes to `genesis_hash`, names `log_key` and
//! `origin`. `nodes` is a hint (where to reach the log), never a source of trust.

use serde::{Deserialize, Serialize};

use crate::api::Bytes;
use crate::hash::Hash;
use crate::keys::PublicKey;
use crate::state::LogParams;
use crate::verify::{GenesisError, verify_genesis};

/// The only version of the trust file.
pub const TRUST_FILE_VERSION: u32 = 1;
/// The largest trust file a reader accepts.
pub const MAX_TRUST_FILE_BYTES: usize = 64 * 1024;

/// A published trust anchor for one log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustFile {
    /// Format version, [`TRUST_FILE_VERSION`].
    pub testigo_trust_file: u32,
    /// The log's origin.
    pub origin: String,
    /// The log key.
    pub log_key: PublicKey,
    /// `H(0x00 ‖ genesis_leaf)`.
    pub genesis_hash: Hash,
    /// Leaf 0 of the log, as sequenced.
    pub genesis_leaf: Bytes,
    /// Where the log's nodes (primary, witnesses, mirrors) answer.
    #[serde(default)]
    pub nodes: Vec<String>,
}

/// Why a trust file is refused.
#[derive(Debug, thiserror::Error)]
pub enum TrustFileError {
    /// Too large to be one.
    #[error("the trust file is {0} bytes, more than {MAX_TRUST_FILE_BYTES}")]
    TooLarge(usize),
    /// Not the JSON shape.
    #[error("the trust file is not JSON of the trust-file shape: {0}")]
    Malformed(String),
    /// Another version.
    #[error("trust file version {0} is not understood (this reader knows {TRUST_FILE_VERSION})")]
    Version(u32),
    /// The genesis leaf is not a valid leaf 0 or does not hash to `genesis_hash`.
    #[error(transparent)]
    Genesis(#[from] GenesisError),
    /// The genesis names another key or origin than the file says.
    #[error("the genesis leaf names {what} {found}, the file says {stated}")]
    Disagrees {
        /// Which field.
        what: &'static str,
        /// What the file states.
        stated: String,
        /// What the genesis leaf names.
        found: String,
    },
}

impl TrustFile {
    /// The trust file for a log whose genesis leaf is `genesis_leaf` (already verified).
    pub fn new(params: &LogParams, genesis_leaf: Vec<u8>, nodes: Vec<String>) -> Self {
        Self {
            testigo_trust_file: TRUST_FILE_VERSION,
            origin: params.origin.clone(),
            log_key: params.log_key,
            genesis_hash: params.genesis_leaf,
            genesis_leaf: Bytes(genesis_leaf),
            nodes,
        }
    }

    /// Parses and checks a trust file; returns it with the log's parameters.
    ///
    /// # Errors
    /// A [`TrustFileError`]; nothing is trusted from a file that fails.
    pub fn parse(bytes: &[u8]) -> Result<(Self, LogParams), TrustFileError> {
        if bytes.len() > MAX_TRUST_FILE_BYTES {
            return Err(TrustFileError::TooLarge(bytes.len()));
        }
        let file: Self =
            serde_json::from_slice(bytes).map_err(|e| TrustFileError::Malformed(e.to_string()))?;
        if file.testigo_trust_file != TRUST_FILE_VERSION {
            return Err(TrustFileError::Version(file.testigo_trust_file));
        }
        let params = verify_genesis(&file.genesis_leaf.0, Some(&file.genesis_hash))?;
        if params.log_key != file.log_key {
            return Err(TrustFileError::Disagrees {
                what: "log key",
                stated: file.log_key.to_string(),
                found: params.log_key.to_string(),
            });
        }
        if params.origin != file.origin {
            return Err(TrustFileError::Disagrees {
                what: "origin",
                stated: file.origin.clone(),
                found: params.origin.clone(),
            });
        }
        Ok((file, params))
    }

    /// The pretty JSON text, ending in a newline.
    pub fn to_text(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        text
    }
}

//! The wallet directory and its trust state (`docs/PROTOCOL.md` §15), kept the way Go's
//! checksum-database client keeps its latest tree: one file, `trust.json`, replaced atomically
//! (temporary file, fsync, rename, fsync of the directory), so a crash mid-update leaves the
//! previous state, which `verify` re-checks from scratch.
//!
//! It holds the pinned log (its genesis leaf: every parameter is re-derived from it), how it
//! was pinned, the nodes to ask, the latest trusted checkpoint with the account answer proven
//! against it (`StateRoot` leaf, its inclusion, the map proof, the record), and the account's
//! whole history, each leaf with its inclusion proof in the checkpoint trusted when it was
//! fetched. The older checkpoints that prove leaves are kept, each with a consistency proof to
//! the next, so that a sync fetches only the new leaves and `verify` still re-checks all of it
//! offline. Nothing in it is believed on reading: [`WalletState::verify`] runs the same checks
//! as a sync.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use testigo_ledger::api::{AccountProof, Bytes, HistoryEntry};
use testigo_ledger::entry::Leaf;
use testigo_ledger::entry::signature::verify_leaves;
use testigo_ledger::state::LogParams;
use testigo_ledger::verify::{
    HeldHistory, KeptCheckpoint, VerifiedAccount, VerifiedEntry, verify_account, verify_genesis,
    verify_held_history,
};
use testigo_ledger::{Hash, PublicKey};

use crate::error::{Result, WalletError};
use crate::fsutil;

/// Version of `trust.json`: 2 keeps the older checkpoints that prove history leaves.
pub const STATE_VERSION: u32 = 2;
/// The version before: one checkpoint proving every leaf. Its layout is version 2's with no
/// kept checkpoint, so it is read as such (and written as version 2 at the next sync).
const STATE_VERSION_ONE: u32 = 1;
/// The largest `trust.json` read (a history of ~100,000 entries).
pub const MAX_STATE_BYTES: u64 = 256 * 1024 * 1024;
/// The key file's name in the wallet directory.
pub const KEY_FILE: &str = "key.age";
/// The trust state's name in the wallet directory.
pub const STATE_FILE: &str = "trust.json";
/// The evidence directory's name in the wallet directory.
pub const EVIDENCE_DIR: &str = "evidence";

/// How the log was pinned at `init`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pinned {
    /// `--log-key` and `--genesis-hash`, given by the user.
    LogKeyAndGenesisHash,
    /// `--trust-file`, published by the operator.
    TrustFile,
    /// `--tofu`: first use, with the fingerprint printed for comparing out of band.
    FirstUse,
}

/// What the wallet trusts, as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WalletState {
    /// [`STATE_VERSION`].
    pub version: u32,
    /// The wallet's own public key (the account it verifies).
    pub account: PublicKey,
    /// Leaf 0 of the pinned log, as sequenced.
    pub genesis_leaf: Bytes,
    /// Its hash, as pinned.
    pub genesis_hash: Hash,
    /// How it was pinned.
    pub pinned: Pinned,
    /// Nodes to ask (primary first, then witnesses and mirrors).
    pub nodes: Vec<String>,
    /// The latest trusted checkpoint and what is proven against it; `None` before the first sync.
    pub trusted: Option<Trusted>,
}

/// The latest trusted checkpoint with the account's proofs against it, and the account's
/// history with the older checkpoints its leaves are proven in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Trusted {
    /// The checkpoint note as received, cosignature lines included.
    pub note: String,
    /// The account answer proven against it.
    pub account: AccountProof,
    /// Older trusted checkpoints that prove at least one leaf of `history`, by growing size,
    /// each with a consistency proof to the next (the last one's to `note`). Absent in a
    /// version 1 file: none.
    #[serde(default)]
    pub kept: Vec<KeptCheckpoint>,
    /// The account's history, each leaf with its inclusion proof in the checkpoint trusted when
    /// it was fetched (`inclusion.size` names it: `note`'s or one of `kept`).
    pub history: Vec<HistoryEntry>,
}

/// A state that passed [`WalletState::verify`].
#[derive(Clone, Debug)]
pub struct Checked {
    /// The log's parameters from the pinned genesis.
    pub params: LogParams,
    /// The account proven at the trusted checkpoint, if any.
    pub account: Option<VerifiedAccount>,
    /// The verified history.
    pub entries: Vec<VerifiedEntry>,
    /// The history to resume from at the next sync (`None` before the first).
    pub held: Option<HeldHistory>,
    /// `sequenced_at` of the trusted checkpoint's last leaf.
    pub last_leaf_ms: Option<u64>,
}

impl WalletState {
    /// Parses `trust.json` (shape and version only; see [`WalletState::verify`]).
    ///
    /// # Errors
    /// [`WalletError::Local`] saying what is wrong.
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        let mut state: Self = serde_json::from_slice(bytes)
            .map_err(|e| WalletError::local("trust.json is not a wallet trust state", e))?;
        match state.version {
            STATE_VERSION => {}
            STATE_VERSION_ONE => state.version = STATE_VERSION,
            other => {
                return Err(WalletError::Local(format!(
                    "trust.json is version {other}, this wallet reads versions {STATE_VERSION_ONE} and {STATE_VERSION}"
                )));
            }
        }
        if let Some(trusted) = &state.trusted
            && trusted.kept.len() > trusted.history.len()
        {
            // Each kept checkpoint proves a leaf; refused before any proof is checked, so a
            // forged file cannot make `verify` check more notes than the history has leaves.
            return Err(WalletError::Local(format!(
                "trust.json keeps {} checkpoints for {} history leaves",
                trusted.kept.len(),
                trusted.history.len()
            )));
        }
        Ok(state)
    }

    /// Loads and parses the state in `dir`.
    ///
    /// # Errors
    /// [`WalletError::Local`], e.g. for a directory without a wallet.
    pub fn load(dir: &Path) -> Result<Self> {
        let path = dir.join(STATE_FILE);
        if !path.exists() {
            return Err(WalletError::Local(format!(
                "no wallet in {} (run `testigo-wallet init` first)",
                dir.display()
            )));
        }
        Self::parse(&fsutil::read_limited(&path, MAX_STATE_BYTES)?)
    }

    /// Writes the state to `dir` atomically.
    ///
    /// # Errors
    /// [`WalletError::Local`].
    pub fn save(&self, dir: &Path) -> Result<()> {
        let bytes = serde_json::to_vec(self).map_err(|e| WalletError::local("encoding", e))?;
        fsutil::write_atomically(&dir.join(STATE_FILE), &bytes)
    }

    /// The log's parameters, re-derived from the pinned genesis leaf.
    ///
    /// # Errors
    /// [`WalletError::Integrity`] if the leaf is not the pinned one or not a valid leaf 0.
    pub fn params(&self) -> Result<LogParams> {
        verify_genesis(&self.genesis_leaf.0, Some(&self.genesis_hash))
            .map_err(|e| WalletError::Integrity(format!("the pinned genesis: {e}")))
    }

    /// Re-checks everything held, without the network: the genesis against its pin, the
    /// trusted checkpoint and every kept one (log key and quorum), the consistency proofs
    /// between them, the account answer against the latest, every history leaf's inclusion (in
    /// the checkpoint its proof names), involvement and signature, and the chain against the
    /// record's length and head.
    ///
    /// # Errors
    /// [`WalletError::Integrity`] naming what fails.
    pub fn verify(&self) -> Result<Checked> {
        let params = self.params()?;
        let Some(trusted) = &self.trusted else {
            return Ok(Checked {
                params,
                account: None,
                entries: Vec::new(),
                held: None,
                last_leaf_ms: None,
            });
        };
        let account = verify_account(&trusted.note, &params, &self.account, &trusted.account)
            .map_err(|e| WalletError::Integrity(format!("the trusted account proof: {e}")))?;
        let (entries, held) =
            verify_held_history(&params, &account, &trusted.kept, &trusted.history)
                .map_err(|e| WalletError::Integrity(format!("the history: {e}")))?;
        verify_signatures(&params, &entries)?;
        let last_leaf_ms = Leaf::from_bytes(&trusted.account.state_root.leaf.0)
            .map(|l| l.sequenced_at)
            .ok();
        Ok(Checked {
            params,
            account: Some(account),
            entries,
            held: Some(held),
            last_leaf_ms,
        })
    }

    /// [`WalletState::verify`], consuming the state (what `testigo-wallet verify` does).
    ///
    /// # Errors
    /// As [`WalletState::verify`].
    pub fn into_checked(self) -> Result<Checked> {
        self.verify()
    }

    /// Where evidence is saved.
    pub fn evidence_dir(dir: &Path) -> PathBuf {
        dir.join(EVIDENCE_DIR)
    }
}

/// Checks every entry's signature with `verify_leaves` (batched).
///
/// # Errors
/// [`WalletError::Integrity`] naming the first leaf whose signature fails.
pub fn verify_signatures(params: &LogParams, entries: &[VerifiedEntry]) -> Result<()> {
    let leaves: Vec<&Leaf> = entries.iter().map(|e| &e.leaf).collect();
    for (entry, result) in entries.iter().zip(verify_leaves(&params.origin, &leaves)) {
        if let Err(e) = result {
            return Err(WalletError::Integrity(format!(
                "leaf {}: the signature of {} fails: {e}",
                entry.index, entry.leaf.signer
            )));
        }
    }
    Ok(())
}

//! `init`, `import`, `address`, `export`: the key file and the pinned log.

use std::path::Path;

use serde_json::json;
use testigo_client::Client;
use testigo_ledger::api::Bytes;
use testigo_ledger::state::LogParams;
use testigo_ledger::trust_file::TrustFile;
use testigo_ledger::verify::verify_genesis;
use testigo_ledger::{Hash, PublicKey};

use crate::cli::PinArgs;
use crate::error::{Result, WalletError};
use crate::state::{KEY_FILE, Pinned, STATE_FILE, STATE_VERSION, WalletState};
use crate::{Ctx, fsutil, keyfile};

/// `init` (a new key) or `import FILE` (an exported key file).
pub(crate) async fn init(ctx: &mut Ctx<'_>, pin: &PinArgs, import: Option<&Path>) -> Result<()> {
    for name in [KEY_FILE, STATE_FILE] {
        if ctx.dir.join(name).exists() {
            return Err(WalletError::Local(format!(
                "{} already holds a wallet ({name}); nothing was changed",
                ctx.dir.display()
            )));
        }
    }
    let (params, genesis_leaf, pinned, nodes) = pin_log(ctx, pin).await?;
    let (key_bytes, key) = match import {
        Some(path) => {
            let bytes = fsutil::read_limited(path, keyfile::MAX_KEY_FILE_BYTES as u64)?;
            let passphrase = ctx.passphrase(false)?;
            let key = keyfile::open(&bytes, &passphrase)
                .map_err(|e| WalletError::local(path.display(), e))?;
            (bytes, key)
        }
        None => {
            let passphrase = ctx.passphrase(true)?;
            let key = testigo_ledger::entry::signature::generate_signing_key()
                .map_err(|e| WalletError::local("drawing a key from the system's randomness", e))?;
            (keyfile::seal(&key, &passphrase, pin.work_factor), key)
        }
    };
    let account = PublicKey(key.verifying_key().to_bytes());
    fsutil::create_dir(&ctx.dir)?;
    fsutil::create_new(&ctx.dir.join(KEY_FILE), &key_bytes)?;
    let state = WalletState {
        version: STATE_VERSION,
        account,
        genesis_leaf: Bytes(genesis_leaf),
        genesis_hash: params.genesis_leaf,
        pinned,
        nodes,
        trusted: None,
    };
    state.save(&ctx.dir)?;
    let witnessing = witnessing(&params);
    if ctx.global.json {
        ctx.json(&json!({
            "address": account,
            "wallet_dir": ctx.dir,
            "log": {"origin": params.origin, "log_key": params.log_key, "genesis_hash": params.genesis_leaf,
                    "quorum": params.quorum, "witnesses": params.witnesses.iter().map(|w| &w.name).collect::<Vec<_>>()},
            "pinned": pinned,
        }))
    } else {
        let text = format!(
            "Wallet created in {}\n  your address:  {account}\n  log:           {}\n  log key:       {}\n  genesis hash:  {}\n  checkpoints:   {witnessing}\n  pinned by:     {}\n",
            ctx.dir.display(),
            params.origin,
            params.log_key,
            params.genesis_leaf,
            match pinned {
                Pinned::LogKeyAndGenesisHash => "the log key and genesis hash you gave",
                Pinned::TrustFile => "the operator's trust file",
                Pinned::FirstUse => "first use (compare the fingerprint above out of band!)",
            }
        );
        ctx.out(&text)
    }
}

/// Who signs the checkpoints the wallet accepts, in words.
pub(crate) fn witnessing(params: &LogParams) -> String {
    if params.quorum == 0 {
        "signed by the operator alone (the log names no witnesses)".to_owned()
    } else {
        format!(
            "witnessed by {} of {} ({})",
            params.quorum,
            params.witnesses.len(),
            params
                .witnesses
                .iter()
                .map(|w| w.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
}

async fn pin_log(
    ctx: &mut Ctx<'_>,
    pin: &PinArgs,
) -> Result<(LogParams, Vec<u8>, Pinned, Vec<String>)> {
    if let Some(path) = &pin.trust_file {
        let bytes = fsutil::read_limited(
            path,
            testigo_ledger::trust_file::MAX_TRUST_FILE_BYTES as u64,
        )?;
        let (file, params) =
            TrustFile::parse(&bytes).map_err(|e| WalletError::local(path.display(), e))?;
        let nodes = if ctx.global.nodes.is_empty() {
            file.nodes.clone()
        } else {
            ctx.global.nodes.clone()
        };
        return Ok((params, file.genesis_leaf.0, Pinned::TrustFile, nodes));
    }
    let nodes = ctx.global.nodes.clone();
    let Some(url) = nodes.first() else {
        return Err(WalletError::Usage(
            "give --node URL (the log's node) to pin the log against".into(),
        ));
    };
    let client = Client::new(url).map_err(|e| WalletError::Usage(format!("--node {url}: {e}")))?;
    let (pinned_hash, pinned_key, how) = match (&pin.log_key, &pin.genesis_hash, pin.tofu) {
        (Some(key), Some(hash), false) => {
            let key = PublicKey::from_base64(key).ok_or_else(|| {
                WalletError::Usage(format!("--log-key {key:?} is not a base64 key"))
            })?;
            (
                Some(parse_hash(hash)?),
                Some(key),
                Pinned::LogKeyAndGenesisHash,
            )
        }
        (None, None, true) => (None, None, Pinned::FirstUse),
        _ => {
            return Err(WalletError::Usage(
                "pin the log: --log-key KEY --genesis-hash HASH, --trust-file FILE, or --tofu (see --help)".into(),
            ));
        }
    };
    let info = client.log().await.map_err(WalletError::client(format!(
        "asking {url} for the log's genesis"
    )))?;
    let params = verify_genesis(&info.genesis_leaf.0, pinned_hash.as_ref()).map_err(|e| {
        WalletError::Integrity(format!(
            "{url} serves a genesis that is not the pinned one: {e}"
        ))
    })?;
    if let Some(key) = pinned_key
        && key != params.log_key
    {
        return Err(WalletError::Integrity(format!(
            "{url}'s genesis names log key {}, you pinned {key}",
            params.log_key
        )));
    }
    if how == Pinned::FirstUse {
        ctx.note(&format!(
            "TRUST ON FIRST USE: compare this fingerprint with the one your operator publishes:\n  log {}\n  log key      {}\n  genesis hash {}",
            params.origin, params.log_key, params.genesis_leaf
        ));
    }
    Ok((params, info.genesis_leaf.0, how, nodes))
}

pub(crate) fn parse_hash(text: &str) -> Result<Hash> {
    if let Some(h) = Hash::from_base64(text) {
        return Ok(h);
    }
    let bytes = hex::decode(text).map_err(|_| {
        WalletError::Usage(format!(
            "--genesis-hash {text:?} is neither base64 nor hex of 32 bytes"
        ))
    })?;
    let bytes: [u8; 32] = bytes
        .try_into()
        .map_err(|_| WalletError::Usage(format!("--genesis-hash {text:?} is not 32 bytes")))?;
    Ok(Hash(bytes))
}

/// `address`.
pub(crate) fn address(ctx: &mut Ctx<'_>) -> Result<()> {
    let state = WalletState::load(&ctx.dir)?;
    if ctx.global.json {
        ctx.json(&json!({"address": state.account}))
    } else {
        ctx.out(&format!("{}\n", state.account))
    }
}

/// `export FILE`: the key file as it is (encrypted), after checking the passphrase opens it.
pub(crate) fn export(ctx: &mut Ctx<'_>, file: &Path) -> Result<()> {
    let _ = ctx.key()?;
    let bytes = fsutil::read_limited(&ctx.dir.join(KEY_FILE), keyfile::MAX_KEY_FILE_BYTES as u64)?;
    fsutil::create_new(file, &bytes)?;
    if ctx.global.json {
        ctx.json(&json!({"exported": file}))
    } else {
        ctx.out(&format!(
            "Key file exported to {} (encrypted with your passphrase; `age -d` opens it too)\n",
            file.display()
        ))
    }
}

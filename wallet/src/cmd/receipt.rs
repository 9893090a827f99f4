//! `proof INDEX…` and `verify-proof FILE`: offline receipts (`docs/PROTOCOL.md` §12).
//!
//! A receipt carries the genesis leaf, the chosen entries of the wallet's verified history with
//! their inclusion proofs, and the trusted checkpoint with its cosignatures, so whoever holds
//! the log key (a regulator, a court) checks it with no node and no trust in the wallet.

use std::path::Path;

use serde_json::{Value, json};
use testigo_ledger::receipt::{MAX_RECEIPT_BYTES, Receipt, ReceiptEntry, VerifiedReceipt};
use testigo_ledger::{Hash, PublicKey};

use crate::Ctx;
use crate::cli::{ProofArgs, VerifyProofArgs};
use crate::cmd::keys::{parse_hash, witnessing};
use crate::cmd::view::{Row, contact};
use crate::error::{Result, WalletError};
use crate::fsutil;
use crate::state::WalletState;

/// `proof INDEX… --out FILE`: syncs, then writes a receipt of those entries of the verified
/// history under the newly trusted checkpoint, after verifying it as a reader would.
pub(crate) async fn proof(ctx: &mut Ctx<'_>, args: &ProofArgs) -> Result<()> {
    let mut wanted = args.indexes.clone();
    wanted.sort_unstable();
    wanted.dedup();
    if wanted.contains(&0) {
        return Err(WalletError::Usage(
            "index 0 is the genesis leaf, which every receipt carries already".into(),
        ));
    }
    if wanted.len() >= testigo_ledger::receipt::MAX_RECEIPT_ENTRIES {
        return Err(WalletError::Usage(format!(
            "a receipt carries at most {} entries besides the genesis leaf",
            testigo_ledger::receipt::MAX_RECEIPT_ENTRIES - 1
        )));
    }
    if args.out.exists() {
        return Err(WalletError::Local(format!(
            "{} exists already; nothing was written",
            args.out.display()
        )));
    }
    let c = contact(ctx).await?;
    let trusted = c
        .state
        .trusted
        .as_ref()
        .ok_or_else(|| WalletError::Local("the wallet holds no trusted checkpoint".into()))?;
    let size = c.synced.account.checkpoint.size();
    let mut entries = Vec::with_capacity(wanted.len() + 1);
    let client = &c.clients[0];
    let genesis_proof = client
        .inclusion(0, size)
        .await
        .map_err(WalletError::client(format!(
            "asking {} for the genesis leaf's inclusion proof",
            client.base()
        )))?;
    entries.push(ReceiptEntry {
        index: 0,
        leaf: c.state.genesis_leaf.0.clone(),
        proof: genesis_proof.path,
    });
    for index in &wanted {
        let held = trusted
            .history
            .iter()
            .find(|h| h.inclusion.index == *index)
            .ok_or_else(|| {
                WalletError::Usage(format!(
                    "entry {index} is not in your verified history (see `testigo-wallet history`)"
                ))
            })?;
        // A leaf fetched at an earlier sync is proven in an older checkpoint; the receipt
        // carries the latest, so its proof is asked for again (and checked with the rest below).
        let proof = if held.inclusion.size == size {
            held.inclusion.path.clone()
        } else {
            client
                .inclusion(*index, size)
                .await
                .map_err(WalletError::client(format!(
                    "asking {} for the inclusion proof of entry {index}",
                    client.base()
                )))?
                .path
        };
        entries.push(ReceiptEntry {
            index: *index,
            leaf: held.leaf.0.clone(),
            proof,
        });
    }
    let receipt = Receipt::new(entries, trusted.note.clone())
        .map_err(|e| WalletError::Local(format!("building the receipt: {e}")))?;
    // The history proofs in the latest checkpoint were verified at sync; the genesis proof and
    // those of leaves fetched at earlier syncs came just now. Checking the whole receipt as its
    // reader will catches a node that lied about the latter.
    let verified = receipt
        .verify(&c.params.log_key, Some(&c.state.genesis_hash))
        .map_err(|e| {
            WalletError::Integrity(format!(
                "{}: the receipt built from its answers does not verify: {e}",
                client.base()
            ))
        })?;
    fsutil::create_new(&args.out, receipt.to_text().as_bytes())?;
    if ctx.global.json {
        let mut v = report(&verified);
        v["written"] = json!(args.out);
        return ctx.json(&v);
    }
    let mut text = format!(
        "Receipt written to {}: {} entries under the checkpoint of size {} ({}).\n",
        args.out.display(),
        verified.entries.len(),
        size,
        witnessing(&c.params)
    );
    text.push_str(&lines(&verified, ctx.now_ms));
    text.push_str("Anyone with the log key can check it: testigo-wallet verify-proof FILE --log-key KEY (or testigo-audit verify-proof).\n");
    ctx.out(&text)
}

/// `verify-proof FILE`: offline, against the pinned log (or `--log-key`/`--genesis-hash`).
pub(crate) fn verify_proof(ctx: &mut Ctx<'_>, args: &VerifyProofArgs) -> Result<()> {
    let (log_key, genesis_hash) = anchor(ctx, args)?;
    let bytes = read_receipt(&args.file)?;
    let receipt = Receipt::parse(&bytes).map_err(|e| {
        WalletError::Integrity(format!(
            "{} is not a valid receipt: {e}",
            args.file.display()
        ))
    })?;
    let verified = receipt
        .verify(&log_key, genesis_hash.as_ref())
        .map_err(|e| {
            WalletError::Integrity(format!(
                "{} does not verify: {e}; nothing it claims is proven",
                args.file.display()
            ))
        })?;
    if ctx.global.json {
        return ctx.json(&report(&verified));
    }
    let mut text = format!(
        "OK: {} entries of log {} are included in its checkpoint of size {} ({}), each signed by its signer.\n",
        verified.entries.len(),
        verified.params.origin,
        verified.checkpoint.size(),
        witnessing(&verified.params)
    );
    text.push_str(&lines(&verified, ctx.now_ms));
    if genesis_hash.is_none() {
        text.push_str("(checked against the log key alone; give --genesis-hash to pin the log's genesis too)\n");
    }
    ctx.out(&text)
}

/// The log key and genesis hash to check against: from the command line, else the wallet's pin.
fn anchor(ctx: &Ctx<'_>, args: &VerifyProofArgs) -> Result<(PublicKey, Option<Hash>)> {
    let genesis = args.genesis_hash.as_deref().map(parse_hash).transpose()?;
    if let Some(key) = &args.log_key {
        let key = PublicKey::from_base64(key)
            .ok_or_else(|| WalletError::Usage(format!("--log-key {key:?} is not a base64 key")))?;
        return Ok((key, genesis));
    }
    let state = WalletState::load(&ctx.dir).map_err(|e| {
        WalletError::Usage(format!(
            "{e}; or give --log-key KEY (and --genesis-hash HASH) to check a receipt without a wallet"
        ))
    })?;
    let params = state.params()?;
    Ok((params.log_key, Some(genesis.unwrap_or(state.genesis_hash))))
}

fn read_receipt(path: &Path) -> Result<Vec<u8>> {
    fsutil::read_limited(path, MAX_RECEIPT_BYTES as u64)
}

fn report(verified: &VerifiedReceipt) -> Value {
    let params = &verified.params;
    json!({
        "verified": true,
        "log": params.origin,
        "log_key": params.log_key,
        "genesis_hash": params.genesis_leaf,
        "checkpoint_size": verified.checkpoint.size(),
        "checkpoint_root": verified.checkpoint.root(),
        "witnessed_by": verified.cosigners.iter().map(|c| &c.name).collect::<Vec<_>>(),
        "quorum": params.quorum,
        "entries": verified
            .entries
            .iter()
            .map(|e| Row::from_parts(e.index, &e.leaf, &e.body).json(params))
            .collect::<Vec<_>>(),
    })
}

fn lines(verified: &VerifiedReceipt, now_ms: u64) -> String {
    let rows: Vec<Vec<String>> = verified
        .entries
        .iter()
        .map(|e| {
            let row = Row::from_parts(e.index, &e.leaf, &e.body);
            vec![
                e.index.to_string(),
                crate::format::time(e.leaf.sequenced_at, now_ms),
                row.kind.to_owned(),
                row.describe(&verified.params),
            ]
        })
        .collect();
    crate::format::table(&["#", "when", "what", "details"], &rows)
}

//! One contact with the log (DESIGN §8): every configured node's checkpoint is checked against
//! the log key, against the others and against the trusted one (two signed checkpoints of one
//! size with different roots are saved as split-view evidence), the newest one witnessed by the
//! quorum is proven consistent with the trusted one and fresh, and the account is proven against
//! it. The history held (re-checked offline first) is resumed: only the leaves after it are
//! fetched, proven in the new checkpoint, and the held head extended by them must be the new
//! record's. Nothing is written unless all of it holds; then the new trust state replaces the
//! old in one atomic rename.

use std::path::{Path, PathBuf};

use testigo_client::{Client, VerifiedCheckpoint};
use testigo_ledger::Hash;
use testigo_ledger::api::HistoryEntry;
use testigo_ledger::checkpoint::{Checkpoint, Evidence, verify_checkpoint};
use testigo_ledger::entry::Leaf;
use testigo_ledger::replication::is_stale;
use testigo_ledger::state::LogParams;
use testigo_ledger::verify::{
    HistoryCursor, KeptCheckpoint, VerifiedAccount, VerifiedEntry, verify_account,
    verify_log_checkpoint,
};

use crate::error::{Result, WalletError};
use crate::fsutil;
use crate::state::{Trusted, WalletState, verify_signatures};

/// A checkpoint one node served, signed by the log key.
#[derive(Clone, Debug)]
struct Offer {
    node: usize,
    note: String,
    checkpoint: Checkpoint,
}

/// What a successful contact proved.
#[derive(Clone, Debug)]
pub struct Synced {
    /// The account at the new trusted checkpoint.
    pub account: VerifiedAccount,
    /// Its verified history, the held leaves and the new ones.
    pub entries: Vec<VerifiedEntry>,
    /// How many of `entries` this contact fetched (the others were held and re-checked
    /// offline).
    pub fetched: usize,
    /// `sequenced_at` of the checkpoint's last leaf.
    pub last_leaf_ms: u64,
    /// The node the checkpoint and proofs came from.
    pub node: String,
    /// What the other nodes said, for the report (`url: size` or the problem).
    pub notes: Vec<String>,
}

/// Contacts the nodes, verifies, and on success saves the new trust state.
///
/// # Errors
/// [`WalletError::Integrity`] for a lying node (with evidence saved where it can be),
/// [`WalletError::Stale`] when no fresh witnessed checkpoint is on offer, or the node errors.
pub async fn sync(
    dir: &Path,
    state: &mut WalletState,
    params: &LogParams,
    clients: &[Client],
    now_ms: u64,
) -> Result<Synced> {
    let mut offers = Vec::new();
    let mut problems = Vec::new();
    let mut last_error = None;
    for (node, client) in clients.iter().enumerate() {
        match client.checkpoint().await {
            Ok(note) => match verify_checkpoint(note.as_bytes(), &params.origin, &params.log_key) {
                Ok(checkpoint) => offers.push(Offer {
                    node,
                    note,
                    checkpoint,
                }),
                Err(e) => {
                    return Err(WalletError::Integrity(format!(
                        "{} serves a checkpoint the log key did not sign ({e}):\n{note}",
                        client.base()
                    )));
                }
            },
            Err(e) => {
                problems.push(format!("{}: {e}", client.base()));
                last_error = Some(WalletError::client(format!(
                    "asking {} for its checkpoint",
                    client.base()
                ))(e));
            }
        }
    }
    if offers.is_empty() {
        return Err(last_error.unwrap_or_else(|| WalletError::Usage("no node configured".into())));
    }
    let trusted = match &state.trusted {
        Some(t) => Some(trusted_checkpoint(t, params)?),
        None => None,
    };
    // What is held is resumed, so it is re-checked first (offline: every proof and signature).
    let before = match &state.trusted {
        Some(_) => Some(state.verify().map_err(|e| match e {
            WalletError::Integrity(m) => {
                WalletError::Integrity(format!("trust.json does not verify: {m}"))
            }
            other => other,
        })?),
        None => None,
    };
    check_split_view(dir, params, clients, trusted.as_ref(), &offers)?;

    // Only a checkpoint the quorum cosigned counts from here on.
    let mut witnessed = Vec::new();
    for offer in &offers {
        match verify_log_checkpoint(offer.note.as_bytes(), params) {
            Ok((checkpoint, cosigners)) => witnessed.push((
                offer.node,
                VerifiedCheckpoint {
                    note: offer.note.clone(),
                    checkpoint,
                    cosigners,
                },
            )),
            Err(e) => problems.push(format!(
                "{}: checkpoint of size {} is not witnessed by the quorum: {e}",
                clients[offer.node].base(),
                offer.checkpoint.size()
            )),
        }
    }
    let Some((node, chosen)) = witnessed
        .iter()
        .max_by_key(|(_, c)| c.checkpoint.size())
        .cloned()
    else {
        return Err(WalletError::Stale(format!(
            "no node offers a checkpoint witnessed by the quorum of {} the genesis names; refused:\n  {}",
            params.quorum,
            problems.join("\n  ")
        )));
    };
    let client = &clients[node];
    let mut to_chosen = Vec::new();
    if let Some(trusted) = &trusted {
        if chosen.checkpoint.size() < trusted.checkpoint.size() {
            return Err(WalletError::Stale(format!(
                "the newest witnessed checkpoint on offer (size {}, from {}) is older than the trusted one (size {}): refused",
                chosen.checkpoint.size(),
                client.base(),
                trusted.checkpoint.size()
            )));
        }
        to_chosen = client
            .prove_consistent(trusted, &chosen)
            .await
            .map_err(WalletError::client(format!(
                "{} cannot prove its checkpoint consistent with the trusted one (both notes are printed; a failed proof is not self-contained evidence)",
                client.base()
            )))?;
    }
    // Every other witnessed offer must be a prefix of the chosen tree.
    for (other, offered) in &witnessed {
        if offered.checkpoint.size() < chosen.checkpoint.size() {
            client
                .prove_consistent(offered, &chosen)
                .await
                .map_err(WalletError::client(format!(
                    "{} and {} serve checkpoints that are not consistent",
                    clients[*other].base(),
                    client.base()
                )))?;
        }
    }

    let answer = client
        .account(&state.account, Some(chosen.checkpoint.size()))
        .await
        .map_err(WalletError::client(format!(
            "asking {} for the account",
            client.base()
        )))?;
    let account = verify_account(&chosen.note, params, &state.account, &answer).map_err(|e| {
        WalletError::Integrity(format!("{}: the account answer: {e}", client.base()))
    })?;
    let last_leaf_ms = Leaf::from_bytes(&answer.state_root.leaf.0)
        .map_err(|e| WalletError::Integrity(format!("the StateRoot leaf: {e}")))?
        .sequenced_at;
    if is_stale(last_leaf_ms, now_ms) {
        return Err(WalletError::Stale(format!(
            "the newest witnessed checkpoint (size {}) ends with a leaf sequenced {} s ago; a live log checkpoints at least every 4 minutes (+5 minutes of clock skew): stale, refused",
            chosen.checkpoint.size(),
            now_ms.saturating_sub(last_leaf_ms) / 1000
        )));
    }
    let cursor = match before.as_ref().and_then(|b| b.held.as_ref()) {
        Some(held) => HistoryCursor::resume(&account, held).map_err(|e| {
            WalletError::Integrity(format!(
                "{}: the account record at size {}: {e}",
                client.base(),
                chosen.checkpoint.size()
            ))
        })?,
        None => HistoryCursor::new(&account),
    };
    let (new_entries, new_history) = fetch_history(client, cursor, &account).await?;
    verify_signatures(params, &new_entries)?;
    let kept = match (&state.trusted, &trusted) {
        (Some(held), Some(trusted)) => {
            kept_checkpoints(client, params, held, trusted, &chosen, to_chosen).await?
        }
        _ => Vec::new(),
    };

    let fetched = new_entries.len();
    let mut entries = before.map(|b| b.entries).unwrap_or_default();
    entries.extend(new_entries);
    let mut history = state.trusted.take().map(|t| t.history).unwrap_or_default();
    history.extend(new_history);
    state.trusted = Some(Trusted {
        note: chosen.note.clone(),
        account: answer,
        kept,
        history,
    });
    state.save(dir)?;
    let notes = offers
        .iter()
        .map(|o| format!("{}: size {}", clients[o.node].base(), o.checkpoint.size()))
        .chain(problems)
        .collect();
    Ok(Synced {
        account,
        entries,
        fetched,
        last_leaf_ms,
        node: client.base().to_owned(),
        notes,
    })
}

fn trusted_checkpoint(trusted: &Trusted, params: &LogParams) -> Result<VerifiedCheckpoint> {
    let (checkpoint, cosigners) =
        verify_log_checkpoint(trusted.note.as_bytes(), params).map_err(|e| {
            WalletError::Integrity(format!("the trusted checkpoint in trust.json: {e}"))
        })?;
    Ok(VerifiedCheckpoint {
        note: trusted.note.clone(),
        checkpoint,
        cosigners,
    })
}

/// Same size, different roots, both signed by the log key: self-contained evidence, saved and
/// reported. (Checkpoints of different sizes that fail a consistency proof are reported with
/// both notes; they become evidence only with a leaf proven at one index in both trees.)
fn check_split_view(
    dir: &Path,
    params: &LogParams,
    clients: &[Client],
    trusted: Option<&VerifiedCheckpoint>,
    offers: &[Offer],
) -> Result<()> {
    let mut known: Vec<(String, &str, &Checkpoint)> = Vec::new();
    if let Some(t) = trusted {
        known.push(("the trusted checkpoint".into(), &t.note, &t.checkpoint));
    }
    for o in offers {
        known.push((clients[o.node].base().to_owned(), &o.note, &o.checkpoint));
    }
    for (i, (who_a, note_a, a)) in known.iter().enumerate() {
        for (who_b, note_b, b) in &known[i + 1..] {
            if a.size() == b.size() && a.root() != b.root() {
                let evidence = Evidence::SplitView {
                    first: (*note_a).to_owned(),
                    second: (*note_b).to_owned(),
                };
                evidence
                    .verify(&params.origin, &params.log_key)
                    .map_err(|e| {
                        WalletError::Integrity(format!(
                            "conflicting checkpoints that are not evidence: {e}"
                        ))
                    })?;
                let path = save_evidence(dir, &evidence)?;
                return Err(WalletError::Integrity(format!(
                    "SPLIT VIEW: the log key signed two different trees of size {}: {who_a} has root {}, {who_b} has root {}. \
                     Evidence saved to {} (check it with `testigo-audit verify-evidence`); the trusted state was not changed.",
                    a.size(),
                    a.root(),
                    b.root(),
                    path.display()
                )));
            }
        }
    }
    Ok(())
}

/// Saves evidence as `evidence/NNNNNN.json` (atomically), returning its path.
///
/// # Errors
/// [`WalletError::Local`].
pub fn save_evidence(dir: &Path, evidence: &Evidence) -> Result<PathBuf> {
    let evidence_dir = WalletState::evidence_dir(dir);
    fsutil::create_dir(&evidence_dir)?;
    let bytes =
        serde_json::to_vec_pretty(evidence).map_err(|e| WalletError::local("encoding", e))?;
    for n in 0..1_000_000u32 {
        let path = evidence_dir.join(format!("{n:06}.json"));
        if let Ok(existing) = std::fs::read(&path) {
            if existing == bytes {
                return Ok(path);
            }
            continue;
        }
        fsutil::write_atomically(&path, &bytes)?;
        return Ok(path);
    }
    Err(WalletError::Local("the evidence directory is full".into()))
}

/// The checkpoints to keep once `chosen` is the trusted one: those kept so far, and the one
/// trusted until now if it proves a held leaf, each with a consistency proof to the next.
/// When the one trusted until now proves nothing, the last kept one needs a proof straight to
/// `chosen`, which is asked for and checked here.
async fn kept_checkpoints(
    client: &Client,
    params: &LogParams,
    held: &Trusted,
    trusted: &VerifiedCheckpoint,
    chosen: &VerifiedCheckpoint,
    to_chosen: Vec<Hash>,
) -> Result<Vec<KeptCheckpoint>> {
    let size = trusted.checkpoint.size();
    let mut kept = held.kept.clone();
    if size == chosen.checkpoint.size() {
        return Ok(kept);
    }
    if held.history.iter().any(|h| h.inclusion.size == size) {
        kept.push(KeptCheckpoint {
            note: trusted.note.clone(),
            consistency: to_chosen,
        });
        return Ok(kept);
    }
    if let Some(last) = kept.last_mut() {
        let (checkpoint, cosigners) = verify_log_checkpoint(last.note.as_bytes(), params)
            .map_err(|e| WalletError::Integrity(format!("a kept checkpoint in trust.json: {e}")))?;
        let older = VerifiedCheckpoint {
            note: last.note.clone(),
            checkpoint,
            cosigners,
        };
        last.consistency = client
            .prove_consistent(&older, chosen)
            .await
            .map_err(WalletError::client(format!(
                "{} cannot prove its checkpoint consistent with an older trusted one (both notes are printed)",
                client.base()
            )))?;
    }
    Ok(kept)
}

/// Fetches and verifies the history page by page from where `cursor` stands (the held length,
/// or 0) against the verified record, keeping the raw entries (with their proofs) for the
/// trust state.
async fn fetch_history(
    client: &Client,
    mut cursor: HistoryCursor,
    account: &VerifiedAccount,
) -> Result<(Vec<VerifiedEntry>, Vec<HistoryEntry>)> {
    let mut entries = Vec::new();
    let mut raw = Vec::new();
    let size = Some(account.checkpoint.size());
    while !cursor.is_complete() {
        let page = client
            .history(&account.key, cursor.position(), size)
            .await
            .map_err(WalletError::client(format!(
                "asking {} for the history",
                client.base()
            )))?;
        let verified = cursor.push_page(&page).map_err(|e| {
            WalletError::Integrity(format!(
                "{}: the history page from position {}: {}",
                client.base(),
                page.from,
                e.reason
            ))
        })?;
        entries.extend(verified);
        raw.extend(page.entries);
    }
    Ok((entries, raw))
}

//! `access-batch FILE`: a data buyer's accesses from a JSON-lines file, one request per line,
//! each resolved to a consent as `access` does, signed with consecutive nonces, submitted in
//! chunks (the JSON batch form of `POST /v1/entries`) with progress on standard error, and
//! summarised as accepted or refused line by line. The accepted ones are then found in the
//! accessor's verified history before the summary says so.
//!
//! ```text
//! {"subject": "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=", "category": "pd:Location", "purpose": "dpv:ResearchAndDevelopment"}
//! {"subject": "…", "category": "pd:CallLog", "purpose": "dpv:FraudPreventionAndDetection", "consent": 12}
//! ```

use serde_json::{Value, json};
use testigo_ledger::api::Wait;
use testigo_ledger::entry::{Access, Body, Leaf, LegalBasis, sign_body};

use crate::Ctx;
use crate::batch_file::{MAX_BATCH_FILE_BYTES, lines, parse_line};
use crate::cli::BatchArgs;
use crate::cmd::buyer::{choose, received};
use crate::cmd::view::contact;
use crate::error::{Result, WalletError};
use crate::{format, fsutil};

/// Most leaves sent in one request (the node's own bound is `max_batch_submission`).
const MAX_CHUNK: usize = 1000;

/// What happened to one line.
#[derive(Debug)]
enum Outcome {
    Accepted {
        index: u64,
        price: u64,
        consent: u64,
    },
    Refused {
        code: String,
        reason: String,
    },
}

/// `access-batch FILE [--chunk N]`.
pub(crate) async fn access_batch(ctx: &mut Ctx<'_>, args: &BatchArgs) -> Result<()> {
    let chunk = args.chunk.clamp(1, MAX_CHUNK);
    let bytes = fsutil::read_limited(&args.file, MAX_BATCH_FILE_BYTES)?;
    let lines =
        lines(&bytes).map_err(|e| WalletError::Local(format!("{}: {e}", args.file.display())))?;
    let (c, consents) = received(ctx).await?;
    let now = ctx.now_ms;
    let mut outcomes: Vec<(usize, Outcome)> = Vec::with_capacity(lines.len());
    // Lines that will be sent: (line number, leaf, price, consent).
    let mut to_send: Vec<(usize, Body, u64, u64)> = Vec::new();
    for (number, text) in &lines {
        let refused = |code: &str, reason: String| Outcome::Refused {
            code: code.to_owned(),
            reason,
        };
        match parse_line(text) {
            Err(reason) => outcomes.push((*number, refused("bad_line", reason))),
            Ok(r) => match choose(&consents, &r.subject, r.category, r.purpose, r.consent, now) {
                Err(reason) => outcomes.push((*number, refused("no_consent", reason))),
                Ok(view) => to_send.push((
                    *number,
                    Body::Access(Access {
                        nonce: 0,
                        subject: r.subject,
                        category: r.category,
                        purpose: r.purpose,
                        legal_basis: LegalBasis::Consent,
                        consent: Some(view.index),
                        price: view.consent.price,
                    }),
                    view.consent.price,
                    view.index,
                )),
            },
        }
    }
    let client = &c.clients[0];
    let wait = if c.params.quorum == 0 {
        Wait::Checkpointed
    } else {
        Wait::Witnessed
    };
    let total = lines.len();
    let mut done = outcomes.len();
    if !to_send.is_empty() {
        let mut nonce = client
            .next_nonce(&c.state.account)
            .await
            .map_err(WalletError::client(format!(
                "asking {} for the next nonce",
                client.base()
            )))?;
        ctx.note(&format!(
            "{} of {total} requests have a consent; submitting them to {} in chunks of {chunk}, each waiting until {}",
            to_send.len(),
            client.base(),
            wait.as_str()
        ));
        for part in to_send.chunks(chunk) {
            let leaves: Vec<Leaf> = part
                .iter()
                .map(|(_, body, _, _)| {
                    let mut body = body.clone();
                    if let Body::Access(a) = &mut body {
                        a.nonce = nonce;
                    }
                    // Gaps are allowed: a refused entry leaves its nonce unused, the next go on.
                    nonce += 1;
                    sign_body(&c.params.origin, &c.key, &body)
                })
                .collect();
            let results = client
                .submit_batch(&leaves, wait)
                .await
                .map_err(WalletError::client(format!(
                    "{} refused the batch after {done} of {total} lines",
                    client.base()
                )))?;
            if results.len() != part.len() {
                return Err(WalletError::Integrity(format!(
                    "{} answered {} results for {} entries",
                    client.base(),
                    results.len(),
                    part.len()
                )));
            }
            for ((number, _, price, consent), result) in part.iter().zip(results) {
                outcomes.push((
                    *number,
                    match result {
                        Ok(s) => Outcome::Accepted {
                            index: s.index,
                            price: *price,
                            consent: *consent,
                        },
                        Err(e) => Outcome::Refused {
                            code: e.code,
                            reason: e.message,
                        },
                    },
                ));
            }
            done += part.len();
            let accepted = count_accepted(&outcomes);
            ctx.note(&format!(
                "  {done}/{total} lines: {accepted} accepted, {} refused",
                done - accepted
            ));
        }
    }
    outcomes.sort_by_key(|(n, _)| *n);

    // Accepted means in the verified history, not the node's word.
    let accepted_indexes: Vec<u64> = outcomes
        .iter()
        .filter_map(|(_, o)| match o {
            Outcome::Accepted { index, .. } => Some(*index),
            Outcome::Refused { .. } => None,
        })
        .collect();
    if !accepted_indexes.is_empty() {
        let again = contact(ctx).await?;
        for index in &accepted_indexes {
            if !again.synced.entries.iter().any(|e| e.index == *index) {
                return Err(WalletError::Integrity(format!(
                    "{} accepted entry {index} but the verified history does not hold it",
                    client.base()
                )));
            }
        }
    }
    let accepted = accepted_indexes.len();
    let refused = outcomes.len() - accepted;
    let params = &c.params;
    let spent: u64 = outcomes
        .iter()
        .map(|(_, o)| match o {
            Outcome::Accepted { price, .. } => *price,
            Outcome::Refused { .. } => 0,
        })
        .sum();
    if ctx.global.json {
        let list: Vec<Value> = outcomes
            .iter()
            .map(|(line, o)| match o {
                Outcome::Accepted {
                    index,
                    price,
                    consent,
                } => json!({"line": line, "status": "accepted", "index": index, "price": price, "consent": consent, "verified": true}),
                Outcome::Refused { code, reason } => {
                    json!({"line": line, "status": "refused", "code": code, "reason": reason})
                }
            })
            .collect();
        ctx.json(&json!({
            "file": args.file, "lines": total, "accepted": accepted, "refused": refused,
            "spent": spent, "currency": params.currency, "decimals": params.decimals,
            "results": list,
        }))?;
    } else {
        let rows: Vec<Vec<String>> = outcomes
            .iter()
            .filter_map(|(line, o)| match o {
                Outcome::Refused { code, reason } => {
                    Some(vec![line.to_string(), code.clone(), reason.clone()])
                }
                Outcome::Accepted { .. } => None,
            })
            .collect();
        let mut text = format!(
            "{accepted} of {total} accesses accepted and verified in your history, {refused} refused; spent {}.\n",
            format::amount(spent, params.decimals, &params.currency)
        );
        if !rows.is_empty() {
            text.push_str("Refused:\n");
            text.push_str(&format::table(&["line", "code", "reason"], &rows));
        }
        ctx.out(&text)?;
    }
    if refused > 0 {
        return Err(WalletError::Refused(format!(
            "{refused} of {total} lines refused (see the summary)"
        )));
    }
    Ok(())
}

fn count_accepted(outcomes: &[(usize, Outcome)]) -> usize {
    outcomes
        .iter()
        .filter(|(_, o)| matches!(o, Outcome::Accepted { .. }))
        .count()
}

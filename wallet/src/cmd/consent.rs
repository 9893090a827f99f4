//! `consent grant|list|revoke` and `claim`: entries the subject signs.

use serde_json::{Value, json};
use testigo_ledger::PublicKey;
use testigo_ledger::api::Wait;
use testigo_ledger::entry::{Body, Claim, GrantConsent, Leaf, RevokeConsent, sign_body};
use testigo_ledger::hash::blake3_parts;

use crate::Ctx;
use crate::cli::{ClaimArgs, ConsentCommand, GrantArgs};
use crate::cmd::view::{Contact, Row, contact, money};
use crate::error::{Result, WalletError};
use crate::format;

/// `consent …`.
pub(crate) async fn run(ctx: &mut Ctx<'_>, command: ConsentCommand) -> Result<()> {
    match command {
        ConsentCommand::Grant(args) => grant(ctx, &args).await,
        ConsentCommand::List => list(ctx).await,
        ConsentCommand::Revoke(args) => {
            let c = contact(ctx).await?;
            let known = c.synced.entries.iter().any(|e| {
                e.index == args.id
                    && matches!(e.body, Body::GrantConsent(_))
                    && e.leaf.signer == c.state.account
            });
            if !known {
                return Err(WalletError::Usage(format!(
                    "{} is not one of your consents (see `testigo-wallet consent list`)",
                    args.id
                )));
            }
            submit(
                ctx,
                c,
                |nonce| {
                    Body::RevokeConsent(RevokeConsent {
                        nonce,
                        consent: args.id,
                    })
                },
                "consent revoked",
            )
            .await
        }
    }
}

async fn grant(ctx: &mut Ctx<'_>, args: &GrantArgs) -> Result<()> {
    let accessor = args
        .to
        .as_deref()
        .map(|k| {
            PublicKey::from_base64(k)
                .ok_or_else(|| WalletError::Usage(format!("--to {k:?} is not a base64 key")))
        })
        .transpose()?;
    let categories = args
        .categories
        .iter()
        .map(|c| {
            c.parse()
                .map_err(|e| WalletError::Usage(format!("--category: {e}")))
        })
        .collect::<Result<Vec<_>>>()?;
    let purposes = args
        .purposes
        .iter()
        .map(|p| {
            p.parse()
                .map_err(|e| WalletError::Usage(format!("--purpose: {e}")))
        })
        .collect::<Result<Vec<_>>>()?;
    let until = args
        .until
        .as_deref()
        .map(format::parse_time)
        .transpose()
        .map_err(WalletError::Usage)?;
    let c = contact(ctx).await?;
    let price = format::parse_amount(&args.price, c.params.decimals)
        .map_err(|e| WalletError::Usage(format!("--price: {e}")))?;
    let valid_from = ctx.now_ms;
    submit(
        ctx,
        c,
        |nonce| {
            Body::GrantConsent(GrantConsent {
                nonce,
                accessor,
                categories,
                purposes,
                price,
                valid_from,
                valid_until: until,
            })
        },
        "consent granted",
    )
    .await
}

/// The consents in the verified history, with their state.
async fn list(ctx: &mut Ctx<'_>) -> Result<()> {
    let c = contact(ctx).await?;
    let me = c.state.account;
    let mut consents: Vec<(u64, GrantConsent, Option<u64>)> = Vec::new();
    for e in &c.synced.entries {
        match &e.body {
            Body::GrantConsent(g) if e.leaf.signer == me => {
                consents.push((e.index, g.clone(), None))
            }
            Body::RevokeConsent(r) if e.leaf.signer == me => {
                if let Some(g) = consents.iter_mut().find(|g| g.0 == r.consent) {
                    g.2 = Some(e.index);
                }
            }
            _ => {}
        }
    }
    let params = &c.params;
    let status = |g: &GrantConsent, revoked: Option<u64>| match revoked {
        Some(_) => "revoked",
        None if g.valid_until.is_some_and(|u| u <= ctx.now_ms) => "expired",
        None => "active",
    };
    if ctx.global.json {
        let list: Vec<Value> = consents
            .iter()
            .map(|(i, g, r)| {
                json!({"id": i, "accessor": g.accessor, "categories": g.categories, "purposes": g.purposes,
                       "price": g.price, "valid_from": format::iso(g.valid_from),
                       "valid_until": g.valid_until.map(format::iso), "revoked_at": r, "status": status(g, *r)})
            })
            .collect();
        return ctx.json(&json!({"verified": true, "consents": list}));
    }
    let rows: Vec<Vec<String>> = consents
        .iter()
        .map(|(i, g, r)| {
            vec![
                i.to_string(),
                status(g, *r).to_owned(),
                g.accessor
                    .map_or_else(|| "anyone".to_owned(), |a| format::short_key(&a)),
                g.categories
                    .iter()
                    .map(|c| format::category(*c))
                    .collect::<Vec<_>>()
                    .join(", "),
                g.purposes
                    .iter()
                    .map(|p| format::purpose(*p))
                    .collect::<Vec<_>>()
                    .join(", "),
                format::amount(g.price, params.decimals, &params.currency),
            ]
        })
        .collect();
    let mut text = format::table(&["id", "status", "to", "data", "purposes", "price"], &rows);
    text.push_str(&format!(
        "{} consents, from your verified history.\n",
        consents.len()
    ));
    ctx.out(&text)
}

/// `claim AMOUNT --payout-ref REF`.
pub(crate) async fn claim(ctx: &mut Ctx<'_>, args: &ClaimArgs) -> Result<()> {
    if args.payout_ref.trim().is_empty() {
        return Err(WalletError::Usage(
            "--payout-ref must say where to pay".into(),
        ));
    }
    let c = contact(ctx).await?;
    let amount =
        format::parse_amount(&args.amount, c.params.decimals).map_err(WalletError::Usage)?;
    let balance = c.synced.account.record.as_ref().map_or(0, |r| r.balance);
    if amount == 0 || amount > balance {
        return Err(WalletError::Usage(format!(
            "claim between 0 and your verified balance, {}",
            format::amount(balance, c.params.decimals, &c.params.currency)
        )));
    }
    // Only a hash of the payout instructions goes into the log (never an IBAN).
    let payout_ref = blake3_parts(&[b"testigo/payout-ref/v1\n", args.payout_ref.as_bytes()]);
    submit(
        ctx,
        c,
        |nonce| {
            Body::Claim(Claim {
                nonce,
                amount,
                payout_ref,
            })
        },
        "claim recorded",
    )
    .await
}

/// Signs `body` with the wallet key, submits it to the first node, waits for a witnessed (or,
/// without witnesses, checkpointed) checkpoint covering it, then syncs again and shows it
/// verified in the history.
pub(crate) async fn submit(
    ctx: &mut Ctx<'_>,
    c: Contact,
    body: impl FnOnce(u64) -> Body,
    done: &str,
) -> Result<()> {
    let leaf = sign_and_send(ctx, &c, body).await?;
    let index = leaf.0;
    let again = contact(ctx).await?;
    let entry = again
        .synced
        .entries
        .iter()
        .find(|e| e.index == index)
        .ok_or_else(|| {
            WalletError::Integrity(format!(
                "the node accepted entry {index} but the verified history does not hold it"
            ))
        })?;
    let row = Row::of(entry);
    let m = money(&again.params, &again.state.account, &again.synced.entries);
    if ctx.global.json {
        let mut v = row.json(&again.params);
        v["verified"] = json!(true);
        v["earned_total"] = json!(m.earned);
        ctx.json(&v)
    } else {
        ctx.out(&format!(
            "{done}: entry {index}, verified in your history: {}\n",
            row.describe(&again.params)
        ))
    }
}

/// Signs and submits; returns the index.
pub(crate) async fn sign_and_send(
    ctx: &mut Ctx<'_>,
    c: &Contact,
    body: impl FnOnce(u64) -> Body,
) -> Result<(u64, Leaf)> {
    let client = &c.clients[0];
    let nonce = client
        .next_nonce(&c.state.account)
        .await
        .map_err(WalletError::client(format!(
            "asking {} for the next nonce",
            client.base()
        )))?;
    let leaf = sign_body(&c.params.origin, &c.key, &body(nonce));
    let wait = if c.params.quorum == 0 {
        Wait::Checkpointed
    } else {
        Wait::Witnessed
    };
    ctx.note(&format!(
        "submitting to {} and waiting until it is {}…",
        client.base(),
        wait.as_str()
    ));
    let sequenced = client
        .submit(&leaf, wait)
        .await
        .map_err(WalletError::client(format!(
            "{} refused the entry",
            client.base()
        )))?;
    Ok((sequenced.index, leaf))
}

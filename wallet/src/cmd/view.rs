//! `sync`, `history`, `balance`, `verify`: the verified view.

use ed25519_dalek::SigningKey;
use serde_json::{Value, json};
use testigo_client::Client;
use testigo_ledger::PublicKey;
use testigo_ledger::entry::{Body, DataCategory, Purpose};
use testigo_ledger::state::LogParams;
use testigo_ledger::verify::{VerifiedAccount, VerifiedEntry};

use crate::Ctx;
use crate::cli::HistoryArgs;
use crate::cmd::keys::witnessing;
use crate::error::{Result, WalletError};
use crate::format;
use crate::state::WalletState;
use crate::sync::{Synced, sync as contact_nodes};

/// Everything a command that talked to the log has verified.
pub(crate) struct Contact {
    pub(crate) state: WalletState,
    pub(crate) params: LogParams,
    pub(crate) key: SigningKey,
    pub(crate) clients: Vec<Client>,
    pub(crate) synced: Synced,
}

/// Opens the wallet, contacts the nodes and verifies (saving the new trusted state).
pub(crate) async fn contact(ctx: &mut Ctx<'_>) -> Result<Contact> {
    let mut state = WalletState::load(&ctx.dir)?;
    let params = state.params()?;
    let key = ctx.key()?;
    let clients = ctx.clients(&state.nodes, &key)?;
    let synced = contact_nodes(&ctx.dir, &mut state, &params, &clients, ctx.now_ms).await?;
    if params.quorum == 0 {
        ctx.note(
            "note: this log names no witnesses: its checkpoints are signed by the operator alone",
        );
    }
    Ok(Contact {
        state,
        params,
        key,
        clients,
        synced,
    })
}

/// `sync`.
pub(crate) async fn sync(ctx: &mut Ctx<'_>) -> Result<()> {
    let c = contact(ctx).await?;
    let summary = summary(
        &c.params,
        &c.synced.account,
        c.synced.entries.len(),
        c.synced.last_leaf_ms,
        ctx.now_ms,
    );
    if ctx.global.json {
        let mut value = summary;
        value["node"] = json!(c.synced.node);
        value["nodes"] = json!(c.synced.notes);
        value["fetched"] = json!(c.synced.fetched);
        ctx.json(&value)
    } else {
        ctx.out(&format!(
            "Verified: checkpoint of size {} {}, last leaf {}; {} history entries ({} new), all signed, included and chained into your record.\n",
            c.synced.account.checkpoint.size(),
            witnessing(&c.params),
            format::time(c.synced.last_leaf_ms, ctx.now_ms),
            c.synced.entries.len(),
            c.synced.fetched
        ))
    }
}

fn summary(
    params: &LogParams,
    account: &VerifiedAccount,
    entries: usize,
    last_leaf_ms: u64,
    now_ms: u64,
) -> Value {
    json!({
        "verified": true,
        "checkpoint_size": account.checkpoint.size(),
        "checkpoint_root": account.checkpoint.root(),
        "witnessed_by": account.cosigners.iter().map(|c| &c.name).collect::<Vec<_>>(),
        "quorum": params.quorum,
        "signed_by_operator_alone": params.quorum == 0,
        "last_leaf_at": format::iso(last_leaf_ms),
        "checkpoint_age_ms": now_ms.saturating_sub(last_leaf_ms),
        "history_len": entries,
    })
}

/// One history entry as the wallet shows it.
pub(crate) struct Row {
    pub(crate) index: u64,
    pub(crate) at_ms: u64,
    pub(crate) kind: &'static str,
    pub(crate) signer: PublicKey,
    pub(crate) access: Option<testigo_ledger::entry::Access>,
    pub(crate) body: Body,
}

impl Row {
    pub(crate) fn of(entry: &VerifiedEntry) -> Self {
        Self::from_parts(entry.index, &entry.leaf, &entry.body)
    }

    /// A row of any verified leaf (a history entry, or a receipt's).
    pub(crate) fn from_parts(index: u64, leaf: &testigo_ledger::entry::Leaf, body: &Body) -> Self {
        Self {
            index,
            at_ms: leaf.sequenced_at,
            kind: body.kind().as_str(),
            signer: leaf.signer,
            access: match body {
                Body::Access(a) => Some(a.clone()),
                _ => None,
            },
            body: body.clone(),
        }
    }

    /// The fee and the subject's share of an access's price.
    fn split(&self, params: &LogParams) -> Option<(u64, u64)> {
        let price = self.access.as_ref()?.price;
        let fee =
            u64::try_from(u128::from(price) * u128::from(params.fee_bps) / 10_000).unwrap_or(price);
        Some((fee, price - fee))
    }

    pub(crate) fn json(&self, params: &LogParams) -> Value {
        let mut v = json!({
            "index": self.index,
            "at": format::iso(self.at_ms),
            "sequenced_at_ms": self.at_ms,
            "kind": self.kind,
            "signer": self.signer,
        });
        if let Some(a) = &self.access {
            let (fee, earned) = self.split(params).unwrap_or_default();
            v["accessor"] = json!(self.signer);
            v["category"] = json!(a.category);
            v["purpose"] = json!(a.purpose);
            v["legal_basis"] = json!(a.legal_basis);
            v["consent"] = json!(a.consent);
            v["price"] = json!(a.price);
            v["fee"] = json!(fee);
            v["earned"] = json!(earned);
            v["currency"] = json!(params.currency);
            v["decimals"] = json!(params.decimals);
        } else {
            v["body"] = serde_json::to_value(&self.body).unwrap_or(Value::Null);
        }
        v
    }

    /// A sentence in plain words.
    pub(crate) fn describe(&self, params: &LogParams) -> String {
        let money = |m| format::amount(m, params.decimals, &params.currency);
        match &self.body {
            Body::Access(a) => {
                let (_, earned) = self.split(params).unwrap_or_default();
                format!(
                    "{} used {} for {}, under {}{}; paid {}, you earned {}",
                    format::short_key(&self.signer),
                    format::category(a.category),
                    format::purpose(a.purpose),
                    format::basis(a.legal_basis),
                    a.consent
                        .map(|c| format!(" (consent {c})"))
                        .unwrap_or_default(),
                    money(a.price),
                    money(earned)
                )
            }
            Body::EnrollSubject(_) => "you were enrolled by the operator".to_owned(),
            Body::GrantConsent(g) => format!(
                "consent {} granted to {}: {} for {}, at {} per access{}",
                self.index,
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
                money(g.price),
                g.valid_until
                    .map(|u| format!(", until {}", format::iso(u)))
                    .unwrap_or_default()
            ),
            Body::RevokeConsent(r) => format!("consent {} revoked", r.consent),
            Body::Claim(c) => format!("claim {} of {} for payout", self.index, money(c.amount)),
            Body::PayoutSettled(p) => format!(
                "claim {} paid out (settlement {})",
                p.claim, p.settlement_ref
            ),
            Body::Deposit(d) => format!("deposit of {} ({})", money(d.amount), d.reference),
            Body::RegisterAccessor(r) => format!(
                "accessor registered: {} ({})",
                r.display_name, r.legal_entity_id
            ),
            other => other.kind().as_str().to_owned(),
        }
    }
}

struct Filter {
    accessor: Option<PublicKey>,
    category: Option<DataCategory>,
    purpose: Option<Purpose>,
    since: Option<u64>,
    until: Option<u64>,
}

impl Filter {
    fn new(args: &HistoryArgs) -> Result<Self> {
        let usage = |e: String| WalletError::Usage(e);
        Ok(Self {
            accessor: args
                .accessor
                .as_deref()
                .map(|a| {
                    PublicKey::from_base64(a)
                        .ok_or_else(|| usage(format!("--accessor {a:?} is not a base64 key")))
                })
                .transpose()?,
            category: args
                .category
                .as_deref()
                .map(|c| c.parse().map_err(|e| usage(format!("--category: {e}"))))
                .transpose()?,
            purpose: args
                .purpose
                .as_deref()
                .map(|p| p.parse().map_err(|e| usage(format!("--purpose: {e}"))))
                .transpose()?,
            since: args
                .since
                .as_deref()
                .map(format::parse_time)
                .transpose()
                .map_err(usage)?,
            until: args
                .until
                .as_deref()
                .map(format::parse_time)
                .transpose()
                .map_err(usage)?,
        })
    }

    fn keeps(&self, row: &Row) -> bool {
        let access_filter =
            self.accessor.is_some() || self.category.is_some() || self.purpose.is_some();
        if access_filter {
            let Some(a) = &row.access else { return false };
            if self.accessor.is_some_and(|k| k != row.signer)
                || self.category.is_some_and(|c| c != a.category)
                || self.purpose.is_some_and(|p| p != a.purpose)
            {
                return false;
            }
        }
        self.since.is_none_or(|s| row.at_ms >= s) && self.until.is_none_or(|u| row.at_ms < u)
    }
}

/// `history`.
pub(crate) async fn history(ctx: &mut Ctx<'_>, args: &HistoryArgs) -> Result<()> {
    let filter = Filter::new(args)?;
    let (params, entries) = if args.offline {
        let checked = WalletState::load(&ctx.dir)?.into_checked()?;
        (checked.params, checked.entries)
    } else {
        let c = contact(ctx).await?;
        (c.params, c.synced.entries)
    };
    let rows: Vec<Row> = entries
        .iter()
        .map(Row::of)
        .filter(|r| filter.keeps(r))
        .collect();
    if ctx.global.json {
        let list: Vec<Value> = rows.iter().map(|r| r.json(&params)).collect();
        return ctx.json(&json!({"verified": true, "entries": list}));
    }
    if args.csv {
        let mut out = String::from(
            "index,at,kind,accessor,category,purpose,legal_basis,consent,price,fee,earned,currency\n",
        );
        for r in &rows {
            let v = r.json(&params);
            let field = |k: &str| match &v[k] {
                Value::Null => String::new(),
                Value::String(s) => format::csv_field(s),
                other => format::csv_field(&other.to_string()),
            };
            let line: Vec<String> = [
                "index",
                "at",
                "kind",
                "accessor",
                "category",
                "purpose",
                "legal_basis",
                "consent",
                "price",
                "fee",
                "earned",
                "currency",
            ]
            .iter()
            .map(|k| field(k))
            .collect();
            out.push_str(&line.join(","));
            out.push('\n');
        }
        return ctx.out(&out);
    }
    let now = ctx.now_ms;
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.index.to_string(),
                format::time(r.at_ms, now),
                r.kind.to_owned(),
                r.describe(&params),
            ]
        })
        .collect();
    let mut text = format::table(&["#", "when", "what", "details"], &table);
    text.push_str(&format!(
        "{} entries shown, all verified (signature, inclusion, history chain).\n",
        rows.len()
    ));
    ctx.out(&text)
}

/// What the verified history says about the money.
pub(crate) struct Money {
    pub(crate) earned: u64,
    pub(crate) fees: u64,
    pub(crate) claims: Vec<(u64, u64, Option<u64>)>,
}

pub(crate) fn money(params: &LogParams, me: &PublicKey, entries: &[VerifiedEntry]) -> Money {
    let mut m = Money {
        earned: 0,
        fees: 0,
        claims: Vec::new(),
    };
    for e in entries {
        let row = Row::of(e);
        match &e.body {
            Body::Access(a) if a.subject == *me => {
                let (fee, earned) = row.split(params).unwrap_or_default();
                m.earned = m.earned.saturating_add(earned);
                m.fees = m.fees.saturating_add(fee);
            }
            Body::Claim(c) if e.leaf.signer == *me => m.claims.push((e.index, c.amount, None)),
            Body::PayoutSettled(p) => {
                if let Some(claim) = m.claims.iter_mut().find(|c| c.0 == p.claim) {
                    claim.2 = Some(e.index);
                }
            }
            _ => {}
        }
    }
    m
}

/// `balance`.
pub(crate) async fn balance(ctx: &mut Ctx<'_>) -> Result<()> {
    let c = contact(ctx).await?;
    let params = &c.params;
    let record = c.synced.account.record.clone().ok_or_else(|| {
        WalletError::Local(format!(
            "the log proves it has no account {} (not enrolled yet?)",
            c.state.account
        ))
    })?;
    let m = money(params, &c.state.account, &c.synced.entries);
    // The record and the history must tell the same story about a subject's money.
    if record.role == testigo_ledger::state::Role::Subject {
        let total = record
            .balance
            .saturating_add(record.pending_payouts)
            .saturating_add(record.settled_payouts);
        if total != m.earned {
            return Err(WalletError::Integrity(format!(
                "the proven record holds {} in balance, pending and paid, the verified history earns {}",
                total, m.earned
            )));
        }
    }
    let cur = |v| format::amount(v, params.decimals, &params.currency);
    if ctx.global.json {
        return ctx.json(&json!({
            "verified": true,
            "role": record.role.as_str(),
            "currency": params.currency, "decimals": params.decimals,
            "balance": record.balance, "pending_payouts": record.pending_payouts,
            "settled_payouts": record.settled_payouts, "earned": m.earned, "fees_paid_to_operator": m.fees,
            "claims": m.claims.iter().map(|(i, a, s)| json!({"index": i, "amount": a, "paid": s.is_some(), "settled_by": s})).collect::<Vec<_>>(),
            "checkpoint_size": c.synced.account.checkpoint.size(),
        }));
    }
    let mut text = format!(
        "Balance (verified at checkpoint {}):\n  available     {}\n  pending       {}\n  paid out      {}\n  earned        {}\n  operator fees {}\n",
        c.synced.account.checkpoint.size(),
        cur(record.balance),
        cur(record.pending_payouts),
        cur(record.settled_payouts),
        cur(m.earned),
        cur(m.fees)
    );
    if !m.claims.is_empty() {
        let rows: Vec<Vec<String>> = m
            .claims
            .iter()
            .map(|(i, a, s)| {
                vec![
                    i.to_string(),
                    cur(*a),
                    s.map_or_else(|| "pending".to_owned(), |s| format!("paid (leaf {s})")),
                ]
            })
            .collect();
        text.push_str("Claims:\n");
        text.push_str(&format::table(&["claim", "amount", "status"], &rows));
    }
    ctx.out(&text)
}

/// `verify`: offline.
pub(crate) fn verify(ctx: &mut Ctx<'_>) -> Result<()> {
    let checked = WalletState::load(&ctx.dir)?.into_checked()?;
    let Some(account) = &checked.account else {
        return if ctx.global.json {
            ctx.json(&json!({"verified": true, "checkpoint_size": null, "history_len": 0}))
        } else {
            ctx.out(
                "Nothing to verify yet: the wallet has not synced (run `testigo-wallet sync`).\n",
            )
        };
    };
    let last = checked.last_leaf_ms.unwrap_or_default();
    if ctx.global.json {
        ctx.json(&summary(
            &checked.params,
            account,
            checked.entries.len(),
            last,
            ctx.now_ms,
        ))
    } else {
        ctx.out(&format!(
            "OK: the trusted checkpoint (size {}, {}), the account proof and all {} history entries verify.\n",
            account.checkpoint.size(),
            witnessing(&checked.params),
            checked.entries.len()
        ))
    }
}

//! `export-data`: the subject's GDPR Art. 15 (access) and Art. 20 (portability) export, in JSON,
//! from the verified history only.
//!
//! Art. 15(1)(c) entitles the data subject to the recipients of their data, and the CJEU
//! (C-154/21, *Österreichische Post*, 12 January 2023) held that this means each recipient's
//! identity, not categories of recipients, when the subject asks for it. So `recipients` names
//! every key that accessed the data, with what, why, under which basis, how often and when;
//! every consent is given as a consent record shaped after ISO/IEC TS 27560:2023 (the fields
//! of the DPVCG's `dpv-27560` record profile, DPV terms as values), with its events (given,
//! withdrawn) pointing at the log entries that prove them.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use testigo_ledger::PublicKey;
use testigo_ledger::entry::{Body, GrantConsent};
use testigo_ledger::hash::{Blake3, TreeHasher};
use testigo_ledger::state::LogParams;
use testigo_ledger::verify::VerifiedEntry;

use crate::Ctx;
use crate::cli::ExportDataArgs;
use crate::cmd::view::{Row, contact, money};
use crate::error::{Result, WalletError};
use crate::state::WalletState;
use crate::{format, fsutil};

/// The export's format name.
pub(crate) const EXPORT_FORMAT: &str = "testigo.gdpr-export/v1";

/// `export-data [--out FILE] [--offline]`.
pub(crate) async fn export_data(ctx: &mut Ctx<'_>, args: &ExportDataArgs) -> Result<()> {
    if let Some(out) = &args.out
        && out.exists()
    {
        return Err(WalletError::Local(format!(
            "{} exists already; nothing was written",
            out.display()
        )));
    }
    let (state, params, entries, size, root, cosigners) = if args.offline {
        let state = WalletState::load(&ctx.dir)?;
        let checked = state.verify()?;
        let account = checked.account.ok_or_else(|| {
            WalletError::Local("nothing verified yet: run `testigo-wallet sync` first".into())
        })?;
        let cosigners: Vec<String> = account.cosigners.iter().map(|c| c.name.clone()).collect();
        (
            state,
            checked.params,
            checked.entries,
            account.checkpoint.size(),
            *account.checkpoint.root(),
            cosigners,
        )
    } else {
        let c = contact(ctx).await?;
        let account = &c.synced.account;
        let cosigners: Vec<String> = account.cosigners.iter().map(|c| c.name.clone()).collect();
        let (size, root) = (account.checkpoint.size(), *account.checkpoint.root());
        (c.state, c.params, c.synced.entries, size, root, cosigners)
    };
    let me = state.account;
    let export = build(&params, &me, &entries, size, &root, &cosigners, ctx.now_ms);
    let text = serde_json::to_string_pretty(&export)
        .map_err(|e| WalletError::local("encoding", e))?
        + "\n";
    let Some(out) = &args.out else {
        return ctx.out(&text);
    };
    fsutil::create_new(out, text.as_bytes())?;
    let recipients = export["recipients"].as_array().map_or(0, Vec::len);
    let consents = export["consent_records"].as_array().map_or(0, Vec::len);
    let accesses = export["processing"].as_array().map_or(0, Vec::len);
    if ctx.global.json {
        ctx.json(&json!({"written": out, "recipients": recipients, "consent_records": consents, "accesses": accesses}))
    } else {
        ctx.out(&format!(
            "Export written to {} ({EXPORT_FORMAT}): {accesses} accesses by {recipients} recipients, each named; {consents} consent records (ISO/IEC TS 27560 shape); all from your verified history at checkpoint {size}.\n",
            out.display()
        ))
    }
}

/// The export document.
fn build(
    params: &LogParams,
    me: &PublicKey,
    entries: &[VerifiedEntry],
    size: u64,
    root: &testigo_ledger::Hash,
    cosigners: &[String],
    now_ms: u64,
) -> Value {
    let proof = |e: &VerifiedEntry| json!({"log_index": e.index, "leaf_hash": Blake3.hash_leaf(&e.leaf.to_bytes())});
    let who = |key: &PublicKey| {
        if *key == params.log_key {
            json!({"key": key, "role": "operator", "identified_as": format!("the operator of log {} (its log key)", params.origin)})
        } else {
            json!({"key": key, "role": "accessor", "identified_as": "a data buyer registered in the log under this public key"})
        }
    };

    // Art. 15(1)(a)-(c): every access, and every recipient by identity.
    let mut processing = Vec::new();
    let mut recipients: BTreeMap<PublicKey, Recipient> = BTreeMap::new();
    for e in entries {
        let Body::Access(a) = &e.body else { continue };
        if a.subject != *me {
            continue;
        }
        let mut v = Row::of(e).json(params);
        v["recipient"] = who(&e.leaf.signer);
        v["purpose_in_words"] = json!(format::purpose(a.purpose));
        v["category_in_words"] = json!(format::category(a.category));
        v["legal_basis_article"] = json!(a.legal_basis.gdpr_article());
        v["proof"] = proof(e);
        processing.push(v);
        let r = recipients.entry(e.leaf.signer).or_default();
        r.accesses += 1;
        r.paid = r.paid.saturating_add(a.price);
        r.first.get_or_insert(e.leaf.sequenced_at);
        r.last = Some(e.leaf.sequenced_at);
        push_unique(&mut r.categories, a.category.term());
        push_unique(&mut r.purposes, a.purpose.term());
        push_unique(&mut r.legal_bases, a.legal_basis.term());
    }
    let recipients: Vec<Value> = recipients
        .iter()
        .map(|(key, r)| {
            let mut v = who(key);
            v["accesses"] = json!(r.accesses);
            v["categories"] = json!(r.categories);
            v["purposes"] = json!(r.purposes);
            v["legal_bases"] = json!(r.legal_bases);
            v["first_access"] = json!(r.first.map(format::iso));
            v["last_access"] = json!(r.last.map(format::iso));
            v["paid_total"] = json!(r.paid);
            v
        })
        .collect();

    // Consents as ISO/IEC TS 27560-shaped records.
    let mut grants: Vec<(&VerifiedEntry, &GrantConsent, Option<&VerifiedEntry>)> = Vec::new();
    for e in entries {
        match &e.body {
            Body::GrantConsent(g) if e.leaf.signer == *me => grants.push((e, g, None)),
            Body::RevokeConsent(r) if e.leaf.signer == *me => {
                if let Some(g) = grants.iter_mut().find(|g| g.0.index == r.consent) {
                    g.2 = Some(e);
                }
            }
            _ => {}
        }
    }
    let consent_records: Vec<Value> = grants
        .iter()
        .map(|(e, g, revoked)| consent_record(params, me, e, g, *revoked, now_ms, &proof))
        .collect();
    let m = money(params, me, entries);
    json!({
        "format": EXPORT_FORMAT,
        "generated_at": format::iso(now_ms),
        "legal_basis_of_this_export": "GDPR Art. 15 (right of access, recipients named individually as CJEU C-154/21 requires) and Art. 20 (data portability: structured, machine-readable)",
        "data_subject": {"key": me},
        "log": {
            "origin": params.origin,
            "log_key": params.log_key,
            "genesis_hash": params.genesis_leaf,
            "currency": params.currency,
            "decimals": params.decimals,
        },
        "verified_at": {
            "checkpoint_size": size,
            "checkpoint_root": root,
            "witnessed_by": cosigners,
            "quorum": params.quorum,
            "note": "every item below is a log entry whose signature, inclusion in this checkpoint and place in your history chain were verified; prove any of them to a third party with `testigo-wallet proof INDEX`",
        },
        "recipients": recipients,
        "processing": processing,
        "consent_records": consent_records,
        "earnings": {
            "earned": m.earned,
            "fees_paid_to_operator": m.fees,
            "claims": m.claims.iter().map(|(i, a, s)| json!({"log_index": i, "amount": a, "paid": s.is_some(), "settled_by": s})).collect::<Vec<_>>(),
        },
        "history": entries.iter().map(|e| Row::of(e).json(params)).collect::<Vec<_>>(),
    })
}

#[derive(Default)]
struct Recipient {
    accesses: u64,
    paid: u64,
    first: Option<u64>,
    last: Option<u64>,
    categories: Vec<&'static str>,
    purposes: Vec<&'static str>,
    legal_bases: Vec<&'static str>,
}

fn push_unique(list: &mut Vec<&'static str>, term: &'static str) {
    if !list.contains(&term) {
        list.push(term);
    }
}

/// One consent as a TS 27560 consent record: who (PII principal, controller/recipient), what
/// (PII categories, purposes, legal basis, processing), its state and the events that made it.
fn consent_record(
    params: &LogParams,
    me: &PublicKey,
    grant: &VerifiedEntry,
    g: &GrantConsent,
    revoked: Option<&VerifiedEntry>,
    now_ms: u64,
    proof: &dyn Fn(&VerifiedEntry) -> Value,
) -> Value {
    let status = match revoked {
        Some(_) => "dpv:ConsentWithdrawn",
        None if g.valid_until.is_some_and(|u| u <= now_ms) => "dpv:ConsentExpired",
        None => "dpv:ConsentGiven",
    };
    let recipient = match g.accessor {
        Some(key) => json!({"key": key, "scope": "this accessor only"}),
        None => {
            json!({"key": null, "scope": "any accessor registered in the log, and the operator"})
        }
    };
    let mut events = vec![json!({
        "event": "dpv:ConsentGiven",
        "time": format::iso(grant.leaf.sequenced_at),
        "by": "dpv:DataSubject",
        "method": "an entry signed with the data subject's key (GrantConsent)",
        "proof": proof(grant),
    })];
    if let Some(r) = revoked {
        events.push(json!({
            "event": "dpv:ConsentWithdrawn",
            "time": format::iso(r.leaf.sequenced_at),
            "by": "dpv:DataSubject",
            "method": "an entry signed with the data subject's key (RevokeConsent)",
            "proof": proof(r),
        }));
    }
    json!({
        "conforms_to": "ISO/IEC TS 27560:2023 consent record (fields after the DPVCG dpv-27560 record profile)",
        "schema_version": "1",
        "record_id": format!("{}#consent-{}", params.origin, grant.index),
        "pii_principal_id": me,
        "pii_controllers": [recipient],
        "consent_type": "dpv:ExplicitlyExpressedConsent",
        "consent_status": status,
        "processing": [{
            "purposes": g.purposes.iter().map(|p| json!({"purpose": p.term(), "in_words": format::purpose(*p)})).collect::<Vec<_>>(),
            "pii_categories": g.categories.iter().map(|c| json!({"category": c.term(), "in_words": format::category(*c)})).collect::<Vec<_>>(),
            "legal_basis": "dpv:Consent",
            "legal_basis_article": "GDPR Art. 6(1)(a)",
            "price_per_access": g.price,
            "currency": params.currency,
            "decimals": params.decimals,
        }],
        "validity": {
            "from": format::iso(g.valid_from),
            "until": g.valid_until.map(format::iso),
        },
        "jurisdiction": "EU (GDPR)",
        "events": events,
    })
}

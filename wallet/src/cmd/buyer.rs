//! Data-buyer commands for accessor keys: `access` and `consents-received`.

use serde_json::{Value, json};
use testigo_ledger::PublicKey;
use testigo_ledger::api::ConsentView;
use testigo_ledger::entry::{Access, Body, DataCategory, LegalBasis, Purpose};

use crate::Ctx;
use crate::cli::AccessArgs;
use crate::cmd::consent::submit;
use crate::cmd::view::{Contact, contact};
use crate::error::{Result, WalletError};
use crate::format;

/// Whether a grant in the node's list is backed by a leaf of the accessor's verified history
/// (grants naming the accessor are in its history; grants to anyone are not).
pub(crate) fn verified_grant(c: &Contact, view: &ConsentView) -> bool {
    c.synced.entries.iter().any(|e| {
        e.index == view.index
            && matches!(&e.body, Body::GrantConsent(g)
                if e.leaf.signer == view.consent.subject
                    && g.accessor == view.consent.accessor
                    && g.categories == view.consent.categories
                    && g.purposes == view.consent.purposes
                    && g.price == view.consent.price
                    && g.valid_from == view.consent.valid_from
                    && g.valid_until == view.consent.valid_until)
    })
}

/// The consent an access uses: the one named (submitted as it is: the log's rules decide), or
/// the cheapest live one of `subject` covering `category` and `purpose`.
///
/// # Errors
/// Why none fits, in a sentence.
pub(crate) fn choose(
    consents: &[ConsentView],
    subject: &PublicKey,
    category: DataCategory,
    purpose: Purpose,
    named: Option<u64>,
    now: u64,
) -> std::result::Result<ConsentView, String> {
    let usable = |v: &&ConsentView| {
        if let Some(id) = named {
            return v.index == id && v.consent.subject == *subject;
        }
        v.consent.subject == *subject
            && v.consent.revoked_at.is_none()
            && v.consent.categories.contains(&category)
            && v.consent.purposes.contains(&purpose)
            && v.consent.valid_until.is_none_or(|u| u > now)
    };
    consents
        .iter()
        .filter(usable)
        .min_by_key(|v| v.consent.price)
        .cloned()
        .ok_or_else(|| match named {
            Some(id) => format!(
                "consent {id} does not cover this access (subject, data, purpose, window, or revoked)"
            ),
            None => "no consent of this subject covers this data and purpose".to_owned(),
        })
}

pub(crate) async fn received(ctx: &mut Ctx<'_>) -> Result<(Contact, Vec<ConsentView>)> {
    let c = contact(ctx).await?;
    let client = &c.clients[0];
    let list = client
        .consents(&c.state.account)
        .await
        .map_err(WalletError::client(format!(
            "asking {} for the consents",
            client.base()
        )))?;
    Ok((c, list.consents))
}

/// `consents-received`.
pub(crate) async fn consents_received(ctx: &mut Ctx<'_>) -> Result<()> {
    let (c, consents) = received(ctx).await?;
    let params = &c.params;
    let rows: Vec<(bool, &ConsentView)> = consents
        .iter()
        .map(|v| (verified_grant(&c, v), v))
        .collect();
    if ctx.global.json {
        let list: Vec<Value> = rows
            .iter()
            .map(|(ok, v)| {
                let mut j = serde_json::to_value(v).unwrap_or(Value::Null);
                j["source"] = json!(if *ok { "verified" } else { "node_says" });
                j
            })
            .collect();
        return ctx.json(&json!({"consents": list}));
    }
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|(ok, v)| {
            vec![
                v.index.to_string(),
                format::short_key(&v.consent.subject),
                v.consent
                    .categories
                    .iter()
                    .map(|c| c.term())
                    .collect::<Vec<_>>()
                    .join(","),
                v.consent
                    .purposes
                    .iter()
                    .map(|p| p.term())
                    .collect::<Vec<_>>()
                    .join(","),
                format::amount(v.consent.price, params.decimals, &params.currency),
                if v.consent.revoked_at.is_some() {
                    "revoked"
                } else {
                    "active"
                }
                .to_owned(),
                if *ok {
                    "verified"
                } else {
                    "the node's word (a grant to anyone is not in your history)"
                }
                .to_owned(),
            ]
        })
        .collect();
    ctx.out(&format::table(
        &[
            "id", "subject", "data", "purposes", "price", "status", "source",
        ],
        &table,
    ))
}

/// `access`: finds a usable consent (the one named, or the cheapest that covers the request),
/// and submits the access at its price.
pub(crate) async fn access(ctx: &mut Ctx<'_>, args: &AccessArgs) -> Result<()> {
    let subject = PublicKey::from_base64(&args.subject).ok_or_else(|| {
        WalletError::Usage(format!("--subject {:?} is not a base64 key", args.subject))
    })?;
    let category: DataCategory = args
        .category
        .parse()
        .map_err(|e| WalletError::Usage(format!("--category: {e}")))?;
    let purpose: Purpose = args
        .purpose
        .parse()
        .map_err(|e| WalletError::Usage(format!("--purpose: {e}")))?;
    let (c, consents) = received(ctx).await?;
    let chosen = choose(
        &consents,
        &subject,
        category,
        purpose,
        args.consent,
        ctx.now_ms,
    )
    .map_err(WalletError::Usage)?;
    if !verified_grant(&c, &chosen) {
        ctx.note(&format!(
            "note: consent {} is a grant to any accessor: its terms are the node's word (the rules still refuse an access it does not cover)",
            chosen.index
        ));
    }
    let (index, price) = (chosen.index, chosen.consent.price);
    submit(
        ctx,
        c,
        |nonce| {
            Body::Access(Access {
                nonce,
                subject,
                category,
                purpose,
                legal_basis: LegalBasis::Consent,
                consent: Some(index),
                price,
            })
        },
        "access recorded",
    )
    .await
}

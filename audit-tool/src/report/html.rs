//! The HTML page: one file, inline CSS and inline SVG charts, no script and nothing fetched.

use std::fmt::Write as _;

use super::charts::{chart_svg, charts};
use super::{ReportError, money, utc};
use crate::regulator::{Audit, Finding, MAX_LISTED, duration};

/// Escapes text for HTML element content and attribute values.
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:sans-serif;margin:2em auto;max-width:960px;color:#222}\
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:.25em .5em;\
text-align:left;font-size:.9em}th{background:#f3f3f3}.ok{color:#176b2c}.bad{color:#a31515}\
figure{margin:1em 0}code{font-size:.85em;word-break:break-all}";

/// A table with `head` columns and `rows`, each cell already escaped.
fn table(out: &mut String, head: &[&str], rows: impl IntoIterator<Item = Vec<String>>) {
    out.push_str("<table><tr>");
    for h in head {
        let _ = write!(out, "<th>{}</th>", esc(h));
    }
    out.push_str("</tr>");
    for row in rows {
        out.push_str("<tr>");
        for cell in row {
            let _ = write!(out, "<td>{cell}</td>");
        }
        out.push_str("</tr>");
    }
    out.push_str("</table>");
}

fn key(audit: &Audit, key: &testigo_ledger::PublicKey) -> String {
    let name = audit
        .parties
        .iter()
        .find(|p| &p.key == key)
        .map(|p| format!("{} ", esc(&p.name)))
        .unwrap_or_default();
    format!("{name}<code>{}</code>", esc(&key.to_string()))
}

/// The whole page.
///
/// # Errors
/// [`ReportError::Chart`] if a chart cannot be drawn.
pub fn render_html(audit: &Audit) -> Result<String, ReportError> {
    let log = &audit.log;
    let dec = log.decimals;
    let mut out = String::with_capacity(64 << 10);
    let title = match &log.subject {
        Some(s) => format!("Testigo audit of {} for subject {s}", log.origin),
        None => format!("Testigo audit of {}", log.origin),
    };
    let _ = write!(
        out,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title>\
         <style>{STYLE}</style></head><body><h1>{t}</h1>",
        t = esc(&title)
    );
    let span = match log.first_ms {
        Some(first) => format!("{} to {} UTC", utc(first), utc(log.last_ms)),
        None => "nothing counted".to_owned(),
    };
    let _ = write!(
        out,
        "<p>{} leaves read, {} replayed by the ledger's engine; {} accesses counted; {}. \
         Currency {} ({dec} decimals).</p>",
        log.leaves,
        log.replayed,
        log.accesses,
        esc(&span),
        esc(&log.currency)
    );
    if let Some(subject) = &log.subject {
        let _ = write!(
            out,
            "<p>Every access to the data of subject <code>{}</code>, with who used it, for what \
             and on which basis (GDPR Art. 15).</p>",
            esc(&subject.to_string())
        );
    }

    out.push_str("<h2 id=\"findings\">Findings</h2>");
    if audit.findings.is_empty() {
        out.push_str("<p class=\"ok\" id=\"no-findings\">No findings: every revocation was honoured, no location or traffic data was used for marketing without consent, every fee is the Genesis fee and every payout was on time.</p>");
    } else {
        let counts: Vec<String> = audit
            .finding_counts
            .iter()
            .map(|(kind, n)| format!("{n} {kind}"))
            .collect();
        let _ = write!(
            out,
            "<p class=\"bad\" id=\"findings-count\">Findings: {} (at most {MAX_LISTED} of each kind listed below).</p>",
            esc(&counts.join(", "))
        );
        table(
            &mut out,
            &["kind", "what"],
            audit.findings.iter().map(|f: &Finding| {
                vec![
                    format!("<span class=\"finding bad\">{}</span>", f.kind()),
                    esc(&f.describe()),
                ]
            }),
        );
    }

    out.push_str("<h2>Charts</h2>");
    for (title, series) in charts(&audit.charts) {
        let svg = chart_svg(title, series)?;
        let _ = write!(
            out,
            "<figure class=\"chart\"><figcaption>{}</figcaption>{svg}</figure>",
            esc(title)
        );
    }

    out.push_str("<h2>Revocations</h2>");
    if audit.revocations.is_empty() {
        out.push_str("<p>No consent was revoked.</p>");
    }
    table(
        &mut out,
        &[
            "consent",
            "subject",
            "revoked at",
            "last access under it",
            "accesses after",
        ],
        audit.revocations.iter().map(|r| {
            let last = match (r.last_access, r.last_access_after_revocation_ms) {
                (Some((i, _)), Some(d)) if d < 0 => {
                    format!("leaf {i}, {} before", duration(d.unsigned_abs()))
                }
                (Some((i, _)), Some(d)) => {
                    format!("leaf {i}, {} after", duration(d.unsigned_abs()))
                }
                _ => "none".to_owned(),
            };
            vec![
                r.consent.to_string(),
                key(audit, &r.subject),
                format!("leaf {} ({})", r.revoked_at, utc(r.revoked_at_ms)),
                esc(&last),
                r.accesses_after.to_string(),
            ]
        }),
    );

    out.push_str("<h2>Accesses on a basis other than consent</h2>");
    table(
        &mut out,
        &["legal basis", "article", "accessor", "accesses", "paid"],
        audit.non_consent.iter().map(|b| {
            vec![
                esc(b.legal_basis.term()),
                esc(&b.article),
                key(audit, &b.accessor),
                b.accesses.to_string(),
                money(b.paid, dec),
            ]
        }),
    );

    let _ = write!(
        out,
        "<h2>The operator's own uses</h2><p>{} accesses by the operator itself.</p>",
        audit.operator_accesses
    );
    table(
        &mut out,
        &["category", "purpose", "legal basis", "accesses", "paid"],
        audit.operator_uses.iter().map(|u| {
            vec![
                esc(&u.category),
                esc(&u.purpose),
                esc(&u.legal_basis),
                u.accesses.to_string(),
                money(u.paid, dec),
            ]
        }),
    );

    let f = &audit.fees;
    let _ = write!(
        out,
        "<h2>Fees</h2><p>Genesis fee {} bps; charged {} on {} paid over {} paid accesses \
         ({} bps, each fee rounded down).</p>",
        f.fee_bps,
        money(f.charged, dec),
        money(f.paid, dec),
        f.paid_accesses,
        f.effective_bps
    );

    let c = &audit.claims;
    let delay = |d: Option<u64>| d.map_or_else(|| "-".to_owned(), duration);
    let _ = write!(
        out,
        "<h2>Claims and payouts</h2><p>{} paid ({}), {} pending ({}); payout delay shortest {}, \
         median {}, longest {}.</p>",
        c.paid,
        money(c.paid_amount, dec),
        c.pending,
        money(c.pending_amount, dec),
        delay(c.delay_min_ms),
        delay(c.delay_median_ms),
        delay(c.delay_max_ms)
    );
    table(
        &mut out,
        &["claim", "subject", "amount", "claimed", "paid"],
        c.listed.iter().map(|r| {
            vec![
                r.claim.to_string(),
                key(audit, &r.subject),
                money(r.amount, dec),
                utc(r.claimed_at_ms),
                r.settled_at_ms.map_or_else(|| "pending".to_owned(), utc),
            ]
        }),
    );
    if c.more > 0 {
        let _ = write!(
            out,
            "<p>and {} more claims (in the JSON report's counts).</p>",
            c.more
        );
    }

    out.push_str("<h2>Accessors</h2>");
    table(
        &mut out,
        &["name", "role", "legal entity", "key"],
        audit.parties.iter().map(|p| {
            vec![
                esc(&p.name),
                esc(&p.role),
                esc(&p.legal_entity_id),
                format!("<code>{}</code>", esc(&p.key.to_string())),
            ]
        }),
    );
    out.push_str("</body></html>\n");
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped() {
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}

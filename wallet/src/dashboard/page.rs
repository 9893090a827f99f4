//! The dashboard's HTML, rendered on the server: the whole page, and its live part
//! (`#live`), which the page fetches again each time the view changes. Every value from the log
//! or a node is escaped.

use std::fmt::Write as _;

use testigo_ledger::PublicKey;
use testigo_ledger::entry::{Body, DataCategory, Purpose};
use testigo_ledger::state::LogParams;

use super::alerts::{self, Consent};
use super::charts::{self, accessor_name};
use super::i18n::Lang;
use super::live::{ActionKind, ActionStatus, AlertKind, View};
use crate::format;

/// What every render needs.
#[derive(Debug)]
pub(crate) struct Ctx<'a> {
    pub(crate) lang: Lang,
    pub(crate) params: &'a LogParams,
    pub(crate) me: &'a PublicKey,
    pub(crate) csrf: &'a str,
    pub(crate) now_ms: u64,
}

/// Escapes text for HTML content and attribute values.
pub(crate) fn esc(text: &str) -> String {
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

impl Ctx<'_> {
    fn s(&self, en: &'static str, es: &'static str) -> &'static str {
        self.lang.s(en, es)
    }

    /// An amount in the log's currency, with the language's decimal mark.
    pub(crate) fn money(&self, minor: u64) -> String {
        let text = format::amount(minor, self.params.decimals, &self.params.currency);
        match self.lang {
            Lang::En => text,
            Lang::Es => text.replacen('.', ",", 1),
        }
    }

    /// A local time with how long ago it was.
    fn when(&self, ms: u64) -> String {
        let Ok(ts) = jiff::Timestamp::from_millisecond(i64::try_from(ms).unwrap_or(i64::MAX))
        else {
            return format!("{ms} ms");
        };
        let local = ts
            .to_zoned_datetime(jiff::tz::TimeZone::system())
            .strftime("%Y-%m-%d %H:%M:%S")
            .to_string();
        let future = ms > self.now_ms;
        let delta = ms.abs_diff(self.now_ms) / 1000;
        let (n, unit_en, unit_es) = match delta {
            0..60 => (delta, "s", "s"),
            60..3600 => (delta / 60, "min", "min"),
            3600..86_400 => (delta / 3600, "h", "h"),
            _ => (delta / 86_400, "days", "días"),
        };
        match (self.lang, future) {
            (Lang::En, false) => format!("{local} ({n} {unit_en} ago)"),
            (Lang::En, true) => format!("{local} (in {n} {unit_en})"),
            (Lang::Es, false) => format!("{local} (hace {n} {unit_es})"),
            (Lang::Es, true) => format!("{local} (dentro de {n} {unit_es})"),
        }
    }

    fn hidden(&self) -> String {
        format!(
            r#"<input type="hidden" name="csrf" value="{}"><input type="hidden" name="lang" value="{}">"#,
            esc(self.csrf),
            self.lang.code()
        )
    }

    fn witnesses(&self, names: &[String]) -> String {
        if self.params.quorum == 0 {
            self.s(
                "signed by the operator alone (this log names no witnesses)",
                "firmado solo por el operador (este registro no nombra testigos)",
            )
            .to_owned()
        } else {
            format!(
                "{} {}",
                self.s("witnessed by", "atestiguado por"),
                esc(&names.join(", "))
            )
        }
    }
}

/// The whole page.
pub(crate) fn page(ctx: &Ctx<'_>, view: &View) -> String {
    let lang = ctx.lang;
    let mut html = format!(
        r#"<!DOCTYPE html>
<html lang="{code}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="stylesheet" href="/assets/style.css">
<link rel="icon" href="/assets/favicon.svg" type="image/svg+xml">
</head>
<body>
<header>
<h1>{title}</h1>
<p class="who">{you} <code>{me}</code> · {log} <code>{origin}</code></p>
<nav aria-label="{language}"><a href="/?lang=en" hreflang="en" lang="en"{en_current}>English</a> · <a href="/?lang=es" hreflang="es" lang="es"{es_current}>Español</a></nav>
</header>
<main>
<p id="announce" role="status" class="visually-hidden"></p>
<div id="live">
"#,
        code = lang.code(),
        title = ctx.s(
            "Testigo: who uses your data",
            "Testigo: quién usa tus datos"
        ),
        you = ctx.s("Your account", "Tu cuenta"),
        me = esc(&ctx.me.to_base64()),
        log = ctx.s("log", "registro"),
        origin = esc(&ctx.params.origin),
        language = ctx.s("Language", "Idioma"),
        en_current = if lang == Lang::En {
            r#" aria-current="page""#
        } else {
            ""
        },
        es_current = if lang == Lang::Es {
            r#" aria-current="page""#
        } else {
            ""
        },
    );
    html.push_str(&live(ctx, view));
    html.push_str("</div>\n");
    html.push_str(&grant_form(ctx));
    html.push_str(&claim_form(ctx));
    html.push_str("</main>\n<script src=\"/assets/app.js\"></script>\n</body>\n</html>\n");
    html
}

/// The part of the page that follows the log.
pub(crate) fn live(ctx: &Ctx<'_>, view: &View) -> String {
    let mut html = String::new();
    let entries = view
        .synced
        .as_ref()
        .map(|s| s.entries.as_slice())
        .unwrap_or_default();
    alerts_section(ctx, view, entries, &mut html);
    status(ctx, view, &mut html);
    actions(ctx, view, &mut html);
    balance(ctx, view, &mut html);
    consents(ctx, &alerts::consents(ctx.me, entries), &mut html);
    feed(ctx, view, &mut html);
    let _ = write!(
        html,
        "<section id=\"charts\" aria-labelledby=\"charts-h\"><h2 id=\"charts-h\">{}</h2>",
        ctx.s("Over time", "En el tiempo")
    );
    let has_accesses = entries
        .iter()
        .any(|e| matches!(&e.body, Body::Access(a) if a.subject == *ctx.me));
    if !has_accesses {
        let _ = write!(
            html,
            "<p>{}</p>",
            ctx.s(
                "The charts appear with the first use of your data.",
                "Los gráficos aparecen con el primer uso de tus datos."
            )
        );
    }
    let drawn = if has_accesses {
        charts::charts(ctx.me, ctx.params, entries, ctx.lang)
    } else {
        Vec::new()
    };
    for chart in drawn {
        let _ = writeln!(
            html,
            "<figure class=\"chart\" role=\"img\" aria-label=\"{t}\">{svg}<figcaption class=\"visually-hidden\">{t}</figcaption></figure>",
            t = esc(&chart.title),
            svg = chart.svg
        );
    }
    html.push_str("</section>\n");
    html
}

fn alerts_section(
    ctx: &Ctx<'_>,
    view: &View,
    entries: &[testigo_ledger::verify::VerifiedEntry],
    html: &mut String,
) {
    let unmatched = alerts::unmatched(ctx.me, entries);
    if view.alerts.is_empty() && unmatched.is_empty() {
        return;
    }
    let _ = write!(
        html,
        "<section id=\"alerts\" role=\"alert\" aria-labelledby=\"alerts-h\"><h2 id=\"alerts-h\">{}</h2><ul>",
        ctx.s("Alerts", "Alertas")
    );
    for a in view.alerts.iter().rev() {
        let (class, title) = match a.kind {
            AlertKind::LyingNode => (
                "lying-node",
                ctx.s(
                    "A node lied: its answer failed verification against signed data. Nothing it said was believed.",
                    "Un nodo mintió: su respuesta no pasó la verificación con datos firmados. No se creyó nada de lo que dijo.",
                ),
            ),
            AlertKind::SplitView => (
                "split-view",
                ctx.s(
                    "Split view: the log showed two different histories. The proof is saved.",
                    "Vista dividida: el registro mostró dos historias distintas. La prueba está guardada.",
                ),
            ),
        };
        let _ = write!(
            html,
            "<li class=\"alert {class}\"><strong>{title}</strong> <span class=\"when\">{}</span><pre>{}</pre>",
            esc(&ctx.when(a.at_ms)),
            esc(&a.detail)
        );
        if let Some(path) = &a.evidence {
            let _ = write!(
                html,
                "<p>{} <code>{}</code></p>",
                ctx.s("Evidence:", "Prueba:"),
                esc(&path.display().to_string())
            );
        }
        html.push_str("</li>\n");
    }
    for u in &unmatched {
        let _ = writeln!(
            html,
            "<li class=\"alert unconsented\" data-index=\"{i}\"><strong>{title}</strong> {who} {used} {data} {for_} {purpose}: {reason} ({entry} {i})</li>",
            i = u.index,
            title = ctx.s(
                "An access that no consent of yours allows:",
                "Un acceso que ningún consentimiento tuyo permite:"
            ),
            who = esc(&accessor_name(&u.accessor, ctx.params, ctx.lang)),
            used = ctx.s("used", "usó"),
            data = ctx.lang.category(u.access.category),
            for_ = ctx.s("for", "para"),
            purpose = ctx.lang.purpose(u.access.purpose),
            reason = esc(&u.reason.words(ctx.lang)),
            entry = ctx.s("entry", "entrada"),
        );
    }
    html.push_str("</ul></section>\n");
}

fn status(ctx: &Ctx<'_>, view: &View, html: &mut String) {
    html.push_str("<section id=\"status\">");
    match &view.synced {
        Some(s) => {
            let _ = write!(
                html,
                "<p class=\"verified\" data-size=\"{size}\">✔ {verified} {size}, {witnesses}; {last} {when}. {from} <code>{node}</code>.</p>",
                size = s.account.checkpoint.size(),
                verified = ctx.s(
                    "Everything below is verified against checkpoint",
                    "Todo lo de abajo está verificado frente al punto de control"
                ),
                witnesses = ctx.witnesses(
                    &s.account
                        .cosigners
                        .iter()
                        .map(|c| c.name.clone())
                        .collect::<Vec<_>>()
                ),
                last = ctx.s(
                    "its last entry was sequenced",
                    "su última entrada se registró"
                ),
                when = esc(&ctx.when(s.last_leaf_ms)),
                from = ctx.s("Proofs from", "Pruebas de"),
                node = esc(&s.node),
            );
        }
        None => {
            let _ = write!(
                html,
                "<p>{}</p>",
                ctx.s("Not verified yet…", "Aún sin verificar…")
            );
        }
    }
    if let Some(problem) = &view.problem {
        let _ = write!(
            html,
            "<p class=\"problem\">{} {}</p>",
            ctx.s(
                "The last check of the log did not succeed; what is shown is the last verified state:",
                "La última comprobación del registro no tuvo éxito; se muestra el último estado verificado:"
            ),
            esc(problem)
        );
    }
    html.push_str("</section>\n");
}

fn actions(ctx: &Ctx<'_>, view: &View, html: &mut String) {
    if view.actions.is_empty() {
        return;
    }
    let _ = write!(
        html,
        "<section id=\"actions\" aria-labelledby=\"actions-h\"><h2 id=\"actions-h\">{}</h2><ul>",
        ctx.s("Your requests", "Tus solicitudes")
    );
    for a in view.actions.iter().rev() {
        let what = match &a.kind {
            ActionKind::Grant => ctx.s("Give a consent", "Dar un consentimiento").to_owned(),
            ActionKind::Revoke(id) => format!(
                "{} {id}",
                ctx.s("Revoke consent", "Revocar el consentimiento")
            ),
            ActionKind::Claim(amount) => {
                format!("{} {}", ctx.s("Claim", "Reclamar"), ctx.money(*amount))
            }
        };
        let (state, text) = match &a.status {
            ActionStatus::Sequenced { index } => (
                "sequenced",
                format!(
                    "{} {index}; {}",
                    ctx.s("sequenced as entry", "registrada como entrada"),
                    ctx.s("waiting for the witnesses…", "esperando a los testigos…")
                ),
            ),
            ActionStatus::Witnessed {
                index,
                size,
                witnesses,
            } => (
                "witnessed",
                format!(
                    "{} {index} {} {size}, {}, {}",
                    ctx.s("done: entry", "hecho: la entrada"),
                    ctx.s("is in checkpoint", "está en el punto de control"),
                    ctx.witnesses(witnesses),
                    ctx.s(
                        "and verified in your history",
                        "y verificada en tu historial"
                    )
                ),
            ),
            ActionStatus::Refused { code, message } => {
                // An unknown or wrong-role account that is not mine is the grant's recipient.
                let about_someone_else =
                    matches!(code.as_deref(), Some("unknown_account" | "wrong_role"))
                        && !message.contains(&ctx.me.to_base64());
                let words = if about_someone_else {
                    Some(ctx.s(
                        "the log knows no data buyer with that key: check the key you pasted",
                        "el registro no conoce ningún comprador de datos con esa clave: revisa la clave que pegaste",
                    ))
                } else {
                    code.as_deref().and_then(|c| ctx.lang.refusal(c))
                }
                .map_or_else(|| message.clone(), str::to_owned);
                (
                    "refused",
                    format!(
                        "{} {}{}",
                        ctx.s("refused:", "rechazada:"),
                        words,
                        code.as_deref()
                            .map(|c| format!(" ({c}: {message})"))
                            .unwrap_or_default()
                    ),
                )
            }
        };
        let _ = writeln!(
            html,
            "<li class=\"action\" data-status=\"{state}\"><strong>{}</strong> <span class=\"when\">{}</span>: <span class=\"result\">{}</span></li>",
            esc(&what),
            esc(&ctx.when(a.at_ms)),
            esc(&text)
        );
    }
    html.push_str("</ul></section>\n");
}

fn balance(ctx: &Ctx<'_>, view: &View, html: &mut String) {
    let Some(s) = &view.synced else { return };
    let record = s.account.record.as_ref();
    let field = |f: fn(&testigo_ledger::state::AccountRecord) -> u64| record.map_or(0, f);
    let mut earned = 0u64;
    let mut fees = 0u64;
    let mut claims: Vec<(u64, u64, Option<u64>)> = Vec::new();
    for e in &s.entries {
        match &e.body {
            Body::Access(a) if a.subject == *ctx.me => {
                let fee =
                    u64::try_from(u128::from(a.price) * u128::from(ctx.params.fee_bps) / 10_000)
                        .unwrap_or(a.price);
                earned = earned.saturating_add(a.price - fee);
                fees = fees.saturating_add(fee);
            }
            Body::Claim(c) if e.leaf.signer == *ctx.me => claims.push((e.index, c.amount, None)),
            Body::PayoutSettled(p) => {
                if let Some(c) = claims.iter_mut().find(|c| c.0 == p.claim) {
                    c.2 = Some(e.index);
                }
            }
            _ => {}
        }
    }
    let _ = write!(
        html,
        "<section id=\"balance\" aria-labelledby=\"balance-h\"><h2 id=\"balance-h\">{h}</h2><dl>\
         <dt>{avail}</dt><dd id=\"balance-available\">{b}</dd><dt>{pending}</dt><dd>{p}</dd>\
         <dt>{paid}</dt><dd>{s}</dd><dt>{earned_t}</dt><dd id=\"balance-earned\">{e}</dd><dt>{fees_t}</dt><dd>{f}</dd></dl>",
        h = ctx.s("Your money", "Tu dinero"),
        avail = ctx.s("Available to claim", "Disponible para reclamar"),
        b = ctx.money(field(|r| r.balance)),
        pending = ctx.s("Claimed, payout pending", "Reclamado, pago pendiente"),
        p = ctx.money(field(|r| r.pending_payouts)),
        paid = ctx.s("Paid out", "Pagado"),
        s = ctx.money(field(|r| r.settled_payouts)),
        earned_t = ctx.s("Earned in total", "Ganado en total"),
        e = ctx.money(earned),
        fees_t = ctx.s("Operator's fees", "Comisiones del operador"),
        f = ctx.money(fees),
    );
    if !claims.is_empty() {
        let _ = write!(
            html,
            "<table class=\"claims\"><caption>{}</caption><thead><tr><th scope=\"col\">#</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th></tr></thead><tbody>",
            ctx.s("Claims", "Reclamaciones"),
            ctx.s("amount", "importe"),
            ctx.s("status", "estado")
        );
        for (i, amount, settled) in claims.iter().rev() {
            let state = match settled {
                Some(s) => format!("{} {s})", ctx.s("paid (entry", "pagada (entrada")),
                None => ctx.s("pending", "pendiente").to_owned(),
            };
            let _ = write!(
                html,
                "<tr><td>{i}</td><td>{}</td><td>{}</td></tr>",
                ctx.money(*amount),
                esc(&state)
            );
        }
        html.push_str("</tbody></table>");
    }
    html.push_str("</section>\n");
}

fn consents(ctx: &Ctx<'_>, consents: &[Consent], html: &mut String) {
    let _ = write!(
        html,
        "<section id=\"consents\" aria-labelledby=\"consents-h\"><h2 id=\"consents-h\">{}</h2>",
        ctx.s("Your consents", "Tus consentimientos")
    );
    if consents.is_empty() {
        let _ = write!(
            html,
            "<p>{}</p></section>",
            ctx.s(
                "You have not given any consent.",
                "No has dado ningún consentimiento."
            )
        );
        return;
    }
    let _ = write!(
        html,
        "<table><thead><tr><th scope=\"col\">#</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th></tr></thead><tbody>",
        ctx.s("to", "para"),
        ctx.s("data", "datos"),
        ctx.s("purposes", "finalidades"),
        ctx.s("price per access", "precio por acceso"),
        ctx.s("valid until", "válido hasta"),
        ctx.s("status", "estado"),
    );
    for c in consents.iter().rev() {
        let g = &c.grant;
        let to = g.accessor.map_or_else(
            || ctx.s("anyone", "cualquiera").to_owned(),
            |k| accessor_name(&k, ctx.params, ctx.lang),
        );
        let data: Vec<&str> = g.categories.iter().map(|x| ctx.lang.category(*x)).collect();
        let purposes: Vec<&str> = g.purposes.iter().map(|x| ctx.lang.purpose(*x)).collect();
        let until = g
            .valid_until
            .map_or_else(|| ctx.s("no end", "sin fin").to_owned(), |u| ctx.when(u));
        let state = if let Some(r) = c.revoked_at {
            format!("{} {r})", ctx.s("revoked (entry", "revocado (entrada"))
        } else if c.active(ctx.now_ms) {
            format!(
                "{} <form method=\"post\" action=\"/revoke\" class=\"inline\">{}<input type=\"hidden\" name=\"consent\" value=\"{i}\"><button type=\"submit\" class=\"revoke\" data-consent=\"{i}\" aria-label=\"{} {i}\">{}</button></form>",
                ctx.s("active", "activo"),
                ctx.hidden(),
                ctx.s("Revoke consent", "Revocar el consentimiento"),
                ctx.s("Revoke", "Revocar"),
                i = c.index
            )
        } else {
            ctx.s("expired", "caducado").to_owned()
        };
        let _ = writeln!(
            html,
            "<tr class=\"consent\" data-consent=\"{i}\"><td>{i}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{state}</td></tr>",
            esc(&to),
            esc(&data.join(", ")),
            esc(&purposes.join(", ")),
            ctx.money(g.price),
            esc(&until),
            i = c.index
        );
    }
    html.push_str("</tbody></table></section>\n");
}

fn feed(ctx: &Ctx<'_>, view: &View, html: &mut String) {
    let _ = write!(
        html,
        "<section id=\"feed\" aria-labelledby=\"feed-h\"><h2 id=\"feed-h\">{}</h2>",
        ctx.s("Who used your data", "Quién usó tus datos")
    );
    let Some(s) = &view.synced else {
        html.push_str("</section>\n");
        return;
    };
    let accesses: Vec<_> = s
        .entries
        .iter()
        .filter_map(|e| match &e.body {
            Body::Access(a) if a.subject == *ctx.me => Some((e, a)),
            _ => None,
        })
        .collect();
    if accesses.is_empty() {
        let _ = write!(
            html,
            "<p id=\"no-accesses\">{}</p></section>",
            ctx.s(
                "Nobody has used your data yet.",
                "Nadie ha usado tus datos todavía."
            )
        );
        return;
    }
    let _ = write!(
        html,
        "<table><thead><tr><th scope=\"col\">#</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th></tr></thead><tbody>",
        ctx.s("when", "cuándo"),
        ctx.s("who", "quién"),
        ctx.s("what data, what for", "qué datos, para qué"),
        ctx.s("legal basis", "base legal"),
        ctx.s("paid", "pagó"),
        ctx.s("you earned", "ganaste"),
        ctx.s("verified against", "verificado frente a"),
    );
    let fee_bps = u128::from(ctx.params.fee_bps);
    for (e, a) in accesses.iter().rev() {
        let fee = u64::try_from(u128::from(a.price) * fee_bps / 10_000).unwrap_or(a.price);
        let own = e.leaf.signer == ctx.params.log_key;
        let seen = view.seen.get(&e.index);
        let against = seen.map_or_else(String::new, |seen| {
            format!(
                "{} {}, {}",
                ctx.s("checkpoint", "punto de control"),
                seen.size,
                ctx.witnesses(&seen.witnesses)
            )
        });
        let consent = a
            .consent
            .map(|c| format!(" ({} {c})", ctx.s("consent", "consentimiento")))
            .unwrap_or_default();
        let _ = writeln!(
            html,
            "<tr class=\"access{own}\" data-index=\"{i}\"><td>{i}</td><td>{when}</td><td>{who}</td><td>{data}, {for_} {purpose}</td><td>{basis}{consent}</td><td>{paid}</td><td>{earned}</td><td class=\"against\">✔ {against}</td></tr>",
            own = if own { " operator-use" } else { "" },
            i = e.index,
            when = esc(&ctx.when(e.leaf.sequenced_at)),
            who = esc(&accessor_name(&e.leaf.signer, ctx.params, ctx.lang)),
            data = ctx.lang.category(a.category),
            for_ = ctx.s("for", "para"),
            purpose = ctx.lang.purpose(a.purpose),
            basis = esc(&ctx.lang.basis(a.legal_basis)),
            consent = esc(&consent),
            paid = ctx.money(a.price),
            earned = ctx.money(a.price - fee),
            against = against,
        );
    }
    html.push_str("</tbody></table></section>\n");
}

fn grant_form(ctx: &Ctx<'_>) -> String {
    let mut html = format!(
        "<section id=\"control\" aria-labelledby=\"grant-h\"><h2 id=\"grant-h\">{h}</h2>\
         <form id=\"grant\" method=\"post\" action=\"/grant\">{hidden}\
         <p><label for=\"grant-to\">{to}</label> <input id=\"grant-to\" name=\"to\" type=\"text\" size=\"46\" autocomplete=\"off\" aria-describedby=\"grant-to-hint\"> <span id=\"grant-to-hint\" class=\"hint\">{to_hint}</span></p>\
         <fieldset><legend>{data}</legend>",
        h = ctx.s("Give a consent", "Dar un consentimiento"),
        hidden = ctx.hidden(),
        to = ctx.s(
            "Who may use it (their key)",
            "Quién puede usarlo (su clave)"
        ),
        to_hint = ctx.s(
            "leave empty to allow anyone registered",
            "déjalo vacío para permitir a cualquiera registrado"
        ),
        data = ctx.s("Which data", "Qué datos"),
    );
    for c in DataCategory::ALL {
        let _ = write!(
            html,
            "<label><input type=\"checkbox\" name=\"category\" value=\"{t}\"> {w}</label> ",
            t = c.term(),
            w = ctx.lang.category(*c)
        );
    }
    let _ = write!(
        html,
        "</fieldset><fieldset><legend>{}</legend>",
        ctx.s("What for", "Para qué")
    );
    for p in Purpose::ALL {
        let _ = write!(
            html,
            "<label><input type=\"checkbox\" name=\"purpose\" value=\"{t}\"> {w}</label> ",
            t = p.term(),
            w = ctx.lang.purpose(*p)
        );
    }
    let _ = write!(
        html,
        "</fieldset>\
         <p><label for=\"grant-price\">{price} ({cur})</label> <input id=\"grant-price\" name=\"price\" type=\"text\" inputmode=\"decimal\" size=\"8\" required></p>\
         <p><label for=\"grant-until\">{until}</label> <input id=\"grant-until\" name=\"until\" type=\"date\"> <span class=\"hint\">{until_hint}</span></p>\
         <p><button id=\"grant-submit\" type=\"submit\">{go}</button></p></form></section>",
        price = ctx.s("Price per access", "Precio por acceso"),
        cur = esc(&ctx.params.currency),
        until = ctx.s("Valid until", "Válido hasta"),
        until_hint = ctx.s("optional", "opcional"),
        go = ctx.s("Give consent", "Dar consentimiento"),
    );
    html
}

fn claim_form(ctx: &Ctx<'_>) -> String {
    format!(
        "<section id=\"claim\" aria-labelledby=\"claim-h\"><h2 id=\"claim-h\">{h}</h2>\
         <form id=\"claim-form\" method=\"post\" action=\"/claim\">{hidden}\
         <p><label for=\"claim-amount\">{amount} ({cur})</label> <input id=\"claim-amount\" name=\"amount\" type=\"text\" inputmode=\"decimal\" size=\"8\" required></p>\
         <p><label for=\"claim-ref\">{payout}</label> <input id=\"claim-ref\" name=\"payout_ref\" type=\"text\" size=\"40\" required aria-describedby=\"claim-ref-hint\"> <span id=\"claim-ref-hint\" class=\"hint\">{payout_hint}</span></p>\
         <p><button id=\"claim-submit\" type=\"submit\">{go}</button></p></form></section>",
        h = ctx.s("Claim your earnings", "Reclama tus ganancias"),
        hidden = ctx.hidden(),
        amount = ctx.s("Amount", "Importe"),
        cur = esc(&ctx.params.currency),
        payout = ctx.s(
            "Where to pay it (e.g. your IBAN)",
            "Dónde pagarlo (p. ej. tu IBAN)"
        ),
        payout_hint = ctx.s(
            "only a hash of it goes into the log",
            "en el registro solo queda un resumen (hash)"
        ),
        go = ctx.s("Claim", "Reclamar"),
    )
}

#[cfg(test)]
mod tests {
    use testigo_ledger::Hash;

    use super::*;

    fn params() -> LogParams {
        LogParams {
            origin: "testigo.test/page".into(),
            log_key: PublicKey([9; 32]),
            fee_bps: 0,
            currency: "EUR".into(),
            decimals: 2,
            witnesses: Vec::new(),
            quorum: 0,
            regulators: Vec::new(),
            genesis_leaf: Hash([0; 32]),
        }
    }

    #[test]
    fn amounts_and_times_read_naturally_in_both_languages() {
        let params = params();
        let me = PublicKey([1; 32]);
        let ctx = |lang| Ctx {
            lang,
            params: &params,
            me: &me,
            csrf: "",
            now_ms: 10_000_000,
        };
        assert_eq!(ctx(Lang::En).money(1_250), "12.50 EUR");
        assert_eq!(ctx(Lang::Es).money(1_250), "12,50 EUR");
        assert!(ctx(Lang::En).when(9_880_000).ends_with("(2 min ago)"));
        assert!(ctx(Lang::Es).when(9_880_000).ends_with("(hace 2 min)"));
        assert!(
            ctx(Lang::En)
                .when(10_000_000 + 3 * 86_400_000)
                .ends_with("(in 3 days)")
        );
        assert!(
            ctx(Lang::Es)
                .when(10_000_000 + 3 * 86_400_000)
                .ends_with("(dentro de 3 días)")
        );
        // A log without witnesses says so instead of naming none.
        assert!(ctx(Lang::En).witnesses(&[]).contains("operator alone"));
    }

    #[test]
    fn the_page_before_the_first_sync_has_its_forms_and_no_token() {
        let params = params();
        let me = PublicKey([1; 32]);
        let ctx = Ctx {
            lang: Lang::Es,
            params: &params,
            me: &me,
            csrf: "c5rf",
            now_ms: 0,
        };
        let html = page(&ctx, &View::default());
        assert!(html.starts_with("<!DOCTYPE html>\n<html lang=\"es\">"));
        assert!(html.contains("Aún sin verificar"));
        assert_eq!(html.matches("name=\"csrf\" value=\"c5rf\"").count(), 2);
        assert!(!html.contains("<script>"), "no inline script (CSP)");
    }

    #[test]
    fn text_is_escaped_for_content_and_attributes() {
        assert_eq!(
            esc("<script>\"a\" & 'b'</script>"),
            "&lt;script&gt;&quot;a&quot; &amp; &#39;b&#39;&lt;/script&gt;"
        );
    }
}

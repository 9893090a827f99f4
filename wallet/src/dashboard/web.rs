//! The dashboard's HTTP side (axum, loopback only).
//!
//! Security: the printed URL carries a per-session token; opening it sets an `HttpOnly`,
//! `SameSite=Strict` cookie and redirects to a URL without it. Every route but the embedded
//! assets needs that cookie; every POST also needs the per-session CSRF token the page's forms
//! carry, and is refused if the browser says it came from another origin (`Origin`,
//! `Sec-Fetch-Site`). A `Host` other than the loopback address and port is refused (DNS
//! rebinding). Pages are sent with a strict Content-Security-Policy (scripts and styles only
//! from the dashboard itself). Limits: 16 KiB request bodies, 32 requests at once, 8 event
//! streams.

use std::convert::Infallible;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use testigo_ledger::PublicKey;
use testigo_ledger::entry::{Body, Claim, GrantConsent, RevokeConsent};
use testigo_ledger::hash::blake3_parts;
use tokio::sync::Semaphore;

use super::alerts;
use super::i18n::Lang;
use super::live::{ActionKind, Core};
use super::page;
use crate::format;

/// Largest request body (the grant form is well under 2 KiB).
pub(crate) const MAX_BODY: usize = 16 * 1024;
/// Requests served at once.
pub(crate) const MAX_IN_FLIGHT: usize = 32;
/// Event streams open at once.
pub(crate) const MAX_STREAMS: usize = 8;

const APP_JS: &str = include_str!("assets/app.js");
const STYLE_CSS: &str = include_str!("assets/style.css");
const FAVICON_SVG: &str = include_str!("assets/favicon.svg");
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The server's state.
#[derive(Debug)]
pub(crate) struct Web {
    pub(crate) core: Arc<Core>,
    pub(crate) token: String,
    pub(crate) csrf: String,
    pub(crate) port: u16,
    streams: Arc<Semaphore>,
}

impl Web {
    pub(crate) fn new(core: Arc<Core>, token: String, csrf: String, port: u16) -> Self {
        Self {
            core,
            token,
            csrf,
            port,
            streams: Arc::new(Semaphore::new(MAX_STREAMS)),
        }
    }

    fn cookie_name(&self) -> String {
        format!("testigo_dashboard_{}", self.port)
    }
}

/// The router.
pub(crate) fn router(web: Arc<Web>) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/live", get(live))
        .route("/events", get(events))
        .route("/grant", post(grant))
        .route("/revoke", post(revoke))
        .route("/claim", post(claim))
        .route("/assets/app.js", get(app_js))
        .route("/assets/style.css", get(style_css))
        .route("/assets/favicon.svg", get(favicon))
        .layer(middleware::from_fn_with_state(web.clone(), guard))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(tower::limit::ConcurrencyLimitLayer::new(MAX_IN_FLIGHT))
        .with_state(web)
}

/// Constant-time comparison of two tokens.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    parse_form(query.unwrap_or_default().as_bytes())
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

fn plain(status: StatusCode, text: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("{text}\n"),
    )
        .into_response()
}

/// Host check, the token handshake, the session cookie, the origin of POSTs, and the security
/// headers on every answer.
async fn guard(State(web): State<Arc<Web>>, request: Request, next: Next) -> Response {
    let mut response = check(&web, request, next).await;
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // `same-origin`, not `no-referrer`: under `no-referrer` Chromium sends `Origin: null` with
    // the page's own form posts, which the origin check would refuse.
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

async fn check(web: &Web, request: Request, next: Next) -> Response {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let allowed_hosts = [
        format!("127.0.0.1:{}", web.port),
        format!("localhost:{}", web.port),
    ];
    if !allowed_hosts.contains(&host) {
        return plain(
            StatusCode::MISDIRECTED_REQUEST,
            "this dashboard answers only on its loopback address",
        );
    }
    let path = request.uri().path().to_owned();
    if path.starts_with("/assets/") {
        return next.run(request).await;
    }
    let query = request.uri().query().map(str::to_owned);
    if path == "/"
        && let Some(token) = query_param(query.as_deref(), "token")
    {
        if !same(&token, &web.token) {
            return plain(
                StatusCode::FORBIDDEN,
                "wrong session token: open the URL the dashboard printed",
            );
        }
        let lang = query_param(query.as_deref(), "lang")
            .filter(|l| l == "es" || l == "en")
            .map(|l| format!("?lang={l}"))
            .unwrap_or_default();
        let cookie = format!(
            "{}={}; HttpOnly; SameSite=Strict; Path=/",
            web.cookie_name(),
            web.token
        );
        return (
            StatusCode::SEE_OTHER,
            [
                (header::SET_COOKIE, cookie),
                (header::LOCATION, format!("/{lang}")),
            ],
        )
            .into_response();
    }
    let session = cookie(request.headers(), &web.cookie_name());
    if !session.is_some_and(|s| same(&s, &web.token)) {
        return plain(
            StatusCode::UNAUTHORIZED,
            "no session: open the URL with the token that `testigo-wallet dashboard` printed",
        );
    }
    if request.method() == axum::http::Method::POST {
        let origin = request
            .headers()
            .get(header::ORIGIN)
            .and_then(|v| v.to_str().ok());
        let site = request
            .headers()
            .get("sec-fetch-site")
            .and_then(|v| v.to_str().ok());
        let same_origin = origin.is_none_or(|o| o == format!("http://{host}"))
            && site.is_none_or(|s| s == "same-origin" || s == "none");
        if !same_origin {
            return plain(
                StatusCode::FORBIDDEN,
                "refused: the request came from another site",
            );
        }
    }
    next.run(request).await
}

fn lang_of(headers: &HeaderMap, query: Option<&str>) -> Lang {
    Lang::choose(
        query_param(query, "lang").as_deref(),
        headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok()),
    )
}

fn html(body: String) -> Response {
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response()
}

async fn index(State(web): State<Arc<Web>>, headers: HeaderMap, request: Request) -> Response {
    let lang = lang_of(&headers, request.uri().query());
    let view = web.core.view();
    let ctx = page::Ctx {
        lang,
        params: &web.core.params,
        me: &web.core.me,
        csrf: &web.csrf,
        now_ms: testigo_client::now_ms(),
    };
    html(page::page(&ctx, &view))
}

async fn live(State(web): State<Arc<Web>>, headers: HeaderMap, request: Request) -> Response {
    let lang = lang_of(&headers, request.uri().query());
    let view = web.core.view();
    let ctx = page::Ctx {
        lang,
        params: &web.core.params,
        me: &web.core.me,
        csrf: &web.csrf,
        now_ms: testigo_client::now_ms(),
    };
    html(page::live(&ctx, &view))
}

/// `update` events, one now and one per view change, with the view's version as data.
async fn events(State(web): State<Arc<Web>>) -> Response {
    let Ok(permit) = web.streams.clone().try_acquire_owned() else {
        return plain(
            StatusCode::TOO_MANY_REQUESTS,
            "too many dashboard pages are open",
        );
    };
    let rx = web.core.subscribe();
    let stream =
        futures::stream::unfold((rx, true, permit), |(mut rx, first, permit)| async move {
            if !first && rx.changed().await.is_err() {
                return None;
            }
            let version = *rx.borrow_and_update();
            let event = Event::default().event("update").data(version.to_string());
            Some((Ok::<_, Infallible>(event), (rx, false, permit)))
        });
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
}

async fn app_js() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        APP_JS,
    )
        .into_response()
}

async fn favicon() -> Response {
    ([(header::CONTENT_TYPE, "image/svg+xml")], FAVICON_SVG).into_response()
}

async fn style_css() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        STYLE_CSS,
    )
        .into_response()
}

/// Decodes `application/x-www-form-urlencoded` (repeated names kept, in order).
pub(crate) fn parse_form(bytes: &[u8]) -> Vec<(String, String)> {
    fn decode(part: &[u8]) -> String {
        let mut out = Vec::with_capacity(part.len());
        let mut i = 0;
        while i < part.len() {
            match part[i] {
                b'+' => out.push(b' '),
                b'%' if i + 2 < part.len() => {
                    let hex = std::str::from_utf8(&part[i + 1..i + 3]).ok();
                    match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                        Some(b) => {
                            out.push(b);
                            i += 2;
                        }
                        None => out.push(b'%'),
                    }
                }
                b => out.push(b),
            }
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }
    bytes
        .split(|b| *b == b'&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = match p.iter().position(|b| *b == b'=') {
                Some(at) => (&p[..at], &p[at + 1..]),
                None => (p, &b""[..]),
            };
            (decode(k), decode(v))
        })
        .collect()
}

/// A submitted form, once its CSRF token checked out.
struct Form {
    fields: Vec<(String, String)>,
    lang: Lang,
}

impl Form {
    fn parse(web: &Web, bytes: &[u8]) -> Result<Self, Box<Response>> {
        let fields = parse_form(bytes);
        let csrf = fields
            .iter()
            .find(|(k, _)| k == "csrf")
            .map(|(_, v)| v.as_str());
        if !csrf.is_some_and(|c| same(c, &web.csrf)) {
            return Err(Box::new(plain(
                StatusCode::FORBIDDEN,
                "refused: the form's security token is missing or wrong (reload the page)",
            )));
        }
        let lang = Lang::choose(
            fields
                .iter()
                .find(|(k, _)| k == "lang")
                .map(|(_, v)| v.as_str()),
            None,
        );
        Ok(Self { fields, lang })
    }

    fn one(&self, name: &str) -> &str {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.trim())
    }

    fn all(&self, name: &str) -> Vec<&str> {
        self.fields
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    fn back(&self) -> Response {
        (
            StatusCode::SEE_OTHER,
            [(header::LOCATION, format!("/?lang={}", self.lang.code()))],
        )
            .into_response()
    }
}

async fn grant(State(web): State<Arc<Web>>, body: Bytes) -> Response {
    let form = match Form::parse(&web, &body) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let l = form.lang;
    let core = &web.core;
    let refuse = |words: String| {
        core.refuse(ActionKind::Grant, words);
        form.back()
    };
    let accessor = match form.one("to") {
        "" => None,
        key => match PublicKey::from_base64(key) {
            Some(k) => Some(k),
            None => {
                return refuse(format!(
                    "{key:?} {}",
                    l.s(
                        "is not a key: paste the accessor's key, or leave it empty for anyone",
                        "no es una clave: pega la clave del destinatario, o déjalo vacío para cualquiera"
                    )
                ));
            }
        },
    };
    let categories: Vec<_> = form
        .all("category")
        .iter()
        .filter_map(|c| c.parse().ok())
        .collect();
    let purposes: Vec<_> = form
        .all("purpose")
        .iter()
        .filter_map(|p| p.parse().ok())
        .collect();
    if categories.is_empty() || purposes.is_empty() {
        return refuse(
            l.s(
                "choose at least one kind of data and one purpose",
                "elige al menos un tipo de dato y una finalidad",
            )
            .to_owned(),
        );
    }
    let price_text = form.one("price").replace(',', ".");
    let Ok(price) = format::parse_amount(&price_text, core.params.decimals) else {
        return refuse(format!(
            "{} {}",
            l.s(
                "the price is not an amount, e.g.",
                "el precio no es un importe, p. ej."
            ),
            page::Ctx {
                lang: l,
                params: &core.params,
                me: &core.me,
                csrf: "",
                now_ms: 0
            }
            .money(5)
        ));
    };
    let now = testigo_client::now_ms();
    let valid_until = match form.one("until") {
        "" => None,
        text => match format::parse_time(text) {
            Ok(t) if t > now => Some(t),
            _ => {
                return refuse(
                    l.s(
                        "the end of validity must be a date in the future",
                        "el fin de la validez debe ser una fecha futura",
                    )
                    .to_owned(),
                );
            }
        },
    };
    core.submit(ActionKind::Grant, |nonce| {
        Body::GrantConsent(GrantConsent {
            nonce,
            accessor,
            categories,
            purposes,
            price,
            valid_from: now,
            valid_until,
        })
    })
    .await;
    form.back()
}

async fn revoke(State(web): State<Arc<Web>>, body: Bytes) -> Response {
    let form = match Form::parse(&web, &body) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let core = &web.core;
    let Ok(id) = form.one("consent").parse::<u64>() else {
        core.refuse(
            ActionKind::Revoke(0),
            form.lang
                .s("no consent was named", "no se indicó ningún consentimiento")
                .to_owned(),
        );
        return form.back();
    };
    let view = core.view();
    let entries = view
        .synced
        .as_ref()
        .map(|s| s.entries.as_slice())
        .unwrap_or_default();
    let known = alerts::consents(&core.me, entries)
        .into_iter()
        .any(|c| c.index == id && c.revoked_at.is_none());
    if !known {
        core.refuse(
            ActionKind::Revoke(id),
            form.lang
                .s(
                    "that is not an active consent of yours",
                    "ese no es un consentimiento tuyo activo",
                )
                .to_owned(),
        );
        return form.back();
    }
    core.submit(ActionKind::Revoke(id), |nonce| {
        Body::RevokeConsent(RevokeConsent { nonce, consent: id })
    })
    .await;
    form.back()
}

async fn claim(State(web): State<Arc<Web>>, body: Bytes) -> Response {
    let form = match Form::parse(&web, &body) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let l = form.lang;
    let core = &web.core;
    let text = form.one("amount").replace(',', ".");
    let amount = format::parse_amount(&text, core.params.decimals).unwrap_or(0);
    let balance = core
        .view()
        .synced
        .and_then(|s| s.account.record.map(|r| r.balance))
        .unwrap_or(0);
    let payout = form.one("payout_ref").to_owned();
    if amount == 0 || amount > balance {
        core.refuse(
            ActionKind::Claim(amount),
            l.s(
                "claim an amount above zero and at most your available balance",
                "reclama un importe mayor que cero y como mucho tu saldo disponible",
            )
            .to_owned(),
        );
        return form.back();
    }
    if payout.is_empty() {
        core.refuse(
            ActionKind::Claim(amount),
            l.s(
                "say where to pay it (e.g. your IBAN)",
                "indica dónde pagarlo (p. ej. tu IBAN)",
            )
            .to_owned(),
        );
        return form.back();
    }
    // Only a hash of the payout instructions goes into the log (never an IBAN).
    let payout_ref = blake3_parts(&[b"testigo/payout-ref/v1\n", payout.as_bytes()]);
    core.submit(ActionKind::Claim(amount), |nonce| {
        Body::Claim(Claim {
            nonce,
            amount,
            payout_ref,
        })
    })
    .await;
    form.back()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_decode_with_repeated_names_and_escapes() {
        let f = parse_form(
            b"category=pd%3ALocation&category=pd%3ACallLog&to=&price=0%2C50&x=a+b&bad=%zz&end=%4",
        );
        assert_eq!(
            f,
            [
                ("category".into(), "pd:Location".into()),
                ("category".into(), "pd:CallLog".into()),
                ("to".into(), String::new()),
                ("price".into(), "0,50".into()),
                ("x".into(), "a b".into()),
                ("bad".into(), "%zz".into()),
                ("end".into(), "%4".into()),
            ]
        );
    }

    #[test]
    fn tokens_compare_whole() {
        assert!(same("abc", "abc"));
        assert!(!same("abc", "abd"));
        assert!(!same("abc", "ab"));
    }
}

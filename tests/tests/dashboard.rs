//! The customer's dashboard (issue 13) in a real headless Chromium, on a real primary and
//! witness: grant a consent with the form, a data buyer's accesses appear live (time from
//! submission to visible measured), revoke with one click, the buyer's next access is refused,
//! an access no consent allows raises an alert, the Spanish page, no console errors, axe-core
//! finds no serious violation; screenshots kept under `<target>/test-output/dashboard`. Without
//! a browser: the session token, cookie, CSRF and host checks, and a lying node's alert.

use std::time::{Duration, Instant};

use fantoccini::Locator;
use serde_json::{Value, json};
use testigo_client::ClientError;
use testigo_ledger::PublicKey;
use testigo_ledger::api::Wait;
use testigo_tests::browser::{Browser, output_dir};
use testigo_tests::cluster::Cluster;
use testigo_tests::fixtures::{Party, Use, deposit, enroll, register};
use testigo_tests::lying_node::Proxy;
use testigo_tests::wallet::{PASSPHRASE, Wallet, operator_submits, witnessed_cluster};
use testigo_wallet::dashboard::Dashboard;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// axe-core, vendored with its licence in tests/vendor/axe-core.
const AXE: &str = include_str!("../vendor/axe-core/axe.min.js");
/// How long anything the page waits for may take.
const PATIENCE: Duration = Duration::from_secs(20);
/// Accesses timed from submission to visible.
const TIMED_ACCESSES: usize = 20;

/// An enrolled subject's wallet, a registered buyer with funds, and the operator.
async fn subject_and_buyer(cluster: &Cluster, node: &str) -> (Wallet, PublicKey, Party, Party) {
    let mut operator = Party::operator();
    let wallet = Wallet::new();
    let me = wallet.init_tofu(node).await;
    operator_submits(cluster, &operator.entry(enroll(me))).await;
    let buyer = Party::fresh(41);
    operator_submits(cluster, &operator.entry(register(buyer.public()))).await;
    operator_submits(
        cluster,
        &operator.entry(deposit(buyer.public(), 100_000, "wire")),
    )
    .await;
    (wallet, me, buyer, operator)
}

async fn dashboard(wallet: &Wallet, nodes: &[String]) -> Dashboard {
    let bytes = std::fs::read(wallet.dir().join("key.age")).expect("the key file");
    let key = testigo_wallet::keyfile::open(&bytes, PASSPHRASE).expect("the key opens");
    Dashboard::start(wallet.dir(), key, nodes, 0)
        .await
        .expect("the dashboard starts")
}

/// Polls `script` (which returns a value) in the page until it is truthy.
async fn until(browser: &Browser, what: &str, script: &str) -> Value {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let value = browser
            .client()
            .execute(script, vec![])
            .await
            .expect("the page runs a script");
        if !(value.is_null() || value == json!(false) || value == json!(0)) {
            return value;
        }
        if Instant::now() >= deadline {
            let text = browser
                .client()
                .execute(
                    "return document.body ? document.body.innerText : '';",
                    vec![],
                )
                .await
                .unwrap_or_default();
            panic!(
                "the page never showed {what}; it shows:\n{}",
                text.as_str().unwrap_or_default()
            );
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn click(browser: &Browser, css: &str) {
    browser
        .client()
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .click()
        .await
        .unwrap_or_else(|e| panic!("clicking {css}: {e}"));
}

/// Serious or critical axe-core violations on the page, as `rule: nodes`.
async fn accessibility(browser: &Browser) -> Vec<String> {
    browser
        .client()
        .execute(&format!("{AXE}\n;return true;"), vec![])
        .await
        .expect("axe-core loads");
    let result = browser
        .client()
        .execute_async(
            "var done = arguments[arguments.length - 1];
             axe.run(document).then(function (r) {
               done(r.violations
                 .filter(function (v) { return v.impact === 'serious' || v.impact === 'critical'; })
                 .map(function (v) { return v.id + ': ' + v.nodes.map(function (n) { return n.target.join(' '); }).join(', '); }));
             }, function (e) { done(['axe failed: ' + e]); });",
            vec![],
        )
        .await
        .expect("axe-core runs");
    result
        .as_array()
        .into_iter()
        .flatten()
        .map(|v| v.as_str().unwrap_or_default().to_owned())
        .collect()
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grant_see_accesses_live_revoke_in_one_click_and_the_next_access_is_refused() {
    let cluster = witnessed_cluster().await;
    let url = cluster.primary.client.base().to_owned();
    let (wallet, me, mut buyer, mut operator) = subject_and_buyer(&cluster, &url).await;
    let dash = dashboard(&wallet, &[]).await;
    let out = output_dir("dashboard");
    let browser = Browser::start().await;
    browser.open(&dash.url()).await;
    let landed = browser.client().current_url().await.expect("the URL");
    assert!(
        !landed.as_str().contains("token"),
        "the token is swapped for a cookie and leaves the address bar: {landed}"
    );
    until(
        &browser,
        "a verified checkpoint",
        "return document.querySelector('#status .verified');",
    )
    .await;

    // Grant with the form: location for advertising, to this buyer, at 0.05 EUR.
    browser
        .client()
        .find(Locator::Css("#grant-to"))
        .await
        .expect("the recipient field")
        .send_keys(&buyer.public().to_base64())
        .await
        .expect("typing the key");
    click(&browser, "input[name=category][value='pd:Location']").await;
    click(
        &browser,
        "input[name=purpose][value='dpv:PersonalisedAdvertising']",
    )
    .await;
    browser
        .client()
        .find(Locator::Css("#grant-price"))
        .await
        .expect("the price field")
        .send_keys("0.05")
        .await
        .expect("typing the price");
    click(&browser, "#grant-submit").await;
    let sequenced = until(
        &browser,
        "the grant sequenced or witnessed",
        "var a = document.querySelector('.action'); return a && a.getAttribute('data-status') !== 'refused' && a.textContent;",
    )
    .await;
    assert!(
        sequenced.as_str().unwrap_or_default().contains("entry"),
        "{sequenced}"
    );
    until(
        &browser,
        "the grant witnessed",
        "return document.querySelector('.action[data-status=witnessed]');",
    )
    .await;
    let consent: u64 = until(
        &browser,
        "the consent with a revoke button",
        "var b = document.querySelector('button.revoke'); return b && b.getAttribute('data-consent');",
    )
    .await
    .as_str()
    .expect("a consent id")
    .parse()
    .expect("a number");
    let witnessed = browser
        .texts(".action[data-status=witnessed] .result")
        .await;
    assert!(
        witnessed[0].contains("witnessed by witness0.test")
            && witnessed[0].contains("verified in your history"),
        "{witnessed:?}"
    );

    // The buyer's accesses appear live; time each from submission to visible on the page.
    let mut latencies = Vec::new();
    for _ in 0..TIMED_ACCESSES {
        let leaf = buyer.entry(Use::consented(me, consent, 5).body());
        let submitted = testigo_client::now_ms();
        let index = cluster
            .primary
            .client
            .submit(&leaf, Wait::Sequenced)
            .await
            .expect("the access is accepted")
            .index;
        let seen = until(
            &browser,
            "the access",
            &format!("return window.testigoSeen && window.testigoSeen['{index}'];"),
        )
        .await
        .as_u64()
        .expect("a time");
        latencies.push(seen.saturating_sub(submitted));
    }
    latencies.sort_unstable();
    let (p50, p99) = (percentile(&latencies, 50.0), percentile(&latencies, 99.0));
    println!(
        "dashboard: submission to visible on the page over {TIMED_ACCESSES} accesses: p50 {p50} ms, p99 {p99} ms (all: {latencies:?})"
    );
    let rows = browser.texts("#feed tr.access").await;
    assert_eq!(rows.len(), TIMED_ACCESSES);
    assert!(
        rows[0].contains("where your phone was, for advertising aimed at you")
            && rows[0].contains("your consent (GDPR Art. 6(1)(a)) (consent")
            && rows[0].contains("0.05 EUR")
            && rows[0].contains("checkpoint")
            && rows[0].contains("witnessed by witness0.test"),
        "each access shows what it was verified against: {rows:?}"
    );
    assert_eq!(browser.count("#alerts").await, 0, "no alert yet");
    let fee_bps = u64::from(cluster.primary.client.log().await.expect("log").fee_bps);
    let earned = TIMED_ACCESSES as u64 * (5 - 5 * fee_bps / 10_000);
    let shown = browser.texts("#balance-earned").await;
    assert_eq!(
        shown,
        [testigo_wallet::format::amount(earned, 2, "EUR")],
        "earnings in the log's currency"
    );
    assert_eq!(
        browser.count("figure.chart svg").await,
        5,
        "charts by accessor, category, purpose, legal basis, earnings"
    );
    let en = out.join("dashboard-en.png");
    browser.screenshot(&en).await;
    println!("dashboard: screenshot {}", en.display());
    browser
        .client()
        .execute(
            "document.getElementById('charts').scrollIntoView();",
            vec![],
        )
        .await
        .expect("scrolling to the charts");
    let charts = out.join("dashboard-en-charts.png");
    browser.screenshot(&charts).await;
    println!("dashboard: screenshot {}", charts.display());
    browser
        .client()
        .execute("window.scrollTo(0, 0);", vec![])
        .await
        .expect("scrolling back");

    // Revoke with one click; the buyer's next access is refused.
    click(
        &browser,
        &format!("button.revoke[data-consent='{consent}']"),
    )
    .await;
    until(
        &browser,
        "the revocation witnessed",
        "var a = document.querySelector('.action'); return a && a.getAttribute('data-status') === 'witnessed' && a.textContent.indexOf('Revoke') >= 0;",
    )
    .await;
    let consent_row = browser
        .texts(&format!("tr.consent[data-consent='{consent}']"))
        .await;
    assert!(consent_row[0].contains("revoked"), "{consent_row:?}");
    let refused = cluster
        .primary
        .client
        .submit(
            &buyer.attempt(Use::consented(me, consent, 5).body()),
            Wait::Sequenced,
        )
        .await;
    match refused {
        Err(ClientError::Refused { error, .. }) => assert_eq!(error.code, "consent_revoked"),
        other => panic!("the access after the revocation must be refused: {other:?}"),
    }

    // The operator's own use, on legitimate interest: no consent allows it, so it raises an
    // alert, and the feed marks it as the operator's own.
    let leaf = operator.entry(Use::legitimate_interest(me, 0).body());
    let index = cluster
        .primary
        .as_operator()
        .submit(&leaf, Wait::Sequenced)
        .await
        .expect("legitimate interest is the operator's claim to make")
        .index;
    let alert = until(
        &browser,
        "the alert",
        &format!(
            "var a = document.querySelector('#alerts .unconsented[data-index=\"{index}\"]'); return a && a.textContent;"
        ),
    )
    .await;
    assert!(
        alert
            .as_str()
            .unwrap_or_default()
            .contains("not under a consent of yours: it claims their legitimate interest"),
        "{alert}"
    );
    let own = browser
        .texts(&format!(
            "#feed tr.access.operator-use[data-index='{index}']"
        ))
        .await;
    assert!(own[0].contains("the operator (its own use)"), "{own:?}");
    let violations = accessibility(&browser).await;
    assert_eq!(
        violations,
        Vec::<String>::new(),
        "serious axe-core violations (English)"
    );
    let alerted = out.join("dashboard-en-alert.png");
    browser.screenshot(&alerted).await;
    println!("dashboard: screenshot {}", alerted.display());

    // Claim part of the earnings with the form; it shows pending, then paid once settled.
    browser
        .client()
        .find(Locator::Css("#claim-amount"))
        .await
        .expect("the amount field")
        .send_keys("0.50")
        .await
        .expect("typing the amount");
    browser
        .client()
        .find(Locator::Css("#claim-ref"))
        .await
        .expect("the payout field")
        .send_keys("IBAN ES91 2100 0418 4502 0005 1332")
        .await
        .expect("typing the IBAN");
    click(&browser, "#claim-submit").await;
    let claimed = until(
        &browser,
        "the claim witnessed",
        "var a = document.querySelector('.action'); return a && a.getAttribute('data-status') === 'witnessed' && a.textContent.indexOf('Claim 0.50 EUR') >= 0 && a.textContent;",
    )
    .await;
    let claim_index: u64 = claimed
        .as_str()
        .and_then(|t| t.split("entry ").nth(1))
        .and_then(|t| t.split(' ').next())
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("the claim's entry: {claimed}"));
    assert!(browser.texts("table.claims").await[0].contains("0.50 EUR pending"));
    operator_submits(
        &cluster,
        &operator.entry(testigo_tests::fixtures::settle(claim_index, "SEPA-1")),
    )
    .await;
    until(
        &browser,
        "the claim paid",
        "var t = document.querySelector('table.claims'); return t && t.textContent.indexOf('paid (entry') >= 0;",
    )
    .await;

    // A revoked consent has no revoke button any more.
    assert_eq!(
        browser
            .count(&format!("button.revoke[data-consent='{consent}']"))
            .await,
        0
    );

    // The Spanish page.
    browser
        .client()
        .goto(&format!("http://{}/?lang=es", dash.addr()))
        .await
        .expect("the Spanish page");
    until(&browser, "the Spanish page", "return document.documentElement.lang === 'es' && document.querySelector('#feed tr.access');").await;
    let heading = browser.texts("#feed-h").await;
    assert_eq!(heading, ["Quién usó tus datos"]);
    let rows = browser.texts("#feed tr.access").await;
    assert!(
        rows.iter().any(
            |r| r.contains("dónde estaba tu móvil, para publicidad dirigida a ti")
                && r.contains("tu consentimiento (RGPD art. 6(1)(a))")
                && r.contains("0,05 EUR")
                && r.contains("atestiguado por witness0.test")
        ),
        "{rows:?}"
    );
    assert!(
        browser.texts("#alerts").await[0].contains("alega su interés legítimo"),
        "the alert in Spanish"
    );
    let violations = accessibility(&browser).await;
    assert_eq!(
        violations,
        Vec::<String>::new(),
        "serious axe-core violations (Spanish)"
    );
    let es = out.join("dashboard-es.png");
    browser.screenshot(&es).await;
    println!("dashboard: screenshot {}", es.display());
    assert_eq!(browser.console_errors().await, Vec::<String>::new());
    browser.close().await;
}

/// One raw HTTP/1.1 request to the dashboard; returns the status and the whole answer.
async fn http(addr: std::net::SocketAddr, request: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream
        .write_all(request.as_bytes())
        .await
        .expect("send the request");
    let mut answer = Vec::new();
    // A server that refuses a body before reading it may reset the connection after answering.
    let _ = tokio::time::timeout(PATIENCE, stream.read_to_end(&mut answer))
        .await
        .expect("an answer in time");
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, text)
}

fn get(path: &str, host: &str, cookie: Option<&str>) -> String {
    format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n{}\r\n",
        cookie
            .map(|c| format!("Cookie: {c}\r\n"))
            .unwrap_or_default()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_session_may_look_or_act_and_a_lying_node_or_split_view_raises_an_alert() {
    let cluster = witnessed_cluster().await;
    let proxy = Proxy::start(cluster.primary.client.base()).await;
    let (wallet, me, mut buyer, _) = subject_and_buyer(&cluster, &proxy.url()).await;
    let dash = dashboard(&wallet, &[]).await;
    let addr = dash.addr();
    let host = addr.to_string();
    let token = dash
        .url()
        .split("token=")
        .nth(1)
        .expect("a token")
        .to_owned();

    // No cookie, a wrong token, a foreign Host: refused.
    assert_eq!(http(addr, &get("/", &host, None)).await.0, 401);
    assert_eq!(http(addr, &get("/live", &host, None)).await.0, 401);
    assert_eq!(http(addr, &get("/?token=0000", &host, None)).await.0, 403);
    let rebound = get(&format!("/?token={token}"), "evil.example:80", None);
    assert_eq!(http(addr, &rebound).await.0, 421);
    // The right token: a cookie, and a redirect without the token.
    let (status, answer) = http(addr, &get(&format!("/?token={token}"), &host, None)).await;
    assert_eq!(status, 303, "{answer}");
    let set_cookie = answer
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: "))
        .expect("a cookie");
    assert!(set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Strict"));
    let cookie = set_cookie.split(';').next().expect("name=value").to_owned();
    assert!(answer.contains("location: /\r\n"), "{answer}");
    let (status, page) = http(addr, &get("/", &host, Some(&cookie))).await;
    assert_eq!(status, 200);
    assert!(page.contains("content-security-policy: default-src 'none'"));
    assert!(
        !page.contains(&token),
        "the session token never appears in the page"
    );
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("a CSRF token in the forms")
        .to_owned();
    // A POST without the CSRF token, or from another origin, changes nothing.
    let post = |body: String, origin: &str| {
        format!(
            "POST /grant HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nCookie: {cookie}\r\nOrigin: {origin}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
    };
    let grant = "category=pd%3ALocation&purpose=dpv%3APersonalisedAdvertising&price=0.01";
    let own_origin = format!("http://{host}");
    assert_eq!(
        http(addr, &post(grant.to_owned(), &own_origin)).await.0,
        403
    );
    assert_eq!(
        http(
            addr,
            &post(format!("{grant}&csrf={csrf}"), "http://evil.example")
        )
        .await
        .0,
        403
    );
    // An oversized body is refused before it is read.
    let huge = format!("csrf={csrf}&pad={}", "x".repeat(20 * 1024));
    assert_eq!(http(addr, &post(huge, &own_origin)).await.0, 413);
    // A bad price is refused in plain words, nothing sent.
    let (status, _) = http(
        addr,
        &post(format!("{grant}0.001&csrf={csrf}"), &own_origin),
    )
    .await;
    assert_eq!(status, 303);
    let (_, live) = http(addr, &get("/live", &host, Some(&cookie))).await;
    assert!(
        live.contains("data-status=\"refused\"") && live.contains("the price is not an amount"),
        "{live}"
    );
    // A grant to a key the log does not know: the node refuses, the page says why in plain words.
    let stranger = Party::fresh(77).public().to_base64();
    let to = stranger
        .replace('+', "%2B")
        .replace('/', "%2F")
        .replace('=', "%3D");
    let (status, _) = http(
        addr,
        &post(format!("{grant}&to={to}&csrf={csrf}"), &own_origin),
    )
    .await;
    assert_eq!(status, 303);
    let (_, live) = http(addr, &get("/live", &host, Some(&cookie))).await;
    assert!(
        live.contains("refused: the log knows no data buyer with that key")
            && live.contains("unknown_account"),
        "{live}"
    );
    // The proper form is granted.
    let (status, _) = http(addr, &post(format!("{grant}&csrf={csrf}"), &own_origin)).await;
    assert_eq!(status, 303);

    // Now the node (behind the proxy) hides an access from the history: an integrity alert.
    let deadline = Instant::now() + PATIENCE;
    let consent = loop {
        let (_, live) = http(addr, &get("/live", &host, Some(&cookie))).await;
        if let Some(id) = live
            .split("class=\"revoke\" data-consent=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
        {
            break id.parse::<u64>().expect("a consent id");
        }
        assert!(Instant::now() < deadline, "the grant never showed: {live}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    proxy.rewrite(|path: &str, body: &[u8]| {
        if !path.contains("/history") {
            return None;
        }
        let mut page: Value = serde_json::from_slice(body).ok()?;
        page["entries"].as_array_mut()?.pop();
        serde_json::to_vec(&page).ok()
    });
    let leaf = buyer.entry(Use::consented(me, consent, 1).body());
    let index = cluster
        .primary
        .client
        .submit(&leaf, Wait::Witnessed)
        .await
        .expect("the access")
        .index;
    let deadline = Instant::now() + PATIENCE;
    loop {
        let (_, live) = http(addr, &get("/live", &host, Some(&cookie))).await;
        if live.contains("class=\"alert lying-node\"") {
            assert!(
                live.contains("A node lied") && live.contains("the history page"),
                "{live}"
            );
            assert!(
                !live.contains(&format!("data-index=\"{index}\"")),
                "nothing the lying node said is shown"
            );
            break;
        }
        assert!(Instant::now() < deadline, "no lying-node alert: {live}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Then it serves a checkpoint the log key signed for the trusted size with another root: a
    // split view, saved as evidence the audit tool checks, and shown with its path.
    let trusted: Value = serde_json::from_slice(&wallet.trust_state()).expect("trust.json");
    let note = trusted["trusted"]["note"].as_str().expect("a note");
    let size: u64 = note
        .lines()
        .nth(1)
        .expect("a size")
        .parse()
        .expect("a size");
    let forged = testigo_ledger::checkpoint::Checkpoint::new(
        testigo_tests::fixtures::ORIGIN.to_owned(),
        size,
        testigo_ledger::Hash([7; 32]),
    )
    .expect("a checkpoint");
    let signed =
        testigo_ledger::checkpoint::sign_checkpoint(&forged, &cluster.primary.operator).to_string();
    proxy.rewrite(move |path: &str, _| {
        (path == "/v1/checkpoint").then(|| signed.clone().into_bytes())
    });
    let deadline = Instant::now() + PATIENCE;
    loop {
        let (_, live) = http(addr, &get("/live", &host, Some(&cookie))).await;
        if live.contains("class=\"alert split-view\"") {
            assert!(
                live.contains("Split view: the log showed two different histories"),
                "{live}"
            );
            let evidence = wallet.evidence();
            assert_eq!(evidence.len(), 1, "the evidence is saved");
            assert!(
                live.contains(&evidence[0].display().to_string()),
                "and its path shown: {live}"
            );
            let saved: testigo_ledger::checkpoint::Evidence =
                serde_json::from_slice(&std::fs::read(&evidence[0]).expect("read"))
                    .expect("evidence");
            let log = cluster.primary.client.log().await.expect("log");
            saved
                .verify(&log.origin, &log.log_key)
                .expect("the audit tool's check holds");
            break;
        }
        assert!(Instant::now() < deadline, "no split-view alert: {live}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn the_dashboard_command_explains_itself() {
    let help = Wallet::new().run(&["dashboard", "--help"]).await.ok();
    for needed in [
        "127.0.0.1",
        "session token",
        "testigo-wallet dashboard --port 7781",
        "--json",
    ] {
        assert!(help.stdout.contains(needed), "{needed}: {}", help.stdout);
    }
    let missing = Wallet::new().run(&["dashboard", "--port", "0"]).await;
    assert_eq!(missing.code, 1, "no wallet yet: {missing:?}");
    assert!(
        missing.stderr.contains("run `testigo-wallet init` first"),
        "{missing:?}"
    );
}

/// Standard output of an in-process run, with a signal for each write.
#[derive(Clone, Default)]
struct Output {
    bytes: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
    written: std::sync::Arc<tokio::sync::Notify>,
}

impl std::io::Write for Output {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.bytes.lock().expect("output").extend_from_slice(bytes);
        self.written.notify_one();
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_prints_a_loopback_url_whose_token_opens_a_session() {
    let cluster = witnessed_cluster().await;
    let wallet = Wallet::new();
    wallet.init_tofu(cluster.primary.client.base()).await;
    let out = Output::default();
    let mut io = testigo_wallet::Io {
        out: Box::new(out.clone()),
        err: Box::new(std::io::sink()),
    };
    let argv: Vec<String> = vec![
        "testigo-wallet".into(),
        "--wallet-dir".into(),
        wallet.dir().display().to_string(),
        "--passphrase-file".into(),
        wallet.path("passphrase").display().to_string(),
        "dashboard".into(),
        "--port".into(),
        "0".into(),
        "--json".into(),
    ];
    let running = tokio::spawn(async move { testigo_wallet::run(argv, &mut io).await });
    let printed: Value = tokio::time::timeout(PATIENCE, async {
        loop {
            let written = out.written.notified();
            if let Ok(value) = serde_json::from_slice(&out.bytes.lock().expect("output")) {
                return value;
            }
            written.await;
        }
    })
    .await
    .expect("the dashboard prints its URL");
    let url = printed["url"].as_str().expect("a URL");
    let addr: std::net::SocketAddr = printed["address"]
        .as_str()
        .and_then(|a| a.parse().ok())
        .expect("an address");
    assert!(addr.ip().is_loopback(), "{addr}");
    let path = url
        .split_once(&addr.to_string())
        .expect("the URL names the address")
        .1;
    let (status, answer) = http(addr, &get(path, &addr.to_string(), None)).await;
    assert_eq!(status, 303, "{answer}");
    assert!(
        answer.contains("set-cookie: testigo_dashboard_"),
        "{answer}"
    );
    running.abort();
    assert!(running.await.is_err_and(|e| e.is_cancelled()));
}

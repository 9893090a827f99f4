//! Hostile input: more than 10,000 seeded malformed, truncated, oversized, wrongly signed,
//! replayed and rule-breaking requests against an in-process node. Each must be answered 4xx with
//! a JSON `code` (the expected one where the case fixes it), nothing may be appended, and the
//! node must still be healthy and accept a valid entry at the very next index afterwards.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::SigningKey;
use hyper::Method;
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{Rng as _, SeedableRng as _};
use testigo_client::{Client, Signer, now_ms};
use testigo_ledger::api::Wait;
use testigo_ledger::api::{encode_binary_batch, key_segment};
use testigo_ledger::auth::sign_request;
use testigo_ledger::entry::{
    Access, Body, DataCategory, Deposit, EnrollSubject, Leaf, LegalBasis, Purpose, sign_body,
};
use testigo_node::Config;
use testigo_node::loadgen::operator::{OperatorSigner, below, public, random_key};
use testigo_tests::probe::{AnswerExt as _, Probe as _};
use tokio::sync::Semaphore;

/// Requests sent in all.
const REQUESTS: usize = 10_240;
/// Requests in flight.
const CONCURRENCY: usize = 16;
/// The node's body limit in this test (small, so oversized bodies stay cheap).
const MAX_BODY: usize = 64 * 1024;

/// One hostile request and what it must get.
struct Hostile {
    method: Method,
    path: String,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
    status: u16,
    /// `None`: any code, as long as there is one.
    code: Option<&'static str>,
}

impl Hostile {
    fn post(content_type: &str, body: Vec<u8>, status: u16, code: &'static str) -> Self {
        Self {
            method: Method::POST,
            path: "/v1/entries".into(),
            headers: vec![("content-type", content_type.to_owned())],
            body,
            status,
            code: Some(code),
        }
    }

    fn json_leaf(leaf: &Leaf, status: u16, code: &'static str) -> Self {
        let body = format!("{{\"leaf\":\"{}\"}}", BASE64.encode(leaf.to_bytes()));
        Self::post("application/json", body.into_bytes(), status, code)
    }

    fn get(path: String, auth: Option<String>, status: u16, code: Option<&'static str>) -> Self {
        Self {
            method: Method::GET,
            path,
            headers: auth.map(|a| ("authorization", a)).into_iter().collect(),
            body: Vec::new(),
            status,
            code,
        }
    }
}

/// Keys and the origin the generator signs with.
struct Ctx {
    origin: String,
    operator: SigningKey,
    /// The operator's next (unused) nonce: refused entries never use it up.
    next_nonce: u64,
    subject: SigningKey,
    stranger: SigningKey,
}

fn random_bytes(rng: &mut ChaCha8Rng, len: usize) -> Vec<u8> {
    let mut bytes = vec![0; len];
    rng.fill_bytes(&mut bytes);
    bytes
}

/// An `Access` by a key the log never registered: well formed, well signed, unknown signer.
fn stranger_access(ctx: &Ctx, rng: &mut ChaCha8Rng) -> Leaf {
    let body = Body::Access(Access {
        nonce: rng.next_u64(),
        subject: public(&ctx.subject),
        category: DataCategory::ALL[below(rng, 5) as usize],
        purpose: Purpose::PersonalisedAdvertising,
        legal_basis: LegalBasis::LegitimateInterest,
        consent: None,
        price: below(rng, 100),
    });
    sign_body(&ctx.origin, &ctx.stranger, &body)
}

/// Case `case` of the generator.
fn hostile(ctx: &Ctx, case: u64, rng: &mut ChaCha8Rng) -> Hostile {
    match case {
        0 => {
            let mut text = br#"{"leaves":["AAAA","#.to_vec();
            text.truncate(1 + below(rng, text.len() as u64 - 1) as usize);
            Hostile::post("application/json", text, 400, "bad_request")
        }
        1 => Hostile::post(
            "application/json",
            {
                let n = 1 + below(rng, 300) as usize;
                random_bytes(rng, n)
            },
            400,
            "bad_request",
        ),
        2 => Hostile::post(
            "application/json",
            br#"{"leaf":"!!not*base64??"}"#.to_vec(),
            400,
            "bad_request",
        ),
        3 => {
            let types = [
                "text/plain",
                "application/xml",
                "multipart/form-data; boundary=x",
                "application/x-www-form-urlencoded",
                "image/png",
            ];
            let ct = types[below(rng, types.len() as u64) as usize];
            Hostile::post(ct, random_bytes(rng, 64), 415, "unsupported_media_type")
        }
        4 => {
            let len = MAX_BODY + 1 + below(rng, MAX_BODY as u64) as usize;
            let ct = if below(rng, 2) == 0 {
                "application/json"
            } else {
                "application/octet-stream"
            };
            Hostile::post(ct, vec![b'A'; len], 413, "payload_too_large")
        }
        5 => {
            // A valid-looking binary batch cut inside a length prefix or a leaf.
            let leaves: Vec<Vec<u8>> = (0..1 + below(rng, 5))
                .map(|_| stranger_access(ctx, rng).to_bytes())
                .collect();
            let batch = encode_binary_batch(leaves.iter().map(Vec::as_slice));
            let mut boundaries = vec![0usize];
            for l in &leaves {
                boundaries.push(boundaries.last().unwrap_or(&0) + 4 + l.len());
            }
            let cut = loop {
                let cut = 1 + below(rng, batch.len() as u64 - 1) as usize;
                if !boundaries.contains(&cut) {
                    break cut;
                }
            };
            Hostile::post(
                "application/octet-stream",
                batch[..cut].to_vec(),
                400,
                "bad_request",
            )
        }
        6 => Hostile::post("application/octet-stream", Vec::new(), 400, "bad_request"),
        7 => {
            // One leaf over the per-request cap, each an empty length prefix.
            Hostile::post(
                "application/octet-stream",
                vec![0; 4 * 10_001],
                400,
                "bad_request",
            )
        }
        8 => {
            let mut leaf = stranger_access(ctx, rng);
            leaf.signature[below(rng, 64) as usize] ^= 1 << below(rng, 8);
            Hostile::json_leaf(&leaf, 422, "invalid_signature")
        }
        9 => {
            // Signed for another log.
            let body = Body::Deposit(Deposit {
                nonce: ctx.next_nonce,
                accessor: public(&ctx.stranger),
                amount: 5,
                reference: "x".into(),
            });
            let leaf = sign_body("evil.example/log", &ctx.operator, &body);
            Hostile::json_leaf(&leaf, 422, "invalid_signature")
        }
        10 => Hostile::json_leaf(&stranger_access(ctx, rng), 422, "unknown_account"),
        11 => {
            let body = Body::Deposit(Deposit {
                nonce: ctx.next_nonce,
                accessor: public(&ctx.stranger),
                amount: 0,
                reference: "zero".into(),
            });
            Hostile::json_leaf(
                &sign_body(&ctx.origin, &ctx.operator, &body),
                422,
                "zero_amount",
            )
        }
        12 => {
            let body = Body::EnrollSubject(EnrollSubject {
                nonce: ctx.next_nonce,
                subject: public(&ctx.subject),
                salt: [1; 32],
            });
            Hostile::json_leaf(
                &sign_body(&ctx.origin, &ctx.operator, &body),
                409,
                "already_registered",
            )
        }
        13 => {
            let body = Body::EnrollSubject(EnrollSubject {
                nonce: below(rng, ctx.next_nonce),
                subject: public(&random_key(rng)),
                salt: [2; 32],
            });
            Hostile::json_leaf(
                &sign_body(&ctx.origin, &ctx.operator, &body),
                409,
                "nonce_reused",
            )
        }
        14 => {
            let leaf = stranger_access(ctx, rng).sequenced(1 + below(rng, 1 << 40));
            Hostile::json_leaf(&leaf, 400, "malformed_leaf")
        }
        15 => {
            let body = format!(
                "{{\"leaf\":\"{}\"}}",
                BASE64.encode({
                    let n = below(rng, 200) as usize;
                    random_bytes(rng, n)
                })
            );
            Hostile::post("application/json", body.into_bytes(), 400, "malformed_leaf")
        }
        16 => {
            // A subject acting as a buyer.
            let body = Body::Access(Access {
                nonce: 0,
                subject: public(&ctx.subject),
                category: DataCategory::Location,
                purpose: Purpose::ServiceProvision,
                legal_basis: LegalBasis::Contract,
                consent: None,
                price: 0,
            });
            Hostile::json_leaf(
                &sign_body(&ctx.origin, &ctx.subject, &body),
                422,
                "wrong_role",
            )
        }
        17 => Hostile::get(
            "/v1/entries?start=0&end=5".into(),
            None,
            401,
            Some("unauthorized"),
        ),
        18 => {
            let garbage = String::from_utf8_lossy(&random_bytes(rng, 40))
                .replace(['\r', '\n', '\0'], "")
                .chars()
                .filter(|c| c.is_ascii_graphic() || *c == ' ')
                .collect::<String>();
            let auth = format!("Testigo {garbage}");
            Hostile::get(
                "/v1/entries?start=0&end=5".into(),
                Some(auth),
                401,
                Some("auth_malformed"),
            )
        }
        19 => {
            let path = format!("/v1/entries?start=0&end={}", 1 + below(rng, 5));
            let auth = sign_request(&ctx.operator, "GET", &path, now_ms() - 3_600_000);
            Hostile::get(path, Some(auth), 401, Some("auth_expired"))
        }
        20 => {
            // Signed for another path.
            let auth = sign_request(&ctx.operator, "GET", "/v1/entries?start=0&end=1", now_ms());
            Hostile::get(
                "/v1/entries?start=0&end=2".into(),
                Some(auth),
                401,
                Some("auth_bad_signature"),
            )
        }
        21 => {
            // A random extra parameter keeps each signed request unique (no replay refusal).
            let path = format!("/v1/entries?start=0&end=1&r={}", rng.next_u64());
            let auth = sign_request(&ctx.stranger, "GET", &path, now_ms() - below(rng, 1000));
            Hostile::get(path, Some(auth), 403, Some("forbidden"))
        }
        22 => {
            let path = format!(
                "/v1/accounts/{}?r={}",
                key_segment(&public(&ctx.subject)),
                rng.next_u64()
            );
            let auth = sign_request(&ctx.stranger, "GET", &path, now_ms() - below(rng, 1000));
            Hostile::get(path, Some(auth), 403, Some("forbidden"))
        }
        23 => {
            let queries = [
                "/v1/entries?wait=sometimes",
                "/v1/proof/inclusion?index=abc&size=1",
                "/v1/proof/consistency?from=-1&to=2",
                "/v1/proof/inclusion?index=99999999&size=100000000",
            ];
            let path = queries[below(rng, queries.len() as u64) as usize];
            let method = if path.starts_with("/v1/entries") {
                Method::POST
            } else {
                Method::GET
            };
            Hostile {
                method,
                path: path.into(),
                headers: vec![("content-type", "application/json".into())],
                body: Vec::new(),
                status: 400,
                code: None,
            }
        }
        24 => Hostile::get(
            format!("/v1/{}", below(rng, 1 << 20)),
            None,
            404,
            Some("not_found"),
        ),
        _ => {
            let methods = [Method::PUT, Method::DELETE, Method::PATCH];
            let mut h = Hostile::get("/v1/log".into(), None, 405, None);
            h.method = methods[below(rng, 3) as usize].clone();
            h
        }
    }
}

/// Cases of [`hostile`].
const CASES: u64 = 26;

/// Replays: a signed read used once (answered 200), then again (must be 401 `auth_replayed`).
async fn replay(client: &Client, ctx: &Ctx, n: u64) {
    let path = format!("/v1/entries?start=0&end={}&n={n}", 1 + n % 3);
    // Through the process's timestamp counter for the key: concurrent replay cases sign with the
    // operator's key, and the node refuses a second request with the same `ts` from one key
    // (PROTOCOL §10, rule 2) even for another path.
    let auth = Signer::new(ctx.operator.clone()).authorization("GET", &path);
    let headers = [("authorization", auth.as_str())];
    let first = client
        .send(Method::GET, &path, &headers, Vec::new())
        .await
        .unwrap();
    assert_eq!(first.status, 200, "the first use of a signed read");
    let again = client
        .send(Method::GET, &path, &headers, Vec::new())
        .await
        .unwrap();
    assert_eq!(
        (again.status.as_u16(), again.error().code.as_str()),
        (401, "auth_replayed")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_hostile_requests_are_refused_and_append_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        data_dir: dir.path().to_owned(),
        max_request_bytes: MAX_BODY,
        batch_max_delay_ms: 5,
        ..Config::default()
    };
    testigo_node::datadir::init(&config, &testigo_node::GenesisParams::default())
        .expect("initialise the data directory");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let node = tokio::spawn(testigo_node::run(config, listener, async {
        let _ = stopped.await;
    }));
    let client = Client::new(&url).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(0x0405_711e);
    // The listener is bound before the node starts serving, which it does only after its
    // genesis checkpoint: this request waits in the listen backlog until then.
    let health = tokio::time::timeout(Duration::from_secs(60), client.health())
        .await
        .expect("node answers within a minute")
        .expect("health request");
    assert!(health.checkpoint_size > 0, "node not ready: {health:?}");
    let mut operator = OperatorSigner::connect(&client, dir.path()).await.unwrap();
    let subject = random_key(&mut rng);
    let enrol = operator.enroll(public(&subject), &mut rng);
    client.sequence(&enrol, Wait::Checkpointed).await;
    let size_before = client.health().await.unwrap().checkpoint_size;
    let ctx = Arc::new(Ctx {
        origin: operator.origin().to_owned(),
        operator: operator.signing_key().clone(),
        next_nonce: operator.next_nonce(),
        subject,
        stranger: random_key(&mut rng),
    });

    let permits = Arc::new(Semaphore::new(CONCURRENCY));
    let mut tasks = Vec::with_capacity(REQUESTS);
    for n in 0..REQUESTS {
        let case = below(&mut rng, CASES + 1);
        let request = (case < CASES).then(|| hostile(&ctx, case, &mut rng));
        let (client, ctx, permit) = (
            client.clone(),
            ctx.clone(),
            permits.clone().acquire_owned().await.unwrap(),
        );
        tasks.push(tokio::spawn(async move {
            let _permit = permit;
            let Some(h) = request else {
                return replay(&client, &ctx, n as u64).await;
            };
            // A node may close a connection whose body it did not read (it refuses many before
            // reading); one connection per request keeps a reused, closing one out of the way.
            let headers: Vec<(&str, &str)> = h
                .headers
                .iter()
                .map(|(k, v)| (*k, v.as_str()))
                .chain([("connection", "close")])
                .collect();
            let reply = client
                .send(h.method.clone(), &h.path, &headers, h.body)
                .await
                .unwrap();
            let what = format!("request {n} ({} {})", h.method, h.path);
            assert_eq!(
                reply.status.as_u16(),
                h.status,
                "{what}: {:?}",
                String::from_utf8_lossy(&reply.body)
            );
            let error = reply
                .error_body()
                .unwrap_or_else(|| panic!("{what}: no JSON error body: {}", reply.text()));
            assert!(!error.code.is_empty(), "{what}: empty code");
            if let Some(code) = h.code {
                assert_eq!(error.code, code, "{what}: {}", error.message);
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }

    let health = client.health().await.unwrap();
    assert_eq!(health.status, "ok");
    assert_eq!(
        health.checkpoint_size, size_before,
        "something was appended"
    );
    // The next valid entry lands at the very next index: nothing was appended, even unseen.
    let next = operator.enroll(public(&random_key(&mut rng)), &mut rng);
    let sequenced = client.submit(&next, Wait::Sequenced).await.unwrap();
    assert_eq!(sequenced.index, size_before);
    stop.send(()).unwrap();
    node.await.unwrap().unwrap();
}

//! Every refusal the HTTP layer gives below the handlers is JSON with a code too: bytes that do
//! not decode in a path or a query, headers too large, a body that is not exactly JSON or the
//! binary batch form, malformed JSON, a body over the limit, unknown routes and methods. Each
//! answer is `application/json`, its `code` is an [`ErrorCode`] and its status is that code's,
//! and none of them appends anything.

use hyper::Method;
use testigo_client::Answer;
use testigo_ledger::api::{ErrorCode, Wait};
use testigo_tests::cluster::TestNode;
use testigo_tests::fixtures::{Party, enroll};
use testigo_tests::probe::{AnswerExt as _, Probe as _};

/// Checks that `answer` is the JSON refusal `code`, with the code's status.
#[track_caller]
fn refusal(what: &str, answer: &Answer, code: ErrorCode) {
    assert_eq!(
        answer.status.as_u16(),
        code.http_status(),
        "{what}: {}",
        answer.text()
    );
    let content_type = answer
        .headers
        .get(hyper::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert_eq!(
        content_type,
        "application/json",
        "{what}: {}",
        answer.text()
    );
    let error = answer.error();
    let parsed: ErrorCode = error.code.parse().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert_eq!(parsed, code, "{what}: {}", error.message);
    assert!(!error.message.is_empty(), "{what}: no message");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_below_the_handlers_are_json_with_a_code() {
    let node = TestNode::start().await;
    let client = &node.client;
    let before = node.tree_size().await;

    // Paths whose key segment does not decode: not UTF-8 once percent-decoded (axum used to
    // answer these in plain text, before the signature is even looked at).
    for path in [
        "/v1/accounts/%FF",
        "/v1/accounts/%FF/nonce",
        "/v1/accounts/%C3%28/history",
        "/v1/accounts/%FF/consents",
    ] {
        refusal(path, &client.get(path).await, ErrorCode::BadRequest);
    }
    // Not UTF-8 in a query, in a value and in a name.
    for path in [
        "/v1/checkpoints?from=%FF",
        "/v1/proof/inclusion?index=%FF%FE&size=1",
        "/v1/checkpoints?%FF=1",
        "/v1/entries?wait=%FF",
    ] {
        let answer = if path.starts_with("/v1/entries") {
            client.post(path, "application/json", b"{}".to_vec()).await
        } else {
            client.get(path).await
        };
        refusal(path, &answer, ErrorCode::BadRequest);
    }
    // No such route, no such method.
    refusal(
        "unknown route",
        &client.get("/v1/nothing/%FF").await,
        ErrorCode::NotFound,
    );
    refusal(
        "DELETE",
        &client.raw(Method::DELETE, "/v1/log", &[], Vec::new()).await,
        ErrorCode::MethodNotAllowed,
    );

    // Headers too large: too many fields, or one field too long. Both stay below hyper's own
    // limits (100 fields, a read buffer of about 400 KiB), above which hyper answers by itself.
    let names: Vec<String> = (0..80).map(|i| format!("x-extra-{i}")).collect();
    let many: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "1")).collect();
    refusal(
        "80 header fields",
        &client.raw(Method::GET, "/v1/log", &many, Vec::new()).await,
        ErrorCode::HeadersTooLarge,
    );
    let long = "a".repeat(20 * 1024);
    let answer = client
        .raw(
            Method::GET,
            "/v1/log",
            &[("x-long", long.as_str())],
            Vec::new(),
        )
        .await;
    refusal("a 20 KiB header", &answer, ErrorCode::HeadersTooLarge);
    let bytes = answer.error().details["bytes"].as_u64().unwrap_or_default();
    assert!(bytes > 20 * 1024, "{}", answer.text());
    // A request of ordinary size still gets through.
    client.get("/v1/log").await.ok();

    // Content types match exactly; parameters are allowed.
    for content_type in [
        "application/jsonx",
        "application/json-seq",
        "text/json",
        "application/octet-streamx",
        "",
    ] {
        let answer = client
            .post(
                "/v1/entries",
                content_type,
                b"{\"leaf\": \"AA==\"}".to_vec(),
            )
            .await;
        refusal(content_type, &answer, ErrorCode::UnsupportedMediaType);
    }
    refusal(
        "no content type",
        &client
            .raw(Method::POST, "/v1/entries", &[], b"{}".to_vec())
            .await,
        ErrorCode::UnsupportedMediaType,
    );
    // With a charset, JSON is JSON: this one gets as far as the JSON parser.
    refusal(
        "malformed JSON with a charset",
        &client
            .post(
                "/v1/entries",
                "application/json; charset=utf-8",
                b"{\"leaf\": 3".to_vec(),
            )
            .await,
        ErrorCode::BadRequest,
    );
    refusal(
        "malformed JSON",
        &client
            .post("/v1/entries", "application/json", b"not json".to_vec())
            .await,
        ErrorCode::BadRequest,
    );
    refusal(
        "JSON of the wrong shape",
        &client
            .post(
                "/v1/entries",
                "application/json",
                b"{\"leaves\": 7}".to_vec(),
            )
            .await,
        ErrorCode::BadRequest,
    );
    // A body over the limit.
    let limit = node.config.max_request_bytes;
    let answer = client
        .post("/v1/entries", "application/json", vec![b' '; limit + 1])
        .await;
    refusal("a body over the limit", &answer, ErrorCode::PayloadTooLarge);
    assert_eq!(answer.error().details["limit"], limit);

    // Nothing was appended, and a well-formed submission with a charset parameter is sequenced.
    assert_eq!(node.tree_size().await, before);
    let mut op = Party::operator();
    let leaf = op.entry(enroll(Party::fresh(40).public()));
    let body = serde_json::to_vec(&testigo_ledger::api::Submission::One {
        leaf: testigo_ledger::api::Bytes(leaf.to_bytes()),
    })
    .unwrap();
    client
        .post(
            &testigo_client::entries_path(Wait::Sequenced),
            "application/json; charset=utf-8",
            body,
        )
        .await
        .ok();
}

//! Signed reads (DESIGN §7): who may read what, and the refusals of a wrong key, an expired or
//! future timestamp, a replayed request, a forged or malformed header.

use hyper::StatusCode;
use testigo_client::now_ms;
use testigo_ledger::api::Wait;
use testigo_ledger::api::key_segment;
use testigo_ledger::auth::{AUTH_WINDOW_MS, sign_request};
use testigo_tests::cluster::TestNode;
use testigo_tests::fixtures::{Party, enroll};
use testigo_tests::probe::{AnswerExt as _, Probe as _};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_need_the_right_fresh_unreplayed_signature() {
    let node = TestNode::start().await;
    let client = &node.client;
    let mut op = Party::operator();
    let alice = Party::fresh(10);
    let bob = Party::fresh(11);
    for subject in [&alice, &bob] {
        client
            .sequence(&op.entry(enroll(subject.public())), Wait::Checkpointed)
            .await;
    }
    let account = format!("/v1/accounts/{}", key_segment(&alice.public()));
    let reads = [
        account.clone(),
        format!("{account}/history?from=0"),
        format!("{account}/consents"),
    ];

    // The account itself, the operator and a regulator may read; another subject may not.
    for path in &reads {
        for reader in [&alice.key, &node.operator, &node.regulator] {
            client.get_signed_as(reader, path).await.ok();
        }
        let answer = client.get_signed_as(&bob.key, path).await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{path}");
        assert_eq!(answer.error().code, "forbidden");
    }
    // Bulk reads are for the operator, witnesses and regulators only.
    let bulk = "/v1/entries?start=0&end=2";
    client.get_signed_as(&node.regulator, bulk).await.ok();
    let answer = client.get_signed_as(&alice.key, bulk).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);

    let refused = |code: &'static str| {
        move |answer: testigo_client::Answer| {
            assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{code}");
            assert_eq!(answer.error().code, code);
        }
    };
    // No signature.
    refused("unauthorized")(client.get(&account).await);
    // Outside the ±5 minute window, either way.
    for ts in [
        now_ms() - AUTH_WINDOW_MS - 60_000,
        now_ms() + AUTH_WINDOW_MS + 60_000,
    ] {
        let header = sign_request(&alice.key, "GET", &account, ts);
        refused("auth_expired")(client.get_with_auth(&account, header).await);
    }
    // The same signed request twice: the second is a replay.
    let header = sign_request(&alice.key, "GET", &account, now_ms());
    client.get_with_auth(&account, header.clone()).await.ok();
    refused("auth_replayed")(client.get_with_auth(&account, header).await);
    // A signature for another path, or by another key than the one named.
    let other_path = sign_request(&alice.key, "GET", &reads[2], now_ms());
    refused("auth_bad_signature")(client.get_with_auth(&account, other_path).await);
    let forged = sign_request(&bob.key, "GET", &account, now_ms())
        .replace(&bob.public().to_base64(), &alice.public().to_base64());
    refused("auth_bad_signature")(client.get_with_auth(&account, forged).await);
    // Not the Testigo scheme at all.
    refused("auth_malformed")(client.get_with_auth(&account, "Bearer abc".into()).await);
}

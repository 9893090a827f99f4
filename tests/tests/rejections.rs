//! Every refusal the API can give for an entry, through HTTP, with its exact status and code, and
//! with nothing appended: the tree size, the checkpoint and the signer's nonce are unchanged after
//! each one.
//!
//! Rejections the state machine has but HTTP cannot reach, and why:
//! - `bad_signature`: signatures are checked before the sequencer (`invalid_signature`);
//! - `sequenced_at_mismatch`, `time_went_backwards`: the sequencer stamps the time itself;
//! - `genesis_required`, and the genesis checks (`genesis_not_signed_by_log_key`, `bad_origin`,
//!   `fee_too_high`, `bad_quorum`, `duplicate_witness`): leaf 0 exists before the API serves, and
//!   a later genesis is `genesis_not_first` before any of them;
//! - `state_root_index_mismatch`, `state_root_mismatch`: StateRoots are `state_root_reserved`.
//!
//! The ledger's own tests cover those.

use hyper::StatusCode;
use testigo_client::now_ms;
use testigo_ledger::PublicKey;
use testigo_ledger::api::{Bytes, Wait};
use testigo_ledger::entry::{
    Body, DataCategory, Genesis, Leaf, Purpose, StateRoot, signature::sign_body_bytes,
};
use testigo_ledger::hash::Hash;
use testigo_ledger::state::MAX_NONCE_GAP;
use testigo_tests::cluster::TestNode;
use testigo_tests::fixtures::{
    Grant, ORIGIN, Party, Use, claim, deposit, enroll, register, revoke, settle,
};
use testigo_tests::probe::{AnswerExt as _, Probe as _};

/// Submits `leaf`, expects `status` and `code`, and checks that nothing changed.
async fn refused(node: &TestNode, signer: &Party, leaf: &Leaf, status: StatusCode, code: &str) {
    let before = node.tree_size().await;
    let (checkpoint, _) = node.checkpoint().await;
    let answer = node.client.submit_raw(leaf, Wait::Sequenced).await;
    assert_eq!(answer.status, status, "{code}: {}", answer.text());
    let error = answer.error();
    assert_eq!(error.code, code, "{}", error.message);
    assert!(!error.message.is_empty());
    assert_eq!(node.tree_size().await, before, "{code}: appended something");
    assert_eq!(
        node.checkpoint().await.0,
        checkpoint,
        "{code}: new checkpoint"
    );
    if let Some(account) = registered(node, &signer.public()).await {
        assert_eq!(account, signer.nonce, "{code}: the nonce was used up");
    }
}

/// The signer's next nonce, if it has an account.
async fn registered(node: &TestNode, key: &PublicKey) -> Option<u64> {
    let path = format!(
        "/v1/accounts/{}/nonce",
        testigo_ledger::api::key_segment(key)
    );
    let answer = node.client.get_signed_as(&node.operator, &path).await;
    (answer.status == StatusCode::OK)
        .then(|| answer.json::<testigo_ledger::api::NextNonce>().next_nonce)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rejection_code_through_http_appends_nothing() {
    let node = TestNode::start().await;
    let client = &node.client;
    let mut op = Party::operator();
    let mut alice = Party::fresh(10);
    let mut bob = Party::fresh(11);
    let mut acme = Party::fresh(20);
    let broke = Party::fresh(21);
    let stranger = Party::fresh(30);

    // Setup: two subjects, a funded accessor and an unfunded one, grants in every state, a
    // settled claim.
    for leaf in [
        op.entry(enroll(alice.public())),
        op.entry(enroll(bob.public())),
        op.entry(register(acme.public())),
        op.entry(register(broke.public())),
        op.entry(deposit(acme.public(), 1_000, "wire")),
    ] {
        client.sequence(&leaf, Wait::Sequenced).await;
    }
    let grant = |g: Grant, alice: &mut Party| alice.entry(g.body());
    let open = client
        .sequence(
            &grant(Grant::location_ads(Some(acme.public()), 10), &mut alice),
            Wait::Sequenced,
        )
        .await
        .index;
    let revoked = client
        .sequence(
            &grant(Grant::location_ads(None, 0), &mut alice),
            Wait::Sequenced,
        )
        .await
        .index;
    client
        .sequence(&alice.entry(revoke(revoked)), Wait::Sequenced)
        .await;
    let future = Grant {
        valid_from: now_ms() + 86_400_000,
        ..Grant::location_ads(None, 0)
    };
    let future = client
        .sequence(&grant(future, &mut alice), Wait::Sequenced)
        .await
        .index;
    client
        .sequence(
            &acme.entry(Use::consented(alice.public(), open, 10).body()),
            Wait::Sequenced,
        )
        .await;
    let claimed = client
        .sequence(&alice.entry(claim(5)), Wait::Sequenced)
        .await
        .index;
    client
        .sequence(&op.entry(settle(claimed, "sepa")), Wait::Checkpointed)
        .await;

    use StatusCode as S;
    // Envelopes the node cannot take.
    let answer = client
        .post(
            "/v1/entries",
            "application/json",
            serde_json::to_vec(&serde_json::json!({ "leaf": Bytes(b"not a leaf".to_vec()) }))
                .unwrap(),
        )
        .await;
    assert_eq!(answer.status, S::BAD_REQUEST);
    assert_eq!(answer.error().code, "malformed_leaf");
    let stamped = op
        .attempt(deposit(acme.public(), 1, "x"))
        .sequenced(now_ms());
    refused(&node, &op, &stamped, S::BAD_REQUEST, "malformed_leaf").await;
    let mut forged = op.attempt(deposit(acme.public(), 1, "x"));
    forged.signature[10] ^= 0x40;
    refused(
        &node,
        &op,
        &forged,
        S::UNPROCESSABLE_ENTITY,
        "invalid_signature",
    )
    .await;
    let garbage = sign_body_bytes(ORIGIN, &op.key, vec![0xff, 0x01, 0x02]);
    refused(&node, &op, &garbage, S::BAD_REQUEST, "body_malformed").await;
    let size = node.tree_size().await;
    let root = op.sign(&Body::StateRoot(StateRoot {
        as_of: size,
        map_root: Hash::default(),
    }));
    refused(
        &node,
        &op,
        &root,
        S::UNPROCESSABLE_ENTITY,
        "state_root_reserved",
    )
    .await;
    let genesis = op.attempt(|nonce| {
        Body::Genesis(Genesis {
            nonce,
            origin: ORIGIN.into(),
            log_key: op.public(),
            fee_bps: 0,
            currency: "EUR".into(),
            decimals: 2,
            witnesses: Vec::new(),
            quorum: 0,
            regulators: Vec::new(),
            operator_salt: [0; 32],
        })
    });
    refused(&node, &op, &genesis, S::CONFLICT, "genesis_not_first").await;

    // Accounts and nonces.
    let leaf = stranger.attempt(claim(1));
    refused(
        &node,
        &stranger,
        &leaf,
        S::UNPROCESSABLE_ENTITY,
        "unknown_account",
    )
    .await;
    let leaf = alice.attempt(deposit(acme.public(), 1, "x"));
    refused(&node, &alice, &leaf, S::UNPROCESSABLE_ENTITY, "wrong_role").await;
    let leaf = op.attempt(enroll(bob.public()));
    refused(&node, &op, &leaf, S::CONFLICT, "already_registered").await;
    let leaf = op.sign(&deposit(acme.public(), 3, "late")(op.nonce - 1));
    refused(&node, &op, &leaf, S::CONFLICT, "nonce_reused").await;
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let leaf = op.attempt(enroll(PublicKey(identity)));
    refused(&node, &op, &leaf, S::UNPROCESSABLE_ENTITY, "weak_key").await;

    // Money in.
    let leaf = op.attempt(deposit(acme.public(), 5, ""));
    refused(&node, &op, &leaf, S::UNPROCESSABLE_ENTITY, "empty_field").await;
    let leaf = op.attempt(deposit(acme.public(), 0, "zero"));
    refused(&node, &op, &leaf, S::UNPROCESSABLE_ENTITY, "zero_amount").await;
    let leaf = op.attempt(deposit(acme.public(), u64::MAX, "too much"));
    refused(&node, &op, &leaf, S::UNPROCESSABLE_ENTITY, "overflow").await;

    // Consents.
    let leaf = alice.attempt(
        Grant {
            categories: Vec::new(),
            ..Grant::location_ads(None, 0)
        }
        .body(),
    );
    refused(
        &node,
        &alice,
        &leaf,
        S::UNPROCESSABLE_ENTITY,
        "empty_consent_scope",
    )
    .await;
    let leaf = alice.attempt(
        Grant {
            valid_from: 10,
            valid_until: Some(10),
            ..Grant::location_ads(None, 0)
        }
        .body(),
    );
    refused(
        &node,
        &alice,
        &leaf,
        S::UNPROCESSABLE_ENTITY,
        "invalid_validity_window",
    )
    .await;
    let leaf = alice.attempt(revoke(0));
    refused(
        &node,
        &alice,
        &leaf,
        S::UNPROCESSABLE_ENTITY,
        "consent_not_found",
    )
    .await;
    let leaf = bob.attempt(revoke(open));
    refused(
        &node,
        &bob,
        &leaf,
        S::UNPROCESSABLE_ENTITY,
        "not_consent_owner",
    )
    .await;
    let leaf = alice.attempt(revoke(revoked));
    refused(&node, &alice, &leaf, S::CONFLICT, "consent_already_revoked").await;

    // Accesses.
    let consented = Use::consented(alice.public(), open, 10);
    let cases: Vec<(Use, &Party, StatusCode, &str)> = vec![
        (
            Use {
                consent: None,
                ..consented
            },
            &acme,
            S::UNPROCESSABLE_ENTITY,
            "consent_reference_missing",
        ),
        (
            Use {
                legal_basis: testigo_ledger::entry::LegalBasis::Contract,
                ..consented
            },
            &acme,
            S::UNPROCESSABLE_ENTITY,
            "unexpected_consent_reference",
        ),
        (
            Use {
                subject: bob.public(),
                ..consented
            },
            &acme,
            S::UNPROCESSABLE_ENTITY,
            "consent_of_another_subject",
        ),
        (
            Use::consented(alice.public(), revoked, 10),
            &acme,
            S::UNPROCESSABLE_ENTITY,
            "consent_revoked",
        ),
        (
            consented,
            &broke,
            S::UNPROCESSABLE_ENTITY,
            "consent_not_for_accessor",
        ),
        (
            Use {
                category: DataCategory::CallLog,
                ..consented
            },
            &acme,
            S::UNPROCESSABLE_ENTITY,
            "category_not_covered",
        ),
        (
            Use {
                purpose: Purpose::SellDataToThirdParties,
                ..consented
            },
            &acme,
            S::UNPROCESSABLE_ENTITY,
            "purpose_not_covered",
        ),
        (
            Use::consented(alice.public(), future, 10),
            &acme,
            S::UNPROCESSABLE_ENTITY,
            "not_in_validity_window",
        ),
        (
            Use {
                price: 9,
                ..consented
            },
            &acme,
            S::UNPROCESSABLE_ENTITY,
            "price_below_consent",
        ),
        (
            Use::legitimate_interest(alice.public(), 1),
            &broke,
            S::PAYMENT_REQUIRED,
            "insufficient_funds",
        ),
    ];
    for (access, party, status, code) in cases {
        let leaf = party.attempt(access.body());
        refused(&node, party, &leaf, status, code).await;
    }

    // Claims and payouts.
    let leaf = bob.attempt(claim(1));
    refused(
        &node,
        &bob,
        &leaf,
        S::PAYMENT_REQUIRED,
        "claim_exceeds_balance",
    )
    .await;
    let leaf = op.attempt(settle(0, "nothing"));
    refused(
        &node,
        &op,
        &leaf,
        S::UNPROCESSABLE_ENTITY,
        "claim_not_found",
    )
    .await;
    let leaf = op.attempt(settle(claimed, "again"));
    refused(&node, &op, &leaf, S::CONFLICT, "claim_already_settled").await;

    // Requests that are not entries at all.
    let before = node.tree_size().await;
    let answer = client
        .post("/v1/entries", "text/plain", b"hello".to_vec())
        .await;
    assert_eq!(answer.status, S::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(answer.error().code, "unsupported_media_type");
    let answer = client
        .post("/v1/entries", "application/json", b"{\"leaf\":".to_vec())
        .await;
    assert_eq!(answer.status, S::BAD_REQUEST);
    assert_eq!(answer.error().code, "bad_request");
    let answer = client
        .post(
            "/v1/entries",
            "application/json",
            b"{\"leaves\":[]}".to_vec(),
        )
        .await;
    assert_eq!(answer.status, S::BAD_REQUEST);
    assert_eq!(answer.error().code, "bad_request");
    let answer = client
        .post(
            "/v1/entries?wait=eventually",
            "application/json",
            Vec::new(),
        )
        .await;
    assert_eq!(answer.status, S::BAD_REQUEST);
    let answer = client
        .post(
            "/v1/entries",
            "application/octet-stream",
            vec![0, 0, 0, 9, 1],
        )
        .await;
    assert_eq!(answer.status, S::BAD_REQUEST);
    assert_eq!(answer.error().code, "bad_request");
    assert_eq!(node.tree_size().await, before);

    // Every refusal is counted by its code.
    let metrics = client.get("/metrics").await.ok().text();
    for code in [
        "insufficient_funds",
        "nonce_reused",
        "invalid_signature",
        "malformed_leaf",
    ] {
        assert!(
            metrics.contains(&format!("testigo_refusals_total{{code=\"{code}\"}}")),
            "{code} not counted in\n{metrics}"
        );
    }

    // The nonces refused entries carried are still free.
    client
        .sequence(
            &op.entry(deposit(acme.public(), 1, "after")),
            Wait::Sequenced,
        )
        .await;
    client
        .sequence(
            &bob.entry(Grant::location_ads(None, 0).body()),
            Wait::Sequenced,
        )
        .await;
}

/// A nonce may skip ahead of the signer's next one by `MAX_NONCE_GAP` and no further: the edge is
/// sequenced, one past it is refused `nonce_too_far` (422, with `next` and `got`) and uses up
/// nothing, and the window moves with the signer's last nonce.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nonce_may_skip_at_most_max_nonce_gap() {
    use StatusCode as S;
    let node = TestNode::start().await;
    let client = &node.client;
    let mut op = Party::operator();
    let mut alice = Party::fresh(10);
    client
        .sequence(&op.entry(enroll(alice.public())), Wait::Checkpointed)
        .await;

    // Every entry waits for its checkpoint, so no batch is open when `refused` compares sizes.
    // Alice has signed nothing: her next nonce is 0, and the window ends at MAX_NONCE_GAP.
    for next in [0, MAX_NONCE_GAP + 1] {
        assert_eq!(registered(&node, &alice.public()).await, Some(next));
        assert_eq!(alice.nonce, next);
        let leaf = alice.sign(&Grant::location_ads(None, 1).body()(
            next + MAX_NONCE_GAP + 1,
        ));
        refused(
            &node,
            &alice,
            &leaf,
            S::UNPROCESSABLE_ENTITY,
            "nonce_too_far",
        )
        .await;
        let details = node
            .client
            .submit_raw(&leaf, Wait::Sequenced)
            .await
            .error()
            .details;
        assert_eq!(details["next"], next, "{details}");
        assert_eq!(details["got"], next + MAX_NONCE_GAP + 1, "{details}");
        alice.nonce = next + MAX_NONCE_GAP;
        client
            .sequence(
                &alice.entry(Grant::location_ads(None, 1).body()),
                Wait::Checkpointed,
            )
            .await;
    }
    assert_eq!(
        registered(&node, &alice.public()).await,
        Some(2 * MAX_NONCE_GAP + 2)
    );

    // The entry that used to end a signer's life: refused, and the operator carries on.
    let bob = Party::fresh(11);
    let leaf = op.sign(&enroll(bob.public())(u64::MAX));
    refused(&node, &op, &leaf, S::UNPROCESSABLE_ENTITY, "nonce_too_far").await;
    client
        .sequence(&op.entry(enroll(bob.public())), Wait::Sequenced)
        .await;
}

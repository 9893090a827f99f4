//! The operator commands (`testigo-node operator …`) against a running node: each submits its
//! entry signed with the log key, reads its nonce from the node, and reports refusals with the
//! node's code and the documented exit code.

use testigo_client::ClientError;
use testigo_ledger::api::Wait;
use testigo_ledger::entry::{DataCategory, LegalBasis, Purpose};
use testigo_ledger::state::AccountRecord;
use testigo_node::operator::access::AccessArgs;
use testigo_node::operator::claims::ClaimsArgs;
use testigo_node::operator::deposit::DepositArgs;
use testigo_node::operator::enroll_bulk::EnrollBulkArgs;
use testigo_node::operator::enroll_subject::EnrollSubjectArgs;
use testigo_node::operator::register_accessor::RegisterAccessorArgs;
use testigo_node::operator::settle::SettleArgs;
use testigo_node::operator::{Operator, OperatorError};
use testigo_tests::cluster::TestNode;
use testigo_tests::fixtures::{Party, Use, claim, deposit, key, register, settle};
use testigo_tests::probe::Probe as _;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_commands_submit_signed_entries_and_explain_refusals() {
    let node = TestNode::start().await;
    let url = format!("http://{}", node.addr);
    let operator = Operator::connect(&url, node.operator.clone(), Wait::Checkpointed)
        .await
        .expect("connect");
    let mut alice = Party::fresh(10);
    let acme = Party::fresh(20);

    let enrolled = EnrollSubjectArgs {
        key: alice.public(),
    }
    .run(&operator)
    .await
    .expect("enroll");
    assert!(enrolled.inclusion.is_some());
    let registered = RegisterAccessorArgs {
        key: acme.public(),
        name: "Acme Ads Ltd".into(),
        lei: "5493001KJTIIGC8Y1R12".into(),
    }
    .run(&operator)
    .await
    .expect("register");
    assert_eq!(
        registered.index,
        enrolled.index + 2,
        "one StateRoot between"
    );
    DepositArgs {
        accessor: operator.public(),
        amount: 1_000,
        reference: "own budget".into(),
    }
    .run(&operator)
    .await
    .expect("deposit");
    let access = AccessArgs {
        subject: alice.public(),
        category: DataCategory::CommunicationsMetadata,
        purpose: Purpose::ServiceOptimisation,
        basis: LegalBasis::LegitimateInterest,
        consent: None,
        price: 100,
    };
    access.run(&operator).await.expect("access");
    let claimed = node
        .client
        .sequence(&alice.entry(claim(90)), Wait::Sequenced)
        .await;
    SettleArgs {
        claim: claimed.index,
        reference: "sepa 1".into(),
    }
    .run(&operator)
    .await
    .expect("settle");
    let account = node.client.account_as(&alice.key, &alice.public()).await;
    let record = AccountRecord::from_bytes(&account.record.expect("committed").0).expect("record");
    assert_eq!((record.balance, record.settled_payouts), (5, 90));

    // Refusals carry the node's code and exit 3; the entry was not appended.
    let again = EnrollSubjectArgs {
        key: alice.public(),
    }
    .run(&operator)
    .await;
    match again {
        Err(e @ OperatorError::Node(ClientError::Refused { .. })) => {
            assert_eq!(e.exit_code(), 3);
            assert!(e.to_string().contains("already_registered"), "{e}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    let unpaid = AccessArgs {
        basis: LegalBasis::Consent,
        ..access
    };
    match unpaid.run(&operator).await {
        Err(OperatorError::Node(ClientError::Refused { error, .. })) => {
            assert_eq!(error.code, "consent_reference_missing");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }

    // Another log's key is refused before anything is signed; a dead node is exit 4.
    match Operator::connect(&url, key(99), Wait::Sequenced).await {
        Err(e @ OperatorError::WrongLog { .. }) => assert_eq!(e.exit_code(), 3),
        other => panic!("expected WrongLog, got {other:?}"),
    }
    let stopped = node.stop().await;
    match Operator::connect(&url, key(1), Wait::Sequenced).await {
        Err(e @ OperatorError::Node(ClientError::Retryable { .. })) => assert_eq!(e.exit_code(), 4),
        other => panic!("expected Unreachable, got {other:?}"),
    }
    drop(stopped);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_claims_are_listed_for_settle_and_bulk_enrolment_resumes() {
    let node = TestNode::start().await;
    let url = format!("http://{}", node.addr);
    let operator = Operator::connect(&url, node.operator.clone(), Wait::Sequenced)
        .await
        .expect("connect");

    // A customer export: keys in the first column, a header, a bad line, a repeat.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("customers.csv");
    let keys: Vec<ed25519_dalek::SigningKey> = (0..600u16)
        .map(|i| {
            let mut seed = [0xb0; 32];
            seed[..2].copy_from_slice(&i.to_be_bytes());
            ed25519_dalek::SigningKey::from_bytes(&seed)
        })
        .collect();
    let mut text = String::from("wallet_key,name\n");
    for (i, k) in keys.iter().enumerate() {
        let public = testigo_ledger::PublicKey(k.verifying_key().to_bytes());
        text.push_str(&format!("{},customer {i}\n", public.to_base64()));
        if i == 10 {
            text.push_str("not a key,oops\n");
        }
    }
    // The first 100 keys again at the end: already enrolled by the time they come.
    for k in &keys[..100] {
        let public = testigo_ledger::PublicKey(k.verifying_key().to_bytes());
        text.push_str(&format!("{}\n", public.to_base64()));
    }
    std::fs::write(&file, &text).unwrap();
    // A first run that stops early: only the first 250 lines.
    let partial = dir.path().join("partial.csv");
    std::fs::write(
        &partial,
        text.lines().take(250).collect::<Vec<_>>().join("\n"),
    )
    .unwrap();
    let first = EnrollBulkArgs {
        file: partial,
        batch: 64,
    }
    .run(&operator, |_, _| {})
    .await
    .expect("first run");
    assert_eq!((first.enrolled, first.already_enrolled), (248, 0));
    assert_eq!(first.invalid.len(), 2, "the header and the bad line");

    let mut progress = Vec::new();
    let summary = EnrollBulkArgs { file, batch: 64 }
        .run(&operator, |done, total| progress.push((done, total)))
        .await
        .expect("resumed run");
    assert_eq!(summary.enrolled, 600 - 248);
    assert_eq!(summary.already_enrolled, 248 + 100);
    assert!(summary.refused.is_empty(), "{:?}", summary.refused);
    assert_eq!(progress.last(), Some(&(700, 700)));
    let described = summary.describe();
    assert!(
        described.contains("line 1: not a wallet key"),
        "{described}"
    );
    assert!(
        !described.contains("oops"),
        "line contents stay out of the summary"
    );

    // Two claims, one settled: only the other is pending.
    let mut subjects: Vec<Party> = keys[..2]
        .iter()
        .map(|k| Party {
            key: k.clone(),
            nonce: 0,
        })
        .collect();
    let mut op = Party::new(1, operator.next_nonce().await.unwrap());
    let acme = Party::fresh(20);
    node.client
        .sequence(&op.entry(register(acme.public())), Wait::Sequenced)
        .await;
    node.client
        .sequence(
            &op.entry(deposit(acme.public(), 1_000, "wire")),
            Wait::Sequenced,
        )
        .await;
    let mut acme = acme;
    let mut claims = Vec::new();
    for s in &mut subjects {
        node.client
            .sequence(
                &acme.entry(Use::legitimate_interest(s.public(), 100).body()),
                Wait::Sequenced,
            )
            .await;
        claims.push(
            node.client
                .sequence(&s.entry(claim(50)), Wait::Checkpointed)
                .await
                .index,
        );
    }
    // The listing is as of the latest checkpoint: wait for the one covering the settlement.
    node.client
        .sequence(&op.entry(settle(claims[0], "sepa 9")), Wait::Checkpointed)
        .await;
    let pending = ClaimsArgs { from: 0 }.run(&operator).await.expect("claims");
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].index, claims[1]);
    assert_eq!(pending[0].claim.amount, 50);
    assert_eq!(pending[0].claim.subject, subjects[1].public());
    let listing = testigo_node::operator::claims::describe(&pending);
    assert!(
        listing.contains(&format!("claim {}", claims[1])),
        "{listing}"
    );
    assert!(listing.ends_with("1 pending claim, 50 in all"), "{listing}");
    // A subject may not list everyone's claims.
    let refused = node
        .as_key(&subjects[1].key)
        .pending_claims(0)
        .await
        .expect_err("a bulk read");
    assert_eq!(refused.code(), Some("forbidden"));
}

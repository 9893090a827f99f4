//! The operator commands (`testigo-node operator …`) against a running node: each submits its
//! entry signed with the log key, reads its nonce from the node, and reports refusals with the
//! node's code and the documented exit code.

use testigo_ledger::api::Wait;
use testigo_ledger::entry::{DataCategory, LegalBasis, Purpose};
use testigo_ledger::state::AccountRecord;
use testigo_node::operator::access::AccessArgs;
use testigo_node::operator::deposit::DepositArgs;
use testigo_node::operator::enroll_subject::EnrollSubjectArgs;
use testigo_node::operator::register_accessor::RegisterAccessorArgs;
use testigo_node::operator::settle::SettleArgs;
use testigo_node::operator::{Operator, OperatorError};
use testigo_tests::cluster::TestNode;
use testigo_tests::fixtures::{Party, claim, key};

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
    let account = node.client.account(&alice.key, &alice.public()).await;
    let record = AccountRecord::from_bytes(&account.record.expect("committed").0).expect("record");
    assert_eq!((record.balance, record.settled_payouts), (5, 90));

    // Refusals carry the node's code and exit 3; the entry was not appended.
    let again = EnrollSubjectArgs {
        key: alice.public(),
    }
    .run(&operator)
    .await;
    match again {
        Err(e @ OperatorError::Refused { .. }) => {
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
        Err(OperatorError::Refused { code, .. }) => assert_eq!(code, "consent_reference_missing"),
        other => panic!("expected a refusal, got {other:?}"),
    }

    // Another log's key is refused before anything is signed; a dead node is exit 4.
    match Operator::connect(&url, key(99), Wait::Sequenced).await {
        Err(e @ OperatorError::WrongLog { .. }) => assert_eq!(e.exit_code(), 3),
        other => panic!("expected WrongLog, got {other:?}"),
    }
    let stopped = node.stop().await;
    match Operator::connect(&url, key(1), Wait::Sequenced).await {
        Err(e @ OperatorError::Unreachable { .. }) => assert_eq!(e.exit_code(), 4),
        other => panic!("expected Unreachable, got {other:?}"),
    }
    drop(stopped);
}

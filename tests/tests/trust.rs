//! The wallet's chain of trust from only what a subject may read (DESIGN §8): the log's
//! parameters from its genesis leaf (pinned by hash), the public checkpoint, the account answer
//! signed for by the subject (`StateRoot` leaf, its inclusion, the map proof, the record), and the
//! history pages. Then one lie at a time, each refused with its reason.

use testigo_client::{Client, ClientError, Integrity, Signer};
use testigo_ledger::api::{AccountProof, Wait};
use testigo_ledger::entry::Leaf;
use testigo_ledger::state::{AccountRecord, LogParams};
use testigo_ledger::verify::{
    AccountError, AccountProofError, HistoryCursor, HistoryError, HistoryPageError, MapProofError,
    VerifiedAccount, verify_account,
};
use testigo_ledger::{Blake3, Hash, PublicKey, TreeHasher as _};
use testigo_tests::cluster::TestNode;
use testigo_tests::fixtures::{Grant, Party, Use, deposit, enroll, register};
use testigo_tests::probe::Probe as _;

/// A node with alice enrolled, a grant, and `accesses` paid accesses by acme, all checkpointed.
/// Returns the node, alice, and the genesis leaf hash a wallet would have been given.
async fn story(accesses: usize) -> (TestNode, Party, Hash) {
    let node = TestNode::start().await;
    let client = &node.client;
    let mut op = Party::operator();
    let mut alice = Party::fresh(10);
    let mut acme = Party::fresh(20);
    for leaf in [
        op.entry(enroll(alice.public())),
        op.entry(register(acme.public())),
        op.entry(deposit(acme.public(), 1_000_000, "wire")),
    ] {
        client.sequence(&leaf, Wait::Sequenced).await;
    }
    let grant = client
        .sequence(
            &alice.entry(Grant::location_ads(None, 3).body()),
            Wait::Sequenced,
        )
        .await;
    let leaves: Vec<Leaf> = (0..accesses)
        .map(|_| acme.entry(Use::consented(alice.public(), grant.index, 3).body()))
        .collect();
    for chunk in leaves.chunks(200) {
        client.batch_binary(chunk, Wait::Checkpointed).await;
    }
    let genesis = node.leaves(0, 1).await.remove(0);
    (node, alice, Blake3.hash_leaf(&genesis))
}

/// Enrols someone new and waits for the checkpoint that covers it: the log moves on.
async fn another_checkpoint(node: &TestNode, seed: u8) {
    let operator = Party::operator().public();
    let mut op = Party::new(1, node.client.nonce_as(&node.operator, &operator).await);
    node.client
        .sequence(
            &op.entry(enroll(Party::fresh(seed).public())),
            Wait::Checkpointed,
        )
        .await;
}

/// Alice's own client: her key signs her reads, nothing else is trusted.
fn wallet(node: &TestNode, alice: &Party) -> Client {
    node.client.with_signer(Signer::new(alice.key.clone()))
}

fn account_failure(error: ClientError) -> AccountError {
    match error {
        ClientError::Integrity(integrity) => match *integrity {
            Integrity::Account(failure) => failure.reason,
            other => panic!("expected an account failure, got {other}"),
        },
        other => panic!("expected an integrity error, got {other}"),
    }
}

/// The checkpoint note and alice's answer against it, as she reads them.
async fn answer(wallet: &Client, alice: &PublicKey) -> (String, AccountProof) {
    let note = wallet.checkpoint().await.expect("checkpoint");
    let size = note.lines().nth(1).and_then(|l| l.parse().ok());
    (note, wallet.account(alice, size).await.expect("account"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subject_verifies_its_balance_and_whole_history_with_what_it_may_read() {
    let (node, alice, genesis) = story(300).await;
    let wallet = wallet(&node, &alice);
    let log = wallet.verified_log(Some(&genesis)).await.expect("log");
    assert_eq!(log.quorum, 0, "this log names no witnesses");
    let account = wallet
        .verified_account(&log, &alice.public())
        .await
        .expect("the chain verifies");
    let record = account.record.clone().expect("alice is in the map");
    // 300 accesses at 3; 5% of 3 rounds down to no fee.
    assert_eq!(record.balance, 900);
    assert_eq!(account.as_of, account.checkpoint.size() - 1);
    // Enrolment, grant and 300 accesses: more than one page of 256.
    let history = wallet
        .verified_history(&account)
        .await
        .expect("the history is the committed one");
    assert_eq!(history.len(), 302);
    assert_eq!(record.history_len, 302);

    // The bulk read of leaves stays closed to her: she did not need it.
    let bulk = wallet
        .entries(0, 1)
        .await
        .expect_err("a subject may not read the log");
    assert_eq!(bulk.code(), Some("forbidden"));

    // Someone the log has never seen is proven absent, not answered with a bare 404.
    let stranger = Party::fresh(77);
    let absent = node
        .client
        .with_signer(Signer::new(stranger.key.clone()))
        .verified_account(&log, &stranger.public())
        .await
        .expect("a non-inclusion proof verifies");
    assert_eq!(absent.record, None);

    // A wrong pin is refused before anything else is believed.
    let wrong = wallet.verified_log(Some(&Hash([7; 32]))).await;
    assert!(
        matches!(wrong, Err(ClientError::Protocol { .. })),
        "{wrong:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_answer_depends_only_on_the_key_and_the_checkpoint() {
    let (node, alice, _) = story(10).await;
    let wallet = wallet(&node, &alice);
    let (note, first) = answer(&wallet, &alice.public()).await;
    // More entries, a newer checkpoint: the old one still answers byte for byte the same.
    another_checkpoint(&node, 30).await;
    let again = wallet
        .account(&alice.public(), Some(first.checkpoint_size))
        .await
        .expect("the older checkpoint is kept");
    assert_eq!(
        serde_json::to_vec(&again).unwrap(),
        serde_json::to_vec(&first).unwrap()
    );
    let log = wallet.verified_log(None).await.unwrap();
    verify_account(&note, &log, &alice.public(), &again).expect("still verifies");
    let beyond = wallet.account(&alice.public(), Some(u64::MAX)).await;
    assert_eq!(
        beyond.expect_err("beyond the log").code(),
        Some("invalid_range")
    );
}

/// Verifies `answer` against `note` and returns why it fails.
fn lie(note: &str, log: &LogParams, alice: &PublicKey, answer: &AccountProof) -> AccountError {
    let failure = verify_account(note, log, alice, answer).expect_err("the lie is refused");
    // The failure carries its evidence, exactly as received.
    assert_eq!(failure.checkpoint, note);
    assert_eq!(&*failure.answer, answer);
    failure.reason
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_state_root_leaf_is_refused() {
    let (node, alice, _) = story(5).await;
    let wallet = wallet(&node, &alice);
    let log = wallet.verified_log(None).await.unwrap();
    let (old_note, old) = answer(&wallet, &alice.public()).await;
    another_checkpoint(&node, 31).await;
    let (note, mut answer) = answer(&wallet, &alice.public()).await;
    assert_ne!(note, old_note);
    // An older, genuinely signed StateRoot leaf in place of this checkpoint's.
    answer.state_root.leaf = old.state_root.leaf.clone();
    assert!(matches!(
        lie(&note, &log, &alice.public(), &answer),
        AccountError::StateRootLeafHash { .. }
    ));
    // ... with its hash fixed up to match: then the inclusion proof fails.
    answer.state_root.inclusion.leaf_hash = Blake3.hash_leaf(&answer.state_root.leaf.0);
    assert!(matches!(
        lie(&note, &log, &alice.public(), &answer),
        AccountError::StateRootNotIncluded { .. }
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proof_for_another_checkpoint_is_refused() {
    let (node, alice, _) = story(5).await;
    let wallet = wallet(&node, &alice);
    let log = wallet.verified_log(None).await.unwrap();
    let (_, old) = answer(&wallet, &alice.public()).await;
    another_checkpoint(&node, 32).await;
    let (note, _) = answer(&wallet, &alice.public()).await;
    assert!(matches!(
        lie(&note, &log, &alice.public(), &old),
        AccountError::OtherCheckpoint { .. }
    ));
    // Relabelled as the newer size, its proofs still lead elsewhere.
    let mut relabelled = old.clone();
    let size: u64 = note.lines().nth(1).unwrap().parse().unwrap();
    relabelled.checkpoint_size = size;
    relabelled.state_root.inclusion.size = size;
    relabelled.state_root.inclusion.index = size - 1;
    assert!(matches!(
        lie(&note, &log, &alice.public(), &relabelled),
        AccountError::StateRootNotIncluded { .. }
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_altered_record_is_refused() {
    let (node, alice, _) = story(5).await;
    let wallet = wallet(&node, &alice);
    let log = wallet.verified_log(None).await.unwrap();
    let (note, mut answer) = answer(&wallet, &alice.public()).await;
    let record = answer.record.as_mut().expect("alice is in the map");
    let mut decoded = AccountRecord::from_bytes(&record.0).unwrap();
    decoded.balance += 1_000;
    record.0 = decoded.to_bytes();
    assert!(matches!(
        lie(&note, &log, &alice.public(), &answer),
        AccountError::StateRoot(AccountProofError::Map(MapProofError::WrongValue { .. }))
    ));
    // Claiming she is absent is refused too: the proof is an inclusion proof.
    answer.record = None;
    assert!(matches!(
        lie(&note, &log, &alice.public(), &answer),
        AccountError::StateRoot(AccountProofError::Map(MapProofError::ProvesPresence))
    ));
    // And an answer about someone else is not an answer about her.
    let (_, theirs) = self::answer(&wallet, &alice.public()).await;
    let mut theirs = theirs;
    theirs.key = Party::fresh(40).public();
    assert!(matches!(
        lie(&note, &log, &alice.public(), &theirs),
        AccountError::WrongAccount { .. }
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_truncated_history_page_is_refused() {
    let (node, alice, _) = story(300).await;
    let wallet = wallet(&node, &alice);
    let log = wallet.verified_log(None).await.unwrap();
    let account: VerifiedAccount = wallet
        .verified_account(&log, &alice.public())
        .await
        .unwrap();
    let size = Some(account.checkpoint.size());
    let first = wallet.history(&alice.public(), 0, size).await.unwrap();
    assert_eq!(first.next, Some(256));

    // The first page presented as the last: 256 of 302.
    let mut cursor = HistoryCursor::new(&account);
    let mut truncated = first.clone();
    truncated.next = None;
    let failure = cursor.push_page(&truncated).expect_err("withheld leaves");
    assert!(matches!(
        failure.reason,
        HistoryPageError::History(HistoryError::Missing {
            got_len: 256,
            expected_len: 302,
            ..
        })
    ));
    assert_eq!(*failure.page, truncated);
    // A leaf dropped from the middle of a page, the page relabelled to hide it: each leaf is
    // genuine, so the page passes; but what follows must then repeat a leaf (refused as out of
    // order) or come up one short of the committed length.
    let mut holed = first.clone();
    holed.entries.remove(10);
    holed.next = Some(255);
    let mut fooled = cursor.clone();
    fooled
        .push_page(&holed)
        .expect("every leaf in it is genuine");
    let rest = wallet.history(&alice.public(), 255, size).await.unwrap();
    assert!(matches!(
        fooled
            .push_page(&rest)
            .expect_err("the chain breaks")
            .reason,
        HistoryPageError::History(HistoryError::Reordered { .. })
    ));
    // The failed pages changed nothing: the genuine ones still verify from the start.
    assert_eq!(cursor.position(), 0);
    cursor.push_page(&first).expect("the genuine first page");
    let second = wallet.history(&alice.public(), 256, size).await.unwrap();
    // The genuine last page with its final leaf withheld.
    let mut short = second.clone();
    short.entries.pop();
    assert!(matches!(
        cursor
            .push_page(&short)
            .expect_err("one leaf withheld")
            .reason,
        HistoryPageError::History(HistoryError::Missing { .. })
    ));
    cursor.push_page(&second).expect("the genuine last page");
    assert!(cursor.is_complete());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unwitnessed_or_forged_checkpoint_is_refused() {
    let (node, alice, _) = story(5).await;
    let wallet = wallet(&node, &alice);
    let mut log = wallet.verified_log(None).await.unwrap();
    let (note, answer) = answer(&wallet, &alice.public()).await;
    // A log that requires a witness: the operator's signature alone is not enough.
    log.witnesses = vec![testigo_ledger::entry::WitnessKey {
        name: "witness.test/w1".into(),
        key: Party::fresh(50).public(),
    }];
    log.quorum = 1;
    assert!(matches!(
        lie(&note, &log, &alice.public(), &answer),
        AccountError::Checkpoint(_)
    ));
    // A note whose root was changed no longer carries a valid operator signature.
    let log = wallet.verified_log(None).await.unwrap();
    let mut lines: Vec<&str> = note.split('\n').collect();
    let forged_root = Hash([9; 32]).to_base64();
    lines[2] = &forged_root;
    let forged = lines.join("\n");
    assert!(matches!(
        account_failure(
            verify_account(&forged, &log, &alice.public(), &answer)
                .map_err(|f| ClientError::from(Integrity::Account(f)))
                .unwrap_err()
        ),
        AccountError::Checkpoint(_)
    ));
}

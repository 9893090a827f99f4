//! The replay state under a flood of throwaway keys (docs/PROTOCOL.md §10): a node that holds the
//! replay state of only 64 keys is sent validly signed reads from many more, both strangers
//! reading someone else's account (403, which must leave no trace) and keys reading their own
//! missing account (200 with a non-inclusion proof, which the node must remember). Then the
//! operator, a subject and an operator command still get through, a replay of an accepted
//! request is refused although its key was evicted, and the per-key rate limit answers 429.
//! Keys signing minutes ahead of the node's clock take at most an eighth of the slots, so they
//! cannot push the eviction floor above the clock of a key the node does not hold.

use ed25519_dalek::SigningKey;
use futures::StreamExt as _;
use hyper::StatusCode;
use testigo_client::{ClientError, Signer};
use testigo_ledger::api::{Wait, key_segment};
use testigo_ledger::auth::sign_request;
use testigo_node::operator::Operator;
use testigo_node::operator::enroll_subject::EnrollSubjectArgs;
use testigo_tests::cluster::{Options, TestNode};
use testigo_tests::fixtures::{Grant, Party, enroll, public};
use testigo_tests::probe::{AnswerExt as _, Probe as _};

/// Replay slots of the node under test: far fewer than the keys that read.
const REPLAY_KEYS: usize = 64;
/// Throwaway keys of each kind.
const FLOOD_KEYS: u32 = 4 * REPLAY_KEYS as u32;
/// Requests in flight at once during the flood.
const IN_FLIGHT: usize = 8;

/// The `n`-th throwaway key: seeded, distinct from every fixture key.
fn throwaway(n: u32) -> SigningKey {
    let mut seed = [0xA5; 32];
    seed[..4].copy_from_slice(&n.to_be_bytes());
    SigningKey::from_bytes(&seed)
}

/// The value of counter `name` (with its labels) in the node's Prometheus text; 0 if absent.
async fn counter(node: &TestNode, name: &str) -> u64 {
    let text = node.client.metrics().await.expect("metrics");
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .map_or(0, |v| v.trim().parse().expect("a counter value"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_throwaway_keys_locks_out_neither_readers_nor_subjects() {
    let node = TestNode::start_with(Options {
        replay_max_keys: REPLAY_KEYS,
        signed_read_rate: 1,
        signed_read_burst: 5,
        ..Options::default()
    })
    .await;
    let client = &node.client;
    let mut op = Party::operator();
    let alice = Party::fresh(10);
    client
        .sequence(&op.entry(enroll(alice.public())), Wait::Checkpointed)
        .await;
    let alice_path = format!("/v1/accounts/{}", key_segment(&alice.public()));

    // Alice reads her account; this request is kept to be replayed after her key is evicted.
    let alice_first = Signer::new(alice.key.clone()).authorization("GET", &alice_path);
    client
        .get_with_auth(&alice_path, alice_first.clone())
        .await
        .ok();

    // Strangers reading Alice's account: refused, and nothing remembered for them.
    let forbidden = futures::stream::iter(0..FLOOD_KEYS)
        .map(|n| {
            let path = alice_path.clone();
            async move { client.get_signed_as(&throwaway(n), &path).await }
        })
        .buffer_unordered(IN_FLIGHT)
        .collect::<Vec<_>>()
        .await;
    for answer in &forbidden {
        assert_eq!(answer.status, StatusCode::FORBIDDEN);
        assert_eq!(answer.error().code, "forbidden");
    }
    assert_eq!(
        counter(&node, "testigo_signed_refusals_total{code=\"forbidden\"}").await,
        u64::from(FLOOD_KEYS)
    );
    assert_eq!(counter(&node, "testigo_replay_evictions_total").await, 0);

    // Keys reading their own missing account: served with a non-inclusion proof, remembered,
    // and so evicting one another (and Alice) from the 64 slots. One request of each is kept.
    let log = client.verified_log(None).await.expect("log");
    let own = futures::stream::iter(FLOOD_KEYS..2 * FLOOD_KEYS)
        .map(|n| {
            let log = &log;
            async move {
                let key = throwaway(n);
                let path = format!("/v1/accounts/{}", key_segment(&public(&key)));
                let header = Signer::new(key.clone()).authorization("GET", &path);
                let answer = client.get_with_auth(&path, header.clone()).await.ok();
                assert!(
                    answer
                        .json::<testigo_ledger::api::AccountProof>()
                        .record
                        .is_none()
                );
                let wallet = client.with_signer(Signer::new(key.clone()));
                let verified = wallet
                    .verified_account(log, &public(&key))
                    .await
                    .expect("a verified non-inclusion proof");
                assert!(verified.record.is_none());
                (path, header)
            }
        })
        .buffer_unordered(IN_FLIGHT)
        .collect::<Vec<_>>()
        .await;
    let evictions = counter(&node, "testigo_replay_evictions_total").await;
    assert!(
        evictions >= u64::from(FLOOD_KEYS) - REPLAY_KEYS as u64,
        "{evictions} evictions"
    );
    assert_eq!(
        counter(&node, "testigo_replay_keys").await,
        REPLAY_KEYS as u64
    );

    // Keys signing 4 minutes ahead of the clock: at most an eighth of the slots take them, the
    // rest are refused busy. Another round of current-clock keys then cycles the slots, and a key
    // the node has never seen, with a current clock, is still above the floor.
    let ahead_ts = testigo_client::now_ms() + 4 * 60 * 1_000;
    let ahead = futures::stream::iter(2 * FLOOD_KEYS..3 * FLOOD_KEYS)
        .map(|n| async move {
            let key = throwaway(n);
            let path = format!("/v1/accounts/{}", key_segment(&public(&key)));
            let header = sign_request(&key, "GET", &path, ahead_ts);
            client.get_with_auth(&path, header).await.status
        })
        .buffer_unordered(IN_FLIGHT)
        .collect::<Vec<_>>()
        .await;
    let taken = ahead.iter().filter(|s| **s == StatusCode::OK).count();
    let busy = ahead
        .iter()
        .filter(|s| **s == StatusCode::SERVICE_UNAVAILABLE)
        .count();
    assert_eq!(
        (taken, busy),
        (REPLAY_KEYS / 8, ahead.len() - REPLAY_KEYS / 8)
    );
    assert_eq!(
        counter(&node, "testigo_signed_refusals_total{code=\"busy\"}").await,
        busy as u64
    );
    for n in 3 * FLOOD_KEYS..4 * FLOOD_KEYS {
        let key = throwaway(n);
        let path = format!("/v1/accounts/{}", key_segment(&public(&key)));
        client.get_signed_as(&key, &path).await.ok();
    }
    let newcomer = throwaway(5 * FLOOD_KEYS);
    let path = format!("/v1/accounts/{}", key_segment(&public(&newcomer)));
    client.get_signed_as(&newcomer, &path).await.ok();

    // Replays of accepted requests whose keys were evicted long ago: refused.
    let replayed = client.get_with_auth(&alice_path, alice_first).await;
    assert_eq!(replayed.status, StatusCode::UNAUTHORIZED);
    assert_eq!(replayed.error().code, "auth_replayed");
    let (path, header) = &own[0];
    let replayed = client.get_with_auth(path, header.clone()).await;
    assert_eq!(replayed.error().code, "auth_replayed");

    // The operator, the regulator and Alice herself read; the operator's command goes through.
    let operator = node.as_operator();
    for _ in 0..20 {
        // Readers are not rate limited.
        operator
            .account(&alice.public(), None)
            .await
            .expect("operator read");
    }
    client
        .get_signed_as(&node.regulator, "/v1/entries?start=0&end=2")
        .await
        .ok();
    let mine = client
        .with_signer(Signer::new(alice.key.clone()))
        .verified_account(&log, &alice.public())
        .await
        .expect("Alice reads her own account");
    assert!(mine.record.is_some());
    let url = format!("http://{}", node.addr);
    let command = Operator::connect(&url, node.operator.clone(), Wait::Checkpointed)
        .await
        .expect("connect");
    EnrollSubjectArgs {
        key: Party::fresh(11).public(),
    }
    .run(&command)
    .await
    .expect("an operator command during the flood");

    // Alice (a stranger to the rate limit: 1 a second, burst 5) soon meets it.
    let mut answers = Vec::new();
    for _ in 0..20 {
        let answer = client.get_signed_as(&alice.key, &alice_path).await;
        let limited = answer.status == StatusCode::TOO_MANY_REQUESTS;
        answers.push(answer);
        if limited {
            break;
        }
    }
    let answer = answers.pop().expect("at least one answer");
    assert_eq!(
        answer.status,
        StatusCode::TOO_MANY_REQUESTS,
        "within 20 reads"
    );
    assert_eq!(answer.error().code, "rate_limited");
    assert!(answer.retry_after().is_some_and(|d| d.as_secs() >= 1));
    assert!(answers.iter().all(|a| a.status == StatusCode::OK));
    // The client treats it as retryable, after the node's delay.
    let Err(ClientError::Retryable { retry_after, .. }) = client.check(&alice_path, &answer) else {
        panic!("429 must be retryable");
    };
    assert_eq!(retry_after, answer.retry_after());
    assert_eq!(
        counter(
            &node,
            "testigo_signed_refusals_total{code=\"rate_limited\"}"
        )
        .await,
        1
    );
}

/// Subjects writing beside the read flood, and the grants each makes.
const WRITERS: u8 = 4;
const GRANTS_EACH: u64 = 80;

/// Reads are served beside the sequencer, never through its queue: with a queue of 4
/// submissions, 32 readers flooding nonce, consents and pending-claims reads while 4 subjects
/// write leave no writer `queue_full`, and the consents come back whole across pages.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_beside_the_sequencer_leave_writers_their_queue() {
    let node = TestNode::start_with(Options {
        adjust: |c| c.queue_capacity = 4,
        ..Options::default()
    })
    .await;
    let client = &node.client;
    let mut op = Party::operator();
    let acme = Party::fresh(40);
    let mut writers: Vec<Party> = (0..WRITERS).map(|n| Party::fresh(41 + n)).collect();
    for w in &writers {
        client
            .sequence(&op.entry(enroll(w.public())), Wait::Sequenced)
            .await;
    }
    client
        .sequence(
            &op.entry(testigo_tests::fixtures::register(acme.public())),
            Wait::Checkpointed,
        )
        .await;

    let done = std::sync::atomic::AtomicBool::new(false);
    let reads = std::sync::atomic::AtomicU64::new(0);
    let paths: Vec<String> = writers
        .iter()
        .flat_map(|w| {
            let key = key_segment(&w.public());
            [
                format!("/v1/accounts/{key}/nonce"),
                format!("/v1/accounts/{key}/consents"),
            ]
        })
        .chain([
            format!("/v1/accounts/{}/consents", key_segment(&acme.public())),
            "/v1/claims/pending".to_string(),
        ])
        .collect();
    let flood = futures::future::join_all((0..32).map(|reader| {
        let (paths, done, reads, operator) = (&paths, &done, &reads, &node.operator);
        async move {
            let mut n = reader;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                let answer = client
                    .get_signed_as(operator, &paths[n % paths.len()])
                    .await;
                assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
                reads.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                n += 1;
            }
        }
    }));
    let writing = async {
        let grants = futures::future::join_all(writers.iter_mut().map(|w| async move {
            let mut indexes = Vec::new();
            for _ in 0..GRANTS_EACH {
                let leaf = w.entry(Grant::location_ads(None, 5).body());
                let answer = client.submit_raw(&leaf, Wait::Sequenced).await;
                assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
                indexes.push(answer.json::<testigo_ledger::api::Sequenced>().index);
            }
            indexes
        }))
        .await;
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        grants
    };
    let (grants, _) = futures::future::join(writing, flood).await;
    let reads = reads.into_inner();
    // Every submission above was answered 200: none met `queue_full`.
    assert!(reads >= 32, "{reads} reads during the writes");

    // Once checkpointed, the pages add up to every grant, and the nonces count every entry.
    client
        .sequence(
            &op.entry(enroll(Party::fresh(60).public())),
            Wait::Checkpointed,
        )
        .await;
    let operator = node.as_operator();
    let mut everyone: Vec<u64> = grants.iter().flatten().copied().collect();
    everyone.sort_unstable();
    let listed = operator
        .consents(&acme.public())
        .await
        .expect("acme's consents");
    let listed: Vec<u64> = listed.consents.iter().map(|c| c.index).collect();
    assert_eq!(
        listed, everyone,
        "an accessor sees every grant for anyone, across pages"
    );
    for (w, mine) in writers.iter().zip(&grants) {
        let listed = operator.consents(&w.public()).await.expect("consents");
        assert!(
            listed
                .consents
                .iter()
                .all(|c| c.consent.subject == w.public())
        );
        let listed: Vec<u64> = listed.consents.iter().map(|c| c.index).collect();
        assert_eq!(&listed, mine);
        let answer = client
            .get_signed_as(
                &w.key,
                &format!("/v1/accounts/{}/nonce", key_segment(&w.public())),
            )
            .await;
        let nonce: testigo_ledger::api::NextNonce = answer.json();
        assert_eq!(nonce.next_nonce, GRANTS_EACH);
    }
    // One page is at most 256 grants, and says where the next starts.
    let first: testigo_ledger::api::Consents = client
        .get_signed_as(
            &acme.key,
            &format!("/v1/accounts/{}/consents", key_segment(&acme.public())),
        )
        .await
        .json();
    assert_eq!(first.consents.len(), 256);
    assert_eq!(first.next, Some(everyone[255] + 1));
}

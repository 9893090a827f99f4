//! More lying nodes between a wallet and a real log (a primary and a witness): a stale
//! checkpoint, one older than the trusted one, one inconsistent with it, an account record
//! for another checkpoint, and, for a sync that resumes the held history, a page that starts at
//! the wrong position or serves again a leaf already held. Each is refused with its reason, and
//! `trust.json` stays as it was. Also: a sync after a sync asks only for the new history.

use std::sync::{Arc, Mutex};

use testigo_ledger::api::Wait;
use testigo_ledger::checkpoint::{Checkpoint, CosignedCheckpoint, cosign, sign_checkpoint};
use testigo_tests::cluster::{Cluster, ClusterOptions, WITNESS_SEED, witness_name};
use testigo_tests::fixtures::{ORIGIN, Party, Use, enroll, key, public};
use testigo_tests::lying_node::Proxy;
use testigo_tests::wallet::Wallet;

/// A subject behind a proxy with a consent and one access, synced; `record` keeps the bodies of
/// the account answers the proxy passes on.
struct Setup {
    cluster: Cluster,
    proxy: Proxy,
    wallet: Wallet,
    operator: Party,
    me: testigo_ledger::PublicKey,
    consent: u64,
    accounts: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl Setup {
    async fn start() -> Self {
        let cluster = Cluster::start(ClusterOptions {
            witnesses: 1,
            started: 1,
            quorum: 1,
            ..ClusterOptions::default()
        })
        .await;
        let proxy = Proxy::start(cluster.primary.client.base()).await;
        let accounts = Arc::new(Mutex::new(Vec::new()));
        let seen = accounts.clone();
        proxy.rewrite(move |path: &str, body: &[u8]| {
            if path.starts_with("/v1/accounts/") && path.contains("?size=") {
                seen.lock().expect("accounts").push(body.to_vec());
            }
            None
        });
        let mut operator = Party::operator();
        let wallet = Wallet::new();
        let me = wallet.init_tofu(&proxy.url()).await;
        let enrolment = operator.entry(enroll(me));
        let mut setup = Self {
            cluster,
            proxy,
            wallet,
            operator,
            me,
            consent: 0,
            accounts,
        };
        setup.submit(&enrolment).await;
        let grant = setup
            .wallet
            .json(&[
                "consent",
                "grant",
                "--any",
                "--category",
                "pd:Location",
                "--purpose",
                "dpv:PersonalisedAdvertising",
                "--price",
                "0",
            ])
            .await;
        setup.consent = grant["index"].as_u64().expect("grant index");
        setup.access().await;
        setup.wallet.json(&["sync"]).await;
        setup
    }

    async fn submit(&self, leaf: &testigo_ledger::entry::Leaf) -> u64 {
        self.cluster
            .primary
            .as_operator()
            .submit(leaf, Wait::Witnessed)
            .await
            .expect("operator entry")
            .index
    }

    /// One more access, witnessed: the log moves on past the wallet's trusted checkpoint.
    async fn access(&mut self) -> u64 {
        let leaf = self
            .operator
            .entry(Use::consented(self.me, self.consent, 0).body());
        self.submit(&leaf).await
    }

    fn trusted_note(&self) -> String {
        let state: serde_json::Value =
            serde_json::from_slice(&self.wallet.trust_state()).expect("trust.json");
        state["trusted"]["note"].as_str().expect("note").to_owned()
    }
}

fn size_of(note: &str) -> u64 {
    note.lines()
        .nth(1)
        .expect("size line")
        .parse()
        .expect("size")
}

#[tokio::test]
async fn a_stale_checkpoint_is_refused_and_nothing_advances() {
    let mut s = Setup::start().await;
    s.access().await;
    let before = s.wallet.trust_state();
    // Ten minutes on: the node's newest checkpoint is older than a live log allows (4 minutes
    // of idle interval plus 5 of clock skew), as if the log had stopped checkpointing.
    let run = s.wallet.run(&["sync", "--clock-offset-ms", "600000"]).await;
    assert_eq!(run.code, 7, "{run:?}");
    assert!(run.stderr.contains("stale, refused"), "{run:?}");
    assert_eq!(
        s.wallet.trust_state(),
        before,
        "the trusted state did not advance"
    );
    // The same log, judged by the right clock, is fresh.
    s.wallet.json(&["sync"]).await;
    assert_ne!(s.wallet.trust_state(), before);
}

#[tokio::test]
async fn a_checkpoint_older_than_the_trusted_one_is_refused_and_nothing_advances() {
    let mut s = Setup::start().await;
    let old = s.trusted_note();
    s.access().await;
    s.wallet.json(&["sync"]).await;
    assert!(size_of(&s.trusted_note()) > size_of(&old));
    s.access().await;
    let before = s.wallet.trust_state();
    // A genuine, witnessed, but older checkpoint: a node rolling the wallet back.
    s.proxy
        .rewrite(move |path: &str, _| (path == "/v1/checkpoint").then(|| old.clone().into_bytes()));
    let run = s.wallet.run(&["sync"]).await;
    assert_eq!(run.code, 7, "{run:?}");
    assert!(run.stderr.contains("older than the trusted one"), "{run:?}");
    assert_eq!(
        s.wallet.trust_state(),
        before,
        "the trusted state did not advance"
    );
}

#[tokio::test]
async fn a_checkpoint_inconsistent_with_the_trusted_one_is_refused_and_nothing_advances() {
    let mut s = Setup::start().await;
    let trusted = size_of(&s.trusted_note());
    s.access().await;
    let (size, _) = s.cluster.primary.checkpoint_size_root().await;
    assert!(size > trusted);
    // Signed by the log key and cosigned by the witness, but another tree: its root cannot
    // extend the trusted one.
    let forged = Checkpoint::new(ORIGIN.to_owned(), size, testigo_ledger::Hash([9; 32]))
        .expect("checkpoint");
    let mut note = CosignedCheckpoint::parse(
        sign_checkpoint(&forged, &s.cluster.primary.operator)
            .to_string()
            .as_bytes(),
    )
    .expect("note");
    let witness = key(WITNESS_SEED);
    let now = testigo_client::now_ms() / 1000;
    note.add_cosignature(
        &cosign(&forged, &witness_name(0), &witness, now).expect("cosign"),
        &public(&witness),
    )
    .expect("a valid cosignature");
    let text = note.to_text();
    let before = s.wallet.trust_state();
    s.proxy.rewrite(move |path: &str, _| {
        (path == "/v1/checkpoint").then(|| text.clone().into_bytes())
    });
    let run = s.wallet.run(&["sync"]).await;
    assert_eq!(run.code, 6, "{run:?}");
    assert!(
        run.stderr
            .contains("cannot prove its checkpoint consistent with the trusted one"),
        "{run:?}"
    );
    assert_eq!(
        s.wallet.trust_state(),
        before,
        "the trusted state did not advance"
    );
    assert!(
        s.wallet.evidence().is_empty(),
        "different sizes are reported, not saved as evidence"
    );
}

#[tokio::test]
async fn an_account_record_for_another_checkpoint_is_refused_and_nothing_advances() {
    let mut s = Setup::start().await;
    let old_answer = s
        .accounts
        .lock()
        .expect("accounts")
        .last()
        .cloned()
        .expect("an account answer passed the proxy");
    s.access().await;
    let before = s.wallet.trust_state();
    // The proof of the account at the trusted checkpoint, served for the newer one.
    s.proxy.rewrite(move |path: &str, _| {
        (path.starts_with("/v1/accounts/") && path.contains("?size=")).then(|| old_answer.clone())
    });
    let run = s.wallet.run(&["sync"]).await;
    assert_eq!(run.code, 6, "{run:?}");
    assert!(
        run.stderr.contains("INTEGRITY FAILURE") && run.stderr.contains("the account answer"),
        "{run:?}"
    );
    assert_eq!(
        s.wallet.trust_state(),
        before,
        "the trusted state did not advance"
    );
}

/// The `from` of every history request among `paths`.
fn history_froms(paths: &[String]) -> Vec<u64> {
    paths
        .iter()
        .filter(|p| p.contains("/history?"))
        .map(|p| {
            let from = p.split("from=").nth(1).expect("a from");
            from.split('&')
                .next()
                .expect("value")
                .parse()
                .expect("a number")
        })
        .collect()
}

fn held(trust: &[u8]) -> serde_json::Value {
    let state: serde_json::Value = serde_json::from_slice(trust).expect("trust.json");
    state["trusted"].clone()
}

#[tokio::test]
async fn a_second_sync_fetches_only_the_new_history_and_verify_rechecks_it_offline() {
    let mut s = Setup::start().await;
    let first = held(&s.wallet.trust_state());
    let held_len = first["history"].as_array().expect("history").len() as u64;
    assert!(held_len >= 2, "the grant and an access are held: {first}");
    // The setup synced more than once (granting syncs), so some checkpoints are kept already.
    let kept_before = first["kept"].as_array().expect("kept").len() as u64;
    for round in 1..=2u64 {
        let mark = s.proxy.seen().len();
        s.access().await;
        s.access().await;
        let synced = s.wallet.json(&["sync"]).await;
        assert_eq!(synced["fetched"], 2, "{synced}");
        let froms = history_froms(&s.proxy.seen()[mark..]);
        assert_eq!(
            froms,
            vec![held_len + 2 * (round - 1)],
            "only the history after the held leaves is asked for"
        );
        let state = held(&s.wallet.trust_state());
        let kept = state["kept"].as_array().expect("kept");
        assert_eq!(
            kept.len() as u64,
            kept_before + round,
            "each earlier checkpoint proves leaves, so it is kept: {state}"
        );
        let sizes: Vec<u64> = state["history"]
            .as_array()
            .expect("history")
            .iter()
            .map(|h| h["inclusion"]["size"].as_u64().expect("size"))
            .collect();
        assert!(sizes.windows(2).all(|w| w[0] <= w[1]), "{sizes:?}");
        assert_eq!(sizes.last(), Some(&size_of(&s.trusted_note())));
    }
    let verified = s.wallet.run(&["verify"]).await.ok();
    assert!(
        verified.stdout.starts_with("OK"),
        "offline, every kept note, consistency and inclusion proof holds: {verified:?}"
    );
    let all = held_len + 4;
    assert!(
        verified
            .stdout
            .contains(&format!("all {all} history entries verify")),
        "{verified:?}"
    );
    // A receipt of a leaf proven in an older checkpoint is rebuilt against the latest one.
    let out = s.wallet.dir().join("first.testigo-receipt");
    let oldest = first["history"][0]["inclusion"]["index"]
        .as_u64()
        .expect("index");
    s.wallet
        .run(&[
            "proof",
            &oldest.to_string(),
            "--out",
            out.to_str().expect("path"),
        ])
        .await
        .ok();
    s.wallet
        .run(&["verify-proof", out.to_str().expect("path")])
        .await
        .ok();
}

/// Rewrites each history page with `f`.
fn rewrite_pages(
    f: impl Fn(&mut serde_json::Value) + Send + Sync + 'static,
) -> impl Fn(&str, &[u8]) -> Option<Vec<u8>> + Send + Sync + 'static {
    move |path: &str, body: &[u8]| {
        if !path.contains("/history?") {
            return None;
        }
        let mut page: serde_json::Value = serde_json::from_slice(body).ok()?;
        f(&mut page);
        serde_json::to_vec(&page).ok()
    }
}

#[tokio::test]
async fn a_resumed_page_at_the_wrong_position_is_refused_and_nothing_advances() {
    let mut s = Setup::start().await;
    s.access().await;
    let before = s.wallet.trust_state();
    // The new leaf, announced as if it were one further on in the history.
    s.proxy.rewrite(rewrite_pages(|page| {
        let from = page["from"].as_u64().expect("from");
        page["from"] = serde_json::json!(from + 1);
    }));
    let run = s.wallet.run(&["sync"]).await;
    assert_eq!(run.code, 6, "{run:?}");
    assert!(
        run.stderr.contains("the page starts at history position"),
        "{run:?}"
    );
    assert_eq!(s.wallet.trust_state(), before, "trust.json is unchanged");
}

#[tokio::test]
async fn a_resumed_page_serving_a_held_leaf_again_is_refused_and_nothing_advances() {
    let mut s = Setup::start().await;
    s.access().await;
    let before = s.wallet.trust_state();
    let last_held = held(&before)["history"]
        .as_array()
        .expect("history")
        .last()
        .cloned()
        .expect("a held leaf");
    let last_index = last_held["inclusion"]["index"].as_u64().expect("index");
    // The last held leaf again in place of the new one, at the position after the held ones.
    s.proxy.rewrite(rewrite_pages(move |page| {
        page["entries"] = serde_json::json!([last_held.clone()]);
    }));
    let run = s.wallet.run(&["sync"]).await;
    assert_eq!(run.code, 6, "{run:?}");
    assert!(
        run.stderr
            .contains(&format!("not after the last held leaf {last_index}")),
        "{run:?}"
    );
    assert_eq!(s.wallet.trust_state(), before, "trust.json is unchanged");
}

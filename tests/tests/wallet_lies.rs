//! More lying nodes between a wallet and a real log (a primary and a witness): a stale
//! checkpoint, one older than the trusted one, one inconsistent with it, and an account record
//! for another checkpoint. Each is refused with its reason, and `trust.json` stays as it was.

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

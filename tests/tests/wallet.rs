//! The wallet end to end: real nodes (a primary and a witness), real wallets run in-process, and
//! a lying proxy between a wallet and the node.

use testigo_tests::cluster::Cluster;
use testigo_tests::fixtures::{Party, deposit, enroll, register, settle};
use testigo_tests::lying_node::Proxy;
use testigo_tests::wallet::{Wallet, operator_submits, witnessed_cluster};

#[tokio::test]
async fn the_whole_story_is_seen_verified_in_human_and_json_output() {
    let cluster = witnessed_cluster().await;
    let url = cluster.primary.client.base().to_owned();
    let mut operator = Party::operator();
    let (subject, buyer1, buyer2) = (Wallet::new(), Wallet::new(), Wallet::new());
    let me = subject.init_tofu(&url).await;
    let b1 = buyer1.init_tofu(&url).await;
    let b2 = buyer2.init_tofu(&url).await;
    operator_submits(&cluster, &operator.entry(enroll(me))).await;
    for b in [b1, b2] {
        operator_submits(&cluster, &operator.entry(register(b))).await;
        operator_submits(&cluster, &operator.entry(deposit(b, 1_000, "wire"))).await;
    }
    let grant = subject
        .json(&[
            "consent",
            "grant",
            "--any",
            "--category",
            "pd:Location",
            "--purpose",
            "dpv:ResearchAndDevelopment",
            "--price",
            "0.50",
        ])
        .await;
    let consent = grant["index"].as_u64().expect("grant index");
    let consent_arg = consent.to_string();
    let access = [
        "access",
        "--subject",
        &me.to_base64(),
        "--category",
        "pd:Location",
        "--purpose",
        "dpv:ResearchAndDevelopment",
    ];
    let first = buyer1.json(&access).await;
    assert_eq!(first["price"], 50);
    buyer2.json(&access).await;
    subject.json(&["consent", "revoke", &consent_arg]).await;
    let mut named = access.to_vec();
    named.extend(["--consent", &consent_arg]);
    let refused = buyer1.run(&named).await;
    assert_eq!(
        refused.code, 3,
        "refused by the node after the revocation: {refused:?}"
    );
    assert!(refused.stderr.contains("consent_revoked"), "{refused:?}");

    let balance = subject.json(&["balance"]).await;
    let fee = u64::from(cluster.primary.client.log().await.expect("log").fee_bps);
    let earned_each = 50 - 50 * fee / 10_000;
    assert_eq!(balance["earned"], 2 * earned_each);
    assert_eq!(balance["balance"], 2 * earned_each);
    let claim = subject
        .json(&[
            "claim",
            "0.10",
            "--payout-ref",
            "IBAN ES91 2100 0418 4502 0005 1332",
        ])
        .await;
    let claim_index = claim["index"].as_u64().expect("claim index");
    operator_submits(&cluster, &operator.entry(settle(claim_index, "SEPA-42"))).await;

    let history = subject.json(&["history"]).await;
    let entries = history["entries"].as_array().expect("entries");
    let kinds: Vec<&str> = entries
        .iter()
        .map(|e| e["kind"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        kinds,
        [
            "enroll_subject",
            "grant_consent",
            "access",
            "access",
            "revoke_consent",
            "claim",
            "payout_settled"
        ],
        "{history}"
    );
    let accessors: Vec<String> = entries
        .iter()
        .filter(|e| e["kind"] == "access")
        .map(|e| e["accessor"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(accessors, [b1.to_base64(), b2.to_base64()]);
    let only_b2 = subject
        .json(&["history", "--accessor", &b2.to_base64()])
        .await;
    assert_eq!(only_b2["entries"].as_array().map(Vec::len), Some(1));

    let human = subject.run(&["history"]).await.ok();
    assert!(human.stdout.contains("used where your phone was for research and development, under your consent (Art. 6(1)(a))"), "{}", human.stdout);
    assert!(
        human.stdout.contains("7 entries shown, all verified"),
        "{}",
        human.stdout
    );
    let balance = subject.json(&["balance"]).await;
    assert_eq!(balance["settled_payouts"], 10);
    assert_eq!(balance["claims"][0]["paid"], true);
    let text = subject.run(&["balance"]).await.ok().stdout;
    assert!(text.contains("paid out      0.10 EUR"), "{text}");
    let verified = subject.run(&["verify"]).await.ok();
    assert!(
        verified.stdout.contains("all 7 history entries verify"),
        "{verified:?}"
    );
    let received = buyer1.json(&["consents-received"]).await;
    assert_eq!(
        received["consents"][0]["source"], "node_says",
        "a grant to anyone is the node's word"
    );
}

#[tokio::test]
async fn a_wrong_passphrase_is_a_clear_error_and_changes_nothing() {
    let cluster = witnessed_cluster().await;
    let wallet = Wallet::new();
    wallet.init_tofu(cluster.primary.client.base()).await;
    let before = wallet.trust_state();
    let wrong = wallet.path("wrong");
    std::fs::write(&wrong, "not it\n").expect("write");
    let run = wallet
        .run_with_passphrase(
            &["export", wallet.path("backup.age").to_str().expect("path")],
            &wrong,
        )
        .await;
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("wrong passphrase"), "{run:?}");
    assert!(!wallet.path("backup.age").exists());
    assert_eq!(wallet.trust_state(), before);
    let again = wallet
        .run(&["init", "--tofu", "--node", cluster.primary.client.base()])
        .await;
    assert_eq!(again.code, 1, "a second init refuses: {again:?}");
}

/// Sets up a wallet behind a proxy with an enrolled subject that has two accesses, synced once,
/// then two more accesses the wallet has not fetched: a sync resumes with only those, so they
/// are what a lying node can tamper with.
async fn lied_to() -> (Cluster, Proxy, Wallet) {
    let cluster = witnessed_cluster().await;
    let proxy = Proxy::start(cluster.primary.client.base()).await;
    let mut operator = Party::operator();
    let wallet = Wallet::new();
    let me = wallet.init_tofu(&proxy.url()).await;
    operator_submits(&cluster, &operator.entry(enroll(me))).await;
    let grant = wallet
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
    let consent = grant["index"].as_u64().expect("index");
    for round in 0..2 {
        for _ in 0..2 {
            let leaf =
                operator.entry(testigo_tests::fixtures::Use::consented(me, consent, 0).body());
            operator_submits(&cluster, &leaf).await;
        }
        if round == 0 {
            wallet.json(&["sync"]).await;
        }
    }
    (cluster, proxy, wallet)
}

#[tokio::test]
async fn a_node_that_omits_alters_or_withholds_the_quorum_is_caught_and_nothing_advances() {
    let (_cluster, proxy, wallet) = lied_to().await;
    let trusted = wallet.trust_state();
    let history = |f: fn(&mut serde_json::Value)| {
        move |path: &str, body: &[u8]| {
            if !path.contains("/history") {
                return None;
            }
            let mut page: serde_json::Value = serde_json::from_slice(body).ok()?;
            f(&mut page);
            serde_json::to_vec(&page).ok()
        }
    };
    // Omit an access.
    proxy.rewrite(history(|p| {
        p["entries"].as_array_mut().expect("entries").pop();
    }));
    let run = wallet.run(&["history"]).await;
    assert_eq!(run.code, 6, "{run:?}");
    assert!(run.stderr.contains("INTEGRITY FAILURE"), "{run:?}");
    // Add one (a copy of the first leaf in place of nothing).
    proxy.rewrite(history(|p| {
        let entries = p["entries"].as_array_mut().expect("entries");
        let extra = entries[0].clone();
        entries.push(extra);
    }));
    assert_eq!(wallet.run(&["history"]).await.code, 6);
    // Alter a price: flip the last byte of the last leaf (the access's price varint).
    proxy.rewrite(history(|p| {
        let entries = p["entries"].as_array_mut().expect("entries");
        let last = entries.last_mut().expect("a leaf");
        let mut leaf = base64_decode(last["leaf"].as_str().expect("leaf"));
        *leaf.last_mut().expect("bytes") ^= 1;
        last["leaf"] = serde_json::json!(base64_encode(&leaf));
    }));
    let run = wallet.run(&["balance"]).await;
    assert_eq!(run.code, 6, "{run:?}");
    // A checkpoint without the witness's cosignature.
    proxy.rewrite(|path: &str, body: &[u8]| {
        if path != "/v1/checkpoint" {
            return None;
        }
        let note = String::from_utf8(body.to_vec()).ok()?;
        let mut lines: Vec<&str> = note.lines().collect();
        lines.retain(|l| !l.starts_with("— witness"));
        Some(format!("{}\n", lines.join("\n")).into_bytes())
    });
    let run = wallet.run(&["sync"]).await;
    assert_eq!(run.code, 7, "{run:?}");
    assert!(
        run.stderr.contains("not witnessed by the quorum"),
        "{run:?}"
    );
    assert_eq!(
        wallet.trust_state(),
        trusted,
        "the trusted state did not advance"
    );
    proxy.honest();
    wallet.run(&["verify"]).await.ok();
}

#[tokio::test]
async fn a_conflicting_signed_checkpoint_is_saved_as_evidence() {
    let (cluster, proxy, wallet) = lied_to().await;
    let trusted = wallet.trust_state();
    let state: serde_json::Value = serde_json::from_slice(&trusted).expect("json");
    let note = state["trusted"]["note"].as_str().expect("note").to_owned();
    let size: u64 = note.lines().nth(1).expect("size").parse().expect("size");
    let forged = testigo_ledger::checkpoint::Checkpoint::new(
        testigo_tests::fixtures::ORIGIN.to_owned(),
        size,
        testigo_ledger::Hash([7; 32]),
    )
    .expect("checkpoint");
    let signed =
        testigo_ledger::checkpoint::sign_checkpoint(&forged, &cluster.primary.operator).to_string();
    proxy.rewrite(move |path: &str, _| {
        (path == "/v1/checkpoint").then(|| signed.clone().into_bytes())
    });
    let run = wallet.run(&["sync"]).await;
    assert_eq!(run.code, 6, "{run:?}");
    assert!(run.stderr.contains("SPLIT VIEW"), "{run:?}");
    let evidence = wallet.evidence();
    assert_eq!(evidence.len(), 1);
    let saved: testigo_ledger::checkpoint::Evidence =
        serde_json::from_slice(&std::fs::read(&evidence[0]).expect("read")).expect("evidence");
    let log = cluster.primary.client.log().await.expect("log");
    saved
        .verify(&log.origin, &log.log_key)
        .expect("the audit tool's check holds");
    assert_eq!(wallet.trust_state(), trusted);
}

#[tokio::test]
async fn a_wallet_stopped_mid_sync_keeps_a_state_verify_accepts() {
    let (_cluster, proxy, wallet) = lied_to().await;
    let before = wallet.trust_state();
    proxy.stall("/v1/accounts/");
    let wallet = std::sync::Arc::new(wallet);
    let running = {
        let wallet = wallet.clone();
        tokio::spawn(async move { wallet.run(&["sync"]).await })
    };
    proxy.stalled().await;
    running.abort();
    let _ = running.await;
    proxy.honest();
    assert_eq!(wallet.trust_state(), before, "the old state is whole");
    let verified = wallet.run(&["verify"]).await.ok();
    assert!(verified.stdout.starts_with("OK"), "{verified:?}");
}

fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .expect("base64")
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

//! The wallet's receipts, `watch`, batch submission and data export, end to end: real nodes (a
//! primary and a witness) and real wallets run in-process.

use testigo_tests::cluster::Cluster;
use testigo_tests::fixtures::{Party, Use, enroll};
use testigo_tests::wallet::{Wallet, operator_submits, witnessed_cluster};

/// A subject enrolled with one consent (to anyone, location for ads, free); returns its index.
async fn enrolled_with_consent(
    cluster: &Cluster,
    operator: &mut Party,
    wallet: &Wallet,
) -> (testigo_ledger::PublicKey, u64) {
    let me = wallet.init_tofu(cluster.primary.client.base()).await;
    operator_submits(cluster, &operator.entry(enroll(me))).await;
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
    (me, grant["index"].as_u64().expect("grant index"))
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

#[tokio::test]
async fn a_receipt_of_a_revocation_and_the_access_after_it_verifies_offline_and_tampering_is_named()
{
    let cluster = witnessed_cluster().await;
    let mut operator = Party::operator();
    let wallet = Wallet::new();
    let (me, consent) = enrolled_with_consent(&cluster, &mut operator, &wallet).await;
    operator_submits(
        &cluster,
        &operator.entry(Use::consented(me, consent, 0).body()),
    )
    .await;
    let revoked = wallet
        .json(&["consent", "revoke", &consent.to_string()])
        .await["index"]
        .as_u64()
        .expect("revocation index");
    let after = operator_submits(
        &cluster,
        &operator.entry(Use::legitimate_interest(me, 0).body()),
    )
    .await;
    let file = wallet.path("revoked-then-used.testigo-receipt");
    let written = wallet
        .json(&[
            "proof",
            &revoked.to_string(),
            &after.to_string(),
            "--out",
            file.to_str().expect("path"),
        ])
        .await;
    assert_eq!(written["entries"].as_array().map(Vec::len), Some(2));

    // With the wallet's pinned log.
    let checked = wallet
        .json(&["verify-proof", file.to_str().expect("path")])
        .await;
    let kinds: Vec<&str> = checked["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| e["kind"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(kinds, ["revoke_consent", "access"], "{checked}");
    assert_eq!(
        checked["entries"][1]["legal_basis"],
        "dpv:LegitimateInterest"
    );
    assert_eq!(checked["witnessed_by"][0], "witness0.test");

    // By someone with no wallet at all: the log key alone.
    let log = cluster.primary.client.log().await.expect("log");
    let stranger = Wallet::new();
    let human = stranger
        .run(&[
            "verify-proof",
            file.to_str().expect("path"),
            "--log-key",
            &log.log_key.to_base64(),
        ])
        .await
        .ok();
    assert!(
        human.stdout.starts_with("OK: 2 entries"),
        "{}",
        human.stdout
    );
    assert!(human.stdout.contains("consent"), "{}", human.stdout);

    // And by the regulator's audit tool, with the log it trusts.
    let audited = testigo_audit::check::receipt(
        &file,
        &testigo_audit::check::Trusted {
            origin: log.origin.clone(),
            log_key: log.log_key,
            genesis_leaf: None,
        },
    )
    .expect("the audit tool verifies the wallet's receipt");
    assert_eq!(
        audited.entries,
        [
            (revoked, "revoke_consent".to_owned()),
            (after, "access".to_owned())
        ]
    );

    // A changed byte in the access (its price) is caught, naming the entry.
    let text = std::fs::read_to_string(&file).expect("read");
    let tampered: String = text
        .lines()
        .map(|line| match line.strip_prefix(&format!("entry {after} ")) {
            Some(leaf) => {
                let mut bytes = base64_decode(leaf);
                *bytes.last_mut().expect("a byte") ^= 1;
                format!("entry {after} {}\n", base64_encode(&bytes))
            }
            None => format!("{line}\n"),
        })
        .collect();
    let bad = wallet.path("tampered.testigo-receipt");
    std::fs::write(&bad, &tampered).expect("write");
    let run = wallet
        .run(&["verify-proof", bad.to_str().expect("path")])
        .await;
    assert_eq!(run.code, 6, "{run:?}");
    assert!(
        run.stderr
            .contains(&format!("entry {after} is not included in the checkpoint")),
        "{run:?}"
    );
    // With --json the same failure is one JSON line on standard error.
    let run = wallet
        .run(&["verify-proof", bad.to_str().expect("path"), "--json"])
        .await;
    assert_eq!(run.code, 6, "{run:?}");
    let error: serde_json::Value = serde_json::from_str(run.stderr.trim()).expect("JSON error");
    assert_eq!(error["error"]["kind"], "integrity");
    assert_eq!(error["error"]["exit_code"], 6);
    assert!(run.stdout.is_empty(), "{run:?}");
    // A checkpoint without the witness's cosignature lacks the quorum.
    let unwitnessed: String = text
        .lines()
        .filter(|l| !l.starts_with("— witness"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&bad, &unwitnessed).expect("write");
    let run = wallet
        .run(&["verify-proof", bad.to_str().expect("path")])
        .await;
    assert_eq!(run.code, 6, "{run:?}");
    assert!(run.stderr.contains("checkpoint:"), "{run:?}");
    // Another log's key.
    let other = testigo_tests::fixtures::public(&testigo_tests::fixtures::key(200));
    let run = stranger
        .run(&[
            "verify-proof",
            file.to_str().expect("path"),
            "--log-key",
            &other.to_base64(),
        ])
        .await;
    assert_eq!(run.code, 6, "{run:?}");
    assert!(run.stderr.contains("trusted log key"), "{run:?}");

    // An entry that is not in the wallet's history is refused before anything is written.
    let nope = wallet.path("nope.testigo-receipt");
    let run = wallet
        .run(&["proof", "999999", "--out", nope.to_str().expect("path")])
        .await;
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains("not in your verified history"),
        "{run:?}"
    );
    assert!(!nope.exists());
}

#[tokio::test]
async fn watch_prints_each_new_access_verified_and_reconnects_after_a_node_restart() {
    let mut cluster = witnessed_cluster().await;
    let mut operator = Party::operator();
    let wallet = Wallet::new();
    let (me, consent) = enrolled_with_consent(&cluster, &mut operator, &wallet).await;
    let watch = wallet.spawn(&["watch", "--json", "--count", "2"]);
    watch.stderr_has("watching for new accesses", 1).await;

    let first = operator_submits(
        &cluster,
        &operator.entry(Use::consented(me, consent, 0).body()),
    )
    .await;
    let witnessed_at = std::time::Instant::now();
    watch.stdout_has(&format!("\"index\":{first},"), 1).await;
    eprintln!(
        "access {first} printed {} ms after its witnessed checkpoint was announced to the submitter",
        witnessed_at.elapsed().as_millis()
    );

    // The node goes away and comes back where it was; the watch finds it by itself.
    cluster.primary = cluster.primary.restart_in_place().await;
    watch.stderr_has("reconnected to", 1).await;
    let second = operator_submits(
        &cluster,
        &operator.entry(Use::legitimate_interest(me, 0).body()),
    )
    .await;
    let run = watch.finish().await;
    assert_eq!(run.code, 0, "{run:?}");
    let lines: Vec<serde_json::Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    assert_eq!(lines.len(), 2, "{run:?}");
    assert_eq!(lines[0]["index"], first);
    assert_eq!(lines[1]["index"], second);
    assert_eq!(lines[1]["legal_basis"], "dpv:LegitimateInterest");
    assert!(lines.iter().all(|l| l["verified"] == true));
    assert!(run.stderr.contains("ended; reconnecting"), "{run:?}");
    // What it printed is what it verified: the trusted state holds both.
    wallet.run(&["verify"]).await.ok();
}

#[tokio::test]
async fn a_batch_file_is_submitted_with_progress_and_every_line_is_accepted_or_refused_by_name() {
    use testigo_tests::fixtures::{deposit, register};
    let cluster = witnessed_cluster().await;
    let url = cluster.primary.client.base().to_owned();
    let mut operator = Party::operator();
    let (subject, buyer) = (Wallet::new(), Wallet::new());
    let me = subject.init_tofu(&url).await;
    let b = buyer.init_tofu(&url).await;
    operator_submits(&cluster, &operator.entry(enroll(me))).await;
    operator_submits(&cluster, &operator.entry(register(b))).await;
    // Enough for two accesses at 0.10, not three.
    operator_submits(&cluster, &operator.entry(deposit(b, 25, "wire"))).await;
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
            "0.10",
        ])
        .await["index"]
        .as_u64()
        .expect("grant");
    let key = me.to_base64();
    let request = |category: &str, consent: Option<u64>| {
        let mut v = serde_json::json!({"subject": key, "category": category, "purpose": "dpv:ResearchAndDevelopment"});
        if let Some(c) = consent {
            v["consent"] = serde_json::json!(c);
        }
        v.to_string()
    };
    let file = buyer.path("requests.jsonl");
    let text = [
        request("pd:Location", None),                  // 1 accepted
        "not json".to_owned(),                         // 2 bad line
        request("pd:CallLog", None),                   // 3 no consent covers it
        request("pd:Location", Some(grant + 1000)),    // 4 no such consent
        request("pd:Location", Some(grant)),           // 5 accepted
        String::new(),                                 // 6 blank: skipped
        format!(r#"{{"subject": "{key}", "category": "pd:Location", "purpose": "dpv:ResearchAndDevelopment", "price": 0}}"#), // 7 unknown field
        request("pd:Location", None),                  // 8 refused by the node: no funds left
    ]
    .join("\n");
    std::fs::write(&file, text).expect("write");
    let run = buyer
        .run(&[
            "access-batch",
            file.to_str().expect("path"),
            "--chunk",
            "2",
            "--json",
        ])
        .await;
    assert_eq!(run.code, 3, "some lines were refused: {run:?}");
    let summary = run.json();
    assert_eq!(summary["lines"], 7, "{summary}");
    assert_eq!(summary["accepted"], 2, "{summary}");
    assert_eq!(summary["refused"], 5, "{summary}");
    assert_eq!(summary["spent"], 20);
    let by_line: Vec<(u64, String, String)> = summary["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| {
            (
                r["line"].as_u64().expect("line"),
                r["status"].as_str().expect("status").to_owned(),
                r["code"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let expected = [
        (1, "accepted", ""),
        (2, "refused", "bad_line"),
        (3, "refused", "no_consent"),
        (4, "refused", "no_consent"),
        (5, "accepted", ""),
        (7, "refused", "bad_line"),
        (8, "refused", "insufficient_funds"),
    ];
    assert_eq!(
        by_line,
        expected
            .iter()
            .map(|(l, s, c)| (*l, (*s).to_owned(), (*c).to_owned()))
            .collect::<Vec<_>>()
    );
    // Progress came chunk by chunk on standard error.
    assert!(
        run.stderr.contains("6/7 lines: 2 accepted, 4 refused"),
        "{run:?}"
    );
    assert!(
        run.stderr.contains("7/7 lines: 2 accepted, 5 refused"),
        "{run:?}"
    );
    // Both accepted accesses are in the subject's verified history.
    let history = subject
        .json(&["history", "--accessor", &b.to_base64()])
        .await;
    assert_eq!(history["entries"].as_array().map(Vec::len), Some(2));
    // A file of good lines only exits 0, in words.
    std::fs::write(&file, request("pd:Location", None)).expect("write");
    operator_submits(&cluster, &operator.entry(deposit(b, 10, "wire"))).await;
    let ok = buyer
        .run(&["access-batch", file.to_str().expect("path")])
        .await
        .ok();
    assert!(
        ok.stdout
            .starts_with("1 of 1 accesses accepted and verified"),
        "{ok:?}"
    );
}

#[tokio::test]
async fn the_gdpr_export_names_every_recipient_and_gives_each_consent_as_a_27560_record() {
    use testigo_tests::fixtures::register;
    let cluster = witnessed_cluster().await;
    let mut operator = Party::operator();
    let (subject, buyer) = (Wallet::new(), Wallet::new());
    let (me, consent) = enrolled_with_consent(&cluster, &mut operator, &subject).await;
    let b = buyer.init_tofu(cluster.primary.client.base()).await;
    operator_submits(&cluster, &operator.entry(register(b))).await;
    buyer
        .json(&[
            "access",
            "--subject",
            &me.to_base64(),
            "--category",
            "pd:Location",
            "--purpose",
            "dpv:PersonalisedAdvertising",
        ])
        .await;
    operator_submits(
        &cluster,
        &operator.entry(Use::legitimate_interest(me, 0).body()),
    )
    .await;
    subject
        .json(&["consent", "revoke", &consent.to_string()])
        .await;

    let out = subject.path("my-data.json");
    let written = subject
        .json(&["export-data", "--out", out.to_str().expect("path")])
        .await;
    assert_eq!(written["recipients"], 2, "{written}");
    let export: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&out).expect("read")).expect("JSON");
    assert_eq!(export["format"], "testigo.gdpr-export/v1");
    assert_eq!(export["data_subject"]["key"], me.to_base64());
    let log = cluster.primary.client.log().await.expect("log");
    let mut recipients: Vec<(String, String, u64)> = export["recipients"]
        .as_array()
        .expect("recipients")
        .iter()
        .map(|r| {
            (
                r["key"].as_str().expect("key").to_owned(),
                r["role"].as_str().expect("role").to_owned(),
                r["accesses"].as_u64().expect("count"),
            )
        })
        .collect();
    recipients.sort();
    let mut expected = vec![
        (b.to_base64(), "accessor".to_owned(), 1),
        (log.log_key.to_base64(), "operator".to_owned(), 1),
    ];
    expected.sort();
    assert_eq!(recipients, expected, "{export}");
    assert_eq!(export["processing"].as_array().map(Vec::len), Some(2));
    assert!(
        export["processing"]
            .as_array()
            .expect("processing")
            .iter()
            .all(|p| p["recipient"]["key"].is_string() && p["proof"]["log_index"].is_u64())
    );
    let records = export["consent_records"].as_array().expect("records");
    assert_eq!(records.len(), 1);
    let record = &records[0];
    assert_eq!(record["pii_principal_id"], me.to_base64());
    assert_eq!(record["consent_status"], "dpv:ConsentWithdrawn");
    assert_eq!(record["consent_type"], "dpv:ExplicitlyExpressedConsent");
    assert_eq!(
        record["processing"][0]["pii_categories"][0]["category"],
        "pd:Location"
    );
    assert_eq!(
        record["processing"][0]["purposes"][0]["purpose"],
        "dpv:PersonalisedAdvertising"
    );
    let events: Vec<&str> = record["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["event"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(events, ["dpv:ConsentGiven", "dpv:ConsentWithdrawn"]);
    assert_eq!(record["events"][0]["proof"]["log_index"], consent);
    assert!(
        record["record_id"]
            .as_str()
            .expect("id")
            .ends_with(&format!("#consent-{consent}"))
    );
    // The same export offline, to standard output; an existing file is never overwritten.
    let offline = subject.json(&["export-data", "--offline"]).await;
    assert_eq!(offline["recipients"], export["recipients"]);
    let again = subject
        .run(&["export-data", "--out", out.to_str().expect("path")])
        .await;
    assert_eq!(again.code, 1, "{again:?}");
}

//! The regulator's report on real logs, rendered in a real browser: a simulated day audits with
//! no findings and its page shows every chart without a console error; a log in which an
//! accessor uses location data for advertising on legitimate interest shows that finding.

use std::path::Path;

use testigo_audit::regulator::{Audit, Auditor, Finding, Options};
use testigo_audit::report::{CHART_TITLES, write_report};
use testigo_ledger::api::Wait;
use testigo_ledger::entry::{DataCategory, Leaf, LegalBasis, Purpose};
use testigo_node::simulate::{SimulateConfig, run};
use testigo_tests::browser::{Browser, output_dir};
use testigo_tests::cluster::TestNode;
use testigo_tests::fixtures::{Party, Use, deposit, enroll, register};
use testigo_tests::probe::Probe as _;

/// Every leaf the node stores, audited by the regulator's replay.
async fn audit(node: &TestNode) -> Audit {
    let size = node.tree_size().await;
    let mut auditor = Auditor::new(Options::default());
    for (i, bytes) in node.leaves(0, size).await.iter().enumerate() {
        auditor.push(i as u64, Leaf::from_bytes(bytes).expect("a leaf"));
    }
    auditor.finish()
}

/// Writes the report into `dir`, opens it, and checks that it renders: a screenshot, every
/// chart, no console error. Returns the browser on the page.
async fn render(audit: &Audit, dir: &Path) -> Browser {
    let (_, html) = write_report(audit, dir, "report").expect("the report is written");
    let browser = Browser::start().await;
    browser.open_file(&html).await;
    let png = browser.screenshot(&dir.join("report.png")).await;
    assert!(
        png > 10_000,
        "a {png}-byte screenshot is too small to show a report"
    );
    assert_eq!(browser.count("figure.chart svg").await, CHART_TITLES.len());
    assert_eq!(browser.texts("figure.chart figcaption").await, CHART_TITLES);
    // Drawn, not empty: every chart has its axes' labels as SVG text.
    assert!(browser.count("figure.chart svg text").await > 6 * CHART_TITLES.len());
    assert_eq!(browser.console_errors().await, Vec::<String>::new());
    browser
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_simulated_day_audits_clean_and_its_report_renders_in_chromium() {
    let node = TestNode::start().await;
    let config = SimulateConfig {
        node: format!("http://{}", node.addr),
        data_dir: node.config.data_dir.clone(),
        subjects: 20,
        accessors: 3,
        hours: 12,
        seed: 11,
        rate: 0.5,
    };
    let summary = run(&config).await.expect("the simulation runs");
    assert!(summary.mismatches.is_empty(), "{:?}", summary.mismatches);

    let audit = audit(&node).await;
    assert_eq!(audit.findings, Vec::<Finding>::new());
    assert_eq!(audit.log.replayed, audit.log.leaves);
    assert!(audit.log.accesses > 20, "{} accesses", audit.log.accesses);
    let (paid, fees) = summary.paid_and_fees();
    assert_eq!((audit.fees.paid, audit.fees.charged), (paid, fees));

    let dir = output_dir("report-simulated-day");
    let browser = render(&audit, &dir).await;
    assert_eq!(browser.count("#no-findings").await, 1);
    assert_eq!(browser.count(".finding").await, 0);
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn location_for_ads_without_consent_shows_on_the_page() {
    let node = TestNode::start().await;
    let client = &node.client;
    let mut operator = Party::operator();
    let alice = Party::fresh(10);
    let mut acme = Party::fresh(20);
    for body in [
        operator.entry(enroll(alice.public())),
        operator.entry(register(acme.public())),
        operator.entry(deposit(acme.public(), 1_000, "wire 1")),
    ] {
        client.sequence(&body, Wait::Sequenced).await;
    }
    let misuse = Use {
        subject: alice.public(),
        category: DataCategory::Location,
        purpose: Purpose::PersonalisedAdvertising,
        legal_basis: LegalBasis::LegitimateInterest,
        consent: None,
        price: 10,
    };
    let index = client
        .sequence(&acme.entry(misuse.body()), Wait::Checkpointed)
        .await
        .index;

    let audit = audit(&node).await;
    assert_eq!(audit.findings.len(), 1, "{:?}", audit.findings);
    assert!(matches!(
        audit.findings[0],
        Finding::EprivacyWithoutConsent { index: i, .. } if i == index
    ));
    let dir = output_dir("report-eprivacy-finding");
    let browser = render(&audit, &dir).await;
    assert_eq!(browser.count("#no-findings").await, 0);
    assert_eq!(
        browser.texts(".finding").await,
        ["eprivacy_without_consent"]
    );
    browser.close().await;
}

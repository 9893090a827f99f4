//! Logs that have and lack each finding, built leaf by leaf through the ledger's `Engine` (so
//! every clean log is one the sequencer would write), and forged where a finding can only come
//! from a log the sequencer would refuse.

use std::collections::BTreeMap;

use ed25519_dalek::SigningKey;
use testigo_ledger::PublicKey;
use testigo_ledger::entry::{
    Access, Body, Claim, DataCategory, Deposit, EnrollSubject, Genesis, GrantConsent, Leaf,
    LegalBasis, PayoutSettled, Purpose, RegisterAccessor, RevokeConsent, sign_body,
};
use testigo_ledger::hash::Hash;
use testigo_ledger::map::SparseMap;
use testigo_ledger::state::Engine;

use super::{Audit, Auditor, Finding, Options};

const ORIGIN: &str = "testigo.test/regulator";
const DAY: u64 = 86_400_000;

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

fn public(key: &SigningKey) -> PublicKey {
    PublicKey(key.verifying_key().to_bytes())
}

/// A log written through the engine, one leaf at a time, a `StateRoot` after each.
struct Log {
    engine: Engine<SparseMap>,
    leaves: Vec<Leaf>,
    nonces: BTreeMap<PublicKey, u64>,
    now: u64,
    operator: SigningKey,
}

impl Log {
    fn new(fee_bps: u16) -> Self {
        let operator = key(1);
        let mut log = Self {
            engine: Engine::new(SparseMap::new()),
            leaves: Vec::new(),
            nonces: BTreeMap::new(),
            now: 1_800_000_000_000,
            operator: operator.clone(),
        };
        log.sign(&operator, |nonce| {
            Body::Genesis(Genesis {
                nonce,
                origin: ORIGIN.into(),
                log_key: public(&operator),
                fee_bps,
                currency: "EUR".into(),
                decimals: 2,
                witnesses: Vec::new(),
                quorum: 0,
                regulators: Vec::new(),
                operator_salt: [9; 32],
            })
        });
        log
    }

    fn sign(&mut self, signer: &SigningKey, body: impl FnOnce(u64) -> Body) -> u64 {
        let leaf = self.signed(signer, body);
        let index = self.leaves.len() as u64;
        self.engine
            .apply(&leaf, leaf.sequenced_at)
            .unwrap_or_else(|e| panic!("leaf {index} refused: {e}"));
        self.leaves.push(leaf);
        let (root, _) = self
            .engine
            .append_state_root(&self.operator, self.now)
            .expect("state root");
        self.leaves.push(root);
        index
    }

    fn signed(&mut self, signer: &SigningKey, body: impl FnOnce(u64) -> Body) -> Leaf {
        let nonce = self.nonces.entry(public(signer)).or_default();
        let leaf = sign_body(ORIGIN, signer, &body(*nonce)).sequenced(self.now);
        *nonce += 1;
        leaf
    }

    /// Appends a leaf the engine would refuse, as a forger would.
    fn forge(&mut self, signer: &SigningKey, body: impl FnOnce(u64) -> Body) -> u64 {
        let leaf = self.signed(signer, body);
        self.leaves.push(leaf);
        self.leaves.len() as u64 - 1
    }

    fn later(&mut self, ms: u64) {
        self.now += ms;
    }

    fn operator(&mut self, body: impl FnOnce(u64) -> Body) -> u64 {
        let operator = self.operator.clone();
        self.sign(&operator, body)
    }

    fn enroll(&mut self, subject: &SigningKey) {
        let subject = public(subject);
        self.operator(|nonce| {
            Body::EnrollSubject(EnrollSubject {
                nonce,
                subject,
                salt: [3; 32],
            })
        });
    }

    fn register(&mut self, accessor: &SigningKey, amount: u64) {
        let accessor = public(accessor);
        self.operator(|nonce| {
            Body::RegisterAccessor(RegisterAccessor {
                nonce,
                accessor,
                display_name: "Acme Ads Ltd".into(),
                legal_entity_id: "5493001KJTIIGC8Y1R12".into(),
                salt: [4; 32],
            })
        });
        self.operator(|nonce| {
            Body::Deposit(Deposit {
                nonce,
                accessor,
                amount,
                reference: "wire 1".into(),
            })
        });
    }

    fn grant(&mut self, subject: &SigningKey, price: u64) -> u64 {
        self.sign(subject, |nonce| {
            Body::GrantConsent(GrantConsent {
                nonce,
                accessor: None,
                categories: vec![DataCategory::Location],
                purposes: vec![Purpose::PersonalisedAdvertising],
                price,
                valid_from: 0,
                valid_until: None,
            })
        })
    }

    fn audit(&self, options: Options) -> Audit {
        let mut auditor = Auditor::new(options);
        for (i, leaf) in self.leaves.iter().enumerate() {
            auditor.push(i as u64, leaf.clone());
        }
        auditor.finish()
    }
}

fn access(
    subject: &SigningKey,
    consent: Option<u64>,
    basis: LegalBasis,
    price: u64,
) -> impl FnOnce(u64) -> Body {
    let subject = public(subject);
    move |nonce| {
        Body::Access(Access {
            nonce,
            subject,
            category: DataCategory::Location,
            purpose: Purpose::PersonalisedAdvertising,
            legal_basis: basis,
            consent,
            price,
        })
    }
}

fn revoke(consent: u64) -> impl FnOnce(u64) -> Body {
    move |nonce| Body::RevokeConsent(RevokeConsent { nonce, consent })
}

/// A subject, an accessor with funds, a grant and one access under it.
fn world(fee_bps: u16) -> (Log, SigningKey, SigningKey, u64) {
    let (subject, accessor) = (key(10), key(20));
    let mut log = Log::new(fee_bps);
    log.enroll(&subject);
    log.register(&accessor, 10_000);
    let consent = log.grant(&subject, 100);
    log.later(1_000);
    log.sign(
        &accessor,
        access(&subject, Some(consent), LegalBasis::Consent, 100),
    );
    (log, subject, accessor, consent)
}

fn kinds(audit: &Audit) -> Vec<&'static str> {
    audit.findings.iter().map(Finding::kind).collect()
}

#[test]
fn a_clean_log_has_no_findings_and_counts_everything() {
    let (log, _, _, _) = world(500);
    let audit = log.audit(Options::default());
    assert_eq!(kinds(&audit), Vec::<&str>::new());
    assert_eq!(audit.log.leaves, log.leaves.len() as u64);
    assert_eq!(audit.log.replayed, log.leaves.len() as u64);
    assert_eq!(audit.log.accesses, 1);
    assert_eq!(
        (
            audit.fees.paid,
            audit.fees.charged,
            audit.fees.effective_bps
        ),
        (100, 5, 500)
    );
    assert_eq!(audit.charts.by_category.total(), 1);
    assert_eq!(audit.charts.by_basis.total(), 1);
    // Deposits 10,000; earnings 95; fees 5.
    assert_eq!(audit.charts.money.total(), 10_100);
    assert_eq!(audit.charts.consents.total(), 1);
}

#[test]
fn an_honoured_revocation_is_listed_with_its_last_access_before_it() {
    let (mut log, subject, _, consent) = world(0);
    log.later(5_000);
    let revoked_at = log.sign(&subject, revoke(consent));
    let audit = log.audit(Options::default());
    assert_eq!(kinds(&audit), Vec::<&str>::new());
    let r = &audit.revocations[0];
    assert_eq!(
        (r.consent, r.revoked_at, r.accesses_after),
        (consent, revoked_at, 0)
    );
    assert_eq!(r.last_access_after_revocation_ms, Some(-5_000));
}

#[test]
fn an_access_after_revocation_is_found_with_its_delay() {
    let (mut log, subject, accessor, consent) = world(0);
    let revoked_at = log.sign(&subject, revoke(consent));
    log.later(7_000);
    let access = log.forge(
        &accessor,
        access(&subject, Some(consent), LegalBasis::Consent, 100),
    );
    let audit = log.audit(Options::default());
    assert_eq!(kinds(&audit), ["revocation_not_honoured", "rule_violation"]);
    match &audit.findings[0] {
        Finding::RevocationNotHonoured {
            consent: c,
            revoked_at: r,
            access: a,
            delay_ms,
            ..
        } => assert_eq!(
            (*c, *r, *a, *delay_ms),
            (consent, revoked_at, access, 7_000)
        ),
        other => panic!("{other:?}"),
    }
    match &audit.findings[1] {
        Finding::RuleViolation { index, reason } => {
            assert_eq!(*index, access);
            assert!(reason.contains("revoked"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(audit.log.replayed, access);
    assert_eq!(audit.revocations[0].accesses_after, 1);
}

#[test]
fn location_for_ads_on_legitimate_interest_is_an_eprivacy_finding() {
    let (mut log, subject, accessor, _) = world(0);
    let index = log.sign(
        &accessor,
        access(&subject, None, LegalBasis::LegitimateInterest, 0),
    );
    let audit = log.audit(Options::default());
    assert_eq!(kinds(&audit), ["eprivacy_without_consent"]);
    assert!(
        matches!(audit.findings[0], Finding::EprivacyWithoutConsent { index: i, .. } if i == index)
    );
    assert_eq!(audit.non_consent.len(), 1);
    assert_eq!(
        audit.non_consent[0].legal_basis,
        LegalBasis::LegitimateInterest
    );
    assert_eq!(audit.non_consent[0].accessor, public(&accessor));
    assert_eq!(audit.non_consent[0].article, "Art. 6(1)(f)");
}

#[test]
fn a_legal_obligation_is_listed_by_basis_but_is_no_finding() {
    let (mut log, subject, accessor, _) = world(0);
    log.sign(
        &accessor,
        access(&subject, None, LegalBasis::LegalObligation, 0),
    );
    log.sign(
        &accessor,
        access(&subject, None, LegalBasis::LegalObligation, 0),
    );
    let audit = log.audit(Options::default());
    assert_eq!(kinds(&audit), Vec::<&str>::new());
    assert_eq!(audit.non_consent[0].accesses, 2);
}

#[test]
fn the_operators_own_uses_are_listed_apart() {
    let (mut log, subject, _, _) = world(0);
    let operator = public(&log.operator);
    log.operator(|nonce| {
        Body::Deposit(Deposit {
            nonce,
            accessor: operator,
            amount: 50,
            reference: "own budget".into(),
        })
    });
    let subject_key = public(&subject);
    log.operator(|nonce| {
        Body::Access(Access {
            nonce,
            subject: subject_key,
            category: DataCategory::CallLog,
            purpose: Purpose::FraudPreventionAndDetection,
            legal_basis: LegalBasis::LegitimateInterest,
            consent: None,
            price: 0,
        })
    });
    let audit = log.audit(Options::default());
    assert_eq!(kinds(&audit), Vec::<&str>::new());
    assert_eq!(audit.operator_accesses, 1);
    assert_eq!(audit.operator_uses[0].category, "pd:CallLog");
    assert_eq!(
        audit.operator_uses[0].purpose,
        "dpv:FraudPreventionAndDetection"
    );
    // The accessor's consented access is not the operator's.
    assert_eq!(audit.log.accesses, 2);
}

fn claim(amount: u64) -> impl FnOnce(u64) -> Body {
    move |nonce| {
        Body::Claim(Claim {
            nonce,
            amount,
            payout_ref: Hash([7; 32]),
        })
    }
}

fn settle(claim: u64) -> impl FnOnce(u64) -> Body {
    move |nonce| {
        Body::PayoutSettled(PayoutSettled {
            nonce,
            claim,
            settlement_ref: "sepa 1".into(),
        })
    }
}

#[test]
fn payouts_within_the_deadline_are_listed_and_late_ones_found() {
    let (mut log, subject, _, _) = world(0);
    let quick = log.sign(&subject, claim(30));
    log.later(2 * DAY);
    log.operator(settle(quick));
    let slow = log.sign(&subject, claim(30));
    log.later(40 * DAY);
    log.operator(settle(slow));
    let pending = log.sign(&subject, claim(40));
    log.later(31 * DAY);
    log.operator(|nonce| {
        Body::Deposit(Deposit {
            nonce,
            accessor: public(&key(20)),
            amount: 1,
            reference: "wire 2".into(),
        })
    });
    let audit = log.audit(Options::default());
    assert_eq!(kinds(&audit), ["payout_late", "payout_late"]);
    assert!(
        matches!(audit.findings[0], Finding::PayoutLate { claim, settled_at_ms: Some(_), delay_ms, .. } if claim == slow && delay_ms == 40 * DAY)
    );
    assert!(
        matches!(audit.findings[1], Finding::PayoutLate { claim, settled_at_ms: None, delay_ms, .. } if claim == pending && delay_ms == 31 * DAY)
    );
    let c = &audit.claims;
    assert_eq!(
        (c.paid, c.paid_amount, c.pending, c.pending_amount),
        (2, 60, 1, 40)
    );
    assert_eq!(
        (c.delay_min_ms, c.delay_max_ms),
        (Some(2 * DAY), Some(40 * DAY))
    );
    // A longer deadline: nothing late.
    let lenient = log.audit(Options {
        payout_deadline_ms: 60 * DAY,
        ..Options::default()
    });
    assert_eq!(kinds(&lenient), Vec::<&str>::new());
}

#[test]
fn fees_match_genesis_and_round_down() {
    let (mut log, subject, accessor, consent) = world(333);
    log.sign(
        &accessor,
        access(&subject, Some(consent), LegalBasis::Consent, 101),
    );
    let audit = log.audit(Options::default());
    assert_eq!(kinds(&audit), Vec::<&str>::new());
    // floor(100 × 3.33%) + floor(101 × 3.33%) = 3 + 3.
    assert_eq!((audit.fees.paid, audit.fees.charged), (201, 6));
    assert!(audit.fees.effective_bps <= 333);
}

#[test]
fn a_forged_signature_stops_the_replay_at_its_index() {
    let (mut log, subject, accessor, consent) = world(0);
    let mut leaf = log.signed(
        &accessor,
        access(&subject, Some(consent), LegalBasis::Consent, 100),
    );
    leaf.signature[0] ^= 1;
    log.leaves.push(leaf);
    let bad = log.leaves.len() as u64 - 1;
    let audit = log.audit(Options::default());
    assert_eq!(kinds(&audit), ["rule_violation"]);
    assert!(
        matches!(&audit.findings[0], Finding::RuleViolation { index, reason } if *index == bad && reason.contains("signature"))
    );
}

#[test]
fn a_subject_report_counts_only_that_subjects_data() {
    let (mut log, subject, accessor, _) = world(0);
    let other = key(11);
    log.enroll(&other);
    let theirs = log.grant(&other, 1);
    log.sign(
        &accessor,
        access(&other, Some(theirs), LegalBasis::Consent, 1),
    );
    log.sign(
        &accessor,
        access(&other, None, LegalBasis::LegitimateInterest, 0),
    );
    let mine = log.audit(Options {
        subject: Some(public(&subject)),
        ..Options::default()
    });
    assert_eq!(mine.log.accesses, 1);
    assert_eq!(kinds(&mine), Vec::<&str>::new());
    assert_eq!(mine.charts.consents.total(), 1);
    let theirs = log.audit(Options {
        subject: Some(public(&other)),
        ..Options::default()
    });
    assert_eq!(theirs.log.accesses, 2);
    assert_eq!(kinds(&theirs), ["eprivacy_without_consent"]);
}

#[test]
fn the_report_has_every_chart_and_shows_the_findings() {
    let (mut log, subject, accessor, _) = world(250);
    log.sign(
        &accessor,
        access(&subject, None, LegalBasis::LegitimateInterest, 0),
    );
    let audit = log.audit(Options::default());
    let html = crate::report::render_html(&audit).unwrap();
    assert_eq!(
        html.matches("<svg").count(),
        crate::report::CHART_TITLES.len()
    );
    for title in crate::report::CHART_TITLES {
        assert!(
            html.contains(&format!("<figcaption>{title}</figcaption>")),
            "{title}"
        );
    }
    assert!(html.contains("eprivacy_without_consent"));
    assert!(
        !html.contains("src=") && !html.contains("href="),
        "the page fetches nothing"
    );
    let dir = tempfile::tempdir().unwrap();
    let (json, page) = crate::report::write_report(&audit, dir.path(), "report").unwrap();
    let parsed: serde_json::Value = serde_json::from_slice(&std::fs::read(json).unwrap()).unwrap();
    assert_eq!(parsed["findings"][0]["kind"], "eprivacy_without_consent");
    assert_eq!(parsed["fees"]["fee_bps"], 250);
    assert_eq!(std::fs::read_to_string(page).unwrap(), html);

    let (clean, _, _, _) = world(250);
    let html = crate::report::render_html(&clean.audit(Options::default())).unwrap();
    assert!(html.contains("id=\"no-findings\""));
}

#[test]
fn a_synthetic_log_replays_whole_and_its_money_matches_the_builders_engine() {
    use testigo_ledger::synth::{Item, SynthConfig, build};
    let (builder, items) = build(SynthConfig::default(), 3_000);
    let mut auditor = Auditor::new(Options::default());
    for item in items {
        if let Item::Leaf { index, leaf } = item {
            auditor.push(index, leaf);
        }
    }
    let audit = auditor.finish();
    assert_eq!(audit.log.replayed, builder.size());
    assert!(
        !audit.finding_counts.contains_key("rule_violation"),
        "{:?}",
        audit.finding_counts
    );
    let state = builder.engine().state();
    let fees: u64 = state.accounts().map(|(_, a)| a.fees).sum();
    assert_eq!(audit.fees.charged, fees);
    // Every listed finding is counted, and no kind lists more than the cap.
    for (kind, n) in &audit.finding_counts {
        let listed = audit.findings.iter().filter(|f| f.kind() == kind).count() as u64;
        assert_eq!(listed, (*n).min(super::MAX_LISTED as u64), "{kind}");
    }
}

#[test]
fn bytes_that_are_no_leaf_stop_the_replay_at_their_index() {
    let (log, _, _, _) = world(0);
    let mut auditor = Auditor::new(Options::default());
    for (i, leaf) in log.leaves.iter().enumerate() {
        auditor.push_bytes(i as u64, &leaf.to_bytes());
    }
    let bad = log.leaves.len() as u64;
    auditor.push_bytes(bad, b"\x01 not a leaf");
    let audit = auditor.finish();
    assert_eq!(kinds(&audit), ["rule_violation"]);
    assert!(matches!(audit.findings[0], Finding::RuleViolation { index, .. } if index == bad));
    assert_eq!(audit.log.replayed, bad);
}

#[test]
fn an_archived_log_audits_like_the_leaves_it_holds() {
    use testigo_ledger::archive::{ArchiveReader, ArchiveWriter};
    let (mut log, subject, accessor, _) = world(100);
    log.sign(
        &accessor,
        access(&subject, None, LegalBasis::LegitimateInterest, 0),
    );
    let mut writer = ArchiveWriter::new(Vec::new()).unwrap();
    for (i, leaf) in log.leaves.iter().enumerate() {
        writer.write_leaf(i as u64, &leaf.to_bytes()).unwrap();
    }
    let bytes = writer.into_inner();
    let mut reader = ArchiveReader::new(&bytes[..]).unwrap();
    let records = std::iter::from_fn(|| reader.next_record().unwrap());
    let from_archive = super::audit_records(records, Options::default());
    let direct = log.audit(Options::default());
    assert_eq!(from_archive.findings, direct.findings);
    assert_eq!(kinds(&from_archive), ["eprivacy_without_consent"]);
    assert_eq!(from_archive.log.replayed, log.leaves.len() as u64);
}

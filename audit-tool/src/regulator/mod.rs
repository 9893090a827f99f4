//! What a regulator asks beyond the sequencer's rules (issue 11 point 4, `docs/AUDIT.md`).
//!
//! An [`Auditor`] is fed the log's leaves in order, replays them with the ledger's [`Engine`]
//! (signatures batched under the one validity predicate, every rule, every `StateRoot`), and
//! reads each accepted leaf's body and [`Effects`] to answer: was every revocation honoured,
//! which accesses used a basis other than consent, were location and traffic data used for
//! marketing without consent, what did the operator use for itself, were fees the `Genesis` fee,
//! and how long did payouts take. Its memory grows with the number of consents, claims, accessors
//! and time buckets, never with the number of accesses; long listings are capped at
//! [`MAX_LISTED`] rows with a count of the rest.
//!
//! The first leaf the engine refuses ends the replay (a `rule_violation` finding): the state
//! after it is not the log's, so money and counts stop there. The revocation check alone goes on
//! over the remaining leaves' bodies, because an access under a revoked consent is exactly what
//! an operator forging its log would add.

mod activity;
pub mod eprivacy;
mod findings;
mod summary;

use std::collections::BTreeMap;

use testigo_ledger::PublicKey;
use testigo_ledger::entry::signature::verify_leaves;
use testigo_ledger::entry::{Access, Body, BodyKind, Leaf, LegalBasis};
use testigo_ledger::map::{SparseMap, StateMap};
use testigo_ledger::state::{Effects, Engine, EngineError, Rejection};

pub use activity::{CONSENTS, MONEY, Series};
pub use findings::{Finding, duration};
pub use summary::{
    Audit, BasisUse, ChartData, ClaimRow, Claims, Fees, LogSummary, OperatorUse, Party, Revocation,
};

use activity::Activity;

/// Rows kept in each listing; the rest are counted.
pub const MAX_LISTED: usize = 1_000;

/// How many leaves share one batch signature verification.
const VERIFY_BATCH: usize = 256;

/// What the audit is asked.
#[derive(Clone, Debug)]
pub struct Options {
    /// Only this subject's data (GDPR Art. 15): counts, money and findings that concern it.
    pub subject: Option<PublicKey>,
    /// A claim paid later than this, or pending longer, is a `payout_late` finding.
    pub payout_deadline_ms: u64,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            subject: None,
            payout_deadline_ms: 30 * 86_400_000,
        }
    }
}

/// One consent as the revocation check follows it.
#[derive(Clone, Debug)]
struct ConsentTrack {
    subject: PublicKey,
    accessor: Option<PublicKey>,
    revoked: Option<(u64, u64)>,
    last_access: Option<(u64, u64)>,
    accesses_after: u64,
}

/// One claim as the payout check follows it.
#[derive(Clone, Debug)]
struct ClaimTrack {
    subject: PublicKey,
    amount: u64,
    at_ms: u64,
    settled_ms: Option<u64>,
}

/// Replays a log and gathers what the report shows. Feed it with [`Auditor::push`] in index
/// order from 0, then [`Auditor::finish`].
#[derive(Debug)]
pub struct Auditor {
    options: Options,
    engine: Engine<SparseMap>,
    pending: Vec<(u64, Leaf)>,
    next: u64,
    /// The first refused leaf; the engine is not used after it.
    stopped: Option<u64>,
    last_ms: u64,
    first_ms: Option<u64>,
    findings: Vec<Finding>,
    /// Findings by kind, counting those past the listing cap.
    finding_counts: BTreeMap<&'static str, u64>,
    consents: BTreeMap<u64, ConsentTrack>,
    claims: BTreeMap<u64, ClaimTrack>,
    names: BTreeMap<PublicKey, Party>,
    non_consent: BTreeMap<(LegalBasis, PublicKey), (u64, u64)>,
    operator_uses: BTreeMap<(String, String, String), (u64, u64)>,
    operator_total: u64,
    fees: Fees,
    activity: Activity,
    accesses: u64,
}

impl Auditor {
    /// An auditor before the genesis leaf.
    pub fn new(options: Options) -> Self {
        Self {
            options,
            engine: Engine::new(SparseMap::new()),
            pending: Vec::with_capacity(VERIFY_BATCH),
            next: 0,
            stopped: None,
            last_ms: 0,
            first_ms: None,
            findings: Vec::new(),
            finding_counts: BTreeMap::new(),
            consents: BTreeMap::new(),
            claims: BTreeMap::new(),
            names: BTreeMap::new(),
            non_consent: BTreeMap::new(),
            operator_uses: BTreeMap::new(),
            operator_total: 0,
            fees: Fees::default(),
            activity: Activity::default(),
            accesses: 0,
        }
    }

    /// Takes the leaf bytes at `index` as a source gives them: bytes that are not one leaf
    /// envelope end the replay there, like any other broken rule.
    pub fn push_bytes(&mut self, index: u64, bytes: &[u8]) {
        match Leaf::from_bytes(bytes) {
            Ok(leaf) => self.push(index, leaf),
            Err(e) => {
                self.flush();
                if self.stopped.is_none() {
                    self.stop(index, format!("not a leaf: {e}"));
                }
                self.next = index.saturating_add(1);
            }
        }
    }

    /// Takes the leaf at `index`; leaves are applied in verification batches.
    pub fn push(&mut self, index: u64, leaf: Leaf) {
        if index != self.next && self.stopped.is_none() {
            self.flush();
            self.stop(
                index,
                format!("leaf index {index} given where {} was due", self.next),
            );
        }
        self.next = index.saturating_add(1);
        self.pending.push((index, leaf));
        if self.pending.len() >= VERIFY_BATCH || self.engine.state().params().is_none() {
            self.flush();
        }
    }

    /// The findings so far, in the order found (the payout deadline is checked by
    /// [`Auditor::finish`] only).
    pub fn findings(&self) -> &[Finding] {
        &self.findings
    }

    /// How many leaves were pushed.
    pub fn leaves(&self) -> u64 {
        self.next
    }

    /// Applies the leaves waiting for a verification batch now (the monitor does this at each
    /// checkpoint, so its findings are up to date).
    pub fn flush(&mut self) {
        let batch = std::mem::take(&mut self.pending);
        let origin = self.engine.state().params().map(|p| p.origin.clone());
        let verdicts = match (&origin, self.stopped) {
            (Some(origin), None) => {
                let refs: Vec<&Leaf> = batch.iter().map(|(_, l)| l).collect();
                verify_leaves(origin, &refs)
                    .into_iter()
                    .map(|v| v.is_ok())
                    .collect()
            }
            // Before the genesis the engine checks the one leaf strictly itself.
            _ => vec![true; batch.len()],
        };
        for ((index, leaf), signature_ok) in batch.into_iter().zip(verdicts) {
            self.take(index, &leaf, signature_ok, origin.is_some());
        }
        self.pending = Vec::with_capacity(VERIFY_BATCH);
    }

    fn take(&mut self, index: u64, leaf: &Leaf, signature_ok: bool, preverified: bool) {
        let body = leaf.decode_body().ok();
        if self.stopped.is_some() {
            if let Some(Body::Access(a)) = &body {
                self.check_revocation(index, leaf, a);
            }
            return;
        }
        if !signature_ok {
            let reason = Rejection::BadSignature {
                signer: leaf.signer,
            };
            self.stop(index, reason.to_string());
            return;
        }
        let result = if preverified {
            self.engine.apply_preverified(leaf, leaf.sequenced_at)
        } else {
            self.engine.apply(leaf, leaf.sequenced_at)
        };
        match result {
            Ok(effects) => {
                if let Some(body) = body {
                    self.observe(index, leaf, &body, &effects);
                }
                if effects.kind == BodyKind::StateRoot {
                    self.prune();
                }
            }
            Err(e) => {
                if let Some(Body::Access(a)) = &body {
                    self.check_revocation(index, leaf, a);
                }
                let reason = match e {
                    EngineError::Rejected(r) => r.to_string(),
                    EngineError::Map(m) => format!("state map: {m}"),
                    // The monitor's state is whole: nothing is ever missing.
                    EngineError::NotResident(n) => format!("state: {n}"),
                };
                self.stop(index, reason);
            }
        }
    }

    /// Old map versions are never read again: memory stays flat in the log's length.
    fn prune(&mut self) {
        let map = self.engine.map_mut();
        if let Ok(Some(latest)) = map.latest_version() {
            // A prune failure only costs memory; the roots already matched.
            let _ = map.prune(latest);
        }
    }

    fn stop(&mut self, index: u64, reason: String) {
        self.stopped = Some(index);
        self.record(Finding::RuleViolation { index, reason });
    }

    /// Keeps a finding that concerns the report's subject (all of them without one; a broken
    /// log always), listing at most [`MAX_LISTED`] of each kind.
    fn record(&mut self, finding: Finding) {
        let concerns = match (&self.options.subject, &finding) {
            (None, _) | (_, Finding::RuleViolation { .. }) => true,
            (Some(s), f) => f.names(s),
        };
        if !concerns {
            return;
        }
        let count = self.finding_counts.entry(finding.kind()).or_default();
        *count += 1;
        if *count <= MAX_LISTED as u64 {
            self.findings.push(finding);
        }
    }

    fn focused(&self, effects: &Effects) -> bool {
        self.options
            .subject
            .is_none_or(|s| effects.involved.contains(&s))
    }

    fn observe(&mut self, index: u64, leaf: &Leaf, body: &Body, effects: &Effects) {
        let at = leaf.sequenced_at;
        self.last_ms = at;
        let focused = self.focused(effects);
        if focused && body.kind() != BodyKind::Genesis {
            self.first_ms.get_or_insert(at);
        }
        match body {
            Body::Genesis(g) => {
                self.fees.fee_bps = g.fee_bps;
                self.names.insert(
                    g.log_key,
                    Party {
                        key: g.log_key,
                        role: "operator".into(),
                        name: "operator".into(),
                        legal_entity_id: String::new(),
                    },
                );
            }
            Body::RegisterAccessor(r) => {
                self.names.insert(
                    r.accessor,
                    Party {
                        key: r.accessor,
                        role: "accessor".into(),
                        name: r.display_name.clone(),
                        legal_entity_id: r.legal_entity_id.clone(),
                    },
                );
            }
            Body::Deposit(d) if focused => self.activity.at(at).money[0] += d.amount,
            Body::GrantConsent(g) => {
                self.consents.insert(
                    index,
                    ConsentTrack {
                        subject: leaf.signer,
                        accessor: g.accessor,
                        revoked: None,
                        last_access: None,
                        accesses_after: 0,
                    },
                );
                if focused {
                    self.activity.at(at).consents[0] += 1;
                }
            }
            Body::RevokeConsent(r) => {
                if let Some(track) = self.consents.get_mut(&r.consent) {
                    track.revoked = Some((index, at));
                }
                if focused {
                    self.activity.at(at).consents[1] += 1;
                }
            }
            Body::Access(a) => self.observe_access(index, leaf, a, effects, focused),
            Body::Claim(c) => {
                self.claims.insert(
                    index,
                    ClaimTrack {
                        subject: leaf.signer,
                        amount: c.amount,
                        at_ms: at,
                        settled_ms: None,
                    },
                );
                if focused {
                    self.activity.at(at).money[3] += c.amount;
                }
            }
            Body::PayoutSettled(p) => {
                if let Some(claim) = self.claims.get_mut(&p.claim) {
                    claim.settled_ms = Some(at);
                    let amount = claim.amount;
                    if focused {
                        self.activity.at(at).money[4] += amount;
                    }
                }
            }
            _ => {}
        }
    }

    fn observe_access(
        &mut self,
        index: u64,
        leaf: &Leaf,
        a: &Access,
        effects: &Effects,
        focused: bool,
    ) {
        let at = leaf.sequenced_at;
        let accessor = leaf.signer;
        self.check_revocation(index, leaf, a);
        if eprivacy::needs_consent_but_lacks_it(a.category, a.purpose, a.legal_basis) {
            self.record(Finding::EprivacyWithoutConsent {
                index,
                at_ms: at,
                accessor,
                subject: a.subject,
                category: a.category,
                purpose: a.purpose,
                legal_basis: a.legal_basis,
            });
        }
        if let Some(payment) = effects.payment {
            let expected =
                u64::try_from(u128::from(payment.price) * u128::from(self.fees.fee_bps) / 10_000)
                    .unwrap_or(u64::MAX);
            if payment.fee != expected {
                self.record(Finding::FeeMismatch {
                    index,
                    price: payment.price,
                    fee: payment.fee,
                    expected,
                });
            }
        }
        if !focused {
            return;
        }
        self.accesses += 1;
        let (price, fee) = effects.payment.map_or((0, 0), |p| (p.price, p.fee));
        self.fees.paid = self.fees.paid.saturating_add(price);
        self.fees.charged = self.fees.charged.saturating_add(fee);
        if price > 0 {
            self.fees.paid_accesses += 1;
        }
        let tally = self.activity.at(at);
        tally.by_category[position(a.category, testigo_ledger::entry::DataCategory::ALL)] += 1;
        tally.by_purpose[position(a.purpose, testigo_ledger::entry::Purpose::ALL)] += 1;
        tally.by_basis[position(a.legal_basis, LegalBasis::ALL)] += 1;
        *tally.by_accessor.entry(accessor).or_default() += 1;
        tally.money[1] += price - fee;
        tally.money[2] += fee;
        if a.legal_basis != LegalBasis::Consent {
            let slot = self
                .non_consent
                .entry((a.legal_basis, accessor))
                .or_default();
            slot.0 += 1;
            slot.1 = slot.1.saturating_add(price);
        }
        let operator = self.engine.state().params().map(|p| p.log_key);
        if operator == Some(accessor) {
            self.operator_total += 1;
            let key = (
                a.category.to_string(),
                a.purpose.to_string(),
                a.legal_basis.to_string(),
            );
            let slot = self.operator_uses.entry(key).or_default();
            slot.0 += 1;
            slot.1 = slot.1.saturating_add(price);
        }
    }

    /// An access citing a consent revoked by an earlier leaf; otherwise the consent's last access.
    fn check_revocation(&mut self, index: u64, leaf: &Leaf, a: &Access) {
        let Some(track) = a.consent.and_then(|c| self.consents.get_mut(&c)) else {
            return;
        };
        let at = leaf.sequenced_at;
        match track.revoked {
            Some((revoked_at, revoked_at_ms)) if revoked_at < index => {
                track.accesses_after += 1;
                track.last_access = Some((index, at));
                let subject = track.subject;
                self.record(Finding::RevocationNotHonoured {
                    consent: a.consent.unwrap_or_default(),
                    subject,
                    accessor: leaf.signer,
                    revoked_at,
                    revoked_at_ms,
                    access: index,
                    access_ms: at,
                    delay_ms: at.saturating_sub(revoked_at_ms),
                });
            }
            _ => track.last_access = Some((index, at)),
        }
    }

    /// Ends the replay and gives the report's data.
    pub fn finish(mut self) -> Audit {
        self.flush();
        summary::build(self)
    }
}

/// Audits a log given as archive records (leaves and checkpoints, in log order, from an archive
/// or a node): the leaves are replayed, the checkpoints are the `replay` command's business.
pub fn audit_records(
    records: impl IntoIterator<Item = testigo_ledger::archive::Record>,
    options: Options,
) -> Audit {
    let mut auditor = Auditor::new(options);
    for record in records {
        if let testigo_ledger::archive::Record::Leaf { index, bytes } = record {
            auditor.push_bytes(index, &bytes);
        }
    }
    auditor.finish()
}

fn position<T: PartialEq>(value: T, all: &[T]) -> usize {
    all.iter().position(|v| *v == value).unwrap_or(0)
}

#[cfg(test)]
mod tests;

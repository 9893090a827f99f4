//! The report's data ([`Audit`]): what the JSON holds and the HTML page draws.

use std::collections::BTreeMap;

use serde::Serialize;
use testigo_ledger::PublicKey;
use testigo_ledger::entry::{DataCategory, LegalBasis, Purpose};

use super::activity::{CONSENTS, MONEY, Series};
use super::{Auditor, ClaimTrack, Finding, MAX_LISTED};

/// Buckets per chart.
const CHART_BUCKETS: usize = 48;
/// Accessors charted by name; the rest are summed as `others`.
const CHART_ACCESSORS: usize = 8;

/// Everything the report shows.
#[derive(Clone, Debug, Serialize)]
pub struct Audit {
    /// The log and how far the replay went.
    pub log: LogSummary,
    /// Everything found wrong, at most [`MAX_LISTED`] of each kind; empty for a clean log.
    pub findings: Vec<Finding>,
    /// How many findings of each kind, listed or not.
    pub finding_counts: BTreeMap<String, u64>,
    /// Every revoked consent and its last access.
    pub revocations: Vec<Revocation>,
    /// Accesses on a basis other than consent, by basis and accessor.
    pub non_consent: Vec<BasisUse>,
    /// The operator's own uses, by category, purpose and basis.
    pub operator_uses: Vec<OperatorUse>,
    /// Total accesses the operator made itself.
    pub operator_accesses: u64,
    /// Fees charged against the `Genesis` fee.
    pub fees: Fees,
    /// Claims paid and pending.
    pub claims: Claims,
    /// The accessors (and the operator) by key.
    pub parties: Vec<Party>,
    /// The charts' data.
    pub charts: ChartData,
}

/// The log and the replay.
#[derive(Clone, Debug, Serialize)]
pub struct LogSummary {
    /// The log's origin, from `Genesis` (empty without one).
    pub origin: String,
    /// Currency and its decimals.
    pub currency: String,
    /// Minor units per major unit, as a power of ten.
    pub decimals: u8,
    /// Leaves read.
    pub leaves: u64,
    /// Leaves the engine accepted (all of them for a valid log).
    pub replayed: u64,
    /// Accesses counted (to the subject's data only, for a subject report).
    pub accesses: u64,
    /// First and last `sequenced_at` counted, Unix ms.
    pub first_ms: Option<u64>,
    /// See `first_ms`.
    pub last_ms: u64,
    /// The subject of a per-subject report.
    pub subject: Option<PublicKey>,
}

/// A revoked consent.
#[derive(Clone, Debug, Serialize)]
pub struct Revocation {
    /// The grant's leaf index.
    pub consent: u64,
    /// Who granted and revoked it.
    pub subject: PublicKey,
    /// The accessor it named (`None`: any).
    pub accessor: Option<PublicKey>,
    /// The `RevokeConsent` leaf.
    pub revoked_at: u64,
    /// Its `sequenced_at`.
    pub revoked_at_ms: u64,
    /// The last access under the consent: (index, `sequenced_at`).
    pub last_access: Option<(u64, u64)>,
    /// Last access minus revocation, ms: negative when the revocation was honoured.
    pub last_access_after_revocation_ms: Option<i64>,
    /// Accesses under it after its revocation (0 when honoured).
    pub accesses_after: u64,
}

/// Accesses by one accessor on one basis other than consent.
#[derive(Clone, Debug, Serialize)]
pub struct BasisUse {
    /// The basis.
    pub legal_basis: LegalBasis,
    /// Its GDPR article, e.g. `Art. 6(1)(f)`.
    pub article: String,
    /// Who.
    pub accessor: PublicKey,
    /// How many accesses.
    pub accesses: u64,
    /// Their prices, summed.
    pub paid: u64,
}

/// The operator's own uses of one kind.
#[derive(Clone, Debug, Serialize)]
pub struct OperatorUse {
    /// Data category.
    pub category: String,
    /// Purpose.
    pub purpose: String,
    /// Legal basis.
    pub legal_basis: String,
    /// How many accesses.
    pub accesses: u64,
    /// Their prices, summed.
    pub paid: u64,
}

/// Fees charged.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Fees {
    /// The fee in `Genesis`, basis points.
    pub fee_bps: u16,
    /// Prices paid, summed.
    pub paid: u64,
    /// Fees charged, summed.
    pub charged: u64,
    /// Accesses with a price above zero.
    pub paid_accesses: u64,
    /// `charged / paid` in basis points (rounded down); at or just under `fee_bps` when every
    /// fee is right, since each fee is rounded down.
    pub effective_bps: u64,
}

/// Claims and payouts.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Claims {
    /// Claims paid, and their amount.
    pub paid: u64,
    /// See `paid`.
    pub paid_amount: u64,
    /// Claims pending at the end of the log, and their amount.
    pub pending: u64,
    /// See `pending`.
    pub pending_amount: u64,
    /// Payout delays of paid claims, ms: shortest, median, longest.
    pub delay_min_ms: Option<u64>,
    /// See `delay_min_ms`.
    pub delay_median_ms: Option<u64>,
    /// See `delay_min_ms`.
    pub delay_max_ms: Option<u64>,
    /// The first claims, by index.
    pub listed: Vec<ClaimRow>,
    /// Claims not listed.
    pub more: u64,
}

/// One claim.
#[derive(Clone, Debug, Serialize)]
pub struct ClaimRow {
    /// The `Claim` leaf.
    pub claim: u64,
    /// Who.
    pub subject: PublicKey,
    /// How much.
    pub amount: u64,
    /// When, Unix ms.
    pub claimed_at_ms: u64,
    /// When paid, if.
    pub settled_at_ms: Option<u64>,
}

/// An accessor, or the operator.
#[derive(Clone, Debug, Serialize)]
pub struct Party {
    /// Its key.
    pub key: PublicKey,
    /// `operator` or `accessor`.
    pub role: String,
    /// Display name.
    pub name: String,
    /// Legal entity identifier.
    pub legal_entity_id: String,
}

/// The series behind each chart.
#[derive(Clone, Debug, Serialize)]
pub struct ChartData {
    /// Accesses per data category.
    pub by_category: Series,
    /// Accesses per purpose.
    pub by_purpose: Series,
    /// Accesses per legal basis.
    pub by_basis: Series,
    /// Accesses per accessor (the busiest by name, the rest as `others`).
    pub by_accessor: Series,
    /// Deposits, earnings, fees, claims, payouts.
    pub money: Series,
    /// Consents granted and revoked.
    pub consents: Series,
}

fn terms<T: std::fmt::Display>(all: &[T]) -> Vec<String> {
    all.iter().map(ToString::to_string).collect()
}

fn charts(auditor: &Auditor) -> ChartData {
    let a = &auditor.activity;
    let top: Vec<PublicKey> = a
        .accessor_totals()
        .into_iter()
        .take(CHART_ACCESSORS)
        .map(|(k, _)| k)
        .collect();
    let mut accessor_names: Vec<String> = top
        .iter()
        .map(|k| {
            auditor
                .names
                .get(k)
                .map_or_else(|| k.to_string(), |p| p.name.clone())
        })
        .collect();
    accessor_names.push("others".into());
    let by_accessor = a.series(CHART_BUCKETS, &accessor_names, |t| {
        let mut values: Vec<u64> = top
            .iter()
            .map(|k| t.by_accessor.get(k).copied().unwrap_or(0))
            .collect();
        let others = t
            .by_accessor
            .iter()
            .filter(|(k, _)| !top.contains(k))
            .map(|(_, n)| *n)
            .sum();
        values.push(others);
        values
    });
    let names = |all: &[&str]| all.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    ChartData {
        by_category: a.series(CHART_BUCKETS, &terms(DataCategory::ALL), |t| {
            t.by_category.to_vec()
        }),
        by_purpose: a.series(CHART_BUCKETS, &terms(Purpose::ALL), |t| {
            t.by_purpose.to_vec()
        }),
        by_basis: a.series(CHART_BUCKETS, &terms(LegalBasis::ALL), |t| {
            t.by_basis.to_vec()
        }),
        by_accessor,
        money: a.series(CHART_BUCKETS, &names(&MONEY), |t| t.money.to_vec()),
        consents: a.series(CHART_BUCKETS, &names(&CONSENTS), |t| t.consents.to_vec()),
    }
}

fn claims(auditor: &Auditor, late: &mut Vec<Finding>, late_count: &mut u64) -> Claims {
    let mut out = Claims::default();
    let mut delays = Vec::new();
    let subject = auditor.options.subject;
    for (index, c) in &auditor.claims {
        if subject.is_some_and(|s| s != c.subject) {
            continue;
        }
        let ClaimTrack {
            subject: claimant,
            amount,
            at_ms,
            settled_ms,
        } = c.clone();
        let delay = settled_ms.unwrap_or(auditor.last_ms).saturating_sub(at_ms);
        match settled_ms {
            Some(_) => {
                out.paid += 1;
                out.paid_amount = out.paid_amount.saturating_add(amount);
                delays.push(delay);
            }
            None => {
                out.pending += 1;
                out.pending_amount = out.pending_amount.saturating_add(amount);
            }
        }
        if delay > auditor.options.payout_deadline_ms {
            *late_count += 1;
        }
        if delay > auditor.options.payout_deadline_ms && late.len() < MAX_LISTED {
            late.push(Finding::PayoutLate {
                claim: *index,
                subject: claimant,
                amount,
                claimed_at_ms: at_ms,
                settled_at_ms: settled_ms,
                delay_ms: delay,
            });
        }
        if out.listed.len() < MAX_LISTED {
            out.listed.push(ClaimRow {
                claim: *index,
                subject: claimant,
                amount,
                claimed_at_ms: at_ms,
                settled_at_ms: settled_ms,
            });
        } else {
            out.more += 1;
        }
    }
    delays.sort_unstable();
    out.delay_min_ms = delays.first().copied();
    out.delay_max_ms = delays.last().copied();
    out.delay_median_ms = delays.get(delays.len() / 2).copied();
    out
}

pub(super) fn build(auditor: Auditor) -> Audit {
    let params = auditor.engine.state().params().cloned();
    let subject = auditor.options.subject;
    let (mut late, mut late_count) = (Vec::new(), 0);
    let claims = claims(&auditor, &mut late, &mut late_count);
    let mut findings = auditor.findings.clone();
    findings.extend(late);
    let mut finding_counts: BTreeMap<String, u64> = auditor
        .finding_counts
        .iter()
        .map(|(k, n)| ((*k).to_owned(), *n))
        .collect();
    if late_count > 0 {
        finding_counts.insert("payout_late".into(), late_count);
    }
    let revocations = auditor
        .consents
        .iter()
        .filter(|(_, t)| subject.is_none_or(|s| s == t.subject))
        .filter_map(|(consent, t)| {
            let (revoked_at, revoked_at_ms) = t.revoked?;
            Some(Revocation {
                consent: *consent,
                subject: t.subject,
                accessor: t.accessor,
                revoked_at,
                revoked_at_ms,
                last_access: t.last_access,
                last_access_after_revocation_ms: t.last_access.map(|(_, ms)| {
                    i64::try_from(ms).unwrap_or(i64::MAX)
                        - i64::try_from(revoked_at_ms).unwrap_or(i64::MAX)
                }),
                accesses_after: t.accesses_after,
            })
        })
        .take(MAX_LISTED)
        .collect();
    let non_consent = auditor
        .non_consent
        .iter()
        .map(|((basis, accessor), (n, paid))| BasisUse {
            legal_basis: *basis,
            article: basis.gdpr_article().to_owned(),
            accessor: *accessor,
            accesses: *n,
            paid: *paid,
        })
        .collect();
    let operator_uses = auditor
        .operator_uses
        .iter()
        .map(|((category, purpose, basis), (n, paid))| OperatorUse {
            category: category.clone(),
            purpose: purpose.clone(),
            legal_basis: basis.clone(),
            accesses: *n,
            paid: *paid,
        })
        .collect();
    let mut fees = auditor.fees.clone();
    fees.effective_bps = if fees.paid == 0 {
        0
    } else {
        u64::try_from(u128::from(fees.charged) * 10_000 / u128::from(fees.paid)).unwrap_or(0)
    };
    let replayed = auditor
        .stopped
        .unwrap_or(auditor.engine.state().next_index());
    Audit {
        log: LogSummary {
            origin: params
                .as_ref()
                .map(|p| p.origin.clone())
                .unwrap_or_default(),
            currency: params
                .as_ref()
                .map(|p| p.currency.clone())
                .unwrap_or_default(),
            decimals: params.as_ref().map_or(0, |p| p.decimals),
            leaves: auditor.next,
            replayed,
            accesses: auditor.accesses,
            first_ms: auditor.first_ms,
            last_ms: auditor.last_ms,
            subject,
        },
        findings,
        finding_counts,
        revocations,
        non_consent,
        operator_uses,
        operator_accesses: auditor.operator_total,
        fees,
        claims,
        parties: auditor.names.values().cloned().collect(),
        charts: charts(&auditor),
    }
}

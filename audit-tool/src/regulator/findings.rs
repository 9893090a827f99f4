//! The findings: what the report flags as wrong, each with the evidence a regulator can check
//! against the log (`docs/AUDIT.md` describes each kind).

use serde::{Deserialize, Serialize};
use testigo_ledger::PublicKey;
use testigo_ledger::entry::{DataCategory, LegalBasis, Purpose};

/// One thing found wrong in the log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Finding {
    /// The `Engine` refused a leaf: the log breaks the sequencer's rules from here on.
    RuleViolation {
        /// The refused leaf.
        index: u64,
        /// Why, as the engine says it.
        reason: String,
    },
    /// An access used a consent after the subject had revoked it.
    RevocationNotHonoured {
        /// The grant's leaf index.
        consent: u64,
        /// The subject who revoked it.
        subject: PublicKey,
        /// Who accessed.
        accessor: PublicKey,
        /// The `RevokeConsent` leaf.
        revoked_at: u64,
        /// Its `sequenced_at`.
        revoked_at_ms: u64,
        /// The `Access` leaf.
        access: u64,
        /// Its `sequenced_at`.
        access_ms: u64,
        /// How long after the revocation the access came.
        delay_ms: u64,
    },
    /// Location or traffic data used for marketing or a value-added service without consent
    /// (ePrivacy Art. 6 and 9; `regulator::eprivacy`).
    EprivacyWithoutConsent {
        /// The `Access` leaf.
        index: u64,
        /// Its `sequenced_at`.
        at_ms: u64,
        /// Who accessed.
        accessor: PublicKey,
        /// Whose data.
        subject: PublicKey,
        /// Which data.
        category: DataCategory,
        /// What for.
        purpose: Purpose,
        /// The basis claimed.
        legal_basis: LegalBasis,
    },
    /// An access's fee is not the one `Genesis` fixes.
    FeeMismatch {
        /// The `Access` leaf.
        index: u64,
        /// The price paid.
        price: u64,
        /// The fee taken.
        fee: u64,
        /// `floor(price × fee_bps / 10000)`.
        expected: u64,
    },
    /// A payout took, or has been pending, longer than the deadline.
    PayoutLate {
        /// The `Claim` leaf.
        claim: u64,
        /// Who claimed.
        subject: PublicKey,
        /// How much.
        amount: u64,
        /// The claim's `sequenced_at`.
        claimed_at_ms: u64,
        /// The `PayoutSettled` leaf's `sequenced_at`; `None` while pending.
        settled_at_ms: Option<u64>,
        /// Time to settlement, or from the claim to the log's last leaf while pending.
        delay_ms: u64,
    },
}

impl Finding {
    /// The snake_case kind, as in the JSON.
    pub fn kind(&self) -> &'static str {
        match self {
            Finding::RuleViolation { .. } => "rule_violation",
            Finding::RevocationNotHonoured { .. } => "revocation_not_honoured",
            Finding::EprivacyWithoutConsent { .. } => "eprivacy_without_consent",
            Finding::FeeMismatch { .. } => "fee_mismatch",
            Finding::PayoutLate { .. } => "payout_late",
        }
    }

    /// Whether the finding concerns `key` (as subject, accessor or signer named in it).
    pub fn names(&self, key: &PublicKey) -> bool {
        match self {
            Finding::RuleViolation { .. } | Finding::FeeMismatch { .. } => false,
            Finding::RevocationNotHonoured {
                subject, accessor, ..
            }
            | Finding::EprivacyWithoutConsent {
                subject, accessor, ..
            } => subject == key || accessor == key,
            Finding::PayoutLate { subject, .. } => subject == key,
        }
    }

    /// One line for a terminal or a table cell.
    pub fn describe(&self) -> String {
        match self {
            Finding::RuleViolation { index, reason } => {
                format!("leaf {index} breaks the sequencer's rules: {reason}")
            }
            Finding::RevocationNotHonoured {
                consent,
                revoked_at,
                access,
                delay_ms,
                accessor,
                ..
            } => format!(
                "access {access} by {accessor} used consent {consent} {} after its revocation at leaf {revoked_at}",
                duration(*delay_ms)
            ),
            Finding::EprivacyWithoutConsent {
                index,
                accessor,
                category,
                purpose,
                legal_basis,
                ..
            } => format!(
                "access {index} by {accessor}: {category} for {purpose} on {legal_basis}, without consent (ePrivacy Art. 6/9)"
            ),
            Finding::FeeMismatch {
                index,
                price,
                fee,
                expected,
            } => format!("access {index}: fee {fee} on price {price}, Genesis says {expected}"),
            Finding::PayoutLate {
                claim,
                amount,
                settled_at_ms,
                delay_ms,
                ..
            } => match settled_at_ms {
                Some(_) => format!(
                    "claim {claim} of {amount} paid after {}",
                    duration(*delay_ms)
                ),
                None => format!(
                    "claim {claim} of {amount} pending for {}",
                    duration(*delay_ms)
                ),
            },
        }
    }
}

/// A duration in ms as the largest sensible unit, e.g. `3.5 days`.
pub fn duration(ms: u64) -> String {
    const UNITS: [(u64, &str); 4] = [
        (86_400_000, "days"),
        (3_600_000, "h"),
        (60_000, "min"),
        (1_000, "s"),
    ];
    for (unit, name) in UNITS {
        if ms >= unit {
            // One decimal, without floats: tenths of the unit.
            let tenths = ms.saturating_mul(10) / unit;
            return format!("{}.{} {name}", tenths / 10, tenths % 10);
        }
    }
    format!("{ms} ms")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_use_the_largest_unit() {
        assert_eq!(duration(250), "250 ms");
        assert_eq!(duration(1_500), "1.5 s");
        assert_eq!(duration(3 * 86_400_000 + 43_200_000), "3.5 days");
    }
}

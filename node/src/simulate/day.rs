//! The shape of a telecom day: how busy each hour is, and which data each kind of buyer wants at
//! that hour. The node stamps real time, so simulated hours shape the order and mix of entries,
//! not wall-clock waits.

use testigo_ledger::entry::{DataCategory, LegalBasis, Purpose};

/// Relative traffic per hour of the day (mean 1.0): quiet nights, a commute peak, a lunch bump,
/// and the evening high when people browse and shop.
const INTENSITY: [f64; 24] = [
    0.25, 0.15, 0.10, 0.10, 0.15, 0.35, 0.80, 1.50, 1.70, 1.30, 1.10, 1.20, //
    1.45, 1.30, 1.10, 1.10, 1.30, 1.65, 1.75, 1.70, 1.60, 1.35, 0.90, 0.50,
];

/// How busy simulated hour `hour` is (it wraps every 24 hours).
pub(crate) fn intensity(hour: u32) -> f64 {
    INTENSITY[(hour % 24) as usize]
}

/// Weight of each data category at an hour: location pings follow the commute, call metadata
/// office hours, browsing and purchases the evening.
pub(crate) fn category_weight(category: DataCategory, hour: u32) -> u32 {
    let h = hour % 24;
    let commute = matches!(h, 7..=9 | 17..=19);
    let office = matches!(h, 9..=18);
    let evening = matches!(h, 18..=23);
    match category {
        DataCategory::Location => {
            if commute {
                6
            } else {
                2
            }
        }
        DataCategory::CallLog | DataCategory::CommunicationsMetadata => {
            if office {
                4
            } else {
                1
            }
        }
        DataCategory::BrowserHistory => {
            if evening {
                6
            } else {
                2
            }
        }
        DataCategory::Purchase => {
            if evening || matches!(h, 12..=14) {
                4
            } else {
                1
            }
        }
    }
}

/// The kinds of data buyer on the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Archetype {
    /// Buys location and browsing for targeted advertising; pays best.
    AdNetwork,
    /// Buys communications metadata and location for research; pays little.
    Research,
    /// Buys purchases and call logs for risk pricing.
    Insurer,
    /// The operator's own uses, under contract, legal obligation or legitimate interest.
    Operator,
}

impl Archetype {
    /// The buyers that register as accessors (the operator is always there).
    pub(crate) const BUYERS: [Archetype; 3] = [
        Archetype::AdNetwork,
        Archetype::Research,
        Archetype::Insurer,
    ];

    /// Display name and legal entity id for registration.
    pub(crate) fn names(self, n: usize) -> (String, String) {
        match self {
            Archetype::AdNetwork => (format!("AdReach Networks {n}"), format!("ES-B{n:08}")),
            Archetype::Research => (format!("Instituto de Movilidad {n}"), format!("ES-Q{n:08}")),
            Archetype::Insurer => (format!("Seguros Prudentia {n}"), format!("ES-A{n:08}")),
            Archetype::Operator => ("operator".into(), "operator".into()),
        }
    }

    /// What a consent to this buyer covers.
    pub(crate) fn scope(self) -> (&'static [DataCategory], &'static [Purpose]) {
        match self {
            Archetype::AdNetwork => (
                &[DataCategory::Location, DataCategory::BrowserHistory],
                &[Purpose::PersonalisedAdvertising],
            ),
            Archetype::Research => (
                &[DataCategory::CommunicationsMetadata, DataCategory::Location],
                &[Purpose::ResearchAndDevelopment],
            ),
            Archetype::Insurer => (
                &[DataCategory::Purchase, DataCategory::CallLog],
                &[
                    Purpose::FraudPreventionAndDetection,
                    Purpose::SellDataToThirdParties,
                ],
            ),
            Archetype::Operator => (
                &[
                    DataCategory::CallLog,
                    DataCategory::CommunicationsMetadata,
                    DataCategory::Location,
                ],
                &[
                    Purpose::ServiceProvision,
                    Purpose::ServiceOptimisation,
                    Purpose::LegalCompliance,
                ],
            ),
        }
    }

    /// The price range (minor units) this buyer's consents ask for.
    pub(crate) fn price_range(self) -> (u64, u64) {
        match self {
            Archetype::AdNetwork => (3, 12),
            Archetype::Research => (1, 3),
            Archetype::Insurer => (5, 20),
            Archetype::Operator => (0, 0),
        }
    }

    /// Share of subjects who consent to this buyer, in percent.
    pub(crate) fn consent_rate(self) -> u64 {
        match self {
            Archetype::AdNetwork => 45,
            Archetype::Research => 60,
            Archetype::Insurer => 25,
            Archetype::Operator => 0,
        }
    }
}

/// The legal basis and purpose of one of the operator's own uses of a category: service under
/// contract, network optimisation under legitimate interest, retention law under legal
/// obligation. None needs consent; all are logged, at price zero.
pub(crate) fn operator_basis(category: DataCategory, roll: u64) -> (LegalBasis, Purpose) {
    match (category, roll % 10) {
        (_, 0) => (LegalBasis::LegalObligation, Purpose::LegalCompliance),
        (DataCategory::Location, _) => {
            (LegalBasis::LegitimateInterest, Purpose::ServiceOptimisation)
        }
        _ => (LegalBasis::Contract, Purpose::ServiceProvision),
    }
}

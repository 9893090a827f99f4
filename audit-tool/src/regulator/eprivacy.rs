//! Which uses of location and traffic data need the subscriber's consent (ePrivacy Directive
//! 2002/58/EC Art. 6 and 9). `docs/AUDIT.md` carries the same table with its sources; the test
//! below keeps the two in step.
//!
//! Traffic data (`pd:CallLog`, `pd:CommunicationsMetadata`) may be processed without consent only
//! for transmission, billing, traffic management, customer enquiries and fraud detection
//! (Art. 6(1), 6(2), 6(5)); marketing and value-added services need consent (Art. 6(3)). Location
//! data other than traffic data (`pd:Location`) may be used for a value-added service only with
//! consent (Art. 9(1)). Member states may restrict both by law for security and crime (Art. 15(1)),
//! and emergency services may override a refusal (Art. 10(b)).

use testigo_ledger::entry::{DataCategory, LegalBasis, Purpose};

/// Whether `category` is location or traffic data under the ePrivacy Directive.
pub fn is_location_or_traffic(category: DataCategory) -> bool {
    match category {
        DataCategory::Location | DataCategory::CallLog | DataCategory::CommunicationsMetadata => {
            true
        }
        DataCategory::BrowserHistory | DataCategory::Purchase => false,
    }
}

/// Whether `purpose` is marketing or a value-added service: beyond what transmission, billing,
/// traffic management, fraud detection or a legal obligation need (Art. 2(g), 6(3), 6(5)).
pub fn is_marketing_or_value_added(purpose: Purpose) -> bool {
    match purpose {
        Purpose::PersonalisedAdvertising
        | Purpose::SellDataToThirdParties
        | Purpose::ResearchAndDevelopment => true,
        Purpose::ServiceProvision
        | Purpose::ServiceOptimisation
        | Purpose::FraudPreventionAndDetection
        | Purpose::LegalCompliance => false,
    }
}

/// Whether `basis` makes consent unnecessary even for marketing or value-added purposes: a legal
/// obligation (Art. 15(1) measures) or a vital interest (Art. 10(b), emergency services).
pub fn is_exempt_basis(basis: LegalBasis) -> bool {
    match basis {
        LegalBasis::LegalObligation | LegalBasis::VitalInterest => true,
        LegalBasis::Consent
        | LegalBasis::Contract
        | LegalBasis::PublicInterest
        | LegalBasis::LegitimateInterest => false,
    }
}

/// Whether an access breaks Art. 6 or 9: location or traffic data used for marketing or a
/// value-added service on a basis that is neither consent nor exempt.
pub fn needs_consent_but_lacks_it(
    category: DataCategory,
    purpose: Purpose,
    basis: LegalBasis,
) -> bool {
    is_location_or_traffic(category)
        && is_marketing_or_value_added(purpose)
        && basis != LegalBasis::Consent
        && !is_exempt_basis(basis)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every row of the tables in `docs/AUDIT.md` agrees with the code.
    #[test]
    fn docs_audit_tables_match_the_code() {
        let doc = include_str!("../../../docs/AUDIT.md");
        let row = |term: &str| {
            doc.lines()
                .find(|l| l.starts_with(&format!("| `{term}` |")))
                .unwrap_or_else(|| panic!("docs/AUDIT.md has no row for {term}"))
                .to_owned()
        };
        for c in DataCategory::ALL {
            let expected = if is_location_or_traffic(*c) {
                "yes"
            } else {
                "no"
            };
            assert!(row(c.term()).contains(&format!("| {expected} |")), "{c}");
        }
        for p in Purpose::ALL {
            let expected = if is_marketing_or_value_added(*p) {
                "yes"
            } else {
                "no"
            };
            assert!(row(p.term()).contains(&format!("| {expected} |")), "{p}");
        }
        for b in LegalBasis::ALL {
            let expected = if is_exempt_basis(*b) { "yes" } else { "no" };
            assert!(row(b.term()).contains(&format!("| {expected} |")), "{b}");
        }
    }

    #[test]
    fn location_for_ads_needs_consent_unless_the_basis_is_exempt() {
        let ads = Purpose::PersonalisedAdvertising;
        let loc = DataCategory::Location;
        assert!(needs_consent_but_lacks_it(
            loc,
            ads,
            LegalBasis::LegitimateInterest
        ));
        assert!(!needs_consent_but_lacks_it(loc, ads, LegalBasis::Consent));
        assert!(!needs_consent_but_lacks_it(
            loc,
            ads,
            LegalBasis::LegalObligation
        ));
        let fraud = Purpose::FraudPreventionAndDetection;
        assert!(!needs_consent_but_lacks_it(
            DataCategory::CallLog,
            fraud,
            LegalBasis::LegitimateInterest
        ));
        assert!(!needs_consent_but_lacks_it(
            DataCategory::Purchase,
            ads,
            LegalBasis::Contract
        ));
    }
}

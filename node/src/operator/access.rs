//! `operator access --subject --category --purpose --basis [--consent] --price`: the operator's
//! own use of a customer's data, logged like anyone else's (DESIGN §1).
//!
//! Terms are the DPV terms (`pd:Location`, `dpv:ServiceProvision`, `dpv:Contract`); the prefix may
//! be left out (`Location`, `ServiceProvision`, `Contract`).

use testigo_ledger::PublicKey;
use testigo_ledger::api::Sequenced;
use testigo_ledger::entry::{Access, Body, DataCategory, LegalBasis, Purpose};

use super::{Operator, OperatorError, parse_key};

/// Log one use of a subject's data by the operator.
#[derive(Clone, Debug, clap::Args)]
pub struct AccessArgs {
    /// Whose data: the subject's key, standard base64.
    #[arg(long, value_parser = parse_key)]
    pub subject: PublicKey,
    /// Which data, e.g. pd:Location.
    #[arg(long, value_parser = parse_term::<DataCategory>)]
    pub category: DataCategory,
    /// What for, e.g. dpv:FraudPreventionAndDetection.
    #[arg(long, value_parser = parse_term::<Purpose>)]
    pub purpose: Purpose,
    /// On what lawful basis, e.g. dpv:LegalObligation or dpv:Consent.
    #[arg(long, value_parser = parse_term::<LegalBasis>)]
    pub basis: LegalBasis,
    /// Index of the subject's `GrantConsent` leaf; required exactly with --basis dpv:Consent.
    #[arg(long)]
    pub consent: Option<u64>,
    /// Price paid to the subject, in minor units (often 0 for non-consent bases).
    #[arg(long)]
    pub price: u64,
}

/// Parses a vocabulary term, with or without its `pd:`/`dpv:` prefix.
///
/// # Errors
/// A sentence listing the known terms.
pub fn parse_term<T>(text: &str) -> Result<T, String>
where
    T: Terms + Copy + std::fmt::Display,
{
    T::all()
        .iter()
        .copied()
        .find(|t| {
            let term = t.to_string();
            term == text || term.split_once(':').is_some_and(|(_, bare)| bare == text)
        })
        .ok_or_else(|| {
            let known: Vec<String> = T::all().iter().map(ToString::to_string).collect();
            format!("unknown term {text:?}; one of {}", known.join(", "))
        })
}

/// The vocabularies' term lists, for [`parse_term`].
pub trait Terms: Sized + 'static {
    /// Every term.
    fn all() -> &'static [Self];
}

impl Terms for DataCategory {
    fn all() -> &'static [Self] {
        DataCategory::ALL
    }
}

impl Terms for Purpose {
    fn all() -> &'static [Self] {
        Purpose::ALL
    }
}

impl Terms for LegalBasis {
    fn all() -> &'static [Self] {
        LegalBasis::ALL
    }
}

impl AccessArgs {
    /// Submits the `Access` entry, signed by the operator.
    ///
    /// # Errors
    /// See [`OperatorError`]; `consent_reference_missing`, `unexpected_consent_reference`, the
    /// coverage codes (`consent_revoked`, `category_not_covered`, …), `insufficient_funds`.
    pub async fn run(&self, operator: &Operator) -> Result<Sequenced, OperatorError> {
        operator
            .submit(|nonce| {
                Body::Access(Access {
                    nonce,
                    subject: self.subject,
                    category: self.category,
                    purpose: self.purpose,
                    legal_basis: self.basis,
                    consent: self.consent,
                    price: self.price,
                })
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_parse_with_or_without_their_prefix() {
        assert_eq!(
            parse_term::<DataCategory>("pd:Location"),
            Ok(DataCategory::Location)
        );
        assert_eq!(
            parse_term::<LegalBasis>("Contract"),
            Ok(LegalBasis::Contract)
        );
        let err = parse_term::<Purpose>("Spying").unwrap_err();
        assert!(err.contains("dpv:ServiceProvision"), "{err}");
    }
}

//! The vocabulary of an access: data categories and purposes from the W3C Data Privacy
//! Vocabulary (DPV), and the lawful bases of GDPR Art. 6(1).
//!
//! Each enum's JSON form and `Display` is its DPV term (`pd:Location`, `dpv:ServiceProvision`,
//! `dpv:Consent`); in a signed body it is the variant's index, so new variants are only ever
//! appended at the end.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

macro_rules! vocabulary {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $term:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $term)] $variant,)+
        }

        impl $name {
            /// Every term, in wire order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The DPV term, e.g. `pd:Location`.
            pub fn term(self) -> &'static str {
                match self { $($name::$variant => $term,)+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.term())
            }
        }

        impl FromStr for $name {
            type Err = UnknownTerm;

            fn from_str(s: &str) -> Result<Self, UnknownTerm> {
                Self::ALL
                    .iter()
                    .copied()
                    .find(|v| v.term() == s)
                    .ok_or_else(|| UnknownTerm { vocabulary: stringify!($name), term: s.to_owned() })
            }
        }
    };
}

/// A term that is not in the vocabulary.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown {vocabulary} term {term:?}")]
pub struct UnknownTerm {
    /// Which vocabulary was asked.
    pub vocabulary: &'static str,
    /// The term given.
    pub term: String,
}

vocabulary! {
    /// A category of personal data produced by the use of the network (DPV-PD).
    DataCategory {
        /// Where the subscriber's device is: cell, GPS or Wi-Fi positioning.
        Location => "pd:Location",
        /// Records of calls made and received.
        CallLog => "pd:CallLog",
        /// Web browsing history seen by the network.
        BrowserHistory => "pd:BrowserHistory",
        /// Purchases billed through the operator.
        Purchase => "pd:Purchase",
        /// Who communicated with whom, when, for how long; no content.
        CommunicationsMetadata => "pd:CommunicationsMetadata",
    }
}

vocabulary! {
    /// Why the data is used (DPV purposes).
    Purpose {
        /// Advertising tailored to the person.
        PersonalisedAdvertising => "dpv:PersonalisedAdvertising",
        /// Research and development, including academic research.
        ResearchAndDevelopment => "dpv:ResearchAndDevelopment",
        /// Providing the service the person asked for.
        ServiceProvision => "dpv:ServiceProvision",
        /// Improving the service (network planning, capacity).
        ServiceOptimisation => "dpv:ServiceOptimisation",
        /// Detecting and preventing fraud.
        FraudPreventionAndDetection => "dpv:FraudPreventionAndDetection",
        /// Selling the data on to third parties.
        SellDataToThirdParties => "dpv:SellDataToThirdParties",
        /// Meeting a legal obligation (lawful interception, retention law).
        LegalCompliance => "dpv:LegalCompliance",
    }
}

vocabulary! {
    /// The lawful basis of processing, GDPR Art. 6(1)(a)–(f), named by its DPV term.
    LegalBasis {
        /// Art. 6(1)(a): the subject consented; the only basis that needs a consent reference.
        Consent => "dpv:Consent",
        /// Art. 6(1)(b): necessary for a contract with the subject.
        Contract => "dpv:Contract",
        /// Art. 6(1)(c): necessary to comply with a legal obligation.
        LegalObligation => "dpv:LegalObligation",
        /// Art. 6(1)(d): necessary to protect someone's vital interests.
        VitalInterest => "dpv:VitalInterest",
        /// Art. 6(1)(e): a task in the public interest or official authority.
        PublicInterest => "dpv:PublicInterest",
        /// Art. 6(1)(f): the controller's or a third party's legitimate interests.
        LegitimateInterest => "dpv:LegitimateInterest",
    }
}

impl LegalBasis {
    /// The GDPR article point, e.g. `Art. 6(1)(a)`.
    pub fn gdpr_article(self) -> &'static str {
        match self {
            LegalBasis::Consent => "Art. 6(1)(a)",
            LegalBasis::Contract => "Art. 6(1)(b)",
            LegalBasis::LegalObligation => "Art. 6(1)(c)",
            LegalBasis::VitalInterest => "Art. 6(1)(d)",
            LegalBasis::PublicInterest => "Art. 6(1)(e)",
            LegalBasis::LegitimateInterest => "Art. 6(1)(f)",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_round_trip_through_display_from_str_and_json() {
        for c in DataCategory::ALL {
            assert_eq!(c.to_string().parse::<DataCategory>(), Ok(*c));
            let json = serde_json::to_string(c).unwrap();
            assert_eq!(json, format!("\"{}\"", c.term()));
        }
        for p in Purpose::ALL {
            assert_eq!(p.to_string().parse::<Purpose>(), Ok(*p));
        }
        for b in LegalBasis::ALL {
            assert_eq!(b.to_string().parse::<LegalBasis>(), Ok(*b));
            assert!(b.gdpr_article().starts_with("Art. 6(1)("));
        }
        assert!("pd:Nope".parse::<DataCategory>().is_err());
    }
}

//! The dashboard's two languages: English and Spanish (the first customers are in Spain). Every
//! visible sentence goes through [`Lang::s`]; DPV terms and the node's refusal codes are given
//! in plain words in both.

use testigo_ledger::entry::{DataCategory, LegalBasis, Purpose};

/// A page language, chosen by `?lang=`, else the browser's `Accept-Language`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Lang {
    /// English.
    En,
    /// Spanish.
    Es,
}

impl Lang {
    /// `?lang=es` / `?lang=en`, else the first language of `Accept-Language` we speak.
    pub(crate) fn choose(query: Option<&str>, accept_language: Option<&str>) -> Self {
        match query {
            Some("es") => return Lang::Es,
            Some("en") => return Lang::En,
            _ => {}
        }
        for tag in accept_language.unwrap_or_default().split(',') {
            let tag = tag.trim().to_ascii_lowercase();
            if tag.starts_with("es") {
                return Lang::Es;
            }
            if tag.starts_with("en") {
                return Lang::En;
            }
        }
        Lang::En
    }

    /// The BCP 47 tag for `<html lang>` and links.
    pub(crate) fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Es => "es",
        }
    }

    /// The sentence in this language.
    pub(crate) fn s(self, en: &'static str, es: &'static str) -> &'static str {
        match self {
            Lang::En => en,
            Lang::Es => es,
        }
    }

    /// A data category in plain words.
    pub(crate) fn category(self, c: DataCategory) -> &'static str {
        match c {
            DataCategory::Location => self.s("where your phone was", "dónde estaba tu móvil"),
            DataCategory::CallLog => self.s("your call records", "tu registro de llamadas"),
            DataCategory::BrowserHistory => {
                self.s("the websites you visited", "las webs que visitaste")
            }
            DataCategory::Purchase => self.s(
                "what you bought through your operator",
                "lo que compraste a través de tu operador",
            ),
            DataCategory::CommunicationsMetadata => self.s(
                "who you communicated with, when (no content)",
                "con quién te comunicaste y cuándo (sin contenido)",
            ),
        }
    }

    /// A purpose in plain words.
    pub(crate) fn purpose(self, p: Purpose) -> &'static str {
        match p {
            Purpose::PersonalisedAdvertising => {
                self.s("advertising aimed at you", "publicidad dirigida a ti")
            }
            Purpose::ResearchAndDevelopment => {
                self.s("research and development", "investigación y desarrollo")
            }
            Purpose::ServiceProvision => self.s(
                "providing a service you asked for",
                "prestarte un servicio que pediste",
            ),
            Purpose::ServiceOptimisation => self.s(
                "improving the network or service",
                "mejorar la red o el servicio",
            ),
            Purpose::FraudPreventionAndDetection => self.s(
                "detecting and preventing fraud",
                "detectar y prevenir el fraude",
            ),
            Purpose::SellDataToThirdParties => self.s(
                "selling your data on to others",
                "vender tus datos a terceros",
            ),
            Purpose::LegalCompliance => {
                self.s("meeting a legal obligation", "cumplir una obligación legal")
            }
        }
    }

    /// A legal basis in plain words, with its GDPR article.
    pub(crate) fn basis(self, b: LegalBasis) -> String {
        let words = match b {
            LegalBasis::Consent => self.s("your consent", "tu consentimiento"),
            LegalBasis::Contract => self.s("your contract", "tu contrato"),
            LegalBasis::LegalObligation => self.s("a legal obligation", "una obligación legal"),
            LegalBasis::VitalInterest => {
                self.s("someone's vital interests", "intereses vitales de alguien")
            }
            LegalBasis::PublicInterest => self.s(
                "a task in the public interest",
                "una misión de interés público",
            ),
            LegalBasis::LegitimateInterest => {
                self.s("their legitimate interest", "su interés legítimo")
            }
        };
        let article = match self {
            Lang::En => b.gdpr_article().to_owned(),
            Lang::Es => b.gdpr_article().replace("Art.", "art."),
        };
        format!("{words} ({} {article})", self.s("GDPR", "RGPD"))
    }

    /// A node's refusal code in plain words; `None` for codes a customer never causes.
    pub(crate) fn refusal(self, code: &str) -> Option<&'static str> {
        Some(match code {
            "consent_revoked" => self.s(
                "that consent was revoked: no access can use it any more",
                "ese consentimiento fue revocado: ningún acceso puede usarlo ya",
            ),
            "consent_already_revoked" => self.s(
                "that consent is already revoked",
                "ese consentimiento ya está revocado",
            ),
            "consent_not_found" => self.s(
                "there is no such consent in the log",
                "no existe ese consentimiento en el registro",
            ),
            "not_consent_owner" => self.s(
                "that consent is not yours, so you cannot revoke it",
                "ese consentimiento no es tuyo, así que no puedes revocarlo",
            ),
            "empty_consent_scope" => self.s(
                "choose at least one kind of data and one purpose",
                "elige al menos un tipo de dato y una finalidad",
            ),
            "invalid_validity_window" => self.s(
                "the end of validity must be after its start",
                "el fin de la validez debe ser posterior a su inicio",
            ),
            "claim_exceeds_balance" => self.s(
                "you cannot claim more than your balance",
                "no puedes reclamar más que tu saldo",
            ),
            "zero_amount" => self.s(
                "the amount must be above zero",
                "el importe debe ser mayor que cero",
            ),
            "unknown_account" => self.s(
                "the log does not know your account yet: your operator must enrol you first",
                "el registro aún no conoce tu cuenta: tu operador debe darte de alta primero",
            ),
            "wrong_role" => self.s(
                "this key may not do that (it is not a subject's key)",
                "esta clave no puede hacer eso (no es la clave de un titular)",
            ),
            "nonce_reused" | "nonce_too_far" => self.s(
                "another entry was signed at the same time; try again",
                "se firmó otra entrada a la vez; inténtalo de nuevo",
            ),
            "rate_limited" | "busy" | "queue_full" | "shutting_down" => self.s(
                "the log is busy right now; try again in a moment",
                "el registro está ocupado ahora mismo; inténtalo en un momento",
            ),
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_language_comes_from_the_query_then_the_browser() {
        assert_eq!(Lang::choose(Some("es"), Some("en-GB")), Lang::Es);
        assert_eq!(
            Lang::choose(None, Some("es-ES,es;q=0.9,en;q=0.8")),
            Lang::Es
        );
        assert_eq!(Lang::choose(None, Some("fr-FR, en;q=0.5")), Lang::En);
        assert_eq!(Lang::choose(Some("xx"), None), Lang::En);
    }

    #[test]
    fn every_term_has_plain_words_in_both_languages() {
        for c in DataCategory::ALL {
            assert_ne!(Lang::En.category(*c), Lang::Es.category(*c));
        }
        for p in Purpose::ALL {
            assert_ne!(Lang::En.purpose(*p), Lang::Es.purpose(*p));
        }
        for b in LegalBasis::ALL {
            assert!(Lang::Es.basis(*b).contains("RGPD art. 6(1)"), "{b}");
        }
        assert!(Lang::Es.refusal("consent_revoked").is_some());
        assert_eq!(Lang::En.refusal("internal"), None);
    }
}

//! The consents in the verified history, and every access to my data that does not match one
//! of them. The node refuses such an access under consent, so one that shows up here means the
//! node sequenced what its own rules forbid, or the access rests on another legal basis that the
//! customer may want to question.

use testigo_ledger::PublicKey;
use testigo_ledger::entry::{Access, Body, GrantConsent, LegalBasis};
use testigo_ledger::verify::VerifiedEntry;

use super::i18n::Lang;

/// A consent I granted, with its revocation if any.
#[derive(Clone, Debug)]
pub(crate) struct Consent {
    pub(crate) index: u64,
    pub(crate) grant: GrantConsent,
    pub(crate) revoked_at: Option<u64>,
}

impl Consent {
    /// Active at `now_ms`: not revoked, within its validity.
    pub(crate) fn active(&self, now_ms: u64) -> bool {
        self.revoked_at.is_none()
            && self.grant.valid_from <= now_ms
            && self.grant.valid_until.is_none_or(|u| now_ms < u)
    }
}

/// My consents, in order of grant.
pub(crate) fn consents(me: &PublicKey, entries: &[VerifiedEntry]) -> Vec<Consent> {
    let mut out: Vec<Consent> = Vec::new();
    for e in entries {
        match &e.body {
            Body::GrantConsent(g) if e.leaf.signer == *me => out.push(Consent {
                index: e.index,
                grant: g.clone(),
                revoked_at: None,
            }),
            Body::RevokeConsent(r) if e.leaf.signer == *me => {
                if let Some(c) = out.iter_mut().find(|c| c.index == r.consent) {
                    c.revoked_at.get_or_insert(e.index);
                }
            }
            _ => {}
        }
    }
    out
}

/// Why an access does not match a consent of mine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Reason {
    /// It claims another legal basis than my consent.
    OtherBasis(LegalBasis),
    /// It names a consent I never granted.
    UnknownConsent(u64),
    /// The consent was revoked before it.
    Revoked { consent: u64, revoked_at: u64 },
    /// Outside the consent's validity.
    OutsideValidity(u64),
    /// The consent names another accessor.
    OtherAccessor(u64),
    /// The consent does not cover the category.
    Category(u64),
    /// The consent does not cover the purpose.
    Purpose(u64),
    /// Paid less than the consent's price.
    Price(u64),
}

impl Reason {
    /// In plain words.
    pub(crate) fn words(&self, lang: Lang) -> String {
        match self {
            Reason::OtherBasis(b) => format!(
                "{} {}",
                lang.s(
                    "not under a consent of yours: it claims",
                    "no se basa en un consentimiento tuyo: alega"
                ),
                lang.basis(*b)
            ),
            Reason::UnknownConsent(c) => format!(
                "{} {c}",
                lang.s(
                    "it names a consent you never granted:",
                    "cita un consentimiento que nunca diste:"
                )
            ),
            Reason::Revoked {
                consent,
                revoked_at,
            } => format!(
                "{} {consent} {} {revoked_at}",
                lang.s("consent", "el consentimiento"),
                lang.s(
                    "was revoked before it, at entry",
                    "se revocó antes, en la entrada"
                )
            ),
            Reason::OutsideValidity(c) => format!(
                "{} {c}",
                lang.s(
                    "outside the validity of consent",
                    "fuera de la validez del consentimiento"
                )
            ),
            Reason::OtherAccessor(c) => format!(
                "{} {c}",
                lang.s(
                    "by someone else than consent names:",
                    "por alguien distinto del que nombra el consentimiento"
                )
            ),
            Reason::Category(c) => format!(
                "{} {c}",
                lang.s(
                    "data not covered by consent",
                    "datos no cubiertos por el consentimiento"
                )
            ),
            Reason::Purpose(c) => format!(
                "{} {c}",
                lang.s(
                    "a purpose not covered by consent",
                    "una finalidad no cubierta por el consentimiento"
                )
            ),
            Reason::Price(c) => format!(
                "{} {c}",
                lang.s(
                    "paid less than the price of consent",
                    "pagó menos que el precio del consentimiento"
                )
            ),
        }
    }
}

/// An access to my data that no consent of mine allows.
#[derive(Clone, Debug)]
pub(crate) struct Unmatched {
    pub(crate) index: u64,
    pub(crate) accessor: PublicKey,
    pub(crate) access: Access,
    pub(crate) reason: Reason,
}

/// Every access to my data that does not match a consent of mine.
pub(crate) fn unmatched(me: &PublicKey, entries: &[VerifiedEntry]) -> Vec<Unmatched> {
    let mine = consents(me, entries);
    let mut out = Vec::new();
    for e in entries {
        let Body::Access(a) = &e.body else { continue };
        if a.subject != *me {
            continue;
        }
        let reason = check(&mine, e, a);
        if let Some(reason) = reason {
            out.push(Unmatched {
                index: e.index,
                accessor: e.leaf.signer,
                access: a.clone(),
                reason,
            });
        }
    }
    out
}

fn check(mine: &[Consent], e: &VerifiedEntry, a: &Access) -> Option<Reason> {
    if a.legal_basis != LegalBasis::Consent {
        return Some(Reason::OtherBasis(a.legal_basis));
    }
    let id = a.consent?;
    let Some(c) = mine.iter().find(|c| c.index == id && c.index < e.index) else {
        return Some(Reason::UnknownConsent(id));
    };
    let g = &c.grant;
    let at = e.leaf.sequenced_at;
    Some(if let Some(r) = c.revoked_at.filter(|r| *r < e.index) {
        Reason::Revoked {
            consent: id,
            revoked_at: r,
        }
    } else if at < g.valid_from || g.valid_until.is_some_and(|u| at >= u) {
        Reason::OutsideValidity(id)
    } else if g.accessor.is_some_and(|k| k != e.leaf.signer) {
        Reason::OtherAccessor(id)
    } else if !g.categories.contains(&a.category) {
        Reason::Category(id)
    } else if !g.purposes.contains(&a.purpose) {
        Reason::Purpose(id)
    } else if a.price < g.price {
        Reason::Price(id)
    } else {
        return None;
    })
}

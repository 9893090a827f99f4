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
            Reason::UnknownConsent(c) => match lang {
                Lang::En => format!("it names consent {c}, which you never granted"),
                Lang::Es => format!("cita el consentimiento {c}, que nunca diste"),
            },
            Reason::Revoked {
                consent,
                revoked_at,
            } => match lang {
                Lang::En => {
                    format!("consent {consent} was revoked before it, at entry {revoked_at}")
                }
                Lang::Es => format!(
                    "el consentimiento {consent} se revocó antes, en la entrada {revoked_at}"
                ),
            },
            Reason::OutsideValidity(c) => match lang {
                Lang::En => format!("outside the validity of consent {c}"),
                Lang::Es => format!("fuera de la validez del consentimiento {c}"),
            },
            Reason::OtherAccessor(c) => match lang {
                Lang::En => format!("consent {c} names someone else"),
                Lang::Es => format!("el consentimiento {c} nombra a otra persona"),
            },
            Reason::Category(c) => match lang {
                Lang::En => format!("consent {c} does not cover this data"),
                Lang::Es => format!("el consentimiento {c} no cubre estos datos"),
            },
            Reason::Purpose(c) => match lang {
                Lang::En => format!("consent {c} does not cover this purpose"),
                Lang::Es => format!("el consentimiento {c} no cubre esta finalidad"),
            },
            Reason::Price(c) => match lang {
                Lang::En => format!("it paid less than the price of consent {c}"),
                Lang::Es => format!("pagó menos que el precio del consentimiento {c}"),
            },
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

#[cfg(test)]
mod tests {
    use testigo_ledger::entry::{DataCategory, Leaf, Purpose, RevokeConsent};

    use super::*;

    const ME: PublicKey = PublicKey([1; 32]);
    const BUYER: PublicKey = PublicKey([2; 32]);
    const OTHER: PublicKey = PublicKey([3; 32]);

    fn entry(index: u64, at: u64, signer: PublicKey, body: Body) -> VerifiedEntry {
        VerifiedEntry {
            index,
            leaf: Leaf {
                sequenced_at: at,
                signer,
                signature: [0; 64],
                body: Vec::new(),
            },
            body,
        }
    }

    fn access(consent: Option<u64>, basis: LegalBasis, purpose: Purpose, price: u64) -> Body {
        Body::Access(Access {
            nonce: 0,
            subject: ME,
            category: DataCategory::Location,
            purpose,
            legal_basis: basis,
            consent,
            price,
        })
    }

    #[test]
    fn only_accesses_a_consent_of_mine_allows_go_unflagged() {
        let ads = Purpose::PersonalisedAdvertising;
        let consent = LegalBasis::Consent;
        let entries = vec![
            entry(
                1,
                100,
                ME,
                Body::GrantConsent(GrantConsent {
                    nonce: 0,
                    accessor: Some(BUYER),
                    categories: vec![DataCategory::Location],
                    purposes: vec![ads],
                    price: 5,
                    valid_from: 100,
                    valid_until: Some(1_000),
                }),
            ),
            entry(2, 200, BUYER, access(Some(1), consent, ads, 5)),
            entry(3, 210, OTHER, access(Some(1), consent, ads, 5)),
            entry(
                4,
                220,
                BUYER,
                access(Some(1), consent, Purpose::ServiceProvision, 5),
            ),
            entry(5, 230, BUYER, access(Some(1), consent, ads, 4)),
            entry(6, 240, BUYER, access(Some(9), consent, ads, 5)),
            entry(7, 1_000, BUYER, access(Some(1), consent, ads, 5)),
            entry(
                8,
                250,
                BUYER,
                access(None, LegalBasis::LegitimateInterest, ads, 0),
            ),
            entry(
                9,
                260,
                ME,
                Body::RevokeConsent(RevokeConsent {
                    nonce: 1,
                    consent: 1,
                }),
            ),
            entry(10, 270, BUYER, access(Some(1), consent, ads, 5)),
        ];
        let found: Vec<(u64, Reason)> = unmatched(&ME, &entries)
            .into_iter()
            .map(|u| (u.index, u.reason))
            .collect();
        assert_eq!(
            found,
            [
                (3, Reason::OtherAccessor(1)),
                (4, Reason::Purpose(1)),
                (5, Reason::Price(1)),
                (6, Reason::UnknownConsent(9)),
                (7, Reason::OutsideValidity(1)),
                (8, Reason::OtherBasis(LegalBasis::LegitimateInterest)),
                (
                    10,
                    Reason::Revoked {
                        consent: 1,
                        revoked_at: 9
                    }
                ),
            ]
        );
        let mine = consents(&ME, &entries);
        assert_eq!(mine.len(), 1);
        assert_eq!(mine[0].revoked_at, Some(9));
        assert!(!mine[0].active(300));
        for (_, reason) in &found {
            assert_ne!(reason.words(Lang::En), reason.words(Lang::Es));
        }
    }
}

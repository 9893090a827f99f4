//! One test per rejection variant of consents and state roots, each asserting the exact variant
//! (and that the refused entry changed nothing: the fixture checks that on every refusal).

mod common;

use common::fixture::*;
use common::pk;
use common::rules::*;
use testigo_ledger::Hash;
use testigo_ledger::entry::*;
use testigo_ledger::map::StateMap;
use testigo_ledger::state::Rejection;

// ---- consent ---------------------------------------------------------------------------------

#[test]
fn empty_consent_scope() {
    let mut f = Fixture::parties();
    let r = f.reject("alice", |nonce| {
        Body::GrantConsent(GrantConsent {
            nonce,
            purposes: vec![],
            ..grant_body(None, 1, T0)
        })
    });
    assert_eq!(
        r,
        Rejection::EmptyConsentScope {
            categories: 2,
            purposes: 0
        }
    );
    assert_code(&r, "empty_consent_scope");
}

#[test]
fn invalid_validity_window() {
    let mut f = Fixture::parties();
    let r = f.reject("alice", |nonce| {
        Body::GrantConsent(GrantConsent {
            nonce,
            valid_until: Some(T0),
            ..grant_body(None, 1, T0)
        })
    });
    assert_eq!(
        r,
        Rejection::InvalidValidityWindow {
            valid_from: T0,
            valid_until: T0
        }
    );
    assert_code(&r, "invalid_validity_window");
}

#[test]
fn consent_not_found() {
    let mut f = Fixture::parties();
    let r = f.reject("alice", |nonce| {
        Body::RevokeConsent(RevokeConsent { nonce, consent: 2 })
    });
    assert_eq!(r, Rejection::ConsentNotFound { consent: 2 });
    assert_code(&r, "consent_not_found");
    assert_eq!(
        f.access("acme", "alice", 77, 5),
        Err(Rejection::ConsentNotFound { consent: 77 })
    );
}

#[test]
fn not_consent_owner() {
    let mut f = Fixture::parties();
    let c = f.grant("alice", None, 1);
    let r = f.reject("bob", |nonce| {
        Body::RevokeConsent(RevokeConsent { nonce, consent: c })
    });
    assert_eq!(
        r,
        Rejection::NotConsentOwner {
            consent: c,
            owner: pk("alice")
        }
    );
    assert_code(&r, "not_consent_owner");
}

#[test]
fn consent_already_revoked() {
    let mut f = Fixture::parties();
    let c = f.grant("alice", None, 1);
    let revoked_at = f
        .ok("alice", |nonce| {
            Body::RevokeConsent(RevokeConsent { nonce, consent: c })
        })
        .index;
    let r = f.reject("alice", |nonce| {
        Body::RevokeConsent(RevokeConsent { nonce, consent: c })
    });
    assert_eq!(
        r,
        Rejection::ConsentAlreadyRevoked {
            consent: c,
            revoked_at
        }
    );
    assert_code(&r, "consent_already_revoked");
}

#[test]
fn consent_reference_missing() {
    let mut f = Fixture::parties();
    let r = f.reject("acme", |nonce| {
        Body::Access(access_body(nonce, pk("alice"), None, 3))
    });
    assert_eq!(r, Rejection::ConsentReferenceMissing);
    assert_code(&r, "consent_reference_missing");
}

#[test]
fn unexpected_consent_reference() {
    let mut f = Fixture::parties();
    let c = f.grant("alice", None, 1);
    let r = f.reject("acme", |nonce| {
        Body::Access(Access {
            legal_basis: LegalBasis::LegitimateInterest,
            ..access_body(nonce, pk("alice"), Some(c), 3)
        })
    });
    assert_eq!(
        r,
        Rejection::UnexpectedConsentReference {
            legal_basis: LegalBasis::LegitimateInterest,
            consent: c
        }
    );
    assert_code(&r, "unexpected_consent_reference");
}

#[test]
fn consent_of_another_subject() {
    let mut f = Fixture::parties();
    let c = f.grant("alice", None, 1);
    let r = f.access("acme", "bob", c, 3).unwrap_err();
    assert_eq!(
        r,
        Rejection::ConsentOfAnotherSubject {
            consent: c,
            grantor: pk("alice"),
            subject: pk("bob")
        }
    );
    assert_code(&r, "consent_of_another_subject");
}

#[test]
fn consent_revoked_from_the_next_entry_on() {
    let mut f = Fixture::parties();
    let c = f.grant("alice", Some("acme"), 3);
    f.access("acme", "alice", c, 3).unwrap();
    let revoked_at = f
        .ok("alice", |nonce| {
            Body::RevokeConsent(RevokeConsent { nonce, consent: c })
        })
        .index;
    let r = f.access("acme", "alice", c, 3).unwrap_err();
    assert_eq!(
        r,
        Rejection::ConsentRevoked {
            consent: c,
            revoked_at
        }
    );
    assert_code(&r, "consent_revoked");
    assert_eq!(f.state().consent(c).unwrap().revoked_at, Some(revoked_at));
}

#[test]
fn consent_not_for_accessor() {
    let mut f = Fixture::parties();
    let c = f.grant("alice", Some("acme"), 1);
    let r = f.access("zed", "alice", c, 3).unwrap_err();
    assert_eq!(
        r,
        Rejection::ConsentNotForAccessor {
            consent: c,
            allowed: pk("acme"),
            accessor: pk("zed")
        }
    );
    assert_code(&r, "consent_not_for_accessor");
}

#[test]
fn category_not_covered() {
    let mut f = Fixture::parties();
    let c = f.grant("alice", None, 1);
    let r = f.reject("acme", |nonce| {
        Body::Access(Access {
            category: DataCategory::CallLog,
            ..access_body(nonce, pk("alice"), Some(c), 3)
        })
    });
    assert_eq!(
        r,
        Rejection::CategoryNotCovered {
            consent: c,
            category: DataCategory::CallLog
        }
    );
    assert_code(&r, "category_not_covered");
}

#[test]
fn purpose_not_covered() {
    let mut f = Fixture::parties();
    let c = f.grant("alice", None, 1);
    let r = f.reject("acme", |nonce| {
        Body::Access(Access {
            purpose: Purpose::SellDataToThirdParties,
            ..access_body(nonce, pk("alice"), Some(c), 3)
        })
    });
    assert_eq!(
        r,
        Rejection::PurposeNotCovered {
            consent: c,
            purpose: Purpose::SellDataToThirdParties
        }
    );
    assert_code(&r, "purpose_not_covered");
}

#[test]
fn not_in_validity_window() {
    let mut f = Fixture::parties();
    let from = f.now + 2_000;
    let until = from + 2_000;
    let c = f
        .ok("alice", |nonce| {
            Body::GrantConsent(GrantConsent {
                nonce,
                valid_until: Some(until),
                ..grant_body(None, 1, from)
            })
        })
        .index;
    // Before the window: the access is sequenced at from - 1000.
    let r = f.access("acme", "alice", c, 1).unwrap_err();
    assert_eq!(
        r,
        Rejection::NotInValidityWindow {
            consent: c,
            valid_from: from,
            valid_until: Some(until),
            at: from - 1_000
        }
    );
    assert_code(&r, "not_in_validity_window");
    f.now = from;
    f.access("acme", "alice", c, 1)
        .expect("valid_from is inside");
    f.now = until - 1;
    f.access("acme", "alice", c, 1)
        .expect("just before valid_until is inside");
    f.now = until;
    let r = f.access("acme", "alice", c, 1).unwrap_err();
    assert!(
        matches!(r, Rejection::NotInValidityWindow { at, .. } if at == until),
        "{r:?}"
    );
}

#[test]
fn price_below_consent() {
    let mut f = Fixture::parties();
    let c = f.grant("alice", None, 5);
    let r = f.access("acme", "alice", c, 4).unwrap_err();
    assert_eq!(
        r,
        Rejection::PriceBelowConsent {
            price: 4,
            minimum: 5
        }
    );
    assert_code(&r, "price_below_consent");
}

// ---- state roots -----------------------------------------------------------------------------

#[test]
fn state_root_index_mismatch() {
    let mut f = Fixture::parties();
    let as_of = f.index() + 1;
    let r = f.reject("operator", |_| {
        Body::StateRoot(StateRoot {
            as_of,
            map_root: Hash([0; 32]),
        })
    });
    assert_eq!(
        r,
        Rejection::StateRootIndexMismatch {
            as_of,
            index: as_of - 1
        }
    );
    assert_code(&r, "state_root_index_mismatch");
}

#[test]
fn state_root_mismatch() {
    let mut f = Fixture::parties();
    let as_of = f.index();
    let r = f.reject("operator", |_| {
        Body::StateRoot(StateRoot {
            as_of,
            map_root: Hash([9; 32]),
        })
    });
    let Rejection::StateRootMismatch { claimed, computed } = r.clone() else {
        panic!("{r:?}")
    };
    assert_eq!(claimed, Hash([9; 32]));
    assert_code(&r, "state_root_mismatch");
    // The right root at the same index is then accepted (the map version is reused).
    let ok = f.sign("operator", |_| {
        Body::StateRoot(StateRoot {
            as_of,
            map_root: computed,
        })
    });
    f.apply(ok).unwrap();
    assert_eq!(f.engine.map().latest_version().unwrap(), Some(0));
}

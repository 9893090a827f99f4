//! One test per rejection variant, each asserting the exact variant (and that the refused entry
//! changed nothing: the fixture checks that on every refusal), then the rules that accept.

mod common;

use common::fixture::*;
use common::{ORIGIN, key, pk};
use testigo_ledger::entry::signature::sign_body_bytes;
use testigo_ledger::entry::*;
use testigo_ledger::map::StateMap;
use testigo_ledger::state::{
    KeyProblem, MAX_FEE_BPS, Rejection, Role, State, history::extend_head, is_same_entry,
};
use testigo_ledger::verify::{
    AccountProofError, verify_account_at_state_root, verify_account_proof,
};
use testigo_ledger::{Blake3, Hash, PublicKey, TreeHasher};

/// Asserts the code, and that the JSON form carries the same code and round-trips.
#[track_caller]
fn assert_code(r: &Rejection, code: &str) {
    assert_eq!(r.code(), code, "{r:?}");
    let json = serde_json::to_value(r).unwrap();
    assert_eq!(json["code"], code, "{json}");
    assert_eq!(&serde_json::from_value::<Rejection>(json).unwrap(), r);
}

fn identity_key() -> PublicKey {
    let mut b = [0u8; 32];
    b[0] = 1;
    PublicKey(b)
}

/// Applies a genesis variant signed (correctly) by the operator under the body's own origin.
fn genesis_with(change: impl FnOnce(&mut Genesis)) -> Result<(), Rejection> {
    let mut g = genesis_body();
    change(&mut g);
    let leaf = sign_body(&g.origin.clone(), &key("operator"), &Body::Genesis(g)).sequenced(T0);
    let mut f = Fixture::empty();
    f.apply(leaf).map(|_| ())
}

// ---- envelope and genesis --------------------------------------------------------------------

#[test]
fn body_malformed() {
    let mut f = Fixture::genesis();
    let leaf = sign_body_bytes(ORIGIN, &key("operator"), vec![42]).sequenced(f.now);
    let r = f.apply(leaf).unwrap_err();
    assert!(matches!(r, Rejection::BodyMalformed { .. }), "{r:?}");
    assert_code(&r, "body_malformed");
}

#[test]
fn sequenced_at_mismatch() {
    let mut f = Fixture::parties();
    let before = f.state().clone();
    let leaf = f.sign("alice", |nonce| {
        Body::GrantConsent(GrantConsent {
            nonce,
            ..grant_body(None, 1, T0)
        })
    });
    let r = f.engine.apply(&leaf, leaf.sequenced_at + 1).unwrap_err();
    let testigo_ledger::state::EngineError::Rejected(r) = r else {
        panic!("{r:?}")
    };
    assert_eq!(
        r,
        Rejection::SequencedAtMismatch {
            stamped: leaf.sequenced_at,
            sequenced_at: leaf.sequenced_at + 1
        }
    );
    assert_eq!(f.state(), &before);
    assert_code(&r, "sequenced_at_mismatch");
}

#[test]
fn genesis_required() {
    let mut f = Fixture::empty();
    let r = f.reject("operator", |nonce| {
        Body::EnrollSubject(EnrollSubject {
            nonce,
            subject: pk("alice"),
            salt: [1; 32],
        })
    });
    assert_eq!(
        r,
        Rejection::GenesisRequired {
            got: BodyKind::EnrollSubject
        }
    );
    assert_code(&r, "genesis_required");
}

#[test]
fn genesis_not_first() {
    let mut f = Fixture::genesis();
    let r = f.reject("operator", |nonce| {
        Body::Genesis(Genesis {
            nonce,
            ..genesis_body()
        })
    });
    assert_eq!(r, Rejection::GenesisNotFirst { index: 1 });
    assert_code(&r, "genesis_not_first");
}

#[test]
fn genesis_not_signed_by_log_key() {
    let mut f = Fixture::empty();
    let r = f.reject("mallory", |_| Body::Genesis(genesis_body()));
    assert_eq!(
        r,
        Rejection::GenesisNotSignedByLogKey {
            log_key: pk("operator"),
            signer: pk("mallory")
        }
    );
    assert_code(&r, "genesis_not_signed_by_log_key");
}

#[test]
fn bad_origin() {
    for origin in ["", "two words", "line\nbreak"] {
        let r = genesis_with(|g| g.origin = origin.into()).unwrap_err();
        assert_eq!(
            r,
            Rejection::BadOrigin {
                origin: origin.into()
            }
        );
        assert_code(&r, "bad_origin");
    }
}

#[test]
fn fee_too_high() {
    assert_eq!(genesis_with(|g| g.fee_bps = MAX_FEE_BPS), Ok(()));
    let r = genesis_with(|g| g.fee_bps = MAX_FEE_BPS + 1).unwrap_err();
    assert_eq!(
        r,
        Rejection::FeeTooHigh {
            fee_bps: 10_001,
            max: 10_000
        }
    );
    assert_code(&r, "fee_too_high");
}

#[test]
fn bad_quorum() {
    let r = genesis_with(|g| g.quorum = 2).unwrap_err();
    assert_eq!(
        r,
        Rejection::BadQuorum {
            quorum: 2,
            witnesses: 1
        }
    );
    assert_code(&r, "bad_quorum");
    assert_eq!(
        genesis_with(|g| g.quorum = 0),
        Err(Rejection::BadQuorum {
            quorum: 0,
            witnesses: 1
        })
    );
    let r = genesis_with(|g| {
        g.witnesses.clear();
        g.quorum = 1;
    });
    assert_eq!(
        r,
        Err(Rejection::BadQuorum {
            quorum: 1,
            witnesses: 0
        })
    );
    let no_witnesses = genesis_with(|g| {
        g.witnesses.clear();
        g.quorum = 0;
    });
    assert_eq!(no_witnesses, Ok(()));
}

#[test]
fn duplicate_witness() {
    let r = genesis_with(|g| {
        let mut second = g.witnesses[0].clone();
        second.name = "another.example".into();
        g.witnesses.push(second);
    })
    .unwrap_err();
    assert_eq!(
        r,
        Rejection::DuplicateWitness {
            name: "another.example".into(),
            key: pk("witness")
        }
    );
    assert_code(&r, "duplicate_witness");
}

#[test]
fn weak_key() {
    let mut f = Fixture::genesis();
    let r = f.reject("operator", |nonce| {
        Body::EnrollSubject(EnrollSubject {
            nonce,
            subject: identity_key(),
            salt: [0; 32],
        })
    });
    assert_eq!(
        r,
        Rejection::WeakKey {
            key: identity_key(),
            problem: KeyProblem::SmallOrder
        }
    );
    assert_code(&r, "weak_key");
    let r = genesis_with(|g| g.regulators.push(identity_key())).unwrap_err();
    assert!(matches!(r, Rejection::WeakKey { .. }), "{r:?}");
}

#[test]
fn bad_signature() {
    let mut f = Fixture::parties();
    let mut leaf = f.sign("alice", |nonce| {
        Body::GrantConsent(GrantConsent {
            nonce,
            ..grant_body(None, 1, T0)
        })
    });
    leaf.signature[3] ^= 1;
    let r = f.apply(leaf).unwrap_err();
    assert_eq!(
        r,
        Rejection::BadSignature {
            signer: pk("alice")
        }
    );
    assert_code(&r, "bad_signature");
    // A signature made for another log is just as bad.
    let other = sign_body(
        "testigo.example/log/2",
        &key("alice"),
        &Body::Claim(Claim {
            nonce: 1,
            amount: 1,
            payout_ref: Hash([0; 32]),
        }),
    )
    .sequenced(f.now);
    assert_eq!(
        f.apply(other),
        Err(Rejection::BadSignature {
            signer: pk("alice")
        })
    );
}

#[test]
fn time_went_backwards() {
    let mut f = Fixture::parties();
    let last = f.state().last_sequenced_at();
    f.now = last - 1;
    let r = f.reject("alice", |nonce| {
        Body::GrantConsent(GrantConsent {
            nonce,
            ..grant_body(None, 1, T0)
        })
    });
    assert_eq!(
        r,
        Rejection::TimeWentBackwards {
            last,
            got: last - 1
        }
    );
    assert_code(&r, "time_went_backwards");
    f.now = last;
    f.ok("alice", |nonce| {
        Body::GrantConsent(GrantConsent {
            nonce,
            ..grant_body(None, 1, T0)
        })
    });
}

// ---- accounts, roles, nonces -----------------------------------------------------------------

#[test]
fn unknown_account() {
    let mut f = Fixture::parties();
    let r = f.reject("mallory", |nonce| {
        Body::GrantConsent(GrantConsent {
            nonce,
            ..grant_body(None, 1, T0)
        })
    });
    assert_eq!(r, Rejection::UnknownAccount { key: pk("mallory") });
    assert_code(&r, "unknown_account");
    let r = f.reject("alice", |nonce| {
        Body::GrantConsent(GrantConsent {
            nonce,
            ..grant_body(Some(pk("nobody")), 1, T0)
        })
    });
    assert_eq!(r, Rejection::UnknownAccount { key: pk("nobody") });
}

#[test]
fn wrong_role() {
    let mut f = Fixture::parties();
    let r = f.reject("alice", |nonce| {
        Body::Deposit(Deposit {
            nonce,
            accessor: pk("alice"),
            amount: 5,
            reference: "x".into(),
        })
    });
    assert_eq!(
        r,
        Rejection::WrongRole {
            key: pk("alice"),
            role: Role::Subject,
            required: vec![Role::Operator]
        }
    );
    assert_code(&r, "wrong_role");
    // A subject cannot access data, and an accessor is not a subject whose data is accessed.
    let r = f.reject("acme", |nonce| {
        Body::Access(access_body(nonce, pk("zed"), None, 0))
    });
    assert_eq!(
        r,
        Rejection::WrongRole {
            key: pk("zed"),
            role: Role::Accessor,
            required: vec![Role::Subject]
        }
    );
}

#[test]
fn already_registered() {
    let mut f = Fixture::parties();
    let r = f.reject("operator", |nonce| {
        Body::RegisterAccessor(register_body(nonce, pk("alice"), "alice"))
    });
    assert_eq!(
        r,
        Rejection::AlreadyRegistered {
            key: pk("alice"),
            role: Role::Subject
        }
    );
    assert_code(&r, "already_registered");
}

#[test]
fn nonce_reused() {
    let mut f = Fixture::parties();
    let first = f.sign("alice", |nonce| {
        Body::GrantConsent(GrantConsent {
            nonce: nonce + 9,
            ..grant_body(None, 1, T0)
        })
    });
    f.apply(first.clone()).unwrap();
    // Gaps are allowed: alice jumped from nothing to 10. Anything at or below 10 is refused.
    let r = f.reject("alice", |_| {
        Body::GrantConsent(GrantConsent {
            nonce: 10,
            ..grant_body(None, 2, T0)
        })
    });
    assert_eq!(
        r,
        Rejection::NonceReused {
            nonce: 10,
            last: 10
        }
    );
    assert_code(&r, "nonce_reused");
    assert_eq!(
        f.reject("alice", |_| Body::RevokeConsent(RevokeConsent {
            nonce: 3,
            consent: 5
        })),
        Rejection::NonceReused { nonce: 3, last: 10 }
    );
    // The identical resubmission is refused the same way; the node answers it with the original
    // index because it is the same entry.
    let retry = first.clone().sequenced(f.now);
    assert_eq!(
        f.apply(retry.clone()),
        Err(Rejection::NonceReused {
            nonce: 10,
            last: 10
        })
    );
    assert!(is_same_entry(&first, &retry));
    let other = f.sign("alice", |_| {
        Body::GrantConsent(GrantConsent {
            nonce: 10,
            ..grant_body(None, 2, T0)
        })
    });
    assert!(!is_same_entry(&first, &other));
}

#[test]
fn empty_field() {
    let mut f = Fixture::genesis();
    let r = f.reject("operator", |nonce| {
        Body::RegisterAccessor(RegisterAccessor {
            display_name: String::new(),
            ..register_body(nonce, pk("acme"), "acme")
        })
    });
    assert_eq!(
        r,
        Rejection::EmptyField {
            field: "display_name".into()
        }
    );
    assert_code(&r, "empty_field");
}

// ---- money -----------------------------------------------------------------------------------

#[test]
fn zero_amount() {
    let mut f = Fixture::parties();
    let r = f.reject("operator", |nonce| {
        Body::Deposit(Deposit {
            nonce,
            accessor: pk("acme"),
            amount: 0,
            reference: "x".into(),
        })
    });
    assert_eq!(r, Rejection::ZeroAmount);
    assert_code(&r, "zero_amount");
    let r = f.reject("alice", |nonce| {
        Body::Claim(Claim {
            nonce,
            amount: 0,
            payout_ref: Hash([1; 32]),
        })
    });
    assert_eq!(r, Rejection::ZeroAmount);
}

#[test]
fn overflow() {
    let mut f = Fixture::parties();
    // zed's own balance would fit, but the total of deposits would not.
    let r = f.reject("operator", |nonce| {
        Body::Deposit(Deposit {
            nonce,
            accessor: pk("zed"),
            amount: u64::MAX,
            reference: "x".into(),
        })
    });
    assert_eq!(r, Rejection::Overflow);
    assert_code(&r, "overflow");
    f.deposit("zed", u64::MAX - 1_000);
    assert_eq!(f.state().total_deposits(), u64::MAX);
}

#[test]
fn insufficient_funds() {
    let mut f = Fixture::parties();
    let c = f.grant("alice", None, 3);
    let r = f.access("zed", "alice", c, 3).unwrap_err();
    assert_eq!(
        r,
        Rejection::InsufficientFunds {
            balance: 0,
            price: 3
        }
    );
    assert_code(&r, "insufficient_funds");
}

#[test]
fn claim_exceeds_balance() {
    let mut f = Fixture::parties();
    let c = f.grant("alice", None, 0);
    f.access("acme", "alice", c, 100).unwrap();
    // 100 at 2.5%: a fee of 2, 98 earned.
    let r = f.reject("alice", |nonce| {
        Body::Claim(Claim {
            nonce,
            amount: 99,
            payout_ref: Hash([1; 32]),
        })
    });
    assert_eq!(
        r,
        Rejection::ClaimExceedsBalance {
            balance: 98,
            amount: 99
        }
    );
    assert_code(&r, "claim_exceeds_balance");
}

#[test]
fn claim_not_found() {
    let mut f = Fixture::parties();
    let r = f.reject("operator", |nonce| {
        Body::PayoutSettled(PayoutSettled {
            nonce,
            claim: 3,
            settlement_ref: "P-1".into(),
        })
    });
    assert_eq!(r, Rejection::ClaimNotFound { claim: 3 });
    assert_code(&r, "claim_not_found");
}

#[test]
fn claim_already_settled() {
    let mut f = Fixture::parties();
    let c = f.grant("alice", None, 0);
    f.access("acme", "alice", c, 100).unwrap();
    let claim = f
        .ok("alice", |nonce| {
            Body::Claim(Claim {
                nonce,
                amount: 50,
                payout_ref: Hash([1; 32]),
            })
        })
        .index;
    let settled = f
        .ok("operator", |nonce| {
            Body::PayoutSettled(PayoutSettled {
                nonce,
                claim,
                settlement_ref: "P-1".into(),
            })
        })
        .index;
    let r = f.reject("operator", |nonce| {
        Body::PayoutSettled(PayoutSettled {
            nonce,
            claim,
            settlement_ref: "P-2".into(),
        })
    });
    assert_eq!(
        r,
        Rejection::ClaimAlreadySettled {
            claim,
            settled_at: settled
        }
    );
    assert_code(&r, "claim_already_settled");
}

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

// ---- what applies ----------------------------------------------------------------------------

#[test]
fn genesis_sets_the_log_and_the_operator_account() {
    let f = Fixture::genesis();
    let p = f.state().params().unwrap();
    assert_eq!(
        (p.origin.as_str(), p.fee_bps, p.quorum),
        (ORIGIN, FEE_BPS, 1)
    );
    assert_eq!(p.genesis_leaf, f.leaves[0].hash(&Blake3));
    let op = f.state().account(&pk("operator")).unwrap();
    assert_eq!(
        (op.role, op.last_nonce, op.history_len, op.salt),
        (Role::Operator, Some(0), 1, [7; 32])
    );
}

#[test]
fn access_splits_price_into_fee_and_earnings() {
    let mut f = Fixture::parties();
    let c = f.grant("alice", None, 3);
    let e = f.access("acme", "alice", c, 1_000).unwrap();
    let payment = e.payment.unwrap();
    assert_eq!((payment.price, payment.fee), (1_000, 25));
    assert_eq!(e.involved, vec![pk("acme"), pk("alice")]);
    let s = f.state();
    assert_eq!(s.account(&pk("acme")).unwrap().balance, 0);
    assert_eq!(s.account(&pk("alice")).unwrap().balance, 975);
    assert_eq!(s.account(&pk("operator")).unwrap().fees, 25);
    // floor(3 × 250 / 10000) = 0: small prices go entirely to the subject.
    f.deposit("acme", 3);
    assert_eq!(
        f.access("acme", "alice", c, 3)
            .unwrap()
            .payment
            .unwrap()
            .fee,
        0
    );
}

#[test]
fn fee_uses_a_wide_intermediate() {
    let mut f = Fixture::parties();
    f.deposit("zed", u64::MAX - 1_000);
    let c = f.grant("alice", Some("zed"), 0);
    let price = u64::MAX - 1_000;
    let fee = f
        .access("zed", "alice", c, price)
        .unwrap()
        .payment
        .unwrap()
        .fee;
    assert_eq!(u128::from(fee), u128::from(price) * 250 / 10_000);
}

#[test]
fn operator_accesses_for_its_own_uses_and_pays_like_anyone() {
    let mut f = Fixture::parties();
    f.deposit("operator", 100);
    let e = f.ok("operator", |nonce| {
        Body::Access(Access {
            legal_basis: LegalBasis::LegalObligation,
            purpose: Purpose::LegalCompliance,
            ..access_body(nonce, pk("alice"), None, 40)
        })
    });
    assert_eq!(e.involved, vec![pk("operator"), pk("alice")]);
    let op = f.state().account(&pk("operator")).unwrap();
    assert_eq!((op.balance, op.fees), (60, 1));
    // And under consent, when the subject granted it to the operator.
    let c = f.grant("alice", Some("operator"), 10);
    f.access("operator", "alice", c, 10).unwrap();
}

#[test]
fn other_legal_bases_need_no_consent_and_are_logged() {
    let mut f = Fixture::parties();
    for basis in LegalBasis::ALL
        .iter()
        .copied()
        .filter(|b| *b != LegalBasis::Consent)
    {
        let e = f.ok("acme", |nonce| {
            Body::Access(Access {
                legal_basis: basis,
                ..access_body(nonce, pk("bob"), None, 2)
            })
        });
        assert_eq!(e.involved, vec![pk("acme"), pk("bob")]);
        let Body::Access(logged) = f.leaves.last().unwrap().decode_body().unwrap() else {
            panic!()
        };
        assert_eq!((logged.legal_basis, logged.consent), (basis, None));
    }
    assert_eq!(f.state().account(&pk("bob")).unwrap().balance, 5 * 2);
}

#[test]
fn claims_move_to_pending_and_payouts_settle_them() {
    let mut f = Fixture::parties();
    let c = f.grant("alice", None, 0);
    f.access("acme", "alice", c, 400).unwrap();
    let claim = f
        .ok("alice", |nonce| {
            Body::Claim(Claim {
                nonce,
                amount: 300,
                payout_ref: Hash([4; 32]),
            })
        })
        .index;
    let a = f.state().account(&pk("alice")).unwrap();
    assert_eq!((a.balance, a.pending_payouts), (90, 300));
    let e = f.ok("operator", |nonce| {
        Body::PayoutSettled(PayoutSettled {
            nonce,
            claim,
            settlement_ref: "P-9".into(),
        })
    });
    assert_eq!(
        e.involved,
        vec![pk("operator"), pk("alice")],
        "the payout is in the subject's history"
    );
    let a = f.state().account(&pk("alice")).unwrap();
    assert_eq!(
        (a.balance, a.pending_payouts, a.settled_payouts),
        (90, 0, 300)
    );
    assert_eq!(f.state().claim(claim).unwrap().settled_at, Some(e.index));
}

#[test]
fn revoke_is_in_the_named_accessors_history() {
    let mut f = Fixture::parties();
    let c = f.grant("alice", Some("acme"), 0);
    let e = f.ok("alice", |nonce| {
        Body::RevokeConsent(RevokeConsent { nonce, consent: c })
    });
    assert_eq!(e.involved, vec![pk("alice"), pk("acme")]);
}

#[test]
fn history_heads_chain_exactly_the_involving_leaves() {
    let mut f = Fixture::parties();
    let c = f.grant("alice", None, 1);
    f.access("acme", "alice", c, 5).unwrap();
    f.state_root();
    f.access("acme", "alice", c, 5).unwrap();
    for who in ["alice", "acme", "operator", "bob", "zed"] {
        let key = pk(who);
        let mut head = Hash([0; 32]);
        let mut len = 0;
        for (i, leaf) in f.leaves.iter().enumerate() {
            let body = leaf.decode_body().unwrap();
            let involved = match &body {
                Body::StateRoot(_) => false,
                Body::EnrollSubject(b) => leaf.signer == key || b.subject == key,
                Body::RegisterAccessor(b) => leaf.signer == key || b.accessor == key,
                Body::Deposit(b) => leaf.signer == key || b.accessor == key,
                Body::Access(b) => leaf.signer == key || b.subject == key,
                _ => leaf.signer == key,
            };
            if involved {
                head = extend_head(&head, i as u64, &Blake3.hash_leaf(&leaf.to_bytes()));
                len += 1;
            }
        }
        let a = f.state().account(&key).unwrap();
        assert_eq!((a.history_len, a.history_head), (len, head), "{who}");
    }
}

#[test]
fn state_root_enters_no_history_and_clears_the_dirty_set() {
    let mut f = Fixture::parties();
    let before: Vec<_> = f
        .state()
        .accounts()
        .map(|(k, a)| (*k, a.history_len, a.last_nonce))
        .collect();
    assert_eq!(f.state().dirty().count(), 5);
    let e = f.state_root();
    assert!(e.involved.is_empty());
    assert_eq!(f.state().dirty().count(), 0);
    let after: Vec<_> = f
        .state()
        .accounts()
        .map(|(k, a)| (*k, a.history_len, a.last_nonce))
        .collect();
    assert_eq!(before, after);
    // The committed record is provable against the map root the StateRoot leaf carries.
    let Body::StateRoot(root) = f.leaves.last().unwrap().decode_body().unwrap() else {
        panic!()
    };
    let key = testigo_ledger::map::account_map_key(&pk("alice"));
    let (value, proof) = f.engine.map().prove(&key, 0).unwrap();
    assert_eq!(
        value.as_deref(),
        Some(&f.state().account(&pk("alice")).unwrap().to_bytes()[..])
    );
    verify_account_proof(&root.map_root, &pk("alice"), value.as_deref(), &proof).unwrap();
    // The same chain from the leaf bytes, as a wallet holds them.
    let leaf_bytes = f.leaves.last().unwrap().to_bytes();
    let (record, as_of) = verify_account_at_state_root(
        &leaf_bytes,
        ORIGIN,
        &pk("operator"),
        &pk("alice"),
        value.as_deref(),
        &proof,
    )
    .unwrap();
    assert_eq!(as_of, root.as_of);
    assert_eq!(record.as_ref(), f.state().account(&pk("alice")));
    assert_eq!(
        verify_account_at_state_root(
            &leaf_bytes,
            ORIGIN,
            &pk("alice"),
            &pk("alice"),
            value.as_deref(),
            &proof
        ),
        Err(AccountProofError::NotSignedByLogKey)
    );
    assert!(matches!(
        verify_account_at_state_root(
            &leaf_bytes,
            ORIGIN,
            &pk("operator"),
            &pk("alice"),
            None,
            &proof
        ),
        Err(AccountProofError::Map(_))
    ));
    let other_leaf = f.leaves[f.leaves.len() - 2].to_bytes();
    assert!(matches!(
        verify_account_at_state_root(
            &other_leaf,
            ORIGIN,
            &pk("operator"),
            &pk("alice"),
            value.as_deref(),
            &proof
        ),
        Err(AccountProofError::NotAStateRoot { .. })
    ));
    // An access dirties payer, subject and the operator's fee bucket.
    let c = f.grant("alice", None, 0);
    f.state_root();
    f.access("acme", "alice", c, 100).unwrap();
    let dirty: Vec<PublicKey> = f.state().dirty().copied().collect();
    let mut expected = vec![pk("acme"), pk("alice"), pk("operator")];
    expected.sort();
    assert_eq!(dirty, expected);
}

#[test]
fn apply_preverified_skips_only_the_signature() {
    let f = Fixture::parties();
    let mut leaf = f.sign("alice", |nonce| {
        Body::GrantConsent(GrantConsent {
            nonce,
            ..grant_body(None, 1, T0)
        })
    });
    leaf.signature[0] ^= 1;
    let mut s: State = f.state().clone();
    assert!(s.apply(&leaf, leaf.sequenced_at).is_err());
    assert!(s.apply_preverified(&leaf, leaf.sequenced_at).is_ok());
}

#[test]
fn every_code_is_distinct_and_snake_case() {
    let (k, h) = (pk("a"), Hash([0; 32]));
    let all = [
        Rejection::BodyMalformed {
            reason: String::new(),
        },
        Rejection::SequencedAtMismatch {
            stamped: 0,
            sequenced_at: 0,
        },
        Rejection::GenesisRequired {
            got: BodyKind::Access,
        },
        Rejection::GenesisNotFirst { index: 0 },
        Rejection::GenesisNotSignedByLogKey {
            log_key: k,
            signer: k,
        },
        Rejection::BadOrigin {
            origin: String::new(),
        },
        Rejection::FeeTooHigh { fee_bps: 0, max: 0 },
        Rejection::BadQuorum {
            quorum: 0,
            witnesses: 0,
        },
        Rejection::DuplicateWitness {
            name: String::new(),
            key: k,
        },
        Rejection::WeakKey {
            key: k,
            problem: KeyProblem::Torsion,
        },
        Rejection::BadSignature { signer: k },
        Rejection::TimeWentBackwards { last: 0, got: 0 },
        Rejection::UnknownAccount { key: k },
        Rejection::WrongRole {
            key: k,
            role: Role::Subject,
            required: vec![],
        },
        Rejection::AlreadyRegistered {
            key: k,
            role: Role::Subject,
        },
        Rejection::NonceReused { nonce: 0, last: 0 },
        Rejection::EmptyField {
            field: String::new(),
        },
        Rejection::ZeroAmount,
        Rejection::Overflow,
        Rejection::EmptyConsentScope {
            categories: 0,
            purposes: 0,
        },
        Rejection::InvalidValidityWindow {
            valid_from: 0,
            valid_until: 0,
        },
        Rejection::ConsentNotFound { consent: 0 },
        Rejection::NotConsentOwner {
            consent: 0,
            owner: k,
        },
        Rejection::ConsentAlreadyRevoked {
            consent: 0,
            revoked_at: 0,
        },
        Rejection::ConsentReferenceMissing,
        Rejection::UnexpectedConsentReference {
            legal_basis: LegalBasis::Contract,
            consent: 0,
        },
        Rejection::ConsentOfAnotherSubject {
            consent: 0,
            grantor: k,
            subject: k,
        },
        Rejection::ConsentRevoked {
            consent: 0,
            revoked_at: 0,
        },
        Rejection::ConsentNotForAccessor {
            consent: 0,
            allowed: k,
            accessor: k,
        },
        Rejection::CategoryNotCovered {
            consent: 0,
            category: DataCategory::Location,
        },
        Rejection::PurposeNotCovered {
            consent: 0,
            purpose: Purpose::ServiceProvision,
        },
        Rejection::NotInValidityWindow {
            consent: 0,
            valid_from: 0,
            valid_until: None,
            at: 0,
        },
        Rejection::PriceBelowConsent {
            price: 0,
            minimum: 0,
        },
        Rejection::InsufficientFunds {
            balance: 0,
            price: 0,
        },
        Rejection::ClaimExceedsBalance {
            balance: 0,
            amount: 0,
        },
        Rejection::ClaimNotFound { claim: 0 },
        Rejection::ClaimAlreadySettled {
            claim: 0,
            settled_at: 0,
        },
        Rejection::StateRootIndexMismatch { as_of: 0, index: 0 },
        Rejection::StateRootMismatch {
            claimed: h,
            computed: h,
        },
    ];
    let mut codes: Vec<&str> = all.iter().map(Rejection::code).collect();
    for (r, code) in all.iter().zip(&codes) {
        assert!(
            code.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
            "{code}"
        );
        assert_code(r, code);
        assert!(!r.to_string().is_empty());
    }
    codes.sort();
    codes.dedup();
    assert_eq!(codes.len(), all.len());
    let json = serde_json::to_string(&Rejection::InsufficientFunds {
        balance: 2,
        price: 3,
    })
    .unwrap();
    assert_eq!(
        json,
        r#"{"code":"insufficient_funds","balance":2,"price":3}"#
    );
}

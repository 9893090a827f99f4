//! One test per rejection variant of the envelope, genesis, accounts, nonces and money, each
//! asserting the exact variant (and that the refused entry changed nothing: the fixture checks
//! that on every refusal). Consent and state-root rejections are in `state_rejections_consent.rs`.

mod common;

use common::fixture::*;
use common::rules::*;
use common::{ORIGIN, key, pk};
use testigo_ledger::Hash;
use testigo_ledger::entry::signature::sign_body_bytes;
use testigo_ledger::entry::*;
use testigo_ledger::state::{
    KeyProblem, MAX_FEE_BPS, MAX_NONCE_GAP, Rejection, Role, is_same_entry,
};

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
fn too_many_witnesses() {
    let named = |n: usize| {
        genesis_with(|g| {
            g.witnesses = (0..n)
                .map(|i| WitnessKey {
                    name: format!("w{i}.example"),
                    key: pk(&format!("witness {i}")),
                })
                .collect();
            g.quorum = 1;
        })
    };
    assert_eq!(named(testigo_ledger::state::MAX_WITNESSES), Ok(()));
    let r = named(16).unwrap_err();
    assert_eq!(
        r,
        Rejection::TooManyWitnesses {
            witnesses: 16,
            max: 15
        }
    );
    assert_code(&r, "too_many_witnesses");
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
fn nonce_too_far() {
    let mut f = Fixture::parties();
    let grant = |nonce: u64| {
        move |_| {
            Body::GrantConsent(GrantConsent {
                nonce,
                ..grant_body(None, 1, T0)
            })
        }
    };
    // Alice has signed nothing, so her next nonce is 0 and the window is 0..=MAX_NONCE_GAP.
    assert_eq!(
        f.reject("alice", grant(MAX_NONCE_GAP + 1)),
        Rejection::NonceTooFar {
            next: 0,
            got: MAX_NONCE_GAP + 1
        }
    );
    // The one entry that would have used up her nonces today.
    let r = f.reject("alice", grant(u64::MAX));
    assert_eq!(
        r,
        Rejection::NonceTooFar {
            next: 0,
            got: u64::MAX
        }
    );
    assert_code(&r, "nonce_too_far");
    // The edge of the window is inside it.
    f.ok("alice", grant(MAX_NONCE_GAP));
    assert_eq!(
        f.state().account(&pk("alice")).unwrap().last_nonce,
        Some(MAX_NONCE_GAP)
    );
    // From there the window moves with the nonce: next is MAX_NONCE_GAP + 1.
    let next = MAX_NONCE_GAP + 1;
    assert_eq!(
        f.reject("alice", grant(next + MAX_NONCE_GAP + 1)),
        Rejection::NonceTooFar {
            next,
            got: next + MAX_NONCE_GAP + 1
        }
    );
    // A nonce at or below the last one is still `nonce_reused`, not `nonce_too_far`.
    assert_eq!(
        f.reject("alice", grant(MAX_NONCE_GAP)),
        Rejection::NonceReused {
            nonce: MAX_NONCE_GAP,
            last: MAX_NONCE_GAP
        }
    );
    f.ok("alice", grant(next + MAX_NONCE_GAP));
}

#[test]
fn genesis_nonce_is_bounded_too() {
    // The operator has signed nothing before its genesis: its first nonce is bounded like any.
    let mut f = Fixture::empty();
    let r = f.reject("operator", |_| {
        Body::Genesis(Genesis {
            nonce: MAX_NONCE_GAP + 1,
            ..genesis_body()
        })
    });
    assert_eq!(
        r,
        Rejection::NonceTooFar {
            next: 0,
            got: MAX_NONCE_GAP + 1
        }
    );
    assert_eq!(f.index(), 0);
    f.ok("operator", |_| {
        Body::Genesis(Genesis {
            nonce: MAX_NONCE_GAP,
            ..genesis_body()
        })
    });
    let operator = f.state().account(&pk("operator")).unwrap();
    assert_eq!(operator.last_nonce, Some(MAX_NONCE_GAP));
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

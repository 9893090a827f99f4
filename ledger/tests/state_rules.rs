//! The rules that accept: what each valid entry does to the state, the money and the history.
//! Every rejection variant has its own test in `state_rejections*.rs`.

mod common;

use common::fixture::*;
use common::rules::*;
use common::{ORIGIN, pk};
use testigo_ledger::entry::*;
use testigo_ledger::map::StateMap;
use testigo_ledger::state::{EngineError, KeyProblem, Rejection, Role, history::extend_head};
use testigo_ledger::verify::{
    AccountProofError, verify_account_at_state_root, verify_account_proof,
};
use testigo_ledger::{Blake3, Hash, PublicKey, TreeHasher};

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
    let mut engine = f.engine;
    assert!(matches!(
        engine.apply(&leaf, leaf.sequenced_at),
        Err(EngineError::Rejected(Rejection::BadSignature { .. }))
    ));
    assert!(engine.apply_preverified(&leaf, leaf.sequenced_at).is_ok());
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
        Rejection::TooManyWitnesses {
            witnesses: 0,
            max: 0,
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

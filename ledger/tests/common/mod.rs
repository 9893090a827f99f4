//! Fixtures shared by the ledger's integration tests: deterministic keys and one body of each kind.
#![allow(dead_code, unreachable_pub)]

pub mod fixture;
pub mod generator;
pub mod rules;
pub mod tree;

use ed25519_dalek::SigningKey;
use testigo_ledger::entry::*;
use testigo_ledger::{Hash, PublicKey};

pub const ORIGIN: &str = "testigo.example/log/1";

/// A signing key derived from a label, so tests are reproducible.
pub fn key(label: &str) -> SigningKey {
    SigningKey::from_bytes(blake3::hash(label.as_bytes()).as_bytes())
}

pub fn pk(label: &str) -> PublicKey {
    PublicKey(key(label).verifying_key().to_bytes())
}

/// One body of every kind, with non-trivial field values.
pub fn sample_bodies() -> Vec<Body> {
    vec![
        Body::Genesis(fixture::genesis_body()),
        Body::EnrollSubject(EnrollSubject {
            nonce: 1,
            subject: pk("alice"),
            salt: [1; 32],
        }),
        Body::RegisterAccessor(RegisterAccessor {
            nonce: 2,
            accessor: pk("acme"),
            display_name: "Acme Ads Ltd".into(),
            legal_entity_id: "5493001KJTIIGC8Y1R12".into(),
            salt: [2; 32],
        }),
        Body::Deposit(Deposit {
            nonce: 3,
            accessor: pk("acme"),
            amount: 1_000_000,
            reference: "SEPA-2026-11-29-0001".into(),
        }),
        Body::GrantConsent(GrantConsent {
            nonce: 1,
            accessor: Some(pk("acme")),
            categories: vec![DataCategory::Location, DataCategory::Purchase],
            purposes: vec![Purpose::PersonalisedAdvertising],
            price: 3,
            valid_from: 1_764_000_000_000,
            valid_until: Some(1_800_000_000_000),
        }),
        Body::RevokeConsent(RevokeConsent {
            nonce: 2,
            consent: 4,
        }),
        Body::Access(Access {
            nonce: 1,
            subject: pk("alice"),
            category: DataCategory::Location,
            purpose: Purpose::PersonalisedAdvertising,
            legal_basis: LegalBasis::Consent,
            consent: Some(4),
            price: 3,
        }),
        Body::Claim(Claim {
            nonce: 3,
            amount: 2,
            payout_ref: Hash([9; 32]),
        }),
        Body::PayoutSettled(PayoutSettled {
            nonce: 4,
            claim: 7,
            settlement_ref: "PAYOUT-0001".into(),
        }),
        Body::StateRoot(StateRoot {
            as_of: 9,
            map_root: Hash([5; 32]),
        }),
    ]
}

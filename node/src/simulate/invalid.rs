//! Requests that must be refused, each with the code and status the node must answer. They are
//! signed with the signer's *next* nonce without using it up (a refused entry changes nothing),
//! except the replay case, which reuses an old one on purpose, and the gap case, which skips too
//! far ahead.

use rand_chacha::ChaCha8Rng;
use testigo_ledger::Hash;
use testigo_ledger::entry::{
    Access, Body, Claim, DataCategory, GrantConsent, Leaf, LegalBasis, PayoutSettled, Purpose,
    RevokeConsent, sign_body,
};
use testigo_ledger::state::MAX_NONCE_GAP;

use super::world::World;
use crate::loadgen::operator::below;

/// One request the node must refuse.
#[derive(Debug)]
pub(crate) struct Invalid {
    pub(crate) leaf: Leaf,
    pub(crate) code: &'static str,
    pub(crate) status: u16,
}

/// How many different cases [`make`] knows.
pub(crate) const CASES: u64 = 16;

fn invalid(leaf: Leaf, code: &'static str, status: u16) -> Option<Invalid> {
    Some(Invalid { leaf, code, status })
}

/// A subject with an active, sequenced grant: (subject, grant slot).
fn active_grant(world: &World, rng: &mut ChaCha8Rng) -> Option<(usize, usize)> {
    let start = below(rng, world.subjects.len() as u64) as usize;
    (0..world.subjects.len())
        .map(|i| (start + i) % world.subjects.len())
        .find_map(|s| {
            let slot = world.subjects[s]
                .grants
                .iter()
                .position(|g| !g.revoked && g.index.is_some())?;
            Some((s, slot))
        })
}

/// A revoked grant: (subject, consent index).
fn revoked_grant(world: &World) -> Option<(usize, usize, u64)> {
    world.subjects.iter().enumerate().find_map(|(s, subject)| {
        let g = subject.grants.iter().find(|g| g.revoked)?;
        Some((s, g.buyer, g.index?))
    })
}

/// An access signed by a registered buyer (1..) with its next nonce, not using it up.
fn by_buyer(world: &mut World, buyer: usize, access: Access) -> Leaf {
    world.sign_access(buyer, access, false)
}

/// Case `case` (mod [`CASES`]), or `None` if the world has nothing to build it from yet.
pub(crate) fn make(
    world: &mut World,
    case: u64,
    expired: u64,
    rng: &mut ChaCha8Rng,
) -> Option<Invalid> {
    let origin = world.operator.origin().to_owned();
    let subject = below(rng, world.subjects.len() as u64) as usize;
    let subject_key = world.subjects[subject].public;
    let buyer = 1 + below(rng, (world.buyers.len() - 1) as u64) as usize;
    let access = |category, purpose, basis, consent, price| {
        World::access(subject_key, category, purpose, basis, consent, price)
    };
    match case % CASES {
        0 => {
            let a = access(
                DataCategory::Location,
                Purpose::PersonalisedAdvertising,
                LegalBasis::Consent,
                None,
                5,
            );
            invalid(by_buyer(world, buyer, a), "consent_reference_missing", 422)
        }
        1 => {
            let (s, b, index) = revoked_grant(world)?;
            let g = world.subjects[s]
                .grants
                .iter()
                .find(|g| g.index == Some(index))?
                .clone();
            let a = World::access(
                world.subjects[s].public,
                g.categories[0],
                g.purposes[0],
                LegalBasis::Consent,
                Some(index),
                g.price,
            );
            invalid(by_buyer(world, b, a), "consent_revoked", 422)
        }
        2..=4 => {
            let (s, slot) = active_grant(world, rng)?;
            let g = world.subjects[s].grants[slot].clone();
            let key = world.subjects[s].public;
            let (signer, a, code) = match case % CASES {
                2 => (
                    g.buyer,
                    World::access(
                        key,
                        g.categories[0],
                        g.purposes[0],
                        LegalBasis::Consent,
                        g.index,
                        g.price - 1,
                    ),
                    "price_below_consent",
                ),
                3 => {
                    let other = *DataCategory::ALL
                        .iter()
                        .find(|c| !g.categories.contains(c))?;
                    (
                        g.buyer,
                        World::access(
                            key,
                            other,
                            g.purposes[0],
                            LegalBasis::Consent,
                            g.index,
                            g.price,
                        ),
                        "category_not_covered",
                    )
                }
                _ => {
                    let other = (1..world.buyers.len()).find(|&b| b != g.buyer)?;
                    (
                        other,
                        World::access(
                            key,
                            g.categories[0],
                            g.purposes[0],
                            LegalBasis::Consent,
                            g.index,
                            g.price,
                        ),
                        "consent_not_for_accessor",
                    )
                }
            };
            invalid(by_buyer(world, signer, a), code, 422)
        }
        5 => {
            let a = access(
                DataCategory::Purchase,
                Purpose::FraudPreventionAndDetection,
                LegalBasis::LegitimateInterest,
                None,
                7,
            );
            let broke = world.broke.key.as_ref()?;
            let leaf = sign_body(
                &origin,
                broke,
                &Body::Access(Access {
                    nonce: world.broke.next_nonce,
                    ..a
                }),
            );
            invalid(leaf, "insufficient_funds", 402)
        }
        6 => {
            let b = (1..world.buyers.len()).find(|&b| world.buyers[b].next_nonce > 0)?;
            let key = world.buyers[b].key.as_ref()?;
            // Nonce 0 again, with a body no real access had: a replay with changes.
            let a = access(
                DataCategory::CallLog,
                Purpose::LegalCompliance,
                LegalBasis::VitalInterest,
                None,
                0,
            );
            let leaf = sign_body(&origin, key, &Body::Access(a));
            invalid(leaf, "nonce_reused", 409)
        }
        7 => {
            let s = &world.subjects[subject];
            let body = Body::Claim(Claim {
                nonce: s.next_nonce,
                amount: s.balance + 1_000_000_000,
                payout_ref: Hash([9; 32]),
            });
            invalid(
                sign_body(&origin, &s.key, &body),
                "claim_exceeds_balance",
                402,
            )
        }
        8 => {
            let (s, _, index) = revoked_grant(world)?;
            let s = &world.subjects[s];
            let body = Body::RevokeConsent(RevokeConsent {
                nonce: s.next_nonce,
                consent: index,
            });
            invalid(
                sign_body(&origin, &s.key, &body),
                "consent_already_revoked",
                409,
            )
        }
        9 => {
            let claim = *world.settled_claims.first()?;
            let body = Body::PayoutSettled(PayoutSettled {
                nonce: world.operator.next_nonce(),
                claim,
                settlement_ref: "again".into(),
            });
            invalid(
                sign_body(&origin, world.operator.signing_key(), &body),
                "claim_already_settled",
                409,
            )
        }
        10 => {
            let a = access(
                DataCategory::Location,
                Purpose::ResearchAndDevelopment,
                LegalBasis::PublicInterest,
                None,
                0,
            );
            invalid(
                sign_body(&origin, &world.stranger, &Body::Access(a)),
                "unknown_account",
                422,
            )
        }
        11 => {
            let a = access(
                DataCategory::Location,
                Purpose::ServiceProvision,
                LegalBasis::Contract,
                None,
                0,
            );
            let mut leaf = by_buyer(world, buyer, a);
            leaf.signature[17] ^= 0x40;
            invalid(leaf, "invalid_signature", 422)
        }
        12 => {
            let a = access(
                DataCategory::Location,
                Purpose::ServiceProvision,
                LegalBasis::Contract,
                None,
                0,
            );
            let leaf = by_buyer(world, buyer, a).sequenced(1);
            invalid(leaf, "malformed_leaf", 400)
        }
        13 => {
            // The expired consent: subject 0 to buyer 1, for a window long past.
            let a = World::access(
                world.subjects[0].public,
                DataCategory::Location,
                Purpose::PersonalisedAdvertising,
                LegalBasis::Consent,
                Some(expired),
                20,
            );
            invalid(by_buyer(world, 1, a), "not_in_validity_window", 422)
        }
        14 => {
            // One past the window: a nonce that would skip more than MAX_NONCE_GAP.
            let s = &world.subjects[subject];
            let body = Body::RevokeConsent(RevokeConsent {
                nonce: s.next_nonce.checked_add(MAX_NONCE_GAP + 1)?,
                consent: 0,
            });
            invalid(sign_body(&origin, &s.key, &body), "nonce_too_far", 422)
        }
        _ => {
            let s = &world.subjects[subject];
            let body = if below(rng, 2) == 0 {
                // A subject acting as a data buyer.
                let a = access(
                    DataCategory::Location,
                    Purpose::ServiceProvision,
                    LegalBasis::Contract,
                    None,
                    0,
                );
                (
                    Body::Access(Access {
                        nonce: s.next_nonce,
                        ..a
                    }),
                    "wrong_role",
                )
            } else {
                // A consent to nothing.
                let g = GrantConsent {
                    nonce: s.next_nonce,
                    accessor: None,
                    categories: vec![],
                    purposes: vec![Purpose::ServiceProvision],
                    price: 1,
                    valid_from: 0,
                    valid_until: None,
                };
                (Body::GrantConsent(g), "empty_consent_scope")
            };
            invalid(sign_body(&origin, &s.key, &body.0), body.1, 422)
        }
    }
}

/// The expired grant made at setup: subject 0 to buyer 1, for a window long past.
pub(crate) fn expired_grant(world: &mut World) -> Leaf {
    let buyer = world.buyers[1].public;
    let s = &mut world.subjects[0];
    let body = Body::GrantConsent(GrantConsent {
        nonce: s.next_nonce,
        accessor: Some(buyer),
        categories: vec![DataCategory::Location],
        purposes: vec![Purpose::PersonalisedAdvertising],
        price: 1,
        valid_from: 1_000,
        valid_until: Some(2_000),
    });
    s.next_nonce += 1;
    sign_body(world.operator.origin(), &s.key, &body)
}

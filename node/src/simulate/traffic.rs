//! One simulated hour of valid traffic, in two steps: first the bookkeeping (settlements,
//! top-ups, new grants, revocations, claims), then the accesses, whose count and category mix
//! follow the hour (see [`super::day`]).

use rand_chacha::ChaCha8Rng;
use testigo_ledger::Hash;
use testigo_ledger::entry::{
    Body, BodyKind, Claim, DataCategory, LegalBasis, RevokeConsent, sign_body,
};

use super::day::{Archetype, category_weight, intensity, operator_basis};
use super::world::{Effect, Pending, World};
use crate::loadgen::operator::below;

/// A buyer's balance is topped up below this many minor units...
const LOW_BALANCE: u64 = 5_000;
/// ...by this much.
pub(crate) const TOP_UP: u64 = 50_000;
/// A subject claims once it has earned this much.
const CLAIM_THRESHOLD: u64 = 50;

/// Settlements of earlier claims, top-ups, new grants, revocations and claims.
pub(crate) fn bookkeeping(world: &mut World, hour: u32, rng: &mut ChaCha8Rng) -> Pending {
    let mut out = Pending::default();
    for (claim, amount) in std::mem::take(&mut world.open_claims) {
        let leaf = world
            .operator
            .settle(claim, &format!("SEPA-{hour:04}-{claim}"));
        out.push(leaf, BodyKind::PayoutSettled, Effect::None, amount);
        world.settled_claims.push(claim);
    }
    for b in 1..world.buyers.len() {
        if world.buyers[b].balance < LOW_BALANCE {
            let accessor = world.buyers[b].public;
            let leaf = world
                .operator
                .deposit(accessor, TOP_UP, &format!("wire-{hour:04}-{b}"));
            world.buyers[b].balance += TOP_UP;
            out.push(leaf, BodyKind::Deposit, Effect::None, TOP_UP);
        }
    }
    let n = world.subjects.len() as u64;
    let busy = intensity(hour);
    // New grants: a few customers opt in each hour, more when they are awake.
    for _ in 0..((n as f64 * 0.02 * busy).round() as u64) {
        let subject = below(rng, n) as usize;
        let buyer = 1 + below(rng, (world.buyers.len() - 1) as u64) as usize;
        world.grant(subject, buyer, rng, &mut out);
    }
    // Revocations: about one customer in a hundred withdraws a consent.
    for _ in 0..((n as f64 * 0.01 * busy).round() as u64) {
        let subject = below(rng, n) as usize;
        let s = &mut world.subjects[subject];
        let Some(grant) = s
            .grants
            .iter_mut()
            .find(|g| !g.revoked && g.index.is_some())
        else {
            continue;
        };
        grant.revoked = true;
        let body = Body::RevokeConsent(RevokeConsent {
            nonce: s.next_nonce,
            consent: grant.index.unwrap_or_default(),
        });
        s.next_nonce += 1;
        let leaf = sign_body(world.operator.origin(), &s.key, &body);
        out.push(leaf, BodyKind::RevokeConsent, Effect::None, 0);
    }
    // Claims: some customers cash out what they earned.
    for subject in 0..world.subjects.len() {
        let s = &mut world.subjects[subject];
        if s.balance < CLAIM_THRESHOLD || below(rng, 5) != 0 {
            continue;
        }
        let amount = s.balance;
        let mut payout_ref = [0u8; 32];
        payout_ref[..8].copy_from_slice(&u64::from(hour).to_be_bytes());
        payout_ref[8..16].copy_from_slice(&(subject as u64).to_be_bytes());
        let body = Body::Claim(Claim {
            nonce: s.next_nonce,
            amount,
            payout_ref: Hash(payout_ref),
        });
        s.next_nonce += 1;
        s.balance = 0;
        let leaf = sign_body(world.operator.origin(), &s.key, &body);
        out.push(leaf, BodyKind::Claim, Effect::Claimed, amount);
    }
    out
}

/// Picks a category from `allowed`, weighted by the hour.
fn pick_category(allowed: &[DataCategory], hour: u32, rng: &mut ChaCha8Rng) -> DataCategory {
    let total: u32 = allowed.iter().map(|c| category_weight(*c, hour)).sum();
    let mut roll = below(rng, u64::from(total.max(1))) as u32;
    for c in allowed {
        let w = category_weight(*c, hour);
        if roll < w {
            return *c;
        }
        roll -= w;
    }
    allowed[0]
}

/// The hour's accesses: `rate` per subject per average hour, shaped by the day.
pub(crate) fn accesses(world: &mut World, hour: u32, rate: f64, rng: &mut ChaCha8Rng) -> Pending {
    let mut out = Pending::default();
    let n = world.subjects.len() as u64;
    let count = (n as f64 * rate * intensity(hour)).round() as u64;
    for _ in 0..count {
        let subject = below(rng, n) as usize;
        let active: Vec<usize> = world.subjects[subject]
            .grants
            .iter()
            .enumerate()
            .filter(|(_, g)| !g.revoked && g.index.is_some())
            .map(|(i, _)| i)
            .collect();
        let public = world.subjects[subject].public;
        if active.is_empty() || below(rng, 5) == 0 {
            // The operator's own use: logged like anyone's, at price zero.
            let (categories, _) = Archetype::Operator.scope();
            let category = pick_category(categories, hour, rng);
            let (basis, purpose) = operator_basis(category, below(rng, 10));
            let access = World::access(public, category, purpose, basis, None, 0);
            let leaf = world.sign_access(0, access, true);
            out.push(leaf, BodyKind::Access, Effect::None, 0);
            continue;
        }
        let grant = world.subjects[subject].grants
            [active[below(rng, active.len() as u64) as usize]]
            .clone();
        let price = grant.price + below(rng, 2);
        if world.buyers[grant.buyer].balance < price {
            continue;
        }
        let category = pick_category(&grant.categories, hour, rng);
        let purpose = grant.purposes[below(rng, grant.purposes.len() as u64) as usize];
        let access = World::access(
            public,
            category,
            purpose,
            LegalBasis::Consent,
            grant.index,
            price,
        );
        let leaf = world.sign_access(grant.buyer, access, true);
        world.buyers[grant.buyer].balance -= price;
        let earned = world.earned(price);
        world.subjects[subject].balance += earned;
        out.push(leaf, BodyKind::Access, Effect::None, price);
    }
    out
}

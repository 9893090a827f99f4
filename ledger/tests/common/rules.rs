//! Helpers of the rule tests: exact-code assertions and genesis variants.

use testigo_ledger::PublicKey;
use testigo_ledger::entry::{Body, Genesis, sign_body};
use testigo_ledger::state::Rejection;

use super::fixture::{Fixture, T0, genesis_body};
use super::key;

/// Asserts the code, and that the JSON form carries the same code and round-trips.
#[track_caller]
pub fn assert_code(r: &Rejection, code: &str) {
    assert_eq!(r.code(), code, "{r:?}");
    let json = serde_json::to_value(r).unwrap();
    assert_eq!(json["code"], code, "{json}");
    assert_eq!(&serde_json::from_value::<Rejection>(json).unwrap(), r);
}

pub fn identity_key() -> PublicKey {
    let mut b = [0u8; 32];
    b[0] = 1;
    PublicKey(b)
}

/// Applies a genesis variant signed (correctly) by the operator under the body's own origin.
pub fn genesis_with(change: impl FnOnce(&mut Genesis)) -> Result<(), Rejection> {
    let mut g = genesis_body();
    change(&mut g);
    let leaf = sign_body(&g.origin.clone(), &key("operator"), &Body::Genesis(g)).sequenced(T0);
    let mut f = Fixture::empty();
    f.apply(leaf).map(|_| ())
}

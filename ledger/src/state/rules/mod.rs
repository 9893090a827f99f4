//! The rules of each body kind (DESIGN §4). Each function checks one body against a [`Tx`] and
//! records its changes there; it returns the first rule broken, in the order the docs list them.
//!
//! [`Tx`]: super::tx::Tx

pub(super) mod consent;
pub(super) mod genesis;
pub(super) mod money;
pub(super) mod registry;
pub(super) mod root;

use super::Rejection;
use crate::entry::check_account_key;
use crate::keys::PublicKey;

/// Requires a key fit to name an account (or a witness or regulator).
fn strong_key(key: &PublicKey) -> Result<(), Rejection> {
    check_account_key(key).map_err(|e| Rejection::WeakKey {
        key: *key,
        problem: e.into(),
    })
}

/// Requires a text field to say something.
fn non_empty(field: &str, value: &str) -> Result<(), Rejection> {
    if value.is_empty() {
        Err(Rejection::EmptyField {
            field: field.to_owned(),
        })
    } else {
        Ok(())
    }
}

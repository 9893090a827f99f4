//! `EnrollSubject` and `RegisterAccessor`: the operator creates accounts.
//!
//! Checked in this order: the signer is the operator and its nonce is fresh; (for an accessor)
//! the display name and legal entity id are given; the new key is strong; it names no account yet.

use super::super::tx::Tx;
use super::super::{AccountRecord, Rejection, Role};
use super::{non_empty, strong_key};
use crate::entry::{EnrollSubject, RegisterAccessor};

pub(in crate::state) fn enroll_subject(
    tx: &mut Tx<'_>,
    b: &EnrollSubject,
) -> Result<(), Rejection> {
    tx.signer_with_nonce(&[Role::Operator], b.nonce)?;
    strong_key(&b.subject)?;
    tx.create(b.subject, AccountRecord::new(Role::Subject, b.salt))
}

pub(in crate::state) fn register_accessor(
    tx: &mut Tx<'_>,
    b: &RegisterAccessor,
) -> Result<(), Rejection> {
    tx.signer_with_nonce(&[Role::Operator], b.nonce)?;
    non_empty("display_name", &b.display_name)?;
    non_empty("legal_entity_id", &b.legal_entity_id)?;
    strong_key(&b.accessor)?;
    tx.create(b.accessor, AccountRecord::new(Role::Accessor, b.salt))
}

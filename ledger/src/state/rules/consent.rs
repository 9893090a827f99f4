//! `GrantConsent`, `RevokeConsent`, and the consent half of `Access`.
//!
//! A grant is named by the index of its leaf. It covers an access iff it was granted by the
//! access's subject, is not revoked, names the accessor (or any accessor), lists the category
//! and the purpose, contains the access's `sequenced_at` in `[valid_from, valid_until)`, and asks
//! at most the access's price. A revocation takes effect from the next leaf on: any access
//! sequenced after it is refused, none before it is touched.

use super::super::tx::{Change, Tx};
use super::super::{Consent, Rejection, Role};
use crate::entry::{Access, GrantConsent, RevokeConsent};
use crate::keys::PublicKey;

/// Checked in this order: the signer is a subject with a fresh nonce; a named accessor is an
/// accessor or the operator; the scope has a category and a purpose; the window is not empty.
pub(in crate::state) fn grant(tx: &mut Tx<'_>, b: &GrantConsent) -> Result<(), Rejection> {
    tx.signer_with_nonce(&[Role::Subject], b.nonce)?;
    if let Some(accessor) = &b.accessor {
        tx.require_role(accessor, &[Role::Accessor, Role::Operator])?;
    }
    if b.categories.is_empty() || b.purposes.is_empty() {
        return Err(Rejection::EmptyConsentScope {
            categories: b.categories.len(),
            purposes: b.purposes.len(),
        });
    }
    if let Some(valid_until) = b.valid_until
        && valid_until <= b.valid_from
    {
        return Err(Rejection::InvalidValidityWindow {
            valid_from: b.valid_from,
            valid_until,
        });
    }
    tx.change = Change::Grant(Consent {
        subject: tx.signer,
        accessor: b.accessor,
        categories: b.categories.clone(),
        purposes: b.purposes.clone(),
        price: b.price,
        valid_from: b.valid_from,
        valid_until: b.valid_until,
        revoked_at: None,
    });
    Ok(())
}

/// Checked in this order: the signer is a subject with a fresh nonce; the grant exists; the
/// signer granted it; it is not revoked yet.
pub(in crate::state) fn revoke(tx: &mut Tx<'_>, b: &RevokeConsent) -> Result<(), Rejection> {
    tx.signer_with_nonce(&[Role::Subject], b.nonce)?;
    let consent = tx
        .state
        .consents
        .get(&b.consent)
        .ok_or(Rejection::ConsentNotFound { consent: b.consent })?;
    if consent.subject != tx.signer {
        return Err(Rejection::NotConsentOwner {
            consent: b.consent,
            owner: consent.subject,
        });
    }
    if let Some(revoked_at) = consent.revoked_at {
        return Err(Rejection::ConsentAlreadyRevoked {
            consent: b.consent,
            revoked_at,
        });
    }
    tx.change = Change::Revoke { consent: b.consent };
    Ok(())
}

/// Whether grant `index` covers `access` by `accessor` at time `at`, checked in the order of the
/// module docs.
pub(in crate::state) fn check_coverage(
    tx: &Tx<'_>,
    index: u64,
    access: &Access,
    accessor: &PublicKey,
) -> Result<(), Rejection> {
    let consent = tx
        .state
        .consents
        .get(&index)
        .ok_or(Rejection::ConsentNotFound { consent: index })?;
    if consent.subject != access.subject {
        return Err(Rejection::ConsentOfAnotherSubject {
            consent: index,
            grantor: consent.subject,
            subject: access.subject,
        });
    }
    if let Some(revoked_at) = consent.revoked_at {
        return Err(Rejection::ConsentRevoked {
            consent: index,
            revoked_at,
        });
    }
    if let Some(allowed) = consent.accessor
        && allowed != *accessor
    {
        return Err(Rejection::ConsentNotForAccessor {
            consent: index,
            allowed,
            accessor: *accessor,
        });
    }
    if !consent.categories.contains(&access.category) {
        return Err(Rejection::CategoryNotCovered {
            consent: index,
            category: access.category,
        });
    }
    if !consent.purposes.contains(&access.purpose) {
        return Err(Rejection::PurposeNotCovered {
            consent: index,
            purpose: access.purpose,
        });
    }
    let at = tx.at;
    if at < consent.valid_from || consent.valid_until.is_some_and(|until| at >= until) {
        return Err(Rejection::NotInValidityWindow {
            consent: index,
            valid_from: consent.valid_from,
            valid_until: consent.valid_until,
            at,
        });
    }
    if access.price < consent.price {
        return Err(Rejection::PriceBelowConsent {
            price: access.price,
            minimum: consent.price,
        });
    }
    Ok(())
}

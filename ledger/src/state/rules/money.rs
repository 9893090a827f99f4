//! `Deposit`, `Access`, `Claim`, `PayoutSettled`: every movement of money.
//!
//! Amounts are `u64` minor units and every sum is checked: an overflow refuses the entry
//! ([`Rejection::Overflow`]) and moves nothing. Money enters only by `Deposit` and leaves only by
//! `PayoutSettled`, so after every leaf: deposits = accessor and operator balances + subject
//! balances + pending payouts + settled payouts + operator fees.

use super::super::tx::{Change, Tx};
use super::super::{ClaimRecord, Payment, Rejection, Role};
use super::consent::check_coverage;
use super::non_empty;
use crate::entry::{Access, Claim, Deposit, LegalBasis, PayoutSettled};

fn add(a: u64, b: u64) -> Result<u64, Rejection> {
    a.checked_add(b).ok_or(Rejection::Overflow)
}

fn sub(a: u64, b: u64) -> Result<u64, Rejection> {
    a.checked_sub(b).ok_or(Rejection::Overflow)
}

/// The operator's fee: `floor(price × fee_bps / 10000)`, computed in `u128` so the product cannot
/// overflow; with `fee_bps ≤ 10000` the fee is at most the price.
pub(in crate::state) fn operator_fee(price: u64, fee_bps: u16) -> Result<u64, Rejection> {
    let fee = u128::from(price) * u128::from(fee_bps) / 10_000;
    u64::try_from(fee).map_err(|_| Rejection::Overflow)
}

/// Checked in this order: the signer is the operator with a fresh nonce; the amount is positive;
/// the reference is given; the credited key is an accessor or the operator; the sums fit.
pub(in crate::state) fn deposit(tx: &mut Tx<'_>, b: &Deposit) -> Result<(), Rejection> {
    tx.signer_with_nonce(&[Role::Operator], b.nonce)?;
    if b.amount == 0 {
        return Err(Rejection::ZeroAmount);
    }
    non_empty("reference", &b.reference)?;
    tx.require_role(&b.accessor, &[Role::Accessor, Role::Operator])?;
    let total_deposits = add(tx.state.total_deposits, b.amount)?;
    let account = tx.account_mut(&b.accessor)?;
    account.balance = add(account.balance, b.amount)?;
    tx.change = Change::Deposit { total_deposits };
    Ok(())
}

/// Checked in this order: the signer is an accessor or the operator with a fresh nonce; the
/// subject is a subject; a consent reference is present exactly under the consent basis; the
/// grant covers the access ([`check_coverage`]); the payer's balance covers the price; the sums
/// fit. The operator's fee goes to its fee bucket, the rest to the subject.
pub(in crate::state) fn access(tx: &mut Tx<'_>, b: &Access) -> Result<(), Rejection> {
    tx.signer_with_nonce(&[Role::Accessor, Role::Operator], b.nonce)?;
    tx.require_role(&b.subject, &[Role::Subject])?;
    match (b.legal_basis, b.consent) {
        (LegalBasis::Consent, None) => return Err(Rejection::ConsentReferenceMissing),
        (LegalBasis::Consent, Some(index)) => check_coverage(tx, index, b, &tx.signer)?,
        (_, Some(consent)) => {
            return Err(Rejection::UnexpectedConsentReference {
                legal_basis: b.legal_basis,
                consent,
            });
        }
        (_, None) => {}
    }
    let payer = tx.signer;
    let balance = tx.account(&payer)?.balance;
    if balance < b.price {
        return Err(Rejection::InsufficientFunds {
            balance,
            price: b.price,
        });
    }
    let fee_bps = tx.state.params.as_ref().map_or(0, |p| p.fee_bps);
    let fee = operator_fee(b.price, fee_bps)?;
    let earned = sub(b.price, fee)?;
    let operator_key = tx.state.params.as_ref().map(|p| p.log_key);
    let payer_account = tx.account_mut(&payer)?;
    payer_account.balance = sub(payer_account.balance, b.price)?;
    let subject = tx.account_mut(&b.subject)?;
    subject.balance = add(subject.balance, earned)?;
    if let Some(operator_key) = operator_key {
        let operator = tx.account_mut(&operator_key)?;
        operator.fees = add(operator.fees, fee)?;
    }
    tx.payment = Some(Payment {
        from: payer,
        to: b.subject,
        price: b.price,
        fee,
    });
    Ok(())
}

/// Checked in this order: the signer is a subject with a fresh nonce; the amount is positive and
/// at most its balance; the pending sum fits.
pub(in crate::state) fn claim(tx: &mut Tx<'_>, b: &Claim) -> Result<(), Rejection> {
    tx.signer_with_nonce(&[Role::Subject], b.nonce)?;
    if b.amount == 0 {
        return Err(Rejection::ZeroAmount);
    }
    let signer = tx.signer;
    let account = tx.account_mut(&signer)?;
    if account.balance < b.amount {
        return Err(Rejection::ClaimExceedsBalance {
            balance: account.balance,
            amount: b.amount,
        });
    }
    account.balance = sub(account.balance, b.amount)?;
    account.pending_payouts = add(account.pending_payouts, b.amount)?;
    tx.change = Change::Claim(ClaimRecord {
        subject: signer,
        amount: b.amount,
        payout_ref: b.payout_ref,
        settled_at: None,
    });
    Ok(())
}

/// Checked in this order: the signer is the operator with a fresh nonce; the settlement
/// reference is given; a claim sits at that index; it is still open. Its amount moves from the
/// subject's pending payouts to its settled payouts.
pub(in crate::state) fn payout_settled(
    tx: &mut Tx<'_>,
    b: &PayoutSettled,
) -> Result<(), Rejection> {
    tx.signer_with_nonce(&[Role::Operator], b.nonce)?;
    non_empty("settlement_ref", &b.settlement_ref)?;
    let claim = tx
        .state
        .claims
        .get(&b.claim)
        .ok_or(Rejection::ClaimNotFound { claim: b.claim })?;
    if let Some(settled_at) = claim.settled_at {
        return Err(Rejection::ClaimAlreadySettled {
            claim: b.claim,
            settled_at,
        });
    }
    let (subject_key, amount) = (claim.subject, claim.amount);
    let subject = tx.account_mut(&subject_key)?;
    // Cannot fail while pending = the sum of open claims (an invariant); refuse rather than wrap.
    subject.pending_payouts = sub(subject.pending_payouts, amount)?;
    subject.settled_payouts = add(subject.settled_payouts, amount)?;
    tx.change = Change::Settle { claim: b.claim };
    Ok(())
}

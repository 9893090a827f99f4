//! `Genesis`: leaf 0, signed by the log key it names.
//!
//! Checked in this order: it is leaf 0; the signer is the named log key; the origin is a
//! printable token; the fee is at most 100%; the currency is named; the log key, every witness
//! key and every regulator key are strong; no witness name or key repeats; the quorum is between
//! 1 and the number of witnesses (0 only when there are none); its nonce, the operator's first, is
//! at most `MAX_NONCE_GAP` (the operator has signed nothing before, so its next nonce is 0). It
//! creates the operator's account and sets the operator's first nonce.

use super::super::tx::{Change, Tx, check_nonce};
use super::super::{AccountRecord, LogParams, MAX_FEE_BPS, Rejection, Role};
use super::{non_empty, strong_key};
use crate::entry::Genesis;
use crate::hash::Hash;

pub(in crate::state) fn genesis(
    tx: &mut Tx<'_>,
    g: &Genesis,
    leaf_hash: Hash,
) -> Result<(), Rejection> {
    if tx.index != 0 {
        return Err(Rejection::GenesisNotFirst { index: tx.index });
    }
    if tx.signer != g.log_key {
        return Err(Rejection::GenesisNotSignedByLogKey {
            log_key: g.log_key,
            signer: tx.signer,
        });
    }
    // The origin is a token in checkpoint notes ("— <origin> <sig>"): no spaces, no newlines.
    if g.origin.is_empty()
        || g.origin
            .chars()
            .any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(Rejection::BadOrigin {
            origin: g.origin.clone(),
        });
    }
    if g.fee_bps > MAX_FEE_BPS {
        return Err(Rejection::FeeTooHigh {
            fee_bps: g.fee_bps,
            max: MAX_FEE_BPS,
        });
    }
    non_empty("currency", &g.currency)?;
    strong_key(&g.log_key)?;
    for w in &g.witnesses {
        strong_key(&w.key)?;
    }
    for r in &g.regulators {
        strong_key(r)?;
    }
    for (i, w) in g.witnesses.iter().enumerate() {
        if g.witnesses[..i]
            .iter()
            .any(|earlier| earlier.name == w.name || earlier.key == w.key)
        {
            return Err(Rejection::DuplicateWitness {
                name: w.name.clone(),
                key: w.key,
            });
        }
    }
    let witnesses = g.witnesses.len();
    if witnesses > super::super::MAX_WITNESSES {
        return Err(Rejection::TooManyWitnesses {
            witnesses,
            max: super::super::MAX_WITNESSES,
        });
    }
    let quorum_ok = if witnesses == 0 {
        g.quorum == 0
    } else {
        g.quorum >= 1 && usize::from(g.quorum) <= witnesses
    };
    if !quorum_ok {
        return Err(Rejection::BadQuorum {
            quorum: g.quorum,
            witnesses,
        });
    }
    check_nonce(None, g.nonce)?;
    let mut operator = AccountRecord::new(Role::Operator, g.operator_salt);
    operator.last_nonce = Some(g.nonce);
    tx.create(g.log_key, operator)?;
    tx.change = Change::Genesis(Box::new(LogParams {
        origin: g.origin.clone(),
        log_key: g.log_key,
        fee_bps: g.fee_bps,
        currency: g.currency.clone(),
        decimals: g.decimals,
        witnesses: g.witnesses.clone(),
        quorum: g.quorum,
        regulators: g.regulators.clone(),
        genesis_leaf: leaf_hash,
    }));
    Ok(())
}

//! `StateRoot`: the operator commits the state map's root as of the leaf before it.
//!
//! Checked here: the signer is the operator (the log key) and `as_of` is the leaf's own index.
//! A `StateRoot` has no nonce (its index makes it unique) and enters no history. Whether its
//! `map_root` is right needs the map, which the pure state does not hold: [`super::super::Engine`]
//! checks it before the leaf reaches these rules. Applying it clears the dirty set.

use super::super::tx::{Change, Tx};
use super::super::{Rejection, Role};
use crate::entry::StateRoot;

pub(in crate::state) fn state_root(tx: &mut Tx<'_>, b: &StateRoot) -> Result<(), Rejection> {
    let signer = tx.signer;
    tx.require_role(&signer, &[Role::Operator])?;
    if b.as_of != tx.index {
        return Err(Rejection::StateRootIndexMismatch {
            as_of: b.as_of,
            index: tx.index,
        });
    }
    tx.change = Change::StateRoot;
    Ok(())
}

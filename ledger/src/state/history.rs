//! Per-account history chains (DESIGN §6, normative).
//!
//! Every account keeps `history_len` and `history_head` over the leaves that involve it. With
//! `H` = plain BLAKE3 (32-byte output):
//!
//! ```text
//! head_0     = 32 zero bytes
//! head_{n+1} = H(0x02 ‖ head_n (32) ‖ index (8, big-endian) ‖ leaf_hash (32))
//! leaf_hash  = H(0x00 ‖ leaf_bytes)                    -- the tree's leaf hash (DESIGN §3)
//! ```
//!
//! The prefix `0x02` keeps chain links apart from leaf (`0x00`) and node (`0x01`) hashes, and the
//! index binds each link to its place in the log, so the same leaf bytes cannot be claimed at
//! another position.
//!
//! # Which leaves involve an account
//!
//! A leaf involves, in this order and without repeats:
//! - its signer (every kind except `StateRoot`, which enters no history);
//! - the key a body names: `EnrollSubject.subject`, `RegisterAccessor.accessor`,
//!   `Deposit.accessor`, `GrantConsent.accessor` (when it names one), `Access.subject`;
//! - for `RevokeConsent`, the accessor named by the revoked grant, so an accessor's history shows
//!   both the grant and its end;
//! - for `PayoutSettled`, the subject who signed the settled claim.
//!
//! The last two are resolved through an earlier leaf that is itself in the same account's history
//! (the grant naming the accessor, the subject's claim), which is how a wallet checks them from
//! its history alone ([`crate::verify::verify_history`]).

use crate::entry::Body;
use crate::hash::{Hash, blake3_parts};
use crate::keys::PublicKey;

/// Domain prefix of a history link.
pub const HISTORY_PREFIX: u8 = 0x02;

/// The head of an empty history: 32 zero bytes.
pub const EMPTY_HEAD: Hash = Hash([0; 32]);

/// `H(0x02 ‖ head ‖ index (8 bytes BE) ‖ leaf_hash)`: the head after appending the leaf at `index`.
pub fn extend_head(head: &Hash, index: u64, leaf_hash: &Hash) -> Hash {
    blake3_parts(&[
        &[HISTORY_PREFIX],
        head.as_bytes(),
        &index.to_be_bytes(),
        leaf_hash.as_bytes(),
    ])
}

/// A reference to an earlier leaf through which a body involves one more account.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IndirectParty {
    /// `RevokeConsent`: the accessor named by the grant at this index (if it names one).
    GrantAccessor {
        /// Index of the `GrantConsent` leaf.
        consent: u64,
    },
    /// `PayoutSettled`: the subject who signed the claim at this index.
    ClaimSubject {
        /// Index of the `Claim` leaf.
        claim: u64,
    },
}

/// The accounts a leaf names by itself: its signer and the key fields of its body, in history
/// order, without repeats; and the earlier leaf through which it involves one more account.
/// A `StateRoot` involves nobody.
pub fn direct_parties(signer: &PublicKey, body: &Body) -> (Vec<PublicKey>, Option<IndirectParty>) {
    let named = match body {
        Body::StateRoot(_) => return (Vec::new(), None),
        Body::EnrollSubject(b) => Some(b.subject),
        Body::RegisterAccessor(b) => Some(b.accessor),
        Body::Deposit(b) => Some(b.accessor),
        Body::GrantConsent(b) => b.accessor,
        Body::Access(b) => Some(b.subject),
        Body::Genesis(_) | Body::RevokeConsent(_) | Body::Claim(_) | Body::PayoutSettled(_) => None,
    };
    let mut parties = vec![*signer];
    if let Some(key) = named.filter(|k| k != signer) {
        parties.push(key);
    }
    let indirect = match body {
        Body::RevokeConsent(b) => Some(IndirectParty::GrantAccessor { consent: b.consent }),
        Body::PayoutSettled(b) => Some(IndirectParty::ClaimSubject { claim: b.claim }),
        _ => None,
    };
    (parties, indirect)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_is_blake3_of_the_documented_bytes() {
        let head = Hash([1; 32]);
        let leaf = Hash([2; 32]);
        let mut bytes = vec![0x02];
        bytes.extend_from_slice(&[1; 32]);
        bytes.extend_from_slice(&[0, 0, 0, 0, 0, 0, 1, 2]);
        bytes.extend_from_slice(&[2; 32]);
        assert_eq!(
            extend_head(&head, 0x0102, &leaf).0,
            *blake3::hash(&bytes).as_bytes()
        );
        assert_ne!(extend_head(&head, 1, &leaf), extend_head(&head, 2, &leaf));
    }
}

//! The per-account record: what the state map commits for each key (DESIGN §6).
//!
//! # Encoding (normative: these bytes are the map's values)
//!
//! ```text
//! record = 0x01 (record format version)
//!        ‖ bincode2-standard(AccountRecord)   -- the canonical-bytes rule of DESIGN §4
//!
//! AccountRecord, field by field, in this order:
//!   role             varint enum index: 0 operator, 1 subject, 2 accessor
//!   salt             32 raw bytes (from Genesis.operator_salt / EnrollSubject.salt / RegisterAccessor.salt)
//!   last_nonce       0x00 (none yet) | 0x01 ‖ varint
//!   balance          varint: spendable (accessor, operator) or earned and unclaimed (subject)
//!   pending_payouts  varint: claimed, not yet settled (subject)
//!   settled_payouts  varint: paid out (subject)
//!   fees             varint: the operator's fee bucket (operator)
//!   history_len      varint: number of leaves in the history chain
//!   history_head     32 raw bytes: the chain head (crate::state::history)
//! ```
//!
//! bincode's varint is one byte below 251, else a marker byte (251 = u16, 252 = u32, 253 = u64)
//! followed by the little-endian integer; decoding refuses every non-minimal form, so each
//! record has exactly one byte string and a map proof over it is unambiguous.

use serde::{Deserialize, Serialize};

use crate::entry::BodyError;
use crate::entry::canonical;
use crate::hash::Hash;

/// First byte of every record: bumped if the record's fields ever change.
pub const RECORD_VERSION: u8 = 0x01;

/// What an account may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The log's operator, named by the log key: registers, deposits, settles, commits state,
    /// and may access data for its own uses, paying like any accessor.
    Operator,
    /// A customer whose data is accessed: grants and revokes consent, earns, claims.
    Subject,
    /// A data buyer: holds deposited funds and pays per access.
    Accessor,
}

impl Role {
    /// A stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Operator => "operator",
            Role::Subject => "subject",
            Role::Accessor => "accessor",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One account's committed state. All amounts are minor units of the log's currency.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountRecord {
    /// What the account may do.
    pub role: Role,
    /// Per-account salt, so a map proof's neighbouring value hashes reveal nothing.
    #[serde(with = "crate::keys::fixed_bytes")]
    pub salt: [u8; 32],
    /// The highest nonce this account has signed with, `None` before its first entry.
    pub last_nonce: Option<u64>,
    /// Spendable funds (accessor, operator) or earned and unclaimed funds (subject).
    pub balance: u64,
    /// Claimed and not yet settled.
    pub pending_payouts: u64,
    /// Claimed and settled: money that has left the ledger.
    pub settled_payouts: u64,
    /// The operator's fees from paid accesses.
    pub fees: u64,
    /// How many leaves involve this account.
    pub history_len: u64,
    /// Head of the hash chain over those leaves.
    pub history_head: Hash,
}

impl AccountRecord {
    /// A fresh account: no nonce, no money, empty history.
    pub fn new(role: Role, salt: [u8; 32]) -> Self {
        Self {
            role,
            salt,
            last_nonce: None,
            balance: 0,
            pending_payouts: 0,
            settled_payouts: 0,
            fees: 0,
            history_len: 0,
            history_head: super::history::EMPTY_HEAD,
        }
    }

    /// The record's canonical bytes (module docs): the state map's value for this account.
    pub fn to_bytes(&self) -> Vec<u8> {
        let body = canonical::encode(self);
        let mut out = Vec::with_capacity(1 + body.len());
        out.push(RECORD_VERSION);
        out.extend_from_slice(&body);
        out
    }

    /// Decodes record bytes, e.g. a value from a verified map proof.
    ///
    /// # Errors
    /// [`BodyError`] (the same canonical-bytes rule as bodies) if the bytes are not exactly one
    /// canonical record of format [`RECORD_VERSION`]; an unknown version is
    /// [`BodyError::Malformed`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, BodyError> {
        match bytes.split_first() {
            Some((&RECORD_VERSION, rest)) => canonical::decode(rest),
            Some((v, _)) => Err(BodyError::Malformed(format!(
                "account record version {v:#04x} is not supported (expected 0x01)"
            ))),
            None => Err(BodyError::Malformed("empty account record".into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_bytes_are_the_documented_layout() {
        let mut r = AccountRecord::new(Role::Subject, [7; 32]);
        r.last_nonce = Some(300);
        r.balance = 5;
        let bytes = r.to_bytes();
        let mut expected = vec![RECORD_VERSION, 1];
        expected.extend_from_slice(&[7; 32]);
        expected.extend_from_slice(&[1, 251, 0x2c, 0x01]); // Some(300) as a u16 varint
        expected.extend_from_slice(&[5, 0, 0, 0, 0]);
        expected.extend_from_slice(&[0; 32]);
        assert_eq!(bytes, expected);
        assert_eq!(AccountRecord::from_bytes(&bytes).ok(), Some(r));
    }

    #[test]
    fn foreign_versions_and_trailing_bytes_are_refused() {
        let mut bytes = AccountRecord::new(Role::Operator, [0; 32]).to_bytes();
        bytes.push(0);
        assert!(matches!(
            AccountRecord::from_bytes(&bytes),
            Err(BodyError::TrailingBytes { extra: 1 })
        ));
        bytes[0] = 2;
        assert!(matches!(
            AccountRecord::from_bytes(&bytes),
            Err(BodyError::Malformed(_))
        ));
        assert!(matches!(
            AccountRecord::from_bytes(&[]),
            Err(BodyError::Malformed(_))
        ));
    }
}

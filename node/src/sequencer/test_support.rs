//! Signed entries for the node's unit tests.

use ed25519_dalek::SigningKey;
use testigo_ledger::PublicKey;
use testigo_ledger::entry::{Body, EnrollSubject, Genesis, Leaf, sign_body};

/// The origin of test logs.
pub(crate) const ORIGIN: &str = "o";

/// The genesis of a test log whose operator is `key`.
pub(crate) fn genesis(key: &SigningKey) -> Leaf {
    sign_body(
        ORIGIN,
        key,
        &Body::Genesis(Genesis {
            nonce: 0,
            origin: ORIGIN.into(),
            log_key: PublicKey(key.verifying_key().to_bytes()),
            fee_bps: 0,
            currency: "EUR".into(),
            decimals: 2,
            witnesses: Vec::new(),
            quorum: 0,
            regulators: Vec::new(),
            operator_salt: [5; 32],
        }),
    )
}

/// The operator enrols `subject`.
pub(crate) fn enroll(key: &SigningKey, nonce: u64, subject: &SigningKey) -> Leaf {
    sign_body(
        ORIGIN,
        key,
        &Body::EnrollSubject(EnrollSubject {
            nonce,
            subject: PublicKey(subject.verifying_key().to_bytes()),
            salt: [nonce as u8; 32],
        }),
    )
}

//! Entry signatures: one validity predicate for node, witness, wallet and audit tool.
//!
//! An entry's signature is valid iff it satisfies **ZIP 215** ([`verify_signature`]): `S` is a
//! canonical scalar (below the group order ℓ), `A` (the signer key) and `R` are encodings of
//! curve points, non-canonical encodings accepted, and the cofactored equation
//! `[8]([S]B − R − [k]A) = 0` holds with `k = SHA-512(R ‖ A ‖ message)` over the bytes as given.
//! The signed message is `"testigo/entry/v1\n" ‖ origin ‖ "\n" ‖ body`, so a signature made for
//! one log cannot be replayed into another, and it covers the body bytes as received: nothing is
//! re-encoded to be verified.
//!
//! # Why ZIP 215 (issue 12, point 1)
//!
//! Every honest Ed25519 signature (RFC 8032, any library) satisfies it. What matters is the
//! set of dishonest ones: under ZIP 215 the single check and the batch check accept exactly
//! the same signatures (the batch is a random linear combination of the single equations, and
//! the cofactor removes every torsion component that could otherwise cancel), so a batch may
//! decide acceptance. The rule the project had before (ed25519-dalek's `verify_strict`:
//! cofactorless, small-order `A` and `R` refused) has no exact batch: admitting an item to a
//! batch needed a torsion check of `R` that cost 0.55–0.65× a strict verification, so batching
//! saved nothing. Measured on the project's 2-core machine (`cargo bench -p testigo-ledger
//! --bench entry`, on a loaded host), a ZIP 215 batch of 64 costs about half a strict
//! verification per signature (0.47–0.52× through `verify_leaves`). The implementation is the well-kept `ed25519-zebra` (Zcash), which the
//! "Taming the many EdDSAs" test set pins (`ledger/tests/ed25519_speccheck.rs`).
//!
//! Under ZIP 215 a small-order key `A` with `R` of small order and `S = 0` satisfies the
//! equation for every message, so such a key must never name a signer: the state machine refuses
//! every account key that is not a canonical encoding of a point of prime order
//! ([`check_account_key`]), and an entry signed by a key that names no account is refused by
//! the rules whatever its signature.
//!
//! Checkpoint notes, cosignatures and signed API requests are not entries: they keep the
//! strict RFC 8032 rule ([`verify_strict`]) that stock C2SP verifiers apply.

use curve25519_dalek::edwards::CompressedEdwardsY;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use ed25519_zebra as zebra;
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng as _;

use super::{Body, Leaf};
use crate::keys::PublicKey;

/// Domain separation tag of entry signatures.
pub const ENTRY_SIGNING_TAG: &[u8] = b"testigo/entry/v1\n";

/// Why a signature or key was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The public key bytes are not a point on the curve.
    #[error("public key is not a valid Ed25519 point")]
    InvalidKey,
    /// The signature does not verify.
    #[error("signature does not verify")]
    Invalid,
}

/// Why a key cannot name an account.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// Not a point, or not its canonical encoding.
    #[error("not the canonical encoding of an Ed25519 point")]
    NotCanonical,
    /// A point of small order: signatures under it prove nothing.
    #[error("weak key: the point has small order")]
    SmallOrder,
    /// A point with a torsion component: not a key of a prime-order signer.
    #[error("key has a torsion component")]
    Torsion,
}

/// The bytes an entry signature covers.
pub fn signing_message(origin: &str, body: &[u8]) -> Vec<u8> {
    let mut msg = Vec::with_capacity(ENTRY_SIGNING_TAG.len() + origin.len() + 1 + body.len());
    msg.extend_from_slice(ENTRY_SIGNING_TAG);
    msg.extend_from_slice(origin.as_bytes());
    msg.push(b'\n');
    msg.extend_from_slice(body);
    msg
}

/// Signs a body for the log `origin`; the leaf's `sequenced_at` is zero until sequenced.
pub fn sign_body(origin: &str, key: &SigningKey, body: &Body) -> Leaf {
    sign_body_bytes(origin, key, body.to_bytes())
}

/// Signs already-encoded body bytes (which need not be canonical: tests use this to build
/// entries the rules must refuse).
pub fn sign_body_bytes(origin: &str, key: &SigningKey, body: Vec<u8>) -> Leaf {
    let signature = key.sign(&signing_message(origin, &body)).to_bytes();
    Leaf {
        sequenced_at: 0,
        signer: PublicKey(key.verifying_key().to_bytes()),
        signature,
        body,
    }
}

/// The strict RFC 8032 rule of checkpoint notes, cosignatures and signed requests (PROTOCOL §3):
/// ed25519-dalek's `verify_strict` (cofactorless; small-order `A` and `R` refused). Not the
/// entry rule: entries use [`verify_signature`].
///
/// # Errors
/// [`SignatureError`] if the key is not a point or the signature fails strict verification.
pub fn verify_strict(
    key: &PublicKey,
    message: &[u8],
    signature: &[u8; 64],
) -> Result<(), SignatureError> {
    let key = VerifyingKey::from_bytes(key.as_bytes()).map_err(|_| SignatureError::InvalidKey)?;
    key.verify_strict(message, &Signature::from_bytes(signature))
        .map_err(|_| SignatureError::Invalid)
}

/// The protocol's one entry signature predicate: ZIP 215 (module docs).
///
/// # Errors
/// [`SignatureError::InvalidKey`] if the key bytes encode no curve point,
/// [`SignatureError::Invalid`] if the signature does not satisfy ZIP 215.
pub fn verify_signature(
    key: &PublicKey,
    message: &[u8],
    signature: &[u8; 64],
) -> Result<(), SignatureError> {
    let key = zebra::VerificationKey::try_from(*key.as_bytes())
        .map_err(|_| SignatureError::InvalidKey)?;
    key.verify(&zebra::Signature::from_bytes(signature), message)
        .map_err(|_| SignatureError::Invalid)
}

/// Verifies a leaf's signature from its envelope alone, without decoding the body.
///
/// # Errors
/// As [`verify_signature`].
pub fn verify_leaf(origin: &str, leaf: &Leaf) -> Result<(), SignatureError> {
    verify_signature(
        &leaf.signer,
        &signing_message(origin, &leaf.body),
        &leaf.signature,
    )
}

/// Checks that a key may name an account: a canonical point of prime order.
///
/// # Errors
/// A [`KeyError`] saying what is wrong with the key.
pub fn check_account_key(key: &PublicKey) -> Result<(), KeyError> {
    let compressed = CompressedEdwardsY(*key.as_bytes());
    let point = compressed.decompress().ok_or(KeyError::NotCanonical)?;
    if point.compress() != compressed {
        return Err(KeyError::NotCanonical);
    }
    if point.is_small_order() {
        return Err(KeyError::SmallOrder);
    }
    if !point.is_torsion_free() {
        return Err(KeyError::Torsion);
    }
    Ok(())
}

/// One signature to check: key, message, signature.
#[derive(Clone, Copy, Debug)]
pub struct SignedMessage<'a> {
    /// The claimed signer.
    pub key: &'a PublicKey,
    /// The exact bytes signed.
    pub message: &'a [u8],
    /// The signature.
    pub signature: &'a [u8; 64],
}

/// Signatures checked by one batch equation. Measured on the project's machine
/// (`cargo bench -p testigo-ledger --bench entry`), the cost per signature falls steeply to
/// about 64 and little beyond, while a failed batch (one bad signature) sends this many items
/// to the single check: 64 keeps that bounded.
pub const BATCH: usize = 64;

/// Below this many items a batch saves nothing: they get the single check.
const BATCH_MIN: usize = 4;

/// Verifies many signatures, returning for each exactly what [`verify_signature`] returns.
///
/// Items are checked [`BATCH`] at a time by the ZIP 215 batch equation with random weights from
/// the operating system's generator; a batch that fails, and every item of a batch too small
/// to gain, is decided item by item by the single check, so every answer is the single check's
/// (except with probability about 2⁻¹²⁸ per batch, by the batch equation's construction).
pub fn verify_batch(items: &[SignedMessage<'_>]) -> Vec<Result<(), SignatureError>> {
    let mut results = Vec::with_capacity(items.len());
    for chunk in items.chunks(BATCH) {
        if chunk.len() >= BATCH_MIN && batch_holds(chunk) {
            results.extend(chunk.iter().map(|_| Ok(())));
        } else {
            results.extend(
                chunk
                    .iter()
                    .map(|i| verify_signature(i.key, i.message, i.signature)),
            );
        }
    }
    results
}

/// Whether the ZIP 215 batch equation holds for every item of `chunk`.
fn batch_holds(chunk: &[SignedMessage<'_>]) -> bool {
    let mut seed = [0u8; 32];
    if getrandom::fill(&mut seed).is_err() {
        // Without unpredictable weights a batch proves nothing: let the single check decide.
        return false;
    }
    let mut verifier = zebra::batch::Verifier::new();
    for item in chunk {
        verifier.queue((
            zebra::VerificationKeyBytes::from(*item.key.as_bytes()),
            zebra::Signature::from_bytes(item.signature),
            item.message,
        ));
    }
    verifier.verify(ChaCha20Rng::from_seed(seed)).is_ok()
}

/// Verifies the signatures of many leaves of the log `origin`: for each, exactly
/// [`verify_leaf`], decided by the batch equation where it holds ([`verify_batch`]).
pub fn verify_leaves(origin: &str, leaves: &[&Leaf]) -> Vec<Result<(), SignatureError>> {
    let messages: Vec<Vec<u8>> = leaves
        .iter()
        .map(|leaf| signing_message(origin, &leaf.body))
        .collect();
    let items: Vec<SignedMessage<'_>> = leaves
        .iter()
        .zip(&messages)
        .map(|(leaf, message)| SignedMessage {
            key: &leaf.signer,
            message,
            signature: &leaf.signature,
        })
        .collect();
    verify_batch(&items)
}

/// Creates a signing key from the operating system's random source.
///
/// # Errors
/// If the operating system cannot provide randomness.
pub fn generate_signing_key() -> Result<SigningKey, getrandom::Error> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed)?;
    Ok(SigningKey::from_bytes(&seed))
}

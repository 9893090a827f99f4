//! Entry signatures: one validity predicate for node, witness, wallet and audit tool.
//!
//! A signature is valid iff [`verify_strict`] accepts it: RFC 8032 verification (cofactorless,
//! canonical `S`) plus rejection of small-order public keys and `R` (ed25519-dalek's
//! `verify_strict`). The signed message is `"testigo/entry/v1\n" ‖ origin ‖ "\n" ‖ body`, so a
//! signature made for one log cannot be replayed into another, and it covers the body bytes as
//! received: nothing is re-encoded to be verified.
//!
//! # Why acceptance never uses ed25519-dalek's batch equation
//!
//! Batch verification must never accept what the strict check rejects. ed25519-dalek's batch
//! equation is cofactorless with random 128-bit weights derived from the inputs; a signer can give
//! `R` a small torsion component that such a weighted sum cancels with probability up to ½ (and
//! can grind the weights), although the strict check rejects it. The test
//! `batch_never_accepts_what_strict_rejects` builds such a signature.
//!
//! [`verify_batch`] is therefore exact: an item joins a batch only if its `R` and public key are
//! canonical encodings of points that are not of small order and have no torsion component (in
//! the prime-order subgroup the batch equation holds, except with probability 2⁻¹²⁸, iff every
//! single equation holds); every other item, and every item of a failed batch, is decided by the
//! strict check. Measured on the project's 2-core machine, the torsion check of `R` alone costs
//! 0.55–0.65× a strict verification and the raw batch 0.29× per signature, so the exact batch
//! saves nothing: [`verify_leaves`], which the node, witness, wallet and audit tool use, runs
//! the strict check per item, and callers parallelise it across cores. Account keys are also
//! checked with [`check_account_key`] when accounts are registered.

use curve25519_dalek::edwards::CompressedEdwardsY;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};

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
    /// The signature does not verify under the strict rules.
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
    /// A point with a torsion component: strict and batch verification could disagree.
    #[error("key has a torsion component")]
    Torsion,
}

/// The bytes an entry signature covers.
pub fn signing_message(origin: &str, body: &[u8]) -> Vec<u8> {
    let mut msg = Vec::with_capacity(ENTRY_SIGNING_TAG.len() + origin.len() + 1 + body.len());
    write_signing_message(&mut msg, origin, body);
    msg
}

/// Replaces `out` with [`signing_message`], reusing its allocation.
fn write_signing_message(out: &mut Vec<u8>, origin: &str, body: &[u8]) {
    out.clear();
    out.extend_from_slice(ENTRY_SIGNING_TAG);
    out.extend_from_slice(origin.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(body);
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

/// The protocol's one signature predicate.
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

/// Verifies a leaf's signature from its envelope alone, without decoding the body.
///
/// # Errors
/// As [`verify_strict`].
pub fn verify_leaf(origin: &str, leaf: &Leaf) -> Result<(), SignatureError> {
    verify_strict(
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
    check_point(key.as_bytes())
}

fn check_point(bytes: &[u8; 32]) -> Result<(), KeyError> {
    let compressed = CompressedEdwardsY(*bytes);
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

/// Verifies many signatures with ed25519-dalek's batch equation where that is exact, returning
/// for each exactly what [`verify_strict`] returns.
///
/// Uses batch verification for the items that pass the prime-order filter (module docs) and the
/// strict check for everything else, including every item of a batch that fails. Not faster than
/// strict checks on this project's machines (module docs); kept as the reference of how a batch
/// fast path can be made exact.
pub fn verify_batch(items: &[SignedMessage<'_>]) -> Vec<Result<(), SignatureError>> {
    let mut results = vec![Ok(()); items.len()];
    let mut batch_idx = Vec::with_capacity(items.len());
    let mut messages = Vec::with_capacity(items.len());
    let mut signatures = Vec::with_capacity(items.len());
    let mut keys = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let eligible = check_point(item.key.as_bytes()).is_ok()
            && check_point(&r_bytes(item.signature)).is_ok();
        let key = VerifyingKey::from_bytes(item.key.as_bytes());
        match key {
            Ok(key) if eligible => {
                batch_idx.push(i);
                messages.push(item.message);
                signatures.push(Signature::from_bytes(item.signature));
                keys.push(key);
            }
            _ => results[i] = verify_strict(item.key, item.message, item.signature),
        }
    }
    if !batch_idx.is_empty() && ed25519_dalek::verify_batch(&messages, &signatures, &keys).is_err()
    {
        for i in batch_idx {
            let item = &items[i];
            results[i] = verify_strict(item.key, item.message, item.signature);
        }
    }
    results
}

/// Verifies the signatures of many leaves of the log `origin`: for each, exactly
/// [`verify_leaf`] (module docs say why this is not a batch equation).
///
/// Leaves of one submission are mostly signed by one key (a data buyer's batch of accesses), so
/// each distinct key is decompressed once per call rather than once per leaf, and the signed
/// message is built in one reused buffer: about a tenth of a strict check each, measured. The
/// answer per leaf is exactly [`verify_leaf`]'s, since decompression is a pure function of the
/// key bytes.
pub fn verify_leaves(origin: &str, leaves: &[&Leaf]) -> Vec<Result<(), SignatureError>> {
    /// Distinct keys remembered per call: a linear scan beats hashing at this size.
    const KEYS: usize = 8;
    let mut keys: Vec<(PublicKey, Result<VerifyingKey, SignatureError>)> = Vec::new();
    let mut message = Vec::new();
    leaves
        .iter()
        .map(|leaf| {
            let position = keys.iter().position(|(k, _)| *k == leaf.signer);
            let key = match position {
                Some(i) => &keys[i].1,
                None => {
                    let key = VerifyingKey::from_bytes(leaf.signer.as_bytes())
                        .map_err(|_| SignatureError::InvalidKey);
                    if keys.len() == KEYS {
                        let _evicted = keys.remove(0);
                    }
                    keys.push((leaf.signer, key));
                    &keys[keys.len() - 1].1
                }
            };
            let key = key.as_ref().map_err(|e| *e)?;
            write_signing_message(&mut message, origin, &leaf.body);
            key.verify_strict(&message, &Signature::from_bytes(&leaf.signature))
                .map_err(|_| SignatureError::Invalid)
        })
        .collect()
}

fn r_bytes(signature: &[u8; 64]) -> [u8; 32] {
    let mut r = [0u8; 32];
    r.copy_from_slice(&signature[..32]);
    r
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

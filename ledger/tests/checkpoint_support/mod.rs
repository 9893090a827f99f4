//! Shared fixtures of the checkpoint tests: RFC 8032 keys, raw note signing, and a reference
//! RFC 9162 tree (straight from the RFC's recursive definitions, independent of `merkle`).

#![allow(dead_code)] // each test binary uses a different part

use ed25519_dalek::{Signer as _, SigningKey};
use testigo_ledger::checkpoint::{
    Checkpoint, NoteSignature, SignedNote, note_key_hash, sign_checkpoint,
};
use testigo_ledger::{Blake3, Hash, PublicKey, TreeHasher};

pub(crate) const ORIGIN: &str = "testigo.example/log/1";
/// RFC 8032 §7.1 test 1 secret key: the log key of every test.
pub(crate) const RFC8032_TEST1_SEED: &str =
    "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
pub(crate) const RFC8032_TEST1_PUBLIC: &str =
    "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
/// RFC 8032 §7.1 test 2 secret key: witness `witness.example/w1`.
pub(crate) const RFC8032_TEST2_SEED: &str =
    "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb";

pub(crate) fn key_from_hex(seed: &str) -> SigningKey {
    SigningKey::from_bytes(&hex::decode(seed).unwrap().try_into().unwrap())
}

pub(crate) fn log_key() -> SigningKey {
    key_from_hex(RFC8032_TEST1_SEED)
}

pub(crate) fn public(key: &SigningKey) -> PublicKey {
    PublicKey(key.verifying_key().to_bytes())
}

pub(crate) fn log_public() -> PublicKey {
    public(&log_key())
}

/// A witness key from a one-byte seed, for tests that need many.
pub(crate) fn witness_key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

/// The leaf hashes of `leaf 0`, `leaf 1`, ... prefixed by `tag`.
pub(crate) fn leaves(tag: &str, n: usize) -> Vec<Hash> {
    (0..n)
        .map(|i| Blake3.hash_leaf(format!("{tag}{i}").as_bytes()))
        .collect()
}

/// RFC 9162 §2.1.1 MTH.
pub(crate) fn root(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => Blake3.empty_root(),
        1 => leaves[0],
        n => {
            let k = split(n);
            Blake3.hash_children(&root(&leaves[..k]), &root(&leaves[k..]))
        }
    }
}

/// RFC 9162 §2.1.3.1 PATH.
pub(crate) fn inclusion_proof(index: usize, leaves: &[Hash]) -> Vec<Hash> {
    if leaves.len() <= 1 {
        return Vec::new();
    }
    let k = split(leaves.len());
    let (mut path, sibling) = if index < k {
        (inclusion_proof(index, &leaves[..k]), root(&leaves[k..]))
    } else {
        (inclusion_proof(index - k, &leaves[k..]), root(&leaves[..k]))
    };
    path.push(sibling);
    path
}

/// The largest power of two smaller than `n`.
fn split(n: usize) -> usize {
    1 << (usize::BITS - 1 - (n - 1).leading_zeros())
}

/// The documented example checkpoint: the BLAKE3 tree of `leaf 0` ... `leaf 3`.
pub(crate) fn example_checkpoint() -> Checkpoint {
    Checkpoint::new(ORIGIN, 4, root(&leaves("leaf ", 4))).unwrap()
}

/// The operator's note on a checkpoint of `ORIGIN`, as text.
pub(crate) fn signed(size: u64, root: Hash) -> String {
    sign_checkpoint(&Checkpoint::new(ORIGIN, size, root).unwrap(), &log_key()).to_text()
}

/// Signs any body with the log key, under the log's key name: lets tests prove that the parser,
/// not the signature, rejects a malformed body.
pub(crate) fn sign_raw_body(body: &str) -> String {
    let key = log_key();
    let signature = key.sign(body.as_bytes()).to_bytes().to_vec();
    let line = NoteSignature::new(ORIGIN, note_key_hash(ORIGIN, &public(&key)), signature).unwrap();
    SignedNote::new(body.to_owned(), vec![line])
        .unwrap()
        .to_text()
}

//! The entry signature predicate (ZIP 215, PROTOCOL §3) pinned by edge cases: the twelve cases of
//! "Taming the many EdDSAs" (`tests/vectors/ed25519-speccheck/`) and every small-order `A` and
//! `R` encoding, each checked singly and inside a batch of honest signatures, whose answers must
//! be the single check's item by item.

use curve25519_dalek::constants::EIGHT_TORSION;
use curve25519_dalek::edwards::CompressedEdwardsY;
use ed25519_dalek::{Signer as _, SigningKey};
use testigo_ledger::PublicKey;
use testigo_ledger::entry::{
    SignatureError, SignedMessage, check_account_key, verify_batch, verify_signature, verify_strict,
};

struct Case {
    message: Vec<u8>,
    key: PublicKey,
    signature: [u8; 64],
}

fn cases() -> Vec<Case> {
    let text = include_str!("vectors/ed25519-speccheck/cases.txt");
    let mut lines = text.lines();
    let count: usize = lines.next().unwrap().parse().unwrap();
    let field = |line: Option<&str>, name: &str| -> Vec<u8> {
        let line = line.unwrap();
        let value = line
            .strip_prefix(name)
            .and_then(|l| l.strip_prefix('='))
            .unwrap_or_else(|| panic!("expected {name}=, got {line}"));
        hex::decode(value).unwrap()
    };
    let cases: Vec<Case> = (0..count)
        .map(|_| Case {
            message: field(lines.next(), "msg"),
            key: PublicKey(field(lines.next(), "pbk").try_into().unwrap()),
            signature: field(lines.next(), "sig").try_into().unwrap(),
        })
        .collect();
    assert_eq!(lines.next(), None, "nothing after the last case");
    cases
}

/// Seven honest signatures to surround an edge case in a batch.
fn honest() -> Vec<(PublicKey, Vec<u8>, [u8; 64])> {
    (0..7u8)
        .map(|i| {
            let key = SigningKey::from_bytes(&[i + 40; 32]);
            let message = format!("honest entry {i}").into_bytes();
            let signature = key.sign(&message).to_bytes();
            (
                PublicKey(key.verifying_key().to_bytes()),
                message,
                signature,
            )
        })
        .collect()
}

/// The single check's answer for `(key, message, signature)`, and the batch's answer for it
/// between honest signatures, which must agree; the honest ones must all pass.
fn single_and_batched(key: &PublicKey, message: &[u8], signature: &[u8; 64]) -> bool {
    let single = verify_signature(key, message, signature);
    let honest = honest();
    let mut items: Vec<SignedMessage<'_>> = honest
        .iter()
        .map(|(k, m, s)| SignedMessage {
            key: k,
            message: m,
            signature: s,
        })
        .collect();
    items.insert(
        3,
        SignedMessage {
            key,
            message,
            signature,
        },
    );
    let batched = verify_batch(&items);
    assert_eq!(batched[3], single, "the batch decides as the single check");
    for (i, result) in batched.iter().enumerate() {
        if i != 3 {
            assert_eq!(*result, Ok(()), "honest signature {i} in the batch");
        }
    }
    single.is_ok()
}

#[test]
fn taming_the_many_eddsas_cases_are_decided_as_zip_215_decides_them() {
    let cases = cases();
    assert_eq!(cases.len(), 12);
    // The paper's table, row "Zebra" (ZIP 215): cases 6 and 7 have S ≥ ℓ; case 8 has an `R`
    // that encodes no point.
    let zip215 = [
        true, true, true, true, true, true, false, false, false, true, true, true,
    ];
    // Row "Dalek strict": what the project's previous predicate accepted.
    let strict = [
        false, false, false, true, false, false, false, false, false, false, false, false,
    ];
    for (i, case) in cases.iter().enumerate() {
        assert_eq!(
            single_and_batched(&case.key, &case.message, &case.signature),
            zip215[i],
            "case {i} under ZIP 215"
        );
        assert_eq!(
            verify_strict(&case.key, &case.message, &case.signature).is_ok(),
            strict[i],
            "case {i} under the strict rule of notes and requests"
        );
    }
    // Every key of the set that ZIP 215 lets sign something is refused as an account key,
    // except the ordinary prime-order ones.
    for (i, case) in cases.iter().enumerate() {
        let prime_order = check_account_key(&case.key).is_ok();
        let expected_prime_order = matches!(i, 6 | 7);
        assert_eq!(prime_order, expected_prime_order, "account key of case {i}");
    }
}

/// `p = 2^255 - 19`, little-endian.
const P: [u8; 32] = {
    let mut p = [0xff; 32];
    p[0] = 0xed;
    p[31] = 0x7f;
    p
};

/// Every 32-byte string that decodes to a point of small order: each point's canonical `y`, and
/// `y + p` where that still fits in 255 bits, each with either sign bit.
fn small_order_encodings() -> Vec<[u8; 32]> {
    let mut out: Vec<[u8; 32]> = Vec::new();
    for point in EIGHT_TORSION {
        let mut y = point.compress().to_bytes();
        y[31] &= 0x7f;
        let mut candidates = vec![y];
        let (mut sum, mut carry) = ([0u8; 32], 0u16);
        for i in 0..32 {
            let s = u16::from(y[i]) + u16::from(P[i]) + carry;
            sum[i] = s as u8;
            carry = s >> 8;
        }
        if carry == 0 && sum[31] & 0x80 == 0 {
            candidates.push(sum);
        }
        for candidate in candidates {
            for sign in [0u8, 0x80] {
                let mut bytes = candidate;
                bytes[31] |= sign;
                let decoded = CompressedEdwardsY(bytes).decompress();
                if decoded.is_some_and(|q| q.is_small_order()) && !out.contains(&bytes) {
                    out.push(bytes);
                }
            }
        }
    }
    out
}

#[test]
fn every_small_order_key_and_r_with_zero_s_verifies_and_no_such_key_names_an_account() {
    let encodings = small_order_encodings();
    // Eight points; the non-canonical encodings are the sign-bit variants of x = 0 and `y + p`
    // for the small `y`s: fourteen encodings that decode, as ZIP 215 counts them.
    assert_eq!(encodings.len(), 14, "{encodings:02x?}");
    let message = b"any message at all";
    let mut zero_s = Vec::new();
    for a in &encodings {
        for r in &encodings {
            let mut signature = [0u8; 64];
            signature[..32].copy_from_slice(r);
            zero_s.push((PublicKey(*a), signature));
        }
    }
    for (key, signature) in &zero_s {
        assert!(
            single_and_batched(key, message, signature),
            "A {:02x?}, R {:02x?}",
            key.0,
            &signature[..32]
        );
    }
    let items: Vec<SignedMessage<'_>> = zero_s
        .iter()
        .map(|(key, signature)| SignedMessage {
            key,
            message,
            signature,
        })
        .collect();
    assert!(verify_batch(&items).iter().all(Result::is_ok));
    // Such a key "signs" every message, so none may ever name a signer.
    for a in &encodings {
        assert!(check_account_key(&PublicKey(*a)).is_err(), "{a:02x?}");
    }
}

#[test]
fn a_batch_with_failures_answers_each_item_as_the_single_check() {
    let honest = honest();
    let mut entries: Vec<(PublicKey, Vec<u8>, [u8; 64])> =
        (0..200).map(|i| honest[i % honest.len()].clone()).collect();
    entries[17].2[40] ^= 1;
    entries[64].1.push(b'!');
    entries[130].2[63] |= 0x70; // S above the group order
    let not_a_point = (1u8..)
        .map(|b| [b; 32])
        .find(|bytes| CompressedEdwardsY(*bytes).decompress().is_none())
        .unwrap();
    entries[199].0 = PublicKey(not_a_point);
    let items: Vec<SignedMessage<'_>> = entries
        .iter()
        .map(|(k, m, s)| SignedMessage {
            key: k,
            message: m,
            signature: s,
        })
        .collect();
    let batched = verify_batch(&items);
    let single: Vec<_> = items
        .iter()
        .map(|i| verify_signature(i.key, i.message, i.signature))
        .collect();
    assert_eq!(batched, single);
    let failed: Vec<usize> = (0..single.len()).filter(|&i| single[i].is_err()).collect();
    assert_eq!(failed, vec![17, 64, 130, 199]);
    assert_eq!(single[199], Err(SignatureError::InvalidKey));
    assert!(verify_batch(&[]).is_empty());
}

//! The leaf envelope, the canonical-bytes rule and the signature predicate.

mod common;

use common::{ORIGIN, key, pk, sample_bodies};
use proptest::prelude::*;
use testigo_ledger::entry::signature::{
    SignedMessage, sign_body_bytes, verify_batch, verify_leaves, verify_signature,
};
use testigo_ledger::entry::*;
use testigo_ledger::{Blake3, Hash, PublicKey};

#[test]
fn every_body_kind_round_trips_through_bytes_and_json() {
    let bodies = sample_bodies();
    let kinds: Vec<BodyKind> = bodies.iter().map(Body::kind).collect();
    assert_eq!(
        kinds,
        BodyKind::ALL.to_vec(),
        "one sample per kind, in wire order"
    );
    for body in bodies {
        let bytes = body.to_bytes();
        assert_eq!(Body::from_bytes(&bytes).unwrap(), body);
        let json = serde_json::to_string(&body).unwrap();
        assert_eq!(serde_json::from_str::<Body>(&json).unwrap(), body, "{json}");
    }
}

#[test]
fn json_names_use_dpv_terms_and_base64() {
    let access = &sample_bodies()[6];
    let json = serde_json::to_string(access).unwrap();
    assert!(json.contains("\"pd:Location\""), "{json}");
    assert!(json.contains("\"dpv:Consent\""), "{json}");
    assert!(
        json.contains(&format!("\"{}\"", pk("alice").to_base64())),
        "{json}"
    );
}

#[test]
fn trailing_bytes_are_rejected() {
    let mut bytes = sample_bodies()[1].to_bytes();
    bytes.push(0);
    assert!(matches!(
        Body::from_bytes(&bytes),
        Err(BodyError::TrailingBytes { extra: 1 })
    ));
}

#[test]
fn non_minimal_varints_are_rejected() {
    // RevokeConsent { nonce: 2, consent: 4 }: variant 5, then two one-byte varints.
    let canonical = sample_bodies()[5].to_bytes();
    assert_eq!(canonical, vec![5, 2, 4]);
    // bincode's varint marker 251 announces a u16: the same value in three bytes.
    let padded = vec![5, 251, 2, 0, 4];
    assert!(matches!(
        Body::from_bytes(&padded),
        Err(BodyError::NotCanonical)
    ));
}

#[test]
fn malformed_and_oversized_bodies_are_rejected() {
    // bincode's own error stays the source, so a caller can tell what the decoder hit.
    for bytes in [&[][..], &[42]] {
        match Body::from_bytes(bytes) {
            Err(e @ BodyError::Undecodable(_)) => {
                assert!(std::error::Error::source(&e).is_some(), "{bytes:?}: {e}")
            }
            other => panic!("{bytes:?}: expected Undecodable, got {other:?}"),
        }
    }
    let huge = vec![0u8; MAX_BODY_LEN + 1];
    assert!(matches!(
        Body::from_bytes(&huge),
        Err(BodyError::TooLarge { .. })
    ));
    // A length prefix claiming far more elements than bytes follow must not allocate or panic.
    let mut hostile = vec![0u8, 0];
    hostile.extend_from_slice(&[21, b'x']);
    hostile.extend_from_slice(&[253, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]);
    assert!(Body::from_bytes(&hostile).is_err());
}

#[test]
fn leaf_envelope_layout_is_the_normative_one() {
    let leaf = sign_body(ORIGIN, &key("alice"), &sample_bodies()[4]).sequenced(0x0102030405060708);
    let bytes = leaf.to_bytes();
    assert_eq!(bytes[0], 0x01);
    assert_eq!(&bytes[1..9], &[1, 2, 3, 4, 5, 6, 7, 8]);
    assert_eq!(&bytes[9..41], pk("alice").as_bytes());
    assert_eq!(&bytes[41..105], &leaf.signature);
    assert_eq!(
        u32::from_be_bytes(bytes[105..109].try_into().unwrap()) as usize,
        leaf.body.len()
    );
    assert_eq!(&bytes[109..], &leaf.body[..]);
    assert_eq!(Leaf::from_bytes(&bytes).unwrap(), leaf);
}

#[test]
fn leaf_envelope_errors_are_precise() {
    let bytes = sign_body(ORIGIN, &key("alice"), &sample_bodies()[4]).to_bytes();
    assert_eq!(
        Leaf::from_bytes(&bytes[..108]),
        Err(LeafError::TooShort { len: 108 })
    );
    let mut v2 = bytes.clone();
    v2[0] = 2;
    assert_eq!(Leaf::from_bytes(&v2), Err(LeafError::UnsupportedVersion(2)));
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(matches!(
        Leaf::from_bytes(&longer),
        Err(LeafError::BodyLengthMismatch { .. })
    ));
    let mut shorter = bytes;
    shorter.pop();
    assert!(matches!(
        Leaf::from_bytes(&shorter),
        Err(LeafError::BodyLengthMismatch { .. })
    ));
}

#[test]
fn signatures_are_bound_to_the_origin() {
    let leaf = sign_body(ORIGIN, &key("alice"), &sample_bodies()[4]);
    assert_eq!(verify_leaf(ORIGIN, &leaf), Ok(()));
    assert_eq!(
        verify_leaf("testigo.example/log/2", &leaf),
        Err(SignatureError::Invalid)
    );
}

#[test]
fn sequencing_keeps_the_signature_and_changes_the_leaf_hash() {
    let leaf = sign_body(ORIGIN, &key("alice"), &sample_bodies()[4]);
    let stamped = leaf.clone().sequenced(1_764_000_000_123);
    assert_eq!(verify_leaf(ORIGIN, &stamped), Ok(()));
    assert_ne!(leaf.hash(&Blake3), stamped.hash(&Blake3));
}

#[test]
fn weak_and_torsioned_keys_cannot_name_accounts() {
    assert_eq!(check_account_key(&pk("alice")), Ok(()));
    // The identity point (0, 1) has small order.
    let mut identity = [0u8; 32];
    identity[0] = 1;
    assert_eq!(
        check_account_key(&PublicKey(identity)),
        Err(KeyError::SmallOrder)
    );
    // y = 2 is not on the curve.
    let mut off_curve = [0u8; 32];
    off_curve[0] = 2;
    assert_eq!(
        check_account_key(&PublicKey(off_curve)),
        Err(KeyError::NotCanonical)
    );
    let alice = curve(&pk("alice"));
    let torsioned = (alice + order_two_point()).compress().to_bytes();
    assert_eq!(
        check_account_key(&PublicKey(torsioned)),
        Err(KeyError::Torsion)
    );
}

fn curve(key: &PublicKey) -> curve25519_dalek::EdwardsPoint {
    curve25519_dalek::edwards::CompressedEdwardsY(*key.as_bytes())
        .decompress()
        .unwrap()
}

/// The point (0, -1), of order two.
fn order_two_point() -> curve25519_dalek::EdwardsPoint {
    let mut minus_one = [0xffu8; 32];
    minus_one[0] = 0xec;
    minus_one[31] = 0x7f;
    curve25519_dalek::edwards::CompressedEdwardsY(minus_one)
        .decompress()
        .unwrap()
}

/// Signs `message` with a nonce point `R = rB + T` where `T` has order two: the old strict
/// rule rejected it, a cofactorless batch with even weight accepts it, and ZIP 215's cofactored
/// equation (the entry predicate) accepts it singly and in a batch alike.
fn torsioned_signature(label: &str, message: &[u8]) -> [u8; 64] {
    use curve25519_dalek::Scalar;
    use curve25519_dalek::constants::ED25519_BASEPOINT_POINT as B;
    use sha2::Digest as _;
    let seed = key(label).to_bytes();
    let h = sha2::Sha512::digest(seed);
    let mut a_bytes = [0u8; 32];
    a_bytes.copy_from_slice(&h[..32]);
    a_bytes[0] &= 248;
    a_bytes[31] &= 127;
    a_bytes[31] |= 64;
    let a = Scalar::from_bytes_mod_order(a_bytes);
    let public = (B * a).compress();
    assert_eq!(public.to_bytes(), pk(label).0);
    let r = Scalar::from_bytes_mod_order_wide(&sha2::Sha512::digest(message).into());
    let big_r = (B * r + order_two_point()).compress();
    let mut hasher = sha2::Sha512::new();
    hasher.update(big_r.as_bytes());
    hasher.update(public.as_bytes());
    hasher.update(message);
    let k = Scalar::from_bytes_mod_order_wide(&hasher.finalize().into());
    let s = r + k * a;
    let mut sig = [0u8; 64];
    sig[..32].copy_from_slice(big_r.as_bytes());
    sig[32..].copy_from_slice(s.as_bytes());
    sig
}

/// The signature that made the old strict rule unbatchable: a cofactorless batch accepted it
/// about half the time while the strict check refused it. Under ZIP 215 the single and the batch
/// check both accept it, whatever the batch's weights.
#[test]
fn a_torsioned_r_is_decided_alike_by_the_single_and_the_batch_check() {
    let signer = pk("mallory");
    let vk = ed25519_dalek::VerifyingKey::from_bytes(signer.as_bytes()).unwrap();
    let (message, sig) = (0u32..64)
        .map(|i| {
            let m = format!("access #{i}").into_bytes();
            let s = torsioned_signature("mallory", &m);
            (m, s)
        })
        .find(|(m, s)| {
            let sig = ed25519_dalek::Signature::from_bytes(s);
            ed25519_dalek::verify_batch(&[m.as_slice()], &[sig], &[vk]).is_ok()
        })
        .expect("a torsioned signature that the raw cofactorless batch accepts");
    assert_eq!(
        verify_strict(&signer, &message, &sig),
        Err(SignatureError::Invalid)
    );
    assert_eq!(verify_signature(&signer, &message, &sig), Ok(()));
    let item = SignedMessage {
        key: &signer,
        message: &message,
        signature: &sig,
    };
    assert_eq!(verify_batch(&[item; 16]), vec![Ok(()); 16]);
}

#[test]
fn batch_results_equal_single_results_item_by_item() {
    let bodies = sample_bodies();
    let mut leaves: Vec<Leaf> = bodies
        .iter()
        .enumerate()
        .map(|(i, b)| sign_body(ORIGIN, &key(&format!("signer {i}")), b))
        .collect();
    leaves[3].signature[40] ^= 1;
    leaves[7].signer = pk("someone else");
    let mut identity = [0u8; 32];
    identity[0] = 1;
    leaves[8].signer = PublicKey(identity);
    // Mix in a torsioned signature: valid under ZIP 215, in the batch as alone.
    let message = b"torsioned".to_vec();
    let torsioned = torsioned_signature("mallory", &message);
    let mallory = pk("mallory");
    let messages: Vec<Vec<u8>> = leaves
        .iter()
        .map(|l| testigo_ledger::entry::signature::signing_message(ORIGIN, &l.body))
        .collect();
    let mut items: Vec<SignedMessage<'_>> = leaves
        .iter()
        .zip(&messages)
        .map(|(l, m)| SignedMessage {
            key: &l.signer,
            message: m,
            signature: &l.signature,
        })
        .collect();
    items.push(SignedMessage {
        key: &mallory,
        message: &message,
        signature: &torsioned,
    });
    let batch = verify_batch(&items);
    let single: Vec<_> = items
        .iter()
        .map(|i| verify_signature(i.key, i.message, i.signature))
        .collect();
    assert_eq!(batch, single);
    assert_eq!(batch.iter().filter(|r| r.is_err()).count(), 3);
    let refs: Vec<&Leaf> = leaves.iter().collect();
    let per_leaf: Vec<_> = leaves.iter().map(|l| verify_leaf(ORIGIN, l)).collect();
    assert_eq!(verify_leaves(ORIGIN, &refs), per_leaf);
    assert!(verify_batch(&[]).is_empty());
}

/// `verify_leaves` batches: with keys repeating, in batches of several sizes, some signatures
/// bad and some keys invalid, every answer is still exactly the single check's.
#[test]
fn verify_leaves_with_repeated_keys_equals_the_single_check() {
    let bodies = sample_bodies();
    let not_a_point = (1u8..)
        .map(|b| [b; 32])
        .find(|bytes| ed25519_dalek::VerifyingKey::from_bytes(bytes).is_err())
        .unwrap();
    let mut leaves = Vec::new();
    for i in 0..120usize {
        // 11 signers (more than the call remembers), in an order that revisits evicted ones.
        let signer = (i * 7 + i / 13) % 11;
        let mut leaf = sign_body(
            ORIGIN,
            &key(&format!("signer {signer}")),
            &bodies[i % bodies.len()],
        );
        match i % 17 {
            3 => leaf.signature[5] ^= 0x10,
            9 => leaf.signer = PublicKey(not_a_point),
            11 => leaf.signer = pk(&format!("signer {}", (signer + 1) % 11)),
            _ => {}
        }
        leaves.push(leaf);
    }
    let refs: Vec<&Leaf> = leaves.iter().collect();
    let per_leaf: Vec<_> = leaves.iter().map(|l| verify_leaf(ORIGIN, l)).collect();
    assert!(per_leaf.iter().filter(|r| r.is_err()).count() >= 15);
    assert!(per_leaf.contains(&Err(SignatureError::InvalidKey)));
    assert_eq!(verify_leaves(ORIGIN, &refs), per_leaf);
    assert_eq!(
        verify_leaves("another.origin", &refs[..5])
            .iter()
            .filter(|r| r.is_ok())
            .count(),
        0
    );
}

#[test]
fn non_canonical_body_bytes_can_be_signed_but_not_decoded() {
    let leaf = sign_body_bytes(ORIGIN, &key("alice"), vec![5, 251, 2, 0, 4]);
    assert_eq!(verify_leaf(ORIGIN, &leaf), Ok(()));
    assert!(matches!(leaf.decode_body(), Err(BodyError::NotCanonical)));
}

fn any_key() -> impl Strategy<Value = PublicKey> {
    any::<[u8; 32]>().prop_map(PublicKey)
}

fn any_body() -> impl Strategy<Value = Body> {
    let category = prop::sample::select(DataCategory::ALL);
    let purpose = prop::sample::select(Purpose::ALL);
    let basis = prop::sample::select(LegalBasis::ALL);
    prop_oneof![
        (any::<u64>(), any_key(), any::<[u8; 32]>()).prop_map(|(nonce, subject, salt)| {
            Body::EnrollSubject(EnrollSubject {
                nonce,
                subject,
                salt,
            })
        }),
        (
            any::<u64>(),
            any_key(),
            ".{0,40}",
            "[A-Z0-9]{0,20}",
            any::<[u8; 32]>()
        )
            .prop_map(|(nonce, accessor, display_name, legal_entity_id, salt)| {
                Body::RegisterAccessor(RegisterAccessor {
                    nonce,
                    accessor,
                    display_name,
                    legal_entity_id,
                    salt,
                })
            }),
        (any::<u64>(), any_key(), any::<u64>(), ".{0,30}").prop_map(
            |(nonce, accessor, amount, reference)| {
                Body::Deposit(Deposit {
                    nonce,
                    accessor,
                    amount,
                    reference,
                })
            }
        ),
        (
            any::<u64>(),
            proptest::option::of(any_key()),
            prop::collection::vec(category.clone(), 0..5),
            prop::collection::vec(purpose.clone(), 0..5),
            any::<u64>(),
            any::<u64>(),
            proptest::option::of(any::<u64>())
        )
            .prop_map(
                |(nonce, accessor, categories, purposes, price, valid_from, valid_until)| {
                    Body::GrantConsent(GrantConsent {
                        nonce,
                        accessor,
                        categories,
                        purposes,
                        price,
                        valid_from,
                        valid_until,
                    })
                }
            ),
        (any::<u64>(), any::<u64>())
            .prop_map(|(nonce, consent)| Body::RevokeConsent(RevokeConsent { nonce, consent })),
        (
            any::<u64>(),
            any_key(),
            category,
            purpose,
            basis,
            proptest::option::of(any::<u64>()),
            any::<u64>()
        )
            .prop_map(
                |(nonce, subject, category, purpose, legal_basis, consent, price)| {
                    Body::Access(Access {
                        nonce,
                        subject,
                        category,
                        purpose,
                        legal_basis,
                        consent,
                        price,
                    })
                }
            ),
        (any::<u64>(), any::<u64>(), any::<[u8; 32]>()).prop_map(|(nonce, amount, h)| Body::Claim(
            Claim {
                nonce,
                amount,
                payout_ref: Hash(h)
            }
        )),
        (any::<u64>(), any::<u64>(), ".{0,30}").prop_map(|(nonce, claim, settlement_ref)| {
            Body::PayoutSettled(PayoutSettled {
                nonce,
                claim,
                settlement_ref,
            })
        }),
        (any::<u64>(), any::<[u8; 32]>()).prop_map(|(as_of, h)| Body::StateRoot(StateRoot {
            as_of,
            map_root: Hash(h)
        })),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn any_body_round_trips_canonically(body in any_body()) {
        let bytes = body.to_bytes();
        prop_assert_eq!(Body::from_bytes(&bytes).unwrap(), body);
    }

    #[test]
    fn decoding_arbitrary_bytes_never_panics_and_accepts_only_canonical(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(body) = Body::from_bytes(&bytes) {
            prop_assert_eq!(body.to_bytes(), bytes.clone());
        }
        if let Ok(leaf) = Leaf::from_bytes(&bytes) {
            prop_assert_eq!(leaf.to_bytes(), bytes);
        }
    }

    /// Any byte changed in a leaf after its `sequenced_at` field (signer, signature, body length,
    /// body) makes it unparseable or its signature invalid; `sequenced_at` is covered by the
    /// tree and the checkpoint instead, so changing it changes the leaf hash.
    #[test]
    fn any_changed_byte_breaks_the_leaf(body in any_body(), pos in any::<prop::sample::Index>(), bit in 0u8..8) {
        let leaf = sign_body(ORIGIN, &key("prop signer"), &body).sequenced(42);
        let bytes = leaf.to_bytes();
        let i = pos.index(bytes.len());
        let mut changed = bytes.clone();
        changed[i] ^= 1 << bit;
        if (1..9).contains(&i) {
            let stamped = Leaf::from_bytes(&changed).unwrap();
            prop_assert_eq!(verify_leaf(ORIGIN, &stamped), Ok(()));
            prop_assert_ne!(stamped.hash(&Blake3), leaf.hash(&Blake3));
        } else {
            match Leaf::from_bytes(&changed) {
                Err(_) => {}
                Ok(tampered) => prop_assert!(verify_leaf(ORIGIN, &tampered).is_err()),
            }
        }
    }
}

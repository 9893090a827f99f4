//! Properties where checkpoint code could lie: every changed byte fails, parsing inverts
//! serialising, and no input makes a parser or verifier panic.

mod checkpoint_support;

use checkpoint_support::*;
use proptest::prelude::*;
use testigo_ledger::Hash;
use testigo_ledger::checkpoint::{
    Checkpoint, CosignedCheckpoint, SignedNote, WitnessKey, cosign, sign_checkpoint,
};
use testigo_ledger::verify::{verify_checkpoint, verify_witnessed};

/// A note cosigned by every witness of `witness_keys()`, verified with a quorum of all of them,
/// so that every byte of it is covered by some check.
fn full_note(size: u64, root: [u8; 32]) -> String {
    let checkpoint = Checkpoint::new(ORIGIN, size, Hash(root)).unwrap();
    let mut note = CosignedCheckpoint::from_note(sign_checkpoint(&checkpoint, &log_key())).unwrap();
    for (i, w) in witness_keys().iter().enumerate() {
        let c = cosign(
            &checkpoint,
            &w.name,
            &witness_key(i as u8 + 1),
            1_700_000_000,
        )
        .unwrap();
        note.add_cosignature(&c, &w.key).unwrap();
    }
    note.to_text()
}

fn witness_keys() -> Vec<WitnessKey> {
    (1..=2u8)
        .map(|i| WitnessKey {
            name: format!("w{i}.example"),
            key: public(&witness_key(i)),
        })
        .collect()
}

/// Key names: no space, no '+', no control character; some non-ASCII.
fn name() -> impl Strategy<Value = String> {
    "[a-z0-9./_é—-]{1,24}"
}

/// Text made of the characters notes are built from, to reach deep into the parsers.
fn noteish() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just("\n".to_owned()),
        Just("\u{2014} ".to_owned()),
        Just(" ".to_owned()),
        Just(ORIGIN.to_owned()),
        Just("=".to_owned()),
        "[0-9]{1,3}",
        "[A-Za-z0-9+/]{1,12}",
    ];
    prop::collection::vec(piece, 0..40).prop_map(|p| p.concat().into_bytes())
}

proptest! {
    #[test]
    fn any_changed_byte_fails(size: u64, root: [u8; 32], pick: prop::sample::Index, delta in 1u8..) {
        let text = full_note(size, root);
        let mut bytes = text.into_bytes();
        let i = pick.index(bytes.len());
        bytes[i] ^= delta;
        let result = verify_witnessed(&bytes, ORIGIN, &log_public(), &witness_keys(), 2);
        prop_assert!(result.is_err(), "byte {} changed by {:#04x} still verifies", i, delta);
    }

    #[test]
    fn operator_note_any_changed_byte_fails(size: u64, pick: prop::sample::Index, delta in 1u8..) {
        let mut bytes = signed(size, Hash([3; 32])).into_bytes();
        let i = pick.index(bytes.len());
        bytes[i] ^= delta;
        prop_assert!(verify_checkpoint(&bytes, ORIGIN, &log_public()).is_err());
    }

    #[test]
    fn parse_inverts_serialise(
        origin in name(),
        size: u64,
        root: [u8; 32],
        cosigners in prop::collection::vec((name(), 1u8.., 0..=i64::MAX as u64), 0..15),
    ) {
        let checkpoint = Checkpoint::new(origin, size, Hash(root)).unwrap();
        prop_assert_eq!(Checkpoint::parse_body(&checkpoint.body()), Ok(checkpoint.clone()));
        let mut note = sign_checkpoint(&checkpoint, &log_key());
        for (name, seed, time) in cosigners {
            let c = cosign(&checkpoint, &name, &witness_key(seed), time).unwrap();
            note.push_signature(c.to_note_signature()).unwrap();
        }
        let text = note.to_text();
        prop_assert_eq!(SignedNote::parse(text.as_bytes()), Ok(note.clone()));
        let cosigned = CosignedCheckpoint::parse(text.as_bytes()).unwrap();
        prop_assert_eq!(cosigned.to_text(), text);
        prop_assert_eq!(cosigned.checkpoint(), &checkpoint);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let _ = SignedNote::parse(&bytes);
        let _ = CosignedCheckpoint::parse(&bytes);
        let _ = verify_witnessed(&bytes, ORIGIN, &log_public(), &witness_keys(), 1);
    }

    #[test]
    fn noteish_text_never_panics_and_reserialises(bytes in noteish()) {
        if let Ok(note) = SignedNote::parse(&bytes) {
            prop_assert_eq!(note.to_text().into_bytes(), bytes.clone());
        }
        if let Ok(text) = std::str::from_utf8(&bytes) {
            let _ = Checkpoint::parse_body(text);
        }
        let _ = verify_witnessed(&bytes, ORIGIN, &log_public(), &witness_keys(), 1);
    }
}

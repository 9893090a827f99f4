//! Witness cosignatures (C2SP tlog-cosignature v1) and quorum checks.

mod checkpoint_support;

use checkpoint_support::*;
use ed25519_dalek::{Signer as _, SigningKey};
use testigo_ledger::checkpoint::{
    Checkpoint, CheckpointError, Cosignature, CosignatureError, CosignedCheckpoint, Cosigner,
    NoteError, NoteSignature, QuorumError, SignedNote, WitnessKey, cosign, cosignature_key_hash,
    cosignature_message, sign_checkpoint,
};
use testigo_ledger::verify::{verify_cosignature, verify_quorum, verify_witnessed};

const T: u64 = 1_795_953_600;

fn witness(i: u8) -> (SigningKey, WitnessKey) {
    let key = witness_key(i);
    let name = format!("witness.example/w{i}");
    (
        key.clone(),
        WitnessKey {
            name,
            key: public(&key),
        },
    )
}

fn witnesses() -> Vec<(SigningKey, WitnessKey)> {
    (1..=3).map(witness).collect()
}

fn keys(ws: &[(SigningKey, WitnessKey)]) -> Vec<WitnessKey> {
    ws.iter().map(|(_, w)| w.clone()).collect()
}

/// The example checkpoint, operator-signed, cosigned by `signers` (indices into `ws`).
fn cosigned(ws: &[(SigningKey, WitnessKey)], signers: &[usize]) -> CosignedCheckpoint {
    let checkpoint = example_checkpoint();
    let mut note = CosignedCheckpoint::from_note(sign_checkpoint(&checkpoint, &log_key())).unwrap();
    for &i in signers {
        let (key, w) = &ws[i];
        let c = cosign(&checkpoint, &w.name, key, T + i as u64).unwrap();
        note.add_cosignature(&c, &w.key).unwrap();
    }
    note
}

fn quorum(note: &str, ws: &[WitnessKey], k: usize) -> Result<Vec<Cosigner>, QuorumError> {
    verify_witnessed(note.as_bytes(), ORIGIN, &log_public(), ws, k).map(|(_, c)| c)
}

#[test]
fn cosignature_signs_the_c2sp_message() {
    let (key, w) = witness(1);
    let checkpoint = example_checkpoint();
    let c = cosign(&checkpoint, &w.name, &key, T).unwrap();
    let message = format!("cosignature/v1\ntime {T}\n{}", checkpoint.body());
    assert_eq!(
        cosignature_message(&checkpoint.body(), T),
        message.as_bytes()
    );
    assert_eq!(c.signature(), &key.sign(message.as_bytes()).to_bytes());
    assert_eq!(c.key_hash(), &cosignature_key_hash(&w.name, &w.key));
    // Line layout: key hash ‖ time, 8 bytes big-endian ‖ signature.
    let line = c.to_note_signature();
    assert_eq!(&line.signature()[..8], &T.to_be_bytes());
    assert_eq!(line.signature().len(), 72);
    assert_eq!(Cosignature::from_note_signature(&line), Ok(c.clone()));
    c.verify(&checkpoint.body(), &w.key).unwrap();
}

#[test]
fn cosignature_rejections() {
    let (key, w) = witness(1);
    let checkpoint = example_checkpoint();
    assert_eq!(
        cosign(&checkpoint, "a b", &key, T),
        Err(CosignatureError::InvalidName { name: "a b".into() })
    );
    assert_eq!(
        cosign(&checkpoint, &w.name, &key, 1 << 63),
        Err(CosignatureError::TimeOutOfRange { time: 1 << 63 })
    );
    assert!(cosign(&checkpoint, &w.name, &key, (1 << 63) - 1).is_ok());

    let c = cosign(&checkpoint, &w.name, &key, T).unwrap();
    let other = Checkpoint::new(ORIGIN, 5, *checkpoint.root()).unwrap();
    assert_eq!(
        c.verify(&other.body(), &w.key),
        Err(CosignatureError::SignatureInvalid {
            name: w.name.clone()
        })
    );
    assert_eq!(
        c.verify(&checkpoint.body(), &witness(2).1.key),
        Err(CosignatureError::NotFromKey {
            name: w.name.clone()
        })
    );

    let id = cosignature_key_hash(&w.name, &w.key);
    let line = NoteSignature::new(w.name.clone(), id, vec![0; 71]).unwrap();
    assert_eq!(
        Cosignature::from_note_signature(&line),
        Err(CosignatureError::Length {
            name: w.name.clone(),
            len: 71
        })
    );
    let mut bytes = vec![0x80; 8];
    bytes.extend_from_slice(&[0; 64]);
    let line = NoteSignature::new(w.name.clone(), id, bytes).unwrap();
    assert_eq!(
        Cosignature::from_note_signature(&line),
        Err(CosignatureError::TimeOutOfRange {
            time: 0x8080_8080_8080_8080
        })
    );
}

#[test]
fn a_changed_time_breaks_the_cosignature() {
    let ws = witnesses();
    let note = cosigned(&ws, &[0]).to_text();
    let line = note.lines().last().unwrap();
    let parsed = NoteSignature::parse_line(line).unwrap();
    let mut bytes = parsed.signature().to_vec();
    bytes[7] ^= 1;
    let forged = NoteSignature::new(parsed.name(), *parsed.key_hash(), bytes).unwrap();
    let note = note.replace(line, forged.to_line().trim_end());
    let parsed = SignedNote::parse(note.as_bytes()).unwrap();
    assert_eq!(
        verify_cosignature(&parsed, &ws[0].1),
        Err(CosignatureError::SignatureInvalid {
            name: ws[0].1.name.clone()
        })
    );
}

#[test]
fn quorum_met_and_unmet() {
    let ws = witnesses();
    let note = cosigned(&ws, &[0, 2]).to_text();
    let want = vec![
        Cosigner {
            name: ws[0].1.name.clone(),
            time: T,
        },
        Cosigner {
            name: ws[2].1.name.clone(),
            time: T + 2,
        },
    ];
    assert_eq!(quorum(&note, &keys(&ws), 2), Ok(want.clone()));
    assert_eq!(quorum(&note, &keys(&ws), 1), Ok(want));
    assert_eq!(
        quorum(&note, &keys(&ws), 3),
        Err(QuorumError::QuorumNotMet {
            have: 2,
            need: 3,
            signed_by: vec![ws[0].1.name.clone(), ws[2].1.name.clone()],
        })
    );
    assert_eq!(quorum(&note, &keys(&ws), 0), Err(QuorumError::ZeroQuorum));
    let bare = sign_checkpoint(&example_checkpoint(), &log_key()).to_text();
    assert_eq!(
        quorum(&bare, &keys(&ws), 1),
        Err(QuorumError::QuorumNotMet {
            have: 0,
            need: 1,
            signed_by: vec![]
        })
    );
}

#[test]
fn duplicates_count_once() {
    let ws = witnesses();
    let checkpoint = example_checkpoint();
    // The same witness's line twice (as a relay might append it), listed twice.
    let mut note = sign_checkpoint(&checkpoint, &log_key());
    let line = cosign(&checkpoint, &ws[0].1.name, &ws[0].0, T)
        .unwrap()
        .to_note_signature();
    note.push_signature(line.clone()).unwrap();
    note.push_signature(line).unwrap();
    let listed = vec![ws[0].1.clone(), ws[0].1.clone()];
    assert_eq!(
        verify_quorum(&note, &listed, 2),
        Err(QuorumError::QuorumNotMet {
            have: 1,
            need: 2,
            signed_by: vec![ws[0].1.name.clone()]
        })
    );
    // One key under two names: v1 does not sign the name, so it is one witness.
    let alias = WitnessKey {
        name: "alias.example/w1".into(),
        key: ws[0].1.key,
    };
    let c = cosign(&checkpoint, &alias.name, &ws[0].0, T).unwrap();
    note.push_signature(c.to_note_signature()).unwrap();
    assert_eq!(
        verify_quorum(&note, &[ws[0].1.clone(), alias], 2),
        Err(QuorumError::QuorumNotMet {
            have: 1,
            need: 2,
            signed_by: vec![ws[0].1.name.clone()]
        })
    );
}

#[test]
fn unknown_witness_lines_are_ignored_but_bad_known_lines_reject() {
    let ws = witnesses();
    let mut note = SignedNote::parse(cosigned(&ws, &[0, 1]).to_text().as_bytes()).unwrap();
    // An unlisted witness's garbage, and a line with a listed name but another key's hash.
    let stranger = NoteSignature::new("stranger.example", [9; 4], vec![0; 72]).unwrap();
    note.push_signature(stranger).unwrap();
    let wrong_hash = NoteSignature::new(ws[2].1.name.clone(), [0; 4], vec![0; 72]).unwrap();
    note.push_signature(wrong_hash).unwrap();
    let got = verify_quorum(&note, &keys(&ws), 2).unwrap();
    assert_eq!(got.len(), 2);

    let id = cosignature_key_hash(&ws[2].1.name, &ws[2].1.key);
    note.push_signature(NoteSignature::new(ws[2].1.name.clone(), id, vec![0; 72]).unwrap())
        .unwrap();
    assert_eq!(
        verify_quorum(&note, &keys(&ws), 2),
        Err(QuorumError::Cosignature {
            name: ws[2].1.name.clone(),
            source: CosignatureError::SignatureInvalid {
                name: ws[2].1.name.clone()
            },
        })
    );
    note.push_signature(NoteSignature::new(ws[2].1.name.clone(), id, vec![0; 10]).unwrap())
        .unwrap();
    assert!(matches!(
        verify_quorum(&note, &keys(&ws), 2),
        Err(QuorumError::Cosignature { .. })
    ));
}

#[test]
fn witnessed_needs_the_operator_signature_too() {
    let ws = witnesses();
    let note = cosigned(&ws, &[0, 1, 2]).to_text();
    // Flip a bit of the operator's signature (first signature line, after the blank line).
    let operator = note.lines().nth(4).unwrap();
    let flipped = operator.replace("Qo=", "Qw=");
    assert_ne!(operator, flipped);
    let tampered = note.replace(operator, &flipped);
    assert_eq!(
        quorum(&tampered, &keys(&ws), 3),
        Err(QuorumError::Checkpoint(CheckpointError::SignatureInvalid))
    );
    let parsed = CosignedCheckpoint::parse(note.as_bytes()).unwrap();
    assert_eq!(
        parsed
            .verify(ORIGIN, &log_public(), &keys(&ws), 3)
            .unwrap()
            .len(),
        3
    );
    assert_eq!(
        parsed.verify("other.example/log", &log_public(), &keys(&ws), 3),
        Err(QuorumError::Checkpoint(CheckpointError::OriginMismatch {
            expected: "other.example/log".into(),
            got: ORIGIN.into(),
        }))
    );
}

#[test]
fn cosigned_checkpoint_keeps_one_line_per_witness() {
    let ws = witnesses();
    let mut note = cosigned(&ws, &[0, 1]);
    let text = note.to_text();
    assert_eq!(CosignedCheckpoint::parse(text.as_bytes()).unwrap(), note);
    assert_eq!(note.cosignatures().len(), 2);

    // A later cosignature from w1 replaces its earlier line, in place.
    let later = cosign(note.checkpoint(), &ws[0].1.name, &ws[0].0, T + 60).unwrap();
    note.add_cosignature(&later, &ws[0].1.key).unwrap();
    let times: Vec<u64> = note.cosignatures().iter().map(Cosignature::time).collect();
    assert_eq!(times, vec![T + 60, T + 1]);

    // A cosignature of another checkpoint is refused and leaves the note unchanged.
    let other = Checkpoint::new(ORIGIN, 5, *note.checkpoint().root()).unwrap();
    let stray = cosign(&other, &ws[2].1.name, &ws[2].0, T).unwrap();
    let before = note.clone();
    assert_eq!(
        note.add_cosignature(&stray, &ws[2].1.key),
        Err(CosignatureError::SignatureInvalid {
            name: ws[2].1.name.clone()
        })
    );
    assert_eq!(note, before);
}

#[test]
fn a_full_note_refuses_more_cosignatures() {
    let ws: Vec<_> = (1..=16).map(witness).collect();
    let mut note = cosigned(&ws, &(0..15).collect::<Vec<_>>());
    assert_eq!(note.note().signatures().len(), 16);
    let (key, w) = &ws[15];
    let c = cosign(note.checkpoint(), &w.name, key, T).unwrap();
    assert_eq!(
        note.add_cosignature(&c, &w.key),
        Err(CosignatureError::Note(NoteError::TooManySignatures {
            count: 17
        }))
    );
    assert_eq!(quorum(&note.to_text(), &keys(&ws), 15).unwrap().len(), 15);
}

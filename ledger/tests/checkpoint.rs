//! Checkpoint notes (DESIGN §5): a known answer from the RFC 8032 test key, the crate doc's
//! example, round trips, and one rejection per malformation.

mod checkpoint_support;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use checkpoint_support::*;
use ed25519_dalek::{Signature, Verifier as _, VerifyingKey};
use sha2::Digest as _;
use testigo_ledger::checkpoint::{
    Checkpoint, CheckpointError, CosignedCheckpoint, LineFault, MAX_SIGNATURES, NoteError,
    NoteSignature, SignedNote, WitnessKey, cosignature_key_hash, note_key_hash, sign_checkpoint,
};
use testigo_ledger::verify::{verify_checkpoint, verify_witnessed};
use testigo_ledger::{Hash, PublicKey};

/// The operator's note on the example checkpoint, computed once with this code and pinned: any
/// change to the body, the key hash or the signing shows up here.
const EXPECTED_NOTE: &str = "testigo.example/log/1\n\
4\n\
ORnVM9AJMjAcYO3tWEDJ6PGrPJAENIyr48JkDIt/lxM=\n\
\n\
\u{2014} testigo.example/log/1 BKCeg+sDQGzp4xesSBPI5BmLbqnOZ9VEbsjOhha+4ubZ9vvRhqeVwEMUHNFX8cf56joly2Fu/571+SWWwfIoU9Ar0Qo=\n";

fn verify(note: &str) -> Result<Checkpoint, CheckpointError> {
    verify_checkpoint(note.as_bytes(), ORIGIN, &log_public())
}

#[test]
fn rfc8032_test_key_signs_the_expected_note() {
    let key = log_key();
    assert_eq!(
        hex::encode(key.verifying_key().to_bytes()),
        RFC8032_TEST1_PUBLIC
    );
    let note = sign_checkpoint(&example_checkpoint(), &key).to_text();
    assert_eq!(note, EXPECTED_NOTE);

    // Key hash, computed independently: SHA-256(origin ‖ "\n" ‖ 0x01 ‖ public key)[:4].
    let mut preimage = b"testigo.example/log/1\n\x01".to_vec();
    preimage.extend_from_slice(&hex::decode(RFC8032_TEST1_PUBLIC).unwrap());
    let expected_hash = &sha2::Sha256::digest(&preimage)[..4];
    let line = note.lines().last().unwrap();
    let b64 = line
        .strip_prefix("\u{2014} testigo.example/log/1 ")
        .unwrap();
    let bytes = BASE64.decode(b64).unwrap();
    assert_eq!(bytes.len(), 4 + 64);
    assert_eq!(&bytes[..4], expected_hash);
    assert_eq!(&note_key_hash(ORIGIN, &log_public())[..], expected_hash);

    // The signature is a plain RFC 8032 signature over the body bytes.
    let body = "testigo.example/log/1\n4\nORnVM9AJMjAcYO3tWEDJ6PGrPJAENIyr48JkDIt/lxM=\n";
    let signature = Signature::from_slice(&bytes[4..]).unwrap();
    key.verifying_key()
        .verify_strict(body.as_bytes(), &signature)
        .unwrap();

    let checkpoint = verify(&note).unwrap();
    assert_eq!((checkpoint.origin(), checkpoint.size()), (ORIGIN, 4));
    assert_eq!(checkpoint.root(), &root(&leaves("leaf ", 4)));
}

#[test]
fn cosignature_key_hash_uses_type_4() {
    let witness = public(&key_from_hex(RFC8032_TEST2_SEED));
    let mut preimage = b"witness.example/w1\n\x04".to_vec();
    preimage.extend_from_slice(witness.as_bytes());
    assert_eq!(
        &cosignature_key_hash("witness.example/w1", &witness)[..],
        &sha2::Sha256::digest(&preimage)[..4]
    );
}

#[test]
fn crate_doc_example_verifies() {
    let doc = include_str!("../src/lib.rs");
    let lines: Vec<&str> = doc.lines().filter_map(|l| l.strip_prefix("//!")).collect();
    let start = lines.iter().position(|l| l.trim() == "```text").unwrap() + 1;
    let len = lines[start..]
        .iter()
        .position(|l| l.trim() == "```")
        .unwrap();
    let text: String = lines[start..start + len]
        .iter()
        .map(|l| format!("{}\n", l.trim_start()))
        .collect();

    let witness = WitnessKey {
        name: "witness.example/w1".into(),
        key: public(&key_from_hex(RFC8032_TEST2_SEED)),
    };
    let (checkpoint, cosigners) =
        verify_witnessed(text.as_bytes(), ORIGIN, &log_public(), &[witness], 1).unwrap();
    assert_eq!(checkpoint, example_checkpoint());
    assert_eq!(cosigners[0].time, 1_795_953_600);
    // The doc note is the pinned operator note plus one cosignature line.
    assert!(text.starts_with(EXPECTED_NOTE));
}

#[test]
fn parse_serialise_round_trips() {
    let note = SignedNote::parse(EXPECTED_NOTE.as_bytes()).unwrap();
    assert_eq!(note.to_text(), EXPECTED_NOTE);
    assert_eq!(note.signatures().len(), 1);
    let cosigned = CosignedCheckpoint::parse(EXPECTED_NOTE.as_bytes()).unwrap();
    assert_eq!(cosigned.to_string(), EXPECTED_NOTE);
    assert_eq!(cosigned.checkpoint(), &example_checkpoint());
    assert!(cosigned.cosignatures().is_empty());
    for size in [0, 1, 10, u64::MAX] {
        let note = signed(size, Hash([size as u8; 32]));
        assert_eq!(SignedNote::parse(note.as_bytes()).unwrap().to_text(), note);
        assert_eq!(verify(&note).unwrap().size(), size);
    }
}

/// `EXPECTED_NOTE` with `from` replaced by `to` (exactly once).
fn edit(from: &str, to: &str) -> String {
    assert_eq!(EXPECTED_NOTE.matches(from).count(), 1, "{from:?}");
    EXPECTED_NOTE.replace(from, to)
}

fn note_error(note: &[u8]) -> NoteError {
    match verify_checkpoint(note, ORIGIN, &log_public()) {
        Err(CheckpointError::Note(e)) => e,
        other => panic!("expected a note error, got {other:?}"),
    }
}

fn line_fault(note: &str) -> LineFault {
    match note_error(note.as_bytes()) {
        NoteError::BadSignatureLine { line: 1, fault } => fault,
        other => panic!("expected a bad first line, got {other:?}"),
    }
}

#[test]
fn framing_malformations_are_rejected_precisely() {
    let mut bytes = EXPECTED_NOTE.as_bytes().to_vec();
    bytes[2] = 0xff;
    assert_eq!(note_error(&bytes), NoteError::NotUtf8 { offset: 2 });
    let crlf = EXPECTED_NOTE.replace('\n', "\r\n");
    assert_eq!(
        note_error(crlf.as_bytes()),
        NoteError::ControlCharacter {
            offset: 21,
            byte: b'\r'
        }
    );
    let tab = edit("log/1\n4", "log/1\n\t4");
    assert_eq!(
        note_error(tab.as_bytes()),
        NoteError::ControlCharacter {
            offset: 22,
            byte: b'\t'
        }
    );
    let cut = EXPECTED_NOTE.strip_suffix('\n').unwrap();
    assert_eq!(note_error(cut.as_bytes()), NoteError::MissingFinalNewline);
    let no_blank = edit("=\n\n\u{2014}", "=\n\u{2014}");
    assert_eq!(note_error(no_blank.as_bytes()), NoteError::MissingBlankLine);
    let unsigned = "testigo.example/log/1\n4\nORnVM9AJMjAcYO3tWEDJ6PGrPJAENIyr48JkDIt/lxM=\n\n";
    assert_eq!(note_error(unsigned.as_bytes()), NoteError::NoSignatures);
}

#[test]
fn signature_line_malformations_are_rejected_precisely() {
    let dash = "\u{2014} testigo.example/log/1 ";
    assert_eq!(
        line_fault(&edit(dash, "- testigo.example/log/1 ")),
        LineFault::MissingPrefix
    );
    assert_eq!(
        line_fault(&edit(dash, "\u{2013} testigo.example/log/1 ")),
        LineFault::MissingPrefix
    );
    assert_eq!(
        line_fault(&edit(dash, "\u{2014}testigo.example/log/1 ")),
        LineFault::MissingPrefix
    );
    assert_eq!(
        line_fault(&edit(dash, "\u{2014} testigo.example/log/1")),
        LineFault::MissingSpace
    );
    assert_eq!(
        line_fault(&edit(dash, "\u{2014}  ")),
        LineFault::InvalidKeyName
    );
    assert_eq!(
        line_fault(&edit(dash, "\u{2014} a+b ")),
        LineFault::InvalidKeyName
    );
    assert_eq!(
        line_fault(&edit(dash, "\u{2014} a\u{3000}b ")),
        LineFault::InvalidKeyName
    );
    // Two spaces, a trailing space, padding removed, non-zero trailing bits: never canonical.
    assert_eq!(
        line_fault(&edit(dash, &format!("{dash} "))),
        LineFault::BadBase64
    );
    assert_eq!(line_fault(&edit("Qo=\n", "Qo= \n")), LineFault::BadBase64);
    assert_eq!(line_fault(&edit("Qo=\n", "Qo\n")), LineFault::BadBase64);
    assert_eq!(line_fault(&edit("Qo=\n", "Qp=\n")), LineFault::BadBase64);
    let short = format!("{dash}{}\n", BASE64.encode([1, 2, 3, 4]));
    let note = format!(
        "{}{short}",
        &EXPECTED_NOTE[..EXPECTED_NOTE.find(dash).unwrap()]
    );
    assert_eq!(line_fault(&note), LineFault::TooShort { len: 4 });
}

fn with_extra_lines(count: usize) -> String {
    let extra: String = (0..count)
        .map(|i| NoteSignature::new(format!("other.example/{i}"), [0; 4], vec![1]).unwrap())
        .map(|line| line.to_line())
        .collect();
    format!("{EXPECTED_NOTE}{extra}")
}

#[test]
fn at_most_sixteen_signature_lines() {
    assert_eq!(
        verify(&with_extra_lines(MAX_SIGNATURES - 1)),
        Ok(example_checkpoint())
    );
    assert_eq!(
        note_error(with_extra_lines(MAX_SIGNATURES).as_bytes()),
        NoteError::TooManySignatures { count: 17 }
    );
    let mut note = SignedNote::parse(with_extra_lines(15).as_bytes()).unwrap();
    let extra = note.signatures()[1].clone();
    assert_eq!(
        note.push_signature(extra),
        Err(NoteError::TooManySignatures { count: 17 })
    );
}

#[test]
fn lines_from_unknown_keys_are_ignored() {
    let log = log_public();
    let other = public(&witness_key(9));
    let lines = [
        // Same name, another key; another name, the log key's hash; a cosignature-type hash.
        NoteSignature::new(ORIGIN, note_key_hash(ORIGIN, &other), vec![0; 64]).unwrap(),
        NoteSignature::new("x.example", note_key_hash(ORIGIN, &log), vec![0; 64]).unwrap(),
        NoteSignature::new(ORIGIN, cosignature_key_hash(ORIGIN, &log), vec![0; 72]).unwrap(),
    ];
    let extra: String = lines.iter().map(NoteSignature::to_line).collect();
    // Before and after the operator's line.
    let (body, sig) = EXPECTED_NOTE.split_at(EXPECTED_NOTE.find('\u{2014}').unwrap());
    assert_eq!(
        verify(&format!("{body}{extra}{sig}")),
        Ok(example_checkpoint())
    );
    assert_eq!(
        verify(&format!("{EXPECTED_NOTE}{extra}")),
        Ok(example_checkpoint())
    );
}

#[test]
fn every_line_from_the_log_key_must_verify() {
    let good = EXPECTED_NOTE.lines().last().unwrap();
    assert_eq!(
        verify(&format!("{EXPECTED_NOTE}{good}\n")),
        Ok(example_checkpoint())
    );
    let bad = good.replace("Qo=", "Qw=");
    assert_eq!(
        verify(&format!("{EXPECTED_NOTE}{bad}\n")),
        Err(CheckpointError::SignatureInvalid)
    );
    assert_eq!(
        verify(&edit("Qo=", "Qw=")),
        Err(CheckpointError::SignatureInvalid)
    );
    let id = note_key_hash(ORIGIN, &log_public());
    for len in [63, 65] {
        let line = NoteSignature::new(ORIGIN, id, vec![0; len])
            .unwrap()
            .to_line();
        assert_eq!(
            verify(&format!("{EXPECTED_NOTE}{line}")),
            Err(CheckpointError::LogSignatureLength { len })
        );
    }
}

#[test]
fn wrong_log_wrong_key_or_no_signature() {
    assert_eq!(
        verify_checkpoint(
            EXPECTED_NOTE.as_bytes(),
            "testigo.example/log/2",
            &log_public()
        ),
        Err(CheckpointError::OriginMismatch {
            expected: "testigo.example/log/2".into(),
            got: ORIGIN.into()
        })
    );
    let other = public(&witness_key(3));
    assert_eq!(
        verify_checkpoint(EXPECTED_NOTE.as_bytes(), ORIGIN, &other),
        Err(CheckpointError::NoLogSignature {
            origin: ORIGIN.into()
        })
    );
    let not_a_point = (0u8..=255)
        .map(|b| PublicKey([b; 32]))
        .find(|k| VerifyingKey::from_bytes(k.as_bytes()).is_err())
        .unwrap();
    assert_eq!(
        verify_checkpoint(EXPECTED_NOTE.as_bytes(), ORIGIN, &not_a_point),
        Err(CheckpointError::InvalidLogKey)
    );
}

#[test]
fn small_order_key_and_r_are_rejected_where_legacy_verification_accepts() {
    // Identity as public key and as R, s = 0: `verify` accepts it for any message; strict does not.
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let weak = PublicKey(identity);
    let mut sig = identity.to_vec();
    sig.extend_from_slice(&[0; 32]);
    let body = example_checkpoint().body();
    let vk = VerifyingKey::from_bytes(&identity).unwrap();
    let signature = Signature::from_slice(&sig).unwrap();
    assert!(
        vk.verify(body.as_bytes(), &signature).is_ok(),
        "legacy accepts the forgery"
    );

    let line = NoteSignature::new(ORIGIN, note_key_hash(ORIGIN, &weak), sig).unwrap();
    let note = SignedNote::new(body, vec![line]).unwrap().to_text();
    assert_eq!(
        verify_checkpoint(note.as_bytes(), ORIGIN, &weak),
        Err(CheckpointError::SignatureInvalid)
    );
}

#[test]
fn operator_signed_malformed_bodies_are_still_rejected() {
    let root = example_checkpoint().root().to_base64();
    let cases = [
        (
            format!("{ORIGIN}\n4\n{root}\nextension\n"),
            CheckpointError::ExtensionLines { count: 1 },
        ),
        (
            format!("{ORIGIN}\n4\n{root}\na\nb\n"),
            CheckpointError::ExtensionLines { count: 2 },
        ),
        (
            format!("{ORIGIN}\n04\n{root}\n"),
            CheckpointError::SizeLeadingZero { text: "04".into() },
        ),
        (
            format!("{ORIGIN}\n+4\n{root}\n"),
            CheckpointError::SizeNotDecimal { text: "+4".into() },
        ),
        (
            format!("{ORIGIN}\n4 \n{root}\n"),
            CheckpointError::SizeNotDecimal { text: "4 ".into() },
        ),
        (format!("{ORIGIN}\n\n{root}\n"), CheckpointError::EmptySize),
        (
            format!("{ORIGIN}\n99999999999999999999\n{root}\n"),
            CheckpointError::SizeOverflow {
                text: "99999999999999999999".into(),
            },
        ),
        (format!("\n4\n{root}\n"), CheckpointError::EmptyOrigin),
        (
            format!("{ORIGIN} \n4\n{root}\n"),
            CheckpointError::InvalidOrigin {
                origin: format!("{ORIGIN} "),
            },
        ),
        (
            format!("{ORIGIN}\n4\n"),
            CheckpointError::MissingLines { got: 2 },
        ),
        (
            format!("{ORIGIN}\n4\n{}\n", BASE64.encode([0; 31])),
            CheckpointError::RootLength { len: 31 },
        ),
        (
            format!("{ORIGIN}\n4\n{}\n", &root[..43]),
            CheckpointError::RootNotBase64 {
                text: root[..43].into(),
            },
        ),
    ];
    for (body, expected) in cases {
        assert_eq!(verify(&sign_raw_body(&body)), Err(expected), "{body:?}");
    }
    // The same signer on a well-formed body is accepted: the body, not the signing, failed.
    assert_eq!(
        verify(&sign_raw_body(&example_checkpoint().body())),
        Ok(example_checkpoint())
    );
}

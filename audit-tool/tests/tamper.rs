//! Tampering with a valid synthetic log: each change is caught at its exact place and reason.

use std::path::Path;

use ed25519_dalek::SigningKey;
use testigo_audit::failure::{At, Failure};
use testigo_audit::progress::Progress;
use testigo_audit::replay::{Options, Report, replay};
use testigo_audit::source::Source;
use testigo_ledger::archive::{ArchiveReader, ArchiveWriter, Record};
use testigo_ledger::checkpoint::{Checkpoint, CosignedCheckpoint, cosign};
use testigo_ledger::entry::{Access, Body, DataCategory, Leaf, LegalBasis, Purpose, sign_body};
use testigo_ledger::synth::{Item, LogBuilder, SYNTH_ORIGIN, SynthConfig, build};

fn records(items: &[Item]) -> Vec<Record> {
    items
        .iter()
        .map(|i| match i {
            Item::Leaf { index, leaf } => Record::Leaf {
                index: *index,
                bytes: leaf.to_bytes(),
            },
            Item::Checkpoint { note } => Record::Checkpoint {
                note: note.clone().into_bytes(),
            },
        })
        .collect()
}

fn log() -> (LogBuilder, Vec<Record>) {
    let (builder, items) = build(SynthConfig::default(), 600);
    (builder, records(&items))
}

fn write(dir: &Path, records: &[Record]) -> std::path::PathBuf {
    let path = dir.join("log.archive");
    let mut w = ArchiveWriter::new(Vec::new()).unwrap();
    for r in records {
        w.write(r).unwrap();
    }
    std::fs::write(&path, w.into_inner()).unwrap();
    path
}

fn audit_bytes(dir: &Path, records: &[Record], keep_going: bool) -> Report {
    let path = write(dir, records);
    let running = Source::Archive(path).start().unwrap();
    let options = Options {
        keep_going,
        ..Options::default()
    };
    replay(running, options, &mut Progress::quiet()).unwrap()
}

fn audit(records: &[Record]) -> Report {
    let dir = tempfile::tempdir().unwrap();
    audit_bytes(dir.path(), records, false)
}

fn first(report: &Report) -> &Failure {
    report.failures.first().expect("a failure")
}

fn leaf_at(records: &[Record], index: u64) -> usize {
    records
        .iter()
        .position(|r| matches!(r, Record::Leaf { index: i, .. } if *i == index))
        .unwrap()
}

fn decoded(records: &[Record], pos: usize) -> Leaf {
    match &records[pos] {
        Record::Leaf { bytes, .. } => Leaf::from_bytes(bytes).unwrap(),
        Record::Checkpoint { .. } => panic!("not a leaf"),
    }
}

/// The position of the first leaf at or after `from` whose body is of the kind `pick` accepts.
fn find(records: &[Record], from: u64, pick: impl Fn(&Body) -> bool) -> (usize, u64) {
    records
        .iter()
        .enumerate()
        .find_map(|(pos, r)| match r {
            Record::Leaf { index, bytes } if *index >= from => {
                let body = Leaf::from_bytes(bytes).unwrap().decode_body().unwrap();
                pick(&body).then_some((pos, *index))
            }
            _ => None,
        })
        .unwrap()
}

#[test]
fn a_clean_synthetic_log_verifies_with_the_cross_check() {
    let (builder, records) = log();
    let report = audit(&records);
    assert!(report.ok(), "{:?}", report.failures);
    assert_eq!(report.leaves, builder.size());
    assert_eq!(report.root, builder.root());
    assert_eq!(report.cross_check_root, Some(builder.root()));
    assert_eq!(report.last_checkpoint, Some(builder.size()));
    assert!(report.state_roots > 5 && report.checkpoints == report.state_roots);
}

#[test]
fn a_byte_flipped_in_a_leaf_is_named_at_that_leaf() {
    let (_, mut records) = log();
    let (pos, index) = find(&records, 100, |b| matches!(b, Body::Access(_)));
    if let Record::Leaf { bytes, .. } = &mut records[pos] {
        let last = bytes.len() - 1;
        bytes[last] ^= 0x01;
    }
    let report = audit(&records);
    let f = first(&report);
    assert_eq!(f.at, At::Leaf(index), "{f}");
    // The signature covers the body as received, so it is the first thing to fail.
    assert_eq!(f.code, "bad_signature", "{f}");
}

#[test]
fn a_removed_leaf_is_named_where_the_gap_is() {
    let (_, mut records) = log();
    let pos = leaf_at(&records, 200);
    records.remove(pos);
    let report = audit(&records);
    let f = first(&report);
    assert_eq!(
        (f.at, f.code.as_str()),
        (At::Leaf(201), "out_of_sequence"),
        "{f}"
    );
    assert_eq!(f.expected.as_deref(), Some("200"));
    assert_eq!(f.found.as_deref(), Some("201"));
}

#[test]
fn a_forged_signature_is_named_with_its_signer() {
    let (_, mut records) = log();
    let (pos, index) = find(&records, 150, |b| matches!(b, Body::Access(_)));
    let mut leaf = decoded(&records, pos);
    leaf.signature[10] ^= 0x40;
    records[pos] = Record::Leaf {
        index,
        bytes: leaf.to_bytes(),
    };
    let report = audit(&records);
    let f = first(&report);
    assert_eq!(
        (f.at, f.code.as_str()),
        (At::Leaf(index), "bad_signature"),
        "{f}"
    );
    assert_eq!(f.found, Some(leaf.signer.to_string()));
}

#[test]
fn an_altered_state_root_is_named_with_both_roots() {
    let (builder, mut records) = log();
    let (pos, index) = find(&records, 300, |b| matches!(b, Body::StateRoot(_)));
    let leaf = decoded(&records, pos);
    let Ok(Body::StateRoot(mut root)) = leaf.decode_body() else {
        unreachable!()
    };
    let honest = root.map_root;
    root.map_root.0[0] ^= 0xff;
    let forged = sign_body(
        SYNTH_ORIGIN,
        builder.log_key(),
        &Body::StateRoot(root.clone()),
    )
    .sequenced(leaf.sequenced_at);
    records[pos] = Record::Leaf {
        index,
        bytes: forged.to_bytes(),
    };
    let report = audit(&records);
    let f = first(&report);
    assert_eq!(
        (f.at, f.code.as_str()),
        (At::Leaf(index), "state_root_mismatch"),
        "{f}"
    );
    assert_eq!(f.expected, Some(honest.to_string()));
    assert_eq!(f.found, Some(root.map_root.to_string()));
}

/// Replaces the leaf at `pos` by `leaf`, signed by its real key: only the rules can catch it.
fn inject(records: &mut [Record], pos: usize, leaf: Leaf) -> u64 {
    let Record::Leaf { index, bytes } = &mut records[pos] else {
        panic!("not a leaf")
    };
    let old = Leaf::from_bytes(bytes).unwrap();
    *bytes = leaf.sequenced(old.sequenced_at).to_bytes();
    *index
}

#[test]
fn an_access_after_revocation_is_refused_at_its_index() {
    let (builder, mut records) = log();
    let (_, revoked_at) = find(&records, 0, |b| matches!(b, Body::RevokeConsent(_)));
    let Ok(Body::RevokeConsent(revoke)) =
        decoded(&records, leaf_at(&records, revoked_at)).decode_body()
    else {
        unreachable!()
    };
    let revoker = decoded(&records, leaf_at(&records, revoked_at)).signer;
    // An access by accessor 0 right after, under the revoked grant; its nonce is the one the
    // replaced access used, so nothing but the revocation is wrong with it.
    let (pos, _) = find(&records, revoked_at + 1, |b| matches!(b, Body::Access(_)));
    let replaced = decoded(&records, pos);
    let Ok(Body::Access(old)) = replaced.decode_body() else {
        unreachable!()
    };
    let accessor = (0..4)
        .map(|i| builder.accessor_key(i))
        .find(|k| k.verifying_key().to_bytes() == replaced.signer.0)
        .unwrap();
    let body = Body::Access(Access {
        nonce: old.nonce,
        subject: revoker,
        category: DataCategory::Location,
        purpose: Purpose::PersonalisedAdvertising,
        legal_basis: LegalBasis::Consent,
        consent: Some(revoke.consent),
        price: 10,
    });
    let index = inject(&mut records, pos, sign_body(SYNTH_ORIGIN, accessor, &body));
    let report = audit(&records);
    let f = first(&report);
    assert_eq!(
        (f.at, f.code.as_str()),
        (At::Leaf(index), "consent_revoked"),
        "{f}"
    );
}

#[test]
fn money_from_nothing_is_refused_at_its_index() {
    let (builder, mut records) = log();
    let (pos, _) = find(&records, 100, |b| matches!(b, Body::Access(_)));
    let replaced = decoded(&records, pos);
    let Ok(Body::Access(mut access)) = replaced.decode_body() else {
        unreachable!()
    };
    let accessor = (0..4)
        .map(|i| builder.accessor_key(i))
        .find(|k| k.verifying_key().to_bytes() == replaced.signer.0)
        .unwrap();
    // A price above everything the accessor was ever given: paying it creates money.
    access.price = u64::MAX / 2;
    access.legal_basis = LegalBasis::LegitimateInterest;
    access.consent = None;
    let index = inject(
        &mut records,
        pos,
        sign_body(SYNTH_ORIGIN, accessor, &Body::Access(access)),
    );
    let report = audit(&records);
    let f = first(&report);
    assert_eq!(
        (f.at, f.code.as_str()),
        (At::Leaf(index), "insufficient_funds"),
        "{f}"
    );
}

fn checkpoint_pos(records: &[Record], nth: usize) -> (usize, CosignedCheckpoint) {
    records
        .iter()
        .enumerate()
        .filter_map(|(pos, r)| match r {
            Record::Checkpoint { note } => Some((pos, CosignedCheckpoint::parse(note).unwrap())),
            Record::Leaf { .. } => None,
        })
        .nth(nth)
        .unwrap()
}

#[test]
fn a_checkpoint_whose_root_does_not_match_is_named_with_both_roots() {
    let (builder, mut records) = log();
    let (pos, honest) = checkpoint_pos(&records, 4);
    let size = honest.checkpoint().size();
    let mut root = *honest.checkpoint().root();
    root.0[31] ^= 1;
    let forged = Checkpoint::new(SYNTH_ORIGIN, size, root).unwrap();
    let note = testigo_ledger::checkpoint::sign_checkpoint(&forged, builder.log_key());
    records[pos] = Record::Checkpoint {
        note: note.to_text().into_bytes(),
    };
    let report = audit(&records);
    let f = first(&report);
    assert_eq!(
        (f.at, f.code.as_str()),
        (At::Checkpoint(size), "checkpoint_root"),
        "{f}"
    );
    assert_eq!(f.expected, Some(honest.checkpoint().root().to_string()));
    assert_eq!(f.found, Some(root.to_string()));
}

#[test]
fn a_cosignature_by_a_key_not_in_genesis_is_named() {
    let (_, mut records) = log();
    let (pos, mut cp) = checkpoint_pos(&records, 3);
    let size = cp.checkpoint().size();
    let stranger = SigningKey::from_bytes(&[0x55; 32]);
    let line = cosign(
        cp.checkpoint(),
        "w0.synth.example",
        &stranger,
        1_796_000_000,
    )
    .unwrap();
    let stranger_public = testigo_ledger::PublicKey(stranger.verifying_key().to_bytes());
    cp.add_cosignature(&line, &stranger_public).unwrap();
    records[pos] = Record::Checkpoint {
        note: cp.to_text().into_bytes(),
    };
    let report = audit(&records);
    let f = first(&report);
    assert_eq!(
        (f.at, f.code.as_str()),
        (At::Checkpoint(size), "cosignature_unknown_key"),
        "{f}"
    );
    assert!(
        f.found.as_deref().unwrap().starts_with("w0.synth.example"),
        "{f}"
    );
}

#[test]
fn keep_going_lists_every_failure_in_log_order() {
    let (_, mut records) = log();
    let mut forged = Vec::new();
    for from in [100, 300, 500] {
        let (pos, index) = find(&records, from, |b| matches!(b, Body::Access(_)));
        let mut leaf = decoded(&records, pos);
        leaf.signature[0] ^= 1;
        records[pos] = Record::Leaf {
            index,
            bytes: leaf.to_bytes(),
        };
        forged.push(index);
    }
    let dir = tempfile::tempdir().unwrap();
    let report = audit_bytes(dir.path(), &records, true);
    let signatures: Vec<u64> = report
        .failures
        .iter()
        .filter(|f| f.code == "bad_signature")
        .filter_map(Failure::leaf)
        .collect();
    assert_eq!(signatures, forged);
    let stopped = audit(&records);
    assert_eq!(stopped.failures.len(), 1);
}

#[test]
fn a_truncated_archive_is_a_source_error_naming_the_cut() {
    let (_, records) = log();
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), &records);
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() - 3]).unwrap();
    let running = Source::Archive(path.clone()).start().unwrap();
    let err = replay(running, Options::default(), &mut Progress::quiet()).unwrap_err();
    assert!(err.to_string().contains("ends inside the record"), "{err}");
    // The whole part is still readable record by record.
    let whole = ArchiveReader::new(&bytes[..bytes.len() - 3])
        .unwrap()
        .take_while(Result::is_ok)
        .count();
    assert_eq!(whole, records.len() - 1);
}

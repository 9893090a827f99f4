//! Receipts: a real log's revocation and the access after it verify offline from the log key
//! alone; every way of lying about them fails with the entry and the reason.

mod common;

use common::fixture::*;
use common::tree::TestTree;
use common::{ORIGIN, key, pk};
use testigo_ledger::checkpoint::{
    Checkpoint, CosignedCheckpoint, QuorumError, cosign, sign_checkpoint,
};
use testigo_ledger::entry::*;
use testigo_ledger::receipt::{MAX_RECEIPT_ENTRIES, Receipt, ReceiptEntry, ReceiptError};
use testigo_ledger::verify::GenesisError;
use testigo_ledger::{Blake3, Hash, TreeHasher};

/// The fixture log (witness quorum 1): alice grants acme, acme accesses, alice revokes, a
/// StateRoot; the indexes of the revocation and the access, and the whole log.
struct Log {
    leaves: Vec<Vec<u8>>,
    tree: TestTree,
    access: u64,
    revoke: u64,
}

fn log() -> Log {
    let mut f = Fixture::parties();
    let consent = f.grant("alice", Some("acme"), 2);
    let access = f.access("acme", "alice", consent, 5).unwrap().index;
    let revoke = f
        .ok("alice", |nonce| {
            Body::RevokeConsent(RevokeConsent { nonce, consent })
        })
        .index;
    f.state_root();
    let leaves: Vec<Vec<u8>> = f.leaves.iter().map(Leaf::to_bytes).collect();
    let tree = TestTree::new(leaves.iter().map(|l| Blake3.hash_leaf(l)).collect());
    Log {
        leaves,
        tree,
        access,
        revoke,
    }
}

/// The checkpoint of the whole tree, signed by the operator and cosigned by the fixture's
/// witness when `witnessed`.
fn note(log: &Log, witnessed: bool) -> String {
    let checkpoint = Checkpoint::new(ORIGIN, log.tree.size(), log.tree.root()).unwrap();
    let mut note =
        CosignedCheckpoint::from_note(sign_checkpoint(&checkpoint, &key("operator"))).unwrap();
    if witnessed {
        let c = cosign(
            &checkpoint,
            "witness.example",
            &key("witness"),
            1_764_000_100,
        )
        .unwrap();
        note.add_cosignature(&c, &pk("witness")).unwrap();
    }
    note.to_text()
}

fn entry(log: &Log, index: u64) -> ReceiptEntry {
    ReceiptEntry {
        index,
        leaf: log.leaves[index as usize].clone(),
        proof: log.tree.proof(index),
    }
}

fn receipt(log: &Log, indexes: &[u64]) -> Receipt {
    let entries = std::iter::once(0)
        .chain(indexes.iter().copied())
        .map(|i| entry(log, i))
        .collect();
    Receipt::new(entries, note(log, true)).unwrap()
}

fn genesis_hash(log: &Log) -> Hash {
    Blake3.hash_leaf(&log.leaves[0])
}

#[test]
fn a_revocation_and_an_access_verify_from_the_log_key_and_genesis_hash() {
    let log = log();
    let receipt = receipt(&log, &[log.access, log.revoke]);
    let text = receipt.to_text();
    assert!(text.starts_with("testigo.receipt/v1\nentry 0 "), "{text}");
    let parsed = Receipt::parse(text.as_bytes()).unwrap();
    assert_eq!(parsed, receipt);
    let verified = parsed
        .verify(&pk("operator"), Some(&genesis_hash(&log)))
        .unwrap();
    assert_eq!(verified.params.origin, ORIGIN);
    assert_eq!(verified.checkpoint.size(), log.tree.size());
    assert_eq!(verified.cosigners.len(), 1);
    let indexes: Vec<u64> = verified.entries.iter().map(|e| e.index).collect();
    assert_eq!(indexes, vec![log.access, log.revoke]);
    assert!(matches!(verified.entries[0].body, Body::Access(ref a) if a.price == 5));
    assert!(matches!(verified.entries[1].body, Body::RevokeConsent(_)));
    // Without the genesis hash, the log key alone anchors it too.
    parsed.verify(&pk("operator"), None).unwrap();
}

#[test]
fn a_receipt_for_another_log_or_genesis_is_refused() {
    let log = log();
    let receipt = receipt(&log, &[log.access]);
    let err = receipt.verify(&pk("mallory"), None).unwrap_err();
    assert!(matches!(err, ReceiptError::OtherLog { .. }), "{err}");
    let err = receipt
        .verify(&pk("operator"), Some(&Hash([9; 32])))
        .unwrap_err();
    assert!(
        matches!(err, ReceiptError::Genesis(GenesisError::NotPinned { .. })),
        "{err}"
    );
}

#[test]
fn a_checkpoint_without_its_quorum_is_refused() {
    let log = log();
    let entries = vec![entry(&log, 0), entry(&log, log.access)];
    let receipt = Receipt::new(entries, note(&log, false)).unwrap();
    let err = receipt.verify(&pk("operator"), None).unwrap_err();
    assert!(
        matches!(
            err,
            ReceiptError::Checkpoint(QuorumError::QuorumNotMet {
                have: 0,
                need: 1,
                ..
            })
        ),
        "{err}"
    );
}

/// Why a receipt of `entries` under `note` does not verify.
fn refusal(entries: Vec<ReceiptEntry>, note: &str) -> ReceiptError {
    Receipt::new(entries, note.to_owned())
        .unwrap()
        .verify(&pk("operator"), None)
        .unwrap_err()
}

#[test]
fn an_altered_leaf_or_proof_names_the_entry() {
    let log = log();
    let good = receipt(&log, &[log.access]);

    // A changed price: the leaf no longer hashes into the tree.
    let mut entries = good.entries().to_vec();
    let mut leaf = Leaf::from_bytes(&entries[1].leaf).unwrap();
    let Body::Access(mut access) = leaf.decode_body().unwrap() else {
        panic!()
    };
    access.price = 1;
    leaf.body = Body::Access(access).to_bytes();
    entries[1].leaf = leaf.to_bytes();
    let err = refusal(entries, good.note());
    assert!(
        matches!(err, ReceiptError::NotIncluded { index, .. } if index == log.access),
        "{err}"
    );

    // A proof hash changed.
    let mut entries = good.entries().to_vec();
    entries[1].proof[0] = Hash([1; 32]);
    let err = refusal(entries, good.note());
    assert!(
        matches!(err, ReceiptError::NotIncluded { index, .. } if index == log.access),
        "{err}"
    );

    // The right leaf under another index.
    let mut entries = good.entries().to_vec();
    entries[1].index += 1;
    let err = refusal(entries, good.note());
    assert!(matches!(err, ReceiptError::NotIncluded { .. }), "{err}");
}

#[test]
fn a_leaf_in_the_tree_with_a_bad_signature_is_refused() {
    // A log whose leaf 1 carries a signature that does not verify: the tree commits to it, so
    // only the signature check can catch it.
    let log = log();
    let mut leaves = log.leaves.clone();
    let mut forged = Leaf::from_bytes(&leaves[log.access as usize]).unwrap();
    forged.signature[0] ^= 1;
    leaves[log.access as usize] = forged.to_bytes();
    let tree = TestTree::new(leaves.iter().map(|l| Blake3.hash_leaf(l)).collect());
    let forged_log = Log {
        leaves,
        tree,
        ..log
    };
    let receipt = receipt(&forged_log, &[forged_log.access]);
    let err = receipt.verify(&pk("operator"), None).unwrap_err();
    assert!(
        matches!(err, ReceiptError::BadSignature { index, .. } if index == forged_log.access),
        "{err}"
    );
}

#[test]
fn framing_rules_hold_for_built_and_parsed_receipts() {
    let log = log();
    let note = note(&log, true);
    let err = Receipt::new(vec![entry(&log, 1)], note.clone()).unwrap_err();
    assert!(
        matches!(err, ReceiptError::GenesisFirst { index: 1 }),
        "{err}"
    );
    let err = Receipt::new(
        vec![entry(&log, 0), entry(&log, 3), entry(&log, 3)],
        note.clone(),
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            ReceiptError::Order {
                previous: 3,
                index: 3
            }
        ),
        "{err}"
    );
    let err = Receipt::new(Vec::new(), note.clone()).unwrap_err();
    assert!(
        matches!(err, ReceiptError::EntryCount { count: 0 }),
        "{err}"
    );
    let many = (0..=MAX_RECEIPT_ENTRIES as u64).map(|i| ReceiptEntry {
        index: i,
        leaf: vec![1],
        proof: Vec::new(),
    });
    let err = Receipt::new(many.collect(), note.clone()).unwrap_err();
    assert!(matches!(err, ReceiptError::EntryCount { .. }), "{err}");

    let text = receipt(&log, &[log.access]).to_text();
    for (bad, why) in [
        (
            text.replacen("testigo.receipt/v1", "testigo.receipt/v2", 1),
            "header",
        ),
        (text.replacen("entry 0 ", "entry 00 ", 1), "leading zero"),
        (text.replacen("entry 0 ", "entry +0 ", 1), "sign"),
        (text.replacen("\n\n", "\n", 1), "no empty line"),
        (text.replacen("entry 0 ", "entry 0 !", 1), "base64"),
        (
            format!("{}\n", text.split("\n\n").next().unwrap()),
            "no note",
        ),
    ] {
        assert!(Receipt::parse(bad.as_bytes()).is_err(), "{why}: accepted");
    }
    let proof_line = log.tree.proof(0)[0].to_base64();
    let long = text.replacen(
        &format!("{proof_line}\n"),
        &format!("{proof_line}\n").repeat(70),
        1,
    );
    let err = Receipt::parse(long.as_bytes()).unwrap_err();
    assert!(
        matches!(err, ReceiptError::ProofTooLong { index: 0 }),
        "{err}"
    );
}

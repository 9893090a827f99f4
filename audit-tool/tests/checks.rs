//! `evidence` and `verify-proof` from the binary: what a witness or a wallet hands the regulator,
//! good and tampered. Exit 0 when the file proves its claim, 1 when it was read and does not,
//! 2 when it cannot be read at all. The log is the ledger's seeded synthetic one, written as an
//! archive whose genesis the checks trust.

use std::path::{Path, PathBuf};
use std::process::Command;

use testigo_ledger::archive::ArchiveWriter;
use testigo_ledger::checkpoint::{Checkpoint, CosignedCheckpoint, Evidence, sign_checkpoint};
use testigo_ledger::merkle::{MemoryStore, inclusion_proof};
use testigo_ledger::receipt::{Receipt, ReceiptEntry};
use testigo_ledger::synth::{Item, LogBuilder, SYNTH_ORIGIN, SynthConfig, build};
use testigo_ledger::{Blake3, Hash, PublicKey, TreeHasher as _};

fn audit(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_testigo-audit"))
        .args(args)
        .output()
        .expect("run testigo-audit");
    let stderr = String::from_utf8_lossy(&out.stderr);
    (
        out.status.code().expect("an exit code"),
        format!("{}{stderr}", String::from_utf8_lossy(&out.stdout)),
    )
}

/// A synthetic log: its builder (the keys), its leaves' bytes, and its checkpoint notes.
struct Log {
    builder: LogBuilder,
    leaves: Vec<Vec<u8>>,
    notes: Vec<String>,
}

fn synth_log(seed: u64) -> Log {
    let (builder, items) = build(
        SynthConfig {
            seed,
            ..SynthConfig::default()
        },
        200,
    );
    let (mut leaves, mut notes) = (Vec::new(), Vec::new());
    for item in items {
        match item {
            Item::Leaf { leaf, .. } => leaves.push(leaf.to_bytes()),
            Item::Checkpoint { note } => notes.push(note),
        }
    }
    Log {
        builder,
        leaves,
        notes,
    }
}

/// The log as an archive in `dir`: what `--archive` trusts.
fn archive(log: &Log, dir: &Path, name: &str) -> String {
    let mut w = ArchiveWriter::new(Vec::new()).expect("an archive");
    let mut notes = log.notes.iter().peekable();
    for (index, leaf) in log.leaves.iter().enumerate() {
        w.write_leaf(index as u64, leaf).expect("a leaf record");
        while let Some(note) = notes.next_if(|n| size_of(n) == index as u64 + 1) {
            w.write_checkpoint(note.as_bytes())
                .expect("a checkpoint record");
        }
    }
    let path = dir.join(name);
    std::fs::write(&path, w.into_inner()).expect("write the archive");
    text(&path)
}

fn size_of(note: &str) -> u64 {
    CosignedCheckpoint::parse(note.as_bytes())
        .expect("a note")
        .checkpoint()
        .size()
}

fn text(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let path: PathBuf = dir.join(name);
    std::fs::write(&path, bytes).expect("write a file");
    text(&path)
}

fn log_key_b64(log: &Log) -> String {
    PublicKey(log.builder.log_key().verifying_key().to_bytes()).to_string()
}

#[test]
fn evidence_proves_a_split_view_and_refuses_anything_less() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let log = synth_log(1);
    let trusted = archive(&log, dir.path(), "log.archive");
    let honest = log.notes.last().expect("a checkpoint").clone();
    let size = size_of(&honest);
    // The log key signs a second checkpoint of the same size with another root.
    let other = Checkpoint::new(SYNTH_ORIGIN, size, Hash([7; 32])).expect("a checkpoint");
    let forged = sign_checkpoint(&other, log.builder.log_key()).to_text();
    let split = Evidence::SplitView {
        first: honest.clone(),
        second: forged.clone(),
    };
    let good = write(
        dir.path(),
        "split.json",
        &serde_json::to_vec(&split).expect("JSON"),
    );

    let (code, out) = audit(&["evidence", &good, "--archive", &trusted]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("proven split_view"), "{out}");
    let (code, out) = audit(&["evidence", &good, "--archive", &trusted, "--json"]);
    assert_eq!(code, 0, "{out}");
    let report: serde_json::Value = serde_json::from_str(&out).expect("JSON on stdout");
    assert_eq!(report["kind"], "split_view");
    assert_eq!(report["origin"], SYNTH_ORIGIN);
    assert_eq!(report["sizes"], serde_json::json!([size, size]));
    // The log key and name alone are enough.
    let key = log_key_b64(&log);
    let (code, out) = audit(&[
        "evidence",
        &good,
        "--origin",
        SYNTH_ORIGIN,
        "--log-key",
        &key,
    ]);
    assert_eq!(code, 0, "{out}");

    // Tampered: a root edited after signing; two equal notes; a note signed by another key.
    let edited = forged.replacen(&Hash([7; 32]).to_string(), &Hash([8; 32]).to_string(), 1);
    assert_ne!(edited, forged);
    let stranger = synth_log(2);
    let foreign = sign_checkpoint(&other, stranger.builder.log_key()).to_text();
    for (name, first, second, reason) in [
        ("edited.json", &honest, &edited, "signature"),
        ("same.json", &honest, &honest, "same root"),
        ("foreign.json", &honest, &foreign, "signature"),
    ] {
        let bad = Evidence::SplitView {
            first: first.clone(),
            second: second.clone(),
        };
        let path = write(dir.path(), name, &serde_json::to_vec(&bad).expect("JSON"));
        let (code, out) = audit(&["evidence", &path, "--archive", &trusted]);
        assert_eq!(code, 1, "{name}: {out}");
        assert!(out.contains("does not verify"), "{name}: {out}");
        assert!(out.to_lowercase().contains(reason), "{name}: {out}");
    }
    // True evidence, but against another log: refused.
    let elsewhere = archive(&stranger, dir.path(), "other.archive");
    let (code, out) = audit(&["evidence", &good, "--archive", &elsewhere]);
    assert_eq!(code, 1, "{out}");
    // Not evidence at all: read, refused.
    let junk = write(dir.path(), "junk.json", b"{\"kind\": \"nothing\"}");
    let (code, out) = audit(&["evidence", &junk, "--archive", &trusted]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("is not evidence JSON"), "{out}");
    // Unreadable: exit 2, with the file named.
    let missing = text(&dir.path().join("missing.json"));
    let (code, out) = audit(&["evidence", &missing, "--archive", &trusted]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("missing.json"), "{out}");
    let huge = write(dir.path(), "huge.json", &vec![b' '; (1 << 20) + 1]);
    let (code, out) = audit(&["evidence", &huge, "--archive", &trusted]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("larger than"), "{out}");
    // No trusted log given: a usage error.
    let (code, _) = audit(&["evidence", &good]);
    assert_eq!(code, 2);
}

/// A receipt of the genesis and the leaves `indexes` under the log's last checkpoint, with
/// `tamper` applied to the entries first.
fn receipt(log: &Log, indexes: &[u64], tamper: impl FnOnce(&mut Vec<ReceiptEntry>)) -> Vec<u8> {
    let note = log.notes.last().expect("a checkpoint").clone();
    let size = size_of(&note);
    let hashes: Vec<Hash> = log.leaves[..size as usize]
        .iter()
        .map(|l| Blake3.hash_leaf(l))
        .collect();
    let mut tree = MemoryStore::new();
    tree.append(&Blake3, &hashes).expect("a tree");
    let mut entries: Vec<ReceiptEntry> = std::iter::once(&0)
        .chain(indexes)
        .map(|&index| ReceiptEntry {
            index,
            leaf: log.leaves[index as usize].clone(),
            proof: inclusion_proof(&Blake3, &tree, index, size).expect("a proof"),
        })
        .collect();
    tamper(&mut entries);
    Receipt::new(entries, note)
        .expect("a well-framed receipt")
        .to_text()
        .into_bytes()
}

#[test]
fn verify_proof_accepts_a_true_receipt_and_names_what_is_wrong_with_a_tampered_one() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let log = synth_log(1);
    let trusted = archive(&log, dir.path(), "log.archive");
    let good = write(
        dir.path(),
        "good.receipt",
        &receipt(&log, &[50, 120], |_| {}),
    );

    let (code, out) = audit(&["verify-proof", &good, "--archive", &trusted]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("leaf 50 ("), "{out}");
    assert!(out.contains("leaf 120 ("), "{out}");
    let (code, out) = audit(&["verify-proof", &good, "--archive", &trusted, "--json"]);
    assert_eq!(code, 0, "{out}");
    let report: serde_json::Value = serde_json::from_str(&out).expect("JSON on stdout");
    let size = size_of(log.notes.last().expect("a checkpoint"));
    assert_eq!(report["checkpoint_size"], size);
    assert_eq!(report["origin"], SYNTH_ORIGIN);
    let proved: Vec<u64> = report["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| e[0].as_u64().expect("an index"))
        .collect();
    assert!(proved.contains(&50) && proved.contains(&120), "{report}");
    assert_eq!(
        report["cosigners"].as_array().expect("cosigners").len(),
        2,
        "both synthetic witnesses cosign"
    );
    let key = log_key_b64(&log);
    let (code, out) = audit(&[
        "verify-proof",
        &good,
        "--origin",
        SYNTH_ORIGIN,
        "--log-key",
        &key,
    ]);
    assert_eq!(code, 0, "{out}");

    // Tampered: a byte of a leaf, a hash of a proof, a proof for another index.
    let flipped = receipt(&log, &[50], |e| e[1].leaf[40] ^= 1);
    let bad_proof = receipt(&log, &[50], |e| e[1].proof[0].0[0] ^= 1);
    let moved = receipt(&log, &[50], |e| e[1].index = 51);
    for (name, bytes) in [
        ("flipped.receipt", flipped),
        ("proof.receipt", bad_proof),
        ("moved.receipt", moved),
    ] {
        let path = write(dir.path(), name, &bytes);
        let (code, out) = audit(&["verify-proof", &path, "--archive", &trusted]);
        assert_eq!(code, 1, "{name}: {out}");
        assert!(out.contains("does not verify"), "{name}: {out}");
    }
    // A true receipt of another log: refused, naming the other key.
    let stranger = synth_log(2);
    let elsewhere = archive(&stranger, dir.path(), "other.archive");
    let (code, out) = audit(&["verify-proof", &good, "--archive", &elsewhere]);
    assert_eq!(code, 1, "{out}");
    // The right key but another genesis pinned.
    let (code, out) = audit(&[
        "verify-proof",
        &good,
        "--origin",
        SYNTH_ORIGIN,
        "--log-key",
        &key,
        "--genesis",
        &PublicKey([3; 32]).to_string(),
    ]);
    assert_eq!(code, 1, "{out}");
    // Not a receipt: read, refused.
    let junk = write(dir.path(), "junk.receipt", b"hello\n");
    let (code, out) = audit(&["verify-proof", &junk, "--archive", &trusted]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("is not a receipt"), "{out}");
    // Unreadable: exit 2.
    let missing = text(&dir.path().join("missing.receipt"));
    let (code, out) = audit(&["verify-proof", &missing, "--archive", &trusted]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("missing.receipt"), "{out}");
}

#[test]
fn monitor_has_examples_and_refuses_to_start_without_a_node_it_can_read() {
    let (code, out) = audit(&["monitor", "--help"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("Examples:"), "{out}");
    assert!(out.contains("--metrics"), "{out}");
    assert!(out.contains("testigo_monitor_violations_total"), "{out}");
    let (code, _) = audit(&["monitor", "--key", "k"]);
    assert_eq!(code, 2, "no node is a usage error");

    let dir = tempfile::tempdir().expect("temporary directory");
    let key = text(&dir.path().join("regulator.key"));
    let (code, out) = audit(&["key", "--out", &key]);
    assert_eq!(code, 0, "{out}");
    // A port nothing listens on: the genesis cannot be read, so nothing is followed.
    let free = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", free.local_addr().expect("address"));
    drop(free);
    let evidence = text(&dir.path().join("evidence"));
    let (code, out) = audit(&["monitor", &url, "--key", &key, "--evidence-dir", &evidence]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains(&url), "{out}");
    let (code, out) = audit(&["monitor", &url, "--key", &key, "--genesis", "not-base64"]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("--genesis"), "{out}");
}

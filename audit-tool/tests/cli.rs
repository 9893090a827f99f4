//! The binary's exit codes: 0 verified, 1 does not verify, 2 could not check.

use std::process::Command;

use testigo_ledger::archive::ArchiveWriter;
use testigo_ledger::synth::{Item, SynthConfig, build};

fn audit(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_testigo-audit"))
        .args(args)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    (
        out.status.code().unwrap(),
        format!("{}{stderr}", String::from_utf8_lossy(&out.stdout)),
    )
}

fn archive(dir: &std::path::Path, tamper: bool) -> String {
    let (_, items) = build(SynthConfig::default(), 200);
    let mut w = ArchiveWriter::new(Vec::new()).unwrap();
    for item in items {
        match item {
            Item::Leaf { index, mut leaf } => {
                if tamper && index == 100 {
                    leaf.signature[5] ^= 1;
                }
                w.write_leaf(index, &leaf.to_bytes()).unwrap();
            }
            Item::Checkpoint { note } => w.write_checkpoint(note.as_bytes()).unwrap(),
        }
    }
    let path = dir.join(if tamper {
        "bad.archive"
    } else {
        "good.archive"
    });
    std::fs::write(&path, w.into_inner()).unwrap();
    path.to_string_lossy().into_owned()
}

#[test]
fn exit_codes_say_verified_does_not_verify_or_could_not_check() {
    let dir = tempfile::tempdir().unwrap();
    let good = archive(dir.path(), false);
    let (code, out) = audit(&["replay", "--archive", &good, "--quiet"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("verified"), "{out}");

    let bad = archive(dir.path(), true);
    let (code, out) = audit(&["replay", "--archive", &bad, "--quiet", "--json"]);
    assert_eq!(code, 1, "{out}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["failures"][0]["at"], "leaf");
    assert_eq!(report["failures"][0]["n"], 100);
    assert_eq!(report["failures"][0]["code"], "bad_signature");

    let missing = dir.path().join("missing.archive");
    let (code, _) = audit(&["replay", "--archive", &missing.to_string_lossy(), "--quiet"]);
    assert_eq!(code, 2);
    let (code, _) = audit(&["replay"]);
    assert_eq!(code, 2, "no source is a usage error");
}

#[test]
fn key_creates_an_owner_only_file_and_refuses_to_overwrite_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("regulator.key");
    let path = path.to_string_lossy();
    let (code, out) = audit(&["key", "--out", &path]);
    assert_eq!(code, 0);
    assert!(
        testigo_ledger::PublicKey::from_base64(out.trim()).is_some(),
        "{out}"
    );
    let (code, _) = audit(&["key", "--out", &path]);
    assert_eq!(code, 2);
}

/// The total of a report's `finding_counts`, and the report.
fn findings_in(path: &std::path::Path) -> (u64, serde_json::Value) {
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let findings = json["finding_counts"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    (findings, json)
}

#[test]
fn report_writes_json_and_html_and_its_exit_code_says_whether_there_are_findings() {
    let dir = tempfile::tempdir().unwrap();
    let good = archive(dir.path(), false);
    let out_dir = dir.path().join("reports");
    let out_arg = out_dir.to_string_lossy().into_owned();
    let (code, out) = audit(&["report", "--archive", &good, "--out", &out_arg, "--quiet"]);
    let (findings, json) = findings_in(&out_dir.join("report.json"));
    assert!(
        json["finding_counts"].get("rule_violation").is_none(),
        "{out}"
    );
    assert_eq!(code, if findings > 0 { 3 } else { 0 }, "{out}");
    assert!(out.contains(&format!("{findings} findings")), "{out}");
    let html = std::fs::read_to_string(out_dir.join("report.html")).unwrap();
    assert!(html.contains("<svg"), "the page has its charts");

    // The first subject the log enrols gets its own report, named after its key.
    let (_, items) = build(SynthConfig::default(), 200);
    let subject = items
        .iter()
        .find_map(|item| match item {
            Item::Leaf { leaf, .. } => match leaf.decode_body() {
                Ok(testigo_ledger::entry::Body::EnrollSubject(e)) => Some(e.subject),
                _ => None,
            },
            Item::Checkpoint { .. } => None,
        })
        .expect("the synthetic log enrols subjects");
    let (code, out) = audit(&[
        "subject",
        &subject.to_string(),
        "--archive",
        &good,
        "--out",
        &out_arg,
        "--quiet",
    ]);
    let stem: String = subject.0[..4].iter().map(|b| format!("{b:02x}")).collect();
    assert!(
        out_dir.join(format!("subject-{stem}.html")).exists(),
        "{out}"
    );
    let (findings, _) = findings_in(&out_dir.join(format!("subject-{stem}.json")));
    assert_eq!(code, if findings > 0 { 3 } else { 0 }, "{out}");

    // A leaf that breaks the rules stops the analysis: exit 1.
    let bad = archive(dir.path(), true);
    let (code, out) = audit(&["report", "--archive", &bad, "--out", &out_arg, "--quiet"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("rule_violation: leaf 100"), "{out}");
}

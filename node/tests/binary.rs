//! The `testigo-node` binary itself: it starts on a data directory made by `init` (and refuses
//! one that does not exist), the operator commands
//! talk to it with their documented exit codes, and SIGTERM stops it cleanly, like Ctrl-C.
//! Readiness is the node's own "serving" log line, which also names the ephemeral port; the
//! `listening on` line on stdout comes only once a request is answered.

#![cfg(unix)]

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const NODE: &str = env!("CARGO_BIN_EXE_testigo-node");
const DEADLINE: Duration = Duration::from_secs(60);

fn operator(dir: &std::path::Path, url: &str, args: &[&str]) -> Output {
    Command::new(NODE)
        .arg("operator")
        .arg("--data-dir")
        .arg(dir)
        .args(["--node", url])
        .args(args)
        .output()
        .expect("run the operator command")
}

/// Waits for the child on another thread, so the wait can be bounded without polling.
fn wait(mut child: Child) -> std::process::ExitStatus {
    let (tx, rx) = mpsc::sync_channel(1);
    std::thread::spawn(move || {
        let _ = tx.send(child.wait());
    });
    rx.recv_timeout(DEADLINE)
        .expect("the node exits within the deadline")
        .expect("wait for the node")
}

#[test]
fn the_binary_serves_takes_operator_commands_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let init = Command::new(NODE)
        .arg("init")
        .arg("--data-dir")
        .arg(&data)
        .output()
        .expect("run init");
    assert!(init.status.success(), "{init:?}");
    assert!(String::from_utf8_lossy(&init.stdout).starts_with("log key: "));
    let mut child = Command::new(NODE)
        .arg("run")
        .arg("--data-dir")
        .arg(&data)
        .args(["--http", "127.0.0.1:0", "--batch-max-delay-ms", "5"])
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the node");
    let mut log = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let (tx, rx) = mpsc::sync_channel(1);
    let reader = std::thread::spawn(move || {
        let mut lines = Vec::new();
        let mut sent = false;
        for line in log.by_ref().map_while(Result::ok) {
            if !sent && line.contains("serving") {
                let address = line
                    .split_whitespace()
                    .find_map(|w| w.strip_prefix("address="))
                    .map(|a| a.trim_matches(|c: char| !c.is_ascii_graphic()).to_owned());
                let _ = tx.send(address);
                sent = true;
            }
            lines.push(line);
        }
        lines
    });
    let address = rx
        .recv_timeout(DEADLINE)
        .expect("the node logs that it is serving")
        .expect("the serving line names the address");
    let url = format!("http://{address}");

    let key = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";
    let enrolled = operator(&data, &url, &["enroll-subject", key]);
    assert!(enrolled.status.success(), "{enrolled:?}");
    assert!(
        String::from_utf8_lossy(&enrolled.stdout).starts_with("index "),
        "{enrolled:?}"
    );
    let again = operator(&data, &url, &["enroll-subject", key]);
    assert_eq!(again.status.code(), Some(3), "{again:?}");
    assert!(String::from_utf8_lossy(&again.stderr).contains("already_registered"));
    let usage = operator(
        &data,
        &url,
        &["deposit", "not-a-key", "5", "--reference", "x"],
    );
    assert_eq!(usage.status.code(), Some(2), "{usage:?}");

    let term = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("send SIGTERM");
    assert!(term.success());
    let status = wait(child);
    assert!(
        status.success(),
        "the node stops cleanly on SIGTERM: {status:?}"
    );
    let lines = reader.join().expect("log reader");
    assert!(
        lines.iter().any(|l| l.contains("stopped")),
        "no clean stop in the log:\n{}",
        lines.join("\n")
    );

    // Down: the same command now reports an unreachable node.
    let down = operator(&data, &url, &["enroll-subject", key]);
    assert_eq!(down.status.code(), Some(4), "{down:?}");
}

#[test]
fn run_on_a_data_directory_that_does_not_exist_says_to_init_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mistyped = dir.path().join("mistyped").join("path");
    let run = Command::new(NODE)
        .arg("run")
        .arg("--data-dir")
        .arg(&mistyped)
        .args(["--http", "127.0.0.1:0"])
        .output()
        .expect("run the node");
    assert_eq!(run.status.code(), Some(1), "{run:?}");
    // A node that cannot start never says it is listening.
    assert!(
        !String::from_utf8_lossy(&run.stdout).contains("listening on"),
        "{run:?}"
    );
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.contains("holds no log"), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "testigo-node init --data-dir {}",
            mistyped.display()
        )),
        "{stderr}"
    );
    assert!(
        !dir.path().join("mistyped").exists(),
        "run created a directory"
    );
}

/// `listening on http://ADDR` is printed only once the node answers: a request sent the moment
/// the line appears gets its 200 at once, from a node whose store is open and whose genesis is
/// checkpointed.
#[test]
fn a_request_right_after_the_listening_line_is_answered() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let init = Command::new(NODE)
        .arg("init")
        .arg("--data-dir")
        .arg(&data)
        .output()
        .expect("run init");
    assert!(init.status.success(), "{init:?}");
    let mut child = Command::new(NODE)
        .arg("run")
        .arg("--data-dir")
        .arg(&data)
        .args(["--http", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the node");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let (tx, rx) = mpsc::sync_channel(1);
    std::thread::spawn(move || {
        let _ = tx.send(stdout.next().and_then(Result::ok));
        // Keep reading so the node never blocks on a full pipe.
        for _ in stdout.by_ref() {}
    });
    let line = rx
        .recv_timeout(DEADLINE)
        .expect("the node prints a line within the deadline")
        .expect("a line on stdout");
    let url = line
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("first stdout line: {line:?}"))
        .to_owned();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let answer = runtime.block_on(async {
        let client = testigo_client::Client::new(&url).expect("the printed URL");
        // One attempt, no retry: the node must already be serving.
        tokio::time::timeout(
            Duration::from_secs(10),
            client.send(hyper::Method::GET, "/healthz", &[], Vec::new()),
        )
        .await
        .expect("answered promptly")
        .expect("an answer")
    });
    assert_eq!(answer.status, 200, "{}", answer.text());
    let health: testigo_ledger::api::Health =
        serde_json::from_slice(&answer.body).expect("a health answer");
    assert_eq!(health.status, "ok");
    assert!(
        health.checkpoint_size > 0,
        "the genesis is checkpointed: {health:?}"
    );

    let term = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("send SIGTERM");
    assert!(term.success());
    assert!(wait(child).success());
}

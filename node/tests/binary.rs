//! The `testigo-node` binary itself: it starts on a data directory made by `init` (and refuses
//! one that does not exist), the operator commands
//! talk to it with their documented exit codes, and SIGTERM stops it cleanly, like Ctrl-C.
//! Readiness is the node's own "serving" log line, which also names the ephemeral port.

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

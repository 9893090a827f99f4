//! The node's network limits, tried from outside on loopback (issue: the node under attack):
//! thousands of idle and slow-header connections do not stop normal requests; connections past
//! `max_connections` are closed on arrival while the open ones are served; slow uploads and
//! parallel large batches stay within `max_inflight_body_bytes` (read from the node's own peak
//! gauge); a body that does not arrive in time is `408`, a head that does not arrive closes the
//! connection; requests and event streams past their bounds are `503 busy`.
//!
//! Each test raises its own open-file limit and fails, rather than skips, if it cannot.

use std::time::Duration;

use hyper::Method;
use testigo_client::Answer;
use testigo_ledger::api::ErrorCode;
use testigo_node::Config;
use testigo_tests::cluster::{Options, TestNode};
use testigo_tests::probe::{AnswerExt as _, Probe as _, metric};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// How long any single answer may take before the test fails.
const ANSWER_DEADLINE: Duration = Duration::from_secs(30);

fn raise_fd_limit(needed: u64) {
    let limit = testigo_node::raise_fd_limit().expect("raise the open-file limit");
    if let Some(limit) = limit {
        assert!(
            limit >= needed,
            "this test needs {needed} open files and the hard limit is {limit}: raise it \
             (ulimit -Hn) rather than skip the test"
        );
    }
}

async fn node_with(adjust: fn(&mut Config)) -> TestNode {
    TestNode::start_with(Options {
        adjust,
        ..Options::default()
    })
    .await
}

async fn connect(node: &TestNode) -> TcpStream {
    TcpStream::connect(node.addr).await.expect("connect")
}

/// Everything the node sends on `stream` until it closes it (or the deadline passes).
async fn read_to_close(stream: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    let read = tokio::time::timeout(ANSWER_DEADLINE, stream.read_to_end(&mut out)).await;
    assert!(read.is_ok(), "the node neither answered nor closed in time");
    out
}

/// The status and body of a raw answer.
fn status_and_body(answer: &[u8]) -> (u16, String) {
    let text = String::from_utf8_lossy(answer);
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {text:?}"));
    let body = text
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_owned();
    (status, body)
}

async fn metrics(node: &TestNode) -> String {
    node.client.metrics().await.expect("GET /metrics")
}

/// Waits until the node has accepted `open` connections (its accept loop runs beside the
/// connection that asks), and returns its metrics then.
async fn until_open(node: &TestNode, open: usize) -> String {
    for _ in 0..500 {
        let text = metrics(node).await;
        if metric(&text, "testigo_connections_open") >= open as f64 {
            return text;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the node did not accept {open} connections");
}

#[track_caller]
fn assert_busy(what: &str, answer: &Answer) {
    assert_eq!(answer.status.as_u16(), 503, "{what}: {}", answer.text());
    assert_eq!(answer.error().code, ErrorCode::Busy.as_str(), "{what}");
    assert!(
        answer.headers.contains_key(hyper::header::RETRY_AFTER),
        "{what}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_and_slow_header_connections_do_not_stop_normal_requests() {
    const IDLE: usize = 5_000;
    const SLOW: usize = 500;
    // Both ends of every connection live in this process.
    raise_fd_limit(2 * (IDLE + SLOW) as u64 + 512);
    let node = node_with(|c| c.header_timeout_ms = 120_000).await;
    let mut held = Vec::with_capacity(IDLE + SLOW);
    for _ in 0..IDLE {
        held.push(connect(&node).await);
    }
    for _ in 0..SLOW {
        let mut stream = connect(&node).await;
        stream
            .write_all(b"GET /v1/log HTTP/1.1\r\nHost: testigo\r\nX-Slow: ")
            .await
            .expect("a partial head");
        held.push(stream);
    }
    for round in 0..20 {
        let log = node.client.log().await.expect("GET /v1/log while held");
        assert_eq!(log.origin, testigo_tests::fixtures::ORIGIN, "round {round}");
        node.client.health().await.expect("GET /healthz while held");
    }
    let text = until_open(&node, IDLE + SLOW).await;
    assert_eq!(metric(&text, "testigo_connections_shed_total"), 0.0);
    drop(held);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_past_the_limit_are_closed_on_arrival_and_the_open_ones_served() {
    const LIMIT: usize = 40;
    raise_fd_limit(1_024);
    let node = node_with(|c| {
        c.max_connections = LIMIT;
        c.header_timeout_ms = 120_000;
    })
    .await;
    // The client's own pooled connection is one; fill the rest with idle ones, accepted in
    // order before the metrics request that counts them.
    let mut idle = Vec::new();
    for _ in 0..LIMIT - 1 {
        idle.push(connect(&node).await);
    }
    let text = until_open(&node, LIMIT).await;
    assert_eq!(metric(&text, "testigo_connections_open"), LIMIT as f64);

    let mut past = connect(&node).await;
    past.write_all(b"GET /v1/log HTTP/1.1\r\nHost: testigo\r\nConnection: close\r\n\r\n")
        .await
        .ok();
    let answer = read_to_close(&mut past).await;
    assert!(
        answer.is_empty(),
        "a connection past the limit was answered"
    );

    // An open one is still served.
    let open = &mut idle[0];
    open.write_all(b"GET /v1/log HTTP/1.1\r\nHost: testigo\r\nConnection: close\r\n\r\n")
        .await
        .expect("write on an open connection");
    let (status, body) = status_and_body(&read_to_close(open).await);
    assert_eq!(status, 200, "{body}");
    let text = metrics(&node).await;
    assert!(metric(&text, "testigo_connections_shed_total{reason=\"limit\"}") >= 1.0);
    drop(idle);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_uploads_and_parallel_large_batches_stay_within_the_in_flight_bound() {
    const UPLOADS: usize = 256;
    const BATCHES: usize = 32;
    const BOUND: usize = 64 * 1024 * 1024;
    const BODY: usize = 8 * 1024 * 1024;
    raise_fd_limit(4 * (UPLOADS + BATCHES) as u64 + 512);
    let node = node_with(|c| {
        c.max_inflight_body_bytes = 64 * 1024 * 1024;
        c.max_request_bytes = 8 * 1024 * 1024;
        c.body_timeout_ms = 120_000;
    })
    .await;

    // Slow uploads: an 8 MiB body announced, 256 KiB of it sent, then nothing.
    let chunk = vec![0_u8; 256 * 1024];
    let mut uploads = Vec::with_capacity(UPLOADS);
    for _ in 0..UPLOADS {
        let mut stream = connect(&node).await;
        let head = format!(
            "POST /v1/entries HTTP/1.1\r\nHost: testigo\r\nContent-Type: \
             application/octet-stream\r\nContent-Length: {BODY}\r\n\r\n"
        );
        stream.write_all(head.as_bytes()).await.expect("head");
        // The node may refuse and close while this is sent: that is what is tested.
        let _ = stream.write_all(&chunk).await;
        uploads.push(stream);
    }

    // Parallel 8 MiB JSON batches of empty strings (once 31 MiB each to parse).
    let mut body = String::from("{\"leaves\":[");
    while body.len() + 4 < BODY - 2 {
        body.push_str("\"\",");
    }
    body.pop();
    body.push_str("]}");
    let body = body.into_bytes();
    let json = [("content-type", "application/json")];
    let sends = (0..BATCHES).map(|_| {
        node.client
            .send(Method::POST, "/v1/entries", &json, body.clone())
    });
    for answer in futures::future::join_all(sends).await {
        let answer = answer.expect("an answer to a large batch");
        let code = answer.error().code;
        assert!(
            code == ErrorCode::Busy.as_str() || code == ErrorCode::BadRequest.as_str(),
            "a large batch got {} {code}",
            answer.status
        );
    }
    let text = metrics(&node).await;
    let peak = metric(&text, "testigo_inflight_body_bytes_peak");
    assert!(peak > 0.0, "nothing was charged");
    assert!(
        peak <= BOUND as f64,
        "in-flight peak {peak} over the bound {BOUND}"
    );
    assert!(metric(&text, "testigo_requests_shed_total{reason=\"body_bytes\"}") >= 1.0);

    // Once the uploads are gone, a large batch is read whole and stops parsing at the bound.
    drop(uploads);
    let mut answer = None;
    for _ in 0..100 {
        let a = node
            .client
            .send(Method::POST, "/v1/entries", &json, body.clone())
            .await
            .expect("an answer");
        if a.status.as_u16() != 503 {
            answer = Some(a);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let answer = answer.expect("the budget came back after the uploads closed");
    assert_eq!(answer.status.as_u16(), 400, "{}", answer.text());
    assert!(
        answer.error().message.contains("at most"),
        "{}",
        answer.text()
    );
    let text = metrics(&node).await;
    assert!(metric(&text, "testigo_inflight_body_bytes_peak") <= BOUND as f64);
    node.client.health().await.expect("healthy after the flood");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_late_is_408_and_a_head_late_closes_the_connection() {
    let node = node_with(|c| {
        c.body_timeout_ms = 300;
        c.header_timeout_ms = 300;
    })
    .await;
    let mut stream = connect(&node).await;
    stream
        .write_all(
            b"POST /v1/entries HTTP/1.1\r\nHost: testigo\r\nContent-Type: application/json\r\n\
              Content-Length: 1000\r\n\r\n{\"leaf\":",
        )
        .await
        .expect("a partial body");
    let (status, body) = status_and_body(&read_to_close(&mut stream).await);
    assert_eq!(status, 408, "{body}");
    assert!(body.contains("\"request_timeout\""), "{body}");

    let mut stream = connect(&node).await;
    stream
        .write_all(b"GET /v1/log HTTP/1.1\r\nHost: tes")
        .await
        .expect("a partial head");
    let answer = read_to_close(&mut stream).await;
    assert!(
        !String::from_utf8_lossy(&answer).contains("200 OK"),
        "a partial head was answered"
    );
    let text = metrics(&node).await;
    assert_eq!(
        metric(
            &text,
            "testigo_requests_shed_total{reason=\"body_timeout\"}"
        ),
        1.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_and_event_streams_past_their_bounds_are_busy() {
    let node = node_with(|c| {
        c.max_concurrent_requests = 4;
        c.max_event_streams = 2;
        c.body_timeout_ms = 120_000;
    })
    .await;
    // Two event streams hold their slots; a third is refused.
    let mut held_streams = Vec::new();
    for _ in 0..2 {
        let mut s = connect(&node).await;
        s.write_all(b"GET /v1/events HTTP/1.1\r\nHost: testigo\r\n\r\n")
            .await
            .expect("an event stream request");
        let mut first = [0_u8; 12];
        tokio::time::timeout(ANSWER_DEADLINE, s.read_exact(&mut first))
            .await
            .expect("the stream's head in time")
            .expect("the stream's head");
        assert_eq!(&first, b"HTTP/1.1 200");
        held_streams.push(s);
    }
    let mut third = connect(&node).await;
    third
        .write_all(b"GET /v1/events HTTP/1.1\r\nHost: testigo\r\nConnection: close\r\n\r\n")
        .await
        .expect("a third stream");
    let (status, body) = status_and_body(&read_to_close(&mut third).await);
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("\"busy\""), "{body}");

    // Four uploads that stall hold the four request slots; the next request is busy.
    let mut uploads = Vec::new();
    for _ in 0..4 {
        let mut s = connect(&node).await;
        s.write_all(
            b"POST /v1/entries HTTP/1.1\r\nHost: testigo\r\nContent-Type: application/json\r\n\
              Content-Length: 100\r\n\r\n{",
        )
        .await
        .expect("a stalled upload");
        uploads.push(s);
    }
    // The node does not announce that it has taken the stalled uploads (nor, below, that it
    // has let them go), so try until it answers as expected, bounded by the answer deadline: a
    // loaded 2-core machine can take seconds to get to them.
    let refused = tokio::time::timeout(ANSWER_DEADLINE, async {
        loop {
            let answer = node.client.get("/v1/log").await;
            if answer.status.as_u16() == 503 {
                return answer;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("a fifth request refused while four are in flight");
    assert_busy("a fifth request", &refused);
    drop(uploads);
    tokio::time::timeout(ANSWER_DEADLINE, async {
        while node.client.get("/v1/log").await.status.as_u16() != 200 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("requests are served again once the uploads are gone");
    let text = metrics(&node).await;
    assert!(metric(&text, "testigo_requests_shed_total{reason=\"requests\"}") >= 1.0);
    assert!(
        metric(
            &text,
            "testigo_requests_shed_total{reason=\"event_streams\"}"
        ) >= 1.0
    );
    drop(held_streams);
}

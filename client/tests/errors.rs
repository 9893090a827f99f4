//! How the client types what goes wrong, against scripted servers on loopback: each answers
//! one fixed HTTP response (or nothing), so every error class is produced for real.

use std::time::Duration;

use testigo_client::{Client, ClientError, Options, Retry};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;

/// A server on 127.0.0.1 that answers every connection with `response` (after reading the
/// request head), or holds it open without answering when `response` is `None`.
async fn scripted(response: Option<&'static str>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                match response {
                    Some(text) => {
                        let _ = socket.write_all(text.as_bytes()).await;
                    }
                    None => {
                        // Hold the connection until the client gives up.
                        let _ = socket.read(&mut buf).await;
                    }
                }
            });
        }
    });
    url
}

fn http(status: &str, headers: &str, body: &str) -> &'static str {
    Box::leak(
        format!(
            "HTTP/1.1 {status}\r\ncontent-length: {}\r\n{headers}connection: close\r\n\r\n{body}",
            body.len()
        )
        .into_boxed_str(),
    )
}

#[tokio::test]
async fn a_busy_node_is_retryable_with_its_retry_after() {
    let url = scripted(Some(http(
        "503 Service Unavailable",
        "retry-after: 3\r\ncontent-type: application/json\r\n",
        r#"{"code":"queue_full","message":"the sequencer queue is full","details":null}"#,
    )))
    .await;
    let error = Client::new(&url).unwrap().log().await.unwrap_err();
    assert!(error.is_retryable());
    assert_eq!(error.code(), Some("queue_full"));
    assert_eq!(
        error.error_code(),
        Some(testigo_ledger::api::ErrorCode::QueueFull)
    );
    match error {
        ClientError::Retryable {
            reason: Retry::Busy { .. },
            retry_after,
            ..
        } => assert_eq!(retry_after, Some(Duration::from_secs(3))),
        other => panic!("expected busy, got {other:?}"),
    }
}

#[tokio::test]
async fn a_refusal_carries_the_nodes_code_and_details() {
    let url = scripted(Some(http(
        "402 Payment Required",
        "content-type: application/json\r\n",
        r#"{"code":"insufficient_funds","message":"balance 0 does not cover price 5","details":{"balance":0,"price":5}}"#,
    )))
    .await;
    match Client::new(&url).unwrap().log().await.unwrap_err() {
        ClientError::Refused { status, error } => {
            assert_eq!((status, error.code.as_str()), (402, "insufficient_funds"));
            assert_eq!(error.details["price"], 5);
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn an_answer_that_is_not_the_api_is_a_protocol_error() {
    let url = scripted(Some(http("200 OK", "", "<html>a captive portal</html>"))).await;
    let error = Client::new(&url).unwrap().log().await.unwrap_err();
    assert!(
        matches!(error, ClientError::Protocol { status: 200, .. }),
        "{error:?}"
    );
    let url = scripted(Some(http("500 Internal Server Error", "", "oops"))).await;
    let error = Client::new(&url).unwrap().log().await.unwrap_err();
    assert!(
        matches!(error, ClientError::Protocol { status: 500, .. }),
        "{error:?}"
    );
    assert!(!error.is_retryable());
}

#[tokio::test]
async fn an_answer_over_the_limit_is_refused_unread() {
    let big = "x".repeat(4096);
    let url = scripted(Some(http("200 OK", "", &big))).await;
    let options = Options {
        max_answer_bytes: 1024,
        ..Options::default()
    };
    let error = Client::with_options(&url, options)
        .unwrap()
        .metrics()
        .await
        .unwrap_err();
    assert!(
        matches!(&error, ClientError::Protocol { message, .. } if message.contains("1024")),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_silent_node_times_out_and_a_closed_port_is_unreachable() {
    let url = scripted(None).await;
    let options = Options {
        timeout: Duration::from_millis(200),
        ..Options::default()
    };
    let error = Client::with_options(&url, options)
        .unwrap()
        .log()
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            ClientError::Retryable {
                reason: Retry::Timeout(_),
                ..
            }
        ),
        "{error:?}"
    );

    // A port that was just free: nothing listens there.
    let port = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let error = Client::new(&format!("http://127.0.0.1:{port}"))
        .unwrap()
        .log()
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            ClientError::Retryable {
                reason: Retry::Unreachable(_),
                ..
            }
        ),
        "{error:?}"
    );
}

#[test]
fn only_a_scheme_and_an_authority_make_a_node_url() {
    for good in [
        "http://127.0.0.1:7700",
        "https://node.example",
        "http://[::1]:7700/",
    ] {
        assert!(Client::new(good).is_ok(), "{good}");
    }
    for bad in [
        "127.0.0.1:7700",
        "ftp://node",
        "http://node/v1",
        "http://node?x=1",
        "not a url",
    ] {
        assert!(
            matches!(Client::new(bad), Err(ClientError::Config(_))),
            "{bad}"
        );
    }
    let options = Options {
        extra_roots_pem: vec![b"not a certificate".to_vec()],
        ..Options::default()
    };
    assert!(matches!(
        Client::with_options("https://node.example", options),
        Err(ClientError::Config(_))
    ));
}

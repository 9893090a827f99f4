//! HTTPS served by the node itself: a node started with a self-signed certificate (made here
//! with rcgen) answers `GET /v1/log` to `testigo-client` trusting only that certificate, refuses
//! a client that does not trust it and plain HTTP on its port, and certificate files that cannot
//! be used stop the start with a message naming the file.

use std::time::Duration;

use testigo_client::{Client, ClientError, Options, Retry};
use testigo_node::{Config, GenesisParams, KeyFile, NodeError, TlsFiles};
use tokio::net::TcpListener;

const DEADLINE: Duration = Duration::from_secs(60);

/// A data directory with a log, and a self-signed certificate for `localhost` and `127.0.0.1`
/// in PEM files.
struct Fixture {
    dir: tempfile::TempDir,
    config: Config,
    cert_pem: String,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let rcgen::CertifiedKey { cert, signing_key } =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .unwrap();
    let files = TlsFiles {
        cert: dir.path().join("cert.pem"),
        key: dir.path().join("key.pem"),
    };
    std::fs::write(&files.cert, cert.pem()).unwrap();
    std::fs::write(&files.key, signing_key.serialize_pem()).unwrap();
    let config = Config {
        data_dir: dir.path().join("data"),
        batch_max_delay_ms: 5,
        tls: Some(files),
        ..Config::default()
    };
    let key = KeyFile::from_key(ed25519_dalek::SigningKey::from_bytes(&[9; 32]));
    testigo_node::datadir::init_with_key(&config, &GenesisParams::default(), key).unwrap();
    Fixture {
        dir,
        config,
        cert_pem: cert.pem(),
    }
}

fn client(url: &str, roots: Vec<Vec<u8>>) -> Client {
    let options = Options {
        timeout: DEADLINE,
        extra_roots_pem: roots,
        ..Options::default()
    };
    Client::with_options(url, options).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_node_serves_its_api_over_https_and_stops_cleanly() {
    let Fixture {
        dir: _dir,
        config,
        cert_pem,
    } = fixture();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let node = tokio::spawn(testigo_node::run(config, listener, async {
        let _ = stopped.await;
    }));
    // The socket is bound already; the node serves once its genesis is checkpointed, so this
    // request waits in the backlog until then (a readiness signal, not a poll).
    let trusting = client(
        &format!("https://127.0.0.1:{port}"),
        vec![cert_pem.into_bytes()],
    );
    let log = trusting.log().await.expect("the node answers over HTTPS");
    assert_eq!(log.origin, GenesisParams::default().origin);
    let note = trusting
        .checkpoint()
        .await
        .expect("and serves its checkpoint");
    assert!(note.starts_with(&log.origin), "{note}");

    // A client that does not trust the certificate gets nothing: the handshake fails.
    let untrusting = client(&format!("https://127.0.0.1:{port}"), Vec::new());
    let refused = untrusting
        .log()
        .await
        .expect_err("an untrusted certificate");
    assert!(
        matches!(&refused, ClientError::Retryable { reason: Retry::Unreachable(why), .. }
            if why.contains("certificate")),
        "{refused:?}"
    );
    // Plain HTTP on the TLS port gets no answer.
    let plain = client(&format!("http://127.0.0.1:{port}"), Vec::new());
    let refused = plain.log().await.expect_err("plain HTTP on the TLS port");
    assert!(
        matches!(
            refused,
            ClientError::Retryable { .. } | ClientError::Protocol { .. }
        ),
        "{refused:?}"
    );

    stop.send(()).unwrap();
    tokio::time::timeout(DEADLINE, node)
        .await
        .expect("the node stops within the deadline")
        .unwrap()
        .expect("the node stops cleanly");
}

#[tokio::test]
async fn unusable_certificate_files_stop_the_start_naming_the_file() {
    let Fixture { dir, config, .. } = fixture();
    let files = config.tls.clone().unwrap();
    let start = |tls: TlsFiles| {
        let config = Config {
            tls: Some(tls),
            ..config.clone()
        };
        async move {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            testigo_node::run(config, listener, std::future::pending())
                .await
                .expect_err("the node must not start")
        }
    };
    let missing = dir.path().join("missing.pem");
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "not a certificate\n").unwrap();
    let cases = [
        (
            TlsFiles {
                cert: missing.clone(),
                key: files.key.clone(),
            },
            format!("cannot read TLS certificate {}", missing.display()),
        ),
        (
            TlsFiles {
                cert: garbage.clone(),
                key: files.key.clone(),
            },
            format!(
                "TLS certificate {}: holds no PEM CERTIFICATE",
                garbage.display()
            ),
        ),
        (
            TlsFiles {
                cert: files.cert.clone(),
                key: garbage.clone(),
            },
            format!("TLS key {}: no PEM private key", garbage.display()),
        ),
        (
            // The certificate's own file as its key: PEM, but no key in it.
            TlsFiles {
                cert: files.cert.clone(),
                key: files.cert.clone(),
            },
            format!("TLS key {}", files.cert.display()),
        ),
    ];
    for (tls, expected) in cases {
        let error = start(tls).await;
        assert!(matches!(error, NodeError::Tls(_)), "{error}");
        assert!(
            error.to_string().contains(&expected),
            "{error} (expected {expected:?})"
        );
    }
}

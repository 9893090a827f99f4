//! HTTPS served by the node itself: a node started with a self-signed certificate (made here
//! with rcgen) answers `GET /v1/log` to a rustls client that trusts only that certificate, and
//! certificate files that cannot be used stop the start with a message naming the file.

use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt as _, Empty};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use rustls_pki_types::ServerName;
use testigo_ledger::api::LogInfo;
use testigo_node::{Config, GenesisParams, KeyFile, NodeError, TlsFiles};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsConnector;

const DEADLINE: Duration = Duration::from_secs(60);

/// A data directory with a log, and a self-signed certificate for `localhost` in PEM files.
struct Fixture {
    dir: tempfile::TempDir,
    config: Config,
    cert_der: Vec<u8>,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let rcgen::CertifiedKey { cert, signing_key } =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
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
        cert_der: cert.der().to_vec(),
    }
}

/// `GET path` over TLS to `addr`, trusting only `cert_der`, as `localhost`.
async fn https_get(addr: std::net::SocketAddr, cert_der: &[u8], path: &str) -> (u16, Vec<u8>) {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls_pki_types::CertificateDer::from(cert_der.to_vec()))
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let client = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = TcpStream::connect(addr).await.unwrap();
    let tls = TlsConnector::from(Arc::new(client))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .expect("TLS handshake with the node's certificate");
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .unwrap();
    tokio::spawn(connection);
    let request = hyper::Request::get(path)
        .header(hyper::header::HOST, "localhost")
        .body(Empty::<Bytes>::new())
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, body.to_vec())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_node_serves_its_api_over_https_and_stops_cleanly() {
    let Fixture {
        dir: _dir,
        config,
        cert_der,
    } = fixture();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let node = tokio::spawn(testigo_node::run(config, listener, async {
        let _ = stopped.await;
    }));
    // The socket is bound already; the node serves once its genesis is checkpointed, so this
    // request waits in the backlog until then (a readiness signal, not a poll).
    let (status, body) = tokio::time::timeout(DEADLINE, https_get(addr, &cert_der, "/v1/log"))
        .await
        .expect("the node answers over HTTPS within the deadline");
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let log: LogInfo = serde_json::from_slice(&body).unwrap();
    assert_eq!(log.origin, GenesisParams::default().origin);

    // Plain HTTP on the TLS port gets no answer.
    let plain = tokio::time::timeout(DEADLINE, async {
        let tcp = TcpStream::connect(addr).await.unwrap();
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
            .await
            .unwrap();
        tokio::spawn(connection);
        let request = hyper::Request::get("/v1/log")
            .header(hyper::header::HOST, "localhost")
            .body(Empty::<Bytes>::new())
            .unwrap();
        sender.send_request(request).await
    })
    .await
    .expect("the plain request ends within the deadline");
    assert!(plain.is_err(), "plain HTTP was answered on the TLS port");

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

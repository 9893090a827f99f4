//! HTTPS served by the node itself (`run --tls-cert FILE --tls-key FILE`, PEM): rustls on the
//! ring provider. This module makes the acceptor from the PEM files; [`crate::serve`] runs one
//! tokio-rustls handshake per connection, then the same router as plain HTTP.

use std::path::Path;
use std::sync::Arc;

use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

use crate::config::TlsFiles;

/// Why the certificate or key cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The file cannot be read.
    #[error("cannot read TLS {what} {path}: {source}")]
    Read {
        /// `certificate` or `key`.
        what: &'static str,
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not what it should be.
    #[error("TLS {what} {path}: {reason}")]
    Invalid {
        /// `certificate` or `key`.
        what: &'static str,
        /// The file.
        path: std::path::PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// rustls refuses the pair (e.g. the key is not the certificate's).
    #[error("TLS certificate {cert} with key {key}: {reason}")]
    Pair {
        /// The certificate file.
        cert: std::path::PathBuf,
        /// The key file.
        key: std::path::PathBuf,
        /// rustls's reason.
        reason: String,
    },
}

fn read(what: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        what,
        path: path.to_owned(),
        source,
    })
}

/// Reads the PEM certificate chain (leaf first) and private key into a TLS acceptor.
///
/// # Errors
/// [`TlsError`] naming the file that cannot be read or parsed, or the pair that does not match.
pub fn acceptor(files: &TlsFiles) -> Result<TlsAcceptor, TlsError> {
    let invalid = |what, path: &Path, reason: String| TlsError::Invalid {
        what,
        path: path.to_owned(),
        reason,
    };
    let pem = read("certificate", &files.cert)?;
    let chain = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid("certificate", &files.cert, format!("not PEM: {e}")))?;
    if chain.is_empty() {
        return Err(invalid(
            "certificate",
            &files.cert,
            "holds no PEM CERTIFICATE block".into(),
        ));
    }
    let pem = read("key", &files.key)?;
    let key = PrivateKeyDer::from_pem_slice(&pem).map_err(|e| {
        invalid(
            "key",
            &files.key,
            format!("no PEM private key (PKCS#8, PKCS#1 or SEC1): {e}"),
        )
    })?;
    let pair = |e: rustls::Error| TlsError::Pair {
        cert: files.cert.clone(),
        key: files.key.clone(),
        reason: e.to_string(),
    };
    // The provider is named here rather than installed process-wide, so no other crate's choice
    // (or a missing default) can change what the node serves with.
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(pair)?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(pair)?;
    // The router is served over HTTP/1.1 only, so that is all ALPN offers.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

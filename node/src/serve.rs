//! The accept loop, for plain HTTP and HTTPS alike, with the limits that protect the node before a
//! request exists (DESIGN §7, "Reads and limits"):
//!
//! - **Open connections** are at most `max_connections`. One beyond is accepted and closed at
//!   once (`testigo_connections_shed_total{reason="limit"}`), so it costs a file descriptor for
//!   an instant and the connections already open keep being served.
//! - **At the file-descriptor limit** `accept` fails with `EMFILE`; the connection would wait in
//!   the kernel's backlog and the loop would spin. The loop keeps one spare descriptor open; on
//!   `EMFILE` it closes the spare, accepts the waiting connection, closes it, and opens the spare
//!   again (`reason="fd"`). New clients are told at once, the open connections keep their
//!   descriptors.
//! - **Slow headers**: hyper's header read timeout, started when the connection opens, closes a
//!   connection that has not sent a whole request head in time (slowloris), and with it a
//!   connection that opens and sends nothing. The TLS handshake has its own timeout.
//!
//! Requests, bodies and their memory are bounded one layer up, in [`crate::api::limits`].
//! On shutdown the listener closes and open connections finish their requests (event streams
//! end on the node's stop signal) before [`serve`] returns.

use std::fs::File;
use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;

use crate::metrics::Metrics;

/// A client that opens a connection and never finishes its TLS handshake holds a task and a
/// socket; this bounds how long.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long the loop waits after an accept error that is not the descriptor limit (a connection
/// reset before it was accepted, out of memory), so it cannot spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(20);

/// Connection-level limits, from the node's configuration.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ConnectionLimits {
    /// Most connections open at once.
    pub(crate) max_connections: usize,
    /// Time a connection has to send a whole request head, from when it opens.
    pub(crate) header_timeout: Duration,
}

/// Serves `router` on `listener` (over TLS when `tls` is given) until `shutdown` resolves, then
/// waits for the open connections to finish.
///
/// # Errors
/// None so far: failed accepts and handshakes concern one client and are logged and counted;
/// the result keeps the signature `node::run` expects of a server.
pub(crate) async fn serve(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    router: Router,
    limits: ConnectionLimits,
    metrics: Arc<Metrics>,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let graceful = GracefulShutdown::new();
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let mut spare = open_spare();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let (tcp, peer) = match accepted {
            Ok(pair) => pair,
            Err(e) if is_fd_limit(&e) => {
                shed_at_fd_limit(&listener, &mut spare, &metrics).await;
                continue;
            }
            Err(e) => {
                tracing::debug!(error = %e, "accepting a connection failed");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            metrics.limits.connection_shed("limit");
            tracing::debug!(%peer, limit = limits.max_connections, "connection limit: shed");
            drop(tcp);
            continue;
        };
        // Counted here, in accept order, and uncounted when its task ends.
        let open = metrics.limits.connection_opened();
        let service = TowerToHyperService::new(router.clone());
        let watcher = graceful.watcher();
        let tls = tls.clone();
        tokio::spawn(async move {
            let _open = open;
            let _slot = slot;
            let mut http = hyper::server::conn::http1::Builder::new();
            http.timer(TokioTimer::new())
                .header_read_timeout(limits.header_timeout);
            let served = match tls {
                None => watcher.watch(http.serve_connection(io(tcp), service)).await,
                Some(acceptor) => {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                        Ok(Ok(stream)) => {
                            watcher
                                .watch(http.serve_connection(io(stream), service))
                                .await
                        }
                        Ok(Err(e)) => {
                            tracing::debug!(%peer, error = %e, "TLS handshake failed");
                            return;
                        }
                        Err(_) => {
                            tracing::debug!(%peer, "TLS handshake timed out");
                            return;
                        }
                    }
                }
            };
            if let Err(e) = served {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

fn io<S: AsyncRead + AsyncWrite + Unpin>(stream: S) -> TokioIo<S> {
    TokioIo::new(stream)
}

/// `EMFILE` (this process) or `ENFILE` (the whole system).
fn is_fd_limit(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(23 | 24))
}

/// The descriptor kept in reserve for [`shed_at_fd_limit`].
fn open_spare() -> Option<File> {
    File::open("/dev/null").ok()
}

/// At the descriptor limit: frees the spare, accepts the waiting connection and closes it, then
/// takes the spare back. Without a spare (it could not be reopened), waits briefly instead.
async fn shed_at_fd_limit(listener: &TcpListener, spare: &mut Option<File>, metrics: &Metrics) {
    metrics.limits.connection_shed("fd");
    if spare.take().is_none() {
        tracing::warn!("at the file-descriptor limit with no spare descriptor: new clients wait");
        tokio::time::sleep(ACCEPT_BACKOFF).await;
        *spare = open_spare();
        return;
    }
    // The connection waiting in the backlog is ready, so this does not block.
    let shed: Option<TcpStream> =
        match tokio::time::timeout(ACCEPT_BACKOFF, listener.accept()).await {
            Ok(Ok((tcp, peer))) => {
                tracing::debug!(%peer, "file-descriptor limit: shed");
                Some(tcp)
            }
            _ => None,
        };
    drop(shed);
    *spare = open_spare();
}

/// Raises this process's soft limit on open files to its hard limit (the node holds one
/// descriptor per connection), and returns the limit now in force; `None` for no limit.
///
/// # Errors
/// The operating system's, if the limit cannot be read or set.
pub fn raise_fd_limit() -> io::Result<Option<u64>> {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    if limit.current != limit.maximum {
        limit.current = limit.maximum;
        setrlimit(Resource::Nofile, limit).map_err(io::Error::from)?;
    }
    Ok(getrlimit(Resource::Nofile).current)
}

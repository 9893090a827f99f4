//! A TCP relay on loopback that a test can cut and heal: a network partition between two real
//! nodes without a hook in either. A node dials the relay's address instead of its peer's; while
//! the relay is cut, every connection through it is closed at once and new ones are closed as
//! soon as they are accepted, as a dead link would (libp2p sees its connections drop and its
//! redials fail); once healed, connections go through again.

use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// A relay to one address.
#[derive(Debug)]
pub struct Relay {
    addr: SocketAddr,
    open: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Relay {
    /// Relays `127.0.0.1:PORT` (a fresh port) to `target`, open.
    pub async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the relay");
        let addr = listener.local_addr().expect("relay address");
        let (open, watching) = watch::channel(true);
        let task = tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                if !*watching.borrow() {
                    drop(inbound);
                    continue;
                }
                tokio::spawn(relay(inbound, target, watching.clone()));
            }
        });
        Self { addr, open, task }
    }

    /// Where to dial.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The relay's address as a libp2p multiaddr (`/ip4/127.0.0.1/tcp/PORT`).
    pub fn multiaddr(&self) -> String {
        format!("/ip4/{}/tcp/{}", self.addr.ip(), self.addr.port())
    }

    /// Cuts the link: open connections close, new ones are refused.
    pub fn cut(&self) {
        self.open.send_replace(false);
    }

    /// Heals it.
    pub fn heal(&self) {
        self.open.send_replace(true);
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn relay(mut inbound: TcpStream, target: SocketAddr, mut open: watch::Receiver<bool>) {
    let Ok(mut outbound) = TcpStream::connect(target).await else {
        return;
    };
    tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
        _ = open.wait_for(|open| !*open) => {}
    }
}

/// The TCP port of a `/ip4/A/tcp/PORT` multiaddr.
pub fn multiaddr_port(addr: &str) -> u16 {
    addr.rsplit('/')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no TCP port at the end of {addr}"))
}

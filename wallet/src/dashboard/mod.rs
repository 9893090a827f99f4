//! `testigo-wallet dashboard`: the customer's page (issue 13), served by this wallet process on
//! loopback. It shows the verified history live (each access with the checkpoint and witnesses
//! it was verified against), the balance, earnings and claims, charts over time, alerts (an
//! access no consent of mine allows, a lying node, a split view), and controls: grant a consent,
//! revoke one in one click, claim. English and Spanish.
//!
//! The key is opened once, from the terminal's passphrase prompt (or the wallet's passphrase
//! file or environment variable), and stays in this process: the browser only ever sees HTML
//! rendered from verified data, and asks for actions the wallet then signs. See [`web`] for the
//! session token, CSRF protection and limits, [`live`] for how the log is followed.

mod alerts;
mod charts;
mod i18n;
mod live;
mod page;
mod web;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use ed25519_dalek::SigningKey;
use testigo_client::{Client, Signer};

use crate::error::{Result, WalletError};
use crate::state::WalletState;

/// Decodes a form body the browser posts (`application/x-www-form-urlencoded`), repeated names
/// kept in order; never fails (bad escapes are kept as they are). Public for the fuzz target.
pub fn parse_form(bytes: &[u8]) -> Vec<(String, String)> {
    web::parse_form(bytes)
}

/// A running dashboard; dropping it stops it.
#[derive(Debug)]
pub struct Dashboard {
    addr: SocketAddr,
    token: String,
    server: tokio::task::JoinHandle<()>,
    follower: tokio::task::JoinHandle<()>,
}

impl Drop for Dashboard {
    fn drop(&mut self) {
        self.server.abort();
        self.follower.abort();
    }
}

fn random_token() -> Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| WalletError::local("drawing a session token from the OS", e))?;
    Ok(hex::encode(bytes))
}

impl Dashboard {
    /// Opens the wallet in `dir`, starts following the log through `nodes` (the saved nodes
    /// when empty) and serves the page on `127.0.0.1:port` (`0`: an ephemeral port). Returns
    /// once it listens; the first verified sync runs in the background.
    ///
    /// # Errors
    /// [`WalletError::Local`] for a missing or broken wallet, [`WalletError::Usage`] for a bad
    /// node URL or a port already taken.
    pub async fn start(dir: PathBuf, key: SigningKey, nodes: &[String], port: u16) -> Result<Self> {
        let state = WalletState::load(&dir)?;
        let params = state.params()?;
        let nodes = if nodes.is_empty() {
            state.nodes.clone()
        } else {
            nodes.to_vec()
        };
        if nodes.is_empty() {
            return Err(WalletError::Usage("no node: give --node URL".into()));
        }
        let clients = nodes
            .iter()
            .map(|url| {
                Client::new(url)
                    .map(|c| c.with_signer(Signer::new(key.clone())))
                    .map_err(|e| WalletError::Usage(format!("--node {url}: {e}")))
            })
            .collect::<Result<Vec<_>>>()?;
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, port))
            .await
            .map_err(|e| WalletError::Usage(format!("cannot listen on 127.0.0.1:{port}: {e}")))?;
        let addr = listener
            .local_addr()
            .map_err(|e| WalletError::local("the dashboard's address", e))?;
        let token = random_token()?;
        let csrf = random_token()?;
        let core = Arc::new(live::Core::new(dir, state, params, key, clients));
        let web = Arc::new(web::Web::new(
            core.clone(),
            token.clone(),
            csrf,
            addr.port(),
        ));
        let app = web::router(web);
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        let follower = tokio::spawn(core.follow());
        Ok(Self {
            addr,
            token,
            server,
            follower,
        })
    }

    /// The address it listens on (always loopback).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The URL to open: it carries the session token, which the page swaps for a cookie.
    pub fn url(&self) -> String {
        format!("http://{}/?token={}", self.addr, self.token)
    }

    /// The same URL with the page in `lang` (`en` or `es`).
    pub fn url_in(&self, lang: &str) -> String {
        format!("{}&lang={lang}", self.url())
    }
}

/// `testigo-wallet dashboard`: opens the key (passphrase from the terminal, or the wallet's
/// passphrase file or environment variable), serves until Ctrl-C.
pub(crate) async fn run(ctx: &mut crate::Ctx<'_>, args: &crate::cli::DashboardArgs) -> Result<()> {
    WalletState::load(&ctx.dir)?;
    let key = ctx.key()?;
    let dashboard = Dashboard::start(ctx.dir.clone(), key, &ctx.global.nodes, args.port).await?;
    if ctx.global.json {
        ctx.json(&serde_json::json!({
            "url": dashboard.url(),
            "address": dashboard.addr().to_string(),
        }))?;
    } else {
        ctx.out(&format!(
            "Dashboard: open {}\n(only this browser session can use it; Ctrl-C stops it)\n",
            dashboard.url()
        ))?;
    }
    tokio::signal::ctrl_c()
        .await
        .map_err(|e| WalletError::local("waiting for Ctrl-C", e))?;
    drop(dashboard);
    ctx.note("dashboard stopped");
    Ok(())
}

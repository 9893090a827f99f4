//! `watch`: each new access to the customer's data, printed as soon as a checkpoint covering it
//! is witnessed (on a log without witnesses: checkpointed), and only after the whole chain of
//! trust verified it (the same `sync` as every command).
//!
//! The wallet subscribes to the node's event stream (`GET /v1/events`, `docs/PROTOCOL.md` §10
//! and §13) *before* syncing, so no checkpoint published between the two is missed; each
//! `witnessed` event triggers a sync. When the stream breaks (the node restarts, the network
//! drops) it reconnects with a bounded backoff and syncs at once, so accesses logged while it
//! was away are printed too. A node that fails verification ends the watch (exit 6): nothing
//! unverified is ever printed.

use std::time::Duration;

use serde_json::json;
use testigo_client::{Client, ClientError, Events};
use testigo_ledger::entry::Body;

use crate::Ctx;
use crate::cli::WatchArgs;
use crate::cmd::view::Row;
use crate::error::{Result, WalletError};
use crate::format;
use crate::state::WalletState;
use crate::sync::sync as contact_nodes;

/// First wait before reconnecting; doubled after each failure up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// Longest wait between reconnection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// `watch [--count N]`.
pub(crate) async fn watch(ctx: &mut Ctx<'_>, args: &WatchArgs) -> Result<()> {
    let mut state = WalletState::load(&ctx.dir)?;
    let params = state.params()?;
    // The key is opened once: scrypt costs about a second, which a watch must not pay per event.
    let key = ctx.key()?;
    let clients = ctx.clients(&state.nodes, &key)?;
    let witnessed = params.quorum > 0;
    let me = state.account;
    // The newest history index already shown (or there when the watch began).
    let mut seen: Option<u64> = None;
    let mut printed = 0u64;
    let mut backoff = FIRST_BACKOFF;
    loop {
        let mut events = match subscribe(&clients[0]).await {
            Ok(events) => events,
            Err(e) => {
                ctx.note(&format!(
                    "cannot reach {} ({e}); trying again in {} ms",
                    clients[0].base(),
                    backoff.as_millis()
                ));
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
        };
        backoff = FIRST_BACKOFF;
        let mut announce = true;
        // Subscribed first, synced second: a checkpoint published in between is in the stream.
        loop {
            let now = ctx.now();
            match contact_nodes(&ctx.dir, &mut state, &params, &clients, now).await {
                Ok(synced) => {
                    if announce {
                        ctx.note(&format!(
                            "{} {}: watching for new accesses to your data ({} history entries verified at checkpoint {})",
                            if seen.is_none() { "connected to" } else { "reconnected to" },
                            synced.node,
                            synced.entries.len(),
                            synced.account.checkpoint.size()
                        ));
                        announce = false;
                    }
                    let newest = synced.entries.last().map_or(0, |e| e.index);
                    if let Some(shown) = seen {
                        for entry in synced.entries.iter().filter(|e| e.index > shown) {
                            let Body::Access(access) = &entry.body else {
                                continue;
                            };
                            if access.subject != me {
                                continue;
                            }
                            print(ctx, &params, entry, synced.account.checkpoint.size())?;
                            printed += 1;
                            if args.count.is_some_and(|n| printed >= n) {
                                return Ok(());
                            }
                        }
                    }
                    seen = Some(newest.max(seen.unwrap_or(0)));
                }
                // A lie ends the watch: nothing after it could be trusted.
                Err(e @ WalletError::Integrity(_)) => return Err(e),
                Err(e) => {
                    ctx.note(&format!(
                        "sync failed ({e}); waiting for the next checkpoint"
                    ));
                }
            }
            if !next_event(ctx, &mut events, witnessed).await {
                break;
            }
        }
        ctx.note(&format!(
            "the event stream from {} ended; reconnecting",
            clients[0].base()
        ));
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

fn print(
    ctx: &mut Ctx<'_>,
    params: &testigo_ledger::state::LogParams,
    entry: &testigo_ledger::verify::VerifiedEntry,
    checkpoint_size: u64,
) -> Result<()> {
    let row = Row::of(entry);
    if ctx.global.json {
        let mut v = row.json(params);
        v["verified"] = json!(true);
        v["checkpoint_size"] = json!(checkpoint_size);
        let line = serde_json::to_string(&v).map_err(|e| WalletError::local("encoding", e))?;
        ctx.out(&format!("{line}\n"))
    } else {
        ctx.out(&format!(
            "{}  #{}  {}  (verified at checkpoint {checkpoint_size})\n",
            format::iso(entry.leaf.sequenced_at),
            entry.index,
            row.describe(params),
        ))
    }
}

async fn subscribe(client: &Client) -> std::result::Result<Events, ClientError> {
    client.events().await
}

/// Waits for the next event that can bring a new witnessed checkpoint; `false` when the stream
/// ended or broke.
async fn next_event(ctx: &mut Ctx<'_>, events: &mut Events, witnessed: bool) -> bool {
    let next = if witnessed {
        events.next_witnessed().await
    } else {
        events.next_checkpoint().await
    };
    match next {
        Ok(Some(_)) => true,
        Ok(None) => false,
        Err(e) => {
            ctx.note(&format!("the event stream broke: {e}"));
            false
        }
    }
}

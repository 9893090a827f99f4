//! `GET /v1/events`: server-sent events, one `checkpoint` event per new checkpoint, with the
//! tree size as the event id and the signed note as data, and on a log with witnesses one
//! `witnessed` event per newly witnessed checkpoint (id the size, data the note with its
//! cosignature lines). A slow client skips to the latest
//! checkpoint (a consistency proof covers the gap) instead of holding memory on the node. The
//! stream ends when the node starts shutting down, so an open subscription cannot hold a graceful
//! shutdown forever.

use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::{Stream, StreamExt as _};
use tokio_stream::wrappers::WatchStream;

use super::AppState;

pub(crate) async fn events(
    State(state): State<Arc<AppState>>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let mut stopping = state.stopping.clone();
    let stopped = async move {
        // An error means the sender is gone: the node is stopping either way.
        let _ = stopping.wait_for(|stop| *stop).await;
    };
    let checkpoints = tokio_stream::StreamExt::filter_map(
        WatchStream::new(state.sequencer.checkpoints()),
        |checkpoint| {
            checkpoint.map(|c| {
                Ok(Event::default()
                    .event("checkpoint")
                    .id(c.size.to_string())
                    .data(c.note.trim_end()))
            })
        },
    );
    let witnessed = state.cosignatures.as_ref().map(|c| c.watch());
    let witnessed = futures::stream::iter(witnessed)
        .flat_map(WatchStream::new)
        .filter_map(|w| {
            futures::future::ready(w.map(|w| {
                Ok(Event::default()
                    .event("witnessed")
                    .id(w.size.to_string())
                    .data(w.note.trim_end()))
            }))
        });
    let stream = futures::stream::select(checkpoints, witnessed).take_until(Box::pin(stopped));
    Sse::new(stream).keep_alive(KeepAlive::default())
}

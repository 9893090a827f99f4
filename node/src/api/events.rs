//! `GET /v1/events`: server-sent events, one `checkpoint` event per new checkpoint, with the
//! tree size as the event id and the signed note as data. A slow client skips to the latest
//! checkpoint (a consistency proof covers the gap) instead of holding memory on the node.

use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use tokio_stream::StreamExt as _;
use tokio_stream::wrappers::WatchStream;

use super::AppState;

pub(crate) async fn events(
    State(state): State<Arc<AppState>>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let stream = WatchStream::new(state.sequencer.checkpoints()).filter_map(|checkpoint| {
        checkpoint.map(|c| {
            Ok(Event::default()
                .event("checkpoint")
                .id(c.size.to_string())
                .data(c.note.trim_end()))
        })
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}

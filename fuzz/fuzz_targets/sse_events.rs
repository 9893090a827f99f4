//! Arbitrary bytes as a node's event stream (`GET /v1/events`), split into chunks where the
//! input says: the framing never panics, holds no more than its bound, and gives the same events
//! however the bytes arrive.

#![no_main]

use libfuzzer_sys::fuzz_target;
use testigo_client::{CheckpointEvent, EventBuffer, MAX_EVENT_BYTES};

/// Every event of both kinds in `chunks`, in order, or where the framing gave up.
fn events(chunks: &[&[u8]]) -> (Vec<(String, CheckpointEvent)>, bool) {
    let mut out = Vec::new();
    let mut buffer = EventBuffer::default();
    for chunk in chunks {
        buffer.push(chunk);
        // Checkpoint and witnessed events are read by two buffers in the client; here one
        // buffer is drained for `checkpoint` only, so the order is comparable.
        loop {
            match buffer.next_event("checkpoint") {
                Ok(Some(event)) => {
                    assert!(event.note.ends_with('\n'));
                    out.push(("checkpoint".to_owned(), event));
                }
                Ok(None) => break,
                Err(held) => {
                    assert!(held > MAX_EVENT_BYTES);
                    return (out, true);
                }
            }
        }
    }
    (out, false)
}

fuzz_target!(|data: &[u8]| {
    let Some((&cut, rest)) = data.split_first() else {
        return;
    };
    let step = usize::from(cut).max(1);
    let chunks: Vec<&[u8]> = rest.chunks(step).collect();
    let (split, gave_up) = events(&chunks);
    let (whole, whole_gave_up) = events(&[rest]);
    if !gave_up && !whole_gave_up {
        assert_eq!(split, whole);
    }
});

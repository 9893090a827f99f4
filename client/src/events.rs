//! `GET /v1/events`: server-sent events, one `checkpoint` event per new checkpoint (the event id
//! is the tree size, the data the signed note).

use http_body_util::BodyExt as _;
use hyper::Method;
use hyper::body::Incoming;
use hyper::header::CONTENT_TYPE;

use crate::{Client, ClientError};

/// Largest event accepted: a note with 16 signature lines is about 2 KiB.
pub const MAX_EVENT_BYTES: usize = 64 << 10;

/// One `checkpoint` event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckpointEvent {
    /// The event id: the checkpoint's tree size.
    pub size: u64,
    /// The signed note, with its final newline.
    pub note: String,
}

/// An open event stream.
#[derive(Debug)]
pub struct Events {
    body: Incoming,
    buffer: EventBuffer,
    url: String,
}

/// The framing of an event stream, apart from the connection: bytes in as they arrive, whole
/// events out. What [`Events`] reads through, and what the `sse_events` fuzz target drives.
#[derive(Clone, Debug, Default)]
pub struct EventBuffer {
    buffer: Vec<u8>,
}

impl EventBuffer {
    /// Appends bytes received.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buffer.extend_from_slice(bytes);
    }

    /// The next whole event of kind `wanted` (`checkpoint`, `witnessed`), skipping the others
    /// and comments; `Ok(None)` until one has arrived whole.
    ///
    /// # Errors
    /// The bytes held, once more than [`MAX_EVENT_BYTES`] are held without a whole event: the
    /// stream is not one this client reads.
    pub fn next_event(&mut self, wanted: &str) -> Result<Option<CheckpointEvent>, usize> {
        while let Some(end) = find(&self.buffer, b"\n\n") {
            let block: Vec<u8> = self.buffer.drain(..end + 2).collect();
            if let Some(event) = parse_event(&String::from_utf8_lossy(&block), wanted) {
                return Ok(Some(event));
            }
        }
        if self.buffer.len() > MAX_EVENT_BYTES {
            return Err(self.buffer.len());
        }
        Ok(None)
    }
}

impl Client {
    /// Subscribes to `GET /v1/events`. The stream has no overall timeout; the node sends
    /// keep-alive comments while idle.
    ///
    /// # Errors
    /// See [`ClientError`]; `Protocol` if the answer is not an event stream.
    pub async fn events(&self) -> Result<Events, ClientError> {
        let path = "/v1/events";
        let response = self
            .transport
            .open(Method::GET, path, &[], Vec::new())
            .await?;
        let url = self.transport.url(path);
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if !response.status().is_success() || !content_type.starts_with("text/event-stream") {
            return Err(ClientError::Protocol {
                url,
                status: response.status().as_u16(),
                message: format!("not an event stream ({content_type:?})"),
            });
        }
        Ok(Events {
            body: response.into_body(),
            buffer: EventBuffer::default(),
            url,
        })
    }
}

impl Events {
    /// The next `checkpoint` event; `None` when the node ends the stream.
    ///
    /// # Errors
    /// [`ClientError::Retryable`] if the connection breaks; `Protocol` for an oversized event.
    pub async fn next_checkpoint(&mut self) -> Result<Option<CheckpointEvent>, ClientError> {
        self.next_of("checkpoint").await
    }

    /// The next `witnessed` event (a log with witnesses announces each newly witnessed
    /// checkpoint, its note carrying the cosignature lines); `None` when the node ends the
    /// stream. Other events are skipped.
    ///
    /// # Errors
    /// As [`Events::next_checkpoint`].
    pub async fn next_witnessed(&mut self) -> Result<Option<CheckpointEvent>, ClientError> {
        self.next_of("witnessed").await
    }

    async fn next_of(&mut self, wanted: &str) -> Result<Option<CheckpointEvent>, ClientError> {
        loop {
            match self.buffer.next_event(wanted) {
                Ok(Some(event)) => return Ok(Some(event)),
                Ok(None) => {}
                Err(held) => {
                    return Err(ClientError::Protocol {
                        url: self.url.clone(),
                        status: 200,
                        message: format!(
                            "{held} bytes without a whole event (at most {MAX_EVENT_BYTES})"
                        ),
                    });
                }
            }
            let Some(frame) = self.body.frame().await else {
                return Ok(None);
            };
            let frame = frame.map_err(|e| ClientError::Retryable {
                url: self.url.clone(),
                reason: crate::Retry::Unreachable(e.to_string()),
                retry_after: None,
            })?;
            if let Ok(data) = frame.into_data() {
                self.buffer.push(&data);
            }
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
fn parse_checkpoint_event(block: &str) -> Option<CheckpointEvent> {
    parse_event(block, "checkpoint")
}

fn parse_event(block: &str, wanted: &str) -> Option<CheckpointEvent> {
    let (mut kind, mut id, mut data) = (None, None, Vec::new());
    for line in block.lines() {
        if let Some(v) = line.strip_prefix("event:") {
            kind = Some(v.trim());
        } else if let Some(v) = line.strip_prefix("id:") {
            id = v.trim().parse().ok();
        } else if let Some(v) = line.strip_prefix("data:") {
            data.push(v.strip_prefix(' ').unwrap_or(v));
        }
    }
    (kind == Some(wanted)).then_some(())?;
    Some(CheckpointEvent {
        size: id?,
        note: format!("{}\n", data.join("\n")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkpoint_event_gives_its_size_and_the_whole_note() {
        let block = "event: checkpoint\nid: 12\ndata: origin\ndata: 12\ndata: root=\ndata: \ndata: — origin sig\n\n";
        assert_eq!(
            parse_checkpoint_event(block),
            Some(CheckpointEvent {
                size: 12,
                note: "origin\n12\nroot=\n\n— origin sig\n".into()
            })
        );
        assert_eq!(parse_checkpoint_event(": keep-alive\n\n"), None);
        let witnessed = "event: witnessed\nid: 12\ndata: origin\ndata: 12\n\n";
        assert_eq!(parse_checkpoint_event(witnessed), None);
        assert_eq!(
            parse_event(witnessed, "witnessed").map(|e| e.size),
            Some(12)
        );
        assert_eq!(
            parse_checkpoint_event("event: checkpoint\ndata: x\n\n"),
            None
        );
    }

    #[test]
    fn events_split_anywhere_come_out_whole_and_an_endless_one_is_refused() {
        let stream = b": keep-alive\n\nevent: witnessed\nid: 3\ndata: a\n\nevent: checkpoint\nid: 4\ndata: b\n\n";
        for cut in 0..stream.len() {
            let mut buffer = EventBuffer::default();
            buffer.push(&stream[..cut]);
            let early = buffer.next_event("checkpoint").unwrap();
            buffer.push(&stream[cut..]);
            let event = early.or_else(|| buffer.next_event("checkpoint").unwrap());
            assert_eq!(
                event.map(|e| (e.size, e.note)),
                Some((4, "b\n".into())),
                "cut at {cut}"
            );
        }
        let mut buffer = EventBuffer::default();
        buffer.push(&vec![b'x'; MAX_EVENT_BYTES + 1]);
        assert_eq!(buffer.next_event("checkpoint"), Err(MAX_EVENT_BYTES + 1));
    }
}

//! Replication formats (PROTOCOL §11): what a primary and its witnesses send each other over
//! libp2p, and the time rules a witness applies before it cosigns.
//!
//! Two kinds of message, both versioned by their first byte and decoded here, with hard limits,
//! before anything else looks at them:
//!
//! - **Leaf ranges** (request-response): [`LeafRangeRequest`] asks for the leaves `start..end`;
//!   [`LeafRangeResponse`] answers with a prefix of them (at most [`MAX_RANGE_LEAVES`] leaves and
//!   [`MAX_RANGE_RESPONSE_BYTES`] bytes in all) and the signed checkpoint notes of every
//!   checkpoint that ends inside the answered range, so the receiver can commit them
//!   checkpoint by checkpoint.
//! - **Gossip** ([`GossipMessage`]): a checkpoint note, a cosigned note (a checkpoint with a
//!   witness's cosignature line), or [`Evidence`] as JSON, each `0x01 ‖ payload`, at most
//!   [`MAX_GOSSIP_BYTES`].
//!
//! Nothing here trusts what it decodes: signatures, trees and rules are checked by the caller
//! with [`crate::checkpoint`] and [`crate::state::Engine`].

use crate::checkpoint::Evidence;
use crate::entry::MAX_LEAF_LEN;

/// First byte of every replication message of this version.
pub const REPLICATION_VERSION: u8 = 0x01;

/// Most leaves one leaf-range response carries.
pub const MAX_RANGE_LEAVES: u64 = 4096;

/// Most bytes one leaf-range response may take on the wire (a reader stops reading past it).
pub const MAX_RANGE_RESPONSE_BYTES: usize = 8 * 1024 * 1024;

/// Exact length of a leaf-range request.
pub const RANGE_REQUEST_LEN: usize = 17;

/// Most bytes of one checkpoint note (with cosignature lines) in a response or a gossip message.
pub const MAX_NOTE_BYTES: usize = 8 * 1024;

/// Most bytes of one gossip message.
pub const MAX_GOSSIP_BYTES: usize = 64 * 1024;

/// A witness refuses to cosign a checkpoint whose last leaf's `sequenced_at` is further than this
/// from its own clock, either way (DESIGN §4: the operator cannot backdate an access into a
/// consent window, nor stamp one in the future).
pub const MAX_CLOCK_SKEW_MS: u64 = 5 * 60 * 1000;

/// The longest an operator may leave its log without a new checkpoint: an idle log still appends
/// a `StateRoot` and signs a checkpoint at least this often, so witnesses can cosign a fresh one
/// under [`MAX_CLOCK_SKEW_MS`]. A wallet calls a witnessed checkpoint **stale** when its last
/// leaf is older than `MAX_IDLE_CHECKPOINT_INTERVAL_MS + MAX_CLOCK_SKEW_MS` (see
/// [`is_stale`]): a healthy log and its witnesses always have a newer one by then.
pub const MAX_IDLE_CHECKPOINT_INTERVAL_MS: u64 = 4 * 60 * 1000;

/// Whether a checkpoint whose last leaf was sequenced at `last_leaf_ms` may be cosigned by a
/// witness whose clock reads `now_ms` (both Unix milliseconds): within [`MAX_CLOCK_SKEW_MS`]
/// either way.
pub fn within_clock_rule(last_leaf_ms: u64, now_ms: u64) -> bool {
    last_leaf_ms.abs_diff(now_ms) <= MAX_CLOCK_SKEW_MS
}

/// Whether a checkpoint whose last leaf was sequenced at `last_leaf_ms` is stale at `now_ms`
/// (see [`MAX_IDLE_CHECKPOINT_INTERVAL_MS`]).
pub fn is_stale(last_leaf_ms: u64, now_ms: u64) -> bool {
    now_ms.saturating_sub(last_leaf_ms) > MAX_IDLE_CHECKPOINT_INTERVAL_MS + MAX_CLOCK_SKEW_MS
}

/// Why replication bytes were refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// The message is empty.
    #[error("empty message")]
    Empty,
    /// The first byte is not a version this code speaks.
    #[error("unknown replication version {0:#04x}")]
    Version(u8),
    /// The message ends before a field it announced.
    #[error("message truncated at byte {at}: {what} needs {need} more byte(s)")]
    Truncated {
        /// Byte offset where the field starts.
        at: usize,
        /// The field.
        what: &'static str,
        /// Bytes missing.
        need: usize,
    },
    /// Bytes after the last field.
    #[error("{0} byte(s) after the end of the message")]
    Trailing(usize),
    /// A length or count above its limit.
    #[error("{what} is {got}, above the limit {limit}")]
    TooLarge {
        /// The field.
        what: &'static str,
        /// Its value.
        got: u64,
        /// The limit.
        limit: u64,
    },
    /// A request whose range is empty or reversed.
    #[error("range {start}..{end} is empty")]
    EmptyRange {
        /// First index asked.
        start: u64,
        /// End, exclusive.
        end: u64,
    },
    /// A note or payload that is not UTF-8.
    #[error("{0} is not UTF-8")]
    NotUtf8(&'static str),
    /// Checkpoint notes out of order, or outside the answered range.
    #[error("checkpoint of size {size} is outside {start}..={end} or out of order")]
    NoteOutOfRange {
        /// The note's size field.
        size: u64,
        /// First leaf of the response.
        start: u64,
        /// Size after the last leaf of the response.
        end: u64,
    },
    /// An evidence payload that is not the evidence JSON.
    #[error("evidence does not decode: {0}")]
    Evidence(String),
    /// A message whose sizes do not fit in 64 bits.
    #[error("range overflows")]
    Overflow,
}

/// Asks for the leaves `start..end` (end exclusive).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LeafRangeRequest {
    /// First leaf index.
    pub start: u64,
    /// End, exclusive; `end - start` at most [`MAX_RANGE_LEAVES`].
    pub end: u64,
}

/// A checkpoint note the responder stored for tree size `size`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RangeCheckpoint {
    /// Tree size.
    pub size: u64,
    /// The signed note, exactly as stored.
    pub note: String,
}

/// The leaves `start..start + leaves.len()` and the checkpoints ending inside that range.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct LeafRangeResponse {
    /// Index of the first leaf.
    pub start: u64,
    /// The leaf bytes, as stored.
    pub leaves: Vec<Vec<u8>>,
    /// Every stored checkpoint of size in `start + 1..=start + leaves.len()`, ascending.
    pub checkpoints: Vec<RangeCheckpoint>,
    /// The responder's tree size when it answered (how far the requester may go on asking).
    pub tree_size: u64,
}

impl LeafRangeRequest {
    /// `0x01 ‖ start u64 BE ‖ end u64 BE`.
    pub fn encode(&self) -> [u8; RANGE_REQUEST_LEN] {
        let mut out = [0u8; RANGE_REQUEST_LEN];
        out[0] = REPLICATION_VERSION;
        out[1..9].copy_from_slice(&self.start.to_be_bytes());
        out[9..17].copy_from_slice(&self.end.to_be_bytes());
        out
    }

    /// Decodes and checks a request.
    ///
    /// # Errors
    /// [`WireError`] for a wrong version or length, an empty range or one over
    /// [`MAX_RANGE_LEAVES`].
    pub fn decode(bytes: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(bytes)?;
        let start = r.u64("start")?;
        let end = r.u64("end")?;
        r.finish()?;
        if end <= start {
            return Err(WireError::EmptyRange { start, end });
        }
        if end - start > MAX_RANGE_LEAVES {
            return Err(WireError::TooLarge {
                what: "range length",
                got: end - start,
                limit: MAX_RANGE_LEAVES,
            });
        }
        Ok(Self { start, end })
    }
}

impl LeafRangeResponse {
    /// `0x01 ‖ start u64 ‖ tree_size u64 ‖ n u32 ‖ (len u32 ‖ leaf)ⁿ ‖ m u32 ‖
    /// (size u64 ‖ len u32 ‖ note)ᵐ`, all big-endian.
    pub fn encode(&self) -> Vec<u8> {
        let leaf_bytes: usize = self.leaves.iter().map(|l| l.len() + 4).sum();
        let mut out = Vec::with_capacity(1 + 8 + 8 + 4 + leaf_bytes + 4);
        out.push(REPLICATION_VERSION);
        out.extend_from_slice(&self.start.to_be_bytes());
        out.extend_from_slice(&self.tree_size.to_be_bytes());
        out.extend_from_slice(&len_u32(self.leaves.len()).to_be_bytes());
        for leaf in &self.leaves {
            out.extend_from_slice(&len_u32(leaf.len()).to_be_bytes());
            out.extend_from_slice(leaf);
        }
        out.extend_from_slice(&len_u32(self.checkpoints.len()).to_be_bytes());
        for checkpoint in &self.checkpoints {
            out.extend_from_slice(&checkpoint.size.to_be_bytes());
            out.extend_from_slice(&len_u32(checkpoint.note.len()).to_be_bytes());
            out.extend_from_slice(checkpoint.note.as_bytes());
        }
        out
    }

    /// The encoded length, to cut a response to [`MAX_RANGE_RESPONSE_BYTES`] before encoding.
    pub fn encoded_len(&self) -> usize {
        1 + 8
            + 8
            + 4
            + self.leaves.iter().map(|l| l.len() + 4).sum::<usize>()
            + 4
            + self
                .checkpoints
                .iter()
                .map(|c| c.note.len() + 12)
                .sum::<usize>()
    }

    /// Decodes and checks a response (not its signatures or tree: the caller does).
    ///
    /// # Errors
    /// [`WireError`] for a wrong version, a truncated or oversized field, trailing bytes, or
    /// checkpoints outside the answered range or out of order.
    pub fn decode(bytes: &[u8]) -> Result<Self, WireError> {
        if bytes.len() > MAX_RANGE_RESPONSE_BYTES {
            return Err(WireError::TooLarge {
                what: "response length",
                got: bytes.len() as u64,
                limit: MAX_RANGE_RESPONSE_BYTES as u64,
            });
        }
        let mut r = Reader::new(bytes)?;
        let start = r.u64("start")?;
        let tree_size = r.u64("tree size")?;
        let count = u64::from(r.u32("leaf count")?);
        if count > MAX_RANGE_LEAVES {
            return Err(WireError::TooLarge {
                what: "leaf count",
                got: count,
                limit: MAX_RANGE_LEAVES,
            });
        }
        let end = start.checked_add(count).ok_or(WireError::Overflow)?;
        let mut leaves = Vec::new();
        for _ in 0..count {
            let len = r.u32("leaf length")? as usize;
            if len > MAX_LEAF_LEN {
                return Err(WireError::TooLarge {
                    what: "leaf length",
                    got: len as u64,
                    limit: MAX_LEAF_LEN as u64,
                });
            }
            leaves.push(r.bytes("leaf", len)?.to_vec());
        }
        let notes = u64::from(r.u32("checkpoint count")?);
        if notes > count {
            return Err(WireError::TooLarge {
                what: "checkpoint count",
                got: notes,
                limit: count,
            });
        }
        let mut checkpoints: Vec<RangeCheckpoint> = Vec::new();
        for _ in 0..notes {
            let size = r.u64("checkpoint size")?;
            let previous = checkpoints.last().map_or(start, |c| c.size);
            if size <= previous || size > end {
                return Err(WireError::NoteOutOfRange { size, start, end });
            }
            let len = r.u32("note length")? as usize;
            if len > MAX_NOTE_BYTES {
                return Err(WireError::TooLarge {
                    what: "note length",
                    got: len as u64,
                    limit: MAX_NOTE_BYTES as u64,
                });
            }
            let note = std::str::from_utf8(r.bytes("note", len)?)
                .map_err(|_| WireError::NotUtf8("checkpoint note"))?
                .to_owned();
            checkpoints.push(RangeCheckpoint { size, note });
        }
        r.finish()?;
        Ok(Self {
            start,
            leaves,
            checkpoints,
            tree_size,
        })
    }
}

/// Which gossip topic a message travels on; each log has one topic of each kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GossipKind {
    /// The operator's signed checkpoint notes.
    Checkpoint,
    /// Checkpoint notes with one witness's cosignature line.
    Cosignature,
    /// Evidence of a split view.
    Evidence,
}

impl GossipKind {
    /// Every kind.
    pub const ALL: [GossipKind; 3] = [
        GossipKind::Checkpoint,
        GossipKind::Cosignature,
        GossipKind::Evidence,
    ];

    /// The gossipsub topic of this kind for the log `origin`: `testigo/v1/<origin>/<kind>`.
    pub fn topic(self, origin: &str) -> String {
        let kind = match self {
            GossipKind::Checkpoint => "checkpoints",
            GossipKind::Cosignature => "cosignatures",
            GossipKind::Evidence => "evidence",
        };
        format!("testigo/v1/{origin}/{kind}")
    }
}

/// One gossip message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GossipMessage {
    /// A checkpoint note signed by the log key.
    Checkpoint(String),
    /// A checkpoint note carrying a witness's cosignature line.
    Cosignature(String),
    /// Evidence that the log key signed conflicting checkpoints.
    Evidence(Evidence),
}

impl GossipMessage {
    /// The topic kind it travels on.
    pub fn kind(&self) -> GossipKind {
        match self {
            GossipMessage::Checkpoint(_) => GossipKind::Checkpoint,
            GossipMessage::Cosignature(_) => GossipKind::Cosignature,
            GossipMessage::Evidence(_) => GossipKind::Evidence,
        }
    }

    /// `0x01 ‖ payload`: the note text, or the evidence as JSON.
    pub fn encode(&self) -> Vec<u8> {
        let payload = match self {
            GossipMessage::Checkpoint(note) | GossipMessage::Cosignature(note) => {
                note.as_bytes().to_vec()
            }
            GossipMessage::Evidence(evidence) => serde_json::to_vec(evidence).unwrap_or_default(),
        };
        let mut out = Vec::with_capacity(payload.len() + 1);
        out.push(REPLICATION_VERSION);
        out.extend_from_slice(&payload);
        out
    }

    /// Decodes a message received on a topic of `kind`.
    ///
    /// # Errors
    /// [`WireError`] for a wrong version, an oversized message, text that is not UTF-8 or
    /// evidence that is not the evidence JSON.
    pub fn decode(kind: GossipKind, bytes: &[u8]) -> Result<Self, WireError> {
        if bytes.len() > MAX_GOSSIP_BYTES {
            return Err(WireError::TooLarge {
                what: "gossip message",
                got: bytes.len() as u64,
                limit: MAX_GOSSIP_BYTES as u64,
            });
        }
        let payload = Reader::new(bytes)?.rest();
        let text = |what| {
            if payload.len() > MAX_NOTE_BYTES {
                return Err(WireError::TooLarge {
                    what: "note length",
                    got: payload.len() as u64,
                    limit: MAX_NOTE_BYTES as u64,
                });
            }
            std::str::from_utf8(payload)
                .map(str::to_owned)
                .map_err(|_| WireError::NotUtf8(what))
        };
        Ok(match kind {
            GossipKind::Checkpoint => GossipMessage::Checkpoint(text("checkpoint note")?),
            GossipKind::Cosignature => GossipMessage::Cosignature(text("cosigned note")?),
            GossipKind::Evidence => GossipMessage::Evidence(
                serde_json::from_slice(payload).map_err(|e| WireError::Evidence(e.to_string()))?,
            ),
        })
    }
}

fn len_u32(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

/// A bounds-checked cursor past the version byte.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Result<Self, WireError> {
        match bytes.first() {
            None => Err(WireError::Empty),
            Some(&REPLICATION_VERSION) => Ok(Self { bytes, at: 1 }),
            Some(&other) => Err(WireError::Version(other)),
        }
    }

    fn bytes(&mut self, what: &'static str, len: usize) -> Result<&'a [u8], WireError> {
        let left = self.bytes.len() - self.at;
        if left < len {
            return Err(WireError::Truncated {
                at: self.at,
                what,
                need: len - left,
            });
        }
        let out = &self.bytes[self.at..self.at + len];
        self.at += len;
        Ok(out)
    }

    fn u64(&mut self, what: &'static str) -> Result<u64, WireError> {
        let b = self.bytes(what, 8)?;
        Ok(u64::from_be_bytes(b.try_into().unwrap_or_default()))
    }

    fn u32(&mut self, what: &'static str) -> Result<u32, WireError> {
        let b = self.bytes(what, 4)?;
        Ok(u32::from_be_bytes(b.try_into().unwrap_or_default()))
    }

    fn rest(self) -> &'a [u8] {
        &self.bytes[self.at..]
    }

    fn finish(self) -> Result<(), WireError> {
        match self.bytes.len() - self.at {
            0 => Ok(()),
            n => Err(WireError::Trailing(n)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_round_trip_and_bad_ones_are_refused() {
        let request = LeafRangeRequest { start: 5, end: 9 };
        assert_eq!(LeafRangeRequest::decode(&request.encode()), Ok(request));
        let mut long = request.encode().to_vec();
        long.push(0);
        assert_eq!(LeafRangeRequest::decode(&long), Err(WireError::Trailing(1)));
        assert!(matches!(
            LeafRangeRequest::decode(&long[..10]),
            Err(WireError::Truncated { what: "end", .. })
        ));
        let empty = LeafRangeRequest { start: 9, end: 9 }.encode();
        assert_eq!(
            LeafRangeRequest::decode(&empty),
            Err(WireError::EmptyRange { start: 9, end: 9 })
        );
        let big = LeafRangeRequest {
            start: 0,
            end: MAX_RANGE_LEAVES + 1,
        }
        .encode();
        assert!(matches!(
            LeafRangeRequest::decode(&big),
            Err(WireError::TooLarge { .. })
        ));
        let mut other = request.encode();
        other[0] = 2;
        assert_eq!(LeafRangeRequest::decode(&other), Err(WireError::Version(2)));
        assert_eq!(LeafRangeRequest::decode(&[]), Err(WireError::Empty));
    }

    fn response() -> LeafRangeResponse {
        LeafRangeResponse {
            start: 10,
            leaves: vec![vec![1; 150], vec![2; 151], vec![3; 152]],
            checkpoints: vec![
                RangeCheckpoint {
                    size: 11,
                    note: "a\n".into(),
                },
                RangeCheckpoint {
                    size: 13,
                    note: "b\n".into(),
                },
            ],
            tree_size: 20,
        }
    }

    #[test]
    fn responses_round_trip_with_their_exact_length() {
        let response = response();
        let bytes = response.encode();
        assert_eq!(bytes.len(), response.encoded_len());
        assert_eq!(LeafRangeResponse::decode(&bytes), Ok(response));
        let empty = LeafRangeResponse {
            start: 3,
            tree_size: 3,
            ..LeafRangeResponse::default()
        };
        assert_eq!(LeafRangeResponse::decode(&empty.encode()), Ok(empty));
    }

    #[test]
    fn responses_out_of_bounds_are_refused() {
        let bytes = response().encode();
        for cut in 0..bytes.len() {
            assert!(
                LeafRangeResponse::decode(&bytes[..cut]).is_err(),
                "cut {cut}"
            );
        }
        let mut outside = response();
        outside.checkpoints[1].size = 14;
        assert!(matches!(
            LeafRangeResponse::decode(&outside.encode()),
            Err(WireError::NoteOutOfRange { size: 14, .. })
        ));
        let mut unordered = response();
        unordered.checkpoints.swap(0, 1);
        assert!(matches!(
            LeafRangeResponse::decode(&unordered.encode()),
            Err(WireError::NoteOutOfRange { .. })
        ));
        let mut huge = response();
        huge.leaves[0] = vec![0; MAX_LEAF_LEN + 1];
        assert!(matches!(
            LeafRangeResponse::decode(&huge.encode()),
            Err(WireError::TooLarge {
                what: "leaf length",
                ..
            })
        ));
        let mut many = response().encode();
        many[17..21].copy_from_slice(&(MAX_RANGE_LEAVES as u32 + 1).to_be_bytes());
        assert!(matches!(
            LeafRangeResponse::decode(&many),
            Err(WireError::TooLarge {
                what: "leaf count",
                ..
            })
        ));
        let oversized = vec![REPLICATION_VERSION; MAX_RANGE_RESPONSE_BYTES + 1];
        assert!(matches!(
            LeafRangeResponse::decode(&oversized),
            Err(WireError::TooLarge {
                what: "response length",
                ..
            })
        ));
    }

    #[test]
    fn gossip_round_trips_and_refuses_what_it_cannot_read() {
        let note = GossipMessage::Checkpoint("o\n1\nAAAA\n\n— o x\n".into());
        assert_eq!(
            GossipMessage::decode(GossipKind::Checkpoint, &note.encode()),
            Ok(note)
        );
        let evidence = GossipMessage::Evidence(Evidence::SplitView {
            first: "a".into(),
            second: "b".into(),
        });
        assert_eq!(
            GossipMessage::decode(GossipKind::Evidence, &evidence.encode()),
            Ok(evidence)
        );
        assert!(matches!(
            GossipMessage::decode(GossipKind::Evidence, b"\x01{}"),
            Err(WireError::Evidence(_))
        ));
        assert_eq!(
            GossipMessage::decode(GossipKind::Cosignature, b"\x01\xff"),
            Err(WireError::NotUtf8("cosigned note"))
        );
        assert_eq!(
            GossipMessage::decode(GossipKind::Checkpoint, b"\x02x"),
            Err(WireError::Version(2))
        );
        let big = vec![REPLICATION_VERSION; MAX_NOTE_BYTES + 2];
        assert!(GossipMessage::decode(GossipKind::Checkpoint, &big).is_err());
        assert_eq!(
            GossipKind::Evidence.topic("telco.example/log"),
            "testigo/v1/telco.example/log/evidence"
        );
    }

    #[test]
    fn the_clock_rule_is_five_minutes_either_way() {
        let now = 1_800_000_000_000;
        assert!(within_clock_rule(now, now));
        assert!(within_clock_rule(now - MAX_CLOCK_SKEW_MS, now));
        assert!(within_clock_rule(now + MAX_CLOCK_SKEW_MS, now));
        assert!(!within_clock_rule(now - MAX_CLOCK_SKEW_MS - 1, now));
        assert!(!within_clock_rule(now + MAX_CLOCK_SKEW_MS + 1, now));
        assert!(!within_clock_rule(0, now));
        let limit = MAX_IDLE_CHECKPOINT_INTERVAL_MS + MAX_CLOCK_SKEW_MS;
        assert!(!is_stale(now - limit, now));
        assert!(is_stale(now - limit - 1, now));
        assert!(!is_stale(now + 1, now), "a future leaf is not stale");
    }
}

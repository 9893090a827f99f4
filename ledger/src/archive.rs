//! Log archives (PROTOCOL §14): a whole log in one file, for the audit tool and for backups.
//!
//! An archive is a header followed by records, each framed by a tag and a length, in the order
//! the log produced them: every leaf with its index (the first, index 0, is the `Genesis`), and
//! every checkpoint note with its cosignature lines right after the leaf that ends its tree.
//!
//! ```text
//! "testigo.archive/v1\n"
//! 0x01 ‖ len(4, BE) ‖ index(8, BE) ‖ leaf bytes       a leaf (len = 8 + leaf length)
//! 0x02 ‖ len(4, BE) ‖ note text                       a checkpoint with its cosignatures
//! ```
//!
//! There is no footer and no count, so an archive is written as a stream and grown by appending
//! records to it; a file cut short inside a record is [`ArchiveError::Truncated`], whose offset is
//! where an appender resumes. The decoder is pure framing over `std::io::Read`, bounded by the
//! protocol's limits ([`MAX_LEAF_LEN`], [`MAX_NOTE_BYTES`]) so no length field can make it
//! allocate more: what the records *mean* (indices in order, signatures, roots) is the audit's
//! business, so a damaged archive is reported at the leaf that is wrong rather than refused whole.

use std::io::{self, Read, Write};

use crate::entry::{LEAF_HEADER_LEN, MAX_LEAF_LEN};
use crate::replication::MAX_NOTE_BYTES;

/// The first bytes of every archive: its format and version.
pub const ARCHIVE_HEADER: &[u8] = b"testigo.archive/v1\n";
/// What every version's header starts with, so a newer archive is named as such.
const HEADER_PREFIX: &[u8] = b"testigo.archive/";
/// Tag of a leaf record.
pub const TAG_LEAF: u8 = 0x01;
/// Tag of a checkpoint record.
pub const TAG_CHECKPOINT: u8 = 0x02;
/// Bytes of a record's tag and length.
pub const RECORD_HEADER_LEN: usize = 5;
/// Longest leaf record payload: the index and the largest leaf.
pub const MAX_LEAF_RECORD: usize = 8 + MAX_LEAF_LEN;

/// One record of an archive.
#[derive(Clone, PartialEq, Eq)]
pub enum Record {
    /// A leaf and the index it claims. Not parsed: [`crate::entry::Leaf::from_bytes`] does that.
    Leaf {
        /// The index the archive gives the leaf.
        index: u64,
        /// The leaf bytes as the log holds them.
        bytes: Vec<u8>,
    },
    /// A checkpoint note, operator line then cosignature lines. Not parsed or verified.
    Checkpoint {
        /// The note text.
        note: Vec<u8>,
    },
}

impl std::fmt::Debug for Record {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Record::Leaf { index, bytes } => f
                .debug_struct("Leaf")
                .field("index", index)
                .field("len", &bytes.len())
                .finish(),
            Record::Checkpoint { note } => f
                .debug_struct("Checkpoint")
                .field("note", &String::from_utf8_lossy(note))
                .finish(),
        }
    }
}

/// Why bytes are not an archive, or where one stops.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// Reading or writing failed.
    #[error("archive I/O: {0}")]
    Io(#[from] io::Error),
    /// The file does not start with an archive header.
    #[error("not a testigo archive (expected the header `testigo.archive/v1`)")]
    NotAnArchive,
    /// An archive of a version this code does not read.
    #[error("archive version {found:?} is not supported (expected `testigo.archive/v1`)")]
    UnsupportedVersion {
        /// The header line as found.
        found: String,
    },
    /// A record with a tag this version does not define.
    #[error("unknown record tag {tag:#04x} at byte {offset}")]
    UnknownTag {
        /// The tag.
        tag: u8,
        /// Where the record starts.
        offset: u64,
    },
    /// A record whose length is outside the protocol's limits for its tag.
    #[error("record at byte {offset}: length {len} outside {min}..={max} for its tag")]
    BadLength {
        /// Where the record starts.
        offset: u64,
        /// The declared length.
        len: u64,
        /// The least allowed.
        min: u64,
        /// The most allowed.
        max: u64,
    },
    /// The bytes end inside the record starting at `offset`: everything before it is whole.
    #[error("archive ends inside the record at byte {offset}")]
    Truncated {
        /// Where the cut record starts (the length of the whole part).
        offset: u64,
    },
}

/// Writes an archive as a stream.
#[derive(Debug)]
pub struct ArchiveWriter<W> {
    inner: W,
}

impl<W: Write> ArchiveWriter<W> {
    /// Starts a new archive: writes the header.
    ///
    /// # Errors
    /// [`ArchiveError::Io`] if writing fails.
    pub fn new(mut inner: W) -> Result<Self, ArchiveError> {
        inner.write_all(ARCHIVE_HEADER)?;
        Ok(Self { inner })
    }

    /// Continues an archive whose header and whole records `inner` already holds (a file opened
    /// for appending, positioned at the end of its last whole record).
    pub fn append(inner: W) -> Self {
        Self { inner }
    }

    /// Writes a leaf record.
    ///
    /// # Errors
    /// [`ArchiveError::BadLength`] for bytes no leaf can have (nothing is written), or I/O.
    pub fn write_leaf(&mut self, index: u64, leaf: &[u8]) -> Result<(), ArchiveError> {
        let len = check_len(TAG_LEAF, 8 + leaf.len(), 0)?;
        self.inner.write_all(&[TAG_LEAF])?;
        self.inner.write_all(&len.to_be_bytes())?;
        self.inner.write_all(&index.to_be_bytes())?;
        self.inner.write_all(leaf)?;
        Ok(())
    }

    /// Writes a checkpoint record.
    ///
    /// # Errors
    /// [`ArchiveError::BadLength`] for a note longer than [`MAX_NOTE_BYTES`] (nothing is
    /// written), or I/O.
    pub fn write_checkpoint(&mut self, note: &[u8]) -> Result<(), ArchiveError> {
        let len = check_len(TAG_CHECKPOINT, note.len(), 0)?;
        self.inner.write_all(&[TAG_CHECKPOINT])?;
        self.inner.write_all(&len.to_be_bytes())?;
        self.inner.write_all(note)?;
        Ok(())
    }

    /// Writes a record.
    ///
    /// # Errors
    /// As [`ArchiveWriter::write_leaf`] and [`ArchiveWriter::write_checkpoint`].
    pub fn write(&mut self, record: &Record) -> Result<(), ArchiveError> {
        match record {
            Record::Leaf { index, bytes } => self.write_leaf(*index, bytes),
            Record::Checkpoint { note } => self.write_checkpoint(note),
        }
    }

    /// Flushes the underlying writer.
    ///
    /// # Errors
    /// I/O.
    pub fn flush(&mut self) -> Result<(), ArchiveError> {
        Ok(self.inner.flush()?)
    }

    /// The underlying writer (to sync a file, say).
    pub fn into_inner(self) -> W {
        self.inner
    }
}

/// The allowed payload lengths of a tag.
fn bounds(tag: u8) -> Option<(usize, usize)> {
    match tag {
        TAG_LEAF => Some((8 + LEAF_HEADER_LEN, MAX_LEAF_RECORD)),
        TAG_CHECKPOINT => Some((1, MAX_NOTE_BYTES)),
        _ => None,
    }
}

fn check_len(tag: u8, len: usize, offset: u64) -> Result<u32, ArchiveError> {
    let (min, max) = bounds(tag).ok_or(ArchiveError::UnknownTag { tag, offset })?;
    if len < min || len > max {
        return Err(ArchiveError::BadLength {
            offset,
            len: len as u64,
            min: min as u64,
            max: max as u64,
        });
    }
    // max is far below u32::MAX.
    Ok(len as u32)
}

/// Reads an archive as a stream of records.
#[derive(Debug)]
pub struct ArchiveReader<R> {
    inner: R,
    /// Bytes consumed: the header and every whole record read.
    offset: u64,
}

impl<R: Read> ArchiveReader<R> {
    /// Reads and checks the header.
    ///
    /// # Errors
    /// [`ArchiveError::NotAnArchive`], [`ArchiveError::UnsupportedVersion`], or I/O.
    pub fn new(mut inner: R) -> Result<Self, ArchiveError> {
        let mut header = [0u8; ARCHIVE_HEADER.len()];
        let got = read_full(&mut inner, &mut header)?;
        let header = &header[..got];
        if header == ARCHIVE_HEADER {
            return Ok(Self {
                inner,
                offset: ARCHIVE_HEADER.len() as u64,
            });
        }
        if header.starts_with(HEADER_PREFIX) {
            let line = header.split(|b| *b == b'\n').next().unwrap_or(header);
            return Err(ArchiveError::UnsupportedVersion {
                found: String::from_utf8_lossy(line).into_owned(),
            });
        }
        Err(ArchiveError::NotAnArchive)
    }

    /// Bytes of the header and of every whole record read so far.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The next record, or `None` at the end of the archive (an end between records).
    ///
    /// # Errors
    /// [`ArchiveError::UnknownTag`], [`ArchiveError::BadLength`], [`ArchiveError::Truncated`]
    /// (the offset of the cut record), or I/O. After an error the reader's position is lost.
    pub fn next_record(&mut self) -> Result<Option<Record>, ArchiveError> {
        let start = self.offset;
        let mut head = [0u8; RECORD_HEADER_LEN];
        match read_full(&mut self.inner, &mut head)? {
            0 => return Ok(None),
            RECORD_HEADER_LEN => {}
            _ => return Err(ArchiveError::Truncated { offset: start }),
        }
        let tag = head[0];
        let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
        check_len(tag, len, start)?;
        // Bounded by check_len: at most MAX_LEAF_RECORD bytes.
        let mut payload = vec![0u8; len];
        if read_full(&mut self.inner, &mut payload)? != len {
            return Err(ArchiveError::Truncated { offset: start });
        }
        self.offset = start + (RECORD_HEADER_LEN + len) as u64;
        Ok(Some(match tag {
            TAG_LEAF => {
                let (index, bytes) = payload.split_at(8);
                let mut be = [0u8; 8];
                be.copy_from_slice(index);
                Record::Leaf {
                    index: u64::from_be_bytes(be),
                    bytes: bytes.to_vec(),
                }
            }
            _ => Record::Checkpoint { note: payload },
        }))
    }
}

impl<R: Read> Iterator for ArchiveReader<R> {
    type Item = Result<Record, ArchiveError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_record().transpose()
    }
}

/// Reads until `buf` is full or the input ends; returns how many bytes were read.
fn read_full<R: Read>(reader: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match reader.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// Where an archive's whole part ends and what it holds: what an appender needs to resume.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArchiveEnd {
    /// Bytes of the header and every whole record: append from here.
    pub whole_len: u64,
    /// Whether bytes of a cut record follow `whole_len` (they are to be discarded).
    pub truncated: bool,
    /// One more than the last leaf index, 0 if there is no leaf.
    pub next_index: u64,
    /// The size of the last checkpoint, as the note's second line says, if it reads as one.
    pub last_checkpoint_size: Option<u64>,
}

/// Scans a whole archive to find where it ends (for resuming an export).
///
/// # Errors
/// Any [`ArchiveError`] other than [`ArchiveError::Truncated`], which is reported in the answer.
pub fn scan_end<R: Read>(reader: R) -> Result<ArchiveEnd, ArchiveError> {
    let mut reader = ArchiveReader::new(reader)?;
    let mut end = ArchiveEnd {
        whole_len: reader.offset(),
        truncated: false,
        next_index: 0,
        last_checkpoint_size: None,
    };
    loop {
        match reader.next_record() {
            Ok(None) => break,
            Ok(Some(Record::Leaf { index, .. })) => end.next_index = index.saturating_add(1),
            Ok(Some(Record::Checkpoint { note })) => {
                end.last_checkpoint_size = note_size(&note);
            }
            Err(ArchiveError::Truncated { .. }) => {
                end.truncated = true;
                break;
            }
            Err(e) => return Err(e),
        }
        end.whole_len = reader.offset();
    }
    Ok(end)
}

/// The tree size a checkpoint note states (its second line), unverified.
fn note_size(note: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(note).ok()?;
    text.lines().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaf(n: u8) -> Vec<u8> {
        let mut bytes = vec![0x01];
        bytes.extend_from_slice(&[n; 8 + 32 + 64]);
        bytes.extend_from_slice(&2u32.to_be_bytes());
        bytes.extend_from_slice(&[n, n]);
        bytes
    }

    fn sample() -> Vec<u8> {
        let mut w = ArchiveWriter::new(Vec::new()).unwrap();
        w.write_leaf(0, &leaf(0)).unwrap();
        w.write_leaf(1, &leaf(1)).unwrap();
        w.write_checkpoint(b"o\n2\nAA==\n\n").unwrap();
        w.into_inner()
    }

    /// The vector of PROTOCOL §14, byte for byte: a 2-byte-body leaf at index 5 and the note
    /// `o\n1\nAA==\n\n`.
    #[test]
    fn the_protocol_vector_is_byte_exact() {
        let mut leaf = vec![0x01];
        leaf.extend_from_slice(&[0; 8 + 32 + 64]);
        leaf.extend_from_slice(&[0, 0, 0, 2, 0xab, 0xcd]);
        let mut w = ArchiveWriter::new(Vec::new()).unwrap();
        w.write_leaf(5, &leaf).unwrap();
        w.write_checkpoint(b"o\n1\nAA==\n\n").unwrap();
        let bytes = w.into_inner();
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let expected = [
            "746573746967 6f2e61726368697665 2f76310a", // "testigo.archive/v1\n"
            "01 00000077 0000000000000005",             // leaf, 119 bytes, index 5
            "01",                                       // the leaf: version,
            &"00".repeat(8 + 32 + 64),                  // sequenced_at, signer, signature,
            "00000002 abcd",                            // body_len, body
            "02 0000000a 6f0a310a41413d3d0a0a",         // checkpoint, 10 bytes of note
        ]
        .concat()
        .replace(' ', "");
        assert_eq!(hex, expected);
        let records: Vec<Record> = ArchiveReader::new(&bytes[..])
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            records[0],
            Record::Leaf {
                index: 5,
                bytes: leaf
            }
        );
    }

    #[test]
    fn records_come_back_in_order() {
        let records: Vec<Record> = ArchiveReader::new(&sample()[..])
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            records,
            vec![
                Record::Leaf {
                    index: 0,
                    bytes: leaf(0)
                },
                Record::Leaf {
                    index: 1,
                    bytes: leaf(1)
                },
                Record::Checkpoint {
                    note: b"o\n2\nAA==\n\n".to_vec()
                },
            ]
        );
    }

    #[test]
    fn appending_to_a_whole_archive_equals_writing_it_at_once() {
        let bytes = sample();
        let end = scan_end(&bytes[..]).unwrap();
        assert_eq!((end.whole_len, end.next_index), (bytes.len() as u64, 2));
        assert_eq!(end.last_checkpoint_size, Some(2));
        let mut grown = bytes.clone();
        ArchiveWriter::append(&mut grown)
            .write_leaf(2, &leaf(2))
            .unwrap();
        let mut once = ArchiveWriter::new(Vec::new()).unwrap();
        for r in ArchiveReader::new(&bytes[..]).unwrap() {
            once.write(&r.unwrap()).unwrap();
        }
        once.write_leaf(2, &leaf(2)).unwrap();
        assert_eq!(grown, once.into_inner());
    }

    #[test]
    fn every_cut_is_truncated_at_the_last_whole_record() {
        let bytes = sample();
        let first_record = ARCHIVE_HEADER.len() as u64;
        let second = first_record + (RECORD_HEADER_LEN + 8 + leaf(0).len()) as u64;
        for cut in first_record as usize + 1..second as usize {
            let end = scan_end(&bytes[..cut]).unwrap();
            assert!(end.truncated, "cut at {cut}");
            assert_eq!(end.whole_len, first_record);
            assert_eq!(end.next_index, 0);
        }
    }

    #[test]
    fn lengths_beyond_the_limits_are_refused_before_allocating() {
        let mut bytes = ARCHIVE_HEADER.to_vec();
        bytes.push(TAG_LEAF);
        bytes.extend_from_slice(&u32::MAX.to_be_bytes());
        let err = ArchiveReader::new(&bytes[..])
            .unwrap()
            .next_record()
            .unwrap_err();
        assert!(
            matches!(err, ArchiveError::BadLength { offset: 19, .. }),
            "{err}"
        );
        let mut w = ArchiveWriter::new(Vec::new()).unwrap();
        let long = vec![b'a'; MAX_NOTE_BYTES + 1];
        assert!(matches!(
            w.write_checkpoint(&long),
            Err(ArchiveError::BadLength { .. })
        ));
        assert_eq!(w.into_inner(), ARCHIVE_HEADER, "nothing written");
    }

    #[test]
    fn foreign_and_future_files_are_named() {
        assert!(matches!(
            ArchiveReader::new(&b"PK\x03\x04"[..]),
            Err(ArchiveError::NotAnArchive)
        ));
        let err = ArchiveReader::new(&b"testigo.archive/v2\n"[..]).unwrap_err();
        assert!(
            matches!(&err, ArchiveError::UnsupportedVersion { found } if found == "testigo.archive/v2"),
            "{err}"
        );
        let mut bytes = ARCHIVE_HEADER.to_vec();
        bytes.extend_from_slice(&[0x07, 0, 0, 0, 1, 0]);
        assert!(matches!(
            ArchiveReader::new(&bytes[..]).unwrap().next_record(),
            Err(ArchiveError::UnknownTag { tag: 7, offset: 19 })
        ));
    }
}

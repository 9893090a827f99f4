//! Arbitrary bytes as an archive: reading never panics or allocates past the record limits,
//! every record read re-encodes to exactly the bytes it came from, and the leaf and note
//! payloads go on to their own parsers without panicking.

#![no_main]

use libfuzzer_sys::fuzz_target;
use testigo_ledger::archive::{ArchiveReader, ArchiveWriter, Record, scan_end};
use testigo_ledger::checkpoint::CosignedCheckpoint;
use testigo_ledger::entry::Leaf;

fuzz_target!(|data: &[u8]| {
    let Ok(mut reader) = ArchiveReader::new(data) else {
        return;
    };
    let mut again = ArchiveWriter::new(Vec::new()).expect("writing to memory");
    let mut whole = reader.offset() as usize;
    while let Ok(Some(record)) = reader.next_record() {
        match &record {
            Record::Leaf { bytes, .. } => drop(Leaf::from_bytes(bytes).map(|l| l.decode_body())),
            Record::Checkpoint { note } => drop(CosignedCheckpoint::parse(note)),
        }
        again.write(&record).expect("a record read is a record writable");
        whole = reader.offset() as usize;
    }
    assert_eq!(again.into_inner(), &data[..whole]);
    // The scan stops where the reader stopped: at the end, a cut record or a refused one.
    if let Ok(end) = scan_end(data) {
        assert_eq!(end.whole_len as usize, whole);
    }
});

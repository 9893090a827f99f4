//! Arbitrary bytes as a data buyer's batch file (`testigo-wallet access-batch`): splitting and
//! parsing never panic, every line handed on is trimmed and non-empty, and a line that parses
//! names a subject that re-encodes to a key.

#![no_main]

use libfuzzer_sys::fuzz_target;
use testigo_wallet::batch_file::{MAX_BATCH_LINE_BYTES, lines, parse_line};

fuzz_target!(|data: &[u8]| {
    let Ok(lines) = lines(data) else { return };
    for (number, line) in lines {
        assert!(number >= 1);
        assert!(!line.is_empty() && line.trim() == line);
        if let Ok(request) = parse_line(line) {
            assert!(line.len() <= MAX_BATCH_LINE_BYTES);
            assert_eq!(request.subject.to_base64().len(), 44);
        }
    }
});

//! Arbitrary bytes as a checkpoint note: the signed-note parser, the checkpoint body parser and
//! operator verification must never panic, and whatever parses must re-serialise to the same
//! bytes (one spelling per note, so signatures always cover what a verifier re-reads).

#![no_main]

use libfuzzer_sys::fuzz_target;
use testigo_ledger::PublicKey;
use testigo_ledger::checkpoint::{Checkpoint, SignedNote};
use testigo_ledger::verify::verify_checkpoint;

const ORIGIN: &str = "testigo.example/log/1";
/// RFC 8032 test 1 public key, the key of the seed notes in `fuzz/seeds`.
const LOG_KEY: [u8; 32] = [
    0xd7, 0x5a, 0x98, 0x01, 0x82, 0xb1, 0x0a, 0xb7, 0xd5, 0x4b, 0xfe, 0xd3, 0xc9, 0x64, 0x07, 0x3a,
    0x0e, 0xe1, 0x72, 0xf3, 0xda, 0xa6, 0x23, 0x25, 0xaf, 0x02, 0x1a, 0x68, 0xf7, 0x07, 0x51, 0x1a,
];

fuzz_target!(|data: &[u8]| {
    if let Ok(note) = SignedNote::parse(data) {
        assert_eq!(note.to_text().as_bytes(), data);
        if let Ok(checkpoint) = Checkpoint::parse_body(note.body()) {
            assert_eq!(checkpoint.body(), note.body());
        }
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(checkpoint) = Checkpoint::parse_body(text) {
            assert_eq!(checkpoint.body(), text);
        }
    }
    let _ = verify_checkpoint(data, ORIGIN, &PublicKey(LOG_KEY));
});

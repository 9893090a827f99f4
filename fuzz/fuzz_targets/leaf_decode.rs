//! Arbitrary bytes as a submitted leaf: the envelope parser, the canonical body decoder and the
//! signature check must never panic; whatever parses must re-serialise to the same bytes (one
//! byte string per leaf and per body, so hashes and signatures compare by bytes).

#![no_main]

use libfuzzer_sys::fuzz_target;
use testigo_ledger::entry::{Body, Leaf, verify_leaf};

fuzz_target!(|data: &[u8]| {
    if let Ok(leaf) = Leaf::from_bytes(data) {
        assert_eq!(leaf.to_bytes(), data);
        if let Ok(body) = leaf.decode_body() {
            assert_eq!(body.to_bytes(), leaf.body);
        }
        let _ = verify_leaf("testigo.example/log/1", &leaf);
    }
    if let Ok(body) = Body::from_bytes(data) {
        assert_eq!(body.to_bytes(), data);
    }
});

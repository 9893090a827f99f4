//! Arbitrary bytes as split-view or fork evidence JSON (what `testigo-audit evidence` and a
//! witness's `GET /v1/evidence` readers take): decoding never panics, decoded evidence encodes
//! and decodes back to itself, and verifying it against a fixed log returns an answer without
//! panicking.

#![no_main]

use libfuzzer_sys::fuzz_target;
use testigo_ledger::PublicKey;
use testigo_ledger::checkpoint::Evidence;

fuzz_target!(|data: &[u8]| {
    if let Ok(evidence) = serde_json::from_slice::<Evidence>(data) {
        let again = serde_json::to_vec(&evidence).expect("evidence encodes");
        let back: Evidence = serde_json::from_slice(&again).expect("its encoding decodes");
        assert_eq!(back, evidence);
        let _ = evidence.verify("fuzz.example/log", &PublicKey([7; 32]));
    }
});

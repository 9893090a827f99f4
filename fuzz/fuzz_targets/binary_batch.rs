//! Arbitrary bytes as the binary batch form of `POST /v1/entries`: splitting never panics, and
//! a body that splits re-encodes to the same bytes.

#![no_main]

use libfuzzer_sys::fuzz_target;
use testigo_ledger::api::{encode_binary_batch, decode_binary_batch};

fuzz_target!(|data: &[u8]| {
    if let Ok(leaves) = decode_binary_batch(data) {
        assert_eq!(encode_binary_batch(leaves.iter().copied()), data);
    }
});

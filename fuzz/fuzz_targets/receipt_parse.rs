//! Arbitrary bytes as a receipt: parsing never panics, a receipt that parses re-encodes to the
//! same bytes, and verifying it against a fixed key returns an answer without panicking.

#![no_main]

use libfuzzer_sys::fuzz_target;
use testigo_ledger::PublicKey;
use testigo_ledger::receipt::Receipt;

fuzz_target!(|data: &[u8]| {
    if let Ok(receipt) = Receipt::parse(data) {
        assert_eq!(receipt.to_text().as_bytes(), data);
        let _ = receipt.verify(&PublicKey([7; 32]), None);
    }
});

//! Arbitrary bytes as a form body posted to the wallet's dashboard: decoding must never panic,
//! and every name and value it gives back is no longer than the body (an escape only shrinks).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for (name, value) in testigo_wallet::dashboard::parse_form(data) {
        // Lossy UTF-8 may widen an invalid byte to U+FFFD (3 bytes), never more.
        assert!(name.len() <= 3 * data.len() && value.len() <= 3 * data.len());
    }
});

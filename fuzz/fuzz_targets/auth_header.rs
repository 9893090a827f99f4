//! Arbitrary text as an `Authorization: Testigo ...` header: parsing and verification must never
//! panic, whatever the input.

#![no_main]

use libfuzzer_sys::fuzz_target;
use testigo_ledger::auth::RequestAuth;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(auth) = RequestAuth::parse(text) {
            let _ = auth.verify("GET", "/v1/entries?start=0&end=10", auth.ts);
        }
    }
});

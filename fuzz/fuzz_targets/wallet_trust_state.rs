//! Arbitrary bytes as a wallet trust state (`trust.json`): parsing never panics, a state that
//! parses survives a round trip through its own encoding unchanged, and verifying it (which
//! believes nothing it reads) returns an answer without panicking.

#![no_main]

use libfuzzer_sys::fuzz_target;
use testigo_wallet::state::WalletState;

fuzz_target!(|data: &[u8]| {
    let Ok(state) = WalletState::parse(data) else {
        return;
    };
    let encoded = serde_json::to_vec(&state).expect("a parsed state encodes");
    let again = WalletState::parse(&encoded).expect("its encoding parses");
    assert_eq!(again, state);
    let _ = state.verify();
});

//! Arbitrary bytes as a wallet key file (`key.age`): opening never panics, and a genuine key
//! file with bytes changed either opens to the very key sealed in it or is refused (age's
//! header MAC and payload tags leave no third outcome).

#![no_main]

use ed25519_dalek::SigningKey;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use testigo_wallet::keyfile::{open, seal};

const PASSPHRASE: &str = "fuzz passphrase";

/// One key file sealed at the lowest work factor, so each run costs microseconds.
fn genuine() -> &'static (SigningKey, Vec<u8>) {
    static FILE: OnceLock<(SigningKey, Vec<u8>)> = OnceLock::new();
    FILE.get_or_init(|| {
        let key = SigningKey::from_bytes(&[42; 32]);
        let file = seal(&key, PASSPHRASE, 1);
        (key, file)
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode % 2 == 0 {
        let _ = open(rest, PASSPHRASE);
        return;
    }
    // Flip the bytes `rest` names (position, xor) in a genuine file.
    let (key, file) = genuine();
    let mut changed = file.clone();
    for pair in rest.chunks_exact(3) {
        let at = usize::from(u16::from_be_bytes([pair[0], pair[1]])) % changed.len();
        changed[at] ^= pair[2];
    }
    match open(&changed, PASSPHRASE) {
        Ok(opened) => assert_eq!(opened.to_bytes(), key.to_bytes()),
        Err(_) => assert_ne!(changed, *file),
    }
});

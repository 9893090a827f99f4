//! Arbitrary JSON as an account answer and as a history page, run through the wallet's chain
//! of trust (`verify_account`, `HistoryCursor::push_page`): never a panic, whatever the node sends.

#![no_main]

use libfuzzer_sys::fuzz_target;
use testigo_ledger::api::{AccountProof, History};
use testigo_ledger::checkpoint::Checkpoint;
use testigo_ledger::state::LogParams;
use testigo_ledger::verify::{HistoryCursor, VerifiedAccount, verify_account};
use testigo_ledger::{Hash, PublicKey};

const NOTE: &str = "testigo.fuzz/log\n3\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n\u{2014} testigo.fuzz/log AAAAAAAA\n";

fuzz_target!(|data: &[u8]| {
    let log = LogParams {
        origin: "testigo.fuzz/log".into(),
        log_key: PublicKey([1; 32]),
        fee_bps: 0,
        currency: "EUR".into(),
        decimals: 2,
        witnesses: Vec::new(),
        quorum: 0,
        regulators: Vec::new(),
        genesis_leaf: Hash([0; 32]),
    };
    if let Ok(answer) = serde_json::from_slice::<AccountProof>(data) {
        let _ = verify_account(NOTE, &log, &answer.key, &answer);
        if let Ok(note) = std::str::from_utf8(data) {
            let _ = verify_account(note, &log, &answer.key, &answer);
        }
    }
    if let Ok(page) = serde_json::from_slice::<History>(data) {
        let account = VerifiedAccount {
            key: page.key,
            checkpoint: Checkpoint::new("testigo.fuzz/log", page.checkpoint_size, Hash([2; 32]))
                .expect("a valid origin"),
            cosigners: Vec::new(),
            as_of: page.checkpoint_size.saturating_sub(1),
            record: None,
        };
        let mut cursor = HistoryCursor::new(&account);
        let _ = cursor.push_page(&page);
    }
});

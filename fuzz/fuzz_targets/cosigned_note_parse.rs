//! Arbitrary bytes as a cosigned checkpoint: parsing, cosignature decoding, quorum checks and
//! adding a cosignature must never panic, and whatever parses must re-serialise exactly.

#![no_main]

use libfuzzer_sys::fuzz_target;
use testigo_ledger::PublicKey;
use testigo_ledger::checkpoint::{Cosignature, CosignedCheckpoint, WitnessKey};
use testigo_ledger::verify::{verify_quorum, verify_witnessed};

const ORIGIN: &str = "testigo.example/log/1";
/// RFC 8032 test 1 public key: the log key of the seed notes.
const LOG_KEY: [u8; 32] = [
    0xd7, 0x5a, 0x98, 0x01, 0x82, 0xb1, 0x0a, 0xb7, 0xd5, 0x4b, 0xfe, 0xd3, 0xc9, 0x64, 0x07, 0x3a,
    0x0e, 0xe1, 0x72, 0xf3, 0xda, 0xa6, 0x23, 0x25, 0xaf, 0x02, 0x1a, 0x68, 0xf7, 0x07, 0x51, 0x1a,
];
/// RFC 8032 test 2 public key: witness `witness.example/w1` of the seed notes.
const WITNESS_KEY: [u8; 32] = [
    0x3d, 0x40, 0x17, 0xc3, 0xe8, 0x43, 0x89, 0x5a, 0x92, 0xb7, 0x0a, 0xa7, 0x4d, 0x1b, 0x7e, 0xbc,
    0x9c, 0x98, 0x2c, 0xcf, 0x2e, 0xc4, 0x96, 0x8c, 0xc0, 0xcd, 0x55, 0xf1, 0x2a, 0xf4, 0x66, 0x0c,
];

fuzz_target!(|data: &[u8]| {
    let witnesses = [
        WitnessKey {
            name: "witness.example/w1".into(),
            key: PublicKey(WITNESS_KEY),
        },
        // An invalid point and a duplicate: configuration mistakes must not panic either.
        WitnessKey {
            name: "witness.example/w2".into(),
            key: PublicKey([0xff; 32]),
        },
        WitnessKey {
            name: "witness.example/w1".into(),
            key: PublicKey(WITNESS_KEY),
        },
    ];
    let log_key = PublicKey(LOG_KEY);
    if let Ok(cosigned) = CosignedCheckpoint::parse(data) {
        assert_eq!(cosigned.to_text().as_bytes(), data);
        let _ = verify_quorum(cosigned.note(), &witnesses, 1);
        let _ = cosigned.verify(ORIGIN, &log_key, &witnesses, 2);
        for cosignature in cosigned.cosignatures() {
            let line = cosignature.to_note_signature();
            assert_eq!(
                Cosignature::from_note_signature(&line).as_ref(),
                Ok(&cosignature)
            );
            let _ = cosigned
                .clone()
                .add_cosignature(&cosignature, &witnesses[0].key);
        }
    }
    let _ = verify_witnessed(data, ORIGIN, &log_key, &witnesses, 1);
});

//! Arbitrary bytes as a state-map proof, in its binary and JSON forms: decoding and verification
//! must never panic, and a decoded binary proof must re-encode to the same bytes.

#![no_main]

use libfuzzer_sys::fuzz_target;
use testigo_ledger::map::MapProof;
use testigo_ledger::verify::verify_map_proof;
use testigo_ledger::Hash;

fuzz_target!(|data: &[u8]| {
    let root = Hash([7; 32]);
    let key = [9u8; 32];
    if let Ok(proof) = MapProof::from_bytes(data) {
        assert_eq!(proof.to_bytes(), data);
        let _ = verify_map_proof(&root, &key, Some(b"value"), &proof);
        let _ = verify_map_proof(&root, &key, None, &proof);
    }
    if let Ok(proof) = serde_json::from_slice::<MapProof>(data) {
        let _ = verify_map_proof(&root, &key, None, &proof);
    }
});

//! The committed golden vectors are exactly what the code produces, and they verify with the
//! public verification functions alone.

#[path = "support/golden.rs"]
mod golden;

use serde_json::Value;
use testigo_ledger::checkpoint::WitnessKey;
use testigo_ledger::entry::{Body, Leaf, verify_leaf};
use testigo_ledger::verify::{verify_consistency, verify_inclusion, verify_witnessed};
use testigo_ledger::{Blake3, Hash, PublicKey};

fn committed(name: &str) -> String {
    let path = golden::dir().join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run `cargo run -p testigo-ledger --example vectors`",
            path.display()
        )
    })
}

#[test]
fn committed_vectors_are_what_the_code_produces() {
    for (name, text) in golden::files() {
        assert!(
            committed(name) == text,
            "{name} differs from what the code produces: a normative format changed. If intended, \
             regenerate with `cargo run -p testigo-ledger --example vectors` and update docs/PROTOCOL.md"
        );
    }
}

fn hash(v: &Value) -> Hash {
    Hash(
        hex::decode(v.as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap(),
    )
}

#[test]
fn leaf_vectors_parse_decode_and_verify() {
    let doc: Value = serde_json::from_str(&committed("leaves.json")).unwrap();
    let origin = doc["origin"].as_str().unwrap();
    for item in doc["leaves"].as_array().unwrap() {
        let bytes = hex::decode(item["leaf_hex"].as_str().unwrap()).unwrap();
        let leaf = Leaf::from_bytes(&bytes).unwrap();
        assert_eq!(verify_leaf(origin, &leaf), Ok(()));
        let body = leaf.decode_body().unwrap();
        let from_json: Body = serde_json::from_value(item["body_json"].clone()).unwrap();
        assert_eq!(body, from_json);
        assert_eq!(leaf.hash(&Blake3), hash(&item["leaf_hash_hex"]));
    }
}

#[test]
fn tree_vectors_verify() {
    let doc: Value = serde_json::from_str(&committed("tree.json")).unwrap();
    let leaf_hashes: Vec<Hash> = doc["leaf_hashes_hex"]
        .as_array()
        .unwrap()
        .iter()
        .map(hash)
        .collect();
    let roots: Vec<Hash> = doc["roots_hex_by_size"]
        .as_array()
        .unwrap()
        .iter()
        .map(hash)
        .collect();
    for p in doc["inclusion"].as_array().unwrap() {
        let (index, size) = (p["index"].as_u64().unwrap(), p["size"].as_u64().unwrap());
        let path: Vec<Hash> = p["path_hex"].as_array().unwrap().iter().map(hash).collect();
        verify_inclusion(
            &Blake3,
            index,
            size,
            &leaf_hashes[index as usize],
            &path,
            &roots[size as usize],
        )
        .unwrap();
    }
    for p in doc["consistency"].as_array().unwrap() {
        let (from, to) = (p["from"].as_u64().unwrap(), p["to"].as_u64().unwrap());
        let path: Vec<Hash> = p["path_hex"].as_array().unwrap().iter().map(hash).collect();
        verify_consistency(
            &Blake3,
            from,
            to,
            &roots[from as usize],
            &roots[to as usize],
            &path,
        )
        .unwrap();
    }
}

#[test]
fn checkpoint_vectors_verify_with_their_quorum() {
    let doc: Value = serde_json::from_str(&committed("checkpoints.json")).unwrap();
    let key = |v: &Value| {
        PublicKey(
            hex::decode(v.as_str().unwrap())
                .unwrap()
                .try_into()
                .unwrap(),
        )
    };
    let witnesses: Vec<WitnessKey> = doc["witnesses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| WitnessKey {
            name: w["name"].as_str().unwrap().into(),
            key: key(&w["key_hex"]),
        })
        .collect();
    let note = doc["cosigned_note"].as_str().unwrap();
    let (checkpoint, cosigners) = verify_witnessed(
        note.as_bytes(),
        doc["origin"].as_str().unwrap(),
        &key(&doc["log_key_hex"]),
        &witnesses,
        2,
    )
    .unwrap();
    assert_eq!(cosigners.len(), 2);
    let tree: Value = serde_json::from_str(&committed("tree.json")).unwrap();
    let roots = tree["roots_hex_by_size"].as_array().unwrap();
    assert_eq!(*checkpoint.root(), hash(&roots[checkpoint.size() as usize]));
}

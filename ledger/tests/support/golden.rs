//! Testigo's own golden vectors: built from fixed seeds, written by
//! `cargo run -p testigo-ledger --example vectors`, and re-derived by `tests/golden.rs`, which
//! fails if the code no longer produces exactly the committed bytes.
#![allow(dead_code, unreachable_pub)]

use ed25519_dalek::SigningKey;
use serde_json::{Value, json};
use testigo_ledger::checkpoint::{Checkpoint, CosignedCheckpoint, cosign, sign_checkpoint};
use testigo_ledger::entry::signature::signing_message;
use testigo_ledger::entry::*;
use testigo_ledger::merkle::{MemoryStore, consistency_proof, inclusion_proof, root};
use testigo_ledger::{Blake3, Hash, PublicKey, TreeHasher};

pub const ORIGIN: &str = "vectors.testigo.example/log/1";
/// Every sequenced leaf in the vectors is stamped with this time plus its index (Unix ms).
pub const T0: u64 = 1_796_000_000_000;
pub const FILES: [&str; 3] = ["leaves.json", "tree.json", "checkpoints.json"];

fn seed(label: &str) -> [u8; 32] {
    *blake3::hash(format!("testigo vectors: {label}").as_bytes()).as_bytes()
}

fn key(label: &str) -> SigningKey {
    SigningKey::from_bytes(&seed(label))
}

fn pk(label: &str) -> PublicKey {
    PublicKey(key(label).verifying_key().to_bytes())
}

fn hex(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

fn hashes(hs: &[Hash]) -> Vec<String> {
    hs.iter().map(|h| hex(h.as_bytes())).collect()
}

/// One entry of each kind, with its signer's label.
fn entries() -> Vec<(&'static str, Body)> {
    let operator = "operator";
    vec![
        (
            operator,
            Body::Genesis(Genesis {
                nonce: 0,
                origin: ORIGIN.into(),
                log_key: pk(operator),
                fee_bps: 500,
                currency: "EUR".into(),
                decimals: 2,
                witnesses: vec![
                    WitnessKey {
                        name: "witness-a.example".into(),
                        key: pk("witness a"),
                    },
                    WitnessKey {
                        name: "witness-b.example".into(),
                        key: pk("witness b"),
                    },
                ],
                quorum: 2,
                regulators: vec![pk("regulator")],
                operator_salt: seed("operator salt"),
            }),
        ),
        (
            operator,
            Body::EnrollSubject(EnrollSubject {
                nonce: 1,
                subject: pk("subject"),
                salt: seed("subject salt"),
            }),
        ),
        (
            operator,
            Body::RegisterAccessor(RegisterAccessor {
                nonce: 2,
                accessor: pk("accessor"),
                display_name: "Acme Analytics".into(),
                legal_entity_id: "LEI-5493001KJTIIGC8Y1R12".into(),
                salt: seed("accessor salt"),
            }),
        ),
        (
            operator,
            Body::Deposit(Deposit {
                nonce: 3,
                accessor: pk("accessor"),
                amount: 10_000,
                reference: "wire 2026-11-29/1".into(),
            }),
        ),
        (
            "subject",
            Body::GrantConsent(GrantConsent {
                nonce: 1,
                accessor: Some(pk("accessor")),
                categories: vec![DataCategory::Location, DataCategory::BrowserHistory],
                purposes: vec![Purpose::ResearchAndDevelopment],
                price: 25,
                valid_from: T0,
                valid_until: Some(T0 + 86_400_000),
            }),
        ),
        (
            "accessor",
            Body::Access(Access {
                nonce: 1,
                subject: pk("subject"),
                category: DataCategory::Location,
                purpose: Purpose::ResearchAndDevelopment,
                legal_basis: LegalBasis::Consent,
                consent: Some(4),
                price: 25,
            }),
        ),
        (
            "subject",
            Body::RevokeConsent(RevokeConsent {
                nonce: 2,
                consent: 4,
            }),
        ),
        (
            "subject",
            Body::Claim(Claim {
                nonce: 3,
                amount: 20,
                payout_ref: Hash(seed("payout instructions")),
            }),
        ),
        (
            operator,
            Body::PayoutSettled(PayoutSettled {
                nonce: 4,
                claim: 7,
                settlement_ref: "payout 2026-11-29/1".into(),
            }),
        ),
        (
            operator,
            Body::StateRoot(StateRoot {
                as_of: 9,
                map_root: Hash(seed("map root")),
            }),
        ),
    ]
}

/// The sequenced leaves of the vectors, in order.
pub fn leaves() -> Vec<Leaf> {
    entries()
        .into_iter()
        .enumerate()
        .map(|(i, (signer, body))| sign_body(ORIGIN, &key(signer), &body).sequenced(T0 + i as u64))
        .collect()
}

fn leaves_json() -> Value {
    let items: Vec<Value> = entries()
        .into_iter()
        .zip(leaves())
        .enumerate()
        .map(|(i, ((signer, body), leaf))| {
            json!({
                "index": i,
                "kind": body.kind().as_str(),
                "signer_seed_hex": hex(&seed(signer)),
                "signer_hex": hex(leaf.signer.as_bytes()),
                "body_json": serde_json::to_value(&body).expect("bodies serialise"),
                "body_hex": hex(&leaf.body),
                "signing_message_hex": hex(&signing_message(ORIGIN, &leaf.body)),
                "signature_hex": hex(&leaf.signature),
                "sequenced_at": leaf.sequenced_at,
                "leaf_hex": hex(&leaf.to_bytes()),
                "leaf_hash_hex": hex(leaf.hash(&Blake3).as_bytes()),
            })
        })
        .collect();
    json!({
        "about": "One entry of each kind, signed for the origin below with keys from the given seeds (RFC 8032 key generation), stamped with sequenced_at. Leaf hash = BLAKE3(0x00 || leaf). See docs/PROTOCOL.md sections 2-4.",
        "origin": ORIGIN,
        "leaves": items,
    })
}

fn store() -> (MemoryStore, Vec<Hash>) {
    let leaf_hashes: Vec<Hash> = leaves().iter().map(|l| l.hash(&Blake3)).collect();
    let mut store = MemoryStore::new();
    store
        .append(&Blake3, &leaf_hashes)
        .expect("memory store appends");
    (store, leaf_hashes)
}

fn tree_json() -> Value {
    let (store, leaf_hashes) = store();
    let n = leaf_hashes.len() as u64;
    let roots: Vec<String> = (0..=n)
        .map(|size| hex(root(&Blake3, &store, size).expect("stored").as_bytes()))
        .collect();
    let mut inclusion = vec![];
    let mut consistency = vec![];
    for size in 1..=n {
        for index in 0..size {
            let path = inclusion_proof(&Blake3, &store, index, size).expect("stored");
            inclusion.push(json!({ "index": index, "size": size, "path_hex": hashes(&path) }));
        }
        for from in 1..size {
            let path = consistency_proof(&Blake3, &store, from, size).expect("stored");
            consistency.push(json!({ "from": from, "to": size, "path_hex": hashes(&path) }));
        }
    }
    json!({
        "about": "The RFC 9162 tree over the leaf hashes of leaves.json with BLAKE3 (leaf prefix 0x00, node prefix 0x01, empty root BLAKE3(\"\")): roots for every size, every inclusion proof and every consistency proof.",
        "leaf_hashes_hex": hashes(&leaf_hashes),
        "empty_root_hex": hex(Blake3.empty_root().as_bytes()),
        "roots_hex_by_size": roots,
        "inclusion": inclusion,
        "consistency": consistency,
    })
}

fn checkpoints_json() -> Value {
    let (store, leaf_hashes) = store();
    let size = leaf_hashes.len() as u64;
    let checkpoint = Checkpoint::new(ORIGIN, size, root(&Blake3, &store, size).expect("stored"))
        .expect("valid origin");
    let signed = sign_checkpoint(&checkpoint, &key("operator"));
    let mut cosigned = CosignedCheckpoint::from_note(signed.clone()).expect("operator note");
    let witnesses = [
        ("witness-a.example", "witness a", 1_796_000_100u64),
        ("witness-b.example", "witness b", 1_796_000_160),
    ];
    for (name, label, time) in witnesses {
        let cosignature =
            cosign(&checkpoint, name, &key(label), time).expect("valid name and time");
        cosigned
            .add_cosignature(&cosignature, &pk(label))
            .expect("cosignature verifies");
    }
    json!({
        "about": "A C2SP signed-note checkpoint of tree.json's full tree, signed by the log key, then cosigned (tlog-cosignature v1) by two witnesses at the given times. Key hashes: SHA-256(name || \"\\n\" || type || key)[:4], type 0x01 for the log key, 0x04 for cosignatures.",
        "origin": ORIGIN,
        "log_key_seed_hex": hex(&seed("operator")),
        "log_key_hex": hex(pk("operator").as_bytes()),
        "witnesses": witnesses.iter().map(|(name, label, time)| json!({
            "name": name, "key_seed_hex": hex(&seed(label)), "key_hex": hex(pk(label).as_bytes()), "time": time,
        })).collect::<Vec<_>>(),
        "quorum": 2,
        "checkpoint_body": checkpoint.body(),
        "signed_note": signed.to_text(),
        "cosigned_note": cosigned.to_text(),
    })
}

/// The contents of every vector file, by file name.
pub fn files() -> Vec<(&'static str, String)> {
    let render = |v: Value| serde_json::to_string_pretty(&v).expect("json renders") + "\n";
    vec![
        (FILES[0], render(leaves_json())),
        (FILES[1], render(tree_json())),
        (FILES[2], render(checkpoints_json())),
    ]
}

/// Where the vector files live.
pub fn dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/testigo")
}

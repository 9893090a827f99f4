//! RFC 6962 conformance (DESIGN §3): the Merkle code, run with SHA-256, against the public
//! transparency-dev vectors in `tests/vectors/rfc6962` (tree roots, inclusion and consistency
//! proofs, and every must-fail case).

use std::fs;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::Deserialize;
use testigo_ledger::merkle::{MemoryStore, consistency_proof, inclusion_proof_with_leaf, root};
use testigo_ledger::verify::{ProofError, verify_consistency, verify_inclusion};
use testigo_ledger::{Hash, Sha256, TreeHasher};

fn vectors() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/rfc6962")
}

#[derive(Deserialize)]
struct Tree {
    leaf_inputs_hex: Vec<String>,
    roots_hex_by_size: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Inclusion {
    leaf_idx: u64,
    tree_size: u64,
    root: String,
    leaf_hash: String,
    proof: Option<Vec<String>>,
    want_err: bool,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Consistency {
    size1: u64,
    size2: u64,
    root1: String,
    root2: String,
    proof: Option<Vec<String>>,
    want_err: bool,
}

/// Every `*.json` under `dir`, parsed, with its path for failure messages.
fn load<T: for<'de> Deserialize<'de>>(dir: &str) -> Vec<(PathBuf, T)> {
    let mut files = Vec::new();
    for case in fs::read_dir(vectors().join(dir)).unwrap() {
        for file in fs::read_dir(case.unwrap().path()).unwrap() {
            let path = file.unwrap().path();
            let text = fs::read_to_string(&path).unwrap();
            let vector = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path:?}: {e}"));
            files.push((path, vector));
        }
    }
    files.sort_by(|a, b| a.0.cmp(&b.0));
    files
}

/// A vector hash as the verifier sees it. Hashes that are not 32 bytes (the "garbage" and
/// "wrong leaf" cases) cannot even be parsed into a [`Hash`]; they are zero-padded or truncated
/// to 32 bytes so that the verifier itself must still reject them. Returns whether it was exact.
fn hash(b64: &str) -> (Hash, bool) {
    let bytes = BASE64.decode(b64).unwrap();
    let exact = bytes.len() == 32;
    assert_eq!(
        Hash::from_base64(b64).is_some(),
        exact,
        "the wire parser must refuse {b64:?}"
    );
    let mut out = [0u8; 32];
    let n = bytes.len().min(32);
    out[..n].copy_from_slice(&bytes[..n]);
    (Hash(out), exact)
}

fn hashes(list: &Option<Vec<String>>) -> (Vec<Hash>, bool) {
    let parsed: Vec<(Hash, bool)> = list.iter().flatten().map(|b| hash(b)).collect();
    let exact = parsed.iter().all(|p| p.1);
    (parsed.into_iter().map(|p| p.0).collect(), exact)
}

/// The tree of `tree.json`'s eight leaves, appended one at a time, its leaf hashes and its
/// roots per size.
fn tree() -> (MemoryStore, Vec<Hash>, Vec<Hash>) {
    let text = fs::read_to_string(vectors().join("tree.json")).unwrap();
    let tree: Tree = serde_json::from_str(&text).unwrap();
    let mut store = MemoryStore::new();
    let mut roots = vec![Sha256.empty_root()];
    let mut leaves = Vec::new();
    for input in &tree.leaf_inputs_hex {
        let leaf = Sha256.hash_leaf(&hex::decode(input).unwrap());
        roots.push(store.append(&Sha256, &[leaf]).unwrap().root);
        leaves.push(leaf);
    }
    let want: Vec<Hash> = tree
        .roots_hex_by_size
        .iter()
        .map(|h| Hash(hex::decode(h).unwrap().try_into().unwrap()))
        .collect();
    assert_eq!(want.len(), 9);
    assert_eq!(roots, want, "integrate's roots differ from tree.json");
    (store, leaves, want)
}

#[test]
fn tree_roots_for_sizes_0_to_8_match() {
    let (store, leaves, want) = tree();
    for (size, want) in want.iter().enumerate() {
        assert_eq!(
            root(&Sha256, &store, size as u64).unwrap(),
            *want,
            "root({size})"
        );
    }
    // The same tree appended in one batch.
    let mut batch = MemoryStore::new();
    assert_eq!(batch.append(&Sha256, &leaves).unwrap().root, want[8]);
}

#[test]
fn inclusion_vectors_accept_happy_paths_and_reject_every_bad_case() {
    let files = load::<Inclusion>("inclusion");
    assert_eq!(files.len(), 64, "inclusion vector files");
    let mut rejected = 0;
    for (path, v) in &files {
        let (root, root_ok) = hash(&v.root);
        let (leaf, leaf_ok) = hash(&v.leaf_hash);
        let (proof, proof_ok) = hashes(&v.proof);
        let result = verify_inclusion(&Sha256, v.leaf_idx, v.tree_size, &leaf, &proof, &root);
        if v.want_err {
            assert!(result.is_err(), "{path:?} was accepted");
            rejected += 1;
        } else {
            assert!(
                root_ok && leaf_ok && proof_ok,
                "{path:?}: malformed happy path"
            );
            result.unwrap_or_else(|e| panic!("{path:?} was rejected: {e}"));
        }
    }
    assert_eq!(rejected, 60);
}

#[test]
fn consistency_vectors_accept_happy_paths_and_reject_every_bad_case() {
    let files = load::<Consistency>("consistency");
    assert_eq!(files.len(), 63, "consistency vector files");
    let mut rejected = 0;
    for (path, v) in &files {
        let (root1, ok1) = hash(&v.root1);
        let (root2, ok2) = hash(&v.root2);
        let (proof, proof_ok) = hashes(&v.proof);
        let result = verify_consistency(&Sha256, v.size1, v.size2, &root1, &root2, &proof);
        if v.want_err {
            assert!(result.is_err(), "{path:?} was accepted");
            rejected += 1;
        } else {
            assert!(ok1 && ok2 && proof_ok, "{path:?}: malformed happy path");
            result.unwrap_or_else(|e| panic!("{path:?} was rejected: {e}"));
        }
    }
    assert_eq!(rejected, 59);
}

#[test]
fn generated_proofs_equal_the_happy_path_vectors() {
    let (store, _, roots) = tree();
    for (path, v) in load::<Inclusion>("inclusion")
        .iter()
        .filter(|(_, v)| !v.want_err)
    {
        let (leaf, proof) = inclusion_proof_with_leaf(&Sha256, &store, v.leaf_idx, v.tree_size)
            .unwrap_or_else(|e| panic!("{path:?}: {e}"));
        assert_eq!(leaf, hash(&v.leaf_hash).0, "{path:?}: leaf hash");
        assert_eq!(proof, hashes(&v.proof).0, "{path:?}: proof");
        assert_eq!(
            roots[v.tree_size as usize],
            hash(&v.root).0,
            "{path:?}: root"
        );
    }
    for (path, v) in load::<Consistency>("consistency")
        .iter()
        .filter(|(_, v)| !v.want_err)
    {
        let proof = consistency_proof(&Sha256, &store, v.size1, v.size2)
            .unwrap_or_else(|e| panic!("{path:?}: {e}"));
        assert_eq!(proof, hashes(&v.proof).0, "{path:?}: proof");
        assert_eq!(roots[v.size1 as usize], hash(&v.root1).0, "{path:?}: root1");
        assert_eq!(roots[v.size2 as usize], hash(&v.root2).0, "{path:?}: root2");
    }
}

#[test]
fn every_generated_proof_in_the_vector_tree_verifies() {
    let (store, _, roots) = tree();
    for size in 0..=8u64 {
        for index in 0..size {
            let (leaf, proof) = inclusion_proof_with_leaf(&Sha256, &store, index, size).unwrap();
            verify_inclusion(&Sha256, index, size, &leaf, &proof, &roots[size as usize])
                .unwrap_or_else(|e| panic!("inclusion {index} in {size}: {e}"));
        }
        for from in 0..=size {
            let proof = consistency_proof(&Sha256, &store, from, size).unwrap();
            let (old, new) = (&roots[from as usize], &roots[size as usize]);
            let verdict = verify_consistency(&Sha256, from, size, old, new, &proof);
            if from == 0 && size > 0 {
                // As the vectors' two size1 = 0 cases and transparency-dev/merkle: a proof from
                // the empty tree proves nothing, so none is accepted, not even the empty one.
                assert_eq!(
                    verdict,
                    Err(ProofError::FromEmptyTree { to: size }),
                    "consistency 0 to {size}"
                );
            } else {
                verdict.unwrap_or_else(|e| panic!("consistency {from} to {size}: {e}"));
            }
        }
    }
}

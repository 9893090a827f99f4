//! Split-view evidence: valid for both forms, invalid when anything in it is tampered with, and
//! verifiable again after a trip through its JSON file form.

mod checkpoint_support;

use checkpoint_support::*;
use testigo_ledger::Hash;
use testigo_ledger::checkpoint::{CheckpointError, Evidence, EvidenceError, LeafProof, Which};
use testigo_ledger::verify::ProofError;

fn check(evidence: &Evidence) -> Result<(), EvidenceError> {
    evidence.verify(ORIGIN, &log_public())
}

fn split_view() -> Evidence {
    let honest = leaves("leaf ", 6);
    let mut forked = honest.clone();
    forked[2] = leaves("other ", 1)[0];
    Evidence::SplitView {
        first: signed(6, root(&honest)),
        second: signed(6, root(&forked)),
    }
}

/// An honest tree of 5 leaves and a 7-leaf tree that rewrote leaf 3.
fn fork() -> Evidence {
    let honest = leaves("leaf ", 5);
    let mut forked = leaves("leaf ", 7);
    forked[3] = leaves("rewritten ", 1)[0];
    Evidence::Fork {
        first: signed(5, root(&honest)),
        second: signed(7, root(&forked)),
        index: 3,
        first_leaf: LeafProof {
            leaf_hash: honest[3],
            proof: inclusion_proof(3, &honest),
        },
        second_leaf: LeafProof {
            leaf_hash: forked[3],
            proof: inclusion_proof(3, &forked),
        },
    }
}

#[test]
fn valid_evidence_of_both_forms() {
    assert_eq!(check(&split_view()), Ok(()));
    assert_eq!(check(&fork()), Ok(()));
}

#[test]
fn split_view_needs_two_signed_conflicting_checkpoints_of_one_size() {
    let Evidence::SplitView { first, second } = split_view() else {
        unreachable!()
    };
    let same = Evidence::SplitView {
        first: first.clone(),
        second: first.clone(),
    };
    assert_eq!(check(&same), Err(EvidenceError::SameRoot { size: 6 }));
    let smaller = signed(5, root(&leaves("leaf ", 5)));
    let sizes = Evidence::SplitView {
        first: first.clone(),
        second: smaller,
    };
    assert_eq!(
        check(&sizes),
        Err(EvidenceError::SizesDiffer {
            first: 6,
            second: 5
        })
    );

    // Tampered signature, forged root (signature no longer covers it), another key, another log.
    let bad_sig = Evidence::SplitView {
        first: first.clone(),
        second: flip_signature(&second),
    };
    assert_eq!(
        check(&bad_sig),
        Err(EvidenceError::Checkpoint {
            which: Which::Second,
            source: CheckpointError::SignatureInvalid
        })
    );
    let root_line = second.lines().nth(2).unwrap();
    let forged = second.replace(root_line, &Hash([1; 32]).to_base64());
    let forged = Evidence::SplitView {
        first: forged,
        second: second.clone(),
    };
    assert_eq!(
        check(&forged),
        Err(EvidenceError::Checkpoint {
            which: Which::First,
            source: CheckpointError::SignatureInvalid
        })
    );
    let stranger = public(&witness_key(7));
    assert!(matches!(
        split_view().verify(ORIGIN, &stranger),
        Err(EvidenceError::Checkpoint {
            which: Which::First,
            source: CheckpointError::NoLogSignature { .. }
        })
    ));
    assert!(matches!(
        split_view().verify("other.example/log", &log_public()),
        Err(EvidenceError::Checkpoint {
            source: CheckpointError::OriginMismatch { .. },
            ..
        })
    ));
}

/// Changes the last base64 character of the operator's signature by one data bit.
fn flip_signature(note: &str) -> String {
    let line = note.lines().last().unwrap();
    let (head, tail) = line.split_at(line.len() - 2); // "..X=": X carries 4 data bits, 2 zero
    let c = head.chars().last().unwrap();
    let flipped = if c == 'A' { 'Q' } else { 'A' };
    note.replace(line, &format!("{}{flipped}{tail}", &head[..head.len() - 1]))
}

#[test]
fn fork_rejects_tampered_leaves_and_proofs() {
    let Evidence::Fork {
        first,
        second,
        index,
        first_leaf,
        second_leaf,
    } = fork()
    else {
        unreachable!()
    };
    let with = |index: u64, a: &LeafProof, b: &LeafProof| Evidence::Fork {
        first: first.clone(),
        second: second.clone(),
        index,
        first_leaf: a.clone(),
        second_leaf: b.clone(),
    };

    let mut leaf = second_leaf.clone();
    leaf.leaf_hash = leaves("forged ", 1)[0];
    assert!(matches!(
        check(&with(index, &first_leaf, &leaf)),
        Err(EvidenceError::Inclusion {
            which: Which::Second,
            source: ProofError::RootMismatch { .. }
        })
    ));
    let mut proof = first_leaf.clone();
    proof.proof[1].0[0] ^= 1;
    assert!(matches!(
        check(&with(index, &proof, &second_leaf)),
        Err(EvidenceError::Inclusion {
            which: Which::First,
            source: ProofError::RootMismatch { .. }
        })
    ));
    let mut short = first_leaf.clone();
    short.proof.pop();
    assert!(matches!(
        check(&with(index, &short, &second_leaf)),
        Err(EvidenceError::Inclusion {
            which: Which::First,
            source: ProofError::WrongLength { .. }
        })
    ));
    // The right leaves at the wrong index.
    assert!(matches!(
        check(&with(2, &first_leaf, &second_leaf)),
        Err(EvidenceError::Inclusion {
            which: Which::First,
            ..
        })
    ));
    // An index the smaller tree does not have yet proves nothing.
    assert_eq!(
        check(&with(5, &first_leaf, &second_leaf)),
        Err(EvidenceError::Inclusion {
            which: Which::First,
            source: ProofError::IndexOutOfRange { index: 5, size: 5 }
        })
    );
    // Both trees agree on leaf 2: no conflict there.
    let honest = leaves("leaf ", 5);
    let agree = LeafProof {
        leaf_hash: honest[2],
        proof: inclusion_proof(2, &honest),
    };
    assert_eq!(
        check(&with(2, &agree, &agree)),
        Err(EvidenceError::SameLeaf { index: 2 })
    );

    let bad_sig = Evidence::Fork {
        first: flip_signature(&first),
        second: second.clone(),
        index,
        first_leaf: first_leaf.clone(),
        second_leaf: second_leaf.clone(),
    };
    assert_eq!(
        check(&bad_sig),
        Err(EvidenceError::Checkpoint {
            which: Which::First,
            source: CheckpointError::SignatureInvalid
        })
    );
}

#[test]
fn an_honest_extension_is_not_a_fork() {
    // The 7-leaf tree extends the 5-leaf one: every leaf below 5 is the same in both.
    let small = leaves("leaf ", 5);
    let large = leaves("leaf ", 7);
    for i in 0..5 {
        let evidence = Evidence::Fork {
            first: signed(5, root(&small)),
            second: signed(7, root(&large)),
            index: i as u64,
            first_leaf: LeafProof {
                leaf_hash: small[i],
                proof: inclusion_proof(i, &small),
            },
            second_leaf: LeafProof {
                leaf_hash: large[i],
                proof: inclusion_proof(i, &large),
            },
        };
        assert_eq!(
            check(&evidence),
            Err(EvidenceError::SameLeaf { index: i as u64 })
        );
    }
}

#[test]
fn json_file_form_round_trips_and_still_verifies() {
    for evidence in [split_view(), fork()] {
        let json = serde_json::to_string_pretty(&evidence).unwrap();
        let back: Evidence = serde_json::from_str(&json).unwrap();
        assert_eq!(back, evidence);
        assert_eq!(check(&back), Ok(()));
    }
    let json: serde_json::Value = serde_json::to_value(fork()).unwrap();
    assert_eq!(json["kind"], "fork");
    assert_eq!(json["index"], 3);
    let first_leaf = leaves("leaf ", 5)[3].to_base64();
    assert_eq!(json["first_leaf"]["leaf_hash"], first_leaf.as_str());
    assert!(
        json["first"]
            .as_str()
            .unwrap()
            .starts_with("testigo.example/log/1\n5\n")
    );
    assert_eq!(
        serde_json::to_value(split_view()).unwrap()["kind"],
        "split_view"
    );
}

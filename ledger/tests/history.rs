//! History verification: the full history passes; one leaf removed, added, reordered or altered
//! fails with the precise reason.

mod common;

use common::fixture::*;
use common::pk;
use common::tree::TestTree;
use testigo_ledger::entry::*;
use testigo_ledger::map::{StateMap, account_map_key};
use testigo_ledger::state::AccountRecord;
use testigo_ledger::verify::{
    HistoryCommitment, HistoryEntry, HistoryError, TreeHead, verify_account_proof, verify_history,
};
use testigo_ledger::{Blake3, Hash, TreeHasher};

struct World {
    f: Fixture,
    tree: TestTree,
    /// Index of the StateRoot whose records commit the histories.
    as_of: u64,
}

/// alice grants, is accessed (twice under consent, once under contract), claims and is paid;
/// acme's grant is revoked; then a StateRoot, then more leaves involving alice after it.
fn world() -> World {
    let mut f = Fixture::parties();
    let c = f.grant("alice", Some("acme"), 2);
    f.access("acme", "alice", c, 40).unwrap();
    f.ok("acme", |nonce| {
        Body::Access(Access {
            legal_basis: LegalBasis::Contract,
            ..access_body(nonce, pk("alice"), None, 0)
        })
    });
    let c2 = f.grant("bob", None, 1);
    f.deposit("zed", 10);
    f.access("zed", "bob", c2, 1).unwrap();
    f.access("acme", "alice", c, 40).unwrap();
    let claim = f
        .ok("alice", |nonce| {
            Body::Claim(Claim {
                nonce,
                amount: 30,
                payout_ref: Hash([3; 32]),
            })
        })
        .index;
    f.ok("operator", |nonce| {
        Body::PayoutSettled(PayoutSettled {
            nonce,
            claim,
            settlement_ref: "P".into(),
        })
    });
    f.ok("alice", |nonce| {
        Body::RevokeConsent(RevokeConsent { nonce, consent: c })
    });
    let as_of = f.state_root().index;
    let c3 = f.grant("alice", None, 0);
    f.access("zed", "alice", c3, 0).unwrap();
    let tree = TestTree::new(
        f.leaves
            .iter()
            .map(|l| Blake3.hash_leaf(&l.to_bytes()))
            .collect(),
    );
    World { f, tree, as_of }
}

impl World {
    fn head(&self) -> TreeHead {
        TreeHead {
            size: self.tree.size(),
            root: self.tree.root(),
        }
    }

    /// The record of `who` committed by the StateRoot at `as_of`, checked against its map proof.
    fn committed(&self, who: &str) -> HistoryCommitment {
        let Body::StateRoot(root) = self.f.leaves[self.as_of as usize].decode_body().unwrap()
        else {
            panic!()
        };
        let map = self.f.engine.map();
        let version = map.latest_version().unwrap().unwrap();
        let (value, proof) = map.prove(&account_map_key(&pk(who)), version).unwrap();
        verify_account_proof(&root.map_root, &pk(who), value.as_deref(), &proof).unwrap();
        HistoryCommitment::of(&AccountRecord::from_bytes(&value.unwrap()).unwrap())
    }

    fn entry(&self, index: u64) -> HistoryEntry {
        HistoryEntry {
            index,
            leaf: self.f.leaves[index as usize].to_bytes(),
            proof: self.tree.proof(index),
        }
    }

    /// `who`'s history up to the StateRoot, with proofs.
    fn history(&self, who: &str) -> Vec<HistoryEntry> {
        self.f
            .history_of(who)
            .into_iter()
            .filter(|(i, _)| *i < self.as_of)
            .map(|(i, _)| self.entry(i))
            .collect()
    }

    fn verify(&self, who: &str, entries: &[HistoryEntry]) -> Result<usize, HistoryError> {
        verify_history(
            &pk(who),
            &self.committed(who),
            self.as_of,
            &self.head(),
            entries,
        )
        .map(|v| v.len())
    }
}

#[test]
fn the_full_history_passes_for_every_account() {
    let w = world();
    for who in ["alice", "bob", "acme", "zed", "operator"] {
        let h = w.history(who);
        assert_eq!(w.verify(who, &h), Ok(h.len()), "{who}");
        assert_eq!(h.len() as u64, w.committed(who).len);
    }
    // alice's includes the payout of her claim; acme's the revocation of the grant naming it.
    let kinds = |who| -> Vec<BodyKind> {
        w.history(who)
            .iter()
            .map(|e| {
                Leaf::from_bytes(&e.leaf)
                    .unwrap()
                    .decode_body()
                    .unwrap()
                    .kind()
            })
            .collect()
    };
    assert!(kinds("alice").contains(&BodyKind::PayoutSettled));
    assert!(kinds("acme").contains(&BodyKind::RevokeConsent));
    assert_eq!(
        verify_history(
            &pk("nobody"),
            &HistoryCommitment::EMPTY,
            w.as_of,
            &w.head(),
            &[]
        ),
        Ok(vec![])
    );
}

#[test]
fn a_removed_leaf_is_missing() {
    let w = world();
    let mut h = w.history("alice");
    let expected_len = h.len() as u64;
    // Withhold the contract-basis access (nothing later refers to it).
    let pos = h.iter().position(|e| {
        matches!(Leaf::from_bytes(&e.leaf).unwrap().decode_body(), Ok(Body::Access(a)) if a.legal_basis == LegalBasis::Contract)
    });
    h.remove(pos.unwrap());
    let last = h.last().unwrap().index;
    assert_eq!(
        w.verify("alice", &h),
        Err(HistoryError::Missing {
            after_index: Some(last),
            expected_len,
            got_len: expected_len - 1
        })
    );
    // Withholding the last one is caught the same way.
    let mut h = w.history("alice");
    h.pop();
    assert!(matches!(
        w.verify("alice", &h),
        Err(HistoryError::Missing { .. })
    ));
}

#[test]
fn an_added_leaf_is_named() {
    let w = world();
    let full = w.history("alice");
    // A real leaf of bob's, with a valid proof, slipped in order: not alice's.
    let bob_leaf = w
        .history("bob")
        .into_iter()
        .find(|e| full.iter().all(|a| a.index != e.index))
        .unwrap();
    let mut h = full.clone();
    let pos = h
        .iter()
        .position(|e| e.index > bob_leaf.index)
        .unwrap_or(h.len());
    h.insert(pos, bob_leaf.clone());
    assert_eq!(
        w.verify("alice", &h),
        Err(HistoryError::NotInvolved {
            index: bob_leaf.index
        })
    );
    // A leaf of alice's from after the committed state.
    let mut h = full.clone();
    let later = w.f.history_of("alice").last().unwrap().0;
    h.push(w.entry(later));
    assert_eq!(
        w.verify("alice", &h),
        Err(HistoryError::BeyondCommitment {
            index: later,
            as_of: w.as_of
        })
    );
    // One of hers twice.
    let mut h = full.clone();
    h.insert(3, full[2].clone());
    assert_eq!(
        w.verify("alice", &h),
        Err(HistoryError::Reordered {
            position: 3,
            index: full[2].index,
            previous: full[2].index
        })
    );
    // More leaves than counted, all genuine: check with a stale (shorter) commitment.
    let stale = HistoryCommitment {
        len: full.len() as u64 - 1,
        head: Hash([0; 32]),
    };
    assert_eq!(
        verify_history(&pk("alice"), &stale, w.as_of, &w.head(), &full),
        Err(HistoryError::Extra {
            expected_len: full.len() as u64 - 1,
            got_len: full.len() as u64
        })
    );
}

#[test]
fn a_reordered_leaf_is_named() {
    let w = world();
    let mut h = w.history("alice");
    h.swap(2, 3);
    assert_eq!(
        w.verify("alice", &h),
        Err(HistoryError::Reordered {
            position: 3,
            index: h[3].index,
            previous: h[2].index
        })
    );
}

#[test]
fn an_altered_leaf_or_proof_is_named() {
    let w = world();
    let mut h = w.history("alice");
    let last = h.len() - 1;
    let n = h[last].leaf.len();
    h[last].leaf[n - 1] ^= 1;
    assert_eq!(
        w.verify("alice", &h),
        Err(HistoryError::Altered {
            index: h[last].index
        })
    );
    let mut h = w.history("alice");
    h[1].proof.pop();
    assert!(
        matches!(w.verify("alice", &h), Err(HistoryError::BadProof { index, .. }) if index == h[1].index)
    );
}

#[test]
fn a_wrong_head_is_named() {
    let w = world();
    let h = w.history("alice");
    let mut committed = w.committed("alice");
    let expected = Hash([8; 32]);
    committed.head = expected;
    let r = verify_history(&pk("alice"), &committed, w.as_of, &w.head(), &h);
    assert!(
        matches!(r, Err(HistoryError::HeadMismatch { expected: e, .. }) if e == expected),
        "{r:?}"
    );
}

//! A reference RFC 9162 tree for tests: roots and inclusion proofs straight from the RFC's
//! recursive definitions (MTH and PATH), memoised so 10,000-leaf histories stay fast. The log's
//! own Merkle code lives on another branch; this one only has to be obviously right.

use std::cell::RefCell;
use std::collections::HashMap;

use testigo_ledger::{Blake3, Hash, TreeHasher};

pub struct TestTree {
    leaves: Vec<Hash>,
    memo: RefCell<HashMap<(usize, usize), Hash>>,
}

impl TestTree {
    pub fn new(leaf_hashes: Vec<Hash>) -> Self {
        Self {
            leaves: leaf_hashes,
            memo: RefCell::new(HashMap::new()),
        }
    }

    pub fn size(&self) -> u64 {
        self.leaves.len() as u64
    }

    pub fn root(&self) -> Hash {
        if self.leaves.is_empty() {
            return Blake3.empty_root();
        }
        self.mth(0, self.leaves.len())
    }

    fn mth(&self, lo: usize, hi: usize) -> Hash {
        if hi - lo == 1 {
            return self.leaves[lo];
        }
        if let Some(h) = self.memo.borrow().get(&(lo, hi)) {
            return *h;
        }
        let k = split(hi - lo);
        let h = Blake3.hash_children(&self.mth(lo, lo + k), &self.mth(lo + k, hi));
        self.memo.borrow_mut().insert((lo, hi), h);
        h
    }

    /// PATH(m, D[lo:hi]), leaf to root.
    fn path(&self, m: usize, lo: usize, hi: usize, out: &mut Vec<Hash>) {
        if hi - lo <= 1 {
            return;
        }
        let k = split(hi - lo);
        if m < k {
            self.path(m, lo, lo + k, out);
            out.push(self.mth(lo + k, hi));
        } else {
            self.path(m - k, lo + k, hi, out);
            out.push(self.mth(lo, lo + k));
        }
    }

    pub fn proof(&self, index: u64) -> Vec<Hash> {
        let mut out = Vec::new();
        self.path(index as usize, 0, self.leaves.len(), &mut out);
        out
    }
}

/// The largest power of two below `n` (n ≥ 2).
fn split(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

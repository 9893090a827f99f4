//! Resumed history chains and held histories on a synthetic log: a resume that fetches only the
//! new leaves gives the same history as a fresh one, and each way the log (or a node) can fail
//! to extend what a wallet holds is refused with its own error.

use crate::api::{AccountProof, Bytes, History, HistoryEntry, InclusionProof, StateRootProof};
use crate::entry::Leaf;
use crate::hash::{Blake3, Hash, TreeHasher};
use crate::keys::PublicKey;
use crate::map::{StateMap as _, account_map_key};
use crate::merkle::{MemoryStore, consistency_proof, inclusion_proof};
use crate::state::LogParams;
use crate::state::history::{IndirectParty, direct_parties};
use crate::synth::{Item, SynthConfig, build};

use super::history::Chain;
use super::{
    HeldError, HeldHistory, HistoryCursor, HistoryPageError, KeptCheckpoint, ResumeError,
    VerifiedAccount, verify_account, verify_genesis, verify_held_history,
};

/// A synthetic log with one subject, the subject proven at the last checkpoint, its history
/// (leaf bytes and indices), the tree, and the notes of every checkpoint by size.
struct Log {
    params: LogParams,
    account: VerifiedAccount,
    history: Vec<(u64, Vec<u8>)>,
    store: MemoryStore,
    notes: Vec<(u64, String)>,
}

impl Log {
    fn new() -> Self {
        let config = SynthConfig {
            seed: 7,
            subjects: 1,
            accessors: 2,
            witnesses: 1,
            batch: 32,
            ..SynthConfig::default()
        };
        let (builder, items) = build(config, 200);
        let mut leaves = Vec::new();
        let mut notes = Vec::new();
        for item in items {
            match item {
                Item::Leaf { leaf, .. } => leaves.push(leaf),
                Item::Checkpoint { note } => notes.push((leaves.len() as u64, note)),
            }
        }
        let bytes: Vec<Vec<u8>> = leaves.iter().map(Leaf::to_bytes).collect();
        let hashes: Vec<Hash> = bytes.iter().map(|b| Blake3.hash_leaf(b)).collect();
        let mut store = MemoryStore::new();
        store.append(&Blake3, &hashes).expect("tree");
        let size = leaves.len() as u64;
        let params = verify_genesis(&bytes[0], None).expect("genesis");
        let subject = PublicKey(builder.subject_key(0).verifying_key().to_bytes());
        let map = builder.engine().map();
        let version = map.latest_version().expect("map").expect("a version");
        let (record, map_proof) = map
            .prove(&account_map_key(&subject), version)
            .expect("map proof");
        let answer = AccountProof {
            key: subject,
            checkpoint_size: size,
            state_root: StateRootProof {
                leaf: Bytes(bytes[size as usize - 1].clone()),
                inclusion: InclusionProof {
                    index: size - 1,
                    size,
                    leaf_hash: hashes[size as usize - 1],
                    path: inclusion_proof(&Blake3, &store, size - 1, size).expect("proof"),
                },
            },
            record: record.map(Bytes),
            map_proof: Bytes(map_proof.to_bytes()),
        };
        let (_, last_note) = notes.last().cloned().expect("a checkpoint");
        let account = verify_account(&last_note, &params, &subject, &answer).expect("account");
        let mut claims = Vec::new();
        let mut history = Vec::new();
        for (index, leaf) in leaves.iter().enumerate().skip(1) {
            let body = leaf.decode_body().expect("body");
            let (direct, indirect) = direct_parties(&leaf.signer, &body);
            let involved = direct.contains(&subject)
                || matches!(indirect, Some(IndirectParty::ClaimSubject { claim }) if claims.contains(&claim));
            if involved {
                if matches!(body, crate::entry::Body::Claim(_)) {
                    claims.push(index as u64);
                }
                history.push((index as u64, bytes[index].clone()));
            }
        }
        Self {
            params,
            account,
            history,
            store,
            notes,
        }
    }

    /// History entries `range`, proven in the tree of `size`.
    fn entries(&self, range: std::ops::Range<usize>, size: u64) -> Vec<HistoryEntry> {
        self.history[range]
            .iter()
            .map(|(index, leaf)| HistoryEntry {
                leaf: Bytes(leaf.clone()),
                inclusion: InclusionProof {
                    index: *index,
                    size,
                    leaf_hash: Blake3.hash_leaf(leaf),
                    path: inclusion_proof(&Blake3, &self.store, *index, size).expect("proof"),
                },
            })
            .collect()
    }

    fn size(&self) -> u64 {
        self.account.checkpoint.size()
    }

    /// The first `k` history leaves, verified as a wallet held them.
    fn held(&self, k: usize) -> HeldHistory {
        let mut chain = Chain::new(self.account.key, self.account.as_of, self.account.tree());
        for entry in self.entries(0..k, self.size()) {
            chain
                .push(entry.inclusion.index, &entry.leaf.0, &entry.inclusion.path)
                .expect("a held leaf");
        }
        chain.held()
    }

    /// The page from history position `from` with `entries`, the last one.
    fn page(&self, from: u64, entries: Vec<HistoryEntry>) -> History {
        History {
            key: self.account.key,
            checkpoint_size: self.size(),
            from,
            entries,
            next: None,
        }
    }
}

#[test]
fn a_resumed_chain_fetches_only_the_new_leaves_and_ends_where_a_fresh_one_does() {
    let log = Log::new();
    let n = log.history.len();
    assert!(n > 6, "the subject has a history: {n}");
    let mut fresh = HistoryCursor::new(&log.account);
    fresh
        .push_page(&log.page(0, log.entries(0..n, log.size())))
        .expect("the whole history");
    let k = n / 2;
    let mut resumed = HistoryCursor::resume(&log.account, &log.held(k)).expect("resumes");
    assert_eq!(resumed.position(), k as u64);
    let new = resumed
        .push_page(&log.page(k as u64, log.entries(k..n, log.size())))
        .expect("the new leaves");
    assert_eq!(new.len(), n - k);
    assert!(resumed.is_complete());
    assert_eq!(resumed.held(), fresh.held());
    // Holding everything already, an empty page from the held length completes it.
    let mut again = HistoryCursor::resume(&log.account, &log.held(n)).expect("resumes");
    again
        .push_page(&log.page(n as u64, Vec::new()))
        .expect("nothing new");
    assert_eq!(again.held(), fresh.held());
}

#[test]
fn a_resumed_page_that_starts_elsewhere_or_serves_a_held_leaf_is_refused() {
    let log = Log::new();
    let n = log.history.len();
    let k = n / 2;
    let mut cursor = HistoryCursor::resume(&log.account, &log.held(k)).expect("resumes");
    let wrong = log.page(k as u64 + 1, log.entries(k + 1..n, log.size()));
    assert_eq!(
        cursor.push_page(&wrong).expect_err("refused").reason,
        HistoryPageError::WrongPosition {
            expected: k as u64,
            got: k as u64 + 1
        }
    );
    let replayed = log.page(k as u64, log.entries(k - 1..n, log.size()));
    assert_eq!(
        cursor.push_page(&replayed).expect_err("refused").reason,
        HistoryPageError::BeforeHeld {
            index: log.history[k - 1].0,
            last_held: log.history[k - 1].0
        }
    );
    assert_eq!(
        cursor.position(),
        k as u64,
        "a refused page changes nothing"
    );
}

#[test]
fn a_record_that_does_not_extend_the_held_history_is_refused() {
    let log = Log::new();
    let n = log.history.len();
    let full = log.held(n);
    let with = |len: u64, head: Hash| {
        let mut account = log.account.clone();
        let record = account.record.as_mut().expect("a record");
        record.history_len = len;
        record.history_head = head;
        account
    };
    let committed = full.commitment();
    // Fewer leaves than held: verified leaves were taken out.
    assert_eq!(
        HistoryCursor::resume(&with(committed.len - 1, committed.head), &full)
            .expect_err("shorter"),
        ResumeError::Shorter {
            held_len: committed.len,
            committed_len: committed.len - 1
        }
    );
    // As many, with another head: the past was rewritten.
    assert_eq!(
        HistoryCursor::resume(&with(committed.len, Hash([3; 32])), &full).expect_err("rewritten"),
        ResumeError::Rewritten {
            len: committed.len,
            held_head: committed.head,
            committed_head: Hash([3; 32])
        }
    );
    // Held leaves the log no longer chains into its head: the new leaves, each genuine, do not
    // lead from the held head to the record's.
    let k = n / 2;
    let mut rewritten = log.held(k);
    rewritten.head = Hash([5; 32]);
    let mut cursor = HistoryCursor::resume(&log.account, &rewritten).expect("longer: resumes");
    let failure = cursor
        .push_page(&log.page(k as u64, log.entries(k..n, log.size())))
        .expect_err("not an extension");
    assert_eq!(
        failure.reason,
        HistoryPageError::NotAnExtension {
            held_len: k as u64,
            held_head: Hash([5; 32]),
            committed_len: committed.len,
            committed_head: committed.head
        }
    );
    // Another account's history.
    let mut other = log.held(k);
    other.account = PublicKey([1; 32]);
    assert!(matches!(
        HistoryCursor::resume(&log.account, &other),
        Err(ResumeError::WrongAccount { .. })
    ));
}

#[test]
fn a_history_held_across_checkpoints_verifies_offline_and_every_kept_link_counts() {
    let log = Log::new();
    let n = log.history.len();
    let latest = log.size();
    // An older checkpoint that holds the first leaves.
    let k = 3;
    let (older, note) = log
        .notes
        .iter()
        .find(|(size, _)| *size > log.history[k - 1].0 && *size < latest)
        .cloned()
        .expect("an older checkpoint");
    let mut entries = log.entries(0..k, older);
    entries.extend(log.entries(k..n, latest));
    let kept = vec![KeptCheckpoint {
        note: note.clone(),
        consistency: consistency_proof(&Blake3, &log.store, older, latest).expect("proof"),
    }];
    let (verified, held) =
        verify_held_history(&log.params, &log.account, &kept, &entries).expect("verifies");
    assert_eq!(verified.len(), n);
    assert_eq!(held, log.held(n));

    let mut broken = kept.clone();
    broken[0].consistency[0] = Hash([9; 32]);
    assert!(matches!(
        verify_held_history(&log.params, &log.account, &broken, &entries),
        Err(HeldError::Inconsistent { from, to, .. }) if from == older && to == latest
    ));
    // A kept checkpoint that proves nothing is refused: the state stays bounded by its leaves.
    assert_eq!(
        verify_held_history(&log.params, &log.account, &kept, &log.entries(0..n, latest)),
        Err(HeldError::Unused { size: older })
    );
    // A leaf proven in a checkpoint that is not held.
    assert!(matches!(
        verify_held_history(&log.params, &log.account, &[], &entries),
        Err(HeldError::UnknownCheckpoint { size, .. }) if size == older
    ));
}

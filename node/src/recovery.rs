//! Crash recovery, before the sequencer starts: restore the state as of the latest checkpoint
//! from its saved snapshot, rebuild the state map, check both against that checkpoint's
//! `StateRoot` leaf, re-apply the leaves stored after it, and checkpoint that tail (entries
//! acknowledged as sequenced before a crash). A store whose parts disagree is refused with
//! [`NodeError::Inconsistent`] rather than served.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use testigo_ledger::checkpoint::{SignedNote, verify_checkpoint_note};
use testigo_ledger::entry::{Body, Leaf};
use testigo_ledger::map::{BucketSource, PagedLoader, SparseMap};
use testigo_ledger::merkle::root;
use testigo_ledger::state::{AccountRecord, ClaimRecord, Consent, Engine, State, StateHeader};
use testigo_ledger::{Blake3, PublicKey};

use crate::metrics::Metrics;
use crate::node::NodeError;
use crate::sequencer::resident::{self, make_resident, paged_map};
use crate::sequencer::{Backend, CheckpointInfo, LogBackend, Tail};
use crate::storage::{StorageError, Store};

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Restores the state as of the latest checkpoint from its saved snapshot, rebuilds the state
/// map, checks both against that checkpoint's `StateRoot` leaf, applies the leaves stored after
/// it, and closes a batch left open by a crash (`sequencer::log` says what is saved when).
///
/// A witness passes no key (`key` is `None`, `public` the log key from the `Genesis`): it stores
/// leaves only together with their checkpoint, so a tail after the latest checkpoint means a
/// damaged store, which is refused.
pub(crate) fn recover(
    store: Arc<Store>,
    key: Option<ed25519_dalek::SigningKey>,
    public: PublicKey,
    origin: String,
    metrics: Arc<Metrics>,
) -> Result<(LogBackend, Option<CheckpointInfo>), NodeError> {
    let size = store.tree_size();
    if let Some(key) = &key
        && PublicKey(key.verifying_key().to_bytes()) != public
    {
        return Err(inconsistent("the key is not the log key".into()));
    }
    let (mut engine, mut latest) = match store.latest_checkpoint()? {
        None => (
            Engine::from_parts(State::new_partial(), paged_map(&store)),
            None,
        ),
        Some(stored) => {
            let (size, root) =
                check_checkpoint(&store, &stored.note, stored.size, &origin, &public)?;
            let engine = restore(&store, size, Residence::Partial)?;
            let map = engine
                .map()
                .latest_snapshot()
                .ok_or_else(|| inconsistent("the rebuilt state map has no version".into()))?;
            let info = CheckpointInfo {
                size,
                root,
                note: stored.note,
                map,
                state_root: std::sync::OnceLock::new(),
            };
            (engine, Some(info))
        }
    };
    let from = latest.as_ref().map_or(0, |c| c.size);
    if key.is_none() && size > from {
        return Err(inconsistent(format!(
            "this witness's store holds {} leaves after its latest checkpoint of size {from}; a \
             witness stores leaves only with their checkpoint",
            size - from
        )));
    }
    let mut tail = Tail::default();
    for start in (from..size).step_by(1024) {
        let end = (start + 1024).min(size);
        for (index, bytes) in (start..end).zip(store.leaves(start, end)?) {
            let leaf = Leaf::from_bytes(&bytes)
                .map_err(|e| inconsistent(format!("stored leaf {index} is not a leaf: {e}")))?;
            make_resident(&mut engine, &store, &leaf)?;
            let effects = engine.apply(&leaf, leaf.sequenced_at).map_err(|e| {
                inconsistent(format!(
                    "stored leaf {index}, after the latest checkpoint, does not apply: {e}"
                ))
            })?;
            tail.add(leaf.signer, &effects);
        }
    }
    if engine.state().next_index() != size {
        return Err(inconsistent(format!(
            "the store holds {size} leaves but only {} could be read back",
            engine.state().next_index()
        )));
    }
    let mut backend = LogBackend::new(engine, tail, store.clone(), key, origin, metrics);
    if size > from {
        // Entries acknowledged as sequenced before a crash: checkpoint them now.
        latest = Some(backend.checkpoint(now_ms().max(backend.last_sequenced_at()))?);
    }
    Ok((backend, latest))
}

fn inconsistent(message: String) -> NodeError {
    NodeError::Inconsistent(message)
}

/// Checks the stored checkpoint's signature and that it commits to the stored tree; returns its
/// size and root.
fn check_checkpoint(
    store: &Store,
    note: &str,
    stored_size: u64,
    origin: &str,
    public: &PublicKey,
) -> Result<(u64, testigo_ledger::Hash), NodeError> {
    let note = SignedNote::parse(note.as_bytes())
        .map_err(|e| inconsistent(format!("stored checkpoint does not parse: {e}")))?;
    let checkpoint = verify_checkpoint_note(&note, origin, public).map_err(|e| {
        inconsistent(format!(
            "stored checkpoint is not signed by this log key: {e}"
        ))
    })?;
    let tree_root = root(&Blake3, store, checkpoint.size())
        .map_err(|e| inconsistent(format!("tree at the checkpoint size: {e}")))?;
    if checkpoint.size() != stored_size || *checkpoint.root() != tree_root {
        return Err(inconsistent(format!(
            "checkpoint of size {} has root {} but the stored tree has {tree_root}",
            checkpoint.size(),
            checkpoint.root()
        )));
    }
    Ok((checkpoint.size(), tree_root))
}

/// Leaves per page when reading the saved state.
const RESTORE_PAGE: usize = 4096;

/// How much of the saved state [`restore`] brings into memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Residence {
    /// Every record, consent and claim, each consent and claim checked against its leaves: what
    /// `fsck` compares the store with.
    Whole,
    /// The header only (records go into the state map, which holds them anyway): what the
    /// sequencer runs on, loading the rest as leaves need it (`sequencer::resident`). Start-up
    /// then costs one pass over the records, not over every consent and claim as well.
    Partial,
}

/// The engine as of the checkpoint of `size`: the saved snapshot restored, the map rebuilt from
/// the saved records, and the checkpoint's closing `StateRoot` applied, which checks the map root
/// and the leaf's signature with the same rules as any other `StateRoot`.
pub(crate) fn restore(
    store: &Arc<Store>,
    size: u64,
    residence: Residence,
) -> Result<Engine<SparseMap>, NodeError> {
    let header = store
        .state_header()?
        .ok_or_else(|| inconsistent("a checkpoint is stored but no state snapshot".into()))?;
    let header = StateHeader::from_bytes(&header)
        .map_err(|e| inconsistent(format!("the saved state header does not decode: {e}")))?;
    let root_index = size - 1;
    if header.next_index != root_index {
        return Err(inconsistent(format!(
            "the saved state is as of leaf {} but the checkpoint of size {size} ends with leaf \
             {root_index}",
            header.next_index
        )));
    }
    let whole = residence == Residence::Whole;
    let version = store.records_version()?.ok_or_else(|| {
        inconsistent("a checkpoint is stored but no map version for its records".into())
    })?;
    let mut accounts = Vec::new();
    let mut loader = PagedLoader::new(store.map_bucket_bits());
    let mut after = None;
    loop {
        let page = store.records(after.as_ref(), RESTORE_PAGE)?;
        let Some((last, _, _)) = page.last() else {
            break;
        };
        after = Some(*last);
        for (map_key, key, bytes) in page {
            let record = AccountRecord::from_bytes(&bytes).map_err(|e| {
                inconsistent(format!("the saved record of {key} does not decode: {e}"))
            })?;
            if whole {
                accounts.push((key, record));
            }
            loader
                .push(map_key, bytes)
                .map_err(|e| inconsistent(format!("rebuilding the state map: {e}")))?;
        }
    }
    let state = if whole {
        let consents = saved(store, "consent", Store::consents, Consent::from_bytes)?;
        let claims = saved(store, "claim", Store::claims, ClaimRecord::from_bytes)?;
        // The map commits account records, not consents and claims: check each against the
        // leaves that made it, so a damaged snapshot cannot grant, revoke or pay what the log
        // did not. A partial state checks each as it loads it.
        for (index, consent) in &consents {
            check_consent(store, *index, consent)?;
        }
        for (index, claim) in &claims {
            check_claim(store, *index, claim)?;
        }
        State::restore(header, accounts, consents, claims)
            .map_err(|e| inconsistent(format!("the saved state is invalid: {e}")))?
    } else {
        State::restore_partial(header)
    };
    // Checked below: the checkpoint's `StateRoot` is applied again, against this map's root.
    let map = SparseMap::load_paged(Arc::clone(store) as Arc<dyn BucketSource>, version, loader);
    let mut engine = Engine::from_parts(state, map);
    let bytes = store
        .leaf(root_index)?
        .ok_or_else(|| inconsistent(format!("leaf {root_index} is missing")))?;
    let leaf = Leaf::from_bytes(&bytes)
        .map_err(|e| inconsistent(format!("stored leaf {root_index} is not a leaf: {e}")))?;
    if !matches!(leaf.decode_body(), Ok(Body::StateRoot(_))) {
        return Err(inconsistent(format!(
            "the checkpoint of size {size} does not end with a StateRoot"
        )));
    }
    make_resident(&mut engine, store, &leaf)?;
    engine.apply(&leaf, leaf.sequenced_at).map_err(|e| {
        inconsistent(format!(
            "the saved state does not match the StateRoot at leaf {root_index}: {e}"
        ))
    })?;
    Ok(engine)
}

fn check_consent(store: &Store, index: u64, c: &Consent) -> Result<(), NodeError> {
    resident::check_consent(store, index, c)
        .map_err(|e| inconsistent(format!("the saved consent {index}: {e}")))
}

fn check_claim(store: &Store, index: u64, c: &ClaimRecord) -> Result<(), NodeError> {
    resident::check_claim(store, index, c)
        .map_err(|e| inconsistent(format!("the saved claim {index}: {e}")))
}

/// A page of saved consents or claims: `Store::consents` or `Store::claims`.
type IndexedPage = fn(&Store, u64, usize) -> Result<Vec<(u64, Vec<u8>)>, StorageError>;

/// Every saved consent or claim, decoded.
fn saved<T>(
    store: &Store,
    what: &str,
    read: IndexedPage,
    decode: fn(&[u8]) -> Result<T, testigo_ledger::entry::BodyError>,
) -> Result<Vec<(u64, T)>, NodeError> {
    let mut out = Vec::new();
    let mut from = 0;
    loop {
        let page = read(store, from, RESTORE_PAGE)?;
        let Some(&(last, _)) = page.last() else { break };
        for (index, bytes) in page {
            let value = decode(&bytes).map_err(|e| {
                inconsistent(format!(
                    "the saved {what} at index {index} does not decode: {e}"
                ))
            })?;
            out.push((index, value));
        }
        match last.checked_add(1) {
            Some(next) => from = next,
            None => break,
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use ed25519_dalek::SigningKey;
    use tempfile::TempDir;
    use testigo_ledger::map::account_map_key;
    use testigo_ledger::state::AccountRecord;

    use super::*;
    use crate::sequencer::test_support::{ORIGIN, enroll, genesis};
    use crate::storage::StoreConfig;

    fn operator() -> SigningKey {
        SigningKey::from_bytes(&[3; 32])
    }

    fn subject(n: u8) -> SigningKey {
        SigningKey::from_bytes(&[n; 32])
    }

    fn open(dir: &TempDir) -> Arc<Store> {
        Arc::new(Store::open(&dir.path().join("store"), &StoreConfig::default()).unwrap())
    }

    fn start(store: &Arc<Store>) -> Result<(LogBackend, Option<CheckpointInfo>), NodeError> {
        recover(
            store.clone(),
            Some(operator()),
            PublicKey(operator().verifying_key().to_bytes()),
            ORIGIN.into(),
            Arc::new(Metrics::new()),
        )
    }

    /// A log of genesis and three enrolments, checkpointed (size 5), in `dir`.
    fn checkpointed_log(dir: &TempDir) {
        let store = open(dir);
        let (mut backend, latest) = start(&store).unwrap();
        assert!(latest.is_none());
        let key = operator();
        backend.append(vec![genesis(&key)], 10).unwrap();
        let leaves = (1..4).map(|n| enroll(&key, n, &subject(n as u8 + 10)));
        let results = backend.append(leaves.collect(), 11).unwrap();
        assert!(results.iter().all(Result::is_ok), "{results:?}");
        assert_eq!(backend.checkpoint(12).unwrap().size, 5);
    }

    #[test]
    fn a_restart_restores_the_snapshot_and_indexes_what_came_after_it() {
        let dir = TempDir::new().unwrap();
        checkpointed_log(&dir);
        let store = open(&dir);
        let (mut backend, latest) = start(&store).unwrap();
        let latest = latest.unwrap();
        assert_eq!(latest.size, 5);
        let alice = PublicKey(subject(11).verifying_key().to_bytes());
        let record = latest.map.get(&account_map_key(&alice)).unwrap().unwrap();
        assert_eq!(AccountRecord::from_bytes(&record).unwrap().history_len, 1);

        // Sequenced, acknowledged, then a crash before the checkpoint.
        let key = operator();
        let results = backend
            .append(vec![enroll(&key, 4, &subject(20))], 13)
            .unwrap();
        assert!(results[0].is_ok());
        drop(backend);
        let bob = PublicKey(subject(20).verifying_key().to_bytes());
        assert!(store.account_history(&bob, 0, 10).unwrap().is_empty());

        let (backend, latest) = start(&store).unwrap();
        let latest = latest.unwrap();
        assert_eq!(latest.size, 7, "the tail is checkpointed on start");
        assert_eq!(store.account_history(&bob, 0, 10).unwrap(), [5]);
        let public = PublicKey(key.verifying_key().to_bytes());
        assert_eq!(store.leaf_by_nonce(&public, 4).unwrap(), Some(5));
        // As the API reads it, from the snapshot the start-up checkpoint saved.
        drop(backend);
        assert_eq!(
            crate::reader::LogRead::next_nonce(&store, &public).unwrap(),
            Some(5)
        );
        assert!(latest.map.get(&account_map_key(&bob)).unwrap().is_some());
    }

    #[test]
    fn a_crash_before_the_first_checkpoint_loses_nothing() {
        let dir = TempDir::new().unwrap();
        let store = open(&dir);
        let (mut backend, _) = start(&store).unwrap();
        let key = operator();
        backend.append(vec![genesis(&key)], 10).unwrap();
        backend
            .append(vec![enroll(&key, 1, &subject(11))], 11)
            .unwrap();
        drop(backend);
        assert_eq!(store.latest_checkpoint().unwrap(), None);

        let (_, latest) = start(&store).unwrap();
        assert_eq!(
            latest.unwrap().size,
            3,
            "genesis, enrolment and a StateRoot"
        );
        let alice = PublicKey(subject(11).verifying_key().to_bytes());
        assert_eq!(store.account_history(&alice, 0, 10).unwrap(), [1]);
        assert!(store.state_header().unwrap().is_some());
    }

    /// Writes `tamper`'s changes behind the node's back, then expects a refusal naming `expected`.
    fn refused_after(tamper: impl FnOnce(&Store, &mut crate::storage::WriteBatch), expected: &str) {
        let dir = TempDir::new().unwrap();
        checkpointed_log(&dir);
        let store = open(&dir);
        let mut batch = store.batch();
        tamper(&store, &mut batch);
        store.commit(batch).unwrap();
        match start(&store) {
            Err(NodeError::Inconsistent(message)) => {
                assert!(message.contains(expected), "{message}");
            }
            Err(other) => panic!("refused for another reason: {other}"),
            Ok(_) => panic!("started on a tampered store (expected: {expected})"),
        }
    }

    #[test]
    fn a_saved_state_that_disagrees_with_the_log_refuses_to_start() {
        let alice = PublicKey(subject(11).verifying_key().to_bytes());
        let altered = |store: &Store, change: fn(&mut AccountRecord)| {
            let mut record =
                AccountRecord::from_bytes(&store.record(&alice).unwrap().unwrap()).unwrap();
            change(&mut record);
            record.to_bytes()
        };
        refused_after(
            |store, batch| {
                let bytes = altered(store, |r| r.history_head.0[0] ^= 1);
                batch.put_record(alice, bytes);
            },
            "does not match the StateRoot at leaf 4",
        );
        refused_after(
            |store, batch| {
                let bytes = altered(store, |r| r.balance += 1);
                batch.put_record(alice, bytes);
            },
            // Money from nowhere: the map, rebuilt from the records, commits another root.
            "does not match the StateRoot at leaf 4",
        );
        refused_after(
            |_, batch| batch.put_record(alice, vec![1, 2, 3]),
            "does not decode",
        );
        refused_after(
            |_, batch| batch.delete_record(alice),
            "does not match the StateRoot",
        );
        refused_after(
            |_, batch| batch.set_state_header(vec![9]),
            "state header does not decode",
        );
    }
}

//! `replay`: re-derives a whole log and checks everything it claims.
//!
//! For every leaf, in order: its index is the next one; its envelope parses; its signature holds
//! (checked in parallel, ahead of the rules, by `testigo_ledger::entry::verify_leaves`, the one
//! validity predicate); the ledger's [`Engine`] accepts it (every rule, and for a `StateRoot` the
//! map root recomputed from the replayed state); and money is conserved: an independent ledger of
//! the money each body moves ([`crate::money`]) agrees with the engine's accounts after the leaf,
//! and at every `StateRoot` the engine's own invariants hold for the whole state. For every
//! checkpoint: its note parses and carries the log key's signature, it comes right after the leaf
//! that ends its tree, that leaf is a `StateRoot`, its root is the root of the leaves so far,
//! sizes grow, every cosignature line is by a witness `Genesis` names, and the quorum cosigned.
//! Since every checkpoint's root is checked against the one tree recomputed from the leaves, the
//! checkpoints are consistent with each other and with the leaves by construction.
//!
//! The tree is a compact range (O(log n) hashes), the map keeps only its latest version, and
//! nothing else is kept per leaf, so memory does not grow with the log. The exception is the
//! cross-check: the final root is recomputed by `rs_merkle` as an independent second
//! implementation, which holds every leaf hash (32 bytes per leaf) and then its whole tree
//! (about as much again): some 64 MB per million leaves, which `--no-cross-check` saves.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use testigo_ledger::archive::Record;
use testigo_ledger::checkpoint::{
    CosignedCheckpoint, cosignature_key_hash, note_key_hash, verify_checkpoint_note, verify_quorum,
};
use testigo_ledger::entry::signature::verify_leaves;
use testigo_ledger::entry::{Body, BodyKind, Leaf};
use testigo_ledger::map::{SparseMap, StateMap as _};
use testigo_ledger::merkle::CompactRange;
use testigo_ledger::state::{Engine, EngineError, LogParams, Rejection};
use testigo_ledger::{Blake3, Hash, TreeHasher as _};

use crate::failure::{At, Failure};
use crate::money::Money;
use crate::progress::Progress;
use crate::source::{Running, SourceError};

/// How to replay.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// List every failure instead of stopping at the first.
    pub keep_going: bool,
    /// Recompute the final root with rs_merkle too (memory grows with the log).
    pub cross_check: bool,
    /// Threads verifying signatures.
    pub threads: usize,
    /// Measure the signature-verification ceiling on a sample of this run's leaves.
    pub stats: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            keep_going: false,
            cross_check: true,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            stats: false,
        }
    }
}

/// What a replay found.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// The log's name (from its `Genesis`), if it had one.
    pub origin: Option<String>,
    /// Leaves read.
    pub leaves: u64,
    /// Checkpoints read.
    pub checkpoints: u64,
    /// `StateRoot`s recomputed and equal.
    pub state_roots: u64,
    /// The root of every leaf read.
    pub root: Hash,
    /// rs_merkle's root of the same leaves, when cross-checked.
    pub cross_check_root: Option<Hash>,
    /// The size of the last valid checkpoint.
    pub last_checkpoint: Option<u64>,
    /// Accounts at the end.
    pub accounts: usize,
    /// Every deposit, in minor units.
    pub total_deposits: u64,
    /// What went wrong, in log order (only the first unless `keep_going`).
    pub failures: Vec<Failure>,
    /// Where the time went.
    pub stats: Stats,
}

impl Report {
    /// Whether the log verified.
    pub fn ok(&self) -> bool {
        self.failures.is_empty()
    }
}

/// Where a replay's time went, in seconds (CPU time of each part, summed over threads where it
/// runs in parallel), and the ceiling it is measured against.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Stats {
    /// Wall-clock seconds of the whole replay.
    pub wall: f64,
    /// Leaves per wall-clock second.
    pub leaves_per_s: f64,
    /// Reading and framing records, parsing envelopes (the verifying threads).
    pub decoding: f64,
    /// Signature checks (the verifying threads).
    pub signatures: f64,
    /// The engine's rules on every leaf but `StateRoot`s.
    pub rules: f64,
    /// `StateRoot`s: the state map's new version, its root, pruning, the invariants.
    pub state_map: f64,
    /// Leaf hashes and the compact range.
    pub tree: f64,
    /// The independent money ledger.
    pub money: f64,
    /// Checkpoint notes: parsing and signatures.
    pub checkpoints: f64,
    /// The rs_merkle cross-check.
    pub cross_check: f64,
    /// The ceiling: signatures per second that `verify_leaves` sustains on this machine with
    /// the same threads, measured after the replay on a sample of its leaves (`--stats`).
    pub ceiling_per_s: Option<f64>,
    /// `leaves_per_s / ceiling_per_s`.
    pub ratio: Option<f64>,
}

/// A leaf after the verifying threads: parsed, hashed, its signature checked.
struct Prepared {
    index: u64,
    hash: Hash,
    leaf: Result<Leaf, String>,
    signature_ok: bool,
}

enum Item {
    Leaf(Prepared),
    Checkpoint(Vec<u8>),
}

/// Time spent by a verifying thread.
#[derive(Default)]
struct Spent {
    decoding: Duration,
    signatures: Duration,
    tree: Duration,
}

/// A verifying thread, answering its part of a chunk.
type Verifying = std::thread::JoinHandle<(Vec<Item>, Spent)>;

/// Leaves kept to measure the ceiling on.
const SAMPLE: usize = 20_000;

/// Replays the log `running` delivers.
///
/// # Errors
/// [`SourceError`] if the source stopped before its end (a network or file error, or an
/// archive whose framing breaks): what was read up to there is not a whole log. A log that
/// arrives but does not verify is an `Ok` report with failures.
pub fn replay(
    running: Running,
    options: Options,
    progress: &mut Progress,
) -> Result<Report, SourceError> {
    let started = Instant::now();
    let mut audit = Audit::new(options);
    let position = running.position.clone();
    let mut origin: Option<Arc<str>> = None;
    let mut pending: Option<Vec<Verifying>> = None;
    let mut source_error = None;
    loop {
        let next = running.chunks.recv().ok();
        let chunk = match next {
            Some(Ok(chunk)) => Some(chunk),
            Some(Err(e)) => {
                source_error = Some(e);
                None
            }
            None => None,
        };
        let spawned = chunk.map(|chunk| {
            let origin = origin.get_or_insert_with(|| origin_of(&chunk)).clone();
            prepare(chunk, &origin, options.threads)
        });
        if let Some(handles) = pending.take() {
            for handle in handles {
                let (items, spent) = handle.join().unwrap_or_default();
                audit.absorb(&spent);
                for item in items {
                    audit.item(item);
                }
            }
            progress.update(audit.leaves, position.fraction());
        }
        if audit.stopped() {
            break;
        }
        match spawned {
            Some(handles) => pending = Some(handles),
            None => break,
        }
    }
    drop(running.chunks);
    if let Some(e) = source_error
        && !audit.stopped()
    {
        return Err(e);
    }
    let mut report = audit.finish();
    report.stats.wall = started.elapsed().as_secs_f64();
    report.stats.leaves_per_s = report.leaves as f64 / report.stats.wall.max(1e-9);
    progress.done(report.leaves);
    Ok(report)
}

/// The origin to verify signatures under: the `Genesis`'s, if the first record is one. If it is
/// not, every signature fails under the empty origin and the engine names leaf 0.
fn origin_of(chunk: &[Record]) -> Arc<str> {
    let genesis = chunk.first().and_then(|r| match r {
        Record::Leaf { index: 0, bytes } => Leaf::from_bytes(bytes).ok(),
        _ => None,
    });
    match genesis.map(|l| l.decode_body()) {
        Some(Ok(Body::Genesis(g))) => g.origin.into(),
        _ => "".into(),
    }
}

/// Splits a chunk over `threads` verifying threads; each parses, hashes and verifies its part.
fn prepare(chunk: Vec<Record>, origin: &Arc<str>, threads: usize) -> Vec<Verifying> {
    let per = chunk.len().div_ceil(threads.max(1)).max(1);
    let mut parts = Vec::new();
    let mut rest = chunk;
    while rest.len() > per {
        let tail = rest.split_off(per);
        parts.push(rest);
        rest = tail;
    }
    parts.push(rest);
    parts
        .into_iter()
        .map(|part| {
            let origin = origin.clone();
            std::thread::spawn(move || prepare_part(part, &origin))
        })
        .collect()
}

fn prepare_part(part: Vec<Record>, origin: &str) -> (Vec<Item>, Spent) {
    let mut spent = Spent::default();
    let mut items = Vec::with_capacity(part.len());
    for record in part {
        match record {
            Record::Leaf { index, bytes } => {
                let t = Instant::now();
                let leaf = Leaf::from_bytes(&bytes).map_err(|e| e.to_string());
                spent.decoding += t.elapsed();
                let t = Instant::now();
                let hash = Blake3.hash_leaf(&bytes);
                spent.tree += t.elapsed();
                items.push(Item::Leaf(Prepared {
                    index,
                    hash,
                    leaf,
                    signature_ok: false,
                }));
            }
            Record::Checkpoint { note } => items.push(Item::Checkpoint(note)),
        }
    }
    let t = Instant::now();
    let leaves: Vec<&Leaf> = items
        .iter()
        .filter_map(|i| match i {
            Item::Leaf(Prepared { leaf: Ok(l), .. }) => Some(l),
            _ => None,
        })
        .collect();
    let verdicts = verify_leaves(origin, &leaves);
    drop(leaves);
    let mut verdicts = verdicts.into_iter();
    for item in &mut items {
        if let Item::Leaf(p) = item
            && p.leaf.is_ok()
        {
            p.signature_ok = verdicts.next().is_some_and(|v| v.is_ok());
        }
    }
    spent.signatures += t.elapsed();
    (items, spent)
}

/// The replay's state between leaves.
struct Audit {
    options: Options,
    engine: Engine<SparseMap>,
    tree: CompactRange<Blake3>,
    money: Money,
    hashes: Vec<[u8; 32]>,
    leaves: u64,
    checkpoints: u64,
    state_roots: u64,
    /// The next index due.
    expected: u64,
    /// The kind of the last leaf applied, if the last leaf read was applied.
    last_kind: Option<BodyKind>,
    last_checkpoint: Option<u64>,
    failures: Vec<Failure>,
    stats: Stats,
    sample: Vec<Leaf>,
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

impl Audit {
    fn new(options: Options) -> Self {
        Self {
            options,
            engine: Engine::new(SparseMap::new()),
            tree: CompactRange::new(Blake3),
            money: Money::default(),
            hashes: Vec::new(),
            leaves: 0,
            checkpoints: 0,
            state_roots: 0,
            expected: 0,
            last_kind: None,
            last_checkpoint: None,
            failures: Vec::new(),
            stats: Stats::default(),
            sample: Vec::new(),
        }
    }

    fn stopped(&self) -> bool {
        !self.options.keep_going && !self.failures.is_empty()
    }

    fn absorb(&mut self, spent: &Spent) {
        self.stats.decoding += secs(spent.decoding);
        self.stats.signatures += secs(spent.signatures);
        self.stats.tree += secs(spent.tree);
    }

    fn fail(&mut self, failure: Failure) {
        self.failures.push(failure);
    }

    fn params(&self) -> Option<&LogParams> {
        self.engine.state().params()
    }

    fn item(&mut self, item: Item) {
        if self.stopped() {
            return;
        }
        match item {
            Item::Leaf(p) => self.leaf(p),
            Item::Checkpoint(note) => {
                let t = Instant::now();
                self.checkpoint(&note);
                self.stats.checkpoints += secs(t.elapsed());
            }
        }
    }

    fn leaf(&mut self, p: Prepared) {
        let index = p.index;
        self.leaves += 1;
        self.last_kind = None;
        if index != self.expected {
            self.fail(
                Failure::new(At::Leaf(index), "out_of_sequence", "leaf out of sequence")
                    .expected(self.expected)
                    .found(index),
            );
        }
        self.expected = index.saturating_add(1);
        let t = Instant::now();
        self.tree.push(p.hash);
        if self.options.cross_check {
            self.hashes.push(p.hash.0);
        }
        self.stats.tree += secs(t.elapsed());
        let leaf = match p.leaf {
            Ok(leaf) => leaf,
            Err(e) => {
                return self.fail(Failure::new(
                    At::Leaf(index),
                    "bad_envelope",
                    format!("the leaf bytes are not an envelope: {e}"),
                ));
            }
        };
        let genesis_applied = self.params().is_some();
        if genesis_applied && !p.signature_ok {
            return self.fail(
                Failure::new(
                    At::Leaf(index),
                    "bad_signature",
                    "the signature does not verify",
                )
                .found(leaf.signer),
            );
        }
        let t = Instant::now();
        let applied = if genesis_applied {
            self.engine.apply_preverified(&leaf, leaf.sequenced_at)
        } else {
            // The genesis is verified strictly by the engine itself: there was no origin yet.
            self.engine.apply(&leaf, leaf.sequenced_at)
        };
        let elapsed = secs(t.elapsed());
        let effects = match applied {
            Ok(effects) => effects,
            Err(EngineError::Rejected(r)) => {
                self.stats.rules += elapsed;
                return self.fail(rejection(index, &r));
            }
            Err(EngineError::Map(e)) => {
                self.stats.state_map += elapsed;
                return self.fail(Failure::new(
                    At::Leaf(index),
                    "state_map",
                    format!("the state map failed: {e}"),
                ));
            }
            // The replay's state is whole, so nothing is ever missing; said plainly if it were.
            Err(EngineError::NotResident(n)) => {
                return self.fail(Failure::new(
                    At::Leaf(index),
                    "state_map",
                    format!("the replayed state lacks {n}"),
                ));
            }
        };
        if effects.kind == BodyKind::StateRoot {
            self.stats.state_map += elapsed;
            self.state_root(index);
        } else {
            self.stats.rules += elapsed;
        }
        self.last_kind = Some(effects.kind);
        let t = Instant::now();
        if let Err(failure) = self.money.apply(index, &leaf, self.engine.state()) {
            self.fail(failure);
        }
        self.stats.money += secs(t.elapsed());
        if self.options.stats && self.sample.len() < SAMPLE && index > 0 {
            self.sample.push(leaf);
        }
    }

    fn state_root(&mut self, index: u64) {
        let t = Instant::now();
        self.state_roots += 1;
        let map = self.engine.map_mut();
        let pruned = match map.latest_version() {
            Ok(Some(latest)) => map.prune(latest).map(drop),
            Ok(None) => Ok(()),
            Err(e) => Err(e),
        };
        if let Err(e) = pruned {
            self.fail(Failure::new(
                At::Leaf(index),
                "state_map",
                format!("the state map failed: {e}"),
            ));
        }
        if let Err(v) = self.engine.state().check_invariants() {
            self.fail(Failure::new(
                At::Leaf(index),
                "invariant",
                format!("the state breaks an invariant: {v}"),
            ));
        }
        self.stats.state_map += secs(t.elapsed());
    }

    fn checkpoint(&mut self, note: &[u8]) {
        self.checkpoints += 1;
        let size = self.tree.size();
        let at = At::Checkpoint(size);
        let Some(params) = self.params().cloned() else {
            return self.fail(Failure::new(
                at,
                "checkpoint_before_genesis",
                "a checkpoint before any valid genesis",
            ));
        };
        let parsed = match CosignedCheckpoint::parse(note) {
            Ok(p) => p,
            Err(e) => {
                return self.fail(Failure::new(
                    at,
                    "checkpoint_malformed",
                    format!("the note does not parse: {e}"),
                ));
            }
        };
        if let Err(e) = verify_checkpoint_note(parsed.note(), &params.origin, &params.log_key) {
            return self.fail(Failure::new(
                at,
                "checkpoint_signature",
                format!("the log key's signature does not hold: {e}"),
            ));
        }
        let checkpoint = parsed.checkpoint();
        if checkpoint.size() != size {
            return self.fail(
                Failure::new(
                    at,
                    "checkpoint_misplaced",
                    "the checkpoint's size is not the number of leaves before it",
                )
                .expected(size)
                .found(checkpoint.size()),
            );
        }
        let root = self.tree.root();
        if *checkpoint.root() != root {
            return self.fail(
                Failure::new(
                    at,
                    "checkpoint_root",
                    "the checkpoint's root is not the root of the leaves",
                )
                .expected(root)
                .found(*checkpoint.root()),
            );
        }
        if let Some(last) = self.last_checkpoint
            && size <= last
        {
            return self.fail(
                Failure::new(at, "checkpoint_order", "checkpoint sizes must grow")
                    .expected(format!("> {last}"))
                    .found(size),
            );
        }
        if self.last_kind != Some(BodyKind::StateRoot) {
            return self.fail(Failure::new(
                at,
                "checkpoint_not_at_state_root",
                "the last leaf of a checkpointed tree must be a valid StateRoot",
            ));
        }
        self.last_checkpoint = Some(size);
        let operator = note_key_hash(&params.origin, &params.log_key);
        for line in parsed.note().signatures() {
            if line.name() == params.origin && *line.key_hash() == operator {
                continue;
            }
            let known = params.witnesses.iter().any(|w| {
                w.name == line.name() && cosignature_key_hash(&w.name, &w.key) == *line.key_hash()
            });
            if !known {
                let expected: Vec<&str> =
                    params.witnesses.iter().map(|w| w.name.as_str()).collect();
                self.fail(
                    Failure::new(
                        at,
                        "cosignature_unknown_key",
                        "a cosignature by a key the genesis does not name",
                    )
                    .expected(format!("one of {expected:?}"))
                    .found(format!(
                        "{} key hash {}",
                        line.name(),
                        hex_bytes(line.key_hash())
                    )),
                );
            }
        }
        if params.quorum > 0
            && let Err(e) = verify_quorum(parsed.note(), &params.witnesses, params.quorum.into())
        {
            self.fail(Failure::new(
                at,
                "quorum",
                format!("the checkpoint is not witnessed: {e}"),
            ));
        }
    }

    fn finish(mut self) -> Report {
        if !self.stopped() {
            let size = self.tree.size();
            if size > 0 && self.last_checkpoint.is_none() {
                self.fail(Failure::new(
                    At::End(size),
                    "no_checkpoint",
                    "no valid checkpoint signs any of the leaves",
                ));
            }
        }
        let mut cross_check_root = None;
        if self.options.cross_check && !self.hashes.is_empty() && !self.stopped() {
            let t = Instant::now();
            let theirs = Hash(
                rs_merkle::MerkleTree::<RsBlake3>::from_leaves(&self.hashes)
                    .root()
                    .unwrap_or_default(),
            );
            self.stats.cross_check = secs(t.elapsed());
            cross_check_root = Some(theirs);
            let ours = self.tree.root();
            if theirs != ours {
                self.fail(
                    Failure::new(
                        At::End(self.tree.size()),
                        "cross_check",
                        "rs_merkle computes another root for the same leaves",
                    )
                    .expected(ours)
                    .found(theirs),
                );
            }
        }
        self.hashes = Vec::new();
        if self.options.stats && !self.sample.is_empty() {
            let ceiling = ceiling(&self.sample, self.params(), self.options.threads);
            self.stats.ceiling_per_s = Some(ceiling);
        }
        let state = self.engine.state();
        Report {
            origin: state.params().map(|p| p.origin.clone()),
            leaves: self.leaves,
            checkpoints: self.checkpoints,
            state_roots: self.state_roots,
            root: self.tree.root(),
            cross_check_root,
            last_checkpoint: self.last_checkpoint,
            accounts: state.accounts().count(),
            total_deposits: state.total_deposits(),
            failures: self.failures,
            stats: self.stats,
        }
    }
}

/// Signatures per second `verify_leaves` sustains on `sample` over `threads` threads.
fn ceiling(sample: &[Leaf], params: Option<&LogParams>, threads: usize) -> f64 {
    let origin = params.map(|p| p.origin.as_str()).unwrap_or_default();
    let per = sample.len().div_ceil(threads.max(1));
    let t = Instant::now();
    std::thread::scope(|s| {
        for part in sample.chunks(per.max(1)) {
            s.spawn(move || {
                let refs: Vec<&Leaf> = part.iter().collect();
                verify_leaves(origin, &refs)
            });
        }
    });
    sample.len() as f64 / t.elapsed().as_secs_f64().max(1e-9)
}

fn rejection(index: u64, r: &Rejection) -> Failure {
    let failure = Failure::new(
        At::Leaf(index),
        r.code(),
        format!("the rules refuse it: {r}"),
    );
    match r {
        Rejection::StateRootMismatch { claimed, computed } => {
            failure.expected(*computed).found(*claimed)
        }
        Rejection::BadSignature { signer } => failure.found(signer),
        _ => failure,
    }
}

fn hex_bytes(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// RFC 9162 hashing with BLAKE3 in rs_merkle's terms: its inputs are leaf hashes already, and a
/// lone right-most node moves up unchanged, which gives RFC 9162's left-balanced tree.
#[derive(Clone)]
struct RsBlake3;

impl rs_merkle::Hasher for RsBlake3 {
    type Hash = [u8; 32];

    fn hash(data: &[u8]) -> [u8; 32] {
        Blake3.hash_leaf(data).0
    }

    fn concat_and_hash(left: &[u8; 32], right: Option<&[u8; 32]>) -> [u8; 32] {
        match right {
            Some(right) => Blake3.hash_children(&Hash(*left), &Hash(*right)).0,
            None => *left,
        }
    }
}

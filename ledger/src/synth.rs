//! Synthetic logs (cargo feature `synth`): valid, signed, seeded logs of any length, fast, for
//! tests that need a real log without a node and for million-entry measurements of replay.
//!
//! A [`LogBuilder`] holds the keys of an operator, witnesses, subjects and accessors derived from
//! one seed, and applies every leaf it makes to its own [`Engine`], so what it emits is exactly
//! what the rules accept: a `Genesis`, enrolments, registrations, deposits and grants, then
//! traffic (mostly accesses under consent, some under other bases, revocations and new grants,
//! claims, payouts, deposits), with a `StateRoot` and a checkpoint cosigned by every witness
//! every `batch` leaves. The accounts are fixed at the start, so a longer log is more traffic
//! over the same accounts: what an audit's memory must not grow with.

use ed25519_dalek::SigningKey;

use crate::checkpoint::{Checkpoint, WitnessKey, cosign, sign_checkpoint};
use crate::entry::{
    Access, Body, Claim, DataCategory, Deposit, EnrollSubject, Genesis, GrantConsent, Leaf,
    LegalBasis, PayoutSettled, Purpose, RegisterAccessor, RevokeConsent, sign_body,
};
use crate::hash::{Blake3, Hash, TreeHasher};
use crate::keys::PublicKey;
use crate::map::SparseMap;
use crate::merkle::CompactRange;
use crate::state::{Engine, EngineError};

/// The shape of a synthetic log.
#[derive(Clone, Debug)]
pub struct SynthConfig {
    /// Every key and every choice derives from it.
    pub seed: u64,
    /// Subject accounts.
    pub subjects: usize,
    /// Accessor accounts.
    pub accessors: usize,
    /// Witnesses named in `Genesis`; every one cosigns every checkpoint.
    pub witnesses: usize,
    /// Leaves between two `StateRoot`s (each followed by a checkpoint).
    pub batch: u64,
    /// `sequenced_at` of the genesis, Unix ms; each later leaf is 1 ms later.
    pub start_ms: u64,
}

impl Default for SynthConfig {
    fn default() -> Self {
        Self {
            seed: 1,
            subjects: 16,
            accessors: 4,
            witnesses: 2,
            batch: 64,
            start_ms: 1_796_000_000_000,
        }
    }
}

/// What a builder emits, in log order.
#[derive(Clone, Debug)]
pub enum Item {
    /// The next leaf.
    Leaf {
        /// Its index.
        index: u64,
        /// The leaf, stamped.
        leaf: Leaf,
    },
    /// A checkpoint of the tree so far (which ends with a `StateRoot`), with cosignatures.
    Checkpoint {
        /// The note text.
        note: String,
    },
}

/// The log's name in every synthetic log.
pub const SYNTH_ORIGIN: &str = "synth.testigo.example/log";

struct Party {
    key: SigningKey,
    public: PublicKey,
    next_nonce: u64,
}

impl Party {
    fn new(seed: u64, label: &str, i: usize) -> Self {
        let mut h = blake3::Hasher::new();
        h.update(b"testigo/synth/v1\n");
        h.update(&seed.to_be_bytes());
        h.update(label.as_bytes());
        h.update(&(i as u64).to_be_bytes());
        let key = SigningKey::from_bytes(h.finalize().as_bytes());
        let public = PublicKey(key.verifying_key().to_bytes());
        Self {
            key,
            public,
            next_nonce: 0,
        }
    }

    fn nonce(&mut self) -> u64 {
        let n = self.next_nonce;
        self.next_nonce += 1;
        n
    }
}

/// Builds a valid synthetic log ([module docs](self)).
pub struct LogBuilder {
    config: SynthConfig,
    rng: u64,
    engine: Engine<SparseMap>,
    tree: CompactRange<Blake3>,
    operator: Party,
    witnesses: Vec<(String, Party)>,
    regulator: Party,
    subjects: Vec<Party>,
    accessors: Vec<Party>,
    /// Each subject's grant in force (index of its `GrantConsent` leaf).
    grants: Vec<Option<u64>>,
    /// Claims not yet settled, oldest first.
    open_claims: std::collections::VecDeque<u64>,
    since_root: u64,
}

impl std::fmt::Debug for LogBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogBuilder")
            .field("config", &self.config)
            .field("size", &self.tree.size())
            .finish_non_exhaustive()
    }
}

const CATEGORIES: [DataCategory; 3] = [
    DataCategory::Location,
    DataCategory::CallLog,
    DataCategory::Purchase,
];
const PURPOSES: [Purpose; 2] = [
    Purpose::PersonalisedAdvertising,
    Purpose::ResearchAndDevelopment,
];
/// A grant's price: every access under it pays this plus 0–2.
const GRANT_PRICE: u64 = 3;
/// What each accessor is given at the start: enough for billions of accesses.
const INITIAL_DEPOSIT: u64 = 1 << 50;

impl LogBuilder {
    /// A builder that has emitted nothing yet; [`LogBuilder::setup`] writes the accounts.
    ///
    /// # Panics
    /// If `config.batch` is 0 or there are no subjects or accessors.
    pub fn new(config: SynthConfig) -> Self {
        assert!(config.batch > 0 && config.subjects > 0 && config.accessors > 0);
        let seed = config.seed;
        Self {
            rng: seed ^ 0x9e37_79b9_7f4a_7c15,
            engine: Engine::new(SparseMap::new()),
            tree: CompactRange::new(Blake3),
            operator: Party::new(seed, "operator", 0),
            witnesses: (0..config.witnesses)
                .map(|i| {
                    (
                        format!("w{i}.synth.example"),
                        Party::new(seed, "witness", i),
                    )
                })
                .collect(),
            regulator: Party::new(seed, "regulator", 0),
            subjects: (0..config.subjects)
                .map(|i| Party::new(seed, "subject", i))
                .collect(),
            accessors: (0..config.accessors)
                .map(|i| Party::new(seed, "accessor", i))
                .collect(),
            grants: vec![None; config.subjects],
            open_claims: std::collections::VecDeque::new(),
            since_root: 0,
            config,
        }
    }

    /// The log key.
    pub fn log_key(&self) -> &SigningKey {
        &self.operator.key
    }

    /// The witnesses' names and keys, as `Genesis` lists them.
    pub fn witnesses(&self) -> impl Iterator<Item = (&str, &SigningKey)> {
        self.witnesses.iter().map(|(n, p)| (n.as_str(), &p.key))
    }

    /// The regulator's key (in `Genesis`).
    pub fn regulator_key(&self) -> &SigningKey {
        &self.regulator.key
    }

    /// Subject `i`'s key.
    pub fn subject_key(&self, i: usize) -> &SigningKey {
        &self.subjects[i].key
    }

    /// Accessor `i`'s key.
    pub fn accessor_key(&self, i: usize) -> &SigningKey {
        &self.accessors[i].key
    }

    /// The engine, with every leaf emitted applied.
    pub fn engine(&self) -> &Engine<SparseMap> {
        &self.engine
    }

    /// Leaves emitted.
    pub fn size(&self) -> u64 {
        self.tree.size()
    }

    /// The root of the leaves emitted.
    pub fn root(&self) -> Hash {
        self.tree.root()
    }

    fn next(&mut self) -> u64 {
        // splitmix64: seeded, fast, and no dependency for a test generator.
        self.rng = self.rng.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// Stamps, applies and emits a leaf signed elsewhere (a test's own entry), then closes the
    /// batch if it is full. Returns its index.
    ///
    /// # Errors
    /// [`EngineError`] if the rules refuse it: nothing is emitted.
    pub fn push(&mut self, leaf: Leaf, sink: &mut impl FnMut(Item)) -> Result<u64, EngineError> {
        let index = self.push_leaf(leaf, sink)?;
        self.since_root += 1;
        if self.since_root >= self.config.batch {
            self.checkpoint(sink);
        }
        Ok(index)
    }

    fn push_leaf(&mut self, leaf: Leaf, sink: &mut impl FnMut(Item)) -> Result<u64, EngineError> {
        let at = self.config.start_ms + self.tree.size();
        let leaf = leaf.sequenced(at);
        self.engine.apply_preverified(&leaf, at)?;
        let index = self.tree.size();
        self.tree.push(Blake3.hash_leaf(&leaf.to_bytes()));
        sink(Item::Leaf { index, leaf });
        Ok(index)
    }

    fn operator_entry(
        &mut self,
        body: impl FnOnce(u64) -> Body,
        sink: &mut impl FnMut(Item),
    ) -> u64 {
        let body = body(self.operator.nonce());
        let leaf = sign_body(SYNTH_ORIGIN, &self.operator.key, &body);
        self.must_push(leaf, sink)
    }

    fn must_push(&mut self, leaf: Leaf, sink: &mut impl FnMut(Item)) -> u64 {
        match self.push(leaf, sink) {
            Ok(index) => index,
            // The builder aims every entry from its own state: a refusal is a bug here.
            Err(e) => panic!("synthetic entry refused at {}: {e}", self.tree.size()),
        }
    }

    /// Appends a `StateRoot` and emits a checkpoint cosigned by every witness.
    pub fn checkpoint(&mut self, sink: &mut impl FnMut(Item)) {
        let at = self.config.start_ms + self.tree.size();
        let (leaf, _) = match self.engine.append_state_root(&self.operator.key, at) {
            Ok(done) => done,
            Err(e) => panic!("synthetic StateRoot refused: {e}"),
        };
        let index = self.tree.size();
        self.tree.push(Blake3.hash_leaf(&leaf.to_bytes()));
        sink(Item::Leaf { index, leaf });
        self.since_root = 0;
        sink(Item::Checkpoint { note: self.note() });
    }

    /// The note of the tree as it is, signed and cosigned by every witness.
    fn note(&self) -> String {
        let size = self.tree.size();
        let checkpoint = match Checkpoint::new(SYNTH_ORIGIN, size, self.tree.root()) {
            Ok(c) => c,
            Err(e) => panic!("synthetic checkpoint: {e}"),
        };
        let mut note = sign_checkpoint(&checkpoint, &self.operator.key);
        let time = (self.config.start_ms + size) / 1000;
        for (name, w) in &self.witnesses {
            let added = cosign(&checkpoint, name, &w.key, time)
                .map_err(|e| e.to_string())
                .and_then(|c| {
                    note.push_signature(c.to_note_signature())
                        .map_err(|e| e.to_string())
                });
            if let Err(e) = added {
                panic!("synthetic cosignature: {e}");
            }
        }
        note.to_text()
    }

    /// Emits the genesis, every account, a deposit per accessor and a grant per subject, and a
    /// checkpoint.
    pub fn setup(&mut self, sink: &mut impl FnMut(Item)) {
        let genesis = Genesis {
            nonce: self.operator.nonce(),
            origin: SYNTH_ORIGIN.into(),
            log_key: self.operator.public,
            fee_bps: 250,
            currency: "EUR".into(),
            decimals: 2,
            witnesses: self
                .witnesses
                .iter()
                .map(|(name, p)| WitnessKey {
                    name: name.clone(),
                    key: p.public,
                })
                .collect(),
            quorum: self.witnesses.len().max(1) as u16,
            regulators: vec![self.regulator.public],
            operator_salt: salt(&self.operator.public),
        };
        let leaf = sign_body(SYNTH_ORIGIN, &self.operator.key, &Body::Genesis(genesis));
        self.must_push(leaf, sink);
        for i in 0..self.subjects.len() {
            let subject = self.subjects[i].public;
            self.operator_entry(
                |nonce| {
                    Body::EnrollSubject(EnrollSubject {
                        nonce,
                        subject,
                        salt: salt(&subject),
                    })
                },
                sink,
            );
        }
        for i in 0..self.accessors.len() {
            let accessor = self.accessors[i].public;
            self.operator_entry(
                |nonce| {
                    Body::RegisterAccessor(RegisterAccessor {
                        nonce,
                        accessor,
                        display_name: format!("Synthetic Buyer {i}"),
                        legal_entity_id: format!("SYNTH{i:04}"),
                        salt: salt(&accessor),
                    })
                },
                sink,
            );
            self.deposit(i, INITIAL_DEPOSIT, sink);
        }
        for s in 0..self.subjects.len() {
            self.grant(s, sink);
        }
        self.checkpoint(sink);
    }

    fn deposit(&mut self, accessor: usize, amount: u64, sink: &mut impl FnMut(Item)) {
        let accessor = self.accessors[accessor].public;
        let reference = format!("synth-deposit-{}", self.tree.size());
        self.operator_entry(
            |nonce| {
                Body::Deposit(Deposit {
                    nonce,
                    accessor,
                    amount,
                    reference,
                })
            },
            sink,
        );
    }

    fn grant(&mut self, s: usize, sink: &mut impl FnMut(Item)) {
        let body = Body::GrantConsent(GrantConsent {
            nonce: self.subjects[s].nonce(),
            accessor: None,
            categories: CATEGORIES.to_vec(),
            purposes: PURPOSES.to_vec(),
            price: GRANT_PRICE,
            valid_from: self.config.start_ms,
            valid_until: None,
        });
        let leaf = sign_body(SYNTH_ORIGIN, &self.subjects[s].key, &body);
        let index = self.must_push(leaf, sink);
        self.grants[s] = Some(index);
    }

    /// Emits `entries` leaves of traffic (plus the `StateRoot`s their batches need).
    pub fn traffic(&mut self, entries: u64, sink: &mut impl FnMut(Item)) {
        for _ in 0..entries {
            self.one(sink);
        }
    }

    /// Closes the last batch if it has leaves: the log then ends with a checkpoint.
    pub fn finish(&mut self, sink: &mut impl FnMut(Item)) {
        if self.since_root > 0 {
            self.checkpoint(sink);
        }
    }

    fn one(&mut self, sink: &mut impl FnMut(Item)) {
        let roll = self.below(1000);
        let s = self.below(self.subjects.len());
        let a = self.below(self.accessors.len());
        match (roll, self.grants[s]) {
            (0..=2, Some(consent)) => {
                let body = Body::RevokeConsent(RevokeConsent {
                    nonce: self.subjects[s].nonce(),
                    consent,
                });
                let leaf = sign_body(SYNTH_ORIGIN, &self.subjects[s].key, &body);
                self.must_push(leaf, sink);
                self.grants[s] = None;
            }
            (3..=4, _) => self.claim(s, sink),
            (5..=6, _) if !self.open_claims.is_empty() => self.settle(sink),
            (7, _) => self.deposit(a, 1_000_000, sink),
            (8..=59, _) => self.access(s, a, None, sink),
            (_, Some(consent)) => self.access(s, a, Some(consent), sink),
            (_, None) => self.grant(s, sink),
        }
    }

    fn access(&mut self, s: usize, a: usize, consent: Option<u64>, sink: &mut impl FnMut(Item)) {
        let pick = self.next() as usize;
        let body = Body::Access(Access {
            nonce: self.accessors[a].nonce(),
            subject: self.subjects[s].public,
            category: CATEGORIES[pick % CATEGORIES.len()],
            purpose: PURPOSES[(pick >> 8) % PURPOSES.len()],
            legal_basis: if consent.is_some() {
                LegalBasis::Consent
            } else {
                LegalBasis::LegitimateInterest
            },
            consent,
            price: GRANT_PRICE + (pick >> 16) as u64 % 3,
        });
        let leaf = sign_body(SYNTH_ORIGIN, &self.accessors[a].key, &body);
        self.must_push(leaf, sink);
    }

    fn claim(&mut self, s: usize, sink: &mut impl FnMut(Item)) {
        let public = self.subjects[s].public;
        let balance = self
            .engine
            .state()
            .account(&public)
            .map_or(0, |r| r.balance);
        if balance == 0 {
            return self.access(s, 0, self.grants[s], sink);
        }
        let body = Body::Claim(Claim {
            nonce: self.subjects[s].nonce(),
            amount: balance,
            payout_ref: Blake3.hash_leaf(&self.tree.size().to_be_bytes()),
        });
        let leaf = sign_body(SYNTH_ORIGIN, &self.subjects[s].key, &body);
        let index = self.must_push(leaf, sink);
        self.open_claims.push_back(index);
    }

    fn settle(&mut self, sink: &mut impl FnMut(Item)) {
        let Some(claim) = self.open_claims.pop_front() else {
            return;
        };
        self.operator_entry(
            |nonce| {
                Body::PayoutSettled(PayoutSettled {
                    nonce,
                    claim,
                    settlement_ref: format!("synth-payout-{claim}"),
                })
            },
            sink,
        );
    }
}

fn salt(key: &PublicKey) -> [u8; 32] {
    *blake3::hash(key.as_bytes()).as_bytes()
}

/// A whole synthetic log in memory: `setup`, `entries` leaves of traffic, `finish`.
pub fn build(config: SynthConfig, entries: u64) -> (LogBuilder, Vec<Item>) {
    let mut items = Vec::new();
    let mut builder = LogBuilder::new(config);
    let mut sink = |item| items.push(item);
    builder.setup(&mut sink);
    builder.traffic(entries, &mut sink);
    builder.finish(&mut sink);
    (builder, items)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::verify_witnessed;
    use crate::state::replay;

    #[test]
    fn a_synthetic_log_replays_and_its_checkpoints_are_witnessed() {
        let (builder, items) = build(SynthConfig::default(), 3_000);
        let leaves: Vec<(u64, Leaf)> = items
            .iter()
            .filter_map(|i| match i {
                Item::Leaf { index, leaf } => Some((*index, leaf.clone())),
                Item::Checkpoint { .. } => None,
            })
            .collect();
        let outcome = replay(leaves).expect("valid log");
        assert_eq!(outcome.state.next_index(), builder.size());
        outcome.state.check_invariants().unwrap();
        let params = outcome.state.params().unwrap().clone();
        let notes: Vec<&String> = items
            .iter()
            .filter_map(|i| match i {
                Item::Checkpoint { note } => Some(note),
                Item::Leaf { .. } => None,
            })
            .collect();
        assert!(notes.len() > 3_000 / 64);
        for note in notes {
            verify_witnessed(
                note.as_bytes(),
                &params.origin,
                &params.log_key,
                &params.witnesses,
                params.quorum.into(),
            )
            .unwrap();
        }
        let kinds: std::collections::BTreeSet<_> = items
            .iter()
            .filter_map(|i| match i {
                Item::Leaf { leaf, .. } => Some(leaf.decode_body().unwrap().kind()),
                Item::Checkpoint { .. } => None,
            })
            .collect();
        assert_eq!(kinds.len(), crate::entry::BodyKind::ALL.len(), "{kinds:?}");
    }

    #[test]
    fn the_same_seed_builds_the_same_log() {
        let root = |seed| {
            build(
                SynthConfig {
                    seed,
                    ..SynthConfig::default()
                },
                500,
            )
            .0
            .root()
        };
        assert_eq!(root(7), root(7));
        assert_ne!(root(7), root(8));
    }
}

//! A small log under construction for state tests: signs bodies with per-label keys, tracks each
//! signer's next nonce, advances time, and applies through the engine, checking on every refusal
//! that the state did not change.

use std::collections::HashMap;

use testigo_ledger::PublicKey;
use testigo_ledger::entry::*;
use testigo_ledger::map::{JmtStateMap, MemoryMapStore};
use testigo_ledger::state::{Effects, Engine, EngineError, Rejection, State};

use super::{ORIGIN, key, pk};

/// Start of fixture time (Unix ms, late 2025).
pub const T0: u64 = 1_764_000_000_000;
/// The fixture log's fee: 2.5%.
pub const FEE_BPS: u16 = 250;

pub type TestEngine = Engine<JmtStateMap<MemoryMapStore>>;

pub struct Fixture {
    pub engine: TestEngine,
    /// Time the next leaf is sequenced at.
    pub now: u64,
    /// Every applied leaf, by index.
    pub leaves: Vec<Leaf>,
    /// The effects of every applied leaf, by index.
    pub effects: Vec<Effects>,
    /// Every leaf offered to the engine, applied or refused, in order.
    pub attempts: Vec<Leaf>,
    next_nonce: HashMap<PublicKey, u64>,
}

pub fn genesis_body() -> Genesis {
    Genesis {
        nonce: 0,
        origin: ORIGIN.into(),
        log_key: pk("operator"),
        fee_bps: FEE_BPS,
        currency: "EUR".into(),
        decimals: 2,
        witnesses: vec![WitnessKey {
            name: "witness.example".into(),
            key: pk("witness"),
        }],
        quorum: 1,
        regulators: vec![pk("regulator")],
        operator_salt: [7; 32],
    }
}

impl Fixture {
    /// An engine with nothing applied.
    pub fn empty() -> Self {
        Self {
            engine: Engine::new(JmtStateMap::new(MemoryMapStore::new())),
            now: T0,
            leaves: Vec::new(),
            effects: Vec::new(),
            attempts: Vec::new(),
            next_nonce: HashMap::new(),
        }
    }

    /// Genesis applied.
    pub fn genesis() -> Self {
        let mut f = Self::empty();
        f.ok("operator", |_| Body::Genesis(genesis_body()));
        f
    }

    /// Genesis, subjects `alice` and `bob`, accessors `acme` and `zed`, 1,000 deposited to `acme`.
    pub fn parties() -> Self {
        let mut f = Self::genesis();
        f.enroll("alice");
        f.enroll("bob");
        f.register("acme");
        f.register("zed");
        f.deposit("acme", 1_000);
        f
    }

    pub fn state(&self) -> &State {
        self.engine.state()
    }

    pub fn index(&self) -> u64 {
        self.state().next_index()
    }

    /// The nonce `who` would use next.
    pub fn nonce(&self, who: &str) -> u64 {
        self.next_nonce.get(&pk(who)).copied().unwrap_or(1)
    }

    /// Signs the body built from `who`'s next nonce, stamped with the fixture's time.
    pub fn sign(&self, who: &str, body: impl FnOnce(u64) -> Body) -> Leaf {
        sign_body(ORIGIN, &key(who), &body(self.nonce(who))).sequenced(self.now)
    }

    /// Applies a leaf; on refusal asserts the state is unchanged.
    pub fn apply(&mut self, leaf: Leaf) -> Result<Effects, Rejection> {
        let before = self.state().clone();
        let at = leaf.sequenced_at;
        self.attempts.push(leaf.clone());
        match self.engine.apply(&leaf, at) {
            Ok(effects) => {
                if let Ok(body) = leaf.decode_body()
                    && let Some(n) = body.nonce()
                {
                    self.next_nonce.insert(leaf.signer, n + 1);
                }
                self.leaves.push(leaf);
                self.effects.push(effects.clone());
                self.now += 1_000;
                assert_eq!(self.state().check_invariants(), Ok(()));
                Ok(effects)
            }
            Err(EngineError::Rejected(r)) => {
                assert_eq!(self.state(), &before, "refused {r:?} but the state changed");
                Err(r)
            }
            Err(EngineError::Map(e)) => panic!("in-memory map failed: {e}"),
            Err(EngineError::NotResident(n)) => panic!("a whole state lacks {n}"),
        }
    }

    pub fn submit(
        &mut self,
        who: &str,
        body: impl FnOnce(u64) -> Body,
    ) -> Result<Effects, Rejection> {
        let leaf = self.sign(who, body);
        self.apply(leaf)
    }

    #[track_caller]
    pub fn ok(&mut self, who: &str, body: impl FnOnce(u64) -> Body) -> Effects {
        match self.submit(who, body) {
            Ok(e) => e,
            Err(r) => panic!("expected {who}'s entry to apply, got {r:?}"),
        }
    }

    #[track_caller]
    pub fn reject(&mut self, who: &str, body: impl FnOnce(u64) -> Body) -> Rejection {
        match self.submit(who, body) {
            Ok(e) => panic!("expected {who}'s entry to be refused, it applied: {e:?}"),
            Err(r) => r,
        }
    }

    pub fn enroll(&mut self, who: &str) -> Effects {
        let subject = pk(who);
        self.ok("operator", |nonce| {
            Body::EnrollSubject(EnrollSubject {
                nonce,
                subject,
                salt: salt(who),
            })
        })
    }

    pub fn register(&mut self, who: &str) -> Effects {
        let accessor = pk(who);
        self.ok("operator", |nonce| {
            Body::RegisterAccessor(register_body(nonce, accessor, who))
        })
    }

    pub fn deposit(&mut self, who: &str, amount: u64) -> Effects {
        let accessor = pk(who);
        self.ok("operator", |nonce| {
            Body::Deposit(Deposit {
                nonce,
                accessor,
                amount,
                reference: format!("SEPA-{nonce}"),
            })
        })
    }

    /// `who` grants `accessor` (or anyone) Location and Purchase for advertising, at `price`,
    /// valid from now on, open-ended. Returns the consent's index.
    pub fn grant(&mut self, who: &str, accessor: Option<&str>, price: u64) -> u64 {
        let b = grant_body(accessor.map(pk), price, self.now);
        self.ok(who, |nonce| Body::GrantConsent(GrantConsent { nonce, ..b }))
            .index
    }

    /// `who` accesses `subject`'s location for advertising under `consent` at `price`.
    pub fn access(
        &mut self,
        who: &str,
        subject: &str,
        consent: u64,
        price: u64,
    ) -> Result<Effects, Rejection> {
        let subject = pk(subject);
        self.submit(who, |nonce| {
            Body::Access(access_body(nonce, subject, Some(consent), price))
        })
    }

    /// Appends a correct `StateRoot` signed by the log key.
    pub fn state_root(&mut self) -> Effects {
        let (leaf, effects) = self
            .engine
            .append_state_root(&key("operator"), self.now)
            .expect("state root");
        self.attempts.push(leaf.clone());
        self.leaves.push(leaf);
        self.effects.push(effects.clone());
        self.now += 1_000;
        effects
    }

    /// `who`'s history so far: (index, leaf) of every leaf that involved it.
    pub fn history_of(&self, who: &str) -> Vec<(u64, Leaf)> {
        let key = pk(who);
        self.effects
            .iter()
            .filter(|e| e.involved.contains(&key))
            .map(|e| (e.index, self.leaves[e.index as usize].clone()))
            .collect()
    }
}

pub fn salt(who: &str) -> [u8; 32] {
    *blake3::hash(format!("salt {who}").as_bytes()).as_bytes()
}

pub fn register_body(nonce: u64, accessor: PublicKey, who: &str) -> RegisterAccessor {
    RegisterAccessor {
        nonce,
        accessor,
        display_name: format!("{who} Ltd"),
        legal_entity_id: "5493001KJTIIGC8Y1R12".into(),
        salt: salt(who),
    }
}

pub fn grant_body(accessor: Option<PublicKey>, price: u64, from: u64) -> GrantConsent {
    GrantConsent {
        nonce: 0,
        accessor,
        categories: vec![DataCategory::Location, DataCategory::Purchase],
        purposes: vec![Purpose::PersonalisedAdvertising],
        price,
        valid_from: from,
        valid_until: None,
    }
}

pub fn access_body(nonce: u64, subject: PublicKey, consent: Option<u64>, price: u64) -> Access {
    Access {
        nonce,
        subject,
        category: DataCategory::Location,
        purpose: Purpose::PersonalisedAdvertising,
        legal_basis: LegalBasis::Consent,
        consent,
        price,
    }
}

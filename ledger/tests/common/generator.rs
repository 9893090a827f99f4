//! A seeded generator of long random logs, valid and invalid entries mixed, for the property
//! tests and the replay test. It reads the live state only to aim its entries (which consent to
//! cite, how much to claim); whether an entry is accepted is always the state's decision, except
//! for the deliberate corruptions, whose exact rejection the generator asserts.

use std::collections::BTreeMap;

use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{Rng, SeedableRng};
use testigo_ledger::entry::*;
use testigo_ledger::state::{EngineError, Rejection};
use testigo_ledger::{Hash, PublicKey};

use super::fixture::{Fixture, register_body, salt};
use super::pk;

/// Default seed; `TESTIGO_SEED=<u64>` replays another run.
pub const DEFAULT_SEED: u64 = 0x7e57_1600;

/// The seed for this run, printed so a failure can be reproduced.
pub fn seed() -> u64 {
    let seed = std::env::var("TESTIGO_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_SEED);
    eprintln!("random log seed: {seed} (set TESTIGO_SEED to reproduce)");
    seed
}

pub struct Generator {
    rng: ChaCha8Rng,
    pub seed: u64,
    pub f: Fixture,
    subjects: Vec<String>,
    accessors: Vec<String>,
    pub steps: usize,
    pub accepted: usize,
    /// Rejections seen, by code.
    pub rejected: BTreeMap<&'static str, usize>,
    /// Every StateRoot appended: (index, map root).
    pub state_roots: Vec<(u64, Hash)>,
}

impl Generator {
    pub fn new(seed: u64) -> Self {
        Self {
            rng: ChaCha8Rng::seed_from_u64(seed),
            seed,
            f: Fixture::genesis(),
            subjects: Vec::new(),
            accessors: Vec::new(),
            steps: 0,
            accepted: 1,
            rejected: BTreeMap::new(),
            state_roots: Vec::new(),
        }
    }

    fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.rng.next_u64() % n }
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn pick<'a>(&mut self, items: &'a [String]) -> Option<&'a str> {
        if items.is_empty() {
            return None;
        }
        let i = self.below(items.len() as u64) as usize;
        Some(items[i].as_str())
    }

    fn subject(&mut self) -> String {
        let subjects = self.subjects.clone();
        self.pick(&subjects).unwrap_or("nobody").to_owned()
    }

    /// An accessor, or the operator (about one time in six).
    fn payer(&mut self) -> String {
        let accessors = self.accessors.clone();
        if self.chance(15) {
            return "operator".into();
        }
        self.pick(&accessors).unwrap_or("operator").to_owned()
    }

    /// Runs `n` steps.
    pub fn run(&mut self, n: usize) {
        for _ in 0..n {
            self.step();
        }
    }

    /// Generates one entry (or a StateRoot) and applies it.
    pub fn step(&mut self) {
        self.steps += 1;
        if self.chance(20) {
            self.f.now += self.below(5_000);
        }
        let roll = self.below(100);
        if roll < 2 {
            let effects = self.f.state_root();
            let Body::StateRoot(b) = self.f.leaves.last().unwrap().decode_body().unwrap() else {
                unreachable!("state_root appends a StateRoot")
            };
            self.state_roots.push((effects.index, b.map_root));
            self.accepted += 1;
            return;
        }
        if roll < 16 {
            self.corrupted();
            return;
        }
        let (who, body) = self.entry(roll);
        let leaf = self.f.sign(&who, body);
        self.record(leaf);
    }

    fn record(&mut self, leaf: Leaf) -> Option<Rejection> {
        match self.f.apply(leaf) {
            Ok(_) => {
                self.accepted += 1;
                None
            }
            Err(r) => {
                *self.rejected.entry(r.code()).or_default() += 1;
                Some(r)
            }
        }
    }

    /// A plausible entry of a kind chosen by `roll` (16..100).
    fn entry(&mut self, roll: u64) -> (String, Box<dyn FnOnce(u64) -> Body>) {
        match roll {
            16..20 => {
                let label = if self.subjects.len() < 30 || self.chance(10) {
                    format!("subject {}", self.subjects.len().min(31))
                } else {
                    self.subject()
                };
                if !self.subjects.contains(&label) {
                    self.subjects.push(label.clone());
                }
                let (subject, salt) = (pk(&label), salt(&label));
                (
                    "operator".into(),
                    Box::new(move |nonce| {
                        Body::EnrollSubject(EnrollSubject {
                            nonce,
                            subject,
                            salt,
                        })
                    }),
                )
            }
            20..22 => {
                let label = format!("accessor {}", self.accessors.len().min(8));
                if !self.accessors.contains(&label) {
                    self.accessors.push(label.clone());
                }
                let accessor = pk(&label);
                (
                    "operator".into(),
                    Box::new(move |nonce| {
                        Body::RegisterAccessor(register_body(nonce, accessor, &label))
                    }),
                )
            }
            22..30 => {
                let accessor = pk(&self.payer());
                let amount = if self.chance(1) {
                    u64::MAX / 3
                } else {
                    self.below(5_000)
                };
                (
                    "operator".into(),
                    Box::new(move |nonce| {
                        Body::Deposit(Deposit {
                            nonce,
                            accessor,
                            amount,
                            reference: format!("ref {nonce}"),
                        })
                    }),
                )
            }
            30..42 => {
                let who = self.subject();
                let body = self.grant_body();
                (
                    who,
                    Box::new(move |nonce| Body::GrantConsent(GrantConsent { nonce, ..body })),
                )
            }
            42..47 => {
                let consents: Vec<(u64, PublicKey)> = self
                    .f
                    .state()
                    .consents()
                    .map(|(i, c)| (i, c.subject))
                    .collect();
                let (consent, owner) = match consents.len() {
                    0 => (self.below(50), pk("nobody")),
                    n => consents[self.below(n as u64) as usize],
                };
                let who = if self.chance(85) {
                    self.subjects
                        .iter()
                        .find(|s| pk(s) == owner)
                        .cloned()
                        .unwrap_or_else(|| self.subject())
                } else {
                    self.subject()
                };
                (
                    who,
                    Box::new(move |nonce| Body::RevokeConsent(RevokeConsent { nonce, consent })),
                )
            }
            47..85 => self.access(),
            85..93 => {
                let who = self.subject();
                let balance = self.f.state().account(&pk(&who)).map_or(0, |a| a.balance);
                let amount = if balance > 0 && self.chance(85) {
                    1 + self.below(balance)
                } else {
                    1 + balance
                };
                let payout_ref = Hash([self.below(256) as u8; 32]);
                (
                    who,
                    Box::new(move |nonce| {
                        Body::Claim(Claim {
                            nonce,
                            amount,
                            payout_ref,
                        })
                    }),
                )
            }
            _ => {
                let claims: Vec<(u64, bool)> = self
                    .f
                    .state()
                    .claims()
                    .map(|(i, c)| (i, c.settled_at.is_none()))
                    .collect();
                let open: Vec<u64> = claims.iter().filter(|c| c.1).map(|c| c.0).collect();
                let claim = if !open.is_empty() && self.chance(85) {
                    open[self.below(open.len() as u64) as usize]
                } else if !claims.is_empty() {
                    claims[self.below(claims.len() as u64) as usize].0
                } else {
                    self.below(100)
                };
                (
                    "operator".into(),
                    Box::new(move |nonce| {
                        Body::PayoutSettled(PayoutSettled {
                            nonce,
                            claim,
                            settlement_ref: format!("P {claim}"),
                        })
                    }),
                )
            }
        }
    }

    fn grant_body(&mut self) -> GrantConsent {
        let accessor = if self.chance(40) {
            None
        } else {
            Some(pk(&self.payer()))
        };
        let categories: Vec<DataCategory> = DataCategory::ALL
            .iter()
            .copied()
            .filter(|_| self.chance(45))
            .collect();
        let purposes: Vec<Purpose> = Purpose::ALL
            .iter()
            .copied()
            .filter(|_| self.chance(40))
            .collect();
        let now = self.f.now;
        let valid_from = if self.chance(80) {
            now.saturating_sub(self.below(50_000))
        } else {
            now + self.below(20_000)
        };
        let valid_until = match self.below(10) {
            0..5 => None,
            5 => Some(valid_from.saturating_sub(self.below(3))),
            _ => Some(valid_from + 1 + self.below(100_000)),
        };
        GrantConsent {
            nonce: 0,
            accessor,
            categories,
            purposes,
            price: self.below(50),
            valid_from,
            valid_until,
        }
    }

    fn access(&mut self) -> (String, Box<dyn FnOnce(u64) -> Body>) {
        let who = self.payer();
        let mut subject_label = self.subject();
        let mut category = DataCategory::ALL[self.below(DataCategory::ALL.len() as u64) as usize];
        let mut purpose = Purpose::ALL[self.below(Purpose::ALL.len() as u64) as usize];
        let mut price = self.below(60);
        let (legal_basis, consent) = if self.chance(75) {
            let consents: Vec<(u64, testigo_ledger::state::Consent)> = self
                .f
                .state()
                .consents()
                .map(|(i, c)| (i, c.clone()))
                .collect();
            if consents.is_empty() || self.chance(3) {
                (
                    LegalBasis::Consent,
                    if self.chance(50) {
                        None
                    } else {
                        Some(self.below(1_000))
                    },
                )
            } else {
                let (index, c) = consents[self.below(consents.len() as u64) as usize].clone();
                if self.chance(90)
                    && let Some(owner) = self.subjects.iter().find(|s| pk(s) == c.subject)
                {
                    subject_label = owner.clone();
                }
                if self.chance(85) && !c.categories.is_empty() {
                    category = c.categories[self.below(c.categories.len() as u64) as usize];
                }
                if self.chance(85) && !c.purposes.is_empty() {
                    purpose = c.purposes[self.below(c.purposes.len() as u64) as usize];
                }
                if self.chance(85) {
                    price = c.price + self.below(5);
                }
                (LegalBasis::Consent, Some(index))
            }
        } else {
            let basis = LegalBasis::ALL[1 + self.below(LegalBasis::ALL.len() as u64 - 1) as usize];
            (
                basis,
                if self.chance(5) {
                    Some(self.below(100))
                } else {
                    None
                },
            )
        };
        let subject = pk(&subject_label);
        (
            who,
            Box::new(move |nonce| {
                Body::Access(Access {
                    nonce,
                    subject,
                    category,
                    purpose,
                    legal_basis,
                    consent,
                    price,
                })
            }),
        )
    }

    /// An entry corrupted so that exactly one known rule refuses it; asserts that rule.
    fn corrupted(&mut self) {
        let roll = self.below(100);
        let kind_roll = 47 + self.below(38);
        let (who, body) = self.entry(kind_roll);
        let who_key = pk(&who);
        let last_nonce = self.f.state().account(&who_key).and_then(|a| a.last_nonce);
        match self.below(5) {
            0 => {
                let mut leaf = self.f.sign(&who, body);
                leaf.signature[(roll % 64) as usize] ^= 1 << (roll % 8);
                self.expect(leaf, |r| matches!(r, Rejection::BadSignature { .. }));
            }
            1 if self.f.state().last_sequenced_at() > 0 => {
                let mut leaf = self.f.sign(&who, body);
                let last = self.f.state().last_sequenced_at();
                leaf.sequenced_at = last - 1 - self.below(last.min(10_000));
                self.expect(leaf, |r| matches!(r, Rejection::TimeWentBackwards { .. }));
            }
            2 if last_nonce.is_some() && self.f.state().account(&who_key).is_some() => {
                let last = last_nonce.unwrap_or(0);
                let reused = last - self.below(last.min(3) + 1);
                let leaf = self.f.sign(&who, move |_| body(reused));
                self.expect(leaf, |r| matches!(r, Rejection::NonceReused { .. }));
            }
            3 => {
                let ghost = format!("ghost {roll}");
                let leaf = self.f.sign(&ghost, body);
                self.expect(
                    leaf,
                    |r| matches!(r, Rejection::UnknownAccount { key } if *key == pk(&ghost)),
                );
            }
            _ => {
                let leaf = self.f.sign(&who, body);
                let before = self.f.state().clone();
                let at = leaf.sequenced_at + 1;
                match self.f.engine.apply(&leaf, at) {
                    Err(EngineError::Rejected(r @ Rejection::SequencedAtMismatch { .. })) => {
                        *self.rejected.entry(r.code()).or_default() += 1;
                    }
                    other => panic!(
                        "seed {}: expected sequenced_at_mismatch, got {other:?}",
                        self.seed
                    ),
                }
                assert_eq!(self.f.state(), &before, "seed {}", self.seed);
            }
        }
    }

    fn expect(&mut self, leaf: Leaf, is_expected: impl Fn(&Rejection) -> bool) {
        let step = self.steps;
        let seed = self.seed;
        match self.record(leaf) {
            Some(r) if is_expected(&r) => {}
            other => panic!("seed {seed}, step {step}: corrupted entry gave {other:?}"),
        }
    }
}

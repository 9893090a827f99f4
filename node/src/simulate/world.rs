//! The simulated population and the simulator's mirror of what the log holds: keys, nonces,
//! grants, balances and open claims. The mirror lets the simulator write only valid entries
//! for its traffic, and deliberately invalid ones whose refusal it can predict exactly.

use ed25519_dalek::SigningKey;
use rand_chacha::ChaCha8Rng;
use testigo_ledger::PublicKey;
use testigo_ledger::entry::{
    Access, Body, BodyKind, DataCategory, GrantConsent, Leaf, LegalBasis, Purpose, sign_body,
};

use super::day::Archetype;
use crate::loadgen::operator::{OperatorSigner, below, public, random_key};

/// A consent as the simulator remembers it.
#[derive(Clone, Debug)]
pub(crate) struct Grant {
    /// The leaf index naming it (known once sequenced).
    pub(crate) index: Option<u64>,
    /// The buyer it names.
    pub(crate) buyer: usize,
    pub(crate) categories: Vec<DataCategory>,
    pub(crate) purposes: Vec<Purpose>,
    pub(crate) price: u64,
    pub(crate) revoked: bool,
}

/// A customer with a wallet.
#[derive(Debug)]
pub(crate) struct Subject {
    pub(crate) key: SigningKey,
    pub(crate) public: PublicKey,
    pub(crate) next_nonce: u64,
    /// Earned and not yet claimed, minor units.
    pub(crate) balance: u64,
    pub(crate) grants: Vec<Grant>,
}

/// A data buyer; the operator is one too (`key` is `None`: it signs with the log key).
#[derive(Debug)]
pub(crate) struct Buyer {
    pub(crate) archetype: Archetype,
    pub(crate) key: Option<SigningKey>,
    pub(crate) public: PublicKey,
    pub(crate) next_nonce: u64,
    pub(crate) balance: u64,
}

/// What the simulator must learn from a sequenced entry.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Effect {
    None,
    /// The grant `slot` of subject `subject` is named by the entry's index.
    Granted {
        subject: usize,
        slot: usize,
    },
    /// A claim to settle later.
    Claimed,
}

/// Entries to submit in order, with what each means.
#[derive(Debug, Default)]
pub(crate) struct Pending {
    pub(crate) leaves: Vec<Leaf>,
    pub(crate) kinds: Vec<BodyKind>,
    pub(crate) effects: Vec<Effect>,
    /// Minor units each entry moves (deposits, prices, claims, payouts), for the summary.
    pub(crate) amounts: Vec<u64>,
}

impl Pending {
    pub(crate) fn push(&mut self, leaf: Leaf, kind: BodyKind, effect: Effect, amount: u64) {
        self.leaves.push(leaf);
        self.kinds.push(kind);
        self.effects.push(effect);
        self.amounts.push(amount);
    }
}

/// Everyone on the log.
#[derive(Debug)]
pub(crate) struct World {
    pub(crate) operator: OperatorSigner,
    pub(crate) fee_bps: u16,
    pub(crate) subjects: Vec<Subject>,
    /// Index 0 is the operator itself.
    pub(crate) buyers: Vec<Buyer>,
    /// A registered accessor that never gets money.
    pub(crate) broke: Buyer,
    /// A key the log has never seen.
    pub(crate) stranger: SigningKey,
    /// Claims sequenced and not yet settled, by leaf index, with their amounts.
    pub(crate) open_claims: Vec<(u64, u64)>,
    /// Claims settled.
    pub(crate) settled_claims: Vec<u64>,
    /// The last entry sequenced, to wait for the checkpoint that covers everything.
    pub(crate) last_sequenced: Option<Leaf>,
}

impl World {
    /// Creates the population (nothing is sent yet).
    pub(crate) fn new(
        operator: OperatorSigner,
        fee_bps: u16,
        subjects: usize,
        accessors: usize,
        rng: &mut ChaCha8Rng,
    ) -> Self {
        let subjects = (0..subjects)
            .map(|_| {
                let key = random_key(rng);
                Subject {
                    public: public(&key),
                    key,
                    next_nonce: 0,
                    balance: 0,
                    grants: Vec::new(),
                }
            })
            .collect();
        let mut buyers = vec![Buyer {
            archetype: Archetype::Operator,
            key: None,
            public: operator.public(),
            next_nonce: 0,
            balance: 0,
        }];
        for n in 0..accessors {
            let key = random_key(rng);
            buyers.push(Buyer {
                archetype: Archetype::BUYERS[n % Archetype::BUYERS.len()],
                public: public(&key),
                key: Some(key),
                next_nonce: 0,
                balance: 0,
            });
        }
        let broke_key = random_key(rng);
        let broke = Buyer {
            archetype: Archetype::AdNetwork,
            public: public(&broke_key),
            key: Some(broke_key),
            next_nonce: 0,
            balance: 0,
        };
        Self {
            operator,
            fee_bps,
            subjects,
            buyers,
            broke,
            stranger: random_key(rng),
            open_claims: Vec::new(),
            settled_claims: Vec::new(),
            last_sequenced: None,
        }
    }

    /// What a subject earns from an access at `price`, after the operator's fee.
    pub(crate) fn earned(&self, price: u64) -> u64 {
        price - price * u64::from(self.fee_bps) / 10_000
    }

    /// A new grant by `subject` to `buyer`, in the buyer's usual scope and price range.
    pub(crate) fn grant(
        &mut self,
        subject: usize,
        buyer: usize,
        rng: &mut ChaCha8Rng,
        out: &mut Pending,
    ) {
        let archetype = self.buyers[buyer].archetype;
        let (categories, purposes) = archetype.scope();
        let (low, high) = archetype.price_range();
        let price = low + below(rng, high - low + 1);
        let accessor = Some(self.buyers[buyer].public);
        let s = &mut self.subjects[subject];
        let body = Body::GrantConsent(GrantConsent {
            nonce: s.next_nonce,
            accessor,
            categories: categories.to_vec(),
            purposes: purposes.to_vec(),
            price,
            // Open a little in the past, and for a year or without end: the node stamps real
            // time, so a window must hold for the whole (compressed) run.
            valid_from: 0,
            valid_until: (below(rng, 2) == 0).then_some(u64::MAX / 2),
        });
        s.next_nonce += 1;
        let slot = s.grants.len();
        s.grants.push(Grant {
            index: None,
            buyer,
            categories: categories.to_vec(),
            purposes: purposes.to_vec(),
            price,
            revoked: false,
        });
        let leaf = sign_body(self.operator.origin(), &s.key, &body);
        out.push(
            leaf,
            BodyKind::GrantConsent,
            Effect::Granted { subject, slot },
            0,
        );
    }

    /// Signs an access by `buyer` with its next nonce (advanced only if `commit`).
    pub(crate) fn sign_access(&mut self, buyer: usize, access: Access, commit: bool) -> Leaf {
        let origin = self.operator.origin().to_owned();
        let b = &mut self.buyers[buyer];
        match &b.key {
            Some(key) => {
                let body = Body::Access(Access {
                    nonce: b.next_nonce,
                    ..access
                });
                if commit {
                    b.next_nonce += 1;
                }
                sign_body(&origin, key, &body)
            }
            None => {
                if commit {
                    self.operator
                        .sign(|nonce| Body::Access(Access { nonce, ..access }))
                } else {
                    let nonce = self.operator.next_nonce();
                    sign_body(
                        &origin,
                        self.operator.signing_key(),
                        &Body::Access(Access { nonce, ..access }),
                    )
                }
            }
        }
    }

    /// An access template (nonce filled in by [`Self::sign_access`]).
    pub(crate) fn access(
        subject: PublicKey,
        category: DataCategory,
        purpose: Purpose,
        legal_basis: LegalBasis,
        consent: Option<u64>,
        price: u64,
    ) -> Access {
        Access {
            nonce: 0,
            subject,
            category,
            purpose,
            legal_basis,
            consent,
            price,
        }
    }
}

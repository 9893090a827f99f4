//! Seeded keys and signed entries for the tests: every key comes from a fixed seed, so runs are
//! reproducible and parallel tests never share an account by accident (each node is its own log).

use ed25519_dalek::SigningKey;
use testigo_ledger::PublicKey;
use testigo_ledger::entry::{
    Access, Body, Claim, DataCategory, Deposit, EnrollSubject, GrantConsent, Leaf, LegalBasis,
    PayoutSettled, Purpose, RegisterAccessor, RevokeConsent, sign_body,
};
use testigo_ledger::hash::Hash;

/// Every test log's origin.
pub const ORIGIN: &str = "testigo.test/e2e";

/// The operator's key in every test log.
pub const OPERATOR_SEED: u8 = 1;
/// A regulator named in every test genesis: may read everything.
pub const REGULATOR_SEED: u8 = 2;

/// The key with seed `[seed; 32]`.
pub fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

/// The public key of `key`.
pub fn public(key: &SigningKey) -> PublicKey {
    PublicKey(key.verifying_key().to_bytes())
}

/// A signer and the nonce its next entry carries.
#[derive(Clone, Debug)]
pub struct Party {
    /// The signing key.
    pub key: SigningKey,
    /// The nonce of the next entry.
    pub nonce: u64,
}

impl Party {
    /// A party with key seed `seed` whose first entry uses nonce `first_nonce`.
    pub fn new(seed: u8, first_nonce: u64) -> Self {
        Self {
            key: key(seed),
            nonce: first_nonce,
        }
    }

    /// The operator of a fresh test log: its genesis used nonce 0.
    pub fn operator() -> Self {
        Self::new(OPERATOR_SEED, 1)
    }

    /// A subject or accessor that has signed nothing yet.
    pub fn fresh(seed: u8) -> Self {
        Self::new(seed, 0)
    }

    /// The public key.
    pub fn public(&self) -> PublicKey {
        public(&self.key)
    }

    /// Signs `body` as is.
    pub fn sign(&self, body: &Body) -> Leaf {
        sign_body(ORIGIN, &self.key, body)
    }

    /// Signs the body built for the next nonce and moves on to the one after: for entries that
    /// will be sequenced.
    pub fn entry(&mut self, body: impl FnOnce(u64) -> Body) -> Leaf {
        let leaf = self.sign(&body(self.nonce));
        self.nonce += 1;
        leaf
    }

    /// Signs the body built for the next nonce without using it up: for entries that will be
    /// refused, after which the same nonce must still be free.
    pub fn attempt(&self, body: impl FnOnce(u64) -> Body) -> Leaf {
        self.sign(&body(self.nonce))
    }
}

/// A fixed salt per key, so bodies are reproducible.
pub fn salt(key: &PublicKey) -> [u8; 32] {
    let mut salt = *key.as_bytes();
    salt.reverse();
    salt
}

/// `EnrollSubject`.
pub fn enroll(subject: PublicKey) -> impl FnOnce(u64) -> Body {
    move |nonce| {
        Body::EnrollSubject(EnrollSubject {
            nonce,
            subject,
            salt: salt(&subject),
        })
    }
}

/// `RegisterAccessor` named after its key.
pub fn register(accessor: PublicKey) -> impl FnOnce(u64) -> Body {
    move |nonce| {
        Body::RegisterAccessor(RegisterAccessor {
            nonce,
            accessor,
            display_name: "Acme Ads Ltd".into(),
            legal_entity_id: "5493001KJTIIGC8Y1R12".into(),
            salt: salt(&accessor),
        })
    }
}

/// `Deposit`.
pub fn deposit(accessor: PublicKey, amount: u64, reference: &str) -> impl FnOnce(u64) -> Body {
    let reference = reference.to_owned();
    move |nonce| {
        Body::Deposit(Deposit {
            nonce,
            accessor,
            amount,
            reference,
        })
    }
}

/// A grant's terms; [`Grant::body`] makes the `GrantConsent`.
#[derive(Clone, Debug)]
pub struct Grant {
    /// The accessor allowed, `None` for any.
    pub accessor: Option<PublicKey>,
    /// Categories.
    pub categories: Vec<DataCategory>,
    /// Purposes.
    pub purposes: Vec<Purpose>,
    /// Minimum price.
    pub price: u64,
    /// Start, Unix ms.
    pub valid_from: u64,
    /// End (exclusive), Unix ms.
    pub valid_until: Option<u64>,
}

impl Grant {
    /// Location for personalised advertising, open-ended from the epoch, at `price`.
    pub fn location_ads(accessor: Option<PublicKey>, price: u64) -> Self {
        Self {
            accessor,
            categories: vec![DataCategory::Location],
            purposes: vec![Purpose::PersonalisedAdvertising],
            price,
            valid_from: 0,
            valid_until: None,
        }
    }

    /// The `GrantConsent` body.
    pub fn body(self) -> impl FnOnce(u64) -> Body {
        move |nonce| {
            Body::GrantConsent(GrantConsent {
                nonce,
                accessor: self.accessor,
                categories: self.categories,
                purposes: self.purposes,
                price: self.price,
                valid_from: self.valid_from,
                valid_until: self.valid_until,
            })
        }
    }
}

/// `RevokeConsent`.
pub fn revoke(consent: u64) -> impl FnOnce(u64) -> Body {
    move |nonce| Body::RevokeConsent(RevokeConsent { nonce, consent })
}

/// An access's terms; [`Use::body`] makes the `Access`.
#[derive(Clone, Copy, Debug)]
pub struct Use {
    /// Whose data.
    pub subject: PublicKey,
    /// Which data.
    pub category: DataCategory,
    /// What for.
    pub purpose: Purpose,
    /// Lawful basis.
    pub legal_basis: LegalBasis,
    /// Consent reference.
    pub consent: Option<u64>,
    /// Price.
    pub price: u64,
}

impl Use {
    /// Location for personalised advertising under consent `consent`, at `price`.
    pub fn consented(subject: PublicKey, consent: u64, price: u64) -> Self {
        Self {
            subject,
            category: DataCategory::Location,
            purpose: Purpose::PersonalisedAdvertising,
            legal_basis: LegalBasis::Consent,
            consent: Some(consent),
            price,
        }
    }

    /// Call records for fraud prevention under legitimate interest, at `price`.
    pub fn legitimate_interest(subject: PublicKey, price: u64) -> Self {
        Self {
            subject,
            category: DataCategory::CallLog,
            purpose: Purpose::FraudPreventionAndDetection,
            legal_basis: LegalBasis::LegitimateInterest,
            consent: None,
            price,
        }
    }

    /// The `Access` body.
    pub fn body(self) -> impl FnOnce(u64) -> Body {
        move |nonce| {
            Body::Access(Access {
                nonce,
                subject: self.subject,
                category: self.category,
                purpose: self.purpose,
                legal_basis: self.legal_basis,
                consent: self.consent,
                price: self.price,
            })
        }
    }
}

/// `Claim` with a payout reference derived from the amount.
pub fn claim(amount: u64) -> impl FnOnce(u64) -> Body {
    move |nonce| {
        Body::Claim(Claim {
            nonce,
            amount,
            payout_ref: Hash([7; 32]),
        })
    }
}

/// `PayoutSettled`.
pub fn settle(claim: u64, reference: &str) -> impl FnOnce(u64) -> Body {
    let settlement_ref = reference.to_owned();
    move |nonce| {
        Body::PayoutSettled(PayoutSettled {
            nonce,
            claim,
            settlement_ref,
        })
    }
}

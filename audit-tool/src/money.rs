//! An independent ledger of money, kept beside the engine: conservation at every step.
//!
//! From each applied leaf's body alone it moves money between four buckets per account
//! (balance, pending payouts, settled payouts, operator fees) with its own arithmetic, which
//! conserves by construction: a deposit is the only way in, every other move takes from one
//! bucket what it adds to another. After each leaf the accounts the leaf touched must hold in the
//! engine exactly what they hold here, and the engine's total of deposits must be this one's.
//! A leaf that moves money the engine books differently, or that takes from a bucket more than
//! it holds (money from nothing), is named with both values.

use std::collections::{BTreeMap, HashMap};

use testigo_ledger::PublicKey;
use testigo_ledger::entry::{Body, Leaf};
use testigo_ledger::state::State;

use crate::failure::{At, Failure};

/// The four buckets of an account, in minor units.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Buckets {
    balance: u64,
    pending: u64,
    settled: u64,
    fees: u64,
}

impl std::fmt::Display for Buckets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "balance {} pending {} settled {} fees {}",
            self.balance, self.pending, self.settled, self.fees
        )
    }
}

/// The independent ledger.
#[derive(Debug, Default)]
pub struct Money {
    accounts: HashMap<PublicKey, Buckets>,
    deposits: u64,
    fee_bps: u64,
    operator: Option<PublicKey>,
    /// Open claims: index → (subject, amount). Settled ones are dropped.
    open_claims: BTreeMap<u64, (PublicKey, u64)>,
}

impl Money {
    /// Books the leaf at `index`, which the engine has just applied, and compares with `state`.
    ///
    /// # Errors
    /// A [`Failure`] at the leaf if money is taken from a bucket that does not hold it, or if the
    /// engine's accounts disagree with this ledger's.
    pub fn apply(&mut self, index: u64, leaf: &Leaf, state: &State) -> Result<(), Failure> {
        let at = At::Leaf(index);
        let Ok(body) = leaf.decode_body() else {
            return Err(Failure::new(at, "money", "an applied leaf has no body"));
        };
        let touched: Vec<PublicKey> = match &body {
            Body::Genesis(g) => {
                self.fee_bps = g.fee_bps.into();
                self.operator = Some(g.log_key);
                self.accounts.entry(g.log_key).or_default();
                vec![g.log_key]
            }
            Body::Deposit(d) => {
                self.deposits = add(self.deposits, d.amount, at, "total deposits")?;
                let a = self.accounts.entry(d.accessor).or_default();
                a.balance = add(a.balance, d.amount, at, "balance")?;
                vec![d.accessor]
            }
            Body::Access(a) => {
                let fee = u64::try_from(u128::from(a.price) * u128::from(self.fee_bps) / 10_000)
                    .map_err(|_| Failure::new(at, "money", "the fee overflows"))?;
                let payer = self.accounts.entry(leaf.signer).or_default();
                payer.balance = take(payer.balance, a.price, at, "the payer's balance")?;
                let subject = self.accounts.entry(a.subject).or_default();
                subject.balance = add(subject.balance, a.price - fee, at, "balance")?;
                let mut touched = vec![leaf.signer, a.subject];
                if let Some(op) = self.operator {
                    let operator = self.accounts.entry(op).or_default();
                    operator.fees = add(operator.fees, fee, at, "fees")?;
                    touched.push(op);
                }
                touched
            }
            Body::Claim(c) => {
                let s = self.accounts.entry(leaf.signer).or_default();
                s.balance = take(s.balance, c.amount, at, "the subject's balance")?;
                s.pending = add(s.pending, c.amount, at, "pending payouts")?;
                self.open_claims.insert(index, (leaf.signer, c.amount));
                vec![leaf.signer]
            }
            Body::PayoutSettled(p) => {
                let Some((subject, amount)) = self.open_claims.remove(&p.claim) else {
                    return Err(Failure::new(
                        at,
                        "money",
                        format!("settles claim {}, which is not open", p.claim),
                    ));
                };
                let s = self.accounts.entry(subject).or_default();
                s.pending = take(s.pending, amount, at, "the subject's pending payouts")?;
                s.settled = add(s.settled, amount, at, "settled payouts")?;
                vec![subject]
            }
            Body::EnrollSubject(e) => {
                self.accounts.entry(e.subject).or_default();
                vec![e.subject]
            }
            Body::RegisterAccessor(r) => {
                self.accounts.entry(r.accessor).or_default();
                vec![r.accessor]
            }
            Body::GrantConsent(_) | Body::RevokeConsent(_) | Body::StateRoot(_) => Vec::new(),
        };
        if state.total_deposits() != self.deposits {
            return Err(Failure::new(at, "money", "total deposits disagree")
                .expected(self.deposits)
                .found(state.total_deposits()));
        }
        for key in touched {
            let ours = self.accounts.get(&key).copied().unwrap_or_default();
            let theirs = state.account(&key).map(|r| Buckets {
                balance: r.balance,
                pending: r.pending_payouts,
                settled: r.settled_payouts,
                fees: r.fees,
            });
            if theirs != Some(ours) {
                return Err(Failure::new(
                    at,
                    "money",
                    format!("account {key} is not what the money moved makes it"),
                )
                .expected(ours)
                .found(theirs.map_or_else(|| "no account".to_owned(), |b| b.to_string())));
            }
        }
        Ok(())
    }
}

fn add(a: u64, b: u64, at: At, what: &str) -> Result<u64, Failure> {
    a.checked_add(b)
        .ok_or_else(|| Failure::new(at, "money", format!("{what} overflows")))
}

fn take(from: u64, amount: u64, at: At, what: &str) -> Result<u64, Failure> {
    from.checked_sub(amount).ok_or_else(|| {
        Failure::new(
            at,
            "money_from_nothing",
            format!("takes more than {what} holds"),
        )
        .expected(format!("at most {from}"))
        .found(amount)
    })
}

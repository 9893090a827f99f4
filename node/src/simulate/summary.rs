//! What a simulation did: entries by kind, refusals by code (and any that came back otherwise
//! than expected), money moved, and the final checkpoint.

use std::collections::BTreeMap;
use std::time::Duration;

use testigo_ledger::api::LogInfo;
use testigo_ledger::entry::BodyKind;

use super::SimulateConfig;

/// The simulation's tally.
#[derive(Debug)]
pub struct Summary {
    hours: u32,
    subjects: usize,
    accessors: usize,
    seed: u64,
    currency: String,
    decimals: u8,
    /// Entries sequenced, by kind.
    pub entries: BTreeMap<BodyKind, u64>,
    /// Invalid requests refused as expected, by code.
    pub refusals: BTreeMap<&'static str, u64>,
    /// Invalid requests answered otherwise than expected: what was expected and what came.
    pub mismatches: Vec<String>,
    deposited: u64,
    paid: u64,
    fees: u64,
    claimed: u64,
    settled: u64,
    checkpoint: Option<(u64, String)>,
    elapsed: Duration,
}

impl Summary {
    pub(super) fn new(config: &SimulateConfig, log: &LogInfo) -> Self {
        Self {
            hours: config.hours,
            subjects: config.subjects,
            accessors: config.accessors,
            seed: config.seed,
            currency: log.currency.clone(),
            decimals: log.decimals,
            entries: BTreeMap::new(),
            refusals: BTreeMap::new(),
            mismatches: Vec::new(),
            deposited: 0,
            paid: 0,
            fees: 0,
            claimed: 0,
            settled: 0,
            checkpoint: None,
            elapsed: Duration::ZERO,
        }
    }

    /// One entry sequenced, moving `amount` minor units.
    pub(super) fn sequenced(&mut self, kind: BodyKind, amount: u64, fee_bps: u16) {
        *self.entries.entry(kind).or_default() += 1;
        match kind {
            BodyKind::Deposit => self.deposited += amount,
            BodyKind::Access => {
                self.paid += amount;
                self.fees += amount * u64::from(fee_bps) / 10_000;
            }
            BodyKind::Claim => self.claimed += amount,
            BodyKind::PayoutSettled => self.settled += amount,
            _ => {}
        }
    }

    /// One invalid request answered `(status, code)`, expected `(expected_status, expected)`.
    pub(super) fn refused(
        &mut self,
        expected: &'static str,
        expected_status: u16,
        status: u16,
        code: &str,
    ) {
        if status == expected_status && code == expected {
            *self.refusals.entry(expected).or_default() += 1;
        } else {
            self.mismatches.push(format!(
                "expected {expected_status} {expected}, got {status} {code:?}"
            ));
        }
    }

    /// The size of the final checkpoint, once the run has finished.
    pub fn final_checkpoint(&self) -> Option<u64> {
        self.checkpoint.as_ref().map(|(size, _)| *size)
    }

    /// Minor units paid for accesses, and the operator's part of them.
    pub fn paid_and_fees(&self) -> (u64, u64) {
        (self.paid, self.fees)
    }

    pub(super) fn finish(&mut self, size: u64, root: String, elapsed: Duration) {
        self.checkpoint = Some((size, root));
        self.elapsed = elapsed;
    }

    fn money(&self, minor: u64) -> String {
        let unit = 10u64.pow(u32::from(self.decimals));
        format!(
            "{} {}.{:0width$}",
            self.currency,
            minor / unit,
            minor % unit,
            width = usize::from(self.decimals)
        )
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "simulated {} h: {} subscribers, {} data buyers and the operator, seed {}, in {:.1} s",
            self.hours,
            self.subjects,
            self.accessors,
            self.seed,
            self.elapsed.as_secs_f64()
        )?;
        let total: u64 = self.entries.values().sum();
        writeln!(f, "entries sequenced: {total}")?;
        for (kind, n) in &self.entries {
            writeln!(f, "  {:<18}{n:>9}", kind.as_str())?;
        }
        let refused: u64 = self.refusals.values().sum();
        writeln!(f, "invalid requests refused as expected: {refused}")?;
        for (code, n) in &self.refusals {
            writeln!(f, "  {code:<28}{n:>6}")?;
        }
        writeln!(
            f,
            "invalid requests answered otherwise: {}",
            self.mismatches.len()
        )?;
        for m in self.mismatches.iter().take(20) {
            writeln!(f, "  {m}")?;
        }
        writeln!(f, "money:")?;
        writeln!(
            f,
            "  deposited by buyers     {}",
            self.money(self.deposited)
        )?;
        writeln!(f, "  paid for accesses       {}", self.money(self.paid))?;
        writeln!(
            f,
            "    to subscribers        {}",
            self.money(self.paid - self.fees)
        )?;
        writeln!(f, "    operator fees         {}", self.money(self.fees))?;
        writeln!(f, "  claimed by subscribers  {}", self.money(self.claimed))?;
        writeln!(f, "  payouts settled         {}", self.money(self.settled))?;
        if let Some((size, root)) = &self.checkpoint {
            writeln!(
                f,
                "final checkpoint: size {size}, root {root} (signature verified)"
            )?;
        }
        Ok(())
    }
}

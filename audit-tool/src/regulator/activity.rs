//! What happened over time, in time buckets: accesses by category, purpose, basis and accessor;
//! money flows; consents granted and revoked. The buckets start one second wide and double
//! whenever there are more than [`MAX_BUCKETS`], so memory stays bounded whatever the log's span
//! and a log of a few seconds still gets a useful chart.

use std::collections::BTreeMap;

use serde::Serialize;
use testigo_ledger::PublicKey;
use testigo_ledger::entry::{DataCategory, LegalBasis, Purpose};

/// Most buckets kept while counting; charts merge them further ([`Activity::series`]).
const MAX_BUCKETS: usize = 4096;

/// What one bucket counts.
#[derive(Clone, Debug, Default)]
pub(crate) struct Tally {
    pub(crate) by_category: [u64; DataCategory::ALL.len()],
    pub(crate) by_purpose: [u64; Purpose::ALL.len()],
    pub(crate) by_basis: [u64; LegalBasis::ALL.len()],
    pub(crate) by_accessor: BTreeMap<PublicKey, u64>,
    /// Deposits, earnings, fees, claims, payouts (minor units), in [`MONEY`] order.
    pub(crate) money: [u64; MONEY.len()],
    /// Consents granted, revoked.
    pub(crate) consents: [u64; 2],
}

/// The money flows charted, in [`Tally::money`] order.
pub const MONEY: [&str; 5] = ["deposits", "earnings", "fees", "claims", "payouts"];

/// The consent events charted, in [`Tally::consents`] order.
pub const CONSENTS: [&str; 2] = ["granted", "revoked"];

impl Tally {
    fn merge(&mut self, other: Tally) {
        add_all(&mut self.by_category, &other.by_category);
        add_all(&mut self.by_purpose, &other.by_purpose);
        add_all(&mut self.by_basis, &other.by_basis);
        add_all(&mut self.money, &other.money);
        add_all(&mut self.consents, &other.consents);
        for (key, n) in other.by_accessor {
            let slot = self.by_accessor.entry(key).or_default();
            *slot = slot.saturating_add(n);
        }
    }
}

fn add_all<const N: usize>(into: &mut [u64; N], from: &[u64; N]) {
    for (a, b) in into.iter_mut().zip(from) {
        *a = a.saturating_add(*b);
    }
}

/// Tallies in time buckets of `width_ms`, keyed by `at_ms / width_ms`.
#[derive(Clone, Debug)]
pub(crate) struct Activity {
    width_ms: u64,
    buckets: BTreeMap<u64, Tally>,
}

impl Default for Activity {
    fn default() -> Self {
        Self {
            width_ms: 1_000,
            buckets: BTreeMap::new(),
        }
    }
}

/// One chart's data: a value per bucket for each named series.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Series {
    /// Start of each bucket, Unix ms.
    pub bucket_start_ms: Vec<u64>,
    /// Bucket width, ms.
    pub bucket_ms: u64,
    /// (name, one value per bucket).
    pub lines: Vec<(String, Vec<u64>)>,
}

impl Series {
    /// The sum of every value of every line.
    pub fn total(&self) -> u64 {
        self.lines
            .iter()
            .flat_map(|(_, v)| v)
            .fold(0u64, |a, b| a.saturating_add(*b))
    }
}

impl Activity {
    /// The tally of the bucket holding `at_ms`.
    pub(crate) fn at(&mut self, at_ms: u64) -> &mut Tally {
        if self.buckets.len() >= MAX_BUCKETS && !self.buckets.contains_key(&(at_ms / self.width_ms))
        {
            self.coarsen();
        }
        self.buckets.entry(at_ms / self.width_ms).or_default()
    }

    fn coarsen(&mut self) {
        self.width_ms = self.width_ms.saturating_mul(2);
        let old = std::mem::take(&mut self.buckets);
        for (key, tally) in old {
            self.buckets.entry(key / 2).or_default().merge(tally);
        }
    }

    /// The tallies merged into at most `max` buckets of equal width, from the first bucket with
    /// anything in it to the last, empty ones included.
    fn merged(&self, max: usize) -> (u64, Vec<(u64, Tally)>) {
        let (Some(first), Some(last)) = (
            self.buckets.keys().next().copied(),
            self.buckets.keys().next_back().copied(),
        ) else {
            return (self.width_ms, Vec::new());
        };
        let span = last - first + 1;
        let factor = span.div_ceil(max.max(1) as u64).max(1);
        let width = self.width_ms.saturating_mul(factor);
        let mut out: Vec<(u64, Tally)> = (0..span.div_ceil(factor))
            .map(|i| ((first + i * factor) * self.width_ms, Tally::default()))
            .collect();
        for (key, tally) in &self.buckets {
            let slot = ((key - first) / factor) as usize;
            out[slot].1.merge(tally.clone());
        }
        (width, out)
    }

    /// One chart's series over at most `max` buckets: `pick` reads the values of one bucket, in
    /// the order of `names`.
    pub(crate) fn series(
        &self,
        max: usize,
        names: &[String],
        pick: impl Fn(&Tally) -> Vec<u64>,
    ) -> Series {
        let (bucket_ms, merged) = self.merged(max);
        let mut lines: Vec<(String, Vec<u64>)> = names
            .iter()
            .map(|n| (n.clone(), Vec::with_capacity(merged.len())))
            .collect();
        for (_, tally) in &merged {
            for (line, value) in lines.iter_mut().zip(pick(tally)) {
                line.1.push(value);
            }
        }
        Series {
            bucket_start_ms: merged.iter().map(|(start, _)| *start).collect(),
            bucket_ms,
            lines,
        }
    }

    /// Total accesses per accessor over the whole log, most first.
    pub(crate) fn accessor_totals(&self) -> Vec<(PublicKey, u64)> {
        let mut totals: BTreeMap<PublicKey, u64> = BTreeMap::new();
        for tally in self.buckets.values() {
            for (key, n) in &tally.by_accessor {
                let slot = totals.entry(*key).or_default();
                *slot = slot.saturating_add(*n);
            }
        }
        let mut totals: Vec<_> = totals.into_iter().collect();
        totals.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        totals
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_coarsen_and_keep_every_count() {
        let mut activity = Activity::default();
        // Ten days, one access a minute: far more one-second buckets than MAX_BUCKETS.
        let minutes = 10 * 24 * 60;
        for m in 0..minutes {
            activity.at(1_000_000 + m * 60_000).by_category[0] += 1;
        }
        assert!(activity.buckets.len() <= MAX_BUCKETS);
        let names = vec!["location".to_owned()];
        let series = activity.series(40, &names, |t| vec![t.by_category[0]]);
        assert!(series.bucket_start_ms.len() <= 40);
        assert_eq!(series.total(), minutes);
        assert_eq!(series.lines[0].1.len(), series.bucket_start_ms.len());
    }
}

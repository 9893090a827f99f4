//! The dashboard's charts: who used what over time, and earnings over time, drawn as inline SVG
//! by the audit report's plotters code (`testigo_audit::report::chart_svg`), so both tools draw
//! alike and nothing is fetched by the page.

use std::collections::BTreeMap;

use testigo_audit::regulator::Series;
use testigo_audit::report::chart_svg;
use testigo_ledger::PublicKey;
use testigo_ledger::entry::{Access, Body};
use testigo_ledger::state::LogParams;
use testigo_ledger::verify::VerifiedEntry;

use super::i18n::Lang;
use crate::format;

/// Bucket widths tried, smallest first: the first that gives at most [`MAX_BUCKETS`] is used.
const BUCKETS_MS: [u64; 7] = [
    1_000,
    10_000,
    60_000,
    600_000,
    3_600_000,
    86_400_000,
    7 * 86_400_000,
];
const MAX_BUCKETS: u64 = 60;

/// One chart: its title and its SVG.
#[derive(Debug)]
pub(crate) struct Chart {
    pub(crate) title: String,
    pub(crate) svg: String,
}

/// Who an accessor is, for a legend: the operator's own uses apart.
pub(crate) fn accessor_name(key: &PublicKey, params: &LogParams, lang: Lang) -> String {
    if *key == params.log_key {
        lang.s("the operator (its own use)", "el operador (uso propio)")
            .to_owned()
    } else {
        format::short_key(key)
    }
}

/// The charts of my accesses and earnings, in page order.
pub(crate) fn charts(
    me: &PublicKey,
    params: &LogParams,
    entries: &[VerifiedEntry],
    lang: Lang,
) -> Vec<Chart> {
    let accesses: Vec<(u64, PublicKey, &Access)> = entries
        .iter()
        .filter_map(|e| match &e.body {
            Body::Access(a) if a.subject == *me => Some((e.leaf.sequenced_at, e.leaf.signer, a)),
            _ => None,
        })
        .collect();
    let (start, bucket_ms, buckets) = buckets(accesses.iter().map(|a| a.0));
    let bucket_starts: Vec<u64> = (0..buckets).map(|i| start + i * bucket_ms).collect();
    let series = |key: &dyn Fn(&PublicKey, &Access) -> String, value: &dyn Fn(&Access) -> u64| {
        let mut lines: BTreeMap<String, Vec<u64>> = BTreeMap::new();
        for (at, who, a) in &accesses {
            let slot = usize::try_from((at - start) / bucket_ms).unwrap_or(0);
            let line = lines
                .entry(key(who, a))
                .or_insert_with(|| vec![0; bucket_starts.len()]);
            if let Some(v) = line.get_mut(slot) {
                *v = v.saturating_add(value(a));
            }
        }
        Series {
            bucket_start_ms: bucket_starts.clone(),
            bucket_ms,
            lines: lines.into_iter().collect(),
        }
    };
    let count = |_: &Access| 1;
    let fee_bps = u128::from(params.fee_bps);
    let earned = move |a: &Access| {
        let fee = u64::try_from(u128::from(a.price) * fee_bps / 10_000).unwrap_or(a.price);
        a.price - fee
    };
    let earnings = series(
        &|_, _| {
            format!(
                "{} ({} {}, {} {})",
                lang.s("earned", "ganado"),
                params.currency,
                lang.s("in units of", "en unidades de"),
                format::amount(1, params.decimals, ""),
                params.currency,
            )
        },
        &earned,
    );
    let drawn = [
        (
            lang.s(
                "Accesses so far, by who used your data",
                "Accesos hasta ahora, según quién usó tus datos",
            ),
            series(&|who, _| accessor_name(who, params, lang), &count),
        ),
        (
            lang.s(
                "Accesses so far, by kind of data",
                "Accesos hasta ahora, según el tipo de dato",
            ),
            series(&|_, a| lang.category(a.category).to_owned(), &count),
        ),
        (
            lang.s(
                "Accesses so far, by purpose",
                "Accesos hasta ahora, según la finalidad",
            ),
            series(&|_, a| lang.purpose(a.purpose).to_owned(), &count),
        ),
        (
            lang.s(
                "Accesses so far, by legal basis",
                "Accesos hasta ahora, según la base legal",
            ),
            series(&|_, a| lang.basis(a.legal_basis), &count),
        ),
        (lang.s("Earnings so far", "Ganancias hasta ahora"), earnings),
    ];
    drawn
        .into_iter()
        .map(|(title, mut series)| {
            // Running totals: each bucket holds the total so far, so a customer with a few
            // accesses sees them add up rather than a row of spikes.
            for (_, values) in &mut series.lines {
                let mut total = 0u64;
                for v in values.iter_mut() {
                    total = total.saturating_add(*v);
                    *v = total;
                }
            }
            (title, series)
        })
        .map(|(title, series)| Chart {
            title: title.to_owned(),
            svg: chart_svg(title, &series).unwrap_or_default(),
        })
        .collect()
}

/// The first bucket's start, the bucket width and how many buckets cover `times`.
fn buckets(times: impl Iterator<Item = u64> + Clone) -> (u64, u64, u64) {
    let (Some(first), Some(last)) = (times.clone().min(), times.max()) else {
        return (0, BUCKETS_MS[1], 1);
    };
    let width = BUCKETS_MS
        .iter()
        .copied()
        .find(|w| (last / w - first / w) < MAX_BUCKETS)
        .unwrap_or(BUCKETS_MS[BUCKETS_MS.len() - 1]);
    let start = first / width * width;
    (start, width, (last - start) / width + 1)
}

#[cfg(test)]
mod tests {
    use super::buckets;

    #[test]
    fn buckets_cover_every_time_with_a_readable_width() {
        assert_eq!(buckets([5_000u64, 25_000].into_iter()), (5_000, 1_000, 21));
        assert_eq!(buckets([5_000u64, 125_000].into_iter()), (0, 10_000, 13));
        let (start, width, n) = buckets([0u64, 3 * 3_600_000].into_iter());
        assert_eq!((start, width, n), (0, 600_000, 19));
        assert_eq!(buckets(std::iter::empty()).2, 1);
    }
}

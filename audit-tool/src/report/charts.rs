//! The report's charts: one line chart per [`Series`], drawn by `plotters` into an SVG string.

use plotters::prelude::*;

use super::{ReportError, utc};
use crate::regulator::{ChartData, Series};

/// Every chart's title, in page order: what the browser test looks for.
pub const CHART_TITLES: [&str; 6] = [
    "Accesses by data category",
    "Accesses by accessor",
    "Accesses by purpose",
    "Accesses by legal basis",
    "Money flows",
    "Consents granted and revoked",
];

/// The charts of `data` as (title, series), in [`CHART_TITLES`] order.
pub(super) fn charts(data: &ChartData) -> [(&'static str, &Series); 6] {
    [
        (CHART_TITLES[0], &data.by_category),
        (CHART_TITLES[1], &data.by_accessor),
        (CHART_TITLES[2], &data.by_purpose),
        (CHART_TITLES[3], &data.by_basis),
        (CHART_TITLES[4], &data.money),
        (CHART_TITLES[5], &data.consents),
    ]
}

const WIDTH: u32 = 860;
const HEIGHT: u32 = 320;

/// One chart as an SVG document: a line per series over time, with a legend.
///
/// # Errors
/// [`ReportError::Chart`] if plotters fails.
pub fn chart_svg(title: &str, series: &Series) -> Result<String, ReportError> {
    let mut svg = String::new();
    draw(&mut svg, title, series).map_err(|e| ReportError::Chart {
        title: title.to_owned(),
        message: e.to_string(),
    })?;
    Ok(svg)
}

/// A time axis label as precise as the axis needs: the time of day to the second across a few
/// minutes (so ticks seconds apart do not all read the same minute), to the minute across a
/// couple of days, and the date beyond that. UTC.
fn time_label(ms: u64, span_ms: u64) -> String {
    let full = utc(ms);
    if span_ms <= 10 * 60 * 1000 {
        full[11..19].to_owned()
    } else if span_ms <= 2 * 86_400 * 1000 {
        full[5..16].to_owned()
    } else {
        full[..10].to_owned()
    }
}

fn draw(
    svg: &mut String,
    title: &str,
    series: &Series,
) -> Result<(), DrawingAreaErrorKind<<SVGBackend<'static> as DrawingBackend>::ErrorType>> {
    let root = SVGBackend::with_string(svg, (WIDTH, HEIGHT)).into_drawing_area();
    root.fill(&WHITE)?;
    let start = series.bucket_start_ms.first().copied().unwrap_or(0);
    let end = series
        .bucket_start_ms
        .last()
        .map_or(start + 1, |last| last + series.bucket_ms.max(1));
    let top = series
        .lines
        .iter()
        .flat_map(|(_, v)| v.iter().copied())
        .max()
        .unwrap_or(0)
        .max(1);
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(28)
        .y_label_area_size(64)
        .build_cartesian_2d(start..end, 0u64..top + top / 10 + 1)?;
    chart
        .configure_mesh()
        .x_labels(5)
        .y_labels(6)
        .x_label_formatter(&|ms| time_label(*ms, end - start))
        .draw()?;
    for (i, (name, values)) in series.lines.iter().enumerate() {
        if values.iter().all(|v| *v == 0) {
            continue;
        }
        let color = Palette99::pick(i).to_rgba();
        // Each bucket's value held over its width, so a single bucket still shows.
        let points = series
            .bucket_start_ms
            .iter()
            .zip(values)
            .flat_map(|(s, v)| [(*s, *v), (s + series.bucket_ms, *v)]);
        chart
            .draw_series(LineSeries::new(points, color.stroke_width(2)))?
            .label(name.clone())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
            });
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .border_style(BLACK.mix(0.4))
        .background_style(WHITE.mix(0.85))
        .draw()?;
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::time_label;

    /// 2026-12-03 12:57:18 UTC.
    const T: u64 = 1_796_302_638_000;

    #[test]
    fn time_labels_are_as_precise_as_the_axis_span() {
        assert_eq!(time_label(T, 30_000), "12:57:18");
        assert_eq!(time_label(T + 4_000, 30_000), "12:57:22");
        assert_eq!(time_label(T, 3_600_000), "12-03 12:57");
        assert_eq!(time_label(T, 30 * 86_400_000), "2026-12-03");
    }
}

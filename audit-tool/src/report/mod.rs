//! The audit's report: JSON (the [`Audit`] as is) and one self-contained HTML page whose charts
//! are SVG drawn by `plotters` and embedded inline, so the page opens offline and fetches nothing.
//!
//! Both files are written atomically (temporary file, fsync, rename, fsync of the directory): a
//! reader never sees half a report, and a failed run leaves the previous one in place.

mod charts;
mod html;

use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::regulator::Audit;

pub use charts::{CHART_TITLES, chart_svg};
pub use html::render_html;

/// Why a report could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// Drawing a chart failed.
    #[error("chart {title:?}: {message}")]
    Chart {
        /// The chart's title.
        title: String,
        /// What plotters said.
        message: String,
    },
    /// Writing a file failed; nothing was left at `path`.
    #[error("writing {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The JSON could not be encoded.
    #[error("encoding the JSON report: {0}")]
    Json(#[from] serde_json::Error),
}

/// The audit as pretty-printed JSON.
///
/// # Errors
/// [`ReportError::Json`] if encoding fails.
pub fn render_json(audit: &Audit) -> Result<Vec<u8>, ReportError> {
    let mut bytes = serde_json::to_vec_pretty(audit)?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// Writes `report.json` and `report.html` (or `<stem>.json` and `<stem>.html`) into `dir`,
/// creating it; returns their paths.
///
/// # Errors
/// [`ReportError`]; a file that could not be written completely is not left behind.
pub fn write_report(
    audit: &Audit,
    dir: &Path,
    stem: &str,
) -> Result<(PathBuf, PathBuf), ReportError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ReportError::Io { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let json = dir.join(format!("{stem}.json"));
    let html = dir.join(format!("{stem}.html"));
    write_atomically(&json, &render_json(audit)?).map_err(io(&json))?;
    write_atomically(&html, render_html(audit)?.as_bytes()).map_err(io(&html))?;
    Ok((json, html))
}

/// Writes `bytes` to `path` through a temporary file in the same directory, fsynced and renamed
/// over `path`, then fsyncs the directory so the rename survives a crash.
///
/// # Errors
/// Any I/O error; the temporary file is removed and `path` is unchanged.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let written = (|| {
        let mut file = File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)?;
        File::open(&dir)?.sync_all()
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// Unix ms as `YYYY-MM-DD HH:MM:SS` UTC (proleptic Gregorian, no time-zone database needed).
pub fn utc(ms: u64) -> String {
    let secs = ms / 1000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Days since 1970-01-01 to a civil date (H. Hinnant's algorithm), in unsigned arithmetic:
    // the epoch is shifted to 0000-03-01 so that leap days fall at the end of each year.
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// An amount in minor units as major units, e.g. `12.34`.
pub fn money(amount: u64, decimals: u8) -> String {
    if decimals == 0 {
        return amount.to_string();
    }
    let unit = 10u64.saturating_pow(u32::from(decimals));
    format!(
        "{}.{:0width$}",
        amount / unit,
        amount % unit,
        width = usize::from(decimals)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_amounts_print_as_people_read_them() {
        assert_eq!(utc(0), "1970-01-01 00:00:00");
        assert_eq!(utc(951_782_400_000), "2000-02-29 00:00:00");
        assert_eq!(utc(1_795_953_600_000), "2026-11-29 12:00:00");
        assert_eq!(money(1234, 2), "12.34");
        assert_eq!(money(5, 3), "0.005");
        assert_eq!(money(7, 0), "7");
    }

    #[test]
    fn an_atomic_write_replaces_the_file_whole_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.json");
        write_atomically(&path, b"one").unwrap();
        write_atomically(&path, b"two").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        let missing = dir.path().join("no/such/dir/r.json");
        assert!(write_atomically(&missing, b"x").is_err());
    }
}

//! Human output: amounts in the log's currency, local times absolute and relative, DPV terms
//! in plain words, and aligned tables.

use testigo_ledger::entry::{DataCategory, LegalBasis, Purpose};

/// `minor` minor units as `12.34 EUR` with the genesis's decimals.
pub fn amount(minor: u64, decimals: u8, currency: &str) -> String {
    let scale = 10u128.pow(u32::from(decimals));
    let minor = u128::from(minor);
    if decimals == 0 {
        return format!("{minor} {currency}");
    }
    format!(
        "{}.{:0width$} {currency}",
        minor / scale,
        minor % scale,
        width = usize::from(decimals)
    )
}

/// Parses `12.34` (at most `decimals` decimals) into minor units.
///
/// # Errors
/// A sentence saying what is wrong.
pub fn parse_amount(text: &str, decimals: u8) -> Result<u64, String> {
    let bad = || format!("{text:?} is not an amount with at most {decimals} decimals");
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if whole.is_empty() && fraction.is_empty()
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !fraction.bytes().all(|b| b.is_ascii_digit())
        || fraction.len() > usize::from(decimals)
    {
        return Err(bad());
    }
    let scale = 10u64.pow(u32::from(decimals));
    let whole: u64 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| bad())?
    };
    let padded = format!("{fraction:0<width$}", width = usize::from(decimals));
    let fraction: u64 = if padded.is_empty() {
        0
    } else {
        padded.parse().map_err(|_| bad())?
    };
    whole
        .checked_mul(scale)
        .and_then(|w| w.checked_add(fraction))
        .ok_or_else(bad)
}

/// A Unix-millisecond time in the local time zone, with how long ago it was:
/// `2026-12-02 17:03:04 CET (3 min ago)`.
pub fn time(ms: u64, now_ms: u64) -> String {
    let Ok(ts) = jiff::Timestamp::from_millisecond(i64::try_from(ms).unwrap_or(i64::MAX)) else {
        return format!("{ms} ms");
    };
    let local = ts.to_zoned_datetime(jiff::tz::TimeZone::system());
    format!(
        "{} ({})",
        local.strftime("%Y-%m-%d %H:%M:%S %Z"),
        relative(ms, now_ms)
    )
}

/// An RFC 3339 UTC time, for JSON and CSV.
pub fn iso(ms: u64) -> String {
    jiff::Timestamp::from_millisecond(i64::try_from(ms).unwrap_or(i64::MAX))
        .map(|t| t.to_string())
        .unwrap_or_default()
}

/// `5 s ago`, `3 min ago`, `2 h ago`, `4 days ago`, or `in …` for the future.
pub fn relative(ms: u64, now_ms: u64) -> String {
    let (delta, future) = if ms > now_ms {
        (ms - now_ms, true)
    } else {
        (now_ms - ms, false)
    };
    let s = delta / 1000;
    let text = match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min", s / 60),
        3600..86_400 => format!("{} h", s / 3600),
        _ => format!("{} days", s / 86_400),
    };
    if future {
        format!("in {text}")
    } else {
        format!("{text} ago")
    }
}

/// Parses a time given on the command line: RFC 3339 (`2026-12-01T10:00:00Z`), a civil date
/// or date-time in the local zone (`2026-12-01`, `2026-12-01 10:00`), or Unix milliseconds.
///
/// # Errors
/// A sentence naming the forms accepted.
pub fn parse_time(text: &str) -> Result<u64, String> {
    let millis = |t: jiff::Timestamp| u64::try_from(t.as_millisecond()).map_err(|e| e.to_string());
    if let Ok(ms) = text.parse::<u64>() {
        return Ok(ms);
    }
    if let Ok(t) = text.parse::<jiff::Timestamp>() {
        return millis(t);
    }
    if let Ok(dt) = text.parse::<jiff::civil::DateTime>()
        && let Ok(z) = dt.to_zoned_datetime(jiff::tz::TimeZone::system())
    {
        return millis(z.timestamp());
    }
    if let Ok(d) = text.parse::<jiff::civil::Date>()
        && let Ok(z) = d.to_zoned_datetime(jiff::tz::TimeZone::system())
    {
        return millis(z.timestamp());
    }
    Err(format!(
        "{text:?} is not a time: give RFC 3339 (2026-12-01T10:00:00Z), a local date (2026-12-01) or date-time (2026-12-01T10:00), or Unix milliseconds"
    ))
}

/// A data category in plain words.
pub fn category(c: DataCategory) -> &'static str {
    match c {
        DataCategory::Location => "where your phone was",
        DataCategory::CallLog => "your call records",
        DataCategory::BrowserHistory => "the websites you visited",
        DataCategory::Purchase => "what you bought through your operator",
        DataCategory::CommunicationsMetadata => "who you communicated with, when (no content)",
    }
}

/// A purpose in plain words.
pub fn purpose(p: Purpose) -> &'static str {
    match p {
        Purpose::PersonalisedAdvertising => "advertising aimed at you",
        Purpose::ResearchAndDevelopment => "research and development",
        Purpose::ServiceProvision => "providing a service you asked for",
        Purpose::ServiceOptimisation => "improving the network or service",
        Purpose::FraudPreventionAndDetection => "detecting and preventing fraud",
        Purpose::SellDataToThirdParties => "selling your data on to others",
        Purpose::LegalCompliance => "meeting a legal obligation",
    }
}

/// A legal basis in plain words, with its GDPR article.
pub fn basis(b: LegalBasis) -> String {
    let words = match b {
        LegalBasis::Consent => "your consent",
        LegalBasis::Contract => "your contract",
        LegalBasis::LegalObligation => "a legal obligation",
        LegalBasis::VitalInterest => "someone's vital interests",
        LegalBasis::PublicInterest => "a task in the public interest",
        LegalBasis::LegitimateInterest => "their legitimate interest",
    };
    format!("{words} ({})", b.gdpr_article())
}

/// A short form of a key for tables: its first 10 base64 characters.
pub fn short_key(key: &testigo_ledger::PublicKey) -> String {
    key.to_base64().chars().take(10).collect::<String>() + "…"
}

/// Renders rows as an aligned table with a header line.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut out = String::new();
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            if i + 1 == cells.len() {
                out.push_str(cell);
            } else {
                out.push_str(cell);
                out.push_str(&" ".repeat(w - cell.chars().count() + 2));
            }
        }
        out.trim_end().to_owned() + "\n"
    };
    let mut out = line(header.to_vec());
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

/// A CSV field, quoted when it needs to be (RFC 4180).
pub fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_print_and_parse_with_the_genesis_decimals() {
        assert_eq!(amount(1234, 2, "EUR"), "12.34 EUR");
        assert_eq!(amount(5, 2, "EUR"), "0.05 EUR");
        assert_eq!(amount(7, 0, "JPY"), "7 JPY");
        assert_eq!(parse_amount("12.34", 2), Ok(1234));
        assert_eq!(parse_amount("0.5", 2), Ok(50));
        assert_eq!(parse_amount("3", 2), Ok(300));
        for bad in ["", ".", "1.234", "-1", "1e3", "99999999999999999999"] {
            assert!(parse_amount(bad, 2).is_err(), "{bad}");
        }
    }

    #[test]
    fn relative_times_read_naturally() {
        assert_eq!(relative(1_000, 6_000), "5 s ago");
        assert_eq!(relative(0, 180_000), "3 min ago");
        assert_eq!(relative(7_200_000, 0), "in 2 h");
        assert_eq!(parse_time("2026-12-01T10:00:00Z"), Ok(1_796_119_200_000));
        assert!(parse_time("yesterday").is_err());
    }

    #[test]
    fn tables_align_and_csv_quotes() {
        let t = table(&["a", "bb"], &[vec!["xxx".into(), "y".into()]]);
        assert_eq!(t, "a    bb\nxxx  y\n");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
    }
}

//! The data buyer's batch file (`testigo-wallet access-batch`): JSON lines, one access request
//! per line, as `access` takes it. Outside bytes: bounded, and every field checked before use.
//!
//! ```text
//! {"subject": "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=", "category": "pd:Location", "purpose": "dpv:ResearchAndDevelopment"}
//! {"subject": "…", "category": "pd:CallLog", "purpose": "dpv:FraudPreventionAndDetection", "consent": 12}
//! ```

use serde::Deserialize;
use testigo_ledger::PublicKey;
use testigo_ledger::entry::{DataCategory, Purpose};

/// Largest batch file read.
pub const MAX_BATCH_FILE_BYTES: u64 = 64 << 20;
/// Most lines (requests) in one batch file.
pub const MAX_BATCH_LINES: usize = 100_000;
/// Longest line accepted.
pub const MAX_BATCH_LINE_BYTES: usize = 4096;

/// One line of the file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    subject: String,
    category: String,
    purpose: String,
    #[serde(default)]
    consent: Option<u64>,
}

/// A line's request, validated.
#[derive(Debug)]
pub struct Request {
    /// Whose data.
    pub subject: PublicKey,
    /// Which data.
    pub category: DataCategory,
    /// What for.
    pub purpose: Purpose,
    /// The consent to use; found among the consents received when `None`.
    pub consent: Option<u64>,
}

/// Parses one line of a batch file.
///
/// # Errors
/// Why the line is not a request, in a sentence.
pub fn parse_line(text: &str) -> std::result::Result<Request, String> {
    if text.len() > MAX_BATCH_LINE_BYTES {
        return Err(format!(
            "a line of {} bytes (at most {MAX_BATCH_LINE_BYTES})",
            text.len()
        ));
    }
    let line: Line = serde_json::from_str(text).map_err(|e| format!("not a request: {e}"))?;
    Ok(Request {
        subject: PublicKey::from_base64(&line.subject)
            .ok_or_else(|| format!("subject {:?} is not a base64 key", line.subject))?,
        category: line
            .category
            .parse()
            .map_err(|e| format!("category: {e}"))?,
        purpose: line.purpose.parse().map_err(|e| format!("purpose: {e}"))?,
        consent: line.consent,
    })
}

/// Splits a batch file into numbered lines (1-based), skipping blank ones.
///
/// # Errors
/// A file that is not UTF-8 or has too many lines.
pub fn lines(bytes: &[u8]) -> std::result::Result<Vec<(usize, &str)>, String> {
    let text = std::str::from_utf8(bytes).map_err(|_| "the file is not UTF-8".to_owned())?;
    let lines: Vec<(usize, &str)> = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim()))
        .filter(|(_, l)| !l.is_empty())
        .collect();
    if lines.len() > MAX_BATCH_LINES {
        return Err(format!(
            "{} requests, more than the {MAX_BATCH_LINES} one file may hold",
            lines.len()
        ));
    }
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_is_one_request_and_anything_else_is_named() {
        let key = PublicKey([3; 32]).to_base64();
        let good = format!(
            r#"{{"subject": "{key}", "category": "pd:Location", "purpose": "dpv:ResearchAndDevelopment", "consent": 4}}"#
        );
        let r = parse_line(&good).expect("a request");
        assert_eq!(r.consent, Some(4));
        assert_eq!(r.category, DataCategory::Location);
        for (bad, why) in [
            ("not json".to_owned(), "not a request"),
            (
                format!(r#"{{"subject": "{key}", "category": "pd:Nope", "purpose": "dpv:ResearchAndDevelopment"}}"#),
                "category",
            ),
            (
                r#"{"subject": "short", "category": "pd:Location", "purpose": "dpv:ResearchAndDevelopment"}"#.to_owned(),
                "base64 key",
            ),
            (
                format!(r#"{{"subject": "{key}", "category": "pd:Location", "purpose": "dpv:ResearchAndDevelopment", "price": 1}}"#),
                "unknown field",
            ),
            ("x".repeat(MAX_BATCH_LINE_BYTES + 1), "bytes"),
        ] {
            let e = parse_line(&bad).expect_err(&bad);
            assert!(e.contains(why), "{bad}: {e}");
        }
        assert_eq!(
            lines(b"a\n\n  \nb\n").expect("lines"),
            vec![(1, "a"), (4, "b")]
        );
        assert!(lines(&[0xff]).is_err());
    }
}

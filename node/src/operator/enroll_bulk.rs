//! `operator enroll-bulk FILE`: enrols the wallet keys exported by the customer systems, in
//! batches, with progress on stderr and a summary at the end.
//!
//! The file has one wallet key per line (standard or URL-safe base64); a line may carry more
//! comma-separated fields after the key (a CSV export), which are ignored; blank lines and lines
//! starting with `#` are skipped. A line that is not a key is reported with its number and
//! skipped; it does not stop the run.
//!
//! Resumable: a key that already has an account is counted as "already enrolled", so running
//! the same file again after an interruption (or a crash of either side) enrols exactly the keys
//! that are missing. Nothing is enrolled twice: the log refuses a second account for a key.

use std::path::PathBuf;
use std::time::Duration;

use testigo_client::ClientError;
use testigo_ledger::PublicKey;
use testigo_ledger::entry::{Body, EnrollSubject, Leaf};

use super::{Operator, OperatorError, parse_key, random_salt};

/// How often a batch is tried again when the node is busy or unreachable.
const RETRIES: u32 = 10;

/// Enrol every wallet key listed in a file.
#[derive(Clone, Debug, clap::Args)]
#[command(after_help = "Example:\n  testigo-node operator enroll-bulk customers.csv --batch 512")]
pub struct EnrollBulkArgs {
    /// The file: one wallet key per line (more comma-separated fields may follow it).
    pub file: PathBuf,
    /// Entries per submission.
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u16).range(1..=4096))]
    pub batch: u16,
}

/// What a bulk enrolment did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BulkSummary {
    /// Keys enrolled by this run.
    pub enrolled: u64,
    /// Keys that already had an account (an earlier run, or a repeat in the file).
    pub already_enrolled: u64,
    /// Lines that are not a key: (line number, why).
    pub invalid: Vec<Invalid>,
    /// Keys the node refused for another reason: (line number, code, message).
    pub refused: Vec<(usize, String, String)>,
}

impl BulkSummary {
    /// The summary as printed.
    pub fn describe(&self) -> String {
        let mut out = format!(
            "enrolled {}, already enrolled {}, invalid lines {}, refused {}",
            self.enrolled,
            self.already_enrolled,
            self.invalid.len(),
            self.refused.len()
        );
        for (line, why) in &self.invalid {
            out.push_str(&format!("\nline {line}: {why}"));
        }
        for (line, code, message) in &self.refused {
            out.push_str(&format!("\nline {line}: refused ({code}): {message}"));
        }
        out
    }
}

/// A key and the line it is on.
type Numbered = (usize, PublicKey);
/// A line that is not a key, and why.
type Invalid = (usize, String);

/// Reads the keys (with their line numbers) and the invalid lines.
fn read_keys(text: &str) -> (Vec<Numbered>, Vec<Invalid>) {
    let mut keys = Vec::new();
    let mut invalid = Vec::new();
    for (number, line) in (1..).zip(text.lines()) {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let field = line.split(',').next().unwrap_or_default().trim();
        let field = field.trim_matches('"');
        match parse_key(field) {
            Ok(key) => keys.push((number, key)),
            // The line's text is left out: an export may hold names or numbers in any column.
            Err(why) => invalid.push((number, format!("not a wallet key: {why}"))),
        }
    }
    (keys, invalid)
}

impl EnrollBulkArgs {
    /// Enrols the file's keys; `progress(done, total)` is called after each batch.
    ///
    /// # Errors
    /// [`OperatorError::File`] if the file cannot be read; [`OperatorError::Node`] if the node
    /// stays unreachable or refuses a whole batch (what was enrolled before stays enrolled: run
    /// the same command again to go on).
    pub async fn run(
        &self,
        operator: &Operator,
        mut progress: impl FnMut(u64, u64),
    ) -> Result<BulkSummary, OperatorError> {
        let text = std::fs::read_to_string(&self.file).map_err(|source| OperatorError::File {
            path: self.file.display().to_string(),
            source,
        })?;
        let (keys, invalid) = read_keys(&text);
        let mut summary = BulkSummary {
            invalid,
            ..BulkSummary::default()
        };
        let total = keys.len() as u64;
        let mut done = 0;
        let mut pending: Vec<Numbered> = keys;
        pending.reverse();
        while !pending.is_empty() {
            let take = pending.len().min(usize::from(self.batch));
            let chunk: Vec<Numbered> = pending.split_off(pending.len() - take);
            let chunk: Vec<Numbered> = chunk.into_iter().rev().collect();
            let results = self.submit_with_retry(operator, &chunk).await?;
            let mut again = Vec::new();
            for ((line, key), result) in chunk.into_iter().zip(results) {
                match result {
                    Ok(_) => {
                        summary.enrolled += 1;
                        done += 1;
                    }
                    Err(e) if e.code == "already_registered" => {
                        summary.already_enrolled += 1;
                        done += 1;
                    }
                    // Another operator command took the nonce meanwhile: go again with a new one.
                    Err(e) if e.code == "nonce_reused" => again.push((line, key)),
                    Err(e) => {
                        summary.refused.push((line, e.code, e.message));
                        done += 1;
                    }
                }
            }
            pending.extend(again.into_iter().rev());
            progress(done, total);
        }
        Ok(summary)
    }

    async fn submit_with_retry(
        &self,
        operator: &Operator,
        chunk: &[Numbered],
    ) -> Result<Vec<testigo_client::EntryResult>, OperatorError> {
        let mut attempt = 0;
        loop {
            let nonce = operator.next_nonce().await?;
            let leaves = chunk
                .iter()
                .zip(nonce..)
                .map(|((_, subject), nonce)| {
                    Ok(operator.sign(&Body::EnrollSubject(EnrollSubject {
                        nonce,
                        subject: *subject,
                        salt: random_salt()?,
                    })))
                })
                .collect::<Result<Vec<Leaf>, OperatorError>>()?;
            match operator
                .client()
                .submit_binary(&leaves, operator.wait())
                .await
            {
                Err(ClientError::Retryable { retry_after, .. }) if attempt < RETRIES => {
                    attempt += 1;
                    let wait = retry_after.unwrap_or(Duration::from_millis(200 << attempt.min(5)));
                    tokio::time::sleep(wait).await;
                }
                other => return Ok(other?),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_come_from_the_first_field_and_bad_lines_are_reported() {
        let key = PublicKey([9; 32]);
        let text = format!(
            "# export 2026-12-01\n{}\n\n{},Alice,+34600000000\nnot-a-key,Bob\n\"{}\"\n",
            key.to_base64(),
            testigo_ledger::api::key_segment(&key),
            key.to_base64()
        );
        let (keys, invalid) = read_keys(&text);
        assert_eq!(keys, vec![(2, key), (4, key), (6, key)]);
        assert_eq!(invalid.len(), 1);
        assert_eq!(invalid[0].0, 5);
    }
}

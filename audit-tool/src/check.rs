//! Offline checks of what others hand the regulator: split-view evidence (from a witness or a
//! wallet) and a wallet's receipt of entries. Each is checked against the log key the regulator
//! trusts, given as a key or taken from the `Genesis` of an archive it holds.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use anyhow::{Context as _, bail};
use serde::Serialize;
use testigo_ledger::archive::{ArchiveReader, Record};
use testigo_ledger::checkpoint::Evidence;
use testigo_ledger::receipt::{MAX_RECEIPT_BYTES, Receipt};
use testigo_ledger::verify::verify_genesis;
use testigo_ledger::{Hash, PublicKey};

/// The log a check is made against.
#[derive(Clone, Debug)]
pub struct Trusted {
    /// The log's name.
    pub origin: String,
    /// The log key.
    pub log_key: PublicKey,
    /// The genesis leaf's hash, when known (from an archive).
    pub genesis_leaf: Option<Hash>,
}

impl Trusted {
    /// The log of an archive's first leaf, its `Genesis` (verified: signed by the key it names).
    ///
    /// # Errors
    /// If the archive cannot be read or does not start with a valid genesis.
    pub fn from_archive(path: &Path) -> anyhow::Result<Self> {
        let file = File::open(path).with_context(|| format!("archive {}", path.display()))?;
        let mut reader = ArchiveReader::new(BufReader::new(file))
            .with_context(|| format!("archive {}", path.display()))?;
        let Some(Record::Leaf { index: 0, bytes }) = reader.next_record()? else {
            bail!("archive {} does not start with leaf 0", path.display());
        };
        let params = verify_genesis(&bytes, None)
            .with_context(|| format!("archive {}: its genesis", path.display()))?;
        Ok(Self {
            origin: params.origin,
            log_key: params.log_key,
            genesis_leaf: Some(params.genesis_leaf),
        })
    }
}

/// Why a file handed to the regulator was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// The file could not be read at all (missing, unreadable, over the size limit): nothing
    /// was checked (exit 2).
    #[error("{0:#}")]
    Unreadable(anyhow::Error),
    /// The file was read and does not prove what it claims (exit 1).
    #[error("{0:#}")]
    Refused(anyhow::Error),
}

/// What a verified piece of evidence shows.
#[derive(Clone, Debug, Serialize)]
pub struct EvidenceReport {
    /// `split_view` or `fork`.
    pub kind: &'static str,
    /// The log.
    pub origin: String,
    /// The two checkpoints' sizes.
    pub sizes: (u64, u64),
}

/// Most bytes of an evidence file (two notes and two short proofs).
const MAX_EVIDENCE_BYTES: u64 = 1 << 20;

/// Verifies the evidence in `path`: both notes signed by the log key and truly in conflict.
///
/// # Errors
/// [`CheckError::Unreadable`] if the file cannot be read; [`CheckError::Refused`] if it is not
/// evidence or does not prove a split view or a fork.
pub fn evidence(path: &Path, trusted: &Trusted) -> Result<EvidenceReport, CheckError> {
    let bytes = read_bounded(path, MAX_EVIDENCE_BYTES).map_err(CheckError::Unreadable)?;
    let evidence: Evidence = serde_json::from_slice(&bytes)
        .with_context(|| format!("{} is not evidence JSON", path.display()))
        .map_err(CheckError::Refused)?;
    evidence
        .verify(&trusted.origin, &trusted.log_key)
        .with_context(|| format!("{} does not prove a split view or a fork", path.display()))
        .map_err(CheckError::Refused)?;
    let (kind, first, second) = match &evidence {
        Evidence::SplitView { first, second } => ("split_view", first, second),
        Evidence::Fork { first, second, .. } => ("fork", first, second),
    };
    Ok(EvidenceReport {
        kind,
        origin: trusted.origin.clone(),
        sizes: (note_size(first), note_size(second)),
    })
}

fn note_size(note: &str) -> u64 {
    note.lines()
        .nth(1)
        .and_then(|l| l.parse().ok())
        .unwrap_or(0)
}

/// What a verified receipt proves.
#[derive(Clone, Debug, Serialize)]
pub struct ReceiptReport {
    /// The log.
    pub origin: String,
    /// The checkpoint size the entries are included in.
    pub checkpoint_size: u64,
    /// Witnesses that cosigned it.
    pub cosigners: Vec<String>,
    /// The entries proved: index and kind.
    pub entries: Vec<(u64, String)>,
}

/// Verifies the receipt in `path` against the trusted log.
///
/// # Errors
/// [`CheckError::Unreadable`] if the file cannot be read; [`CheckError::Refused`] if it is not
/// a receipt or does not verify.
pub fn receipt(path: &Path, trusted: &Trusted) -> Result<ReceiptReport, CheckError> {
    let bytes = read_bounded(path, MAX_RECEIPT_BYTES as u64).map_err(CheckError::Unreadable)?;
    verify_receipt(path, &bytes, trusted).map_err(CheckError::Refused)
}

fn verify_receipt(path: &Path, bytes: &[u8], trusted: &Trusted) -> anyhow::Result<ReceiptReport> {
    let receipt =
        Receipt::parse(bytes).with_context(|| format!("{} is not a receipt", path.display()))?;
    let verified = receipt
        .verify(&trusted.log_key, trusted.genesis_leaf.as_ref())
        .with_context(|| format!("{} does not verify", path.display()))?;
    if verified.params.origin != trusted.origin {
        bail!(
            "{} is a receipt of log {:?}, not of {:?}",
            path.display(),
            verified.params.origin,
            trusted.origin
        );
    }
    Ok(ReceiptReport {
        origin: verified.params.origin,
        checkpoint_size: verified.checkpoint.size(),
        cosigners: verified.cosigners.into_iter().map(|c| c.name).collect(),
        entries: verified
            .entries
            .iter()
            .map(|e| (e.index, e.body.kind().to_string()))
            .collect(),
    })
}

fn read_bounded(path: &Path, max: u64) -> anyhow::Result<Vec<u8>> {
    use std::io::Read as _;
    let file = File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut bytes = Vec::new();
    file.take(max + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("cannot read {}", path.display()))?;
    if bytes.len() as u64 > max {
        bail!("{} is larger than {max} bytes", path.display());
    }
    Ok(bytes)
}

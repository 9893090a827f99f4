//! Receipts: a self-contained, offline proof that some entries are in the log (PROTOCOL §12).
//!
//! A wallet writes one to show a third party — a regulator, a court, a consumer body — that an
//! entry was logged: for example a revocation and the access after it, together. It carries the
//! leaves, their inclusion proofs and one checkpoint note with its cosignatures, in the spirit of
//! C2SP `tlog-proof`. The log's genesis leaf is always its first entry, so a verifier needs only
//! the log's key (and, when it has it, the genesis leaf hash) to learn the log's origin, witnesses
//! and quorum from the receipt itself.
//!
//! ```text
//! testigo.receipt/v1
//! entry 0 AQAAAZrL…(the genesis leaf, standard base64)
//! 3q2+7w…=                       ← its inclusion proof, one hash per line, leaf to root
//! Wm9v…=
//! entry 57 AQAAAZrM…(leaf 57)
//! …
//!                                ← one empty line
//! testigo.example/log/1          ← the checkpoint note, with its signature lines, to the end
//! 58
//! …
//! ```

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use crate::checkpoint::{Checkpoint, Cosigner, QuorumError};
use crate::entry::{Body, Leaf, MAX_LEAF_LEN, verify_leaf};
use crate::hash::{Blake3, Hash, TreeHasher};
use crate::keys::PublicKey;
use crate::state::LogParams;
use crate::verify::{
    GenesisError, ProofError, verify_genesis, verify_inclusion, verify_log_checkpoint,
};

/// The first line of every receipt.
pub const RECEIPT_HEADER: &str = "testigo.receipt/v1";
/// Most entries one receipt may carry (the genesis leaf included).
pub const MAX_RECEIPT_ENTRIES: usize = 256;
/// Most bytes a receipt may have: every entry at the largest leaf size, with a full proof, and a
/// checkpoint note of 16 lines fit.
pub const MAX_RECEIPT_BYTES: usize = 24 << 20;
/// Longest inclusion proof: a tree of 2^64 leaves.
const MAX_PROOF_LEN: usize = 64;

/// One entry of a receipt: its index, its leaf bytes, and its inclusion proof in the
/// receipt's checkpoint.
#[derive(Clone, PartialEq, Eq)]
pub struct ReceiptEntry {
    /// The leaf's index in the log.
    pub index: u64,
    /// The leaf bytes exactly as logged.
    pub leaf: Vec<u8>,
    /// The RFC 9162 audit path from the leaf to the checkpoint's root.
    pub proof: Vec<Hash>,
}

impl fmt::Debug for ReceiptEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReceiptEntry")
            .field("index", &self.index)
            .field("leaf_len", &self.leaf.len())
            .field("proof_len", &self.proof.len())
            .finish()
    }
}

/// A receipt whose framing is valid: the genesis leaf first, indexes strictly increasing, within
/// the limits. Holding one says nothing about signatures or proofs until [`Receipt::verify`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Receipt {
    entries: Vec<ReceiptEntry>,
    note: String,
}

/// What a receipt proves once verified.
#[derive(Clone, Debug)]
pub struct VerifiedReceipt {
    /// The log's parameters, from its genesis leaf.
    pub params: LogParams,
    /// The checkpoint that includes every entry.
    pub checkpoint: Checkpoint,
    /// The witnesses whose cosignatures counted (empty when the log names none).
    pub cosigners: Vec<Cosigner>,
    /// Every entry after the genesis leaf, in index order.
    pub entries: Vec<VerifiedEntry>,
}

/// An entry a receipt proves: signed by its signer, at its index in the checkpointed tree.
#[derive(Clone, Debug)]
pub struct VerifiedEntry {
    /// Its index in the log.
    pub index: u64,
    /// The leaf.
    pub leaf: Leaf,
    /// Its decoded body.
    pub body: Body,
}

/// Why bytes are not a receipt, or a receipt does not prove what it claims.
#[derive(Debug, thiserror::Error)]
pub enum ReceiptError {
    /// More bytes than [`MAX_RECEIPT_BYTES`].
    #[error("a receipt of {len} bytes exceeds the {MAX_RECEIPT_BYTES}-byte limit")]
    TooLarge {
        /// The size given.
        len: usize,
    },
    /// A line does not have the receipt's form.
    #[error("receipt line {line}: {reason}")]
    Malformed {
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// No entries, or more than [`MAX_RECEIPT_ENTRIES`].
    #[error("a receipt carries 1 to {MAX_RECEIPT_ENTRIES} entries, this one {count}")]
    EntryCount {
        /// How many it has.
        count: usize,
    },
    /// The first entry is not the genesis leaf (index 0).
    #[error("a receipt's first entry must be the genesis leaf (index 0), not index {index}")]
    GenesisFirst {
        /// The first entry's index.
        index: u64,
    },
    /// Indexes must strictly increase, so no entry is counted twice.
    #[error("entry {index} follows entry {previous}: indexes must strictly increase")]
    Order {
        /// The index before.
        previous: u64,
        /// The index that does not exceed it.
        index: u64,
    },
    /// An inclusion proof longer than any tree needs.
    #[error("entry {index}: an inclusion proof of more than 64 hashes")]
    ProofTooLong {
        /// The entry's index.
        index: u64,
    },
    /// Nothing follows the entries where the checkpoint note belongs.
    #[error("the receipt has no checkpoint note after its entries")]
    NoNote,
    /// The genesis leaf does not verify, or is not the pinned one.
    #[error("genesis leaf: {0}")]
    Genesis(#[source] GenesisError),
    /// The genesis leaf names another log key than the one trusted.
    #[error("the receipt is for log key {found}, the trusted log key is {trusted}")]
    OtherLog {
        /// The key trusted.
        trusted: PublicKey,
        /// The key the genesis leaf names.
        found: PublicKey,
    },
    /// The checkpoint note is not signed by the log, or lacks its quorum.
    #[error("checkpoint: {0}")]
    Checkpoint(#[source] QuorumError),
    /// An entry lies beyond the checkpoint.
    #[error("entry {index} is beyond the checkpoint's {size} leaves")]
    BeyondCheckpoint {
        /// The entry's index.
        index: u64,
        /// The checkpoint's size.
        size: u64,
    },
    /// An entry's proof does not lead to the checkpoint's root.
    #[error("entry {index} is not included in the checkpoint: {source}")]
    NotIncluded {
        /// The entry's index.
        index: u64,
        /// What the proof check found.
        source: ProofError,
    },
    /// An entry's bytes are not a leaf, or its body does not decode.
    #[error("entry {index} is not a valid leaf: {reason}")]
    BadLeaf {
        /// The entry's index.
        index: u64,
        /// What is wrong.
        reason: String,
    },
    /// An entry's signature does not verify.
    #[error("entry {index}: the signature of {signer} does not verify")]
    BadSignature {
        /// The entry's index.
        index: u64,
        /// Who it claims to be signed by.
        signer: PublicKey,
    },
}

impl Receipt {
    /// A receipt of `entries` (the genesis leaf first, then increasing indexes) under the
    /// checkpoint `note`, exactly as served with its cosignature lines.
    ///
    /// # Errors
    /// The framing errors of [`ReceiptError`]: count, order, sizes, a note that is not text the
    /// form can carry. Proofs and signatures are checked by [`Receipt::verify`].
    pub fn new(entries: Vec<ReceiptEntry>, note: String) -> Result<Self, ReceiptError> {
        let receipt = Self { entries, note };
        receipt.check_framing()?;
        let len = receipt.to_text().len();
        if len > MAX_RECEIPT_BYTES {
            return Err(ReceiptError::TooLarge { len });
        }
        Ok(receipt)
    }

    /// The entries, genesis first.
    pub fn entries(&self) -> &[ReceiptEntry] {
        &self.entries
    }

    /// The checkpoint note, as served.
    pub fn note(&self) -> &str {
        &self.note
    }

    /// Parses the text form.
    ///
    /// # Errors
    /// [`ReceiptError::TooLarge`], [`ReceiptError::Malformed`] naming the line, or a framing
    /// error as [`Receipt::new`].
    pub fn parse(bytes: &[u8]) -> Result<Self, ReceiptError> {
        if bytes.len() > MAX_RECEIPT_BYTES {
            return Err(ReceiptError::TooLarge { len: bytes.len() });
        }
        let malformed = |line: usize, reason: &str| ReceiptError::Malformed {
            line,
            reason: reason.to_owned(),
        };
        let text = std::str::from_utf8(bytes).map_err(|_| malformed(1, "not UTF-8"))?;
        let Some((head, note)) = text.split_once("\n\n") else {
            return Err(malformed(1, "no empty line before the checkpoint note"));
        };
        let mut lines = head.split('\n').enumerate().map(|(i, l)| (i + 1, l));
        match lines.next() {
            Some((_, RECEIPT_HEADER)) => {}
            _ => {
                return Err(malformed(
                    1,
                    &format!("the first line must be {RECEIPT_HEADER:?}"),
                ));
            }
        }
        let mut entries: Vec<ReceiptEntry> = Vec::new();
        for (number, line) in lines {
            if let Some(rest) = line.strip_prefix("entry ") {
                if entries.len() == MAX_RECEIPT_ENTRIES {
                    return Err(ReceiptError::EntryCount {
                        count: MAX_RECEIPT_ENTRIES + 1,
                    });
                }
                entries.push(parse_entry_line(rest).map_err(|r| malformed(number, r))?);
            } else {
                let Some(entry) = entries.last_mut() else {
                    return Err(malformed(number, "a proof hash before any entry line"));
                };
                if entry.proof.len() == MAX_PROOF_LEN {
                    return Err(ReceiptError::ProofTooLong { index: entry.index });
                }
                let hash = (line.len() == 44)
                    .then(|| Hash::from_base64(line))
                    .flatten()
                    .ok_or_else(|| malformed(number, "not an entry line or a base64 hash"))?;
                entry.proof.push(hash);
            }
        }
        let receipt = Self {
            entries,
            note: note.to_owned(),
        };
        receipt.check_framing()?;
        Ok(receipt)
    }

    /// The text form: what [`Receipt::parse`] reads back to an equal receipt.
    pub fn to_text(&self) -> String {
        let mut out = String::from(RECEIPT_HEADER);
        out.push('\n');
        for entry in &self.entries {
            out.push_str(&format!(
                "entry {} {}\n",
                entry.index,
                BASE64.encode(&entry.leaf)
            ));
            for hash in &entry.proof {
                out.push_str(&hash.to_base64());
                out.push('\n');
            }
        }
        out.push('\n');
        out.push_str(&self.note);
        out
    }

    /// Verifies the receipt against the log key a verifier trusts, and the genesis leaf hash
    /// when it has one: the genesis leaf (the log's own rules, and the key it names), the
    /// checkpoint (the log's signature and the quorum its genesis names), then every entry's
    /// inclusion in that checkpoint and its signature.
    ///
    /// # Errors
    /// The first [`ReceiptError`] found, naming the entry.
    pub fn verify(
        &self,
        log_key: &PublicKey,
        genesis_leaf: Option<&Hash>,
    ) -> Result<VerifiedReceipt, ReceiptError> {
        let genesis = &self.entries[0];
        let params = verify_genesis(&genesis.leaf, genesis_leaf).map_err(ReceiptError::Genesis)?;
        if params.log_key != *log_key {
            return Err(ReceiptError::OtherLog {
                trusted: *log_key,
                found: params.log_key,
            });
        }
        let (checkpoint, cosigners) = verify_log_checkpoint(self.note.as_bytes(), &params)
            .map_err(ReceiptError::Checkpoint)?;
        let mut entries = Vec::with_capacity(self.entries.len() - 1);
        for (position, entry) in self.entries.iter().enumerate() {
            let index = entry.index;
            if index >= checkpoint.size() {
                return Err(ReceiptError::BeyondCheckpoint {
                    index,
                    size: checkpoint.size(),
                });
            }
            let leaf_hash = Blake3.hash_leaf(&entry.leaf);
            verify_inclusion(
                &Blake3,
                index,
                checkpoint.size(),
                &leaf_hash,
                &entry.proof,
                checkpoint.root(),
            )
            .map_err(|source| ReceiptError::NotIncluded { index, source })?;
            if position == 0 {
                continue;
            }
            let bad = |reason: String| ReceiptError::BadLeaf { index, reason };
            let leaf = Leaf::from_bytes(&entry.leaf).map_err(|e| bad(e.to_string()))?;
            let body = leaf.decode_body().map_err(|e| bad(e.to_string()))?;
            verify_leaf(&params.origin, &leaf).map_err(|_| ReceiptError::BadSignature {
                index,
                signer: leaf.signer,
            })?;
            entries.push(VerifiedEntry { index, leaf, body });
        }
        Ok(VerifiedReceipt {
            params,
            checkpoint,
            cosigners,
            entries,
        })
    }

    fn check_framing(&self) -> Result<(), ReceiptError> {
        let count = self.entries.len();
        if count == 0 || count > MAX_RECEIPT_ENTRIES {
            return Err(ReceiptError::EntryCount { count });
        }
        if self.entries[0].index != 0 {
            return Err(ReceiptError::GenesisFirst {
                index: self.entries[0].index,
            });
        }
        for pair in self.entries.windows(2) {
            if pair[1].index <= pair[0].index {
                return Err(ReceiptError::Order {
                    previous: pair[0].index,
                    index: pair[1].index,
                });
            }
        }
        for entry in &self.entries {
            if entry.leaf.is_empty() || entry.leaf.len() > MAX_LEAF_LEN {
                return Err(ReceiptError::BadLeaf {
                    index: entry.index,
                    reason: format!(
                        "{} bytes, where a leaf has 1 to {MAX_LEAF_LEN}",
                        entry.leaf.len()
                    ),
                });
            }
            if entry.proof.len() > MAX_PROOF_LEN {
                return Err(ReceiptError::ProofTooLong { index: entry.index });
            }
        }
        if self.note.is_empty() || self.note.starts_with('\n') {
            return Err(ReceiptError::NoNote);
        }
        Ok(())
    }
}

/// `<index> <base64 leaf>`, after `entry `.
fn parse_entry_line(rest: &str) -> Result<ReceiptEntry, &'static str> {
    let (index, leaf) = rest
        .split_once(' ')
        .ok_or("an entry line is `entry <index> <base64 leaf>`")?;
    let canonical = index.len() == 1 || !index.starts_with('0');
    let index = index
        .parse::<u64>()
        .ok()
        .filter(|_| canonical && index.bytes().all(|b| b.is_ascii_digit()))
        .ok_or("an entry index is a decimal number without leading zeros")?;
    if leaf.len() > MAX_LEAF_LEN.div_ceil(3) * 4 {
        return Err("a leaf longer than the largest leaf allowed");
    }
    let leaf = BASE64
        .decode(leaf)
        .map_err(|_| "a leaf in standard base64 with padding")?;
    Ok(ReceiptEntry {
        index,
        leaf,
        proof: Vec::new(),
    })
}

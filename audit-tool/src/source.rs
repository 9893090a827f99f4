//! Where a log comes from: an archive file (PROTOCOL §14) or a node's API read as a regulator.
//!
//! Either way the audit sees the same thing, the archive's records in log order (each leaf with
//! the index the source gives it, each checkpoint after the leaf that ends its tree), delivered
//! in chunks through a bounded channel by a thread of their own, so reading overlaps the replay
//! and memory holds a few chunks, never the log. Nothing a source says is trusted: the replay
//! checks every index, byte, signature and root.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use ed25519_dalek::SigningKey;
use futures::StreamExt as _;
use testigo_client::{Client, ClientError, Signer};
use testigo_ledger::archive::{ArchiveError, ArchiveReader, Record};
use testigo_ledger::checkpoint::CosignedCheckpoint;

/// Records per chunk.
pub const CHUNK: usize = 4_096;
/// Chunks in flight between a source and the replay.
const IN_FLIGHT: usize = 4;

/// Why a source could not deliver the log (as opposed to delivering a bad one).
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The archive could not be opened or is not an archive.
    #[error("archive {path}: {source}")]
    Archive {
        /// The file.
        path: PathBuf,
        /// Why.
        source: ArchiveError,
    },
    /// The node could not be reached or refused.
    #[error("node {url}: {source}")]
    Node {
        /// The node.
        url: String,
        /// Why.
        source: ClientError,
    },
    /// The node's latest checkpoint does not parse, so the log's size is unknown.
    #[error("node {url}: its checkpoint does not parse: {reason}")]
    Checkpoint {
        /// The node.
        url: String,
        /// Why.
        reason: String,
    },
}

/// A log to read.
#[derive(Clone, Debug)]
pub enum Source {
    /// An archive file.
    Archive(PathBuf),
    /// A node, read with a regulator's (or witness's, or operator's) key.
    Node {
        /// The node's base URL.
        url: String,
        /// The key that signs the reads.
        key: Box<SigningKey>,
    },
}

/// How far a source has read, for progress: done and total in the same unit (bytes of an
/// archive, leaves of a node's log).
#[derive(Debug, Default)]
pub struct Position {
    /// Units read.
    pub done: AtomicU64,
    /// Units in all (0 when unknown).
    pub total: AtomicU64,
}

impl Position {
    /// The fraction read, if the total is known.
    pub fn fraction(&self) -> Option<f64> {
        let total = self.total.load(Ordering::Relaxed);
        (total > 0).then(|| self.done.load(Ordering::Relaxed) as f64 / total as f64)
    }
}

/// One message of a running source: a chunk of records, or why it stopped early.
pub type Chunk = Result<Vec<Record>, SourceError>;

/// A source read by its own thread.
#[derive(Debug)]
pub struct Running {
    /// The chunks, in log order; the channel closes at the end.
    pub chunks: Receiver<Chunk>,
    /// How far it has read.
    pub position: Arc<Position>,
    thread: JoinHandle<()>,
}

impl Running {
    /// Waits for the reading thread (after the channel is drained or dropped).
    pub fn join(self) {
        let _ = self.thread.join();
    }
}

/// Where to start reading: the first leaf index and the least checkpoint size wanted.
#[derive(Clone, Copy, Debug, Default)]
pub struct From {
    /// First leaf index.
    pub leaf: u64,
    /// Least checkpoint size.
    pub checkpoint: u64,
}

impl Source {
    /// Starts reading from the beginning.
    ///
    /// # Errors
    /// [`SourceError`] if the archive cannot be opened (a node's errors come through the
    /// channel).
    pub fn start(&self) -> Result<Running, SourceError> {
        self.start_at(From::default())
    }

    /// Starts reading at `from` (a node only; an archive is always read whole).
    ///
    /// # Errors
    /// As [`Source::start`].
    pub fn start_at(&self, from: From) -> Result<Running, SourceError> {
        let (tx, rx) = sync_channel(IN_FLIGHT);
        let position = Arc::new(Position::default());
        let thread = match self {
            Source::Archive(path) => {
                let reader = open_archive(path)?;
                let len = std::fs::metadata(path).map_or(0, |m| m.len());
                position.total.store(len, Ordering::Relaxed);
                let (path, position) = (path.clone(), position.clone());
                std::thread::spawn(move || read_archive(reader, &path, &tx, &position))
            }
            Source::Node { url, key } => {
                let (url, key, position) = (url.clone(), key.clone(), position.clone());
                std::thread::spawn(move || read_node(&url, *key, from, &tx, &position))
            }
        };
        Ok(Running {
            chunks: rx,
            position,
            thread,
        })
    }
}

fn open_archive(path: &Path) -> Result<ArchiveReader<BufReader<File>>, SourceError> {
    let err = |source| SourceError::Archive {
        path: path.to_owned(),
        source,
    };
    let file = File::open(path).map_err(|e| err(e.into()))?;
    ArchiveReader::new(BufReader::with_capacity(1 << 20, file)).map_err(err)
}

fn read_archive(
    mut reader: ArchiveReader<BufReader<File>>,
    path: &Path,
    tx: &SyncSender<Chunk>,
    position: &Position,
) {
    let mut chunk = Vec::with_capacity(CHUNK);
    loop {
        match reader.next_record() {
            Ok(Some(record)) => chunk.push(record),
            Ok(None) => break,
            Err(source) => {
                let _ = flush(tx, &mut chunk);
                let _ = tx.send(Err(SourceError::Archive {
                    path: path.to_owned(),
                    source,
                }));
                return;
            }
        }
        if chunk.len() == CHUNK {
            position.done.store(reader.offset(), Ordering::Relaxed);
            if flush(tx, &mut chunk).is_err() {
                return;
            }
        }
    }
    position.done.store(reader.offset(), Ordering::Relaxed);
    let _ = flush(tx, &mut chunk);
}

/// Sends the chunk if it has records; `Err` once the replay has hung up.
fn flush(tx: &SyncSender<Chunk>, chunk: &mut Vec<Record>) -> Result<(), ()> {
    if chunk.is_empty() {
        return Ok(());
    }
    let full = std::mem::replace(chunk, Vec::with_capacity(CHUNK));
    tx.send(Ok(full)).map_err(drop)
}

fn read_node(url: &str, key: SigningKey, from: From, tx: &SyncSender<Chunk>, position: &Position) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            let _ = tx.send(Err(SourceError::Node {
                url: url.to_owned(),
                source: ClientError::Config(format!("cannot start a runtime: {e}")),
            }));
            return;
        }
    };
    if let Err(e) = runtime.block_on(page_node(url, key, from, tx, position)) {
        let _ = tx.send(Err(e));
    }
}

/// Pages through the node's log up to its latest checkpoint, interleaving each checkpoint
/// after the leaf that ends its tree.
async fn page_node(
    url: &str,
    key: SigningKey,
    from: From,
    tx: &SyncSender<Chunk>,
    position: &Position,
) -> Result<(), SourceError> {
    let node_err = |source| SourceError::Node {
        url: url.to_owned(),
        source,
    };
    let client = Client::new(url)
        .map_err(node_err)?
        .with_signer(Signer::new(key));
    let note = client.checkpoint().await.map_err(node_err)?;
    let size = CosignedCheckpoint::parse(note.as_bytes())
        .map_err(|e| SourceError::Checkpoint {
            url: url.to_owned(),
            reason: e.to_string(),
        })?
        .checkpoint()
        .size();
    position.total.store(size, Ordering::Relaxed);
    position.done.store(from.leaf, Ordering::Relaxed);
    let mut leaves = Box::pin(client.entries_stream(from.leaf, size));
    let mut checkpoints = Box::pin(client.checkpoints_from(from.checkpoint.max(1)).peekable());
    let mut chunk = Vec::with_capacity(CHUNK);
    // A resumed archive may end with the leaf that ends a checkpoint not yet written: it goes
    // first, where a whole export puts it.
    while let Some(Ok(c)) = checkpoints.as_mut().peek().await
        && c.size <= from.leaf
    {
        if let Some(Ok(c)) = checkpoints.next().await {
            chunk.push(Record::Checkpoint {
                note: c.note.into_bytes(),
            });
        }
    }
    while let Some(leaf) = leaves.next().await {
        let leaf = match leaf {
            Ok(leaf) => leaf,
            Err(e) => {
                // What arrived whole before the failure is delivered: an export keeps it.
                let _ = flush(tx, &mut chunk);
                return Err(node_err(e));
            }
        };
        let next = leaf.index + 1;
        chunk.push(Record::Leaf {
            index: leaf.index,
            bytes: leaf.leaf.0,
        });
        while let Some(Ok(c)) = checkpoints.as_mut().peek().await
            && c.size <= next
        {
            if let Some(Ok(c)) = checkpoints.next().await {
                chunk.push(Record::Checkpoint {
                    note: c.note.into_bytes(),
                });
            }
        }
        if let Some(Err(_)) = checkpoints.as_mut().peek().await
            && let Some(Err(e)) = checkpoints.next().await
        {
            let _ = flush(tx, &mut chunk);
            return Err(node_err(e));
        }
        if chunk.len() >= CHUNK {
            position.done.store(next, Ordering::Relaxed);
            if flush(tx, &mut chunk).is_err() {
                return Ok(());
            }
        }
    }
    position.done.store(size, Ordering::Relaxed);
    let _ = flush(tx, &mut chunk);
    Ok(())
}

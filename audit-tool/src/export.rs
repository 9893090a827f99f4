//! `testigo-audit export`: a node's log as an archive (PROTOCOL §14), read as a regulator.
//!
//! A new archive is written to a temporary file beside the target, synced and renamed, so the
//! target never holds a record half-written by this run; if the node fails midway the records
//! written so far are still synced and renamed into place, and a local write failure leaves
//! nothing. An existing archive is resumed: its whole records are kept (a record cut by an
//! interrupted run, a process killed mid-write, is cut off), and the export appends from the
//! next leaf and the next checkpoint, syncing what it wrote even when the node fails midway, so
//! running the command again continues where this one stopped. What the node sends is not checked here:
//! `replay` does that, on the archive.

use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, Write as _};
use std::path::{Path, PathBuf};

use testigo_ledger::archive::{ArchiveError, ArchiveWriter, Record, scan_end};

use crate::progress::Progress;
use crate::source::{From, Source, SourceError};

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The archive could not be read or written.
    #[error("archive {path}: {source}")]
    Archive {
        /// The file.
        path: PathBuf,
        /// Why.
        source: ArchiveError,
    },
    /// The node failed; a resumed archive keeps what was written.
    #[error(transparent)]
    Source(#[from] SourceError),
}

/// What an export did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Exported {
    /// The first leaf index written (0 for a new archive).
    pub from: u64,
    /// Leaves written.
    pub leaves: u64,
    /// Checkpoints written.
    pub checkpoints: u64,
}

/// Writes (or resumes) `out` from `source` (a node).
///
/// # Errors
/// [`ExportError`].
pub fn export(
    source: &Source,
    out: &Path,
    progress: &mut Progress,
) -> Result<Exported, ExportError> {
    let err = |source: ArchiveError| ExportError::Archive {
        path: out.to_owned(),
        source,
    };
    if out.exists() {
        let end = scan_end(File::open(out).map_err(|e| err(e.into()))?).map_err(err)?;
        let file = OpenOptions::new()
            .write(true)
            .open(out)
            .map_err(|e| err(e.into()))?;
        // Cut off a record an interrupted export left half-written.
        file.set_len(end.whole_len).map_err(|e| err(e.into()))?;
        drop(file);
        let file = OpenOptions::new()
            .append(true)
            .open(out)
            .map_err(|e| err(e.into()))?;
        let from = From {
            leaf: end.next_index,
            checkpoint: end.last_checkpoint_size.map_or(0, |s| s + 1),
        };
        let mut writer = ArchiveWriter::append(BufWriter::new(file));
        let copied = copy(source, from, &mut writer, progress);
        // Whole records are kept whatever happened: the next run resumes after them.
        sync(writer).map_err(err)?;
        return copied;
    }
    let dir = out.parent().filter(|d| !d.as_os_str().is_empty());
    let dir = dir.unwrap_or(Path::new("."));
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp"));
    let written = (|| {
        let file = File::create(&tmp).map_err(|e| err(e.into()))?;
        let mut writer = ArchiveWriter::new(BufWriter::new(file)).map_err(err)?;
        let copied = copy(source, From::default(), &mut writer, progress);
        if let Err(ExportError::Archive { .. }) = &copied {
            return copied;
        }
        // Written whole, or cut by the node: either way the records written are kept (synced,
        // then renamed into place), and a run after a cut one resumes after them.
        sync(writer).map_err(err)?;
        fs::rename(&tmp, out).map_err(|e| err(e.into()))?;
        if let Ok(dir) = File::open(dir) {
            let _ = dir.sync_all();
        }
        copied
    })();
    if written.is_err() && tmp.exists() {
        let _ = fs::remove_file(&tmp);
    }
    written
}

fn copy(
    source: &Source,
    from: From,
    writer: &mut ArchiveWriter<BufWriter<File>>,
    progress: &mut Progress,
) -> Result<Exported, ExportError> {
    let running = source.start_at(from)?;
    let mut done = Exported {
        from: from.leaf,
        leaves: 0,
        checkpoints: 0,
    };
    let mut failed = None;
    for chunk in running.chunks.iter() {
        let chunk = match chunk {
            Ok(chunk) => chunk,
            Err(e) => {
                failed = Some(e);
                break;
            }
        };
        for record in &chunk {
            writer
                .write(record)
                .map_err(|source| ExportError::Archive {
                    path: PathBuf::new(),
                    source,
                })?;
            match record {
                Record::Leaf { .. } => done.leaves += 1,
                Record::Checkpoint { .. } => done.checkpoints += 1,
            }
        }
        progress.update(done.leaves, running.position.fraction());
    }
    progress.done(done.leaves);
    match failed {
        Some(e) => Err(e.into()),
        None => Ok(done),
    }
}

fn sync(writer: ArchiveWriter<BufWriter<File>>) -> Result<(), ArchiveError> {
    let mut buffered = writer.into_inner();
    buffered.flush()?;
    let file = buffered.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()?;
    Ok(())
}

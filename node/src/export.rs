//! `testigo-node export`: a data directory's log as an archive (PROTOCOL §14), for the audit
//! tool and for backups.
//!
//! Every leaf up to the latest checkpoint and every stored checkpoint with its cosignature
//! lines, read from the store (with the node stopped, or from a copy). The archive is written to
//! a temporary file beside the target, synced and renamed, so a failed export leaves no
//! half-written archive. Nothing is checked here: that is `testigo-audit replay`'s work.

use std::fs;
use std::io::{BufWriter, Write as _};
use std::path::Path;

use testigo_ledger::archive::{ArchiveError, ArchiveWriter};

use crate::reader::LogRead as _;
use crate::storage::{StorageError, Store, StoreConfig};

/// Leaves read per page.
const PAGE: u64 = 4_096;

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The store could not be read.
    #[error("store: {0}")]
    Store(#[from] StorageError),
    /// The archive could not be written.
    #[error("{0}")]
    Archive(#[from] ArchiveError),
    /// A read the store answered with something else.
    #[error("store: {0}")]
    Read(String),
}

/// What an export wrote.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Exported {
    /// Leaves written.
    pub leaves: u64,
    /// Checkpoints written.
    pub checkpoints: u64,
}

/// Writes the log of the data directory `config` names to `out`.
///
/// # Errors
/// [`ExportError`]; `out` is then untouched.
pub fn export_data_dir(
    config: &crate::Config,
    out: &Path,
    mut progress: impl FnMut(u64, u64),
) -> Result<Exported, ExportError> {
    let engine = match config.storage {
        crate::StorageEngine::Redb => crate::storage::EngineKind::Redb,
        crate::StorageEngine::Sled => crate::storage::EngineKind::Sled,
    };
    let store_config = StoreConfig {
        engine,
        ..StoreConfig::default()
    };
    let store = std::sync::Arc::new(Store::open(&config.store_path(), &store_config)?);
    let size = store.latest_checkpoint()?.map_or(0, |c| c.size);
    let dir = out.parent().filter(|d| !d.as_os_str().is_empty());
    let dir = dir.unwrap_or(Path::new("."));
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp"));
    let written = write(&store, size, &tmp, &mut progress).and_then(|done| {
        fs::rename(&tmp, out).map_err(ArchiveError::from)?;
        if let Ok(dir) = fs::File::open(dir) {
            let _ = dir.sync_all();
        }
        Ok(done)
    });
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written
}

fn write(
    store: &std::sync::Arc<Store>,
    size: u64,
    tmp: &Path,
    progress: &mut impl FnMut(u64, u64),
) -> Result<Exported, ExportError> {
    let file = fs::File::create(tmp).map_err(ArchiveError::from)?;
    let mut archive = ArchiveWriter::new(BufWriter::new(file))?;
    let mut done = Exported {
        leaves: 0,
        checkpoints: 0,
    };
    let mut start = 0;
    while start < size {
        let end = (start + PAGE).min(size);
        // At most one checkpoint per leaf: a page of leaves has at most PAGE of them.
        let mut checkpoints = store
            .checkpoints(start + 1, PAGE as usize)
            .map_err(|e| ExportError::Read(e.to_string()))?
            .into_iter()
            .filter(|c| c.size <= end)
            .peekable();
        for (index, leaf) in (start..).zip(Store::leaves(store, start, end)?) {
            archive.write_leaf(index, &leaf)?;
            done.leaves += 1;
            while let Some(c) = checkpoints.next_if(|c| c.size <= index + 1) {
                archive.write_checkpoint(c.note.as_bytes())?;
                done.checkpoints += 1;
            }
        }
        progress(end, size);
        start = end;
    }
    let mut file = archive.into_inner();
    file.flush().map_err(ArchiveError::from)?;
    let file = file
        .into_inner()
        .map_err(|e| ArchiveError::from(e.into_error()))?;
    file.sync_all().map_err(ArchiveError::from)?;
    Ok(done)
}

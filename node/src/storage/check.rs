//! The startup check: a store whose parts disagree refuses to open.
//!
//! On open, the stored tree size, the leaves, the leaf hashes, the last leaf's hash, the tree's
//! right edge and the latest checkpoint's size and root must agree. Each check is O(log n)
//! reads, so opening stays fast however long the log is. A failure names what disagrees
//! ([`Inconsistent`]) and the node must not start: serving or extending a log whose stored tree
//! does not match its signed checkpoint would sign a fork.

use testigo_ledger::merkle::{MerkleError, root};
use testigo_ledger::{Blake3, Hash, TreeHasher};

use super::layout::{
    FORMAT_VERSION, META_FORMAT, META_LATEST_CHECKPOINT, META_TREE_SIZE, Op, Table, decode_u64,
    u64_key,
};
use super::{Inconsistent, StorageError, Store};
use testigo_ledger::merkle::HashReader as _;
use testigo_ledger::merkle::NodeId;

/// The latest published checkpoint's note, kept beside the engine's files and replaced
/// atomically after each checkpoint commit: an engine that loses committed data on open (sled
/// truncates its log at a damaged segment) would otherwise start on an older tree and publish a
/// fork of what it already published. The startup check refuses a store behind this record.
pub(crate) const PUBLISHED_FILE: &str = "published-checkpoint";

/// The size and root a checkpoint note states (its second and third lines).
///
/// # Errors
/// A sentence saying why the text is not a C2SP checkpoint body.
pub(crate) fn parse_checkpoint(note: &str) -> Result<(u64, Hash), String> {
    let mut lines = note.split('\n');
    let _origin = lines
        .next()
        .filter(|l| !l.is_empty())
        .ok_or("no origin line")?;
    let size = lines.next().ok_or("no size line")?;
    let size: u64 = size
        .parse()
        .ok()
        .filter(|_| !size.starts_with('+') && (size == "0" || !size.starts_with('0')))
        .ok_or_else(|| format!("size line {size:?} is not a decimal number"))?;
    let root_line = lines.next().ok_or("no root hash line")?;
    let root = Hash::from_base64(root_line)
        .ok_or_else(|| format!("root line {root_line:?} is not base64 of 32 bytes"))?;
    Ok((size, root))
}

impl Store {
    /// Writes the format version into a fresh store, or checks the stored one. Returns the
    /// stored tree size.
    pub(crate) fn check_format(&self) -> Result<u64, StorageError> {
        let tree_size = self.meta_u64(META_TREE_SIZE)?;
        match self.engine.get(Table::Meta, META_FORMAT)? {
            Some(bytes) => {
                let found = <[u8; 4]>::try_from(bytes.as_slice())
                    .map(u32::from_be_bytes)
                    .map_err(|_| {
                        StorageError::corrupt(Table::Meta.name(), META_FORMAT, "not a u32")
                    })?;
                if found != FORMAT_VERSION {
                    return Err(StorageError::UnsupportedFormat {
                        found: Some(found),
                        supported: FORMAT_VERSION,
                    });
                }
            }
            None => {
                let has_leaves = !self.engine.scan(Table::Leaves, &[], None, 1)?.is_empty();
                if tree_size.is_some() || has_leaves {
                    return Err(StorageError::UnsupportedFormat {
                        found: None,
                        supported: FORMAT_VERSION,
                    });
                }
                let version = FORMAT_VERSION.to_be_bytes().to_vec();
                self.engine
                    .commit(&[Op::Put(Table::Meta, META_FORMAT.to_vec(), version)])?;
            }
        }
        Ok(tree_size.unwrap_or(0))
    }

    /// Checks that the stored parts agree (see the module docs).
    ///
    /// # Errors
    /// [`StorageError::Inconsistent`] naming the first disagreement; engine errors.
    pub(crate) fn startup_check(&self) -> Result<(), StorageError> {
        let tree_size = self.tree_size();
        let leaves = match self
            .engine
            .last_in(Table::Leaves, &u64_key(0), &u64_key(u64::MAX))?
        {
            Some((key, _)) => decode_u64(Table::Leaves.name(), &key, &key)? + 1,
            None => 0,
        };
        if leaves != tree_size {
            return Err(Inconsistent::LeafCountMismatch { tree_size, leaves }.into());
        }
        let leaf_hashes = self.leaf_hash_count()?;
        if leaf_hashes != tree_size {
            return Err(Inconsistent::HashCountMismatch {
                tree_size,
                leaf_hashes,
            }
            .into());
        }
        if let Some(index) = tree_size.checked_sub(1) {
            let leaf = self.leaf(index)?.unwrap_or_default();
            let computed = Blake3.hash_leaf(&leaf);
            let stored = self
                .read_hashes(&[NodeId::leaf(index)])
                .map_err(|e| StorageError::Merkle(MerkleError::Store(e)))?[0];
            if stored != computed {
                return Err(Inconsistent::LeafHashMismatch {
                    index,
                    stored,
                    computed,
                }
                .into());
            }
        }
        self.root_at(tree_size)?;
        let Some(size) = self.meta_u64(META_LATEST_CHECKPOINT)? else {
            return self.check_published(None);
        };
        let note = self
            .checkpoint(size)?
            .ok_or(Inconsistent::LatestCheckpointMissing { size })?;
        let (note_size, stored_root) = parse_checkpoint(&note)
            .map_err(|reason| Inconsistent::MalformedCheckpoint { size, reason })?;
        if note_size != size {
            let reason = format!("the note is for size {note_size}");
            return Err(Inconsistent::MalformedCheckpoint { size, reason }.into());
        }
        if size > tree_size {
            return Err(Inconsistent::CheckpointBeyondTree {
                checkpoint_size: size,
                tree_size,
            }
            .into());
        }
        let computed_root = self.root_at(size)?;
        if computed_root != stored_root {
            return Err(Inconsistent::CheckpointRootMismatch {
                size,
                stored_root,
                computed_root,
            }
            .into());
        }
        self.set_anchor(size, stored_root);
        self.check_published(Some(size))?;
        // A store from before the record existed gets one now.
        self.record_published(&note)
    }

    /// Refuses a store whose latest checkpoint (`stored`) is behind the published record, or
    /// whose tree disagrees with the record's root.
    fn check_published(&self, stored: Option<u64>) -> Result<(), StorageError> {
        let file = self.published.display().to_string();
        let text = match std::fs::read_to_string(&self.published) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => {
                let reason = e.to_string();
                return Err(Inconsistent::PublishedMismatch { file, reason }.into());
            }
        };
        let (published, root) =
            parse_checkpoint(&text).map_err(|reason| Inconsistent::PublishedMismatch {
                file: file.clone(),
                reason,
            })?;
        if stored.is_none_or(|s| s < published) {
            return Err(Inconsistent::LostCheckpoints {
                published,
                stored,
                file,
            }
            .into());
        }
        let computed = self.root_at(published)?;
        if computed != root {
            let reason = format!(
                "it records root {root} at size {published}, the stored tree gives {computed}"
            );
            return Err(Inconsistent::PublishedMismatch { file, reason }.into());
        }
        Ok(())
    }

    /// Records `note` as the latest published checkpoint: written beside, flushed, renamed over
    /// the old record, and the directory flushed, so a crash leaves the old record or the new.
    pub(crate) fn record_published(&self, note: &str) -> Result<(), StorageError> {
        let io = |source| StorageError::Io {
            path: self.published.clone(),
            source,
        };
        let temp = self.published.with_extension("tmp");
        let mut file = std::fs::File::create(&temp).map_err(io)?;
        std::io::Write::write_all(&mut file, note.as_bytes()).map_err(io)?;
        file.sync_all().map_err(io)?;
        std::fs::rename(&temp, &self.published).map_err(io)?;
        if let Some(dir) = self.published.parent() {
            std::fs::File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(io)?;
        }
        Ok(())
    }

    /// The root of the stored tree at `size`, a missing hash reported as an inconsistency.
    fn root_at(&self, size: u64) -> Result<Hash, StorageError> {
        root(&Blake3, self, size).map_err(|error| match error {
            MerkleError::NotStored { size, missing } => {
                Inconsistent::MissingTreeHash { size, missing }.into()
            }
            other => other.into(),
        })
    }
}

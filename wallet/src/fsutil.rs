//! Files written so that a crash leaves either the old bytes or the new, never half of either.

use std::fs;
use std::io::Write as _;
use std::path::Path;

use crate::error::{Result, WalletError};

/// Writes `bytes` to `path` through a synced temporary file, a rename and a synced directory.
/// The file is created owner-only (0600) from the start: the wallet's files say who the
/// customer trades with.
///
/// # Errors
/// [`WalletError::Local`] naming the file.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let fail = |e: std::io::Error| WalletError::local(format!("writing {}", path.display()), e);
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp"));
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(&tmp).map_err(fail)?;
    file.write_all(bytes).map_err(fail)?;
    file.sync_all().map_err(fail)?;
    drop(file);
    fs::rename(&tmp, path).map_err(fail)?;
    if let Ok(dir) = fs::File::open(dir) {
        dir.sync_all().map_err(fail)?;
    }
    Ok(())
}

/// Like [`write_atomically`], refusing to replace a file that exists.
///
/// # Errors
/// [`WalletError::Local`] if `path` exists or cannot be written.
pub(crate) fn create_new(path: &Path, bytes: &[u8]) -> Result<()> {
    if path.exists() {
        return Err(WalletError::Local(format!(
            "{} exists already; nothing was changed (move it away first)",
            path.display()
        )));
    }
    write_atomically(path, bytes)
}

/// Reads a file of at most `limit` bytes.
///
/// # Errors
/// [`WalletError::Local`] naming the file.
pub(crate) fn read_limited(path: &Path, limit: u64) -> Result<Vec<u8>> {
    let fail = |e: std::io::Error| WalletError::local(format!("reading {}", path.display()), e);
    let len = fs::metadata(path).map_err(fail)?.len();
    if len > limit {
        return Err(WalletError::Local(format!(
            "{} is {len} bytes, more than the {limit} this file can be",
            path.display()
        )));
    }
    fs::read(path).map_err(fail)
}

/// Creates the wallet directory, owner-only.
///
/// # Errors
/// [`WalletError::Local`].
pub(crate) fn create_dir(path: &Path) -> Result<()> {
    let fail = |e: std::io::Error| WalletError::local(format!("creating {}", path.display()), e);
    fs::create_dir_all(path).map_err(fail)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        fs::set_permissions(path, fs::Permissions::from_mode(0o700)).map_err(fail)?;
    }
    Ok(())
}

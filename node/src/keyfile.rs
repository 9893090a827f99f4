//! The operator's log key on disk.
//!
//! The file holds one line, `testigo-ed25519-seed-v1 <base64 of the 32-byte seed>`, is readable by
//! its owner only (0600 on Unix), and is written atomically: a temporary file in the same
//! directory, synced, then renamed over the target, so a crash leaves either no key or the whole
//! key. The seed is never logged; [`KeyFile`]'s `Debug` shows the public key only.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use ed25519_dalek::SigningKey;
use testigo_ledger::PublicKey;

/// Why a key file cannot be read or written.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    /// The file system refused.
    #[error("key file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The content is not a key file.
    #[error("key file {path} is not a testigo key file ({reason})")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: &'static str,
    },
    /// The file exists and `create` would overwrite it.
    #[error("key file {0} already exists; refusing to overwrite a key")]
    Exists(PathBuf),
    /// The operating system's random source failed.
    #[error("cannot generate a key: {0}")]
    Random(String),
}

/// A signing key loaded from (or written to) a key file.
pub struct KeyFile {
    key: SigningKey,
}

impl std::fmt::Debug for KeyFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyFile")
            .field("public", &self.public())
            .finish_non_exhaustive()
    }
}

impl KeyFile {
    /// Wraps an existing key (tests use seeded keys).
    pub fn from_key(key: SigningKey) -> Self {
        Self { key }
    }

    /// Generates a fresh key from the operating system's random source.
    ///
    /// # Errors
    /// [`KeyFileError::Random`] if no randomness is available.
    pub fn generate() -> Result<Self, KeyFileError> {
        testigo_ledger::entry::signature::generate_signing_key()
            .map(Self::from_key)
            .map_err(|e| KeyFileError::Random(e.to_string()))
    }

    /// The signing key.
    pub fn signing_key(&self) -> &SigningKey {
        &self.key
    }

    /// The public key.
    pub fn public(&self) -> PublicKey {
        PublicKey(self.key.verifying_key().to_bytes())
    }

    /// Reads a key file.
    ///
    /// # Errors
    /// [`KeyFileError::Io`] if it cannot be read, [`KeyFileError::Malformed`] if it is not a key.
    pub fn load(path: &Path) -> Result<Self, KeyFileError> {
        let text = fs::read_to_string(path).map_err(|source| KeyFileError::Io {
            path: path.to_owned(),
            source,
        })?;
        let malformed = |reason| KeyFileError::Malformed {
            path: path.to_owned(),
            reason,
        };
        testigo_ledger::keys::parse_key_file(&text)
            .map(Self::from_key)
            .map_err(malformed)
    }

    /// Writes the key to a new file, owner-only, atomically. Refuses to replace an existing file.
    ///
    /// # Errors
    /// [`KeyFileError::Exists`] if `path` exists, [`KeyFileError::Io`] if writing fails.
    pub fn create(&self, path: &Path) -> Result<(), KeyFileError> {
        if path.exists() {
            return Err(KeyFileError::Exists(path.to_owned()));
        }
        let line = testigo_ledger::keys::key_file_text(&self.key);
        write_atomically(path, line.as_bytes(), true)
    }
}

/// Writes `bytes` to `path` through a synced temporary file and a rename; `secret` files are
/// created 0600 (the mode is set at creation, so the bytes are never readable by others).
///
/// # Errors
/// [`KeyFileError::Io`] naming the file that failed.
pub fn write_atomically(path: &Path, bytes: &[u8], secret: bool) -> Result<(), KeyFileError> {
    let io = |source| KeyFileError::Io {
        path: path.to_owned(),
        source,
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp"));
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = secret;
    let mut file = options.open(&tmp).map_err(io)?;
    file.write_all(bytes).map_err(io)?;
    file.sync_all().map_err(io)?;
    drop(file);
    fs::rename(&tmp, path).map_err(io)?;
    // The rename is durable only once the directory entry is.
    if let Ok(dir) = fs::File::open(dir) {
        let _ = dir.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD as BASE64;

    use super::*;

    #[test]
    fn a_created_key_loads_back_owner_only_and_is_not_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.key");
        let key = KeyFile::from_key(SigningKey::from_bytes(&[7; 32]));
        key.create(&path).unwrap();
        assert_eq!(KeyFile::load(&path).unwrap().public(), key.public());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(matches!(key.create(&path), Err(KeyFileError::Exists(_))));
        assert!(!format!("{key:?}").contains(&BASE64.encode([7; 32])));
    }

    #[test]
    fn a_foreign_file_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.key");
        fs::write(&path, "ssh-ed25519 AAAA").unwrap();
        assert!(matches!(
            KeyFile::load(&path),
            Err(KeyFileError::Malformed { .. })
        ));
    }
}

//! The regulator's key file: the same one-line format as the node's log key
//! (`testigo_ledger::keys::key_file_text`), owner-only (0600), written atomically.

use std::fs;
use std::io::Write as _;
use std::path::Path;

use anyhow::{Context as _, bail};
use ed25519_dalek::SigningKey;

/// Reads a key file.
///
/// # Errors
/// If it cannot be read or is not a key file.
pub fn load(path: &Path) -> anyhow::Result<SigningKey> {
    let text = fs::read_to_string(path).with_context(|| format!("key file {}", path.display()))?;
    testigo_ledger::keys::parse_key_file(&text).map_err(|reason| {
        anyhow::anyhow!(
            "key file {} is not a testigo key file ({reason})",
            path.display()
        )
    })
}

/// Writes `key` to a new file, 0600 from its creation, through a synced temporary file and a
/// rename. Refuses to replace an existing file.
///
/// # Errors
/// If `path` exists or writing fails.
pub fn create(path: &Path, key: &SigningKey) -> anyhow::Result<()> {
    if path.exists() {
        bail!(
            "key file {} already exists; refusing to overwrite a key",
            path.display()
        );
    }
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    let dir = dir.unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp"));
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let written = (|| -> std::io::Result<()> {
        let mut file = options.open(&tmp)?;
        file.write_all(testigo_ledger::keys::key_file_text(key).as_bytes())?;
        file.sync_all()?;
        fs::rename(&tmp, path)?;
        if let Ok(dir) = fs::File::open(dir) {
            let _ = dir.sync_all();
        }
        Ok(())
    })();
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written.with_context(|| format!("cannot write key file {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_file_is_owner_only_loads_back_and_is_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("regulator.key");
        let key = SigningKey::from_bytes(&[9; 32]);
        create(&path, &key).unwrap();
        assert_eq!(load(&path).unwrap().to_bytes(), key.to_bytes());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            assert_eq!(
                fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        assert!(create(&path, &SigningKey::from_bytes(&[1; 32])).is_err());
        assert_eq!(load(&path).unwrap().to_bytes(), key.to_bytes());
        fs::write(&path, "ssh-ed25519 AAAA").unwrap();
        assert!(
            load(&path)
                .unwrap_err()
                .to_string()
                .contains("not a testigo key file")
        );
    }
}

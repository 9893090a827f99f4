//! The wallet key file: an Ed25519 seed inside an `age` file encrypted to a passphrase (age's
//! scrypt recipient), so `age -d` or `rage -d` opens it too (`docs/PROTOCOL.md` §15). The
//! plaintext is one line: `testigo-wallet-key/v1 <base64 seed>\n`.

use age::secrecy::SecretString;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::SigningKey;

/// First word of the plaintext.
pub const KEY_MAGIC: &str = "testigo-wallet-key/v1";
/// The largest key file read (a real one is about 250 bytes).
pub const MAX_KEY_FILE_BYTES: usize = 4096;
/// The scrypt work factor of new key files (2^18, about a second here, as age picks).
pub const DEFAULT_WORK_FACTOR: u8 = 18;
/// The highest work factor a key file may ask for when opened (age's own bound is 2^22 by
/// default; a file asking for more is refused rather than computed for minutes).
const MAX_WORK_FACTOR: u8 = 22;

/// Why a key file does not open.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    /// Too large to be a key file.
    #[error("the key file is {0} bytes: not a wallet key file")]
    TooLarge(usize),
    /// Not an age file, or not one encrypted to a passphrase.
    #[error("not an age key file encrypted with a passphrase: {0}")]
    NotAge(String),
    /// The passphrase does not open it (or the file is damaged).
    #[error("wrong passphrase (or a damaged key file): nothing was changed")]
    WrongPassphrase,
    /// It opens, but the content is not a wallet key.
    #[error("the file opens but does not hold a Testigo wallet key: {0}")]
    NotAKey(String),
}

/// Encrypts `key` to `passphrase` with the scrypt work factor `2^work_factor`.
pub fn seal(key: &SigningKey, passphrase: &str, work_factor: u8) -> Vec<u8> {
    let plain = format!("{KEY_MAGIC} {}\n", BASE64.encode(key.to_bytes()));
    let mut recipient = age::scrypt::Recipient::new(SecretString::from(passphrase.to_owned()));
    recipient.set_work_factor(work_factor.clamp(1, MAX_WORK_FACTOR));
    age::encrypt(&recipient, plain.as_bytes()).expect("encrypting to one scrypt recipient")
}

/// Decrypts a key file with `passphrase`.
///
/// # Errors
/// A [`KeyFileError`] saying whether the file or the passphrase is wrong.
pub fn open(bytes: &[u8], passphrase: &str) -> Result<SigningKey, KeyFileError> {
    if bytes.len() > MAX_KEY_FILE_BYTES {
        return Err(KeyFileError::TooLarge(bytes.len()));
    }
    let decryptor = age::Decryptor::new(bytes).map_err(|e| KeyFileError::NotAge(e.to_string()))?;
    if !decryptor.is_scrypt() {
        return Err(KeyFileError::NotAge(
            "it is encrypted to a key, not a passphrase".into(),
        ));
    }
    let mut identity = age::scrypt::Identity::new(SecretString::from(passphrase.to_owned()));
    identity.set_max_work_factor(MAX_WORK_FACTOR);
    let plain = age::decrypt(&identity, bytes).map_err(|e| match e {
        age::DecryptError::DecryptionFailed | age::DecryptError::NoMatchingKeys => {
            KeyFileError::WrongPassphrase
        }
        other => KeyFileError::NotAge(other.to_string()),
    })?;
    parse_plain(&plain)
}

fn parse_plain(plain: &[u8]) -> Result<SigningKey, KeyFileError> {
    let text = std::str::from_utf8(plain).map_err(|_| KeyFileError::NotAKey("not text".into()))?;
    let line = text
        .strip_suffix('\n')
        .ok_or_else(|| KeyFileError::NotAKey("no final newline".into()))?;
    let seed = line
        .strip_prefix(KEY_MAGIC)
        .and_then(|rest| rest.strip_prefix(' '))
        .ok_or_else(|| KeyFileError::NotAKey(format!("it does not start with {KEY_MAGIC}")))?;
    let bytes = BASE64
        .decode(seed)
        .map_err(|e| KeyFileError::NotAKey(e.to_string()))?;
    let seed: [u8; 32] = bytes
        .try_into()
        .map_err(|_| KeyFileError::NotAKey("the seed is not 32 bytes".into()))?;
    Ok(SigningKey::from_bytes(&seed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_key_opens_with_its_passphrase_only() {
        let key = SigningKey::from_bytes(&[9; 32]);
        let file = seal(&key, "correct horse", 4);
        assert!(file.starts_with(b"age-encryption.org/v1\n"));
        assert_eq!(
            open(&file, "correct horse").unwrap().to_bytes(),
            key.to_bytes()
        );
        assert!(matches!(
            open(&file, "wrong"),
            Err(KeyFileError::WrongPassphrase)
        ));
        assert!(matches!(
            open(b"not age", "x"),
            Err(KeyFileError::NotAge(_))
        ));
    }

    #[test]
    fn the_plaintext_must_be_exactly_one_key_line() {
        assert!(
            parse_plain(format!("{KEY_MAGIC} {}\n", BASE64.encode([1; 32])).as_bytes()).is_ok()
        );
        for bad in [
            format!("{KEY_MAGIC} {}", BASE64.encode([1; 32])),
            format!("{KEY_MAGIC} {}\n", BASE64.encode([1; 31])),
            format!("other {}\n", BASE64.encode([1; 32])),
        ] {
            assert!(parse_plain(bad.as_bytes()).is_err(), "{bad}");
        }
    }
}

//! The data directory: the operator key, the signed genesis entry, and the store.
//!
//! [`init`] (`testigo-node init`, or `testigo-node run` on the default directory) creates the
//! key (0600, atomic) and signs the `Genesis` body with it; the genesis leaf becomes leaf 0 when
//! the node first starts its log. [`open`] never creates anything: a mistyped `--data-dir`
//! must not quietly start a second, empty log.

use std::path::Path;

use testigo_ledger::PublicKey;
use testigo_ledger::entry::{Body, Genesis, Leaf, WitnessKey, sign_body};

use crate::config::Config;
use crate::keyfile::{KeyFile, KeyFileError, write_atomically};

/// The parameters a new log's `Genesis` fixes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GenesisParams {
    /// The log's name.
    pub origin: String,
    /// Operator fee in basis points.
    pub fee_bps: u16,
    /// ISO 4217 currency.
    pub currency: String,
    /// Minor-unit decimals.
    pub decimals: u8,
    /// Witnesses.
    pub witnesses: Vec<WitnessKey>,
    /// Cosignatures needed.
    pub quorum: u16,
    /// Regulator keys.
    pub regulators: Vec<PublicKey>,
}

impl Default for GenesisParams {
    fn default() -> Self {
        Self {
            origin: "testigo.localhost/log".to_owned(),
            fee_bps: 500,
            currency: "EUR".to_owned(),
            decimals: 2,
            witnesses: Vec::new(),
            quorum: 0,
            regulators: Vec::new(),
        }
    }
}

/// Why the data directory cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum DataDirError {
    /// The key file.
    #[error(transparent)]
    Key(#[from] KeyFileError),
    /// Creating the directory or reading the genesis failed.
    #[error("data directory {path}: {source}")]
    Io {
        /// What.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The genesis file is not a genesis leaf signed by the key.
    #[error("genesis file {0} is not a Genesis entry signed by this data directory's key")]
    BadGenesis(std::path::PathBuf),
    /// Half a data directory: a key without a genesis or the reverse.
    #[error(
        "data directory {0} holds only one of log.key and genesis.leaf; restore the other or start from an empty directory"
    )]
    Partial(std::path::PathBuf),
    /// Neither a key nor a genesis: no log was created here.
    #[error(
        "data directory {} holds no log (no {} or {}); create one with `testigo-node init --data-dir {}`",
        .0.display(), crate::config::KEY_FILE, crate::config::GENESIS_FILE, .0.display()
    )]
    Missing(std::path::PathBuf),
    /// `run --witness` on a directory without a witness key.
    #[error(
        "data directory {} holds no witness key; create one with `testigo-node init --witness --data-dir {}`",
        .0.display(), .0.display()
    )]
    NotWitness(std::path::PathBuf),
    /// A witness directory without the log's genesis.
    #[error("{} is missing: copy the log's genesis.leaf from its operator there", .0.display())]
    NoGenesis(std::path::PathBuf),
    /// The genesis does not name this witness.
    #[error("the log's genesis does not name witness {name:?} with key {key}")]
    NotListed {
        /// The configured name.
        name: String,
        /// This witness's key.
        key: PublicKey,
    },
    /// A `Genesis` may name at most `ledger::state::MAX_WITNESSES` witnesses.
    #[error(
        "{0} witnesses named; a Genesis names at most {max} (a signed note carries 16 lines)",
        max = testigo_ledger::state::MAX_WITNESSES
    )]
    TooManyWitnesses(usize),
    /// No randomness for the salt.
    #[error("cannot generate the operator salt: {0}")]
    Random(String),
}

/// Creates the data directory, the key and the signed genesis.
///
/// # Errors
/// [`DataDirError`] if anything exists already or cannot be written.
pub fn init(config: &Config, params: &GenesisParams) -> Result<(KeyFile, Leaf), DataDirError> {
    init_with_key(config, params, KeyFile::generate()?)
}

/// [`init`] with a given key (tests use seeded keys).
///
/// # Errors
/// As [`init`].
pub fn init_with_key(
    config: &Config,
    params: &GenesisParams,
    key: KeyFile,
) -> Result<(KeyFile, Leaf), DataDirError> {
    let io = |source| DataDirError::Io {
        path: config.data_dir.clone(),
        source,
    };
    if params.witnesses.len() > testigo_ledger::state::MAX_WITNESSES {
        return Err(DataDirError::TooManyWitnesses(params.witnesses.len()));
    }
    std::fs::create_dir_all(&config.data_dir).map_err(io)?;
    if config.genesis_path().exists() {
        return Err(DataDirError::Partial(config.data_dir.clone()));
    }
    let mut operator_salt = [0u8; 32];
    getrandom_fill(&mut operator_salt)?;
    let body = Body::Genesis(Genesis {
        nonce: 0,
        origin: params.origin.clone(),
        log_key: key.public(),
        fee_bps: params.fee_bps,
        currency: params.currency.clone(),
        decimals: params.decimals,
        witnesses: params.witnesses.clone(),
        quorum: params.quorum,
        regulators: params.regulators.clone(),
        operator_salt,
    });
    let leaf = sign_body(&params.origin, key.signing_key(), &body);
    key.create(&config.key_path())?;
    write_atomically(&config.genesis_path(), &leaf.to_bytes(), false)?;
    p2p_key(config)?;
    tracing::info!(origin = %params.origin, log_key = %key.public(), dir = %config.data_dir.display(), "created log key and genesis");
    Ok((key, leaf))
}

fn getrandom_fill(buf: &mut [u8; 32]) -> Result<(), DataDirError> {
    let key = testigo_ledger::entry::signature::generate_signing_key()
        .map_err(|e| DataDirError::Random(e.to_string()))?;
    buf.copy_from_slice(&key.to_bytes());
    Ok(())
}

/// Opens an existing data directory: its key and its genesis, checked to belong together.
///
/// # Errors
/// [`DataDirError::Missing`] if no log was created there (nothing is created), otherwise for a
/// partial directory, a foreign genesis or I/O failures.
pub fn open(config: &Config) -> Result<(KeyFile, Leaf, Genesis), DataDirError> {
    let (key_exists, genesis_exists) = (config.key_path().exists(), config.genesis_path().exists());
    let (key, leaf) = match (key_exists, genesis_exists) {
        (false, false) => return Err(DataDirError::Missing(config.data_dir.clone())),
        (true, true) => {
            let key = KeyFile::load(&config.key_path())?;
            let leaf = read_genesis(&config.genesis_path())?;
            (key, leaf)
        }
        _ => return Err(DataDirError::Partial(config.data_dir.clone())),
    };
    let bad = || DataDirError::BadGenesis(config.genesis_path());
    let Ok(Body::Genesis(genesis)) = leaf.decode_body() else {
        return Err(bad());
    };
    if genesis.log_key != key.public() || leaf.signer != key.public() {
        return Err(bad());
    }
    Ok((key, leaf, genesis))
}

fn read_genesis(path: &Path) -> Result<Leaf, DataDirError> {
    let bytes = std::fs::read(path).map_err(|source| DataDirError::Io {
        path: path.to_owned(),
        source,
    })?;
    Leaf::from_bytes(&bytes).map_err(|_| DataDirError::BadGenesis(path.to_owned()))
}

/// The libp2p identity of the data directory (`p2p.key`, 0600), created on first use: it is
/// not the log or witness key (see [`crate::p2p`]), and losing it only changes the peer id.
///
/// # Errors
/// [`DataDirError`] if it cannot be read or written.
pub fn p2p_key(config: &Config) -> Result<KeyFile, DataDirError> {
    let path = config.p2p_key_path();
    if path.exists() {
        return Ok(KeyFile::load(&path)?);
    }
    std::fs::create_dir_all(&config.data_dir).map_err(|source| DataDirError::Io {
        path: config.data_dir.clone(),
        source,
    })?;
    let key = KeyFile::generate()?;
    key.create(&path)?;
    Ok(key)
}

/// Creates a witness's data directory: its cosigning key (`witness.key`, 0600) and its libp2p
/// key. The log's `genesis.leaf` is copied in afterwards, once the operator has made it (the
/// operator's `Genesis` names this witness's key, so the witness comes first).
///
/// # Errors
/// [`DataDirError`] if a witness key exists already or cannot be written.
pub fn init_witness(config: &Config) -> Result<(KeyFile, KeyFile), DataDirError> {
    init_witness_with_key(config, KeyFile::generate()?)
}

/// [`init_witness`] with a given cosigning key (tests use seeded keys).
///
/// # Errors
/// As [`init_witness`].
pub fn init_witness_with_key(
    config: &Config,
    key: KeyFile,
) -> Result<(KeyFile, KeyFile), DataDirError> {
    std::fs::create_dir_all(&config.data_dir).map_err(|source| DataDirError::Io {
        path: config.data_dir.clone(),
        source,
    })?;
    key.create(&config.witness_key_path())?;
    let p2p = p2p_key(config)?;
    tracing::info!(witness_key = %key.public(), dir = %config.data_dir.display(), "created witness key");
    Ok((key, p2p))
}

/// Opens a witness's data directory: its key and the log's genesis, which must be a `Genesis`
/// validly signed by the log key it names and list this witness under `name` with this key.
///
/// # Errors
/// [`DataDirError`] for a missing key or genesis, a foreign genesis, or a genesis that does not
/// name this witness.
pub fn open_witness(config: &Config, name: &str) -> Result<(KeyFile, Leaf, Genesis), DataDirError> {
    if !config.witness_key_path().exists() {
        return Err(DataDirError::NotWitness(config.data_dir.clone()));
    }
    let key = KeyFile::load(&config.witness_key_path())?;
    if !config.genesis_path().exists() {
        return Err(DataDirError::NoGenesis(config.genesis_path()));
    }
    let leaf = read_genesis(&config.genesis_path())?;
    let bad = || DataDirError::BadGenesis(config.genesis_path());
    let Ok(Body::Genesis(genesis)) = leaf.decode_body() else {
        return Err(bad());
    };
    if leaf.signer != genesis.log_key
        || testigo_ledger::entry::signature::verify_leaf(&genesis.origin, &leaf).is_err()
    {
        return Err(bad());
    }
    if !genesis
        .witnesses
        .iter()
        .any(|w| w.name == name && w.key == key.public())
    {
        return Err(DataDirError::NotListed {
            name: name.to_owned(),
            key: key.public(),
        });
    }
    Ok((key, leaf, genesis))
}

/// Whether `config`'s data directory holds neither a key nor a genesis (it may not exist):
/// where `run` on the default directory creates a log first.
pub fn is_empty(config: &Config) -> bool {
    !config.key_path().exists() && !config.genesis_path().exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_refuses_a_directory_without_a_log_and_creates_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config {
            data_dir: dir.path().join("mistyped"),
            ..Config::default()
        };
        assert!(is_empty(&config));
        let error = open(&config).unwrap_err();
        assert!(matches!(error, DataDirError::Missing(_)), "{error}");
        assert!(
            error.to_string().contains("testigo-node init --data-dir"),
            "{error}"
        );
        assert!(!config.data_dir.exists());

        let key = KeyFile::from_key(ed25519_dalek::SigningKey::from_bytes(&[5; 32]));
        let (_, leaf) = init_with_key(&config, &GenesisParams::default(), key).unwrap();
        assert!(!is_empty(&config));
        let (key, opened, genesis) = open(&config).unwrap();
        assert_eq!(opened, leaf);
        assert_eq!(genesis.log_key, key.public());
    }
}

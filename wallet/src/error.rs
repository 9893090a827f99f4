//! The wallet's one error type, each variant mapped to a documented exit code (README, `--help`).

use testigo_client::ClientError;

/// Exit codes, as documented in `--help` and the README.
pub mod exit {
    /// Everything checked out.
    pub const OK: i32 = 0;
    /// A local problem: a file, the key, the passphrase, the wallet directory.
    pub const LOCAL: i32 = 1;
    /// The command line is wrong.
    pub const USAGE: i32 = 2;
    /// The node refused the request (its code is printed).
    pub const REFUSED: i32 = 3;
    /// No node could be reached.
    pub const UNREACHABLE: i32 = 4;
    /// The node is busy; try again later.
    pub const BUSY: i32 = 5;
    /// A node lied: an answer failed verification against signed data (evidence printed or saved).
    pub const INTEGRITY: i32 = 6;
    /// The only checkpoint on offer is stale, or not witnessed by the quorum.
    pub const STALE: i32 = 7;
}

/// What went wrong, by what the user can do about it.
#[derive(Debug, thiserror::Error)]
pub enum WalletError {
    /// A local problem (files, key, passphrase).
    #[error("{0}")]
    Local(String),
    /// The command line asks for something impossible.
    #[error("{0}")]
    Usage(String),
    /// A node answered something that fails verification.
    #[error("INTEGRITY FAILURE: {0}")]
    Integrity(String),
    /// No acceptable checkpoint: stale, or without the quorum.
    #[error("{0}")]
    Stale(String),
    /// The node refused some of what was asked (a batch); the summary says which.
    #[error("{0}")]
    Refused(String),
    /// A node refused, could not be reached, or was busy.
    #[error("{context}: {source}")]
    Client {
        /// What the wallet was doing.
        context: String,
        /// The client's error.
        source: ClientError,
    },
}

impl WalletError {
    /// The exit code for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            WalletError::Local(_) => exit::LOCAL,
            WalletError::Usage(_) => exit::USAGE,
            WalletError::Integrity(_) => exit::INTEGRITY,
            WalletError::Stale(_) => exit::STALE,
            WalletError::Refused(_) => exit::REFUSED,
            WalletError::Client { source, .. } => match source {
                ClientError::Refused { .. } => exit::REFUSED,
                ClientError::Integrity(_) => exit::INTEGRITY,
                ClientError::Retryable { reason, .. } => match reason {
                    testigo_client::Retry::Busy { .. } => exit::BUSY,
                    _ => exit::UNREACHABLE,
                },
                ClientError::Config(_) => exit::USAGE,
                ClientError::Server { .. } | ClientError::Protocol { .. } => exit::UNREACHABLE,
            },
        }
    }

    /// A stable word for the kind of failure (the `kind` of a `--json` error).
    pub fn kind(&self) -> &'static str {
        match self.exit_code() {
            exit::LOCAL => "local",
            exit::USAGE => "usage",
            exit::REFUSED => "refused",
            exit::UNREACHABLE => "unreachable",
            exit::BUSY => "busy",
            exit::INTEGRITY => "integrity",
            exit::STALE => "stale",
            _ => "error",
        }
    }

    /// A local error with its cause.
    pub fn local(context: impl std::fmt::Display, cause: impl std::fmt::Display) -> Self {
        WalletError::Local(format!("{context}: {cause}"))
    }

    /// A node error with what the wallet was doing.
    pub fn client(context: impl Into<String>) -> impl FnOnce(ClientError) -> Self {
        let context = context.into();
        move |source| match source {
            ClientError::Integrity(integrity) => {
                WalletError::Integrity(format!("{context}: {integrity}"))
            }
            source => WalletError::Client { context, source },
        }
    }
}

/// The wallet's result type.
pub type Result<T, E = WalletError> = std::result::Result<T, E>;

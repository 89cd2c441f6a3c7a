//! Why a benchmark could not run, with a stable code.

use thiserror::Error;

/// A benchmark failure. Each has a stable [`code`](BenchError::code).
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum BenchError {
    /// Refused for a reason of its own (`INVALID_ARGUMENT`, `IDENTITY_INVALID`, ...).
    #[error("{message}")]
    Coded { code: &'static str, message: String },
    #[error(transparent)]
    Client(#[from] covenant_sdk::ClientError),
    #[error(transparent)]
    Profile(#[from] covenant_sdk::ProfileError),
    #[error(transparent)]
    Pki(#[from] covenant_pki::PkiError),
    #[error(transparent)]
    Crypto(#[from] covenant_crypto::CryptoError),
    #[error(transparent)]
    Types(#[from] covenant_types::TypesError),
    /// The benchmark's own machinery failed (a task, the runtime).
    #[error("{0}")]
    Internal(String),
}

impl BenchError {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        BenchError::Coded {
            code,
            message: message.into(),
        }
    }

    /// A stable, machine-readable code.
    pub fn code(&self) -> &str {
        match self {
            BenchError::Coded { code, .. } => code,
            BenchError::Client(e) => e.code(),
            BenchError::Profile(e) => e.code(),
            BenchError::Pki(e) => e.code(),
            BenchError::Crypto(e) => e.code(),
            BenchError::Types(e) => e.code(),
            BenchError::Internal(_) => "INTERNAL",
        }
    }

    pub(crate) fn internal(what: &str) -> impl FnOnce(tokio::task::JoinError) -> Self + '_ {
        move |e| BenchError::Internal(format!("{what}: {e}"))
    }
}

/// The result type of this crate.
pub type Result<T, E = BenchError> = std::result::Result<T, E>;

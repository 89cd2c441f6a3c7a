//! Why a deployment failed, with a stable code.

use std::path::PathBuf;

use thiserror::Error;

use crate::contract_build::BuildError;

/// A deployment failure. Each has a stable [`code`](DeployError::code).
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum DeployError {
    #[error("{0}")]
    InvalidArgument(String),
    #[error(
        "port {port} ({what}) is not free: {detail}; pick other ports with --base-port, or stop what uses it"
    )]
    PortInUse {
        port: u16,
        what: String,
        detail: String,
    },
    #[error("{}: {detail}", dir.display())]
    DirInconsistent { dir: PathBuf, detail: String },
    #[error("{} holds no consortium (no consortium.json); create one with covenant up --dir {}", dir.display(), dir.display())]
    NoConsortium { dir: PathBuf },
    #[error("node {name} exited ({status}); last lines of {}:\n{tail}", log.display())]
    NodeFailed {
        name: String,
        status: String,
        log: PathBuf,
        tail: String,
    },
    #[error("{0}")]
    Timeout(String),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Pki(#[from] covenant_pki::PkiError),
    #[error(transparent)]
    Crypto(#[from] covenant_crypto::CryptoError),
    #[error(transparent)]
    Types(#[from] covenant_types::TypesError),
    #[error(transparent)]
    Build(#[from] BuildError),
    #[error(transparent)]
    Client(#[from] covenant_sdk::ClientError),
    #[error(transparent)]
    Profile(#[from] covenant_sdk::ProfileError),
    #[error("{0}")]
    Other(String),
}

impl DeployError {
    /// A stable, machine-readable code.
    pub fn code(&self) -> &str {
        match self {
            DeployError::InvalidArgument(_) => "INVALID_ARGUMENT",
            DeployError::PortInUse { .. } => "PORT_IN_USE",
            DeployError::DirInconsistent { .. } => "DIR_INCONSISTENT",
            DeployError::NoConsortium { .. } => "NO_CONSORTIUM",
            DeployError::NodeFailed { .. } => "NODE_FAILED",
            DeployError::Timeout(_) => "TIMEOUT",
            DeployError::Io { .. } => "IO_ERROR",
            DeployError::Pki(e) => e.code(),
            DeployError::Crypto(e) => e.code(),
            DeployError::Types(e) => e.code(),
            DeployError::Build(e) => e.code(),
            DeployError::Client(e) => e.code(),
            DeployError::Profile(e) => e.code(),
            DeployError::Other(_) => "DEPLOY_FAILED",
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| DeployError::Io { path, source }
    }

    pub(crate) fn inconsistent(dir: &std::path::Path, detail: impl std::fmt::Display) -> Self {
        DeployError::DirInconsistent {
            dir: dir.to_path_buf(),
            detail: detail.to_string(),
        }
    }
}

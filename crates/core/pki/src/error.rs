use std::path::PathBuf;

use covenant_crypto::CryptoError;
use thiserror::Error;

/// Errors of the PKI. Each has a stable [`code`](PkiError::code); the command line prints it.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum PkiError {
    #[error("{}: no such file or directory", path.display())]
    NotFound { path: PathBuf },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{what} is not a certificate: {detail}")]
    NotACertificate { what: String, detail: String },
    #[error("{what} is not a certificate signing request: {detail}")]
    NotACsr { what: String, detail: String },
    #[error("{what} is not a certificate revocation list: {detail}")]
    NotACrl { what: String, detail: String },
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error("unknown role {0:?} (expected admin, client or node)")]
    UnknownRole(String),
    #[error("{} already holds a CA; pass --force to archive it and create a new one", dir.display())]
    CaExists { dir: PathBuf },
    #[error("{} is not a CA directory (no ca.json); create one with `covenant ca init`", dir.display())]
    CaNotFound { dir: PathBuf },
    #[error("CA directory {} is inconsistent: {detail}", dir.display())]
    CaCorrupt { dir: PathBuf, detail: String },
    #[error(
        "an identity named {name:?} was already issued (serial {serial}); pass --force to re-issue"
    )]
    NameExists { name: String, serial: String },
    #[error(
        "invalid name {0:?}: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"
    )]
    InvalidName(String),
    #[error("{0}")]
    InvalidArgument(String),
    #[error("{} already exists; pass --force to replace it", path.display())]
    FileExists { path: PathBuf },
    #[error(
        "the certificate signing request's signature does not verify (proof of possession failed)"
    )]
    CsrBadSignature,
    #[error("invalid serial number {0:?}: expected hexadecimal")]
    InvalidSerial(String),
    #[error("no certificate with serial {0} was issued by this CA")]
    UnknownSerial(String),
    #[error("certificate {0} is already revoked")]
    AlreadyRevoked(String),
    #[error("CRL issued by {issuer} is not signed by any trusted CA")]
    CrlUntrusted { issuer: String },
    #[error("{subject} cannot be a trust root: {detail}")]
    NotATrustRoot { subject: String, detail: String },
    #[error("encoding failed: {0}")]
    Encoding(String),
}

impl PkiError {
    /// A stable, machine-readable code for this error.
    pub fn code(&self) -> &'static str {
        match self {
            PkiError::NotFound { .. } => "FILE_NOT_FOUND",
            PkiError::Io { .. } => "IO_ERROR",
            PkiError::NotACertificate { .. } => "NOT_A_CERTIFICATE",
            PkiError::NotACsr { .. } => "NOT_A_CSR",
            PkiError::NotACrl { .. } => "NOT_A_CRL",
            PkiError::Crypto(e) => e.code(),
            PkiError::UnknownRole(_) => "ROLE_UNKNOWN",
            PkiError::CaExists { .. } => "CA_EXISTS",
            PkiError::CaNotFound { .. } => "CA_NOT_FOUND",
            PkiError::CaCorrupt { .. } => "CA_CORRUPT",
            PkiError::NameExists { .. } => "NAME_EXISTS",
            PkiError::InvalidName(_) => "NAME_INVALID",
            PkiError::InvalidArgument(_) => "INVALID_ARGUMENT",
            PkiError::FileExists { .. } => "FILE_EXISTS",
            PkiError::CsrBadSignature => "CSR_BAD_SIGNATURE",
            PkiError::InvalidSerial(_) => "SERIAL_INVALID",
            PkiError::UnknownSerial(_) => "SERIAL_UNKNOWN",
            PkiError::AlreadyRevoked(_) => "ALREADY_REVOKED",
            PkiError::CrlUntrusted { .. } => "CRL_UNTRUSTED",
            PkiError::NotATrustRoot { .. } => "NOT_A_TRUST_ROOT",
            PkiError::Encoding(_) => "ENCODING_FAILED",
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        let path = path.into();
        if source.kind() == std::io::ErrorKind::NotFound {
            PkiError::NotFound { path }
        } else {
            PkiError::Io { path, source }
        }
    }

    pub(crate) fn encoding(e: impl std::fmt::Display) -> Self {
        PkiError::Encoding(e.to_string())
    }
}

/// Result alias of this crate.
pub type Result<T, E = PkiError> = std::result::Result<T, E>;

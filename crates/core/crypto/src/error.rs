use thiserror::Error;

/// Errors of the algorithm suites. Each has a stable [`code`](CryptoError::code).
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CryptoError {
    #[error("unsupported algorithm: {0}")]
    UnsupportedAlgorithm(String),
    #[error("malformed key: {0}")]
    MalformedKey(String),
    #[error("malformed signature: {0}")]
    MalformedSignature(String),
    #[error("signature does not verify")]
    BadSignature,
    #[error("{algorithm} keys do not belong to the {suite} suite")]
    SuiteMismatch {
        algorithm: &'static str,
        suite: &'static str,
    },
    #[error("unknown suite {0:?} (expected `sm` or `intl`)")]
    UnknownSuite(String),
    #[error("invalid key length: expected {expected} bytes, got {actual}")]
    KeyLength { expected: usize, actual: usize },
    #[error("ciphertext is too short or does not authenticate")]
    Decrypt,
    #[error("encryption failed")]
    Encrypt,
    #[error("random number generator failed: {0}")]
    Rng(String),
}

impl CryptoError {
    /// A stable, machine-readable code for this error.
    pub fn code(&self) -> &'static str {
        match self {
            CryptoError::UnsupportedAlgorithm(_) => "KEY_UNSUPPORTED",
            CryptoError::MalformedKey(_) => "KEY_MALFORMED",
            CryptoError::MalformedSignature(_) => "SIGNATURE_MALFORMED",
            CryptoError::BadSignature => "SIGNATURE_INVALID",
            CryptoError::SuiteMismatch { .. } => "KEY_SUITE_MISMATCH",
            CryptoError::UnknownSuite(_) => "SUITE_UNKNOWN",
            CryptoError::KeyLength { .. } => "KEY_LENGTH",
            CryptoError::Decrypt => "CIPHER_AUTH_FAILED",
            CryptoError::Encrypt => "CIPHER_FAILED",
            CryptoError::Rng(_) => "RNG_FAILED",
        }
    }
}

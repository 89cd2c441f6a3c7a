//! The platform's errors: each has a stable code and an HTTP status, and answers as
//! `{"error": {"code", "message"}}`.

/// A refusal or failure of a platform operation.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad input: what is wrong, in the caller's terms.
    #[error("{message}")]
    Invalid { code: &'static str, message: String },
    /// No valid credentials.
    #[error("{0}")]
    Unauthenticated(String),
    /// Authenticated, but not allowed.
    #[error("{message}")]
    Forbidden { code: &'static str, message: String },
    /// No such resource (or one the caller may not see).
    #[error("{0}")]
    NotFound(String),
    /// The resource's state does not allow this, or it already exists.
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// The resource changed since the caller read it (optimistic concurrency).
    #[error("{0}")]
    VersionMismatch(String),
    /// Too many attempts: retry after this many seconds.
    #[error("{message}")]
    Throttled { message: String, retry_after_s: u64 },
    /// The body is over the limit.
    #[error("{0}")]
    TooLarge(String),
    /// The body's content type is not JSON.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// The route exists, the method does not.
    #[error("{message}")]
    MethodNotAllowed { message: String, allow: String },
    /// A dependency (a node, the deploy driver) cannot do it now.
    #[error("{message}")]
    Unavailable { code: &'static str, message: String },
    /// The database failed.
    #[error("the database failed: {0}")]
    Database(#[from] sqlx::Error),
    /// Something that should not happen; the message says what.
    #[error("{0}")]
    Internal(String),
}

/// A platform result.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Bad input with the generic code.
    pub fn invalid(message: impl Into<String>) -> Self {
        Error::Invalid {
            code: "INVALID_ARGUMENT",
            message: message.into(),
        }
    }

    /// Bad input with its own code.
    pub fn invalid_as(code: &'static str, message: impl Into<String>) -> Self {
        Error::Invalid {
            code,
            message: message.into(),
        }
    }

    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        Error::Forbidden {
            code,
            message: message.into(),
        }
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Error::Conflict {
            code,
            message: message.into(),
        }
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Error::NotFound(message.into())
    }

    pub fn unavailable(code: &'static str, message: impl Into<String>) -> Self {
        Error::Unavailable {
            code,
            message: message.into(),
        }
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Error::Internal(message.into())
    }

    /// The stable code.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Invalid { code, .. }
            | Error::Forbidden { code, .. }
            | Error::Conflict { code, .. }
            | Error::Unavailable { code, .. } => code,
            Error::Unauthenticated(_) => "UNAUTHENTICATED",
            Error::NotFound(_) => "NOT_FOUND",
            Error::VersionMismatch(_) => "VERSION_MISMATCH",
            Error::Throttled { .. } => "TOO_MANY_ATTEMPTS",
            Error::TooLarge(_) => "BODY_TOO_LARGE",
            Error::UnsupportedMediaType(_) => "UNSUPPORTED_MEDIA_TYPE",
            Error::MethodNotAllowed { .. } => "METHOD_NOT_ALLOWED",
            Error::Database(_) => "DATABASE_ERROR",
            Error::Internal(_) => "INTERNAL",
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> u16 {
        match self {
            Error::Invalid { .. } => 400,
            Error::Unauthenticated(_) => 401,
            Error::Forbidden { .. } => 403,
            Error::NotFound(_) => 404,
            Error::MethodNotAllowed { .. } => 405,
            Error::Conflict { .. } => 409,
            Error::VersionMismatch(_) => 412,
            Error::TooLarge(_) => 413,
            Error::UnsupportedMediaType(_) => 415,
            Error::Throttled { .. } => 429,
            Error::Unavailable { .. } => 503,
            Error::Database(_) | Error::Internal(_) => 500,
        }
    }

    /// The message a caller sees: a database failure's detail stays in the log.
    pub fn public_message(&self) -> String {
        match self {
            Error::Database(_) => {
                "the platform's database failed; the operation was not applied".into()
            }
            other => other.to_string(),
        }
    }
}

impl From<covenant_pki::PkiError> for Error {
    fn from(e: covenant_pki::PkiError) -> Self {
        Error::invalid_as("CERTIFICATE_INVALID", e.to_string())
    }
}

impl From<covenant_crypto::CryptoError> for Error {
    fn from(e: covenant_crypto::CryptoError) -> Self {
        Error::internal(format!("cryptography failed: {e}"))
    }
}

use thiserror::Error;

/// Errors decoding or checking messages. Each has a stable [`code`](TypesError::code).
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TypesError {
    #[error("{what} is {size} bytes, over the limit of {limit}")]
    TooLarge {
        what: &'static str,
        size: usize,
        limit: usize,
    },
    #[error("{what} does not decode: {detail}")]
    Malformed { what: &'static str, detail: String },
    #[error("block {height}: {detail}")]
    BadBlock { height: u64, detail: String },
    #[error("invalid chain config: {0}")]
    BadConfig(String),
    #[error("invalid policy {0:?}")]
    BadPolicy(String),
    #[error("invalid name {name:?}: {detail}")]
    BadName { name: String, detail: String },
    #[error("invalid genesis: {0}")]
    BadGenesis(String),
}

impl TypesError {
    /// A stable, machine-readable code for this error.
    pub fn code(&self) -> &'static str {
        match self {
            TypesError::TooLarge { .. } => "TOO_LARGE",
            TypesError::Malformed { .. } => "MALFORMED",
            TypesError::BadBlock { .. } => "BAD_BLOCK",
            TypesError::BadConfig(_) => "BAD_CONFIG",
            TypesError::BadPolicy(_) => "BAD_POLICY",
            TypesError::BadName { .. } => "BAD_NAME",
            TypesError::BadGenesis(_) => "BAD_GENESIS",
        }
    }

    pub(crate) fn malformed(what: &'static str, e: impl std::fmt::Display) -> Self {
        TypesError::Malformed {
            what,
            detail: e.to_string(),
        }
    }
}

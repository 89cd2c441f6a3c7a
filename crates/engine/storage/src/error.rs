use std::path::PathBuf;

use thiserror::Error;

/// Storage errors. Each has a stable [`code`](StorageError::code).
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum StorageError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("database error: {0}")]
    Db(String),
    #[error("stored data is corrupt at height {height}: {detail}")]
    Corrupt { height: u64, detail: String },
    #[error("{} is in use by another process", path.display())]
    Locked { path: PathBuf },
    #[error("block {got} does not follow height {expected_prev:?}")]
    OutOfOrder {
        got: u64,
        expected_prev: Option<u64>,
    },
    #[error("invalid block: {0}")]
    BadBlock(String),
    #[error("the data directory belongs to chain {found}, not {expected}")]
    WrongChain { expected: String, found: String },
    #[error("ledger export: {0}")]
    BadExport(String),
}

impl StorageError {
    /// A stable, machine-readable code for this error.
    pub fn code(&self) -> &'static str {
        match self {
            StorageError::Io { .. } => "STORAGE_IO",
            StorageError::Db(_) => "STORAGE_DB",
            StorageError::Corrupt { .. } => "STORAGE_CORRUPT",
            StorageError::Locked { .. } => "STORAGE_LOCKED",
            StorageError::OutOfOrder { .. } => "BLOCK_OUT_OF_ORDER",
            StorageError::BadBlock(_) => "BAD_BLOCK",
            StorageError::WrongChain { .. } => "WRONG_CHAIN",
            StorageError::BadExport(_) => "LEDGER_EXPORT_INVALID",
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        StorageError::Io {
            path: path.into(),
            source,
        }
    }
}

macro_rules! from_db {
    ($($t:ty),*) => {
        $(impl From<$t> for StorageError {
            fn from(e: $t) -> Self {
                StorageError::Db(e.to_string())
            }
        })*
    };
}

from_db!(
    redb::Error,
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

/// Result alias of this crate.
pub type Result<T, E = StorageError> = std::result::Result<T, E>;

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
    /// This node's copy of a block failed its check (a changed byte, a cut file): reads of it
    /// are refused until it is repaired (from a peer) — never answered with wrong bytes.
    #[error("block {height} is damaged on this node ({detail}); it is repaired from a peer")]
    Damaged { height: u64, detail: String },
    /// A sound block offered to replace a damaged copy is not the block this ledger holds at
    /// that height.
    #[error("block {height} offered as a repair is not the block this ledger holds: {detail}")]
    NotThisBlock { height: u64, detail: String },
    /// This node's copy of a state entry failed its check (a changed byte, an entry that is
    /// not what the block that wrote it says): reads of it are refused until it is repaired
    /// from that block — never answered with the stored bytes.
    #[error(
        "state entry {key} is damaged on this node ({detail}); it is repaired from the block that wrote it"
    )]
    StateDamaged { key: String, detail: String },
    /// An index of this node's (transactions, block hashes, key history) points at the wrong
    /// place: lookups through the indexes are refused until they are rebuilt from the blocks.
    #[error("this node's indexes are damaged ({0}); they are rebuilt from the blocks")]
    IndexDamaged(String),
    /// A write failed (a full disk, an I/O error) and the store has not recovered yet: it
    /// answers again once a later commit finds the fault cleared.
    #[error("the store is recovering from a failed write: {0}")]
    Unavailable(String),
    /// Block `height` was moved to an archive that cannot be read now (its directory is not
    /// mounted, its file is missing); it reads again once the archive is back.
    #[error("block {height} is archived in {}, which is offline: {detail}", path.display())]
    ArchiveOffline {
        height: u64,
        path: PathBuf,
        detail: String,
    },
    /// An archive file fails its checks (a changed byte, a cut file, not an archive).
    #[error("archive {} is damaged: {detail}", path.display())]
    ArchiveDamaged { path: PathBuf, detail: String },
    /// An archive or restore that cannot be done as asked (the height, the directory, the
    /// chain's progress); nothing was changed.
    #[error("{0}")]
    ArchiveRefused(String),
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
            StorageError::Unavailable(_) => "STORAGE_UNAVAILABLE",
            StorageError::Damaged { .. } => "BLOCK_DAMAGED",
            StorageError::NotThisBlock { .. } => "BLOCK_NOT_THIS_LEDGERS",
            StorageError::StateDamaged { .. } => "STATE_DAMAGED",
            StorageError::IndexDamaged(_) => "INDEX_DAMAGED",
            StorageError::ArchiveOffline { .. } => "ARCHIVE_OFFLINE",
            StorageError::ArchiveDamaged { .. } => "ARCHIVE_DAMAGED",
            StorageError::ArchiveRefused(_) => "ARCHIVE_REFUSED",
        }
    }

    /// Whether the error is a failure of the disk or the database under the store rather
    /// than of the data given to it: after one, the store recovers before it writes again.
    pub fn is_fault(&self) -> bool {
        matches!(
            self,
            StorageError::Io { .. } | StorageError::Db(_) | StorageError::Unavailable(_)
        )
    }

    /// Whether the data exists but cannot be read now (a damaged copy awaiting its repair,
    /// an archive offline): checks that meet it skip it and come back later.
    pub fn is_unreadable_for_now(&self) -> bool {
        matches!(
            self,
            StorageError::Damaged { .. } | StorageError::ArchiveOffline { .. }
        )
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        StorageError::Io {
            path: path.into(),
            source,
        }
    }
}

fn from_redb_storage(e: redb::StorageError) -> StorageError {
    match e {
        redb::StorageError::PreviousIo => {
            StorageError::Unavailable("an earlier write to the state database failed".into())
        }
        redb::StorageError::Io(source) => StorageError::Io {
            path: PathBuf::from("state.redb"),
            source,
        },
        e => StorageError::Db(e.to_string()),
    }
}

impl From<redb::StorageError> for StorageError {
    fn from(e: redb::StorageError) -> Self {
        from_redb_storage(e)
    }
}

impl From<redb::Error> for StorageError {
    fn from(e: redb::Error) -> Self {
        match e {
            redb::Error::PreviousIo => from_redb_storage(redb::StorageError::PreviousIo),
            e => StorageError::Db(e.to_string()),
        }
    }
}

/// redb's error types that wrap a storage error in a `Storage` variant.
macro_rules! from_db {
    ($($t:ident),*) => {
        $(impl From<redb::$t> for StorageError {
            fn from(e: redb::$t) -> Self {
                match e {
                    redb::$t::Storage(e) => from_redb_storage(e),
                    e => StorageError::Db(e.to_string()),
                }
            }
        })*
    };
}

from_db!(DatabaseError, TransactionError, TableError, CommitError);

/// Result alias of this crate.
pub type Result<T, E = StorageError> = std::result::Result<T, E>;

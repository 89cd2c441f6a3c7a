//! The durable Raft log: entries, vote and log pointers in the node's redb database.
//!
//! Every write that openraft must be able to rely on after a crash (vote, appended entries,
//! truncation, purge) is a durable commit that completes before openraft hears of it. The
//! committed log id is a hint openraft can do without, so it is written without waiting for the
//! disk; it becomes durable with the next durable commit.

use std::{
    fmt::Debug,
    io,
    ops::{Bound, RangeBounds},
    sync::Arc,
};

use openraft::{
    AnyError, Entry, LogState, OptionalSend, RaftLogReader, StorageIOError, Vote,
    storage::{LogFlushed, RaftLogStorage},
};
use redb::{Database, ReadableDatabase, ReadableTable, WriteTransaction};

use super::{
    LogId, RaftId, StorageError, TypeConfig,
    db::{self, KEY_COMMITTED, KEY_PURGED, KEY_VOTE, LOG},
    wire,
};

/// The most log entry bytes sent in one replication RPC (a larger entry goes alone).
pub(crate) const REPLICATION_BATCH_BYTES: usize = 1 << 20;

/// The log store of one node. Clones share the database and serve as log readers.
#[derive(Clone)]
pub(crate) struct LogStore {
    db: Arc<Database>,
}

impl LogStore {
    /// The log store kept in `db`.
    pub(crate) fn new(db: Arc<Database>) -> Self {
        LogStore { db }
    }
}

fn read_err(e: String) -> StorageError {
    StorageIOError::read_logs(AnyError::error(e)).into()
}

fn write_err(e: String) -> StorageError {
    StorageIOError::write_logs(AnyError::error(e)).into()
}

/// The entries with indexes in `range`, in order, stopping before the entry that would take
/// their encoded size past `max_bytes` (but always including the first).
fn read_entries(
    db: &Database,
    range: (Bound<u64>, Bound<u64>),
    max_bytes: usize,
) -> Result<Vec<Entry<TypeConfig>>, String> {
    let tx = db.begin_read().map_err(|e| e.to_string())?;
    let table = tx.open_table(LOG).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    let mut bytes = 0usize;
    for item in table.range::<u64>(range).map_err(|e| e.to_string())? {
        let (index, value) = item.map_err(|e| e.to_string())?;
        let raw = value.value();
        bytes = bytes.saturating_add(raw.len());
        if bytes > max_bytes && !out.is_empty() {
            break;
        }
        let entry: Entry<TypeConfig> =
            wire::decode(raw).map_err(|e| format!("log entry {}: {e}", index.value()))?;
        out.push(entry);
    }
    Ok(out)
}

/// The log id of the last entry in the log, if any.
fn last_log_id(db: &Database) -> Result<Option<LogId>, String> {
    let tx = db.begin_read().map_err(|e| e.to_string())?;
    let table = tx.open_table(LOG).map_err(|e| e.to_string())?;
    let Some((index, value)) = table.last().map_err(|e| e.to_string())? else {
        return Ok(None);
    };
    let entry: Entry<TypeConfig> =
        wire::decode(value.value()).map_err(|e| format!("log entry {}: {e}", index.value()))?;
    Ok(Some(entry.log_id))
}

/// Removes the entries with indexes in `range`.
fn remove_entries(tx: &WriteTransaction, range: (Bound<u64>, Bound<u64>)) -> Result<(), String> {
    let mut table = tx.open_table(LOG).map_err(|e| e.to_string())?;
    let keys = table
        .range::<u64>(range)
        .map_err(|e| e.to_string())?
        .map(|item| item.map(|(k, _)| k.value()))
        .collect::<Result<Vec<u64>, _>>()
        .map_err(|e| e.to_string())?;
    for key in keys {
        table.remove(key).map_err(|e| e.to_string())?;
    }
    Ok(())
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry<TypeConfig>>, StorageError> {
        let range = (range.start_bound().cloned(), range.end_bound().cloned());
        read_entries(&self.db, range, usize::MAX).map_err(read_err)
    }

    /// Replication reads through here: one batch stays within [`REPLICATION_BATCH_BYTES`] (or
    /// is a single entry), so that it fits in one replication RPC's time limit.
    async fn limited_get_log_entries(
        &mut self,
        start: u64,
        end: u64,
    ) -> Result<Vec<Entry<TypeConfig>>, StorageError> {
        let range = (Bound::Included(start), Bound::Excluded(end));
        read_entries(&self.db, range, REPLICATION_BATCH_BYTES).map_err(read_err)
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError> {
        let purged: Option<LogId> = db::get(&self.db, KEY_PURGED).map_err(read_err)?;
        let last = last_log_id(&self.db).map_err(read_err)?;
        Ok(LogState {
            last_purged_log_id: purged,
            last_log_id: last.or(purged),
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<RaftId>) -> Result<(), StorageError> {
        let vote = *vote;
        db::write(&self.db, true, move |tx| db::put(tx, KEY_VOTE, &vote))
            .await
            .map_err(|e| StorageIOError::write_vote(AnyError::error(e)).into())
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<RaftId>>, StorageError> {
        db::get(&self.db, KEY_VOTE)
            .map_err(|e| StorageIOError::read_vote(AnyError::error(e)).into())
    }

    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<(), StorageError> {
        db::write(&self.db, false, move |tx| {
            db::put(tx, KEY_COMMITTED, &committed)
        })
        .await
        .map_err(write_err)
    }

    async fn read_committed(&mut self) -> Result<Option<LogId>, StorageError> {
        Ok(db::get::<Option<LogId>>(&self.db, KEY_COMMITTED)
            .map_err(read_err)?
            .flatten())
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<TypeConfig>,
    ) -> Result<(), StorageError>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let encoded = entries
            .into_iter()
            .map(|entry| wire::encode(&entry).map(|bytes| (entry.log_id.index, bytes)))
            .collect::<Result<Vec<_>, _>>();
        let result = match encoded {
            Ok(encoded) => {
                db::write(&self.db, true, move |tx| {
                    let mut table = tx.open_table(LOG).map_err(|e| e.to_string())?;
                    for (index, bytes) in &encoded {
                        table
                            .insert(*index, bytes.as_slice())
                            .map_err(|e| e.to_string())?;
                    }
                    Ok(())
                })
                .await
            }
            Err(e) => Err(e),
        };
        match result {
            Ok(()) => {
                callback.log_io_completed(Ok(()));
                Ok(())
            }
            Err(e) => {
                callback.log_io_completed(Err(io::Error::other(e.clone())));
                Err(write_err(e))
            }
        }
    }

    async fn truncate(&mut self, log_id: LogId) -> Result<(), StorageError> {
        db::write(&self.db, true, move |tx| {
            remove_entries(tx, (Bound::Included(log_id.index), Bound::Unbounded))
        })
        .await
        .map_err(write_err)
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), StorageError> {
        db::write(&self.db, true, move |tx| {
            db::put(tx, KEY_PURGED, &log_id)?;
            remove_entries(tx, (Bound::Unbounded, Bound::Included(log_id.index)))
        })
        .await
        .map_err(write_err)
    }
}

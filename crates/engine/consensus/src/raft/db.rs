//! The redb database holding a node's durable Raft state, shared by the log store and the state
//! machine.
//!
//! Tables:
//! - `raft_log`: log index → encoded entry.
//! - `raft_meta`: name → encoded record (vote, committed and purged log ids, applied state,
//!   snapshot).
//!
//! Writes run on the blocking thread pool: a durable commit waits for the disk.

use std::{fs, path::Path, sync::Arc};

use redb::{Database, Durability, ReadableDatabase, TableDefinition, WriteTransaction};
use serde::{Serialize, de::DeserializeOwned};

use super::wire;

/// Log index → encoded entry.
pub(crate) const LOG: TableDefinition<u64, &[u8]> = TableDefinition::new("raft_log");
/// Name → encoded record.
pub(crate) const META: TableDefinition<&str, &[u8]> = TableDefinition::new("raft_meta");

/// The last vote.
pub(crate) const KEY_VOTE: &str = "vote";
/// The last known committed log id (written without waiting for the disk: losing it is harmless).
pub(crate) const KEY_COMMITTED: &str = "committed";
/// The last purged log id.
pub(crate) const KEY_PURGED: &str = "purged";
/// The state machine's last applied log id and membership.
pub(crate) const KEY_APPLIED: &str = "applied";
/// The current snapshot: metadata and the applier's data.
pub(crate) const KEY_SNAPSHOT: &str = "snapshot";

/// The database file inside the Raft directory.
const FILE: &str = "raft.redb";

/// Opens (creating if missing) the database in `dir`, with every table present.
pub(crate) fn open(dir: &Path) -> Result<Arc<Database>, String> {
    fs::create_dir_all(dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
    let path = dir.join(FILE);
    let db = Database::create(&path).map_err(|e| format!("open {}: {e}", path.display()))?;
    let tx = db.begin_write().map_err(|e| e.to_string())?;
    tx.open_table(LOG).map_err(|e| e.to_string())?;
    tx.open_table(META).map_err(|e| e.to_string())?;
    tx.commit().map_err(|e| e.to_string())?;
    Ok(Arc::new(db))
}

/// Reads and decodes the record `key`, if present.
pub(crate) fn get<T: DeserializeOwned>(db: &Database, key: &str) -> Result<Option<T>, String> {
    let tx = db.begin_read().map_err(|e| e.to_string())?;
    let table = tx.open_table(META).map_err(|e| e.to_string())?;
    let Some(value) = table.get(key).map_err(|e| e.to_string())? else {
        return Ok(None);
    };
    wire::decode(value.value())
        .map(Some)
        .map_err(|e| format!("record {key}: {e}"))
}

/// Encodes `value` and stores it as record `key` within `tx`.
pub(crate) fn put<T: Serialize>(tx: &WriteTransaction, key: &str, value: &T) -> Result<(), String> {
    let bytes = wire::encode(value)?;
    let mut table = tx.open_table(META).map_err(|e| e.to_string())?;
    table
        .insert(key, bytes.as_slice())
        .map_err(|e| e.to_string())?;
    Ok(())
}

/// Runs `f` in one write transaction on the blocking pool and commits it; `durable` commits wait
/// until the data is on disk. An error from `f` aborts the transaction.
pub(crate) async fn write<R, F>(db: &Arc<Database>, durable: bool, f: F) -> Result<R, String>
where
    R: Send + 'static,
    F: FnOnce(&WriteTransaction) -> Result<R, String> + Send + 'static,
{
    let db = Arc::clone(db);
    tokio::task::spawn_blocking(move || {
        let mut tx = db.begin_write().map_err(|e| e.to_string())?;
        if !durable {
            tx.set_durability(Durability::None)
                .map_err(|e| e.to_string())?;
        }
        let out = f(&tx)?;
        tx.commit().map_err(|e| e.to_string())?;
        Ok(out)
    })
    .await
    .map_err(|e| format!("storage task: {e}"))?
}

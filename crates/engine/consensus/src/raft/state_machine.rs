//! The Raft state machine: committed entries go to the [`RaftApplier`]; the applied log id and
//! membership are kept durable next to the log, and so is the current snapshot.
//!
//! The applied position is written after the applier has applied the entries: a crash in between
//! makes the node apply those entries again on restart, which the applier's idempotence absorbs.
//!
//! A snapshot is the applier's own description of its state (e.g. chain height and block hash)
//! plus the log position and membership it covers. It is taken under the same lock as applying,
//! so the description matches the position exactly.

use std::sync::Arc;

use openraft::{
    AnyError, Entry, EntryPayload, OptionalSend, RaftSnapshotBuilder, Snapshot, SnapshotId,
    StorageIOError, storage::RaftStateMachine,
};
use redb::{Database, ReadableTable};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use super::{
    LogId, RaftApplier, SnapshotMeta, StorageError, StoredMembership, TypeConfig,
    db::{self, KEY_APPLIED, KEY_SNAPSHOT},
};

/// The durable applied position.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Applied {
    /// The last applied log id.
    last: Option<LogId>,
    /// The last membership applied.
    membership: StoredMembership,
}

/// The durable current snapshot.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredSnapshot {
    meta: SnapshotMeta,
    #[serde(with = "serde_bytes")]
    data: Vec<u8>,
}

struct Shared<A> {
    db: Arc<Database>,
    applier: A,
    /// The applied position; held while applying, snapshotting or installing.
    applied: Mutex<Applied>,
    /// Snapshots built by this process, to keep snapshot ids unique.
    built: std::sync::atomic::AtomicU64,
}

/// The state machine of one node; clones share it.
pub(crate) struct StateMachine<A> {
    shared: Arc<Shared<A>>,
}

impl<A> Clone for StateMachine<A> {
    fn clone(&self) -> Self {
        StateMachine {
            shared: Arc::clone(&self.shared),
        }
    }
}

fn sm_read_err(e: String) -> StorageError {
    StorageIOError::read_state_machine(AnyError::error(e)).into()
}

fn sm_write_err(e: String) -> StorageError {
    StorageIOError::write_state_machine(AnyError::error(e)).into()
}

fn snapshot_write_err(meta: &SnapshotMeta, e: String) -> StorageError {
    StorageIOError::write_snapshot(Some(meta.signature()), AnyError::error(e)).into()
}

impl<A: RaftApplier> StateMachine<A> {
    /// The state machine kept in `db`, driving `applier`.
    pub(crate) fn open(db: Arc<Database>, applier: A) -> Result<Self, String> {
        let applied: Applied = db::get(&db, KEY_APPLIED)?.unwrap_or_default();
        Ok(StateMachine {
            shared: Arc::new(Shared {
                db,
                applier,
                applied: Mutex::new(applied),
                built: std::sync::atomic::AtomicU64::new(0),
            }),
        })
    }

    /// Stores `snapshot` as the current one unless a snapshot covering more is already stored
    /// (a build may finish after a newer snapshot was installed).
    async fn store_snapshot(
        &self,
        snapshot: StoredSnapshot,
        applied: Option<Applied>,
    ) -> Result<(), String> {
        db::write(&self.shared.db, true, move |tx| {
            let current: Option<StoredSnapshot> = {
                let table = tx.open_table(db::META).map_err(|e| e.to_string())?;
                let value = table.get(KEY_SNAPSHOT).map_err(|e| e.to_string())?;
                match value {
                    Some(v) => Some(super::wire::decode(v.value())?),
                    None => None,
                }
            };
            let newer = current.is_none_or(|c| c.meta.last_log_id <= snapshot.meta.last_log_id);
            if newer {
                db::put(tx, KEY_SNAPSHOT, &snapshot)?;
            }
            if let Some(applied) = &applied {
                db::put(tx, KEY_APPLIED, applied)?;
            }
            Ok(())
        })
        .await
    }
}

impl<A: RaftApplier> RaftStateMachine<TypeConfig> for StateMachine<A> {
    type SnapshotBuilder = StateMachine<A>;

    async fn applied_state(&mut self) -> Result<(Option<LogId>, StoredMembership), StorageError> {
        let applied = self.shared.applied.lock().await;
        Ok((applied.last, applied.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<()>, StorageError>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut applied = self.shared.applied.lock().await;
        let mut replies = Vec::new();
        for entry in entries {
            let log_id = entry.log_id;
            match entry.payload {
                EntryPayload::Blank => {}
                EntryPayload::Normal(payload) => {
                    self.shared
                        .applier
                        .apply(log_id.index, log_id.leader_id.term, payload.0)
                        .await
                        .map_err(sm_write_err)?;
                }
                EntryPayload::Membership(m) => {
                    applied.membership = StoredMembership::new(Some(log_id), m);
                }
            }
            applied.last = Some(log_id);
            replies.push(());
        }
        if !replies.is_empty() {
            let record = applied.clone();
            db::write(&self.shared.db, true, move |tx| {
                db::put(tx, KEY_APPLIED, &record)
            })
            .await
            .map_err(sm_write_err)?;
        }
        Ok(replies)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.clone()
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<Vec<u8>>, StorageError> {
        Ok(Box::default())
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta,
        snapshot: Box<Vec<u8>>,
    ) -> Result<(), StorageError> {
        let mut applied = self.shared.applied.lock().await;
        let data = *snapshot;
        self.shared
            .applier
            .install(data.clone())
            .await
            .map_err(|e| {
                snapshot_write_err(meta, format!("the applier could not install it: {e}"))
            })?;
        let record = Applied {
            last: meta.last_log_id,
            membership: meta.last_membership.clone(),
        };
        let stored = StoredSnapshot {
            meta: meta.clone(),
            data,
        };
        self.store_snapshot(stored, Some(record.clone()))
            .await
            .map_err(|e| snapshot_write_err(meta, e))?;
        *applied = record;
        tracing::info!(snapshot = %meta, "installed a raft snapshot");
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot<TypeConfig>>, StorageError> {
        let stored: Option<StoredSnapshot> =
            db::get(&self.shared.db, KEY_SNAPSHOT).map_err(sm_read_err)?;
        Ok(stored.map(|s| Snapshot {
            meta: s.meta,
            snapshot: Box::new(s.data),
        }))
    }
}

impl<A: RaftApplier> RaftSnapshotBuilder<TypeConfig> for StateMachine<A> {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError> {
        let (meta, data) = {
            let applied = self.shared.applied.lock().await;
            let data = self.shared.applier.snapshot().await;
            let seq = self
                .shared
                .built
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let snapshot_id: SnapshotId = match applied.last {
                Some(l) => format!("{}-{}-{seq}", l.leader_id.term, l.index),
                None => format!("none-{seq}"),
            };
            let meta = SnapshotMeta {
                last_log_id: applied.last,
                last_membership: applied.membership.clone(),
                snapshot_id,
            };
            (meta, data)
        };
        let stored = StoredSnapshot {
            meta: meta.clone(),
            data: data.clone(),
        };
        self.store_snapshot(stored, None)
            .await
            .map_err(|e| snapshot_write_err(&meta, e))?;
        tracing::debug!(snapshot = %meta, "built a raft snapshot");
        Ok(Snapshot {
            meta,
            snapshot: Box::new(data),
        })
    }
}

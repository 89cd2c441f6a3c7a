//! Reading state: committed snapshots and the overlay of a block being built.

use std::{collections::BTreeMap, sync::Arc};

use covenant_storage::{Snapshot, StateEntry, Version};

/// Read access to state. Errors are messages (they fail the transaction that hit them).
pub trait StateRead: Send + Sync {
    fn get(&self, key: &[u8]) -> Result<Option<(Version, Vec<u8>)>, String>;
    /// Up to `limit` entries with `start <= key < end` (empty `end`: unbounded), key order.
    fn range(&self, start: &[u8], end: &[u8], limit: usize) -> Result<Vec<StateEntry>, String>;
}

impl StateRead for Snapshot {
    fn get(&self, key: &[u8]) -> Result<Option<(Version, Vec<u8>)>, String> {
        Snapshot::get(self, key).map_err(|e| e.to_string())
    }

    fn range(&self, start: &[u8], end: &[u8], limit: usize) -> Result<Vec<StateEntry>, String> {
        Snapshot::range(self, start, end, limit).map_err(|e| e.to_string())
    }
}

/// A write in an overlay: the version that wrote it and the value (`None`: deleted).
pub type OverlayValue = (Version, Option<Vec<u8>>);

/// Committed state plus the writes of earlier transactions of the block being built.
#[derive(Clone)]
pub struct Overlay {
    base: Arc<dyn StateRead>,
    writes: BTreeMap<Vec<u8>, OverlayValue>,
}

impl std::fmt::Debug for Overlay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Overlay")
            .field("writes", &self.writes.len())
            .finish()
    }
}

impl Overlay {
    /// An empty overlay over `base`.
    pub fn new(base: Arc<dyn StateRead>) -> Self {
        Overlay {
            base,
            writes: BTreeMap::new(),
        }
    }

    /// Record a write.
    pub fn apply(&mut self, key: Vec<u8>, version: Version, value: Option<Vec<u8>>) {
        self.writes.insert(key, (version, value));
    }

    /// The base this overlay reads through to.
    pub fn base(&self) -> &Arc<dyn StateRead> {
        &self.base
    }
}

impl StateRead for Overlay {
    fn get(&self, key: &[u8]) -> Result<Option<(Version, Vec<u8>)>, String> {
        match self.writes.get(key) {
            Some((v, Some(val))) => Ok(Some((*v, val.clone()))),
            Some((_, None)) => Ok(None),
            None => self.base.get(key),
        }
    }

    fn range(&self, start: &[u8], end: &[u8], limit: usize) -> Result<Vec<StateEntry>, String> {
        let in_range: Vec<(&Vec<u8>, &OverlayValue)> = if end.is_empty() {
            self.writes.range(start.to_vec()..).collect()
        } else if end <= start {
            Vec::new()
        } else {
            self.writes.range(start.to_vec()..end.to_vec()).collect()
        };
        let deletes = in_range.iter().filter(|(_, (_, v))| v.is_none()).count();
        let mut merged: BTreeMap<Vec<u8>, (Version, Vec<u8>)> = self
            .base
            .range(start, end, limit.saturating_add(deletes))?
            .into_iter()
            .map(|e| (e.key, (e.version, e.value)))
            .collect();
        for (k, (ver, v)) in in_range {
            match v {
                Some(v) => {
                    merged.insert(k.clone(), (*ver, v.clone()));
                }
                None => {
                    merged.remove(k);
                }
            }
        }
        Ok(merged
            .into_iter()
            .take(limit)
            .map(|(key, (version, value))| StateEntry {
                key,
                version,
                value,
            })
            .collect())
    }
}

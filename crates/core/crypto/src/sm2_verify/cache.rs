//! A bounded, thread-safe LRU cache of prepared verifying keys, keyed by the public key's
//! SEC1 bytes and the distinguishing ID.
//!
//! The cache is split into shards, each an exact LRU behind its own mutex, so verifications on
//! different cores rarely wait on each other. A key is prepared (point validated, `Z` hashed,
//! table built) outside any lock; if two threads race on the same new key both prepare it and
//! one copy wins.

use std::{
    collections::HashMap,
    hash::{BuildHasher, RandomState},
    sync::{Arc, Mutex, PoisonError},
};

use super::VerifyingKey;
use crate::CryptoError;

/// Keys the process-wide cache holds (about 1.2 KiB each when fully prepared).
pub const DEFAULT_CAPACITY: usize = 1024;

/// Shards of a cache; capacity is spread evenly over them.
const SHARDS: usize = 16;

const NIL: usize = usize::MAX;

struct Node {
    key: Vec<u8>,
    value: Arc<VerifyingKey>,
    prev: usize,
    next: usize,
}

/// One exact LRU: a slab of nodes on a doubly linked list (most recent at `head`) and a map
/// from key to slot.
struct Lru {
    map: HashMap<Vec<u8>, usize>,
    nodes: Vec<Node>,
    head: usize,
    tail: usize,
    capacity: usize,
}

impl Lru {
    fn new(capacity: usize) -> Self {
        Lru {
            map: HashMap::with_capacity(capacity),
            nodes: Vec::with_capacity(capacity),
            head: NIL,
            tail: NIL,
            capacity,
        }
    }

    fn unlink(&mut self, i: usize) {
        let (prev, next) = (self.nodes[i].prev, self.nodes[i].next);
        if prev == NIL {
            self.head = next;
        } else {
            self.nodes[prev].next = next;
        }
        if next == NIL {
            self.tail = prev;
        } else {
            self.nodes[next].prev = prev;
        }
    }

    fn push_front(&mut self, i: usize) {
        self.nodes[i].prev = NIL;
        self.nodes[i].next = self.head;
        if self.head != NIL {
            self.nodes[self.head].prev = i;
        }
        self.head = i;
        if self.tail == NIL {
            self.tail = i;
        }
    }

    fn get(&mut self, key: &[u8]) -> Option<Arc<VerifyingKey>> {
        let i = *self.map.get(key)?;
        if self.head != i {
            self.unlink(i);
            self.push_front(i);
        }
        Some(Arc::clone(&self.nodes[i].value))
    }

    /// Insert (or refresh) `key`, evicting the least recently used entry when full. Returns
    /// the value now cached under `key`.
    fn insert(&mut self, key: Vec<u8>, value: Arc<VerifyingKey>) -> Arc<VerifyingKey> {
        if let Some(existing) = self.get(&key) {
            return existing;
        }
        let slot = if self.nodes.len() < self.capacity {
            self.nodes.push(Node {
                key: key.clone(),
                value: Arc::clone(&value),
                prev: NIL,
                next: NIL,
            });
            self.nodes.len() - 1
        } else {
            let victim = self.tail;
            self.unlink(victim);
            let old = std::mem::replace(&mut self.nodes[victim].key, key.clone());
            self.map.remove(&old);
            self.nodes[victim].value = Arc::clone(&value);
            victim
        };
        self.map.insert(key, slot);
        self.push_front(slot);
        value
    }
}

/// A bounded LRU cache of [`VerifyingKey`]s keyed by (SEC1 public key, distinguishing ID).
pub struct KeyCache {
    shards: Vec<Mutex<Lru>>,
    hasher: RandomState,
}

impl std::fmt::Debug for KeyCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyCache")
            .field("len", &self.len())
            .field("capacity", &self.capacity())
            .finish()
    }
}

/// The cache key: the public key's length, its bytes, then the ID (unambiguous).
fn cache_key(public_key: &[u8], distid: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(2 + public_key.len() + distid.len());
    key.extend_from_slice(&(public_key.len() as u16).to_be_bytes());
    key.extend_from_slice(public_key);
    key.extend_from_slice(distid.as_bytes());
    key
}

impl KeyCache {
    /// A cache holding at most `capacity` keys (at least one per shard).
    pub fn new(capacity: usize) -> Self {
        let per_shard = capacity.div_ceil(SHARDS).max(1);
        KeyCache {
            shards: (0..SHARDS)
                .map(|_| Mutex::new(Lru::new(per_shard)))
                .collect(),
            hasher: RandomState::new(),
        }
    }

    fn shard(&self, key: &[u8]) -> &Mutex<Lru> {
        let i = (self.hasher.hash_one(key) as usize) % self.shards.len();
        &self.shards[i]
    }

    /// The prepared key for (`public_key`, `distid`), preparing and caching it on a miss.
    /// Keys that fail to parse are not cached.
    pub fn get_or_prepare(
        &self,
        public_key: &[u8],
        distid: &str,
    ) -> Result<Arc<VerifyingKey>, CryptoError> {
        if public_key.len() > usize::from(u16::MAX) {
            return Err(CryptoError::MalformedKey(
                "not a SEC1 encoded SM2 public key".into(),
            ));
        }
        let key = cache_key(public_key, distid);
        let shard = self.shard(&key);
        // A poisoned shard only means another thread panicked mid-update of plain data; the
        // list stays consistent between statements, so keep using it.
        if let Some(hit) = shard
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
        {
            return Ok(hit);
        }
        let prepared = Arc::new(VerifyingKey::from_sec1_bytes(public_key, distid)?);
        Ok(shard
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key, prepared))
    }

    /// Keys currently cached.
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(PoisonError::into_inner).map.len())
            .sum()
    }

    /// Whether no key is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The most keys the cache holds.
    pub fn capacity(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(PoisonError::into_inner).capacity)
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lru_evicts_the_least_recently_used() {
        let key = hex::decode(
            "0409f9df311e5421a150dd7d161e4bc5c672179fad1833fc076bb08ff356f35020\
             ccea490ce26775a52dc6ea718cc1aa600aed05fbf35e084a6632f6072da9ad13",
        )
        .unwrap();
        let v = Arc::new(VerifyingKey::from_sec1_bytes(&key, "x").unwrap());
        let mut lru = Lru::new(2);
        lru.insert(b"1".to_vec(), Arc::clone(&v));
        lru.insert(b"2".to_vec(), Arc::clone(&v));
        assert!(lru.get(b"1").is_some()); // 1 is now the most recent
        lru.insert(b"3".to_vec(), Arc::clone(&v)); // evicts 2
        assert!(lru.get(b"2").is_none());
        assert!(lru.get(b"1").is_some());
        assert!(lru.get(b"3").is_some());
        lru.insert(b"4".to_vec(), Arc::clone(&v)); // evicts 1
        assert!(lru.get(b"1").is_none());
        assert!(lru.get(b"3").is_some() && lru.get(b"4").is_some());
        assert_eq!(lru.map.len(), 2);
        // Re-inserting an existing key keeps the cached value.
        let other = Arc::new(VerifyingKey::from_sec1_bytes(&key, "y").unwrap());
        assert!(Arc::ptr_eq(&lru.insert(b"3".to_vec(), other), &v));
    }
}

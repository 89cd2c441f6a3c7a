//! The transaction pool: admitted transactions waiting for a block, first come first served.
//!
//! An admitted transaction stays in the pool until a block that includes it is committed
//! (or it expires); a full pool refuses new ones with a retry hint instead of dropping any.

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    sync::Arc,
    time::Instant,
};

use covenant_crypto::Hash;
use covenant_types::tx::DecodedTx;
use parking_lot::Mutex;

use crate::TxError;

/// Limits of the pool.
#[derive(Debug, Clone, Copy)]
pub struct PoolLimits {
    pub max_txs: usize,
    pub max_bytes: usize,
    /// The retry hint given when full.
    pub retry_after_ms: u64,
}

impl Default for PoolLimits {
    fn default() -> Self {
        PoolLimits {
            max_txs: 50_000,
            max_bytes: 256 * 1024 * 1024,
            retry_after_ms: 200,
        }
    }
}

/// A transaction in the pool.
#[derive(Debug, Clone)]
pub struct PooledTx {
    pub tx: Arc<DecodedTx>,
    /// The encoded transaction exactly as received.
    pub bytes: Arc<Vec<u8>>,
    pub received: Instant,
}

impl PooledTx {
    pub fn id(&self) -> Hash {
        self.tx.id
    }
}

#[derive(Default)]
struct Inner {
    seq: u64,
    order: BTreeMap<u64, Hash>,
    by_id: HashMap<Hash, (u64, PooledTx)>,
    bytes: usize,
}

/// The pool of one chain.
pub struct TxPool {
    limits: PoolLimits,
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for TxPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TxPool").field("len", &self.len()).finish()
    }
}

impl TxPool {
    pub fn new(limits: PoolLimits) -> Self {
        TxPool {
            limits,
            inner: Mutex::new(Inner::default()),
        }
    }

    /// Number of waiting transactions.
    pub fn len(&self) -> usize {
        self.inner.lock().by_id.len()
    }

    /// Whether no transaction waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Total encoded size of waiting transactions.
    pub fn bytes(&self) -> usize {
        self.inner.lock().bytes
    }

    /// Whether `id` is waiting.
    pub fn contains(&self, id: &Hash) -> bool {
        self.inner.lock().by_id.contains_key(id)
    }

    /// Check there is room for a transaction of `size` bytes (before expensive checks).
    pub fn check_room(&self, size: usize) -> Result<(), TxError> {
        let inner = self.inner.lock();
        if inner.by_id.len() >= self.limits.max_txs || inner.bytes + size > self.limits.max_bytes {
            return Err(TxError::PoolFull {
                pending: inner.by_id.len(),
                retry_after_ms: self.limits.retry_after_ms,
            });
        }
        Ok(())
    }

    /// Add a checked transaction.
    pub fn insert(&self, tx: PooledTx) -> Result<(), TxError> {
        let mut inner = self.inner.lock();
        let id = tx.id();
        if inner.by_id.contains_key(&id) {
            return Err(TxError::DuplicateInPool(id.to_hex()));
        }
        let size = tx.bytes.len();
        if inner.by_id.len() >= self.limits.max_txs || inner.bytes + size > self.limits.max_bytes {
            return Err(TxError::PoolFull {
                pending: inner.by_id.len(),
                retry_after_ms: self.limits.retry_after_ms,
            });
        }
        inner.seq += 1;
        let seq = inner.seq;
        inner.order.insert(seq, id);
        inner.by_id.insert(id, (seq, tx));
        inner.bytes += size;
        Ok(())
    }

    /// The oldest transactions, up to `max_txs` and `max_bytes`, left in the pool.
    pub fn peek(&self, max_txs: usize, max_bytes: usize) -> Vec<PooledTx> {
        let inner = self.inner.lock();
        let mut out = Vec::new();
        let mut bytes = 0usize;
        for id in inner.order.values() {
            if out.len() >= max_txs {
                break;
            }
            let Some((_, tx)) = inner.by_id.get(id) else {
                continue;
            };
            if bytes + tx.bytes.len() > max_bytes && !out.is_empty() {
                break;
            }
            bytes += tx.bytes.len();
            out.push(tx.clone());
        }
        out
    }

    /// Remove transactions (committed, or found unfit).
    pub fn remove(&self, ids: &[Hash]) {
        let mut inner = self.inner.lock();
        for id in ids {
            if let Some((seq, tx)) = inner.by_id.remove(id) {
                inner.order.remove(&seq);
                inner.bytes -= tx.bytes.len();
            }
        }
    }

    /// Remove and return every transaction `expired` says is past its time.
    pub fn evict(&self, expired: impl Fn(&DecodedTx) -> bool) -> Vec<Hash> {
        let ids: Vec<Hash> = {
            let inner = self.inner.lock();
            inner
                .by_id
                .iter()
                .filter(|(_, (_, t))| expired(&t.tx))
                .map(|(id, _)| *id)
                .collect()
        };
        self.remove(&ids);
        ids
    }
}

/// Hashes of transaction envelopes whose signatures this node already checked, so a block
/// never verifies them again. Two generations bound the memory.
#[derive(Default)]
pub struct VerifiedCache {
    inner: Mutex<(HashSet<Hash>, HashSet<Hash>)>,
}

impl std::fmt::Debug for VerifiedCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("VerifiedCache")
    }
}

const GENERATION: usize = 200_000;

impl VerifiedCache {
    pub fn insert(&self, envelope: Hash) {
        let mut g = self.inner.lock();
        if g.0.len() >= GENERATION {
            let old = std::mem::take(&mut g.0);
            g.1 = old;
        }
        g.0.insert(envelope);
    }

    pub fn contains(&self, envelope: &Hash) -> bool {
        let g = self.inner.lock();
        g.0.contains(envelope) || g.1.contains(envelope)
    }
}

#[cfg(test)]
mod tests {
    use covenant_crypto::Suite;
    use covenant_types::tx::{TxBuilder, sender_by_certificate};
    use prost::Message;

    use super::*;

    fn tx(n: u8, size: usize) -> PooledTx {
        let payload = TxBuilder::new("main", "kv", "put")
            .nonce(vec![n])
            .args(vec![0; size])
            .build()
            .unwrap();
        let t = covenant_types::Transaction {
            payload,
            sender: Some(sender_by_certificate(vec![])),
            signature: vec![],
            endorsements: vec![],
        };
        let bytes = t.encode_to_vec();
        PooledTx {
            tx: Arc::new(DecodedTx::decode(Suite::Sm, &bytes, usize::MAX).unwrap()),
            bytes: Arc::new(bytes),
            received: Instant::now(),
        }
    }

    #[test]
    fn fifo_dedup_capacity_and_removal() {
        let pool = TxPool::new(PoolLimits {
            max_txs: 3,
            max_bytes: 10_000,
            retry_after_ms: 50,
        });
        let (a, b, c, d) = (tx(1, 10), tx(2, 10), tx(3, 10), tx(4, 10));
        pool.insert(a.clone()).unwrap();
        pool.insert(b.clone()).unwrap();
        assert_eq!(
            pool.insert(a.clone()).unwrap_err().code(),
            "TX_DUPLICATE_IN_POOL"
        );
        pool.insert(c.clone()).unwrap();
        let full = pool.insert(d.clone()).unwrap_err();
        assert_eq!(full.code(), "TXPOOL_FULL");
        assert_eq!(full.retry_after_ms(), Some(50));
        let batch = pool.peek(2, usize::MAX);
        assert_eq!(
            batch.iter().map(PooledTx::id).collect::<Vec<_>>(),
            vec![a.id(), b.id()]
        );
        // Peeking keeps them; only removal frees room.
        assert_eq!(pool.len(), 3);
        pool.remove(&[a.id(), b.id()]);
        assert_eq!(pool.len(), 1);
        pool.insert(d.clone()).unwrap();
        assert_eq!(
            pool.peek(10, usize::MAX)
                .iter()
                .map(PooledTx::id)
                .collect::<Vec<_>>(),
            vec![c.id(), d.id()]
        );
        assert_eq!(pool.bytes(), c.bytes.len() + d.bytes.len());
    }

    #[test]
    fn byte_limits() {
        let pool = TxPool::new(PoolLimits {
            max_txs: 100,
            max_bytes: 300,
            retry_after_ms: 1,
        });
        pool.insert(tx(1, 100)).unwrap();
        pool.insert(tx(2, 100)).unwrap();
        assert_eq!(pool.insert(tx(3, 100)).unwrap_err().code(), "TXPOOL_FULL");
        assert_eq!(pool.peek(10, 150).len(), 1);
    }
}

//! Admission: a transaction from one of this node's clients or from a peer is checked into
//! the pool — size, chain, time window, endorsement count, duplicates, signatures and
//! certificates, and whether the target can be called at all.

use std::{sync::Arc, time::Instant};

use covenant_crypto::Hash;
use covenant_types::{
    config::ChainConfigExt,
    names,
    tx::{DecodedTx, now_ms},
};
use prost::Message;
use tracing::debug;

use super::{Chain, MAX_TX_LIFETIME_MS};
use crate::{
    TxError,
    executor::method_allowed,
    genesis,
    identity::{Identity, time_of_ms},
    state::StateRead,
    system::contracts as registry,
    txpool::PooledTx,
};

impl Chain {
    /// Check a transaction from a client of this node and add it to the pool (peers hear of
    /// it through [`Chain::subscribe_accepted`]). Returns its id.
    pub fn submit(&self, bytes: Vec<u8>) -> Result<Hash, TxError> {
        self.admit(bytes, true)
    }

    /// Check a transaction a peer passed on and add it to the pool (not passed on again).
    pub fn submit_from_peer(&self, bytes: Vec<u8>) -> Result<Hash, TxError> {
        self.admit(bytes, false)
    }

    fn admit(&self, bytes: Vec<u8>, local: bool) -> Result<Hash, TxError> {
        let membership = self.membership();
        let config = membership.config().clone();
        let limit = config.max_tx_bytes as usize;
        if bytes.len() > limit {
            return Err(TxError::TooLarge {
                size: bytes.len(),
                limit,
            });
        }
        self.inner.pool.check_room(bytes.len())?;
        let tx = DecodedTx::decode(self.inner.suite, &bytes, limit)
            .map_err(|e| TxError::Malformed(e.to_string()))?;
        // Counted before any signature is checked: a transaction cannot make every node
        // verify thousands of signatures only to be refused.
        let max = config.max_endorsements();
        if tx.tx.endorsements.len() > max {
            return Err(TxError::TooManyEndorsements {
                count: tx.tx.endorsements.len(),
                limit: max,
            });
        }
        if tx.payload.chain_id != self.inner.chain_id {
            return Err(TxError::WrongChain {
                expected: self.inner.chain_id.clone(),
                got: tx.payload.chain_id.clone(),
            });
        }
        let now = now_ms();
        let window = config.tx_expiry_window_ms;
        let ts = tx.payload.timestamp_ms;
        if ts > now + window {
            return Err(TxError::BadTimestamp(format!(
                "timestamp {ts} is more than {window} ms ahead of this node's clock ({now})"
            )));
        }
        let expiry = if tx.payload.expiry_ms > 0 {
            // An explicit expiry (e.g. a proposal signed offline over hours) bounds the
            // transaction's life instead of its timestamp.
            if tx.payload.expiry_ms > now + MAX_TX_LIFETIME_MS {
                return Err(TxError::BadTimestamp(format!(
                    "expiry {} is more than {} days away",
                    tx.payload.expiry_ms,
                    MAX_TX_LIFETIME_MS / 86_400_000
                )));
            }
            tx.payload.expiry_ms
        } else {
            if ts + window < now {
                return Err(TxError::BadTimestamp(format!(
                    "timestamp {ts} is more than {window} ms behind this node's clock ({now}); set an expiry for long-lived transactions"
                )));
            }
            ts + window
        };
        if expiry < now {
            return Err(TxError::Expired {
                expiry_ms: expiry,
                now_ms: now,
            });
        }
        if names::is_system(&tx.payload.contract) && tx.payload.method == genesis::GENESIS_METHOD {
            return Err(TxError::Malformed(
                "the genesis method cannot be called".into(),
            ));
        }
        let id = tx.id;
        if self.inner.pool.contains(&id) {
            return Err(TxError::DuplicateInPool(id.to_hex()));
        }
        // Read before the ledger is searched (the store makes a block's transactions findable
        // before it moves its tip): the transaction is committed, if ever, above this height.
        let height = self.inner.store.height().unwrap_or(0);
        if let Some((on, _)) = self
            .inner
            .store
            .tx_location(id.as_bytes())
            .map_err(|e| TxError::Internal(e.to_string()))?
        {
            return Err(TxError::DuplicateOnLedger {
                id: id.to_hex(),
                height: on,
            });
        }
        let view = self.snapshot()?;
        let signers = membership.verify_signatures(&tx, &*view, time_of_ms(now))?;
        self.check_callable(&tx, &signers[0], &*view)?;
        let envelope = self.inner.suite.hash(&bytes);
        let bytes = Arc::new(bytes);
        self.inner.pool.insert(PooledTx {
            tx: Arc::new(tx),
            bytes: bytes.clone(),
            received: Instant::now(),
        })?;
        self.inner.verified.insert(envelope);
        if local {
            // Nobody listening (a single node) is fine.
            let _ = self.inner.accepted.send((bytes, height));
        }
        if self.inner.pool.len() >= self.limits().0 {
            self.signal_work();
        }
        debug!(tx = %id, "admitted");
        Ok(id)
    }

    /// Whether the sender may call the target (contract exists, is active, method allowed).
    fn check_callable(
        &self,
        tx: &DecodedTx,
        sender: &Identity,
        view: &dyn StateRead,
    ) -> Result<(), TxError> {
        let contract = &tx.payload.contract;
        if names::is_system(contract) {
            if !crate::system::exists(contract) {
                return Err(TxError::UnknownContract(contract.clone()));
            }
            return Ok(());
        }
        let info = view
            .get(&registry::info_key(contract))
            .map_err(TxError::Internal)?
            .ok_or_else(|| TxError::UnknownContract(contract.clone()))?;
        let info = covenant_types::ContractInfo::decode(info.1.as_slice())
            .map_err(|e| TxError::Internal(e.to_string()))?;
        if info.status != registry::STATUS_ACTIVE {
            return Err(TxError::ContractUnavailable {
                name: contract.clone(),
                status: info.status,
            });
        }
        if !method_allowed(&info, &tx.payload.method, &sender.org, sender.role.name()) {
            return Err(TxError::MethodNotAllowed {
                org: sender.org.clone(),
                role: sender.role.name().into(),
                contract: contract.clone(),
                method: tx.payload.method.clone(),
            });
        }
        Ok(())
    }

    /// Drop pooled transactions that expired, and the callers waiting for them; how many
    /// transactions left.
    pub fn evict_expired(&self) -> usize {
        let now = now_ms();
        let window = self.config().tx_expiry_window_ms;
        let gone = self.inner.pool.evict(|t| {
            let expiry = if t.payload.expiry_ms > 0 {
                t.payload.expiry_ms
            } else {
                t.payload.timestamp_ms + window
            };
            expiry < now
        });
        self.forget_waiters(&gone);
        gone.len()
    }
}

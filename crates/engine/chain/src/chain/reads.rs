//! Reads: where a transaction committed (with its proof), blocks, waiting for a commit, and
//! read-only contract calls on the latest state.

use covenant_crypto::{Hash, merkle::MerkleTree};
use covenant_types::{TxResult, block::DecodedBlock, tx::now_ms};
use prost::Message;
use tokio::sync::oneshot;

use super::{Chain, TxCommitted, TxRecord};
use crate::{
    ChainError, TxError, executor::BlockEnv, identity::time_of_ms, system::contracts as registry,
};

/// Most contracts listed at once.
const MAX_CONTRACTS: usize = 10_000;

impl Chain {
    /// A receiver that fires when `id` commits (at once if it already has).
    pub fn watch(&self, id: Hash) -> oneshot::Receiver<TxCommitted> {
        let (tx, rx) = oneshot::channel();
        let mut waiters = self.inner.waiters.lock();
        match self.committed(&id) {
            Ok(Some(c)) => {
                let _ = tx.send(c);
            }
            _ => waiters.entry(id).or_default().push(tx),
        }
        rx
    }

    /// Where `id` was committed, with its result.
    pub fn committed(&self, id: &Hash) -> Result<Option<TxCommitted>, ChainError> {
        let Some((block, index)) = self.inner.store.find_tx(id.as_bytes())? else {
            return Ok(None);
        };
        let height = block.height();
        let result = block
            .block
            .results
            .get(index as usize)
            .map(|r| TxResult::decode(r.as_slice()))
            .transpose()
            .map_err(|e| ChainError::Other(e.to_string()))?
            .unwrap_or_default();
        Ok(Some(TxCommitted {
            height,
            index,
            block_hash: block.hash,
            result,
        }))
    }

    /// A committed transaction with its proof of inclusion.
    pub fn transaction(&self, id: &Hash) -> Result<Option<TxRecord>, ChainError> {
        let Some(committed) = self.committed(id)? else {
            return Ok(None);
        };
        let block = self
            .inner
            .store
            .block(committed.height)?
            .ok_or_else(|| ChainError::Other("block missing".into()))?;
        let tree =
            MerkleTree::from_leaves(self.inner.suite.hash_algorithm(), &block.block.transactions);
        let proof = tree
            .prove(committed.index as usize)
            .ok_or_else(|| ChainError::Other("index out of range".into()))?;
        let index = committed.index as usize;
        Ok(Some(TxRecord {
            transaction: block.block.transactions[index].clone(),
            rwset: block.block.rwsets.get(index).cloned().unwrap_or_default(),
            committed,
            proof,
        }))
    }

    /// Run a read-only call on the latest state. `caller` is a certificate (DER) whose
    /// identity the contract sees; it must belong to a member org.
    pub fn query(
        &self,
        contract: &str,
        method: &str,
        args: &[u8],
        caller: Option<&[u8]>,
    ) -> Result<crate::executor::TxOutcome, TxError> {
        let membership = self.membership();
        let now = now_ms();
        let identity = caller
            .map(|der| membership.identify(der, time_of_ms(now)))
            .transpose()?;
        let view = self.snapshot()?;
        let height = self.inner.store.height().map_or(0, |h| h + 1);
        let outcome = self.inner.executor.query(
            &membership,
            view,
            BlockEnv {
                height,
                time_ms: now,
            },
            crate::executor::Query {
                caller: identity,
                contract,
                method,
                args,
            },
        );
        if outcome.effects.fault {
            return Err(TxError::Unavailable(
                "the state could not be read (the log says why)".into(),
            ));
        }
        Ok(outcome)
    }

    /// The contracts installed on the chain (system contracts aside), by name.
    pub fn contracts(&self) -> Result<Vec<covenant_types::ContractInfo>, ChainError> {
        let prefix = registry::info_key("");
        let mut end = prefix.clone();
        end.push(0xff);
        let snapshot = self.inner.store.snapshot()?;
        let entries = snapshot.range(&prefix, &end, MAX_CONTRACTS)?;
        Ok(entries
            .into_iter()
            .filter_map(|e| covenant_types::ContractInfo::decode(e.value.as_slice()).ok())
            .collect())
    }

    /// The contract named `name`, if installed.
    pub fn contract(&self, name: &str) -> Result<Option<covenant_types::ContractInfo>, ChainError> {
        let snapshot = self.inner.store.snapshot()?;
        let Some(bytes) = snapshot.get(&registry::info_key(name))? else {
            return Ok(None);
        };
        covenant_types::ContractInfo::decode(bytes.1.as_slice())
            .map(Some)
            .map_err(|_| {
                ChainError::Other(format!("the record of contract {name} does not decode"))
            })
    }

    /// The committed block at `height` (decoded).
    pub fn block(&self, height: u64) -> Result<Option<DecodedBlock>, ChainError> {
        Ok(self.inner.store.block(height)?)
    }
}

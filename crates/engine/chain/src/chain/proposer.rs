//! The proposer: this node builds the next block from the pool, executes it in parallel and
//! signs its header.

use std::sync::Arc;

use covenant_types::{
    block::{BlockParts, DecodedBlock, assemble},
    tx::{DecodedTx, now_ms},
};
use prost::Message;

use super::{Chain, CommittedBlock};
use crate::{
    ChainError,
    executor::{BlockEnv, BlockOutput},
    state::StateRead,
};

impl Chain {
    /// Build the next block from the pool, executed and signed by this node as proposer, but
    /// neither decided nor committed. `None` when the pool is empty, unless `allow_empty`.
    pub fn build_block(
        &self,
        allow_empty: bool,
    ) -> Result<Option<(DecodedBlock, BlockOutput)>, ChainError> {
        if let Some(reason) = self.halt_reason() {
            return Err(ChainError::Halted(reason));
        }
        self.inner.store.recover_fault()?;
        let (max_txs, max_bytes, _) = self.limits();
        let mut batch = self.inner.pool.peek(max_txs, max_bytes);
        if batch.is_empty() && !allow_empty {
            return Ok(None);
        }
        let tip = self.inner.store.tip();
        let height = tip.height.map_or(0, |h| h + 1);
        // A transaction committed meanwhile (a race with admission) must not go in again.
        let mut stale = Vec::new();
        let mut unread = None;
        batch.retain(|t| match self.inner.store.tx_location(t.tx.id.as_bytes()) {
            Ok(None) => true,
            Ok(Some(_)) => {
                stale.push(t.tx.id);
                false
            }
            Err(e) => {
                // The ledger cannot be read: keep the transaction for a later block.
                unread.get_or_insert(e);
                false
            }
        });
        if let Some(e) = unread {
            return Err(e.into());
        }
        self.inner.pool.remove(&stale);
        if batch.is_empty() && !allow_empty {
            return Ok(None);
        }
        let prev_time = match tip.height {
            Some(h) => self
                .inner
                .store
                .block(h)?
                .map_or(0, |b| b.header.timestamp_ms),
            None => 0,
        };
        let env = BlockEnv {
            height,
            time_ms: now_ms().max(prev_time + 1),
        };
        let membership = self.membership();
        let base: Arc<dyn StateRead> = Arc::new(self.inner.store.snapshot()?);
        let txs: Vec<Arc<DecodedTx>> = batch.iter().map(|t| t.tx.clone()).collect();
        let out = self
            .inner
            .executor
            .execute_batch(&membership, base, env, &txs);
        if out.fault() {
            return Err(covenant_storage::StorageError::Unavailable(
                "the state could not be read while building a block".into(),
            )
            .into());
        }
        let parts = BlockParts {
            chain_id: self.inner.chain_id.clone(),
            height,
            prev_hash: tip.hash.clone(),
            prev_state_root: tip.state_root.clone(),
            timestamp_ms: env.time_ms,
            proposer: self.inner.node_id.clone(),
            config_version: membership.config().version,
            transactions: batch.iter().map(|t| (*t.bytes).clone()).collect(),
            results: out
                .outcomes
                .iter()
                .map(|o| o.result.encode_to_vec())
                .collect(),
            rwsets: out
                .outcomes
                .iter()
                .map(|o| o.effects.rwset.encode_to_vec())
                .collect(),
            dag: out.dag.clone(),
        };
        let block = assemble(self.inner.suite, parts, Some(&self.inner.node_key))?;
        Ok(Some((block, out)))
    }

    /// Build, decide and commit one block from the pool as the chain's Solo node, if the pool
    /// holds anything (what the Solo producer does each time; tests call it directly).
    pub fn produce_block(&self) -> Result<Option<Arc<CommittedBlock>>, ChainError> {
        let Some((block, out)) = self.build_block(false)? else {
            return Ok(None);
        };
        let keys = self.node_keys();
        let block = covenant_consensus::solo::decide(block, &keys)
            .map_err(|e| ChainError::Other(e.to_string()))?;
        self.commit_block(block, Some(out), covenant_consensus::CommitMode::Decided)
    }

    /// This node's signing identity on the chain.
    pub(crate) fn node_keys(&self) -> covenant_consensus::NodeKeys {
        covenant_consensus::NodeKeys {
            id: covenant_crypto::Hash::from_slice(&self.inner.node_id).unwrap_or_default(),
            certificate: Arc::new(Vec::new()),
            key: self.inner.node_key.clone(),
        }
    }
}

//! The validator: a block another node made is checked against this node's ledger and
//! re-executed along its DAG; it is accepted only if this node reproduces its results,
//! read/write sets and DAG exactly.

use std::{collections::HashSet, sync::Arc};

use covenant_types::{
    TxResult,
    block::DecodedBlock,
    config::ChainConfigExt,
    tx::{DecodedTx, now_ms},
};
use prost::Message;
use rayon::prelude::*;

use super::Chain;
use crate::{
    ChainError,
    executor::{BlockEnv, BlockOutput},
    identity::time_of_ms,
    state::StateRead,
};

/// How far ahead of this node's clock a block's time may be.
const MAX_CLOCK_AHEAD_MS: u64 = 60_000;

impl Chain {
    pub(crate) fn invalid(height: u64, detail: impl Into<String>) -> ChainError {
        ChainError::InvalidBlock {
            height,
            detail: detail.into(),
        }
    }

    /// Check a block another node proposes for the next height, before it is decided: all of
    /// [`Chain::validate`] except the commit certificate, which it cannot have yet.
    pub fn check_proposal(&self, block: &DecodedBlock) -> Result<BlockOutput, ChainError> {
        self.validate_block(block, false, true)
    }

    /// Check a block from elsewhere without committing it; returns its execution.
    pub fn validate(&self, block: &DecodedBlock) -> Result<BlockOutput, ChainError> {
        self.validate_block(block, true, true)
    }

    /// Check a block against this node's ledger; `with_certificate` checks its commit
    /// certificate, `with_clock` that its time is not ahead of this node's clock.
    pub(crate) fn validate_block(
        &self,
        block: &DecodedBlock,
        with_certificate: bool,
        with_clock: bool,
    ) -> Result<BlockOutput, ChainError> {
        self.inner.store.recover_fault()?;
        let h = block.height();
        let bad = |d: String| Self::invalid(h, d);
        let tip = self.inner.store.tip();
        if Some(h) != tip.height.map(|t| t + 1) {
            return Err(bad(format!(
                "expected height {}",
                tip.height.map_or(0, |t| t + 1)
            )));
        }
        if block.header.chain_id != self.inner.chain_id {
            return Err(bad("wrong chain".into()));
        }
        block.check_body(self.inner.suite)?;
        block.check_link(self.inner.suite, &tip.hash, &tip.state_root)?;
        let membership = self.membership();
        let config = membership.config();
        if block.header.config_version != config.version {
            return Err(bad(format!(
                "config version {} is not {}",
                block.header.config_version, config.version
            )));
        }
        // The proposer must be a consensus node, and its signature must verify.
        let proposer = config
            .consensus
            .as_ref()
            .and_then(|c| {
                c.nodes.iter().find(|n| {
                    self.inner.suite.hash(&n.certificate).as_bytes().as_slice()
                        == block.header.proposer
                })
            })
            .ok_or_else(|| bad("the proposer is not a consensus node".into()))?;
        let key = covenant_consensus::node_key(&proposer.certificate).map_err(bad)?;
        key.verify(&block.block.header, &block.block.proposer_signature)
            .map_err(|_| bad("the proposer's signature does not verify".into()))?;
        if with_certificate {
            self.inner
                .engine
                .check_certificate(self.inner.suite, block, config)
                .map_err(|e| bad(e.to_string()))?;
        }
        let prev_time = match tip.height {
            Some(t) => self
                .inner
                .store
                .block(t)?
                .map_or(0, |b| b.header.timestamp_ms),
            None => 0,
        };
        if block.header.timestamp_ms <= prev_time {
            return Err(bad("the timestamp does not move forward".into()));
        }
        if with_clock && block.header.timestamp_ms > now_ms() + MAX_CLOCK_AHEAD_MS {
            return Err(ChainError::AheadOfClock { height: h });
        }
        let env = BlockEnv {
            height: h,
            time_ms: block.header.timestamp_ms,
        };
        let base: Arc<dyn StateRead> = Arc::new(self.inner.store.snapshot()?);
        let limit = config.max_tx_bytes as usize;
        let max_endorsements = config.max_endorsements();
        let txs: Vec<Arc<DecodedTx>> = block
            .block
            .transactions
            .iter()
            .map(|b| DecodedTx::decode(self.inner.suite, b, limit).map(Arc::new))
            .collect::<Result<_, _>>()
            .map_err(|e| bad(e.to_string()))?;
        let mut seen = HashSet::new();
        for tx in &txs {
            if tx.payload.chain_id != self.inner.chain_id {
                return Err(bad(format!("tx {} is for another chain", tx.id)));
            }
            if tx.tx.endorsements.len() > max_endorsements {
                return Err(bad(format!(
                    "tx {} carries {} endorsements, over the limit of {max_endorsements}",
                    tx.id,
                    tx.tx.endorsements.len()
                )));
            }
            if !seen.insert(tx.id) || self.inner.store.tx_location(tx.id.as_bytes())?.is_some() {
                return Err(bad(format!("tx {} is a duplicate", tx.id)));
            }
        }
        // Signatures this node has not checked yet, on all cores.
        let at = time_of_ms(env.time_ms);
        block
            .block
            .transactions
            .par_iter()
            .zip(txs.par_iter())
            .try_for_each(|(bytes, tx)| {
                let envelope = self.inner.suite.hash(bytes);
                if self.inner.verified.contains(&envelope) {
                    return Ok(());
                }
                // Identity problems become failed results during execution; only bad
                // signatures make the block invalid.
                for (i, sig) in std::iter::once((tx.tx.sender.as_ref(), &tx.tx.signature))
                    .chain(
                        tx.tx
                            .endorsements
                            .iter()
                            .map(|e| (e.signer.as_ref(), &e.signature)),
                    )
                    .enumerate()
                {
                    if let Ok(who) = membership.resolve(sig.0, &*base, at)
                        && who.public_key.verify(&tx.tx.payload, sig.1).is_err()
                    {
                        return Err(bad(format!("tx {}: signature {i} does not verify", tx.id)));
                    }
                }
                self.inner.verified.insert(envelope);
                Ok(())
            })?;
        let dag = block.dag()?;
        let out = self
            .inner
            .executor
            .execute_with_dag(&membership, base, env, &txs, &dag);
        if out.fault() {
            // This node's own failure says nothing about the block.
            return Err(covenant_storage::StorageError::Unavailable(
                "the state could not be read while checking a block".into(),
            )
            .into());
        }
        for (i, (o, (r, w))) in out
            .outcomes
            .iter()
            .zip(block.block.results.iter().zip(&block.block.rwsets))
            .enumerate()
        {
            if o.result.encode_to_vec() != *r {
                let theirs = TxResult::decode(r.as_slice()).unwrap_or_default();
                return Err(bad(format!(
                    "tx {i}: the result differs from this node's execution (block: {} gas {} {:?}; here: {} gas {} {:?})",
                    theirs.code,
                    theirs.gas_used,
                    String::from_utf8_lossy(&theirs.return_data),
                    o.result.code,
                    o.result.gas_used,
                    String::from_utf8_lossy(&o.result.return_data),
                )));
            }
            if o.effects.rwset.encode_to_vec() != *w {
                return Err(bad(format!(
                    "tx {i}: the read/write set differs from this node's execution"
                )));
            }
        }
        if out.dag != dag {
            return Err(bad(
                "the DAG is not the one the read/write sets imply".into()
            ));
        }
        Ok(out)
    }
}

//! The chain as a consensus driver sees it.

use std::{sync::Arc, time::Duration};

use covenant_consensus::{ChainPort, CommitMode, Committed, PortError, port::Pace};
use covenant_crypto::Suite;
use covenant_types::{ChainConfig, block::DecodedBlock};

use super::Chain;
use crate::{ChainError, executor::BlockOutput, genesis};

impl From<ChainError> for PortError {
    fn from(e: ChainError) -> Self {
        match e {
            ChainError::Halted(reason) => PortError::Halted(reason),
            ChainError::Storage(e) if e.is_fault() => {
                PortError::Unavailable(format!("{e} ({})", e.code()))
            }
            e @ ChainError::AheadOfClock { .. } => {
                PortError::AheadOfClock(format!("{e} ({})", e.code()))
            }
            e => PortError::Rejected(format!("{e} ({})", e.code())),
        }
    }
}

impl ChainPort for Chain {
    type Output = BlockOutput;

    fn chain_id(&self) -> &str {
        self.id()
    }

    fn suite(&self) -> Suite {
        Chain::suite(self)
    }

    fn config(&self) -> Arc<ChainConfig> {
        Chain::config(self)
    }

    fn genesis_config(&self) -> Result<ChainConfig, PortError> {
        let g = Chain::block(self, 0)?
            .ok_or_else(|| PortError::Rejected("the genesis block is missing".into()))?;
        Ok(genesis::config_of(&g).map_err(ChainError::from)?)
    }

    fn next_height(&self) -> u64 {
        self.store().height().map_or(0, |h| h + 1)
    }

    fn block(&self, height: u64) -> Result<Option<DecodedBlock>, PortError> {
        Ok(Chain::block(self, height)?)
    }

    fn pending(&self) -> usize {
        self.pool_len()
    }

    fn pace(&self) -> Pace {
        let (max_txs, _, interval) = self.limits();
        Pace {
            max_txs,
            interval: Duration::from_millis(interval),
        }
    }

    fn wait_for_work(&self, timeout: Duration) -> bool {
        Chain::wait_for_work(self, timeout)
    }

    fn build(&self, allow_empty: bool) -> Result<Option<(DecodedBlock, BlockOutput)>, PortError> {
        Ok(self.build_block(allow_empty)?)
    }

    fn check(&self, block: &DecodedBlock) -> Result<BlockOutput, PortError> {
        Ok(self.check_proposal(block)?)
    }

    fn commit(
        &self,
        block: DecodedBlock,
        output: Option<BlockOutput>,
        mode: CommitMode,
    ) -> Result<Option<Committed>, PortError> {
        Ok(self.commit_block(block, output, mode)?.map(|c| Committed {
            height: c.block.height(),
            hash: c.block.hash,
            txs: c.results.len(),
        }))
    }

    fn evict_expired(&self) -> usize {
        Chain::evict_expired(self)
    }

    fn set_engine_status(&self, status: serde_json::Value) {
        Chain::set_engine_status(self, status)
    }

    fn halt(&self, reason: String) {
        Chain::halt(self, reason)
    }
}

//! The committer: one path by which every block reaches the ledger, whichever engine decided
//! it — one group commit, then the membership reloaded if the block changed it, waiters and
//! subscribers told.

use std::{sync::Arc, time::Instant};

use covenant_consensus::CommitMode;
use covenant_crypto::Hash;
use covenant_types::{TxResult, block::DecodedBlock};
use prost::Message;
use tracing::info;

use super::{Chain, CommittedBlock, TxCommitted};
use crate::{ChainError, executor::BlockOutput, identity::Membership};

impl Chain {
    /// Commit a decided block with its certificate.
    ///
    /// `output` is this node's execution of the block against the current tip (from
    /// [`Chain::build_block`] or [`Chain::check_proposal`]); then only the certificate and the
    /// link are checked. Without it the block is validated in full: re-executed, and, in
    /// [`CommitMode::Decided`], its time checked against this node's clock
    /// ([`CommitMode::Ordered`] blocks, a Raft log's entries, are judged on the block and the
    /// ledger only, so every node takes or skips them alike). A block already on the ledger
    /// is recognised (`Ok(None)`) or, if another block holds its height, refused.
    pub fn commit_block(
        &self,
        block: DecodedBlock,
        output: Option<BlockOutput>,
        mode: CommitMode,
    ) -> Result<Option<Arc<CommittedBlock>>, ChainError> {
        let _guard = self.inner.commit_lock.lock();
        if let Some(reason) = self.halt_reason() {
            return Err(ChainError::Halted(reason));
        }
        // A failed write (a full disk) is recovered from before anything is read for this
        // block; until it is, nothing is committed.
        self.inner.store.recover_fault()?;
        let h = block.height();
        let tip = self.inner.store.tip();
        if tip.height.is_some_and(|t| t >= h) {
            return match self.inner.store.block(h)? {
                Some(b) if b.hash == block.hash => Ok(None),
                Some(b) => Err(Self::invalid(
                    h,
                    format!("{} is committed at this height, not {}", b.hash, block.hash),
                )),
                None => Err(Self::invalid(h, "missing from the store")),
            };
        }
        let out = match output {
            Some(out) if tip.height.map_or(0, |t| t + 1) == h => {
                let config = self.config();
                self.inner
                    .engine
                    .check_certificate(self.inner.suite, &block, &config)
                    .map_err(|e| Self::invalid(h, e.to_string()))?;
                block.check_link(self.inner.suite, &tip.hash, &tip.state_root)?;
                out
            }
            _ => self.validate_block(&block, true, mode == CommitMode::Decided)?,
        };
        self.write(block, out).map(Some)
    }

    /// Validate a block decided elsewhere (re-executing it along its DAG) and commit it.
    pub fn apply_block(&self, block: DecodedBlock) -> Result<Arc<CommittedBlock>, ChainError> {
        let h = block.height();
        self.commit_block(block, None, CommitMode::Decided)?
            .ok_or_else(|| Self::invalid(h, "already on the ledger"))
    }

    fn write(
        &self,
        block: DecodedBlock,
        out: BlockOutput,
    ) -> Result<Arc<CommittedBlock>, ChainError> {
        let started = Instant::now();
        self.inner.store.commit(&block)?;
        let height = block.height();
        let membership_changed = out.outcomes.iter().any(|o| {
            o.effects
                .writes
                .iter()
                .any(|(k, _)| Membership::affects_membership(k))
        });
        if membership_changed {
            match self
                .inner
                .store
                .snapshot()
                .map_err(ChainError::from)
                .and_then(|s| Membership::load(&s))
            {
                Ok(m) => {
                    info!(height, version = m.config().version, "membership changed");
                    *self.inner.membership.write() = Arc::new(m);
                }
                Err(e) => {
                    // Going on with the old membership would admit whom the chain removed
                    // and refuse whom it added: stop instead (a restart reloads it, or says
                    // why it cannot).
                    let reason = format!(
                        "cannot reload the membership after block {height}: {e} ({})",
                        e.code()
                    );
                    self.halt(reason.clone());
                    return Err(ChainError::Halted(reason));
                }
            }
        }
        let results: Vec<TxResult> = out.outcomes.into_iter().map(|o| o.result).collect();
        let ids: Vec<Hash> = block
            .block
            .transactions
            .iter()
            .map(|b| {
                covenant_types::Transaction::decode(b.as_slice())
                    .map(|t| self.inner.suite.hash(&t.payload))
                    .unwrap_or_default()
            })
            .collect();
        self.inner.pool.remove(&ids);
        {
            let mut waiters = self.inner.waiters.lock();
            for (i, (id, r)) in ids.iter().zip(&results).enumerate() {
                if let Some(list) = waiters.remove(id) {
                    for w in list {
                        let _ = w.send(TxCommitted {
                            height,
                            index: i as u32,
                            block_hash: block.hash,
                            result: r.clone(),
                        });
                    }
                }
            }
            // Callers that stopped waiting (their request timed out) are forgotten.
            waiters.retain(|_, list| {
                list.retain(|w| !w.is_closed());
                !list.is_empty()
            });
        }
        {
            let mut s = self.inner.stats.lock();
            s.txs_committed += ids.len() as u64;
            s.last_commit_ms = started.elapsed().as_millis() as u64;
        }
        let committed = Arc::new(CommittedBlock { block, results });
        let _ = self.inner.blocks.send(committed.clone());
        Ok(committed)
    }

    /// Forget the callers waiting for `ids` (they left the pool and will not commit).
    pub(crate) fn forget_waiters(&self, ids: &[Hash]) {
        if ids.is_empty() {
            return;
        }
        let mut waiters = self.inner.waiters.lock();
        for id in ids {
            waiters.remove(id);
        }
    }
}

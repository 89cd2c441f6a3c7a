//! The node's ledger held to the chain most consensus nodes hold.
//!
//! A block's hash links it to every block before it (`prev_hash`). Peers report the hash of
//! the block at their latest checkpoint height; when a majority of the chain's consensus
//! nodes report the same hash there, it is an *anchor*: the chain's own, whatever this node's
//! disk says. The link walk goes down from the anchor a few blocks at a time, holding each
//! block-index entry to the hash the block above it names. An index entry that differs while
//! the stored block is the expected one is corrected; a stored block that differs (rewritten
//! and re-hashed on this node's disk — even signed with this node's stolen key) is marked
//! damaged with the expected hash, fetched from a peer, and accepted only with that hash; the
//! indexes and state are then derived again. Below a block under repair the walk waits.

use tracing::{info, warn};

use super::{BLOCK_INDEX, Store, corrupt};
use crate::{Result, StorageError, segment::Location};
use covenant_types::block::DecodedBlock;

/// Bytes of blocks one slice of the walk reads at most (a block is read whole to learn the
/// hash it names; large blocks make fewer steps a slice).
const SLICE_BYTES: u64 = 8 << 20;

/// Where the link walk is.
#[derive(Debug, Default)]
pub(super) struct LinkWalk {
    /// The newest anchor: a height and the hash most consensus nodes hold there.
    anchor: Option<(u64, Vec<u8>)>,
    /// The next height to check and the hash the block above it names.
    cursor: Option<(u64, Vec<u8>)>,
}

/// What one slice of the link walk did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkCheck {
    /// Blocks checked.
    pub checked: u64,
    /// Blocks found to differ from the chain most consensus nodes hold (now awaiting repair).
    pub divergent: u64,
    /// Index entries corrected (the stored block was the chain's, its index entry was not).
    pub corrected: u64,
    /// The walk reached the genesis block.
    pub pass_complete: bool,
}

impl Store {
    /// The block hash the block index holds at `height`.
    pub fn indexed_hash(&self, height: u64) -> Result<Option<Vec<u8>>> {
        Ok(self.indexed(height)?.map(|(_, h)| h))
    }

    /// Record that most of the chain's consensus nodes hold block `hash` at `height` (from
    /// their status reports). The link walk starts from the newest anchor each pass.
    pub fn set_anchor(&self, height: u64, hash: Vec<u8>) {
        if self.height().is_some_and(|tip| height <= tip) {
            let mut walk = self.links.lock();
            if walk.anchor.as_ref().is_none_or(|(h, _)| *h < height) {
                walk.anchor = Some((height, hash));
            }
        }
    }

    /// Blocks found to differ from the chain most consensus nodes hold, with the hash each
    /// should have (until repaired).
    pub fn divergent(&self) -> Vec<(u64, Vec<u8>)> {
        self.divergent
            .lock()
            .iter()
            .map(|(h, x)| (*h, x.clone()))
            .collect()
    }

    /// Whether a repair of a divergent block left the indexes and state to derive again.
    pub fn needs_rebuild(&self) -> bool {
        self.rebuild_due.load(std::sync::atomic::Ordering::Acquire)
    }

    /// After divergent blocks were replaced: derive the indexes and the state again from
    /// the blocks. Returns whether it did.
    pub fn rebuild_after_divergence(&self) -> Result<bool> {
        if !self.divergent.lock().is_empty() || !self.needs_rebuild() {
            return Ok(false);
        }
        if self.rebuild_indexes()? && self.rebuild_state()? {
            self.rebuild_due
                .store(false, std::sync::atomic::Ordering::Release);
            info!("indexes and state derived again after divergent blocks were replaced");
            return Ok(true);
        }
        Ok(false)
    }

    /// Walk down from the newest anchor, up to `max_blocks` blocks (and about 8 MiB of
    /// them), holding each block-index entry and stored block to the hash the block above it
    /// names (see the module docs).
    pub fn verify_links(&self, max_blocks: u64) -> Result<LinkCheck> {
        let mut out = LinkCheck::default();
        let mut walk = self.links.lock();
        if walk.cursor.is_none() {
            walk.cursor = walk.anchor.clone();
        }
        let Some((mut h, mut expected)) = walk.cursor.clone() else {
            return Ok(out);
        };
        let mut read = 0u64;
        while out.checked < max_blocks && read < SLICE_BYTES {
            if self.divergent.lock().contains_key(&h) {
                // Waits for its repair: what lies below is linked through it.
                break;
            }
            let Some((loc, indexed)) = self.indexed(h)? else {
                return Err(corrupt(h, "a committed block is not in the block index"));
            };
            let block = match self.read_for_links(h, loc) {
                Ok(b) => b,
                Err(StorageError::Damaged { .. }) if indexed != expected => {
                    // Damaged, and its index entry names another block than the chain's: a
                    // repair must bring the chain's block, not the one the entry names.
                    self.divergent.lock().insert(h, expected.clone());
                    out.checked += 1;
                    out.divergent += 1;
                    break;
                }
                Err(e) if e.is_unreadable_for_now() => break,
                Err(e) => return Err(e),
            };
            out.checked += 1;
            if loc.segment != super::ARCHIVED {
                read += u64::from(loc.len);
            }
            let stored = block.as_ref().map(|b| b.hash.as_bytes().to_vec());
            if stored.as_deref() == Some(expected.as_slice()) {
                if indexed != expected {
                    self.correct_index(h, loc, &expected)?;
                    out.corrected += 1;
                }
            } else {
                warn!(
                    height = h,
                    expected = %hex::encode(&expected),
                    stored = %stored.as_deref().map(hex::encode).unwrap_or_default(),
                    code = "BLOCK_DIVERGED",
                    "this node's block differs from the chain most consensus nodes hold: it is refused and fetched from a peer"
                );
                self.divergent.lock().insert(h, expected.clone());
                self.mark_damaged(
                    h,
                    "it differs from the chain most consensus nodes hold".into(),
                );
                out.divergent += 1;
                break;
            }
            let Some(block) = block else { break };
            if h == 0 {
                out.pass_complete = true;
                walk.cursor = None;
                return Ok(out);
            }
            expected = block.header.prev_hash.clone();
            h -= 1;
        }
        walk.cursor = Some((h, expected));
        Ok(out)
    }

    /// The block at `loc` decoded, without holding it to the index's hash (that is what the
    /// walk checks); archived blocks by their kept header. `None` if it does not decode.
    fn read_for_links(&self, h: u64, loc: Location) -> Result<Option<DecodedBlock>> {
        if loc.segment == super::ARCHIVED {
            return self.block_header(h);
        }
        let bytes = self.read_block(h, loc)?;
        Ok(DecodedBlock::decode(self.suite, &bytes, usize::MAX).ok())
    }

    /// The stored block at `h` is the chain's; its index entry named another hash: put the
    /// chain's hash there, and derive the indexes again (the block-hash index may name it).
    fn correct_index(&self, h: u64, loc: Location, hash: &[u8]) -> Result<()> {
        let _writer = self.writer.lock();
        let w = self.db.begin_write()?;
        {
            let mut index = w.open_table(BLOCK_INDEX)?;
            let mut entry = loc.encode().to_vec();
            entry.extend_from_slice(hash);
            index.insert(h, entry.as_slice())?;
        }
        w.commit()?;
        warn!(
            height = h,
            code = "BLOCK_DIVERGED",
            "this node's block index named another hash than the chain's: corrected"
        );
        self.mark_indexes_damaged(format!("the block index entry at {h} named another hash"));
        Ok(())
    }

    /// The hash a repair of block `h` must have: the chain's, if the link walk found this
    /// node's block to differ from it.
    pub(super) fn expected_repair_hash(&self, h: u64) -> Option<Vec<u8>> {
        self.divergent.lock().get(&h).cloned()
    }

    /// A divergent block was replaced with the chain's.
    pub(super) fn divergence_repaired(&self, h: u64) {
        if self.divergent.lock().remove(&h).is_some() {
            self.rebuild_due
                .store(true, std::sync::atomic::Ordering::Release);
        }
    }
}

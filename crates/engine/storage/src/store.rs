//! The store of one chain: block segments plus state and indexes in redb.

use std::{
    collections::BTreeMap,
    fs::{self, File, OpenOptions},
    path::{Path, PathBuf},
    sync::atomic::{AtomicBool, Ordering},
};

use covenant_crypto::Suite;
use covenant_types::{RwSet, TxResult, block::DecodedBlock, tx::DecodedTx};
use prost::Message;
use redb::{
    Database, MultimapTableDefinition, ReadTransaction, ReadableDatabase, TableDefinition,
    WriteTransaction,
};
use tracing::{debug, info, warn};

use crate::{
    Result, StorageError,
    segment::{Location, Scan, Segments},
};

const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
/// height → location (16 bytes) + block hash.
const BLOCK_INDEX: TableDefinition<u64, &[u8]> = TableDefinition::new("block_index");
/// block hash → height.
const BLOCK_HASHES: TableDefinition<&[u8], u64> = TableDefinition::new("block_hashes");
/// state key → version (height 8 + index 4) + value.
const STATE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("state");
/// tx id → height 8 + index 4.
const TXS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("txs");
/// state key → height 8 + index 4 + tx id, one per write.
const KEY_HISTORY: MultimapTableDefinition<&[u8], &[u8]> =
    MultimapTableDefinition::new("key_history");
/// contract → height 8 + tx index 4 + event index 4.
const EVENTS: MultimapTableDefinition<&str, &[u8]> =
    MultimapTableDefinition::new("contract_events");

const META_CHAIN: &str = "chain_id";
const META_HEIGHT: &str = "height";
const META_HASH: &str = "last_hash";
const META_STATE_ROOT: &str = "state_root";

const DB_FILE: &str = "state.redb";
const BLOCKS_DIR: &str = "blocks";
const LOCK_FILE: &str = "LOCK";

/// Which version of a key a value is: the block height and tx index that wrote it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Version {
    pub height: u64,
    pub index: u32,
}

impl Version {
    fn encode(&self) -> [u8; 12] {
        let mut out = [0u8; 12];
        out[..8].copy_from_slice(&self.height.to_be_bytes());
        out[8..].copy_from_slice(&self.index.to_be_bytes());
        out
    }

    fn decode(b: &[u8]) -> Option<Self> {
        Some(Version {
            height: u64::from_be_bytes(b.get(..8)?.try_into().ok()?),
            index: u32::from_be_bytes(b.get(8..12)?.try_into().ok()?),
        })
    }
}

/// The last committed block.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tip {
    /// `None` before the genesis block is committed.
    pub height: Option<u64>,
    pub hash: Vec<u8>,
    pub state_root: Vec<u8>,
}

/// How much of the chain the start-up self-check verifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifyMode {
    /// The most recent `n` blocks.
    Recent(u64),
    /// Every block.
    All,
}

/// What recovery did on open.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recovery {
    /// Blocks found complete in the segments but not yet indexed, applied on open.
    pub replayed: u64,
    /// Bytes of a torn append cut from the last segment.
    pub truncated_bytes: u64,
}

/// The state database. After a failed write redb refuses every later operation until it is
/// closed and opened again (which repairs it), so the store can swap it for a fresh handle;
/// while it cannot (the disk is still full), reads answer `STORAGE_UNAVAILABLE`.
#[derive(Debug)]
struct StateDb {
    path: PathBuf,
    db: parking_lot::RwLock<Option<Database>>,
}

impl StateDb {
    fn open(path: &Path) -> Result<Self> {
        let db = Database::create(path)?;
        {
            // Create every table so read transactions never miss one.
            let w = db.begin_write()?;
            w.open_table(META)?;
            w.open_table(BLOCK_INDEX)?;
            w.open_table(BLOCK_HASHES)?;
            w.open_table(STATE)?;
            w.open_table(TXS)?;
            w.open_multimap_table(KEY_HISTORY)?;
            w.open_multimap_table(EVENTS)?;
            w.commit()?;
        }
        Ok(StateDb {
            path: path.to_path_buf(),
            db: parking_lot::RwLock::new(Some(db)),
        })
    }

    fn closed() -> StorageError {
        StorageError::Unavailable("the state database is closed until it can be reopened".into())
    }

    fn begin_read(&self) -> Result<ReadTransaction> {
        match &*self.db.read() {
            Some(db) => Ok(db.begin_read()?),
            None => Err(Self::closed()),
        }
    }

    fn begin_write(&self) -> Result<WriteTransaction> {
        match &*self.db.read() {
            Some(db) => Ok(db.begin_write()?),
            None => Err(Self::closed()),
        }
    }

    /// Close the handle and open the file again (redb repairs it on open). Fails while the
    /// file is still held (a reader's transaction outlives the old handle) or cannot be
    /// repaired yet; the store tries again at its next commit.
    fn reopen(&self) -> Result<()> {
        let mut slot = self.db.write();
        drop(slot.take());
        *slot = Some(Database::create(&self.path)?);
        Ok(())
    }
}

/// One chain's storage. Thread-safe; writes are serialized.
///
/// A write that fails (a full disk, an I/O error) leaves the store *faulted*: nothing more is
/// appended until the fault is cleared, by reopening the state database and running the same
/// recovery as after a crash (a block that reached its segment but not the index is applied;
/// a torn append is cut off). The store tries that at once and again before each later commit,
/// so it resumes by itself once the disk has room.
#[derive(Debug)]
pub struct Store {
    suite: Suite,
    dir: PathBuf,
    db: StateDb,
    segments: parking_lot::Mutex<Segments>,
    tip: parking_lot::RwLock<Tip>,
    faulted: AtomicBool,
    /// The last attempt to write a block failed (until one is written again).
    write_failing: AtomicBool,
    /// Serializes commits, repairs and recoveries.
    writer: parking_lot::Mutex<()>,
    /// Blocks whose stored copy failed a check, with what failed (until repaired).
    damaged: parking_lot::Mutex<BTreeMap<u64, String>>,
    _lock: File,
    recovery: Recovery,
}

/// Everything a block changes, derived from the block itself.
struct Derived {
    writes: Vec<(Vec<u8>, Option<Vec<u8>>, u32)>,
    txs: Vec<(Vec<u8>, u32)>,
    history: Vec<(Vec<u8>, u32, Vec<u8>)>,
    events: Vec<(String, u32, u32)>,
}

fn derive(suite: Suite, block: &DecodedBlock) -> Result<Derived> {
    let bad =
        |i: usize, what: &str, e: String| StorageError::BadBlock(format!("tx {i}: {what}: {e}"));
    let mut d = Derived {
        writes: Vec::new(),
        txs: Vec::new(),
        history: Vec::new(),
        events: Vec::new(),
    };
    for (i, ((tx_bytes, result_bytes), rwset_bytes)) in block
        .block
        .transactions
        .iter()
        .zip(&block.block.results)
        .zip(&block.block.rwsets)
        .enumerate()
    {
        let idx = i as u32;
        let tx = DecodedTx::decode(suite, tx_bytes, usize::MAX)
            .map_err(|e| bad(i, "transaction", e.to_string()))?;
        let result = TxResult::decode(result_bytes.as_slice())
            .map_err(|e| bad(i, "result", e.to_string()))?;
        let rwset = RwSet::decode(rwset_bytes.as_slice())
            .map_err(|e| bad(i, "read/write set", e.to_string()))?;
        let id = tx.id.as_bytes().to_vec();
        d.txs.push((id.clone(), idx));
        if result.code == covenant_types::CODE_OK {
            for w in rwset.writes {
                d.history.push((w.key.clone(), idx, id.clone()));
                d.writes
                    .push((w.key, if w.delete { None } else { Some(w.value) }, idx));
            }
            for (e_idx, ev) in result.events.iter().enumerate() {
                d.events.push((ev.contract.clone(), idx, e_idx as u32));
            }
        } else if !rwset.writes.is_empty() {
            return Err(bad(
                i,
                "read/write set",
                "a failed transaction has writes".into(),
            ));
        }
    }
    Ok(d)
}

fn corrupt(height: u64, detail: impl Into<String>) -> StorageError {
    StorageError::Corrupt {
        height,
        detail: detail.into(),
    }
}

impl Store {
    /// Open (or create) the store of a chain in `dir`, recovering from a crash: blocks that
    /// reached the segments but not the index are applied, a torn append is cut off.
    pub fn open(dir: &Path, suite: Suite) -> Result<Self> {
        fs::create_dir_all(dir).map_err(|e| StorageError::io(dir, e))?;
        let lock_path = dir.join(LOCK_FILE);
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| StorageError::io(&lock_path, e))?;
        if lock.try_lock().is_err() {
            return Err(StorageError::Locked {
                path: dir.to_path_buf(),
            });
        }
        let db = StateDb::open(&dir.join(DB_FILE))?;
        let segments = Segments::open(&dir.join(BLOCKS_DIR))?;
        let tip = read_tip(&db)?;
        let mut store = Store {
            suite,
            dir: dir.to_path_buf(),
            db,
            segments: parking_lot::Mutex::new(segments),
            tip: parking_lot::RwLock::new(tip),
            faulted: AtomicBool::new(false),
            write_failing: AtomicBool::new(false),
            writer: parking_lot::Mutex::new(()),
            damaged: parking_lot::Mutex::new(BTreeMap::new()),
            _lock: lock,
            recovery: Recovery::default(),
        };
        store.recovery = store.recover()?;
        Ok(store)
    }

    /// The suite the store hashes with.
    pub fn suite(&self) -> Suite {
        self.suite
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// What recovery did when the store was opened.
    pub fn recovery(&self) -> &Recovery {
        &self.recovery
    }

    /// The last committed block.
    pub fn tip(&self) -> Tip {
        self.tip.read().clone()
    }

    /// Height of the last committed block (`None` before genesis).
    pub fn height(&self) -> Option<u64> {
        self.tip.read().height
    }

    /// The chain id recorded by the genesis block.
    pub fn chain_id(&self) -> Result<Option<String>> {
        let r = self.db.begin_read()?;
        let t = r.open_table(META)?;
        Ok(t.get(META_CHAIN)?
            .map(|v| String::from_utf8_lossy(v.value()).into_owned()))
    }

    /// Where to resume scanning segments after the last indexed block.
    fn resume_point(&self, tip: &Tip) -> Result<(u32, u64)> {
        let Some(h) = tip.height else {
            return Ok((0, 0));
        };
        let loc = self
            .location(h)?
            .ok_or_else(|| corrupt(h, "the last block is not in the block index"))?;
        Ok((loc.segment, loc.end()))
    }

    fn recover(&self) -> Result<Recovery> {
        let mut rec = Recovery::default();
        let tip = self.tip();
        let (mut segment, mut offset) = self.resume_point(&tip)?;
        loop {
            let scan = self.segments.lock().scan(segment, offset)?;
            match scan {
                Scan::Record(r) => {
                    let expected = self.height().map_or(0, |h| h + 1);
                    if r.height < expected && self.is_copy_of_indexed(r.height, &r.bytes)? {
                        // A repaired block's copy, appended after the block it replaced.
                        offset = r.location.end();
                        continue;
                    }
                    if r.height != expected {
                        return Err(corrupt(
                            r.height,
                            format!(
                                "segment {segment} holds block {} where {expected} was expected",
                                r.height
                            ),
                        ));
                    }
                    let block = DecodedBlock::decode(self.suite, &r.bytes, usize::MAX)
                        .map_err(|e| corrupt(r.height, e.to_string()))?;
                    self.apply(&block, r.location)?;
                    rec.replayed += 1;
                    offset = r.location.end();
                }
                Scan::End => {
                    let last = self.segments.lock().last_segment();
                    if segment < last {
                        segment += 1;
                        offset = 0;
                        continue;
                    }
                    break;
                }
                Scan::Torn { offset: at } => {
                    let mut segs = self.segments.lock();
                    let (active, len) = segs.active();
                    if segment != active {
                        return Err(corrupt(
                            self.height().map_or(0, |h| h + 1),
                            format!("segment {segment} is damaged at offset {at}"),
                        ));
                    }
                    warn!(
                        segment,
                        offset = at,
                        bytes = len - at,
                        "cutting a torn block append"
                    );
                    rec.truncated_bytes = len - at;
                    segs.truncate_active(at)?;
                    break;
                }
            }
        }
        if rec.replayed > 0 {
            info!(
                blocks = rec.replayed,
                "applied blocks found in the segments but not in the index"
            );
        }
        Ok(rec)
    }

    /// Check a block can follow the tip.
    fn check_next(&self, block: &DecodedBlock) -> Result<()> {
        let tip = self.tip();
        let expected = tip.height.map_or(0, |h| h + 1);
        if block.height() != expected {
            return Err(StorageError::OutOfOrder {
                got: block.height(),
                expected_prev: tip.height,
            });
        }
        block
            .check_body(self.suite)
            .map_err(|e| StorageError::BadBlock(e.to_string()))?;
        if tip.height.is_some() {
            block
                .check_link(self.suite, &tip.hash, &tip.state_root)
                .map_err(|e| StorageError::BadBlock(e.to_string()))?;
            if let Some(chain) = self.chain_id()?
                && chain != block.header.chain_id
            {
                return Err(StorageError::WrongChain {
                    expected: chain,
                    found: block.header.chain_id.clone(),
                });
            }
        } else {
            block
                .check_link(self.suite, &[], &[])
                .map_err(|e| StorageError::BadBlock(e.to_string()))?;
        }
        Ok(())
    }

    /// Commit a block: append it to the segments (synced), then apply its writes and indexes
    /// in one redb transaction. After a crash between the two, [`open`](Self::open) applies
    /// the appended block.
    ///
    /// If a write fails the store is faulted (see [`Store`]) and the error returned; a later
    /// commit of the same block, once the store has recovered, succeeds — also when the failed
    /// attempt had got the block as far as its segment.
    pub fn commit(&self, block: &DecodedBlock) -> Result<()> {
        let _writer = self.writer.lock();
        if self.faulted.load(Ordering::Acquire) {
            self.heal()?;
            let tip = self.tip();
            if tip.height == Some(block.height()) && tip.hash == block.hash.as_bytes() {
                // The failed attempt's append was complete; recovery applied it.
                return Ok(());
            }
        }
        self.check_next(block)?;
        let bytes = block.encode();
        let result = self
            .segments
            .lock()
            .append(block.height(), &bytes)
            .and_then(|loc| self.apply(block, loc));
        if result.is_ok() {
            self.write_failing.store(false, Ordering::Release);
        }
        if let Err(e) = &result
            && e.is_fault()
        {
            self.write_failing.store(true, Ordering::Release);
            warn!(
                height = block.height(),
                error = %e,
                code = e.code(),
                "a block could not be written; the store stops writing until it recovers"
            );
            self.faulted.store(true, Ordering::Release);
            // Recover now if the fault has already passed, so reads need not wait for the
            // next commit; otherwise the next commit tries again.
            if let Err(again) = self.heal() {
                warn!(error = %again, code = again.code(), "the store has not recovered yet");
            }
        }
        result
    }

    /// Whether the last attempt to write a block failed for the disk or the database (a full
    /// disk): true from such a failure until a block is written again.
    pub fn write_failing(&self) -> bool {
        self.write_failing.load(Ordering::Acquire)
    }

    /// Whether a failed write has left the store unrecovered.
    pub fn is_faulted(&self) -> bool {
        self.faulted.load(Ordering::Acquire)
    }

    /// If a failed write left the store faulted, try to recover now (callers about to read
    /// the state for a block do this first). `Ok` when the store is sound.
    pub fn recover_fault(&self) -> Result<()> {
        if !self.is_faulted() {
            return Ok(());
        }
        let _writer = self.writer.lock();
        if self.is_faulted() {
            self.heal()?;
        }
        Ok(())
    }

    /// Clear a fault: reopen the state database and the segments, then recover as after a
    /// crash. Called with the writer lock held.
    fn heal(&self) -> Result<()> {
        self.db.reopen()?;
        *self.segments.lock() = Segments::open(&self.dir.join(BLOCKS_DIR))?;
        *self.tip.write() = read_tip(&self.db)?;
        let rec = self.recover()?;
        self.faulted.store(false, Ordering::Release);
        info!(
            height = ?self.height(),
            applied = rec.replayed,
            cut_bytes = rec.truncated_bytes,
            "the store recovered from a failed write"
        );
        Ok(())
    }

    fn apply(&self, block: &DecodedBlock, loc: Location) -> Result<()> {
        self.check_next(block)?;
        let d = derive(self.suite, block)?;
        let h = block.height();
        let w = self.db.begin_write()?;
        {
            let mut state = w.open_table(STATE)?;
            for (key, value, idx) in &d.writes {
                match value {
                    Some(v) => {
                        let mut enc = Vec::with_capacity(12 + v.len());
                        enc.extend_from_slice(
                            &Version {
                                height: h,
                                index: *idx,
                            }
                            .encode(),
                        );
                        enc.extend_from_slice(v);
                        state.insert(key.as_slice(), enc.as_slice())?;
                    }
                    None => {
                        state.remove(key.as_slice())?;
                    }
                }
            }
            let mut txs = w.open_table(TXS)?;
            for (id, idx) in &d.txs {
                txs.insert(
                    id.as_slice(),
                    Version {
                        height: h,
                        index: *idx,
                    }
                    .encode()
                    .as_slice(),
                )?;
            }
            let mut history = w.open_multimap_table(KEY_HISTORY)?;
            for (key, idx, id) in &d.history {
                let mut v = Version {
                    height: h,
                    index: *idx,
                }
                .encode()
                .to_vec();
                v.extend_from_slice(id);
                history.insert(key.as_slice(), v.as_slice())?;
            }
            let mut events = w.open_multimap_table(EVENTS)?;
            for (contract, idx, e) in &d.events {
                let mut v = Version {
                    height: h,
                    index: *idx,
                }
                .encode()
                .to_vec();
                v.extend_from_slice(&e.to_be_bytes());
                events.insert(contract.as_str(), v.as_slice())?;
            }
            let mut index = w.open_table(BLOCK_INDEX)?;
            let mut entry = loc.encode().to_vec();
            entry.extend_from_slice(block.hash.as_bytes());
            index.insert(h, entry.as_slice())?;
            let mut hashes = w.open_table(BLOCK_HASHES)?;
            hashes.insert(block.hash.as_bytes().as_slice(), h)?;
            let mut meta = w.open_table(META)?;
            if h == 0 {
                meta.insert(META_CHAIN, block.header.chain_id.as_bytes())?;
            }
            meta.insert(META_HEIGHT, h.to_be_bytes().as_slice())?;
            meta.insert(META_HASH, block.hash.as_bytes().as_slice())?;
            meta.insert(META_STATE_ROOT, block.header.state_root.as_slice())?;
        }
        w.commit()?;
        *self.tip.write() = Tip {
            height: Some(h),
            hash: block.hash.as_bytes().to_vec(),
            state_root: block.header.state_root.clone(),
        };
        Ok(())
    }

    fn location(&self, height: u64) -> Result<Option<Location>> {
        Ok(self.indexed(height)?.map(|(loc, _)| loc))
    }

    /// Where the block at `height` is stored and its hash, from the block index.
    fn indexed(&self, height: u64) -> Result<Option<(Location, Vec<u8>)>> {
        let r = self.db.begin_read()?;
        let t = r.open_table(BLOCK_INDEX)?;
        match t.get(height)? {
            None => Ok(None),
            Some(v) => {
                let v = v.value();
                let loc = Location::decode(v.get(..16).unwrap_or_default())
                    .ok_or_else(|| corrupt(height, "bad block index entry"))?;
                Ok(Some((loc, v.get(16..).unwrap_or_default().to_vec())))
            }
        }
    }

    /// Whether `bytes` (a record found in a segment) encode the block the index holds at
    /// `height`.
    fn is_copy_of_indexed(&self, height: u64, bytes: &[u8]) -> Result<bool> {
        let Some((_, hash)) = self.indexed(height)? else {
            return Ok(false);
        };
        Ok(DecodedBlock::decode(self.suite, bytes, usize::MAX)
            .is_ok_and(|b| b.hash.as_bytes().as_slice() == hash.as_slice()))
    }

    /// Record that this node's copy of block `height` failed a check; reads of it answer
    /// [`StorageError::Damaged`] until [`repair_block`](Self::repair_block) replaces it.
    fn mark_damaged(&self, height: u64, detail: String) -> StorageError {
        if self.damaged.lock().insert(height, detail.clone()).is_none() {
            warn!(
                height,
                what = %detail,
                code = "BLOCK_DAMAGED",
                "a stored block failed its check: reads of it are refused until it is repaired from a peer"
            );
        }
        StorageError::Damaged { height, detail }
    }

    /// Blocks whose stored copy failed a check and are not repaired yet, with what failed.
    pub fn damaged(&self) -> Vec<(u64, String)> {
        self.damaged
            .lock()
            .iter()
            .map(|(h, d)| (*h, d.clone()))
            .collect()
    }

    /// The encoded block at `height`, read from its segment with its checksum verified. A
    /// copy that fails (a changed byte, a cut or missing file) is [`StorageError::Damaged`].
    pub fn block_bytes(&self, height: u64) -> Result<Option<Vec<u8>>> {
        match self.location(height)? {
            Some(loc) => self.read_block(height, loc).map(Some),
            None => Ok(None),
        }
    }

    /// The bytes of block `height` at `loc`, or [`StorageError::Damaged`].
    fn read_block(&self, height: u64, loc: Location) -> Result<Vec<u8>> {
        if let Some(detail) = self.damaged.lock().get(&height) {
            return Err(StorageError::Damaged {
                height,
                detail: detail.clone(),
            });
        }
        match self.segments.lock().read(loc) {
            Ok(bytes) => Ok(bytes),
            Err(StorageError::Corrupt { detail, .. }) => Err(self.mark_damaged(height, detail)),
            Err(StorageError::Io { path, source })
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                Err(self.mark_damaged(height, format!("{} is missing", path.display())))
            }
            Err(e) => Err(e),
        }
    }

    /// The block at `height`, decoded, and checked to be the block the index holds there.
    pub fn block(&self, height: u64) -> Result<Option<DecodedBlock>> {
        let Some((loc, hash)) = self.indexed(height)? else {
            return Ok(None);
        };
        let bytes = self.read_block(height, loc)?;
        let block = DecodedBlock::decode(self.suite, &bytes, usize::MAX)
            .map_err(|e| self.mark_damaged(height, e.to_string()))?;
        if block.height() != height {
            return Err(
                self.mark_damaged(height, format!("the record holds block {}", block.height()))
            );
        }
        if block.hash.as_bytes().as_slice() != hash.as_slice() {
            return Err(self.mark_damaged(height, "block hash differs from the index".into()));
        }
        Ok(Some(block))
    }

    /// Replace this node's damaged copy of block `height` with `bytes` (fetched from a peer):
    /// accepted only if it is the block the ledger holds there — its hash the one in the
    /// index, its body matching its header. The copy is appended to the segments and the index
    /// pointed at it (the damaged record stays where it is, unreferenced).
    pub fn repair_block(&self, height: u64, bytes: &[u8]) -> Result<()> {
        let _writer = self.writer.lock();
        let (_, hash) = self.indexed(height)?.ok_or_else(|| {
            StorageError::BadBlock(format!("block {height} is not on this ledger"))
        })?;
        let block = DecodedBlock::decode(self.suite, bytes, usize::MAX)
            .map_err(|e| StorageError::BadBlock(format!("block {height}: {e}")))?;
        if block.height() != height || block.hash.as_bytes().as_slice() != hash.as_slice() {
            return Err(StorageError::NotThisBlock {
                height,
                detail: format!("block {} with hash {}", block.height(), block.hash),
            });
        }
        block
            .check_body(self.suite)
            .map_err(|e| StorageError::BadBlock(format!("block {height}: {e}")))?;
        if self.is_faulted() {
            self.heal()?;
        }
        let written = self.segments.lock().append(height, bytes).and_then(|loc| {
            let w = self.db.begin_write()?;
            {
                let mut index = w.open_table(BLOCK_INDEX)?;
                let mut entry = loc.encode().to_vec();
                entry.extend_from_slice(&hash);
                index.insert(height, entry.as_slice())?;
            }
            w.commit()?;
            Ok(())
        });
        if let Err(e) = &written
            && e.is_fault()
        {
            // As after a failed commit: the next write recovers first (cutting a torn append).
            self.faulted.store(true, Ordering::Release);
        }
        written?;
        if let Some(what) = self.damaged.lock().remove(&height) {
            info!(height, was = %what, "a damaged block was repaired");
        }
        Ok(())
    }

    /// Height of the block with `hash`.
    pub fn height_of(&self, hash: &[u8]) -> Result<Option<u64>> {
        let r = self.db.begin_read()?;
        let t = r.open_table(BLOCK_HASHES)?;
        Ok(t.get(hash)?.map(|v| v.value()))
    }

    /// Where a transaction was committed: (height, index).
    pub fn tx_location(&self, tx_id: &[u8]) -> Result<Option<(u64, u32)>> {
        let r = self.db.begin_read()?;
        let t = r.open_table(TXS)?;
        Ok(t.get(tx_id)?
            .and_then(|v| Version::decode(v.value()))
            .map(|v| (v.height, v.index)))
    }

    /// Writes of `key`, oldest first: (height, index, tx id).
    pub fn key_history(&self, key: &[u8], limit: usize) -> Result<Vec<(u64, u32, Vec<u8>)>> {
        let r = self.db.begin_read()?;
        let t = r.open_multimap_table(KEY_HISTORY)?;
        let mut out = Vec::new();
        for v in t.get(key)?.take(limit) {
            let v = v?;
            let b = v.value();
            if let Some(ver) = Version::decode(b) {
                out.push((ver.height, ver.index, b[12..].to_vec()));
            }
        }
        Ok(out)
    }

    /// Events of `contract` from `from_height` on: (height, tx index, event index).
    pub fn contract_events(
        &self,
        contract: &str,
        from_height: u64,
        limit: usize,
    ) -> Result<Vec<(u64, u32, u32)>> {
        let r = self.db.begin_read()?;
        let t = r.open_multimap_table(EVENTS)?;
        let mut out = Vec::new();
        for v in t.get(contract)? {
            let v = v?;
            let b = v.value();
            let (Some(ver), Some(e)) = (Version::decode(b), b.get(12..16)) else {
                continue;
            };
            if ver.height < from_height {
                continue;
            }
            let e = u32::from_be_bytes(e.try_into().unwrap_or_default());
            out.push((ver.height, ver.index, e));
            if out.len() >= limit {
                break;
            }
        }
        Ok(out)
    }

    /// A consistent read-only view of the state as of the last commit.
    pub fn snapshot(&self) -> Result<Snapshot> {
        // A faulted store also tries to recover when it is read, so that a node with no
        // block to write (an idle solo chain) does not wait for one; never while a commit or
        // another recovery runs.
        if self.is_faulted()
            && let Some(_writer) = self.writer.try_lock()
            && self.is_faulted()
            && let Err(e) = self.heal()
        {
            debug!(error = %e, "the store has not recovered yet");
        }
        Ok(Snapshot {
            txn: self.db.begin_read()?,
        })
    }

    /// Verify stored blocks: checksums, decoding, Merkle roots and DAG against the header,
    /// the hash against the index, and each block's link to the one before. The first
    /// failure is an error naming its height (for an import, which must be whole).
    pub fn verify(&self, mode: VerifyMode) -> Result<u64> {
        let checked = self.scrub(mode)?;
        match self.damaged().into_iter().next() {
            Some((height, detail)) => Err(corrupt(height, detail)),
            None => Ok(checked),
        }
    }

    /// Check stored blocks as [`verify`](Self::verify) does, but a block whose copy fails is
    /// marked damaged (reads of it refused until it is repaired) and the check goes on;
    /// returns how many blocks were checked. Errors only when the index itself is broken (a
    /// height missing, blocks that do not link although each is intact).
    pub fn scrub(&self, mode: VerifyMode) -> Result<u64> {
        let Some(top) = self.height() else {
            return Ok(0);
        };
        let from = match mode {
            VerifyMode::All => 0,
            VerifyMode::Recent(n) => top.saturating_sub(n.saturating_sub(1)),
        };
        // The hash and state root of the block before, when known from an intact copy.
        let mut prev: Option<(Vec<u8>, Vec<u8>)> = if from == 0 {
            Some((Vec::new(), Vec::new()))
        } else {
            match self.block(from - 1) {
                Ok(Some(b)) => Some((b.hash.as_bytes().to_vec(), b.header.state_root.clone())),
                Ok(None) => return Err(corrupt(from - 1, "missing from the block index")),
                Err(StorageError::Damaged { .. }) => None,
                Err(e) => return Err(e),
            }
        };
        for h in from..=top {
            let block = match self.block(h) {
                Ok(Some(b)) => b,
                Ok(None) => return Err(corrupt(h, "missing from the block index")),
                Err(StorageError::Damaged { .. }) => {
                    prev = None;
                    continue;
                }
                Err(e) => return Err(e),
            };
            if let Err(e) = block.check_body(self.suite) {
                self.mark_damaged(h, e.to_string());
                prev = None;
                continue;
            }
            if let Some((prev_hash, prev_root)) = &prev {
                block
                    .check_link(self.suite, prev_hash, prev_root)
                    .map_err(|e| corrupt(h, e.to_string()))?;
            }
            prev = Some((
                block.hash.as_bytes().to_vec(),
                block.header.state_root.clone(),
            ));
        }
        Ok(top - from + 1)
    }
}

fn read_tip(db: &StateDb) -> Result<Tip> {
    let r = db.begin_read()?;
    let t = r.open_table(META)?;
    let height = match t.get(META_HEIGHT)? {
        None => None,
        Some(v) => Some(u64::from_be_bytes(
            v.value()
                .try_into()
                .map_err(|_| corrupt(0, "bad height in meta"))?,
        )),
    };
    let get = |k: &str| -> Result<Vec<u8>> {
        Ok(t.get(k)?.map(|v| v.value().to_vec()).unwrap_or_default())
    };
    Ok(Tip {
        height,
        hash: get(META_HASH)?,
        state_root: get(META_STATE_ROOT)?,
    })
}

/// One entry of a state range scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateEntry {
    pub key: Vec<u8>,
    pub version: Version,
    pub value: Vec<u8>,
}

/// A read-only view of the state at one commit.
pub struct Snapshot {
    txn: ReadTransaction,
}

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Snapshot")
    }
}

impl Snapshot {
    /// The value of `key` and its version.
    pub fn get(&self, key: &[u8]) -> Result<Option<(Version, Vec<u8>)>> {
        let t = self.txn.open_table(STATE)?;
        match t.get(key)? {
            None => Ok(None),
            Some(v) => {
                let b = v.value();
                let ver = Version::decode(b).ok_or_else(|| corrupt(0, "bad state entry"))?;
                Ok(Some((ver, b[12..].to_vec())))
            }
        }
    }

    /// Up to `limit` entries with `start <= key < end` (empty `end`: unbounded), in key order.
    pub fn range(&self, start: &[u8], end: &[u8], limit: usize) -> Result<Vec<StateEntry>> {
        let t = self.txn.open_table(STATE)?;
        let mut out = Vec::new();
        let iter = if end.is_empty() {
            t.range::<&[u8]>(start..)?
        } else {
            if end <= start {
                return Ok(out);
            }
            t.range::<&[u8]>(start..end)?
        };
        for item in iter {
            if out.len() >= limit {
                break;
            }
            let (k, v) = item?;
            let b = v.value();
            let ver = Version::decode(b).ok_or_else(|| corrupt(0, "bad state entry"))?;
            out.push(StateEntry {
                key: k.value().to_vec(),
                version: ver,
                value: b[12..].to_vec(),
            });
        }
        Ok(out)
    }
}

/// Re-derive state and indexes from the block segments: the database is moved aside (kept as
/// `state.redb.bak`) and every block replayed with full checks. Returns the number of blocks.
pub fn rebuild(dir: &Path, suite: Suite) -> Result<u64> {
    let db_path = dir.join(DB_FILE);
    if db_path.exists() {
        let backup = dir.join(format!("{DB_FILE}.bak"));
        fs::rename(&db_path, &backup).map_err(|e| StorageError::io(&db_path, e))?;
    }
    let store = Store::open(dir, suite)?;
    Ok(store.height().map_or(0, |h| h + 1))
}

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
    Database, MultimapTableDefinition, ReadTransaction, ReadableDatabase, ReadableTable,
    TableDefinition, WriteTransaction,
};
use tracing::{debug, info, warn};

use crate::{
    Result, StorageError,
    archive::Archive,
    segment::{Location, Scan, Segments},
    state_entry,
};

mod archiving;
mod links;

use archiving::{ARCHIVED, ARCHIVES, KEPT_HEADERS};
pub use archiving::{ArchiveFile, ArchiveReport, ArchiveStatus, RestoreReport};
pub use links::LinkCheck;

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
/// The format of state entries ([`state_entry::FORMAT`] once they carry digests).
const META_STATE_FORMAT: &str = "state_format";

/// Heights whose state is digested (a checkpoint): every node digests the state as of the
/// same heights, so the digests compare across nodes.
pub const CHECKPOINT_EVERY: u64 = 32;
/// Checkpoint digests kept for comparison with peers.
const KEPT_DIGESTS: usize = 16;

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
    pub(crate) fn encode(&self) -> [u8; 12] {
        let mut out = [0u8; 12];
        out[..8].copy_from_slice(&self.height.to_be_bytes());
        out[8..].copy_from_slice(&self.index.to_be_bytes());
        out
    }

    pub(crate) fn decode(b: &[u8]) -> Option<Self> {
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
            w.open_table(ARCHIVES)?;
            w.open_table(KEPT_HEADERS)?;
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
    /// State entries that failed a check, with what failed (until repaired); shared with
    /// the snapshots that find them.
    state_damage: StateDamage,
    /// Where the next slice of the state scrub starts (empty: at the first key).
    scrub_cursor: parking_lot::Mutex<Vec<u8>>,
    /// What was found wrong with the indexes, until they are rebuilt from the blocks.
    index_damage: parking_lot::Mutex<Option<String>>,
    /// The next height the index scrub checks.
    index_cursor: parking_lot::Mutex<u64>,
    /// The checkpoint whose state is being digested, if one is.
    digest_pass: parking_lot::Mutex<Option<DigestPass>>,
    /// Digests of the state at recent checkpoints, by height.
    state_digests: parking_lot::Mutex<BTreeMap<u64, [u8; 32]>>,
    /// Archive files opened for reading archived blocks, by number.
    archives: parking_lot::Mutex<BTreeMap<u64, std::sync::Arc<Archive>>>,
    /// The walk holding the ledger to the chain most consensus nodes hold.
    links: parking_lot::Mutex<links::LinkWalk>,
    /// Blocks that differ from that chain, with the hash each should have (until repaired).
    divergent: parking_lot::Mutex<BTreeMap<u64, Vec<u8>>>,
    /// A divergent block was replaced: the indexes and state are to be derived again.
    rebuild_due: AtomicBool,
    _lock: File,
    recovery: Recovery,
}

/// A write of a block: key, value (`None`: deleted), index of the transaction.
type Write = (Vec<u8>, Option<Vec<u8>>, u32);

/// Everything a block changes, derived from the block itself.
struct Derived {
    writes: Vec<Write>,
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

/// Write block `h`'s state changes.
fn write_state(
    suite: Suite,
    state: &mut redb::Table<&[u8], &[u8]>,
    h: u64,
    writes: &[Write],
) -> Result<()> {
    for (key, value, idx) in writes {
        match value {
            Some(v) => {
                let version = Version {
                    height: h,
                    index: *idx,
                };
                state.insert(
                    key.as_slice(),
                    state_entry::encode(suite, key, version, v).as_slice(),
                )?;
            }
            None => {
                state.remove(key.as_slice())?;
            }
        }
    }
    Ok(())
}

/// A checkpoint's state being digested: a read transaction of the state as of `height`.
struct DigestPass {
    height: u64,
    txn: ReadTransaction,
    cursor: Vec<u8>,
    entries: u64,
    sum: [u8; 32],
}

impl std::fmt::Debug for DigestPass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DigestPass")
            .field("height", &self.height)
            .field("entries", &self.entries)
            .finish()
    }
}

/// The transaction, block-hash, key-history and event indexes, open in a write transaction.
struct Indexes<'t> {
    txs: redb::Table<'t, &'static [u8], &'static [u8]>,
    hashes: redb::Table<'t, &'static [u8], u64>,
    history: redb::MultimapTable<'t, &'static [u8], &'static [u8]>,
    events: redb::MultimapTable<'t, &'static str, &'static [u8]>,
}

impl<'t> Indexes<'t> {
    fn open(w: &'t WriteTransaction) -> Result<Self> {
        Ok(Indexes {
            txs: w.open_table(TXS)?,
            hashes: w.open_table(BLOCK_HASHES)?,
            history: w.open_multimap_table(KEY_HISTORY)?,
            events: w.open_multimap_table(EVENTS)?,
        })
    }

    /// Insert what block `h` adds.
    fn add(&mut self, h: u64, block: &DecodedBlock, d: &Derived) -> Result<()> {
        let at = |index: u32| Version { height: h, index }.encode().to_vec();
        for (id, idx) in &d.txs {
            self.txs.insert(id.as_slice(), at(*idx).as_slice())?;
        }
        for (key, idx, id) in &d.history {
            let mut v = at(*idx);
            v.extend_from_slice(id);
            self.history.insert(key.as_slice(), v.as_slice())?;
        }
        for (contract, idx, e) in &d.events {
            let mut v = at(*idx);
            v.extend_from_slice(&e.to_be_bytes());
            self.events.insert(contract.as_str(), v.as_slice())?;
        }
        self.hashes.insert(block.hash.as_bytes().as_slice(), h)?;
        Ok(())
    }
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
            state_damage: StateDamage::default(),
            scrub_cursor: parking_lot::Mutex::new(Vec::new()),
            index_damage: parking_lot::Mutex::new(None),
            index_cursor: parking_lot::Mutex::new(0),
            digest_pass: parking_lot::Mutex::new(None),
            state_digests: parking_lot::Mutex::new(BTreeMap::new()),
            archives: parking_lot::Mutex::new(BTreeMap::new()),
            links: parking_lot::Mutex::new(links::LinkWalk::default()),
            divergent: parking_lot::Mutex::new(BTreeMap::new()),
            rebuild_due: AtomicBool::new(false),
            _lock: lock,
            recovery: Recovery::default(),
        };
        store.finish_compaction()?;
        store.upgrade_state_format()?;
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
        if self.tip().height.is_none() {
            rec.replayed = self.replay_in_height_order()?;
        }
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

    /// An empty index over segments that hold blocks (a rebuild, a lost database): apply
    /// them in height order, taking each height's last whole record — blocks a repair or a
    /// restore put back sit after later blocks, and a later copy replaces an earlier one.
    /// Stops at the first height with no whole record; the scan after it finds the rest.
    fn replay_in_height_order(&self) -> Result<u64> {
        let mut records: BTreeMap<u64, Vec<Location>> = BTreeMap::new();
        {
            let segs = self.segments.lock();
            for n in 0..=segs.last_segment() {
                for (h, loc) in segs.record_headers(n)? {
                    records.entry(h).or_default().push(loc);
                }
            }
        }
        let mut applied = 0;
        'heights: for (h, locs) in records {
            if h != applied {
                break;
            }
            for loc in locs.iter().rev() {
                let Ok(bytes) = self.segments.lock().read(*loc) else {
                    continue;
                };
                let Ok(block) = DecodedBlock::decode(self.suite, &bytes, usize::MAX) else {
                    continue;
                };
                if block.height() == h && self.apply(&block, *loc).is_ok() {
                    applied += 1;
                    continue 'heights;
                }
            }
            break;
        }
        Ok(applied)
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
        // A digest pass's read transaction would keep the old database handle open.
        *self.digest_pass.lock() = None;
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
            write_state(self.suite, &mut w.open_table(STATE)?, h, &d.writes)?;
            Indexes::open(&w)?.add(h, block, &d)?;
            let mut index = w.open_table(BLOCK_INDEX)?;
            let mut entry = loc.encode().to_vec();
            entry.extend_from_slice(block.hash.as_bytes());
            index.insert(h, entry.as_slice())?;
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
        if h.is_multiple_of(CHECKPOINT_EVERY) {
            let mut pass = self.digest_pass.lock();
            if pass.is_none() {
                // The state exactly as of height h: no commit can come between (the writer
                // lock is held).
                *pass = Some(DigestPass {
                    height: h,
                    txn: self.db.begin_read()?,
                    cursor: Vec::new(),
                    entries: 0,
                    sum: [0; 32],
                });
            }
        }
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

    /// Give every state entry its digest, once, in a store written before entries had
    /// them (the values are taken as they are; the scrub then holds them to the blocks).
    fn upgrade_state_format(&self) -> Result<()> {
        let w = self.db.begin_write()?;
        let upgraded = {
            let mut meta = w.open_table(META)?;
            let format = meta.get(META_STATE_FORMAT)?.map(|v| v.value().to_vec());
            match format.as_deref() {
                Some(f) if f == state_entry::FORMAT => return Ok(()),
                Some(f) => {
                    return Err(corrupt(
                        0,
                        format!(
                            "unknown state entry format {:?}",
                            String::from_utf8_lossy(f)
                        ),
                    ));
                }
                None => {}
            }
            let mut state = w.open_table(STATE)?;
            let mut entries = Vec::new();
            for item in state.iter()? {
                let (k, v) = item?;
                entries.push((k.value().to_vec(), v.value().to_vec()));
            }
            for (key, old) in &entries {
                let new = state_entry::upgrade(self.suite, key, old)
                    .ok_or_else(|| corrupt(0, "a state entry shorter than its version"))?;
                state.insert(key.as_slice(), new.as_slice())?;
            }
            meta.insert(META_STATE_FORMAT, state_entry::FORMAT)?;
            entries.len()
        };
        w.commit()?;
        if upgraded > 0 {
            info!(entries = upgraded, "state entries now carry digests");
        }
        Ok(())
    }

    /// State entries that failed a check and are not repaired yet, with what failed.
    pub fn damaged_state(&self) -> Vec<(Vec<u8>, String)> {
        self.state_damage
            .entries
            .lock()
            .iter()
            .map(|(k, d)| (k.clone(), d.clone()))
            .collect()
    }

    /// The last write of `key` (height, tx index), from the key history.
    fn last_write(&self, r: &ReadTransaction, key: &[u8]) -> Result<Option<Version>> {
        let t = r.open_multimap_table(KEY_HISTORY)?;
        // Values of a key sort by height then index: the last is the latest write.
        let last = t.get(key)?.next_back().transpose()?;
        Ok(last.and_then(|v| Version::decode(v.value())))
    }

    /// What the blocks say `key` holds: `Some(None)` for no entry, `Some(Some(..))` for the
    /// value its last write wrote; `None` while the block of that write cannot be read.
    fn entry_from_blocks(&self, key: &[u8]) -> Result<Option<TrueEntry>> {
        let r = self.db.begin_read()?;
        let Some(version) = self.last_write(&r, key)? else {
            return Ok(Some(None));
        };
        let block = match self.block(version.height) {
            Ok(Some(b)) => b,
            Ok(None) => return Ok(None),
            Err(e) if e.is_unreadable_for_now() => return Ok(None),
            Err(e) => return Err(e),
        };
        let Some(write) = block_write(&block, version.index, key) else {
            // The key history is wrong: repair once the indexes are rebuilt.
            self.mark_indexes_damaged(format!(
                "the key history says tx {} of block {} wrote {}; it did not",
                version.index,
                version.height,
                hex::encode(key)
            ));
            return Ok(None);
        };
        Ok(Some(write.map(|value| (version, value))))
    }

    /// Put damaged state entries back as the blocks that wrote them say (a block that is
    /// itself damaged waits for its repair from a peer). Returns how many were repaired.
    pub fn repair_state(&self) -> Result<usize> {
        let keys: Vec<Vec<u8>> = self.state_damage.entries.lock().keys().cloned().collect();
        if keys.is_empty() || self.indexes_damaged().is_some() {
            return Ok(0);
        }
        let _writer = self.writer.lock();
        if self.is_faulted() {
            return Ok(0);
        }
        let mut fixes = Vec::new();
        for key in keys {
            if let Some(entry) = self.entry_from_blocks(&key)? {
                fixes.push((key, entry));
            }
        }
        if fixes.is_empty() {
            return Ok(0);
        }
        let w = self.db.begin_write()?;
        {
            let mut state = w.open_table(STATE)?;
            for (key, entry) in &fixes {
                match entry {
                    Some((version, value)) => {
                        let enc = state_entry::encode(self.suite, key, *version, value);
                        state.insert(key.as_slice(), enc.as_slice())?;
                    }
                    None => {
                        state.remove(key.as_slice())?;
                    }
                }
            }
        }
        w.commit()?;
        self.state_damage.repaired(fixes.iter().map(|(k, _)| k));
        for (key, entry) in &fixes {
            info!(
                key = %hex::encode(key),
                from_height = entry.as_ref().map(|(v, _)| v.height),
                "repaired a damaged state entry from the block that wrote it"
            );
        }
        Ok(fixes.len())
    }

    /// Check up to `max` state entries from where the last call stopped: each against its
    /// digest, its version against the key's last write in the key history, and its value
    /// against that write in the block (so an entry rewritten with a matching digest is
    /// caught too). Damaged entries are marked for [`repair_state`](Self::repair_state).
    pub fn scrub_state(&self, max: usize) -> Result<StateScrub> {
        // Blocks read in one slice: the slice ends early rather than read more.
        const MAX_BLOCKS: usize = 16;
        if self.indexes_damaged().is_some() {
            // The key history it relies on waits for its rebuild.
            return Ok(StateScrub::default());
        }
        let start = self.scrub_cursor.lock().clone();
        let r = self.db.begin_read()?;
        let t = r.open_table(STATE)?;
        let mut out = StateScrub::default();
        let mut blocks: BTreeMap<u64, Option<DecodedBlock>> = BTreeMap::new();
        let mut next = None;
        for item in t.range::<&[u8]>(start.as_slice()..)? {
            let (k, v) = item?;
            let key = k.value();
            let needs_block =
                Version::decode(v.value()).is_some_and(|ver| !blocks.contains_key(&ver.height));
            if out.checked == max || (needs_block && blocks.len() >= MAX_BLOCKS) {
                next = Some(key.to_vec());
                break;
            }
            out.checked += 1;
            let (version, value) = match state_entry::decode(self.suite, key, v.value()) {
                Ok(e) => e,
                Err(what) => {
                    self.state_damage.mark(key, what);
                    out.damaged += 1;
                    continue;
                }
            };
            if self.last_write(&r, key)? != Some(version) {
                self.state_damage
                    .mark(key, "the entry's version is not the key's last write");
                out.damaged += 1;
                continue;
            }
            let block = match blocks.entry(version.height) {
                std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::btree_map::Entry::Vacant(e) => {
                    e.insert(match self.block(version.height) {
                        Ok(b) => b,
                        Err(e) if e.is_unreadable_for_now() => None,
                        Err(e) => return Err(e),
                    })
                }
            };
            // A block under repair is checked on a later pass.
            if let Some(block) = block
                && block_write(block, version.index, key) != Some(Some(value.to_vec()))
            {
                self.state_damage
                    .mark(key, "the entry is not what the block that wrote it says");
                out.damaged += 1;
            }
        }
        out.pass_complete = next.is_none();
        *self.scrub_cursor.lock() = next.unwrap_or_default();
        Ok(out)
    }

    /// Go on digesting the state of the current checkpoint, up to `max` entries: each
    /// entry's content digest (recomputed, whatever digest it carries) is summed, so the
    /// result changes with any changed, planted or removed entry. Returns the checkpoint's
    /// height and digest when the pass completes.
    pub fn digest_state(&self, max: usize) -> Result<Option<(u64, [u8; 32])>> {
        let mut slot = self.digest_pass.lock();
        let Some(pass) = slot.as_mut() else {
            return Ok(None);
        };
        let mut next = None;
        {
            let t = pass.txn.open_table(STATE)?;
            for (n, item) in t.range::<&[u8]>(pass.cursor.as_slice()..)?.enumerate() {
                let (k, v) = item?;
                if n == max {
                    next = Some(k.value().to_vec());
                    break;
                }
                pass.entries += 1;
                let d = state_entry::content_digest(self.suite, k.value(), v.value());
                state_entry::add_to(&mut pass.sum, &d);
            }
        }
        if let Some(next) = next {
            pass.cursor = next;
            return Ok(None);
        }
        let (height, digest) = (
            pass.height,
            state_entry::state_digest(self.suite, pass.entries, &pass.sum),
        );
        *slot = None;
        let mut digests = self.state_digests.lock();
        digests.insert(height, digest);
        while digests.len() > KEPT_DIGESTS {
            digests.pop_first();
        }
        Ok(Some((height, digest)))
    }

    /// Digests of the state at the recent checkpoints this node completed, by height.
    pub fn state_digests(&self) -> BTreeMap<u64, [u8; 32]> {
        self.state_digests.lock().clone()
    }

    /// Rewrite what is derived from the blocks in one transaction, under the writer lock
    /// (commits wait): `f` gets the transaction and the tip, and says whether it completed
    /// (committed then; otherwise nothing is written). Not while the store is faulted or a
    /// block is damaged (that waits for its repair from a peer).
    fn rebuild(&self, f: impl FnOnce(&WriteTransaction, u64) -> Result<bool>) -> Result<bool> {
        let _writer = self.writer.lock();
        if self.is_faulted() || !self.damaged.lock().is_empty() {
            return Ok(false);
        }
        let Some(tip) = self.height() else {
            return Ok(false);
        };
        let w = self.db.begin_write()?;
        if !f(&w, tip)? {
            return Ok(false);
        }
        w.commit()?;
        Ok(true)
    }

    /// Run `f` over every block from genesis to `tip` with what it changes; `false` (and
    /// nothing more run) if a block is found damaged: a rebuild waits for its repair.
    fn replay(
        &self,
        tip: u64,
        mut f: impl FnMut(u64, &DecodedBlock, &Derived) -> Result<()>,
    ) -> Result<bool> {
        for h in 0..=tip {
            let block = match self.block(h) {
                Ok(Some(b)) => b,
                Ok(None) => return Err(corrupt(h, "a committed block is not in the block index")),
                Err(StorageError::Damaged { .. }) => return Ok(false),
                Err(e) => return Err(e),
            };
            f(h, &block, &derive(self.suite, &block)?)?;
        }
        Ok(true)
    }

    /// Derive the whole state again from every block (commits wait meanwhile): for a state
    /// that differs from the one its peers hold at a checkpoint although every entry this node
    /// has passes its checks (an entry removed, or rewritten with its key history). Returns
    /// whether it rebuilt (not while a block is damaged: that waits for its repair).
    pub fn rebuild_state(&self) -> Result<bool> {
        let rebuilt = self.rebuild(|w, tip| {
            w.delete_table(STATE)?;
            let mut state = w.open_table(STATE)?;
            self.replay(tip, |h, _, d| {
                write_state(self.suite, &mut state, h, &d.writes)
            })
        })?;
        if !rebuilt {
            return Ok(false);
        }
        self.state_damage
            .repaired(self.damaged_state().iter().map(|(k, _)| k));
        // The digests taken of the old state are no longer this node's.
        self.state_digests.lock().clear();
        *self.digest_pass.lock() = None;
        info!(height = ?self.height(), "rebuilt the state from the blocks");
        Ok(true)
    }

    /// The encoded block at `height`, read from its segment with its checksum verified. A
    /// copy that fails (a changed byte, a cut or missing file) is [`StorageError::Damaged`].
    pub fn block_bytes(&self, height: u64) -> Result<Option<Vec<u8>>> {
        match self.location(height)? {
            Some(loc) => self.read_block(height, loc).map(Some),
            None => Ok(None),
        }
    }

    /// The bytes of block `height` at `loc` (a segment's record or an archive's), or
    /// [`StorageError::Damaged`]. A record moved meanwhile (its segment compacted) is read
    /// where the index now points.
    fn read_block(&self, height: u64, loc: Location) -> Result<Vec<u8>> {
        if let Some(detail) = self.damaged.lock().get(&height) {
            return Err(StorageError::Damaged {
                height,
                detail: detail.clone(),
            });
        }
        if loc.segment == ARCHIVED {
            return self.read_archived(height, loc.offset);
        }
        let first = self.segments.lock().read(loc);
        let read = match first {
            Err(StorageError::Corrupt { .. } | StorageError::Io { .. }) => {
                match self.location(height)? {
                    Some(now) if now != loc => {
                        if now.segment == ARCHIVED {
                            return self.read_archived(height, now.offset);
                        }
                        self.segments.lock().read(now)
                    }
                    _ => first,
                }
            }
            other => other,
        };
        match read {
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
        Ok(self.checked_block(height)?.map(|(_, b)| b))
    }

    /// The block at `height` as stored (its exact bytes) and decoded, checked to be the
    /// block the index holds there.
    pub fn checked_block(&self, height: u64) -> Result<Option<(Vec<u8>, DecodedBlock)>> {
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
        Ok(Some((bytes, block)))
    }

    /// Replace this node's damaged copy of block `height` with `bytes` (fetched from a peer):
    /// accepted only if it is the block the ledger holds there — its hash the one in the
    /// index, its body matching its header. The copy is appended to the segments and the index
    /// pointed at it (the damaged record stays where it is, unreferenced).
    pub fn repair_block(&self, height: u64, bytes: &[u8]) -> Result<()> {
        let _writer = self.writer.lock();
        let (_, indexed) = self.indexed(height)?.ok_or_else(|| {
            StorageError::BadBlock(format!("block {height} is not on this ledger"))
        })?;
        // A block found to differ from the chain most consensus nodes hold is replaced by the
        // chain's block, not by another copy of this node's.
        let hash = self.expected_repair_hash(height).unwrap_or(indexed);
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
        self.divergence_repaired(height);
        Ok(())
    }

    /// Height of the block with `hash`, checked against the block index (the height it
    /// names must hold a block with that hash, else [`StorageError::IndexDamaged`]).
    pub fn height_of(&self, hash: &[u8]) -> Result<Option<u64>> {
        self.check_indexes()?;
        let height = {
            let r = self.db.begin_read()?;
            let t = r.open_table(BLOCK_HASHES)?;
            t.get(hash)?.map(|v| v.value())
        };
        let Some(height) = height else {
            return Ok(None);
        };
        match self.indexed(height)? {
            Some((_, indexed)) if indexed == hash => Ok(Some(height)),
            _ => Err(self.mark_indexes_damaged(format!(
                "the block-hash index puts {} at height {height}, which holds another block",
                hex::encode(hash)
            ))),
        }
    }

    /// Where a transaction was committed: (height, index). For duplicate checks; a lookup
    /// that goes on to read the transaction uses [`find_tx`](Self::find_tx), which checks it.
    pub fn tx_location(&self, tx_id: &[u8]) -> Result<Option<(u64, u32)>> {
        let r = self.db.begin_read()?;
        let t = r.open_table(TXS)?;
        Ok(t.get(tx_id)?
            .and_then(|v| Version::decode(v.value()))
            .map(|v| (v.height, v.index)))
    }

    /// A committed transaction's block and index in it, checked: the transaction there must
    /// be `tx_id` (else [`StorageError::IndexDamaged`], never another transaction).
    pub fn find_tx(&self, tx_id: &[u8]) -> Result<Option<(DecodedBlock, u32)>> {
        self.check_indexes()?;
        let Some((height, index)) = self.tx_location(tx_id)? else {
            return Ok(None);
        };
        let wrong = || {
            format!(
                "the tx index puts {} at height {height}, index {index}, which holds another transaction",
                hex::encode(tx_id)
            )
        };
        let Some(block) = self.block(height)? else {
            return Err(self.mark_indexes_damaged(wrong()));
        };
        let found = block
            .block
            .transactions
            .get(index as usize)
            .and_then(|t| DecodedTx::decode(self.suite, t, usize::MAX).ok())
            .is_some_and(|t| t.id.as_bytes().as_slice() == tx_id);
        if !found {
            return Err(self.mark_indexes_damaged(wrong()));
        }
        Ok(Some((block, index)))
    }

    /// Record that the indexes point at the wrong place; lookups through them answer
    /// [`StorageError::IndexDamaged`] until [`rebuild_indexes`](Self::rebuild_indexes).
    fn mark_indexes_damaged(&self, detail: String) -> StorageError {
        let mut damage = self.index_damage.lock();
        if damage.is_none() {
            warn!(
                what = %detail,
                code = "INDEX_DAMAGED",
                "an index failed its check: lookups through the indexes are refused until they are rebuilt from the blocks"
            );
            *damage = Some(detail.clone());
        }
        StorageError::IndexDamaged(detail)
    }

    fn check_indexes(&self) -> Result<()> {
        match &*self.index_damage.lock() {
            Some(detail) => Err(StorageError::IndexDamaged(detail.clone())),
            None => Ok(()),
        }
    }

    /// What was found wrong with the indexes, if they wait for a rebuild.
    pub fn indexes_damaged(&self) -> Option<String> {
        self.index_damage.lock().clone()
    }

    /// Derive the transaction, block-hash, key-history and event indexes again from every
    /// block, in one transaction (commits wait meanwhile). Not while a block is damaged: the
    /// rebuild waits for its repair from a peer. Returns whether it rebuilt.
    pub fn rebuild_indexes(&self) -> Result<bool> {
        let rebuilt = self.rebuild(|w, tip| {
            w.delete_table(TXS)?;
            w.delete_table(BLOCK_HASHES)?;
            w.delete_multimap_table(KEY_HISTORY)?;
            w.delete_multimap_table(EVENTS)?;
            let mut indexes = Indexes::open(w)?;
            self.replay(tip, |h, block, d| indexes.add(h, block, d))
        })?;
        if !rebuilt {
            return Ok(false);
        }
        let was = self.index_damage.lock().take();
        *self.index_cursor.lock() = 0;
        info!(height = ?self.height(), was = ?was, "rebuilt the indexes from the blocks");
        Ok(true)
    }

    /// Check the index entries of the blocks from where the last call stopped, up to about
    /// `max_txs` transactions (at least one block): the block hash and every transaction id
    /// must lead back to that block and position. A missing or misplaced entry marks the
    /// indexes damaged. Returns the blocks checked.
    pub fn scrub_indexes(&self, max_txs: usize) -> Result<u64> {
        let Some(tip) = self.height() else {
            return Ok(0);
        };
        if self.indexes_damaged().is_some() {
            return Ok(0);
        }
        let start = *self.index_cursor.lock();
        let mut checked = 0;
        let mut txs_checked = 0;
        let mut h = start;
        while (checked == 0 || txs_checked < max_txs) && h <= tip {
            let block = match self.block(h) {
                Ok(Some(b)) => Some(b),
                Ok(None) => None,
                Err(e) if e.is_unreadable_for_now() => None,
                Err(e) => return Err(e),
            };
            if let Some(block) = block {
                let r = self.db.begin_read()?;
                let hashes = r.open_table(BLOCK_HASHES)?;
                if hashes
                    .get(block.hash.as_bytes().as_slice())?
                    .map(|v| v.value())
                    != Some(h)
                {
                    self.mark_indexes_damaged(format!(
                        "the block-hash index does not lead to block {h}"
                    ));
                    return Ok(checked);
                }
                let txs = r.open_table(TXS)?;
                txs_checked += block.block.transactions.len();
                for (i, t) in block.block.transactions.iter().enumerate() {
                    let id = DecodedTx::decode(self.suite, t, usize::MAX)
                        .map_err(|e| corrupt(h, e.to_string()))?
                        .id;
                    let at = txs
                        .get(id.as_bytes().as_slice())?
                        .and_then(|v| Version::decode(v.value()));
                    if at
                        != Some(Version {
                            height: h,
                            index: i as u32,
                        })
                    {
                        self.mark_indexes_damaged(format!(
                            "the tx index does not lead to transaction {i} of block {h}"
                        ));
                        return Ok(checked);
                    }
                }
            }
            checked += 1;
            h += 1;
        }
        *self.index_cursor.lock() = if h > tip { 0 } else { h };
        Ok(checked)
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
            suite: self.suite,
            damage: self.state_damage.clone(),
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
            match self.block_header(from - 1) {
                Ok(Some(b)) => Some((b.hash.as_bytes().to_vec(), b.header.state_root.clone())),
                Ok(None) => return Err(corrupt(from - 1, "missing from the block index")),
                Err(e) if e.is_unreadable_for_now() => None,
                Err(e) => return Err(e),
            }
        };
        for h in from..=top {
            let block = match self.block(h) {
                Ok(Some(b)) => b,
                Ok(None) => return Err(corrupt(h, "missing from the block index")),
                Err(StorageError::ArchiveOffline { .. }) => {
                    // Checked from its kept header only, until its archive is back.
                    match self.block_header(h) {
                        Ok(Some(b)) => {
                            if let Some((prev_hash, prev_root)) = &prev {
                                b.check_link(self.suite, prev_hash, prev_root)
                                    .map_err(|e| corrupt(h, e.to_string()))?;
                            }
                            prev = Some((b.hash.as_bytes().to_vec(), b.header.state_root.clone()));
                        }
                        _ => prev = None,
                    }
                    continue;
                }
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

/// A key's entry as the blocks say it should be: the version and value of its last write, or
/// `None` when it should have none.
type TrueEntry = Option<(Version, Vec<u8>)>;

/// What one slice of the state scrub found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StateScrub {
    /// Entries checked.
    pub checked: usize,
    /// Entries found damaged (marked for repair).
    pub damaged: usize,
    /// This slice reached the last key: the next starts a new pass from the first.
    pub pass_complete: bool,
}

/// The last write of `key` by transaction `index` of `block`: `Some(None)` a delete,
/// `Some(Some(value))` a value, `None` if that transaction did not write it.
fn block_write(block: &DecodedBlock, index: u32, key: &[u8]) -> Option<Option<Vec<u8>>> {
    let bytes = block.block.rwsets.get(index as usize)?;
    let rwset = RwSet::decode(bytes.as_slice()).ok()?;
    rwset
        .writes
        .into_iter()
        .rev()
        .find(|w| w.key == key)
        .map(|w| if w.delete { None } else { Some(w.value) })
}

/// One entry of a state range scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateEntry {
    pub key: Vec<u8>,
    pub version: Version,
    pub value: Vec<u8>,
}

/// State entries found damaged, by key, with what failed: refused on read until repaired
/// (also those whose digest holds, found by the scrub).
#[derive(Debug, Clone, Default)]
struct StateDamage {
    entries: std::sync::Arc<parking_lot::Mutex<BTreeMap<Vec<u8>, String>>>,
    /// Whether `entries` holds any: reads look no further when not.
    any: std::sync::Arc<AtomicBool>,
}

impl StateDamage {
    /// The error a read of `key` answers if it was found damaged.
    fn check(&self, key: &[u8]) -> Result<()> {
        if !self.any.load(Ordering::Acquire) {
            return Ok(());
        }
        match self.entries.lock().get(key) {
            Some(detail) => Err(StorageError::StateDamaged {
                key: hex::encode(key),
                detail: detail.clone(),
            }),
            None => Ok(()),
        }
    }

    /// Forget the entries repaired.
    fn repaired<'a>(&self, keys: impl Iterator<Item = &'a Vec<u8>>) {
        let mut entries = self.entries.lock();
        for k in keys {
            entries.remove(k);
        }
        self.any.store(!entries.is_empty(), Ordering::Release);
    }

    /// Record a damaged entry (logged the first time) and the error its read answers.
    fn mark(&self, key: &[u8], detail: &str) -> StorageError {
        let mut entries = self.entries.lock();
        self.any.store(true, Ordering::Release);
        if entries.insert(key.to_vec(), detail.to_string()).is_none() {
            warn!(
                key = %hex::encode(key),
                what = detail,
                code = "STATE_DAMAGED",
                "a state entry failed its check: reads of it are refused until it is repaired from the block that wrote it"
            );
        }
        StorageError::StateDamaged {
            key: hex::encode(key),
            detail: detail.to_string(),
        }
    }
}

/// A read-only view of the state at one commit. Every entry it reads is checked against its
/// digest; one that fails answers [`StorageError::StateDamaged`] (and is repaired by
/// [`Store::repair_state`]), never its bytes.
pub struct Snapshot {
    txn: ReadTransaction,
    suite: Suite,
    damage: StateDamage,
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
            Some(v) => match self.damage.check(key).and_then(|()| {
                state_entry::decode(self.suite, key, v.value())
                    .map_err(|what| self.damage.mark(key, what))
            }) {
                Ok((ver, value)) => Ok(Some((ver, value.to_vec()))),
                Err(e) => Err(e),
            },
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
            let key = k.value();
            self.damage.check(key)?;
            let (version, value) = state_entry::decode(self.suite, key, v.value())
                .map_err(|what| self.damage.mark(key, what))?;
            out.push(StateEntry {
                key: key.to_vec(),
                version,
                value: value.to_vec(),
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
        // Not while the store is open (a running node holds the lock).
        let lock_path = dir.join(LOCK_FILE);
        if let Ok(lock) = OpenOptions::new().write(true).open(&lock_path)
            && lock.try_lock().is_err()
        {
            return Err(StorageError::Locked {
                path: dir.to_path_buf(),
            });
        }
        // The index of archived blocks lives only in the database: a rebuild would lose it.
        let archived = {
            let db = redb::Database::create(&db_path)?;
            archiving::records_archives(&db)?
        };
        if archived {
            return Err(StorageError::ArchiveRefused(
                "some of this chain's blocks are archived; restore them first (covenant node restore), then rebuild".into(),
            ));
        }
        let backup = dir.join(format!("{DB_FILE}.bak"));
        fs::rename(&db_path, &backup).map_err(|e| StorageError::io(&db_path, e))?;
    }
    let store = Store::open(dir, suite)?;
    Ok(store.height().map_or(0, |h| h + 1))
}

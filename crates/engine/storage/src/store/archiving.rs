//! Archiving old block bodies, reading them through, compacting the segments they leave and
//! restoring them.
//!
//! An archived block keeps its place in the block index (its hash, the height) with a
//! location that names an archive file instead of a segment; its header, proposer signature
//! and commit certificate stay in the state database (`KEPT_HEADERS`), so the chain's
//! history of headers stays whole on the node. Blocks that changed the chain's configuration
//! (and the genesis block) are never archived: proofs and joining nodes need them.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    sync::Arc,
};

use covenant_types::{Block, block::DecodedBlock};
use prost::Message;
use redb::{ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};
use tracing::{info, warn};

use super::{BLOCK_INDEX, META, Store, corrupt};
use crate::{
    Result, StorageError,
    archive::{Archive, Writer},
    segment::Location,
};

/// Archive file number → file name (in the archive directory).
pub(super) const ARCHIVES: TableDefinition<u64, &str> = TableDefinition::new("archives");
/// Archived height → the block without its body (header, proposer signature, certificate).
pub(super) const KEPT_HEADERS: TableDefinition<u64, &[u8]> = TableDefinition::new("kept_headers");
/// Where this chain's archive files are.
const META_ARCHIVE_DIR: &str = "archive_dir";
/// The segment being compacted (its copy written, the index pointed at it, the rename due).
pub(super) const META_COMPACTING: &str = "compacting";
/// The block-index location of an archived block: this segment number, the archive file's
/// number as the offset.
pub(super) const ARCHIVED: u32 = u32::MAX;
/// Block-index entries changed per transaction while restoring, at most.
const RESTORE_BATCH: usize = 256;
/// Bytes of blocks held at once while restoring, at most (then they are written).
const RESTORE_BYTES: usize = 32 << 20;

/// What [`Store::archive`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ArchiveReport {
    /// The archive file written (none if nothing was left to archive).
    pub file: Option<PathBuf>,
    /// Blocks moved into it.
    pub blocks: u64,
    /// The lowest and highest height archived.
    pub first: Option<u64>,
    pub last: Option<u64>,
    /// Blocks below the height that were kept (they changed the configuration).
    pub kept: Vec<u64>,
    /// Bytes of the archived blocks as stored, and of the archive file.
    pub raw_bytes: u64,
    pub archive_bytes: u64,
    /// Bytes of the segment files before and after.
    pub segment_bytes_before: u64,
    pub segment_bytes_after: u64,
    /// Bytes the kept headers take.
    pub header_bytes: u64,
}

/// What [`Store::restore_archived`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RestoreReport {
    /// Blocks put back into the segments, each checked.
    pub blocks: u64,
    pub bytes: u64,
    /// Archive files no longer needed by the node (left in place for the operator).
    pub files: Vec<PathBuf>,
}

/// The archive files of a chain and whether they can be read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ArchiveStatus {
    pub dir: Option<PathBuf>,
    pub files: Vec<ArchiveFile>,
    /// Blocks the node reads from archives.
    pub archived_blocks: u64,
}

/// One archive file of a chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveFile {
    pub name: String,
    pub path: PathBuf,
    /// Blocks of it the node still reads there.
    pub blocks: u64,
    pub first: Option<u64>,
    pub last: Option<u64>,
    /// Whether it opens and its index checks out now.
    pub online: bool,
    /// Why not, if it is not.
    pub problem: Option<String>,
}

/// Archive file names by number, and the (height, indexed hash) pairs read from each.
type ArchivedByFile = (BTreeMap<u64, String>, BTreeMap<u64, Vec<(u64, Vec<u8>)>>);

/// The block without its body: what stays on the node when the body is archived.
fn header_only(block: &DecodedBlock) -> Vec<u8> {
    Block {
        header: block.block.header.clone(),
        proposer_signature: block.block.proposer_signature.clone(),
        certificate: block.block.certificate.clone(),
        ..Default::default()
    }
    .encode_to_vec()
}

impl Store {
    fn archive_dir(&self) -> Result<Option<PathBuf>> {
        let r = self.db.begin_read()?;
        let meta = r.open_table(META)?;
        Ok(meta
            .get(META_ARCHIVE_DIR)?
            .map(|v| PathBuf::from(String::from_utf8_lossy(v.value()).into_owned())))
    }

    /// The archive file numbered `n`, opened (and kept open) or an error saying why not.
    fn archive_file(&self, n: u64, height: u64) -> Result<Arc<Archive>> {
        if let Some(a) = self.archives.lock().get(&n) {
            return Ok(a.clone());
        }
        let (dir, name) = {
            let r = self.db.begin_read()?;
            let files = r.open_table(ARCHIVES)?;
            let name = files
                .get(n)?
                .map(|v| v.value().to_string())
                .ok_or_else(|| corrupt(height, format!("archive file {n} is not recorded")))?;
            (self.archive_dir()?.unwrap_or_default(), name)
        };
        let path = dir.join(name);
        let archive = match Archive::open(&path) {
            Ok(a) => a,
            Err(StorageError::Io { source, .. }) => {
                return Err(StorageError::ArchiveOffline {
                    height,
                    path,
                    detail: source.to_string(),
                });
            }
            Err(e) => return Err(e),
        };
        let archive = Arc::new(archive);
        self.archives.lock().insert(n, archive.clone());
        Ok(archive)
    }

    /// The bytes of archived block `height` from archive file `n`. An archive that cannot be
    /// reached answers [`StorageError::ArchiveOffline`]; one that fails its checks marks the
    /// block damaged, so it is fetched from a peer like any damaged block.
    pub(super) fn read_archived(&self, height: u64, n: u64) -> Result<Vec<u8>> {
        let archive = match self.archive_file(n, height) {
            Ok(a) => a,
            Err(StorageError::ArchiveDamaged { path, detail }) => {
                return Err(self.mark_damaged(height, format!("{}: {detail}", path.display())));
            }
            Err(e) => return Err(e),
        };
        match archive.read(height) {
            Ok(Some((bytes, _))) => Ok(bytes),
            Ok(None) => Err(self.mark_damaged(
                height,
                format!("{} does not hold it", archive.path().display()),
            )),
            Err(StorageError::Io { path, source }) => {
                // Unmounted or removed since it was opened: read it afresh next time.
                self.archives.lock().remove(&n);
                Err(StorageError::ArchiveOffline {
                    height,
                    path,
                    detail: source.to_string(),
                })
            }
            Err(StorageError::ArchiveDamaged { path, detail }) => {
                Err(self.mark_damaged(height, format!("{}: {detail}", path.display())))
            }
            Err(e) => Err(e),
        }
    }

    /// Block `height` as far as the node keeps it when its body is archived: the header,
    /// proposer signature and certificate (the whole block if it is not archived).
    pub fn block_header(&self, height: u64) -> Result<Option<DecodedBlock>> {
        let Some((loc, hash)) = self.indexed(height)? else {
            return Ok(None);
        };
        if loc.segment != ARCHIVED {
            return self.block(height);
        }
        let r = self.db.begin_read()?;
        let kept = r.open_table(KEPT_HEADERS)?;
        let bytes = kept
            .get(height)?
            .map(|v| v.value().to_vec())
            .ok_or_else(|| corrupt(height, "an archived block's header is not kept"))?;
        let block = DecodedBlock::decode(self.suite, &bytes, usize::MAX)
            .map_err(|e| corrupt(height, format!("kept header: {e}")))?;
        if block.hash.as_bytes().as_slice() != hash.as_slice() {
            return Err(corrupt(
                height,
                "the kept header is not the indexed block's",
            ));
        }
        Ok(Some(block))
    }

    /// Whether block `height`'s body is in an archive.
    pub fn is_archived(&self, height: u64) -> Result<bool> {
        Ok(self
            .location(height)?
            .is_some_and(|l| l.segment == ARCHIVED))
    }

    /// Move the bodies of the blocks below `below` (not yet archived; never the genesis block
    /// nor a block that changed the configuration) into a new archive file in `dir`, then
    /// compact the segments they leave. The caller decides whether `below` may be archived
    /// (the chain's progress on other nodes, the blocks' age); the store checks it is below
    /// the tip and that `dir` is the chain's archive directory if it has one. Commits go on
    /// meanwhile, waiting only while the index is switched and while each segment is swapped.
    pub fn archive(
        &self,
        below: u64,
        dir: &Path,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<ArchiveReport> {
        let Some(tip) = self.height() else {
            return Err(StorageError::ArchiveRefused(
                "the chain has no blocks yet".into(),
            ));
        };
        if below > tip {
            return Err(StorageError::ArchiveRefused(format!(
                "height {below} is above the last committed block {tip}; the newest block is never archived"
            )));
        }
        if let Some(current) = self.archive_dir()?
            && current != dir
        {
            return Err(StorageError::ArchiveRefused(format!(
                "this chain's archives are in {}; archive there (or restore them first to move them)",
                current.display()
            )));
        }
        let chain = self.chain_id()?.unwrap_or_default();
        let mut report = ArchiveReport {
            segment_bytes_before: self.segments.lock().total_bytes()?,
            ..ArchiveReport::default()
        };
        let candidates: Vec<u64> = (1..below)
            .filter(|h| !self.is_archived(*h).unwrap_or(true))
            .collect();
        let mut writer: Option<Writer> = None;
        let mut archived = Vec::new();
        let total = candidates.len() as u64;
        for (done, h) in candidates.iter().copied().enumerate() {
            progress(done as u64, total);
            let (bytes, block) = self
                .checked_block(h)?
                .ok_or_else(|| corrupt(h, "a committed block is not in the block index"))?;
            block
                .check_body(self.suite)
                .map_err(|e| self.mark_damaged(h, e.to_string()))?;
            let next = self
                .block_header(h + 1)?
                .ok_or_else(|| corrupt(h + 1, "a committed block is not in the block index"))?;
            if next.header.config_version == h {
                report.kept.push(h);
                continue;
            }
            let w = match &mut writer {
                Some(w) => w,
                None => {
                    // A file of an earlier archive of the same range (restored since) stays
                    // where it is; this one takes the next free name.
                    let base = format!("{chain}-{h:012}-{below:012}");
                    let name = (1..)
                        .map(|n| match n {
                            1 => format!("{base}.cva"),
                            n => format!("{base}-{n}.cva"),
                        })
                        .find(|name| !dir.join(name).exists())
                        .unwrap_or_else(|| format!("{base}.cva"));
                    writer.insert(Writer::create(dir, &name, &chain)?)
                }
            };
            w.add(h, block.hash.0, &bytes)?;
            report.header_bytes += header_only(&block).len() as u64;
            archived.push((h, block.hash.as_bytes().to_vec(), header_only(&block)));
        }
        progress(total, total);
        let Some(writer) = writer else {
            report.segment_bytes_after = report.segment_bytes_before;
            return Ok(report);
        };
        let (path, size, raw) = writer.finish()?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        {
            let _writer = self.writer.lock();
            let w = self.db.begin_write()?;
            {
                let mut files = w.open_table(ARCHIVES)?;
                let n = files.last()?.map_or(0, |(k, _)| k.value() + 1);
                files.insert(n, name.as_str())?;
                let mut index = w.open_table(BLOCK_INDEX)?;
                let mut kept = w.open_table(KEPT_HEADERS)?;
                let loc = |len: u32| Location {
                    segment: ARCHIVED,
                    offset: n,
                    len,
                };
                for (h, hash, header) in &archived {
                    let current = index.get(*h)?.map(|v| v.value().to_vec());
                    if current.as_ref().and_then(|v| v.get(16..)) != Some(hash.as_slice()) {
                        return Err(corrupt(*h, "the block index changed while archiving"));
                    }
                    let mut entry = loc(0).encode().to_vec();
                    entry.extend_from_slice(hash);
                    index.insert(*h, entry.as_slice())?;
                    kept.insert(*h, header.as_slice())?;
                }
                let mut meta = w.open_table(META)?;
                meta.insert(META_ARCHIVE_DIR, dir.to_string_lossy().as_bytes())?;
            }
            w.commit()?;
        }
        info!(
            file = %path.display(),
            blocks = archived.len(),
            raw_bytes = raw,
            archive_bytes = size,
            "archived block bodies"
        );
        report.file = Some(path);
        report.blocks = archived.len() as u64;
        report.first = archived.first().map(|(h, _, _)| *h);
        report.last = archived.last().map(|(h, _, _)| *h);
        report.raw_bytes = raw;
        report.archive_bytes = size;
        self.compact_segments()?;
        report.segment_bytes_after = self.segments.lock().total_bytes()?;
        Ok(report)
    }

    /// Drop from the segments every record the block index no longer points at (archived
    /// blocks, copies replaced by a repair or a restore): a segment with none left is removed,
    /// one with some is rewritten without the rest. Crash-safe: the copy is synced before the
    /// index moves to it, and the rename that follows is finished on open if a crash comes
    /// between. Returns the bytes freed.
    pub fn compact_segments(&self) -> Result<u64> {
        let live: BTreeMap<u64, Location> = {
            let r = self.db.begin_read()?;
            let index = r.open_table(BLOCK_INDEX)?;
            let mut live = BTreeMap::new();
            for item in index.iter()? {
                let (h, v) = item?;
                if let Some(loc) = v.value().get(..16).and_then(Location::decode) {
                    live.insert(h.value(), loc);
                }
            }
            live
        };
        let before = self.segments.lock().total_bytes()?;
        let last = self.segments.lock().last_segment();
        for segment in 0..=last {
            let records = self.segments.lock().record_headers(segment)?;
            if records.is_empty() {
                continue;
            }
            let keep: Vec<(u64, Location)> = records
                .iter()
                .copied()
                .filter(|(h, loc)| live.get(h) == Some(loc))
                .collect();
            if keep.len() == records.len() {
                continue;
            }
            if segment == self.segments.lock().active().0 {
                // Close it first: only closed segments are rewritten.
                let _writer = self.writer.lock();
                self.segments.lock().roll_now()?;
            }
            // Written before commits are held up (nothing appends to a closed segment), one
            // record at a time. A record that no longer reads whole is left out; its block then
            // reads as damaged and is repaired from a peer, as it would have been anyway.
            let path = self.segments.lock().compact_path(segment);
            let mut copy = crate::segment::Segments::compacted_copy(&path, segment)?;
            let mut moved = Vec::with_capacity(keep.len());
            for (h, loc) in &keep {
                let read = self.segments.lock().read(*loc);
                match read {
                    Ok(bytes) => moved.push((*h, *loc, copy.push(*h, &bytes)?)),
                    Err(e) => {
                        warn!(height = h, error = %e, "a block's record did not read while compacting")
                    }
                }
            }
            copy.finish()?;
            if moved.is_empty() {
                let _ = std::fs::remove_file(&path);
                let _writer = self.writer.lock();
                self.segments.lock().replace(segment, false)?;
                continue;
            }
            let _writer = self.writer.lock();
            let mut segs = self.segments.lock();
            let w = self.db.begin_write()?;
            {
                let mut index = w.open_table(BLOCK_INDEX)?;
                for (h, old, new) in &moved {
                    let Some(entry) = index.get(*h)?.map(|v| v.value().to_vec()) else {
                        continue;
                    };
                    if entry.get(..16).and_then(Location::decode) != Some(*old) {
                        continue;
                    }
                    let mut now = new.encode().to_vec();
                    now.extend_from_slice(entry.get(16..).unwrap_or_default());
                    index.insert(*h, now.as_slice())?;
                }
                w.open_table(META)?
                    .insert(META_COMPACTING, segment.to_be_bytes().as_slice())?;
            }
            w.commit()?;
            segs.replace(segment, true)?;
            drop(segs);
            let w = self.db.begin_write()?;
            w.open_table(META)?.remove(META_COMPACTING)?;
            w.commit()?;
        }
        let after = self.segments.lock().total_bytes()?;
        Ok(before.saturating_sub(after))
    }

    /// On open: finish a compaction a crash interrupted (the index already points into the
    /// copy, so the copy must take the segment's place), and drop copies never used.
    pub(super) fn finish_compaction(&self) -> Result<()> {
        let pending = {
            let r = self.db.begin_read()?;
            let meta = r.open_table(META)?;
            meta.get(META_COMPACTING)?
                .and_then(|v| v.value().try_into().ok().map(u32::from_be_bytes))
        };
        let mut segs = self.segments.lock();
        if let Some(segment) = pending {
            if segs.compact_path(segment).exists() {
                info!(segment, "finishing a segment compaction cut short");
                segs.replace(segment, true)?;
            }
            let w = self.db.begin_write()?;
            w.open_table(META)?.remove(META_COMPACTING)?;
            w.commit()?;
        }
        for n in 0..=segs.last_segment() {
            let stray = segs.compact_path(n);
            if stray.exists() {
                let _ = std::fs::remove_file(&stray);
            }
        }
        Ok(())
    }

    /// Bring every archived block back into the segments, each checked (its hash against the
    /// block index and the archive's index, its body against its header) before the index
    /// points at it again. Fails with [`StorageError::ArchiveOffline`] if an archive cannot
    /// be read (nothing after the last whole batch changes).
    pub fn restore_archived(&self, progress: &mut dyn FnMut(u64, u64)) -> Result<RestoreReport> {
        let (files, archived) = self.archived_by_file()?;
        let total: u64 = archived.values().map(|v| v.len() as u64).sum();
        let mut report = RestoreReport::default();
        let dir = self.archive_dir()?.unwrap_or_default();
        for (n, blocks) in &archived {
            let Some((first, _)) = blocks.first() else {
                continue;
            };
            let archive = self.archive_file(*n, *first)?;
            let mut checked: Vec<(u64, Vec<u8>, Vec<u8>)> = Vec::new();
            let mut held = 0;
            for (i, (h, hash)) in blocks.iter().enumerate() {
                let bytes = self.restorable(&archive, *n, *h, hash)?;
                held += bytes.len();
                checked.push((*h, hash.clone(), bytes));
                if checked.len() >= RESTORE_BATCH || held >= RESTORE_BYTES || i + 1 == blocks.len()
                {
                    report.bytes += held as u64;
                    report.blocks += checked.len() as u64;
                    self.put_back(std::mem::take(&mut checked))?;
                    held = 0;
                    progress(report.blocks, total);
                }
            }
            let w = self.db.begin_write()?;
            {
                let mut files_t = w.open_table(ARCHIVES)?;
                files_t.remove(*n)?;
                if files_t.is_empty()? {
                    w.open_table(META)?.remove(META_ARCHIVE_DIR)?;
                }
            }
            w.commit()?;
            self.archives.lock().remove(n);
            if let Some(name) = files.get(n) {
                report.files.push(dir.join(name));
            }
        }
        progress(total, total);
        if report.blocks > 0 {
            info!(blocks = report.blocks, "restored archived blocks");
        }
        Ok(report)
    }

    /// Archived block `h` read from `archive` (file `n`) and checked: its hash is the index's
    /// and the archive's, its body matches its header.
    fn restorable(&self, archive: &Archive, n: u64, h: u64, hash: &[u8]) -> Result<Vec<u8>> {
        let damaged = |detail: String| StorageError::ArchiveDamaged {
            path: archive.path().to_path_buf(),
            detail,
        };
        let bytes = match archive.read(h) {
            Ok(Some((bytes, archived_hash))) if archived_hash.as_slice() == hash => bytes,
            Ok(_) => return Err(damaged(format!("it does not hold block {h} as indexed"))),
            Err(StorageError::Io { path, source }) => {
                self.archives.lock().remove(&n);
                return Err(StorageError::ArchiveOffline {
                    height: h,
                    path,
                    detail: source.to_string(),
                });
            }
            Err(e) => return Err(e),
        };
        let block = DecodedBlock::decode(self.suite, &bytes, usize::MAX)
            .map_err(|e| damaged(format!("block {h}: {e}")))?;
        if block.height() != h || block.hash.as_bytes().as_slice() != hash {
            return Err(damaged(format!(
                "block {h} is not the block the index holds"
            )));
        }
        block
            .check_body(self.suite)
            .map_err(|e| damaged(format!("block {h}: {e}")))?;
        Ok(bytes)
    }

    /// Append checked blocks (height, hash, bytes) to the segments and point the index at
    /// them, in one transaction (commits wait meanwhile).
    fn put_back(&self, checked: Vec<(u64, Vec<u8>, Vec<u8>)>) -> Result<()> {
        let _writer = self.writer.lock();
        let mut locs = Vec::with_capacity(checked.len());
        {
            let mut segs = self.segments.lock();
            for (h, _, bytes) in &checked {
                locs.push(segs.append(*h, bytes)?);
            }
        }
        let w = self.db.begin_write()?;
        {
            let mut index = w.open_table(BLOCK_INDEX)?;
            let mut kept = w.open_table(KEPT_HEADERS)?;
            for ((h, hash, _), loc) in checked.iter().zip(&locs) {
                let mut entry = loc.encode().to_vec();
                entry.extend_from_slice(hash);
                index.insert(*h, entry.as_slice())?;
                kept.remove(*h)?;
            }
        }
        w.commit()?;
        Ok(())
    }

    /// The recorded archive files by number, and the heights (with their indexed hashes, in
    /// height order) the block index reads from each.
    fn archived_by_file(&self) -> Result<ArchivedByFile> {
        let r = self.db.begin_read()?;
        let files: BTreeMap<u64, String> = r
            .open_table(ARCHIVES)?
            .iter()?
            .map(|i| i.map(|(k, v)| (k.value(), v.value().to_string())))
            .collect::<Result<_, _>>()?;
        let index = r.open_table(BLOCK_INDEX)?;
        let mut archived: BTreeMap<u64, Vec<(u64, Vec<u8>)>> = BTreeMap::new();
        for item in index.iter()? {
            let (h, v) = item?;
            let v = v.value();
            if let Some(loc) = v.get(..16).and_then(Location::decode)
                && loc.segment == ARCHIVED
            {
                archived
                    .entry(loc.offset)
                    .or_default()
                    .push((h.value(), v.get(16..).unwrap_or_default().to_vec()));
            }
        }
        Ok((files, archived))
    }

    /// The chain's archive files, which blocks the node reads from each, and whether each
    /// can be read now.
    pub fn archive_status(&self) -> Result<ArchiveStatus> {
        let dir = self.archive_dir()?;
        let (files, mut counts) = self.archived_by_file()?;
        let base = dir.clone().unwrap_or_default();
        let mut status = ArchiveStatus {
            dir,
            ..ArchiveStatus::default()
        };
        for (n, name) in files {
            let heights: Vec<u64> = counts
                .remove(&n)
                .unwrap_or_default()
                .into_iter()
                .map(|(h, _)| h)
                .collect();
            let path = base.join(&name);
            let problem = Archive::open(&path).err().map(|e| e.to_string());
            status.archived_blocks += heights.len() as u64;
            status.files.push(ArchiveFile {
                name,
                path,
                blocks: heights.len() as u64,
                first: heights.first().copied(),
                last: heights.last().copied(),
                online: problem.is_none(),
                problem,
            });
        }
        Ok(status)
    }

    /// Read the chain's archives from `dir` from now on, when they were moved there: every
    /// recorded archive file must open in `dir` and belong to this chain, else nothing changes
    /// (`ARCHIVE_REFUSED`, naming the file). Returns the directory they were read from before,
    /// or `None` when `dir` already is the one (or nothing is archived).
    pub fn adopt_archive_dir(&self, dir: &Path) -> Result<Option<PathBuf>> {
        let Some(current) = self.archive_dir()? else {
            return Ok(None);
        };
        if current == dir {
            return Ok(None);
        }
        let chain = self.chain_id()?.unwrap_or_default();
        let names: Vec<String> = self.archived_by_file()?.0.into_values().collect();
        for name in &names {
            let archive = Archive::open(&dir.join(name)).map_err(|e| {
                StorageError::ArchiveRefused(format!(
                    "archive file {name} is not usable in {}: {e}",
                    dir.display()
                ))
            })?;
            if archive.chain() != chain {
                return Err(StorageError::ArchiveRefused(format!(
                    "{} holds blocks of chain {}, not {chain}",
                    dir.join(name).display(),
                    archive.chain()
                )));
            }
        }
        let w = self.db.begin_write()?;
        w.open_table(META)?
            .insert(META_ARCHIVE_DIR, dir.to_string_lossy().as_bytes())?;
        w.commit()?;
        self.archives.lock().clear();
        Ok(Some(current))
    }

    /// Whether any block of the chain is archived (a rebuild from the segments alone is then
    /// impossible).
    pub fn has_archives(&self) -> Result<bool> {
        let r = self.db.begin_read()?;
        Ok(!r.open_table(ARCHIVES)?.is_empty()?)
    }
}

/// Whether the state database in `dir` records archives (read before a rebuild moves it).
pub(super) fn records_archives(db: &redb::Database) -> Result<bool> {
    let r = db.begin_read()?;
    match r.open_table(ARCHIVES) {
        Ok(t) => Ok(!t.is_empty()?),
        Err(redb::TableError::TableDoesNotExist(_)) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

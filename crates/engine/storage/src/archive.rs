//! Block archives: block bodies moved off a node's segments into compressed, checksummed
//! files that the node reads through when a block is asked for, and restores from.
//!
//! One archive file holds a run of blocks of one chain, in height order (heights may skip:
//! blocks that changed the chain's configuration stay in the segments). Blocks are packed
//! into groups of about [`GROUP_BYTES`] and each group is one zstd frame, so a read
//! decompresses one group, not the file. Layout (integers big-endian):
//!
//! ```text
//! "COVARCH1"                                    8 bytes, the format and its version
//! groups, one zstd frame each
//! index:  chain id length (u16), chain id,
//!         group count (u32), per group: offset (u64), compressed length (u32),
//!                                       raw length (u32), SHA-256 of the compressed bytes (32)
//!         block count (u32), per block: height (u64), group (u32), offset in the raw group
//!                                       (u32), length (u32), block hash (32)
//! footer: index offset (u64), index length (u32), SHA-256 of the index (32), "COVARCH1"
//! ```
//!
//! Every read checks the group's SHA-256 before decompressing, and the store checks the
//! block's hash against its own block index; a restore also checks each block's body against
//! its header. A file is written under a temporary name, synced, read back whole and only
//! then renamed into place, so an archive file is either complete and checked or absent.

use std::{
    collections::BTreeMap,
    fs::{self, File, OpenOptions},
    io::{Read, Seek, SeekFrom, Write},
    path::{Path, PathBuf},
};

use covenant_crypto::HashAlgorithm;

use crate::{Result, StorageError};

const MAGIC: &[u8; 8] = b"COVARCH1";
const FOOTER: u64 = 8 + 4 + 32 + 8;
/// Raw bytes gathered into one compressed group.
pub const GROUP_BYTES: usize = 4 << 20;
/// The zstd level: a measured balance of ratio and time (see docs/PERFORMANCE.md).
const LEVEL: i32 = 9;
/// Largest index a reader accepts.
const MAX_INDEX: u32 = 256 << 20;
/// Largest group a reader accepts, raw or compressed.
const MAX_GROUP: u32 = 64 << 20;

fn sha256(bytes: &[u8]) -> [u8; 32] {
    let mut h = HashAlgorithm::Sha256.hasher();
    h.update(bytes);
    h.finalize().0
}

fn bad(path: &Path, detail: impl std::fmt::Display) -> StorageError {
    StorageError::ArchiveDamaged {
        path: path.to_path_buf(),
        detail: detail.to_string(),
    }
}

#[derive(Debug, Clone, Copy)]
struct Group {
    offset: u64,
    compressed: u32,
    raw: u32,
    sha256: [u8; 32],
}

/// Where a block sits in an archive file.
#[derive(Debug, Clone, Copy)]
pub struct Entry {
    group: u32,
    offset: u32,
    pub len: u32,
    pub hash: [u8; 32],
}

/// Writes one archive file; [`finish`](Self::finish) completes and checks it.
pub struct Writer {
    chain: String,
    final_path: PathBuf,
    tmp_path: PathBuf,
    file: File,
    written: u64,
    groups: Vec<Group>,
    blocks: Vec<(u64, Entry)>,
    pending: Vec<u8>,
    raw_bytes: u64,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer")
            .field("path", &self.final_path)
            .finish()
    }
}

impl Writer {
    /// Start the archive file `name` in `dir` (created if missing) for `chain`.
    pub fn create(dir: &Path, name: &str, chain: &str) -> Result<Self> {
        fs::create_dir_all(dir).map_err(|e| StorageError::io(dir, e))?;
        let final_path = dir.join(name);
        if final_path.exists() {
            return Err(StorageError::Io {
                path: final_path,
                source: std::io::Error::new(
                    std::io::ErrorKind::AlreadyExists,
                    "an archive file of that name exists",
                ),
            });
        }
        let tmp_path = dir.join(format!("{name}.partial"));
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .read(true)
            .open(&tmp_path)
            .map_err(|e| StorageError::io(&tmp_path, e))?;
        file.write_all(MAGIC)
            .map_err(|e| StorageError::io(&tmp_path, e))?;
        Ok(Writer {
            chain: chain.to_string(),
            final_path,
            tmp_path,
            file,
            written: MAGIC.len() as u64,
            groups: Vec::new(),
            blocks: Vec::new(),
            pending: Vec::new(),
            raw_bytes: 0,
        })
    }

    /// Add the block at `height` (heights must rise) with its hash.
    pub fn add(&mut self, height: u64, hash: [u8; 32], bytes: &[u8]) -> Result<()> {
        if self.blocks.last().is_some_and(|(h, _)| *h >= height) {
            return Err(StorageError::BadBlock(format!(
                "block {height} added to an archive out of order"
            )));
        }
        let len = u32::try_from(bytes.len())
            .ok()
            .filter(|l| *l <= MAX_GROUP)
            .ok_or_else(|| StorageError::BadBlock(format!("block {height} is too large")))?;
        if !self.pending.is_empty() && self.pending.len() + bytes.len() > GROUP_BYTES {
            self.flush_group()?;
        }
        self.blocks.push((
            height,
            Entry {
                group: self.groups.len() as u32,
                offset: self.pending.len() as u32,
                len,
                hash,
            },
        ));
        self.pending.extend_from_slice(bytes);
        self.raw_bytes += bytes.len() as u64;
        Ok(())
    }

    fn flush_group(&mut self) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let compressed = zstd::bulk::compress(&self.pending, LEVEL)
            .map_err(|e| StorageError::io(&self.tmp_path, e))?;
        self.file
            .write_all(&compressed)
            .map_err(|e| StorageError::io(&self.tmp_path, e))?;
        self.groups.push(Group {
            offset: self.written,
            compressed: compressed.len() as u32,
            raw: self.pending.len() as u32,
            sha256: sha256(&compressed),
        });
        self.written += compressed.len() as u64;
        self.pending.clear();
        Ok(())
    }

    /// Blocks added so far.
    pub fn len(&self) -> usize {
        self.blocks.len()
    }

    /// Whether no block was added.
    pub fn is_empty(&self) -> bool {
        self.blocks.is_empty()
    }

    /// Write the index and footer, sync, read the whole file back (every group's checksum,
    /// every block's length) and move it into place. Returns the file's size and the raw
    /// bytes of the blocks in it.
    pub fn finish(mut self) -> Result<(PathBuf, u64, u64)> {
        self.flush_group()?;
        let mut index = Vec::new();
        index.extend_from_slice(&(self.chain.len() as u16).to_be_bytes());
        index.extend_from_slice(self.chain.as_bytes());
        index.extend_from_slice(&(self.groups.len() as u32).to_be_bytes());
        for g in &self.groups {
            index.extend_from_slice(&g.offset.to_be_bytes());
            index.extend_from_slice(&g.compressed.to_be_bytes());
            index.extend_from_slice(&g.raw.to_be_bytes());
            index.extend_from_slice(&g.sha256);
        }
        index.extend_from_slice(&(self.blocks.len() as u32).to_be_bytes());
        for (h, e) in &self.blocks {
            index.extend_from_slice(&h.to_be_bytes());
            index.extend_from_slice(&e.group.to_be_bytes());
            index.extend_from_slice(&e.offset.to_be_bytes());
            index.extend_from_slice(&e.len.to_be_bytes());
            index.extend_from_slice(&e.hash);
        }
        let mut footer = Vec::with_capacity(FOOTER as usize);
        footer.extend_from_slice(&self.written.to_be_bytes());
        footer.extend_from_slice(&(index.len() as u32).to_be_bytes());
        footer.extend_from_slice(&sha256(&index));
        footer.extend_from_slice(MAGIC);
        let tmp = self.tmp_path.clone();
        self.file
            .write_all(&index)
            .and_then(|_| self.file.write_all(&footer))
            .and_then(|_| self.file.sync_all())
            .map_err(|e| StorageError::io(&tmp, e))?;
        let size = self.written + index.len() as u64 + footer.len() as u64;
        // Read it back before it counts: every group decompresses to its blocks.
        let check = Archive::open(&tmp)?;
        for (h, e) in &self.blocks {
            let bytes = check.read_checked(*h)?;
            if bytes.len() != e.len as usize {
                return Err(bad(&tmp, format!("block {h} reads back at another length")));
            }
        }
        fs::rename(&tmp, &self.final_path).map_err(|e| StorageError::io(&self.final_path, e))?;
        if let Some(dir) = self.final_path.parent()
            && let Ok(d) = File::open(dir)
        {
            let _ = d.sync_all();
        }
        Ok((self.final_path.clone(), size, self.raw_bytes))
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        // An unfinished file is never left to look like an archive.
        if self.tmp_path.exists() {
            let _ = fs::remove_file(&self.tmp_path);
        }
    }
}

/// An archive file opened for reading: its index in memory, the last group read cached.
#[derive(Debug)]
pub struct Archive {
    path: PathBuf,
    chain: String,
    groups: Vec<Group>,
    blocks: BTreeMap<u64, Entry>,
    cached: parking_lot::Mutex<Option<(u32, std::sync::Arc<Vec<u8>>)>>,
}

struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Cursor<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        let s = self.bytes.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(s)
    }
    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_be_bytes(self.take(2)?.try_into().ok()?))
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_be_bytes(self.take(4)?.try_into().ok()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_be_bytes(self.take(8)?.try_into().ok()?))
    }
    fn h32(&mut self) -> Option<[u8; 32]> {
        self.take(32)?.try_into().ok()
    }
}

impl Archive {
    /// Open `path`, checking its magic, footer and index checksum.
    pub fn open(path: &Path) -> Result<Self> {
        let mut f = File::open(path).map_err(|e| StorageError::io(path, e))?;
        let size = f.metadata().map_err(|e| StorageError::io(path, e))?.len();
        if size < MAGIC.len() as u64 + FOOTER {
            return Err(bad(path, "too short to be an archive"));
        }
        let mut head = [0u8; 8];
        f.read_exact(&mut head)
            .map_err(|e| StorageError::io(path, e))?;
        if &head != MAGIC {
            return Err(bad(path, "not a block archive (bad magic)"));
        }
        f.seek(SeekFrom::Start(size - FOOTER))
            .map_err(|e| StorageError::io(path, e))?;
        let mut footer = [0u8; FOOTER as usize];
        f.read_exact(&mut footer)
            .map_err(|e| StorageError::io(path, e))?;
        let mut c = Cursor {
            bytes: &footer,
            at: 0,
        };
        let (Some(index_at), Some(index_len), Some(index_sum), Some(tail)) =
            (c.u64(), c.u32(), c.h32(), c.take(8))
        else {
            return Err(bad(path, "bad footer"));
        };
        if tail != MAGIC {
            return Err(bad(path, "bad footer magic (a cut file?)"));
        }
        if index_len > MAX_INDEX || index_at.checked_add(index_len as u64) != Some(size - FOOTER) {
            return Err(bad(path, "the footer does not locate the index"));
        }
        f.seek(SeekFrom::Start(index_at))
            .map_err(|e| StorageError::io(path, e))?;
        let mut index = vec![0u8; index_len as usize];
        f.read_exact(&mut index)
            .map_err(|e| StorageError::io(path, e))?;
        if sha256(&index) != index_sum {
            return Err(bad(path, "the index fails its checksum"));
        }
        let parse = || -> Option<(String, Vec<Group>, BTreeMap<u64, Entry>)> {
            let mut c = Cursor {
                bytes: &index,
                at: 0,
            };
            let n = c.u16()? as usize;
            let chain = String::from_utf8(c.take(n)?.to_vec()).ok()?;
            let groups_n = c.u32()?;
            let mut groups = Vec::new();
            for _ in 0..groups_n {
                let g = Group {
                    offset: c.u64()?,
                    compressed: c.u32()?,
                    raw: c.u32()?,
                    sha256: c.h32()?,
                };
                if g.compressed > MAX_GROUP
                    || g.raw > MAX_GROUP
                    || g.offset.checked_add(g.compressed as u64)? > index_at
                {
                    return None;
                }
                groups.push(g);
            }
            let blocks_n = c.u32()?;
            let mut blocks = BTreeMap::new();
            for _ in 0..blocks_n {
                let h = c.u64()?;
                let e = Entry {
                    group: c.u32()?,
                    offset: c.u32()?,
                    len: c.u32()?,
                    hash: c.h32()?,
                };
                let g = groups.get(e.group as usize)?;
                if e.offset.checked_add(e.len)? > g.raw {
                    return None;
                }
                blocks.insert(h, e);
            }
            (c.at == index.len()).then_some((chain, groups, blocks))
        };
        let (chain, groups, blocks) = parse().ok_or_else(|| bad(path, "the index is malformed"))?;
        Ok(Archive {
            path: path.to_path_buf(),
            chain,
            groups,
            blocks,
            cached: parking_lot::Mutex::new(None),
        })
    }

    /// The chain the archive belongs to.
    pub fn chain(&self) -> &str {
        &self.chain
    }

    /// The archive's file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The heights the archive holds, with each block's hash.
    pub fn heights(&self) -> impl Iterator<Item = (u64, &Entry)> {
        self.blocks.iter().map(|(h, e)| (*h, e))
    }

    fn group(&self, n: u32) -> Result<std::sync::Arc<Vec<u8>>> {
        // The cache never answers for an archive that went away: its blocks read as offline
        // whether or not their group happens to be cached.
        fs::metadata(&self.path).map_err(|e| StorageError::io(&self.path, e))?;
        if let Some((at, bytes)) = &*self.cached.lock()
            && *at == n
        {
            return Ok(bytes.clone());
        }
        let g = self
            .groups
            .get(n as usize)
            .ok_or_else(|| bad(&self.path, format!("no group {n}")))?;
        let mut f = File::open(&self.path).map_err(|e| StorageError::io(&self.path, e))?;
        f.seek(SeekFrom::Start(g.offset))
            .map_err(|e| StorageError::io(&self.path, e))?;
        let mut compressed = vec![0u8; g.compressed as usize];
        f.read_exact(&mut compressed)
            .map_err(|e| StorageError::io(&self.path, e))?;
        if sha256(&compressed) != g.sha256 {
            return Err(bad(&self.path, format!("group {n} fails its checksum")));
        }
        let raw = zstd::bulk::decompress(&compressed, g.raw as usize)
            .map_err(|e| bad(&self.path, format!("group {n} does not decompress: {e}")))?;
        if raw.len() != g.raw as usize {
            return Err(bad(
                &self.path,
                format!("group {n} decompresses to the wrong length"),
            ));
        }
        let raw = std::sync::Arc::new(raw);
        *self.cached.lock() = Some((n, raw.clone()));
        Ok(raw)
    }

    /// The bytes of the block at `height`, from a group whose checksum holds; `None` if the
    /// archive does not hold that height.
    pub fn read(&self, height: u64) -> Result<Option<(Vec<u8>, [u8; 32])>> {
        let Some(e) = self.blocks.get(&height) else {
            return Ok(None);
        };
        let group = self.group(e.group)?;
        let bytes = group
            .get(e.offset as usize..(e.offset + e.len) as usize)
            .ok_or_else(|| bad(&self.path, format!("block {height} lies outside its group")))?;
        Ok(Some((bytes.to_vec(), e.hash)))
    }

    fn read_checked(&self, height: u64) -> Result<Vec<u8>> {
        self.read(height)?
            .map(|(b, _)| b)
            .ok_or_else(|| bad(&self.path, format!("block {height} is not in the index")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_blocks_read_back_and_damage_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = Writer::create(dir.path(), "a.cva", "main").unwrap();
        let blocks: Vec<Vec<u8>> = (0..50u8)
            .map(|i| vec![i; 1000 + (i as usize) * 37])
            .collect();
        for (i, b) in blocks.iter().enumerate() {
            w.add(i as u64 * 2 + 1, [i as u8; 32], b).unwrap();
        }
        assert!(w.add(3, [0; 32], b"late").is_err());
        let (path, size, raw) = w.finish().unwrap();
        assert!(size < raw / 10, "{size} of {raw}");
        assert!(!dir.path().join("a.cva.partial").exists());
        let a = Archive::open(&path).unwrap();
        assert_eq!(a.chain(), "main");
        for (i, b) in blocks.iter().enumerate() {
            let (bytes, hash) = a.read(i as u64 * 2 + 1).unwrap().unwrap();
            assert_eq!(&bytes, b);
            assert_eq!(hash, [i as u8; 32]);
        }
        assert!(a.read(2).unwrap().is_none());

        // A changed byte in a group is caught by its checksum; in the index, by the index's.
        let mut bytes = fs::read(&path).unwrap();
        bytes[20] ^= 1;
        fs::write(&path, &bytes).unwrap();
        let a = Archive::open(&path).unwrap();
        assert_eq!(a.read(1).unwrap_err().code(), "ARCHIVE_DAMAGED");
        bytes[20] ^= 1;
        let at = bytes.len() - FOOTER as usize - 10;
        bytes[at] ^= 1;
        fs::write(&path, &bytes).unwrap();
        assert_eq!(Archive::open(&path).unwrap_err().code(), "ARCHIVE_DAMAGED");
        fs::write(&path, &bytes[..bytes.len() - 3]).unwrap();
        assert_eq!(Archive::open(&path).unwrap_err().code(), "ARCHIVE_DAMAGED");
    }
}

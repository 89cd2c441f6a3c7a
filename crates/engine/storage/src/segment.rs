//! Append-only block segment files.
//!
//! A segment is a sequence of records:
//!
//! ```text
//! magic "CVB1" (4) | height (8, BE) | length (4, BE) | crc32 of the block bytes (4, BE) | block bytes
//! ```
//!
//! Blocks are only ever appended. A record is durable once [`Segments::append`] returns (the
//! file is synced). A crash can leave a partial record at the end of the last segment; recovery
//! truncates it.

use std::{
    fs::{self, File, OpenOptions},
    io::{Read, Seek, SeekFrom, Write},
    path::{Path, PathBuf},
};

use crate::{Result, StorageError};

const MAGIC: &[u8; 4] = b"CVB1";
/// Size of a record header.
pub const HEADER: u64 = 20;
/// A segment is closed once it grows past this size.
pub const SEGMENT_LIMIT: u64 = 256 * 1024 * 1024;
/// Largest block accepted.
pub const MAX_BLOCK: u32 = 256 * 1024 * 1024;

/// Where a block is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    pub segment: u32,
    /// Offset of the record header.
    pub offset: u64,
    /// Length of the block bytes.
    pub len: u32,
}

impl Location {
    /// Encoded as 16 bytes for the block index.
    pub fn encode(&self) -> [u8; 16] {
        let mut out = [0u8; 16];
        out[..4].copy_from_slice(&self.segment.to_be_bytes());
        out[4..12].copy_from_slice(&self.offset.to_be_bytes());
        out[12..].copy_from_slice(&self.len.to_be_bytes());
        out
    }

    pub fn decode(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != 16 {
            return None;
        }
        Some(Location {
            segment: u32::from_be_bytes(bytes[..4].try_into().ok()?),
            offset: u64::from_be_bytes(bytes[4..12].try_into().ok()?),
            len: u32::from_be_bytes(bytes[12..].try_into().ok()?),
        })
    }

    /// Offset just past this record.
    pub fn end(&self) -> u64 {
        self.offset + HEADER + self.len as u64
    }
}

/// A record read while scanning a segment.
#[derive(Debug)]
pub struct Record {
    pub height: u64,
    pub location: Location,
    pub bytes: Vec<u8>,
}

/// Outcome of scanning from an offset.
#[derive(Debug)]
pub enum Scan {
    /// A whole, intact record.
    Record(Record),
    /// Clean end of the segment.
    End,
    /// A partial or damaged record starting at this offset (a torn append).
    Torn { offset: u64 },
}

/// The segment files of one chain.
#[derive(Debug)]
pub struct Segments {
    dir: PathBuf,
    active: u32,
    file: File,
    len: u64,
}

fn segment_path(dir: &Path, n: u32) -> PathBuf {
    dir.join(format!("seg-{n:08}.blk"))
}

impl Segments {
    /// Open (or create) the segments in `dir`; the highest-numbered one is active.
    pub fn open(dir: &Path) -> Result<Self> {
        fs::create_dir_all(dir).map_err(|e| StorageError::io(dir, e))?;
        let mut highest = 0u32;
        for entry in fs::read_dir(dir).map_err(|e| StorageError::io(dir, e))? {
            let entry = entry.map_err(|e| StorageError::io(dir, e))?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if let Some(n) = name
                .strip_prefix("seg-")
                .and_then(|s| s.strip_suffix(".blk"))
                .and_then(|s| s.parse::<u32>().ok())
            {
                highest = highest.max(n);
            }
        }
        let path = segment_path(dir, highest);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .append(true)
            .open(&path)
            .map_err(|e| StorageError::io(&path, e))?;
        let len = file
            .metadata()
            .map_err(|e| StorageError::io(&path, e))?
            .len();
        Ok(Segments {
            dir: dir.to_path_buf(),
            active: highest,
            file,
            len,
        })
    }

    /// The active segment's number and length.
    pub fn active(&self) -> (u32, u64) {
        (self.active, self.len)
    }

    /// Append a block and sync it to disk.
    pub fn append(&mut self, height: u64, bytes: &[u8]) -> Result<Location> {
        let len = u32::try_from(bytes.len())
            .ok()
            .filter(|l| *l <= MAX_BLOCK)
            .ok_or_else(|| {
                StorageError::BadBlock(format!("block of {} bytes is too large", bytes.len()))
            })?;
        if self.len >= SEGMENT_LIMIT {
            self.roll()?;
        }
        let mut record = Vec::with_capacity(HEADER as usize + bytes.len());
        record.extend_from_slice(MAGIC);
        record.extend_from_slice(&height.to_be_bytes());
        record.extend_from_slice(&len.to_be_bytes());
        record.extend_from_slice(&crc32fast::hash(bytes).to_be_bytes());
        record.extend_from_slice(bytes);
        let path = segment_path(&self.dir, self.active);
        self.file
            .write_all(&record)
            .map_err(|e| StorageError::io(&path, e))?;
        self.file
            .sync_data()
            .map_err(|e| StorageError::io(&path, e))?;
        let loc = Location {
            segment: self.active,
            offset: self.len,
            len,
        };
        self.len += record.len() as u64;
        Ok(loc)
    }

    /// Close the active segment and start the next one (so the closed one can be compacted).
    pub fn roll_now(&mut self) -> Result<()> {
        if self.len > 0 {
            self.roll()?;
        }
        Ok(())
    }

    fn roll(&mut self) -> Result<()> {
        let next = self.active + 1;
        let path = segment_path(&self.dir, next);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .append(true)
            .open(&path)
            .map_err(|e| StorageError::io(&path, e))?;
        // Make the new file's directory entry durable.
        if let Ok(d) = File::open(&self.dir) {
            let _ = d.sync_all();
        }
        self.active = next;
        self.file = file;
        self.len = 0;
        Ok(())
    }

    /// Cut the active segment back to `len` bytes (dropping a torn record).
    pub fn truncate_active(&mut self, len: u64) -> Result<()> {
        let path = segment_path(&self.dir, self.active);
        self.file
            .set_len(len)
            .and_then(|_| self.file.sync_all())
            .map_err(|e| StorageError::io(&path, e))?;
        self.len = len;
        Ok(())
    }

    /// Read the block at `loc`, checking the record header and CRC.
    pub fn read(&self, loc: Location) -> Result<Vec<u8>> {
        match read_record(
            &segment_path(&self.dir, loc.segment),
            loc.segment,
            loc.offset,
        )? {
            Scan::Record(r) if r.location == loc => Ok(r.bytes),
            Scan::Record(r) => Err(StorageError::Corrupt {
                height: r.height,
                detail: format!(
                    "the block index points at a record of {} bytes, the segment holds {}",
                    loc.len, r.location.len
                ),
            }),
            _ => Err(StorageError::Corrupt {
                height: u64::MAX,
                detail: format!(
                    "segment {} has no intact record at offset {} (checksum or header mismatch)",
                    loc.segment, loc.offset
                ),
            }),
        }
    }

    /// Scan the record at `offset` of segment `segment`.
    pub fn scan(&self, segment: u32, offset: u64) -> Result<Scan> {
        let path = segment_path(&self.dir, segment);
        if !path.exists() {
            return Ok(Scan::End);
        }
        read_record(&path, segment, offset)
    }

    /// Number of the highest segment.
    pub fn last_segment(&self) -> u32 {
        self.active
    }

    /// The records of segment `segment` (height and where), read from their headers only;
    /// stops at the first record whose header is not whole. Empty if the file is absent.
    pub fn record_headers(&self, segment: u32) -> Result<Vec<(u64, Location)>> {
        let path = segment_path(&self.dir, segment);
        let mut f = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(StorageError::io(&path, e)),
        };
        let size = f.metadata().map_err(|e| StorageError::io(&path, e))?.len();
        let mut out = Vec::new();
        let mut offset = 0u64;
        let mut header = [0u8; HEADER as usize];
        while size - offset >= HEADER {
            f.seek(SeekFrom::Start(offset))
                .map_err(|e| StorageError::io(&path, e))?;
            f.read_exact(&mut header)
                .map_err(|e| StorageError::io(&path, e))?;
            if &header[..4] != MAGIC {
                break;
            }
            let height = u64::from_be_bytes(header[4..12].try_into().unwrap_or_default());
            let len = u32::from_be_bytes(header[12..16].try_into().unwrap_or_default());
            let loc = Location {
                segment,
                offset,
                len,
            };
            if loc.end() > size {
                break;
            }
            out.push((height, loc));
            offset = loc.end();
        }
        Ok(out)
    }

    /// Size in bytes of every segment file.
    pub fn total_bytes(&self) -> Result<u64> {
        let mut total = 0;
        for n in 0..=self.active {
            match fs::metadata(segment_path(&self.dir, n)) {
                Ok(m) => total += m.len(),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(StorageError::io(segment_path(&self.dir, n), e)),
            }
        }
        Ok(total)
    }

    /// Where the compacted copy of `segment` is written before it replaces the segment.
    pub fn compact_path(&self, segment: u32) -> PathBuf {
        segment_path(&self.dir, segment).with_extension("blk.compact")
    }

    /// Start the compacted copy of closed segment `segment` at `path` (from
    /// [`compact_path`]); records are written one at a time, so a segment is never held in
    /// memory. Needs no access to the open segments.
    ///
    /// [`compact_path`]: Self::compact_path
    pub fn compacted_copy(path: &Path, segment: u32) -> Result<CompactedCopy> {
        let file = File::create(path).map_err(|e| StorageError::io(path, e))?;
        Ok(CompactedCopy {
            path: path.to_path_buf(),
            file: std::io::BufWriter::with_capacity(1 << 20, file),
            segment,
            offset: 0,
        })
    }

    /// Put the compacted copy of closed segment `segment` in its place (an atomic rename), or
    /// remove the segment when `compacted` is false (none of its records is needed).
    pub fn replace(&mut self, segment: u32, compacted: bool) -> Result<()> {
        if segment == self.active {
            return Err(StorageError::BadBlock(
                "the active segment is never compacted".into(),
            ));
        }
        let path = segment_path(&self.dir, segment);
        if compacted {
            let from = self.compact_path(segment);
            fs::rename(&from, &path).map_err(|e| StorageError::io(&from, e))?;
        } else {
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(StorageError::io(&path, e)),
            }
        }
        if let Ok(d) = File::open(&self.dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }
}

/// A segment's compacted copy being written (see [`Segments::compacted_copy`]).
#[derive(Debug)]
pub struct CompactedCopy {
    path: PathBuf,
    file: std::io::BufWriter<File>,
    segment: u32,
    offset: u64,
}

impl CompactedCopy {
    /// Append a record; returns where it will be once the copy replaces the segment.
    pub fn push(&mut self, height: u64, bytes: &[u8]) -> Result<Location> {
        let len = u32::try_from(bytes.len())
            .map_err(|_| StorageError::BadBlock(format!("block {height} is too large")))?;
        let mut header = Vec::with_capacity(HEADER as usize);
        header.extend_from_slice(MAGIC);
        header.extend_from_slice(&height.to_be_bytes());
        header.extend_from_slice(&len.to_be_bytes());
        header.extend_from_slice(&crc32fast::hash(bytes).to_be_bytes());
        self.file
            .write_all(&header)
            .and_then(|_| self.file.write_all(bytes))
            .map_err(|e| StorageError::io(&self.path, e))?;
        let loc = Location {
            segment: self.segment,
            offset: self.offset,
            len,
        };
        self.offset = loc.end();
        Ok(loc)
    }

    /// Flush and sync the copy.
    pub fn finish(self) -> Result<()> {
        let path = self.path;
        let file = self
            .file
            .into_inner()
            .map_err(|e| StorageError::io(&path, e.into_error()))?;
        file.sync_all().map_err(|e| StorageError::io(&path, e))
    }
}

fn read_record(path: &Path, segment: u32, offset: u64) -> Result<Scan> {
    let mut f = File::open(path).map_err(|e| StorageError::io(path, e))?;
    let size = f.metadata().map_err(|e| StorageError::io(path, e))?.len();
    if offset >= size {
        return Ok(Scan::End);
    }
    if size - offset < HEADER {
        return Ok(Scan::Torn { offset });
    }
    f.seek(SeekFrom::Start(offset))
        .map_err(|e| StorageError::io(path, e))?;
    let mut header = [0u8; HEADER as usize];
    f.read_exact(&mut header)
        .map_err(|e| StorageError::io(path, e))?;
    if &header[..4] != MAGIC {
        return Ok(Scan::Torn { offset });
    }
    let height = u64::from_be_bytes(header[4..12].try_into().unwrap_or_default());
    let len = u32::from_be_bytes(header[12..16].try_into().unwrap_or_default());
    let crc = u32::from_be_bytes(header[16..20].try_into().unwrap_or_default());
    if len > MAX_BLOCK || size - offset - HEADER < len as u64 {
        return Ok(Scan::Torn { offset });
    }
    let mut bytes = vec![0u8; len as usize];
    f.read_exact(&mut bytes)
        .map_err(|e| StorageError::io(path, e))?;
    if crc32fast::hash(&bytes) != crc {
        return Ok(Scan::Torn { offset });
    }
    Ok(Scan::Record(Record {
        height,
        location: Location {
            segment,
            offset,
            len,
        },
        bytes,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn append_read_scan_truncate() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Segments::open(dir.path()).unwrap();
        let a = s.append(0, b"genesis").unwrap();
        let b = s.append(1, b"block one").unwrap();
        assert_eq!(s.read(a).unwrap(), b"genesis");
        assert_eq!(s.read(b).unwrap(), b"block one");
        assert_eq!(b.offset, a.end());
        match s.scan(0, b.end()).unwrap() {
            Scan::End => {}
            other => panic!("{other:?}"),
        }
        // A torn append: half a header.
        let path = segment_path(dir.path(), 0);
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"CVB1\0\0").unwrap();
        drop(f);
        let mut s = Segments::open(dir.path()).unwrap();
        match s.scan(0, b.end()).unwrap() {
            Scan::Torn { offset } => assert_eq!(offset, b.end()),
            other => panic!("{other:?}"),
        }
        s.truncate_active(b.end()).unwrap();
        let c = s.append(2, b"two").unwrap();
        assert_eq!(c.offset, b.end());
        assert_eq!(Location::decode(&c.encode()), Some(c));
    }

    #[test]
    fn a_changed_byte_is_detected() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Segments::open(dir.path()).unwrap();
        let a = s.append(0, b"some block bytes").unwrap();
        let path = segment_path(dir.path(), 0);
        let mut bytes = fs::read(&path).unwrap();
        bytes[HEADER as usize + 3] ^= 0x20;
        fs::write(&path, bytes).unwrap();
        let s = Segments::open(dir.path()).unwrap();
        assert_eq!(s.read(a).unwrap_err().code(), "STORAGE_CORRUPT");
    }
}

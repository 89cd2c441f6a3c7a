//! Ledger exports: every block of a chain in one file that restores into a new store.
//!
//! The file is what a chain leaves behind when its network is purged, and what a new node
//! is restored from. It carries the blocks exactly as they are stored (so the genesis block
//! and every configuration change travel with them) and is checked at every step of a
//! restore: the file's SHA-256, each block's length, its decoding, Merkle roots and DAG, its
//! link to the block before it, and — when the restoring node names a genesis — the first
//! block's hash.
//!
//! Layout (integers big-endian):
//!
//! ```text
//! "COVLEDG1"                         8 bytes, the format and its version
//! header length (u32), header        UTF-8 lines "key=value": chain_id, suite, blocks,
//!                                    genesis_hash, tip_hash (hex), config_heights
//!                                    (comma-separated heights that changed the config)
//! per block: height (u64), length (u32), the block's bytes
//! "END!" and the SHA-256 of every byte before it (32 bytes)
//! ```

use std::{
    fs::{self, File},
    io::{BufReader, BufWriter, Read, Write},
    path::Path,
};

use covenant_crypto::{HashAlgorithm, Suite, hash::Hasher};
use covenant_types::block::DecodedBlock;

use crate::{Result, StorageError, Store, VerifyMode};

const MAGIC: &[u8; 8] = b"COVLEDG1";
const END: &[u8; 4] = b"END!";
/// Largest header a reader accepts.
const MAX_HEADER: u32 = 64 * 1024;
/// Largest block a reader accepts (a chain's block limit is far below it).
const MAX_BLOCK: u32 = 512 * 1024 * 1024;

/// What an export holds, from its header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportSummary {
    pub chain_id: String,
    pub suite: Suite,
    /// Number of blocks (heights 0 to blocks − 1).
    pub blocks: u64,
    /// Hash of block 0, hex.
    pub genesis_hash: String,
    /// Hash of the last block, hex.
    pub tip_hash: String,
    /// Heights of the blocks that changed the chain's configuration (0 is the genesis).
    pub config_heights: Vec<u64>,
}

impl ExportSummary {
    fn header(&self) -> String {
        format!(
            "chain_id={}\nsuite={}\nblocks={}\ngenesis_hash={}\ntip_hash={}\nconfig_heights={}\n",
            self.chain_id,
            self.suite.name(),
            self.blocks,
            self.genesis_hash,
            self.tip_hash,
            self.config_heights
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(",")
        )
    }

    fn parse(text: &str) -> Result<Self> {
        let get = |key: &str| -> Result<String> {
            text.lines()
                .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
                .map(str::to_string)
                .ok_or_else(|| bad(format!("the header has no {key}")))
        };
        let suite_name = get("suite")?;
        let suite = suite_name
            .parse()
            .map_err(|_| bad(format!("the header names an unknown suite {suite_name:?}")))?;
        let blocks = get("blocks")?
            .parse()
            .map_err(|_| bad("the header's block count is not a number"))?;
        let heights = get("config_heights")?;
        let config_heights = if heights.is_empty() {
            Vec::new()
        } else {
            heights
                .split(',')
                .map(|h| h.parse())
                .collect::<std::result::Result<Vec<u64>, _>>()
                .map_err(|_| bad("the header's config heights are not numbers"))?
        };
        Ok(ExportSummary {
            chain_id: get("chain_id")?,
            suite,
            blocks,
            genesis_hash: get("genesis_hash")?,
            tip_hash: get("tip_hash")?,
            config_heights,
        })
    }
}

fn bad(detail: impl Into<String>) -> StorageError {
    StorageError::BadExport(detail.into())
}

/// A writer that hashes what passes through it.
struct Hashing<W> {
    inner: W,
    hasher: Hasher,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// A reader that hashes what passes through it.
struct Hashed<R> {
    inner: R,
    hasher: Hasher,
}

impl<R: Read> Read for Hashed<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// Write every block of `store` to `out` (written to a temporary file beside it, synced,
/// then renamed, so `out` is whole or absent). `config_heights` lists the heights that
/// changed the configuration, for the header. Calls `progress(height)` after each block.
pub fn export(
    store: &Store,
    config_heights: &[u64],
    out: &Path,
    progress: &mut dyn FnMut(u64),
) -> Result<ExportSummary> {
    let top = store
        .height()
        .ok_or_else(|| bad("the chain has no blocks to export"))?;
    let chain_id = store
        .chain_id()?
        .ok_or_else(|| bad("the store does not name its chain"))?;
    let genesis = store.block(0)?.ok_or_else(|| StorageError::Corrupt {
        height: 0,
        detail: "missing from the block index".into(),
    })?;
    let summary = ExportSummary {
        chain_id,
        suite: store.suite(),
        blocks: top + 1,
        genesis_hash: genesis.hash.to_hex(),
        tip_hash: hex(&store.tip().hash),
        config_heights: config_heights.to_vec(),
    };
    let tmp = out.with_extension("partial");
    let file = File::create(&tmp).map_err(|e| StorageError::io(&tmp, e))?;
    let mut w = Hashing {
        inner: BufWriter::new(file),
        hasher: HashAlgorithm::Sha256.hasher(),
    };
    let io = |e| StorageError::io(&tmp, e);
    let header = summary.header();
    w.write_all(MAGIC).map_err(io)?;
    w.write_all(&(header.len() as u32).to_be_bytes())
        .map_err(io)?;
    w.write_all(header.as_bytes()).map_err(io)?;
    for h in 0..=top {
        let bytes = store.block_bytes(h)?.ok_or_else(|| StorageError::Corrupt {
            height: h,
            detail: "missing from the block index".into(),
        })?;
        let len = u32::try_from(bytes.len())
            .ok()
            .filter(|l| *l <= MAX_BLOCK)
            .ok_or_else(|| StorageError::Corrupt {
                height: h,
                detail: "the block is larger than an export may carry".into(),
            })?;
        w.write_all(&h.to_be_bytes()).map_err(io)?;
        w.write_all(&len.to_be_bytes()).map_err(io)?;
        w.write_all(&bytes).map_err(io)?;
        progress(h);
    }
    w.write_all(END).map_err(io)?;
    let Hashing { inner, hasher } = w;
    let digest = hasher.finalize();
    let mut inner = inner;
    inner.write_all(digest.as_bytes()).map_err(io)?;
    let file = inner.into_inner().map_err(|e| io(e.into_error()))?;
    file.sync_all().map_err(io)?;
    drop(file);
    fs::rename(&tmp, out).map_err(|e| StorageError::io(out, e))?;
    Ok(summary)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn read_exact(r: &mut impl Read, buf: &mut [u8], what: &str) -> Result<()> {
    r.read_exact(buf).map_err(|e| match e.kind() {
        std::io::ErrorKind::UnexpectedEof => bad(format!("the file ends inside {what}")),
        _ => bad(format!("reading {what}: {e}")),
    })
}

/// Read the header of an export without reading its blocks.
pub fn summary(file: &Path) -> Result<ExportSummary> {
    let f = File::open(file).map_err(|e| StorageError::io(file, e))?;
    let mut r = BufReader::new(f);
    read_header(&mut r)
}

fn read_header(r: &mut impl Read) -> Result<ExportSummary> {
    let mut magic = [0u8; 8];
    read_exact(r, &mut magic, "the format marker")?;
    if &magic != MAGIC {
        return Err(bad("not a Covenant ledger export (COVLEDG1)"));
    }
    let mut len = [0u8; 4];
    read_exact(r, &mut len, "the header length")?;
    let len = u32::from_be_bytes(len);
    if len > MAX_HEADER {
        return Err(bad(format!("a header of {len} bytes is too large")));
    }
    let mut header = vec![0u8; len as usize];
    read_exact(r, &mut header, "the header")?;
    let text = String::from_utf8(header).map_err(|_| bad("the header is not UTF-8"))?;
    ExportSummary::parse(&text)
}

/// Restore an export into a new store in `dir` (which must hold no blocks), checking every
/// block as it goes and then the whole chain again. `genesis`, when given, is the genesis
/// block the restoring node was configured with: the export must start with it. On any
/// failure the partly restored store is removed. Calls `progress(height)` after each block.
pub fn import(
    file: &Path,
    dir: &Path,
    genesis: Option<&DecodedBlock>,
    progress: &mut dyn FnMut(u64),
) -> Result<ExportSummary> {
    if dir.join("blocks").exists() || dir.join("state.redb").exists() {
        return Err(bad(format!(
            "{} already holds a ledger; restore into an empty directory",
            dir.display()
        )));
    }
    let created = !dir.exists();
    let r = restore(file, dir, genesis, progress);
    if r.is_err() {
        if created {
            let _ = fs::remove_dir_all(dir);
        } else {
            let _ = fs::remove_dir_all(dir.join("blocks"));
            let _ = fs::remove_file(dir.join("state.redb"));
            let _ = fs::remove_file(dir.join("LOCK"));
        }
    }
    r
}

fn restore(
    file: &Path,
    dir: &Path,
    genesis: Option<&DecodedBlock>,
    progress: &mut dyn FnMut(u64),
) -> Result<ExportSummary> {
    let f = File::open(file).map_err(|e| StorageError::io(file, e))?;
    let mut r = Hashed {
        inner: BufReader::new(f),
        hasher: HashAlgorithm::Sha256.hasher(),
    };
    let summary = read_header(&mut r)?;
    if summary.blocks == 0 {
        return Err(bad("the export holds no blocks"));
    }
    if let Some(g) = genesis {
        if g.header.chain_id != summary.chain_id {
            return Err(StorageError::WrongChain {
                expected: g.header.chain_id.clone(),
                found: summary.chain_id,
            });
        }
        if g.hash.to_hex() != summary.genesis_hash {
            return Err(bad(format!(
                "the export starts from genesis {}, not the node's {}",
                summary.genesis_hash,
                g.hash.to_hex()
            )));
        }
    }
    fs::create_dir_all(dir).map_err(|e| StorageError::io(dir, e))?;
    let store = Store::open(dir, summary.suite)?;
    for expected in 0..summary.blocks {
        let mut head = [0u8; 12];
        read_exact(&mut r, &mut head, &format!("block {expected}"))?;
        let (h, len) = head.split_at(8);
        let height = u64::from_be_bytes(h.try_into().unwrap_or_default());
        let len = u32::from_be_bytes(len.try_into().unwrap_or_default());
        if height != expected {
            return Err(bad(format!(
                "block {expected} is recorded as height {height}"
            )));
        }
        if len > MAX_BLOCK {
            return Err(bad(format!("block {height} claims {len} bytes")));
        }
        let mut bytes = vec![0u8; len as usize];
        read_exact(&mut r, &mut bytes, &format!("block {height}"))?;
        let block = DecodedBlock::decode(summary.suite, &bytes, MAX_BLOCK as usize)
            .map_err(|e| bad(format!("block {height}: {e}")))?;
        if block.height() != height {
            return Err(bad(format!(
                "the record for height {height} holds block {}",
                block.height()
            )));
        }
        if height == 0 && block.hash.to_hex() != summary.genesis_hash {
            return Err(bad("block 0 is not the genesis the header names"));
        }
        if block.header.chain_id != summary.chain_id {
            return Err(StorageError::WrongChain {
                expected: summary.chain_id.clone(),
                found: block.header.chain_id.clone(),
            });
        }
        store.commit(&block)?;
        progress(height);
    }
    let mut end = [0u8; 4];
    read_exact(&mut r, &mut end, "the end marker")?;
    if &end != END {
        return Err(bad("the file goes on after its last block"));
    }
    let Hashed { inner, hasher } = r;
    let digest = hasher.finalize();
    let mut inner = inner;
    let mut stated = [0u8; 32];
    read_exact(&mut inner, &mut stated, "the checksum")?;
    if &stated != digest.as_bytes() {
        return Err(bad("the file's SHA-256 does not match its contents"));
    }
    let mut rest = [0u8; 1];
    if inner.read(&mut rest).map_err(|e| bad(e.to_string()))? != 0 {
        return Err(bad("the file goes on after its checksum"));
    }
    if hex(&store.tip().hash) != summary.tip_hash {
        return Err(bad("the last block is not the tip the header names"));
    }
    store.verify(VerifyMode::All)?;
    Ok(summary)
}

//! The journal on disk: an append-only file of checksummed records, synced on every append.
//! A torn last record (a crash mid-write) is ignored on reopen; anything else that does not
//! check out is an error, because forgetting a vote could make this validator sign twice.

use std::{
    fs::{File, OpenOptions},
    io::{Read, Write},
    path::{Path, PathBuf},
};

use covenant_crypto::Hash;

use super::{
    machine::{Entry, Journal},
    message::VoteKind,
};

/// A journal kept in a file.
#[derive(Debug)]
pub struct FileJournal {
    path: PathBuf,
    file: File,
    entries: Vec<Entry>,
    /// A failed append may have left part of a record at the end of the file; the next
    /// append first rewrites the file from `entries` (records after a torn one would be
    /// unreadable at the next open).
    torn: bool,
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&(b.len() as u32).to_be_bytes());
    out.extend_from_slice(b);
}

fn encode(e: &Entry) -> Vec<u8> {
    let mut out = Vec::new();
    let opt_round = |out: &mut Vec<u8>, r: Option<u32>| match r {
        None => out.push(0),
        Some(r) => {
            out.push(1);
            out.extend_from_slice(&r.to_be_bytes());
        }
    };
    match e {
        Entry::Voted {
            height,
            round,
            kind,
            value,
        } => {
            out.push(1);
            out.extend_from_slice(&height.to_be_bytes());
            out.extend_from_slice(&round.to_be_bytes());
            out.push(match kind {
                VoteKind::Prevote => 1,
                VoteKind::Precommit => 2,
            });
            match value {
                None => out.push(0),
                Some(h) => {
                    out.push(1);
                    out.extend_from_slice(h.as_bytes());
                }
            }
        }
        Entry::Proposed {
            height,
            round,
            pol_round,
            value,
        } => {
            out.push(2);
            out.extend_from_slice(&height.to_be_bytes());
            out.extend_from_slice(&round.to_be_bytes());
            opt_round(&mut out, *pol_round);
            put_bytes(&mut out, value);
        }
        Entry::Locked {
            height,
            round,
            value,
        }
        | Entry::Valid {
            height,
            round,
            value,
        } => {
            out.push(if matches!(e, Entry::Locked { .. }) {
                3
            } else {
                4
            });
            out.extend_from_slice(&height.to_be_bytes());
            out.extend_from_slice(&round.to_be_bytes());
            put_bytes(&mut out, value);
        }
    }
    out
}

fn decode(b: &[u8]) -> Option<Entry> {
    let mut pos = 0usize;
    let mut take = |n: usize| -> Option<&[u8]> {
        let s = b.get(pos..pos + n)?;
        pos += n;
        Some(s)
    };
    let tag = take(1)?[0];
    let height = u64::from_be_bytes(take(8)?.try_into().ok()?);
    let round = u32::from_be_bytes(take(4)?.try_into().ok()?);
    let e = match tag {
        1 => {
            let kind = match take(1)?[0] {
                1 => VoteKind::Prevote,
                2 => VoteKind::Precommit,
                _ => return None,
            };
            let value = match take(1)?[0] {
                0 => None,
                1 => Some(Hash::from_slice(take(32)?).ok()?),
                _ => return None,
            };
            Entry::Voted {
                height,
                round,
                kind,
                value,
            }
        }
        2 => {
            let pol_round = match take(1)?[0] {
                0 => None,
                1 => Some(u32::from_be_bytes(take(4)?.try_into().ok()?)),
                _ => return None,
            };
            let n = u32::from_be_bytes(take(4)?.try_into().ok()?) as usize;
            let value = take(n)?.to_vec();
            Entry::Proposed {
                height,
                round,
                pol_round,
                value,
            }
        }
        3 | 4 => {
            let n = u32::from_be_bytes(take(4)?.try_into().ok()?) as usize;
            let value = take(n)?.to_vec();
            if tag == 3 {
                Entry::Locked {
                    height,
                    round,
                    value,
                }
            } else {
                Entry::Valid {
                    height,
                    round,
                    value,
                }
            }
        }
        _ => return None,
    };
    (pos == b.len()).then_some(e)
}

fn record(e: &Entry) -> Vec<u8> {
    let payload = encode(e);
    let mut out = Vec::with_capacity(payload.len() + 8);
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    out.extend_from_slice(&crc32(&payload).to_be_bytes());
    out.extend_from_slice(&payload);
    out
}

fn crc32(data: &[u8]) -> u32 {
    crc32fast::hash(data)
}

impl FileJournal {
    /// Open (or create) the journal at `path`.
    pub fn open(path: &Path) -> std::io::Result<Self> {
        let mut entries = Vec::new();
        if path.exists() {
            let mut bytes = Vec::new();
            File::open(path)?.read_to_end(&mut bytes)?;
            let mut pos = 0;
            while pos + 8 <= bytes.len() {
                let len =
                    u32::from_be_bytes(bytes[pos..pos + 4].try_into().unwrap_or_default()) as usize;
                let crc =
                    u32::from_be_bytes(bytes[pos + 4..pos + 8].try_into().unwrap_or_default());
                let Some(payload) = bytes.get(pos + 8..pos + 8 + len) else {
                    break; // torn last record
                };
                if crc32(payload) != crc {
                    if pos + 8 + len == bytes.len() {
                        break; // torn last record
                    }
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!("{}: damaged record at offset {pos}", path.display()),
                    ));
                }
                let e = decode(payload).ok_or_else(|| {
                    std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!("{}: bad record at offset {pos}", path.display()),
                    )
                })?;
                entries.push(e);
                pos += 8 + len;
            }
        }
        let mut j = FileJournal {
            path: path.to_path_buf(),
            file: OpenOptions::new().create(true).append(true).open(path)?,
            entries: Vec::new(),
            torn: false,
        };
        j.entries = entries;
        // Rewrite without any torn tail.
        j.rewrite()?;
        Ok(j)
    }

    fn rewrite(&mut self) -> std::io::Result<()> {
        let tmp = self.path.with_extension("tmp");
        let written = File::create(&tmp).and_then(|mut f| {
            for e in &self.entries {
                f.write_all(&record(e))?;
            }
            f.sync_all()
        });
        if let Err(e) = written {
            // Leave no half copy taking space on a disk that may be full.
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
        std::fs::rename(&tmp, &self.path)?;
        if let Some(dir) = self.path.parent()
            && let Ok(d) = File::open(dir)
        {
            let _ = d.sync_all();
        }
        self.file = OpenOptions::new().append(true).open(&self.path)?;
        Ok(())
    }
}

impl Journal for FileJournal {
    fn entries(&self, height: u64) -> Vec<Entry> {
        self.entries
            .iter()
            .filter(|e| e.height() == height)
            .cloned()
            .collect()
    }

    fn append(&mut self, entry: Entry) -> std::io::Result<()> {
        if self.torn {
            self.rewrite()?;
            self.torn = false;
        }
        let written = self
            .file
            .write_all(&record(&entry))
            .and_then(|()| self.file.sync_data());
        if written.is_err() {
            // A full disk or an I/O error: the entry is not journaled (so the vote is not
            // signed), and whatever part of it reached the file is dropped before the next.
            self.torn = true;
        }
        written?;
        self.entries.push(entry);
        Ok(())
    }

    fn prune_below(&mut self, height: u64) {
        let before = self.entries.len();
        self.entries.retain(|e| e.height() >= height);
        if (self.entries.len() != before || self.torn) && self.rewrite().is_ok() {
            self.torn = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_survive_reopen_and_a_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wal");
        let entries = vec![
            Entry::Voted {
                height: 5,
                round: 0,
                kind: VoteKind::Prevote,
                value: Some(Hash([1; 32])),
            },
            Entry::Voted {
                height: 5,
                round: 1,
                kind: VoteKind::Precommit,
                value: None,
            },
            Entry::Proposed {
                height: 5,
                round: 2,
                pol_round: Some(1),
                value: vec![9; 40],
            },
            Entry::Locked {
                height: 5,
                round: 1,
                value: vec![7; 3],
            },
            Entry::Valid {
                height: 6,
                round: 0,
                value: vec![],
            },
        ];
        {
            let mut j = FileJournal::open(&path).unwrap();
            for e in &entries {
                j.append(e.clone()).unwrap();
            }
        }
        // A crash in the middle of the next append.
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(&[0, 0, 0, 50, 1, 2]).unwrap();
        drop(f);
        let mut j = FileJournal::open(&path).unwrap();
        assert_eq!(j.entries(5), entries[..4].to_vec());
        assert_eq!(j.entries(6), entries[4..].to_vec());
        j.prune_below(6);
        drop(j);
        let j = FileJournal::open(&path).unwrap();
        assert!(j.entries(5).is_empty());
        assert_eq!(j.entries(6).len(), 1);
    }

    #[test]
    fn damage_before_the_tail_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wal");
        {
            let mut j = FileJournal::open(&path).unwrap();
            for r in 0..3 {
                j.append(Entry::Voted {
                    height: 1,
                    round: r,
                    kind: VoteKind::Prevote,
                    value: None,
                })
                .unwrap();
            }
        }
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[10] ^= 0xff;
        std::fs::write(&path, bytes).unwrap();
        assert!(FileJournal::open(&path).is_err());
    }
}

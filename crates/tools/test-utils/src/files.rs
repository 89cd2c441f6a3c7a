//! Directory snapshots.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

/// Every file under `dir` with its bytes (lock files aside), to prove a failed command
/// changed nothing.
pub fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("a readable directory") {
            let p = entry.expect("a directory entry").path();
            if p.is_dir() {
                stack.push(p);
            } else if p.file_name().is_some_and(|n| n != ".lock") {
                out.insert(p.clone(), std::fs::read(&p).expect("a readable file"));
            }
        }
    }
    out
}

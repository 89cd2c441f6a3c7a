//! Careful file writing: atomic replacement, private modes, no silent overwrites.

use std::{
    fs::{self, File, OpenOptions},
    io::Write,
    path::Path,
};

#[cfg(unix)]
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};

use crate::{PkiError, Result};

/// Mode of private key files.
pub const PRIVATE_MODE: u32 = 0o600;
/// Mode of public files (certificates, CRLs, indexes).
pub const PUBLIC_MODE: u32 = 0o644;

/// Write `bytes` to `path` atomically: a temporary file in the same directory, synced, then
/// renamed over the target, then the directory synced. A crash leaves the old or the new
/// content, never a mix.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut f = open_new(&tmp, mode, true)?;
        f.write_all(bytes).map_err(|e| PkiError::io(&tmp, e))?;
        f.sync_all().map_err(|e| PkiError::io(&tmp, e))?;
        fs::rename(&tmp, path).map_err(|e| PkiError::io(path, e))?;
        sync_dir(dir)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Write `bytes` to a file that must not exist yet (unless `replace`), atomically.
pub fn write_new(path: &Path, bytes: &[u8], mode: u32, replace: bool) -> Result<()> {
    if !replace && path.exists() {
        return Err(PkiError::FileExists {
            path: path.to_path_buf(),
        });
    }
    write_atomic(path, bytes, mode)
}

fn open_new(path: &Path, mode: u32, truncate: bool) -> Result<File> {
    let mut opts = OpenOptions::new();
    opts.write(true).create(true).truncate(truncate);
    #[cfg(unix)]
    opts.mode(mode);
    let f = opts.open(path).map_err(|e| PkiError::io(path, e))?;
    // The mode given to open is filtered by the umask; set it exactly.
    #[cfg(unix)]
    f.set_permissions(fs::Permissions::from_mode(mode))
        .map_err(|e| PkiError::io(path, e))?;
    #[cfg(not(unix))]
    let _ = mode;
    Ok(f)
}

/// fsync a directory so renames and new entries in it are durable.
pub fn sync_dir(dir: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        let d = File::open(dir).map_err(|e| PkiError::io(dir, e))?;
        d.sync_all().map_err(|e| PkiError::io(dir, e))?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Create `dir` (and parents) with owner-only access if it does not exist.
pub fn create_private_dir(dir: &Path) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    fs::create_dir_all(dir).map_err(|e| PkiError::io(dir, e))?;
    #[cfg(unix)]
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
        .map_err(|e| PkiError::io(dir, e))?;
    Ok(())
}

/// Read a file as UTF-8 text.
pub fn read_text(path: &Path) -> Result<String> {
    let bytes = fs::read(path).map_err(|e| PkiError::io(path, e))?;
    String::from_utf8(bytes)
        .map_err(|_| PkiError::InvalidArgument(format!("{} is not text", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_sets_mode_and_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k.pem");
        write_atomic(&p, b"one", PRIVATE_MODE).unwrap();
        write_atomic(&p, b"two", PRIVATE_MODE).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        #[cfg(unix)]
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(
            write_new(&p, b"three", PRIVATE_MODE, false)
                .unwrap_err()
                .code(),
            "FILE_EXISTS"
        );
        assert_eq!(fs::read(&p).unwrap(), b"two");
        // No temporary files left behind.
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}

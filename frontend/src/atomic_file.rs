//! Atomic file replacement: write a temporary file in the target's directory, flush it to
//! disk, then rename it over the target. A failure at any step removes the temporary file
//! and leaves an existing target untouched, so `path` never holds a half-written file.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, Result};

/// Distinguishes temporary files of concurrent saves within one process.
static NEXT_TEMP: AtomicU64 = AtomicU64::new(0);

/// Writes `bytes` to `path` atomically (temp file + fsync + rename + directory fsync).
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let write_error = |source| Error::WriteFile {
        path: path.to_path_buf(),
        source,
    };
    let file_name = path.file_name().ok_or_else(|| {
        write_error(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "the path names no file",
        ))
    })?;
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let serial = NEXT_TEMP.fetch_add(1, Ordering::Relaxed);
    let temp = dir.join(format!(
        ".{}.{}.{serial}.tmp",
        file_name.to_string_lossy(),
        std::process::id()
    ));
    let result = write_and_rename(&temp, path, bytes);
    if result.is_err() {
        // The temp file may not exist (creation failed); nothing else to clean up.
        let _ = fs::remove_file(&temp);
    }
    result.map_err(write_error)?;
    // Make the rename itself durable. Not every platform can open a directory; the file is
    // complete either way.
    if let Ok(dir) = File::open(&dir) {
        let _ = dir.sync_all();
    }
    Ok(())
}

/// Creates `temp` (never an existing file), writes and syncs it, renames it to `path`.
fn write_and_rename(temp: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = OpenOptions::new().write(true).create_new(true).open(temp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    fs::rename(temp, path)
}

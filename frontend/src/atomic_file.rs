//! Safe file replacement: every file Kiln writes (model files, tensor files, histories, plots,
//! AOT outputs, caches) goes through [`write_atomically`], and files written in place (the
//! CSV log) first pass [`check_target`].
//!
//! - The target must be absent or a regular file: a symbolic link, a FIFO, a device node, a
//!   socket or a directory is refused with an [`Error::WriteFile`] naming the path, so a save
//!   never replaces `/dev/full` or writes through a link (checked with
//!   [`std::fs::symlink_metadata`], which does not follow links).
//! - The bytes go to a temporary file in the target's directory, named
//!   `.NAME.kiln-tmp-PID-N` (see [`is_temp_file_name`]), created exclusively (never an
//!   existing file or link), flushed, then renamed over the target; the directory is synced.
//!   A guard deletes the temporary file on every failure path (an error, a panic) unless the
//!   rename committed it, so `path` never holds a half-written file.
//! - Temporary files left by a killed process (its PID no longer runs) in the same directory
//!   are removed at the next save there. Where the platform cannot tell whether a process
//!   runs (no `/proc`), nothing is removed: such files only waste space, since their name
//!   (hidden, no model extension) is never taken for a model.
//!
//! It does NOT choose formats, encode bytes or lock files against concurrent writers.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, Result};

/// Distinguishes temporary files of concurrent saves within one process.
static NEXT_TEMP: AtomicU64 = AtomicU64::new(0);

/// The marker between a target's name and the writer's PID in a temporary file's name.
const TEMP_MARKER: &str = ".kiln-tmp-";

/// Writes `bytes` to `path` atomically (temp file + fsync + rename + directory fsync), after
/// checking that `path` is absent or a regular file ([`check_target`]).
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let write_error = |source| Error::WriteFile {
        path: path.to_path_buf(),
        source,
    };
    check_target(path)?;
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
    remove_stale_temp_files(&dir);
    let serial = NEXT_TEMP.fetch_add(1, Ordering::Relaxed);
    let temp = TempFile {
        path: dir.join(format!(
            ".{}{TEMP_MARKER}{}-{serial}",
            file_name.to_string_lossy(),
            std::process::id()
        )),
        committed: false,
    };
    temp.write_and_rename(path, bytes).map_err(write_error)?;
    // Make the rename itself durable. Not every platform can open a directory; the file is
    // complete either way.
    if let Ok(dir) = File::open(&dir) {
        let _ = dir.sync_all();
    }
    Ok(())
}

/// Ok when `path` does not exist or is a regular file; an [`Error::WriteFile`] saying what
/// is there otherwise (a symbolic link — even to a regular file —, a FIFO, a device node, a
/// socket, a directory). Does not follow symbolic links.
pub fn check_target(path: &Path) -> Result<()> {
    let refuse = |what: &str| Error::WriteFile {
        path: path.to_path_buf(),
        source: std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!(
                "it is {what}; Kiln writes only new files or over regular files \
                 (remove it or choose another path)"
            ),
        ),
    };
    let metadata = match fs::symlink_metadata(path) {
        Ok(metadata) => metadata,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(Error::WriteFile {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    let kind = metadata.file_type();
    if kind.is_file() {
        Ok(())
    } else if kind.is_symlink() {
        Err(refuse("a symbolic link"))
    } else if kind.is_dir() {
        Err(refuse("a directory"))
    } else {
        Err(refuse(special_kind(&kind)))
    }
}

/// What a file that is neither regular, a link nor a directory is.
#[cfg(unix)]
fn special_kind(kind: &fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if kind.is_fifo() {
        "a FIFO (named pipe)"
    } else if kind.is_char_device() || kind.is_block_device() {
        "a device node"
    } else if kind.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    }
}

/// What a file that is neither regular, a link nor a directory is.
#[cfg(not(unix))]
fn special_kind(_kind: &fs::FileType) -> &'static str {
    "not a regular file"
}

/// Whether `name` is the name of one of Kiln's temporary files (`.NAME.kiln-tmp-PID-N`), and
/// if so the PID of the process that wrote it. Loaders and format detection use it to never
/// take such a file for a model.
///
/// ```
/// # use kiln::atomic_file::is_temp_file_name;
/// assert_eq!(is_temp_file_name(".model.kiln.kiln-tmp-4242-0"), Some(4242));
/// assert_eq!(is_temp_file_name("model.kiln"), None);
/// ```
pub fn is_temp_file_name(name: &str) -> Option<u32> {
    let rest = name.strip_prefix('.')?;
    let (_, tail) = rest.rsplit_once(TEMP_MARKER)?;
    let (pid, serial) = tail.split_once('-')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(pid) || !digits(serial) {
        return None;
    }
    pid.parse().ok()
}

/// Removes the temporary files in `dir` whose writer no longer runs. Best effort: errors
/// are ignored (a save does not fail because an old file cannot be removed).
fn remove_stale_temp_files(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(is_temp_file_name) else {
            continue;
        };
        let is_file = entry.file_type().is_ok_and(|kind| kind.is_file());
        if is_file && process_is_gone(pid) {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// Whether no process `pid` runs, as far as this platform can tell: only with a `/proc`
/// file system; elsewhere every process counts as running (nothing is removed).
fn process_is_gone(pid: u32) -> bool {
    let proc = Path::new("/proc");
    pid != std::process::id() && proc.join("self").exists() && !proc.join(pid.to_string()).exists()
}

/// A temporary file that is deleted when dropped unless it was renamed into place.
struct TempFile {
    path: PathBuf,
    committed: bool,
}

impl TempFile {
    /// Creates the file (never an existing file or link), writes and syncs it, renames it
    /// to `path`.
    fn write_and_rename(mut self, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&self.path)
            .inspect_err(|_| {
                // Nothing was created: the name may belong to someone else's file.
                self.committed = true;
            })?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&self.path, path)?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_write_or_rename_leaves_no_temp_file() {
        let dir = std::env::temp_dir().join(format!("kiln-atomic-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        // A non-empty directory: renaming a file over it fails after the temp file exists.
        fs::create_dir_all(dir.join("target").join("inside")).unwrap();
        let temp_path = dir.join(".target.kiln-tmp-1-0");
        let temp = TempFile {
            path: temp_path.clone(),
            committed: false,
        };
        temp.write_and_rename(&dir.join("target"), b"data")
            .unwrap_err();
        assert!(!temp_path.exists(), "the temp file was left behind");

        // An existing file at the temp name is someone else's: not written, not removed.
        fs::write(&temp_path, "theirs").unwrap();
        let temp = TempFile {
            path: temp_path.clone(),
            committed: false,
        };
        temp.write_and_rename(&dir.join("out"), b"data")
            .unwrap_err();
        assert_eq!(fs::read_to_string(&temp_path).unwrap(), "theirs");
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn temp_file_names() {
        assert_eq!(is_temp_file_name(".a.h5.kiln-tmp-12-3"), Some(12));
        assert_eq!(is_temp_file_name(".a.h5.kiln-tmp-12-"), None);
        assert_eq!(is_temp_file_name("a.h5.kiln-tmp-12-3"), None);
        assert_eq!(is_temp_file_name(".a.h5.kiln-tmp-x-3"), None);
        assert_eq!(is_temp_file_name(".a.h5.12.3.tmp"), None);
    }
}

//! A fresh directory per test for the C source, the model's files and the program's output.

use std::path::PathBuf;

/// A fresh empty directory `kiln-<test>-<process id>` under the system's temporary
/// directory (anything left there by an earlier run with the same id is removed first).
/// Panics naming the directory when it cannot be created.
pub fn scratch_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kiln-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    dir
}

//! A per-process (and per-thread) temp folder for harnesses whose loader only takes a path:
//! [`write`] puts the fuzz input in a file there and returns its path. The folder is
//! `$TMPDIR/kiln-fuzz-<pid>-<thread>`; files are overwritten input after input and never
//! cleaned up between inputs (the fuzzer's process is short-lived). It does NOT sandbox the
//! loaders: a path a fuzzed file names (a tensor's `file`, ONNX external data) is opened as
//! the loader would open it.

use std::path::{Path, PathBuf};

thread_local! {
    static DIR: PathBuf = {
        let name = format!("kiln-fuzz-{}-{:?}", std::process::id(), std::thread::current().id());
        let name: String = name.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').collect();
        let dir = std::env::temp_dir().join(name);
        std::fs::create_dir_all(&dir).expect("create the fuzz scratch folder");
        dir
    };
}

/// This thread's scratch folder.
pub fn dir() -> PathBuf {
    DIR.with(Clone::clone)
}

/// Writes `bytes` to `name` (a relative path, folders created) in the scratch folder.
pub fn write(name: impl AsRef<Path>, bytes: &[u8]) -> PathBuf {
    let path = dir().join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("create a scratch sub-folder");
    }
    std::fs::write(&path, bytes).expect("write a scratch file");
    path
}

//! What every test of the `kiln` binary shares: running it and a scratch directory per test.
//! Fixture paths stay in each test file (they differ per file).

#![allow(dead_code)] // Each test binary uses its own subset.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A fresh empty directory for one test's files, named after the test binary `group` and
/// the test.
pub fn scratch_dir(group: &str, test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kiln-cli-{group}-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `kiln` with `args`.
pub fn kiln(args: &[&Path]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kiln"))
        .args(args)
        .output()
        .unwrap()
}

/// Runs `kiln` and requires success; returns stdout.
pub fn kiln_ok(args: &[&Path]) -> String {
    let out = kiln(args);
    assert!(
        out.status.success(),
        "kiln {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

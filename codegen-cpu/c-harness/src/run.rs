//! Running a built C program in its directory and capturing what it prints: [`run`] for a
//! run that may fail (a test checks the failure), [`run_ok`] for one that must succeed.

use std::ffi::OsString;
use std::path::Path;
use std::process::{Command, Output};

use crate::program::show;

/// Runs `exe` in `dir` with `args`, capturing its exit status, stdout and stderr. Panics,
/// naming the command, only when it cannot be started.
pub fn run(dir: &Path, exe: &Path, args: &[&str]) -> Output {
    Command::new(exe)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("`{}` could not start: {e}", command_line(exe, args)))
}

/// [`run`], and panics naming the command, its exit status and its stderr unless it
/// succeeded.
pub fn run_ok(dir: &Path, exe: &Path, args: &[&str]) -> Output {
    let output = run(dir, exe, args);
    assert!(
        output.status.success(),
        "`{}` in {} failed ({}):\n{}",
        command_line(exe, args),
        dir.display(),
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// `exe` and `args` as one string, for messages.
fn command_line(exe: &Path, args: &[&str]) -> String {
    let mut line = vec![exe.as_os_str().to_os_string()];
    line.extend(args.iter().map(OsString::from));
    show(&line)
}

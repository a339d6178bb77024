//! `cli_args`: the `kiln` command's argument parser (clap, from `frontend/cli/src/main.rs`,
//! compiled here as a module) on argv words split from the input at whitespace and NUL. It
//! does NOT run the command: no file is read and nothing is compiled.

#[allow(dead_code, clippy::all)] // the binary's own code; only `check_args` is called here
#[path = "../../../frontend/cli/src/main.rs"]
mod kiln_main;

use std::ffi::OsString;

/// Parses `data` as the words of a `kiln` command line (the program name is added).
pub fn cli_args(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let words = std::iter::once(OsString::from("kiln")).chain(
        text.split(|c: char| c.is_ascii_whitespace() || c == '\0')
            .filter(|w| !w.is_empty())
            .map(OsString::from),
    );
    let _ = kiln_main::check_args(words);
}

//! Why a peer-workloads run failed: a bad command line, a Kiln error, a file, the W4 child
//! process, or the JSON. Each message names what it was doing.

use std::path::PathBuf;

use crate::args::ArgsError;

/// A failed run.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// The command line.
    #[error(transparent)]
    Args(#[from] ArgsError),
    /// Building, compiling, training or running a model.
    #[error("kiln: {0}")]
    Kiln(#[from] kiln::Error),
    /// Reading or writing a file, or starting a process.
    #[error("{what} {}: {source}", path.display())]
    Io {
        /// What was being done (`"writing"`).
        what: &'static str,
        /// The file or program.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// Parsing or writing JSON.
    #[error("JSON ({what}): {source}")]
    Json {
        /// Which JSON.
        what: &'static str,
        /// The parser's error.
        source: serde_json::Error,
    },
    /// W4's child process failed or printed no result.
    #[error("the W4 child process {0}")]
    Child(String),
    /// A dataset smaller than a workload needs.
    #[error("{0}")]
    Data(String),
}

/// This program's results.
pub type Result<T> = std::result::Result<T, BenchError>;

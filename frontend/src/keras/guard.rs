//! The panic boundary around the HDF5 parser.
//!
//! Keras files are untrusted input and the HDF5 crate is a large parser: should it panic on
//! some malformed byte pattern (an index out of range, an arithmetic overflow), that panic
//! must not take the caller's program down. Every call into the crate on data read from a
//! file runs inside [`without_panics`], which turns a panic into an
//! [`Error::ModelFile`] naming the file. (An allocation failure aborts rather than panics;
//! the reader bounds every tensor by the file's size before allocating it for that reason.)
//!
//! With hdf5-pure 0.47 no panic has been seen: every single-byte flip (masks 0x01, 0x80,
//! 0xff) and every truncation of the Keras 2 `activations` and Keras 3 fixtures, and the
//! same with one mask and sampled cuts of `cnn` (about 480,000 damaged files), gave an
//! error or a successful read. The boundary stays because a newer crate version or an
//! untested pattern may differ.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use crate::error::{Error, Result};

/// Runs `parse`, turning a panic inside it into an error about `path`.
///
/// `AssertUnwindSafe` is sound here: `parse` owns or borrows read-only everything it
/// touches, and nothing it built is used after a panic.
pub(crate) fn without_panics<T>(path: &Path, parse: impl FnOnce() -> Result<T>) -> Result<T> {
    catch_unwind(AssertUnwindSafe(parse)).unwrap_or_else(|payload| {
        let reason = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown reason".to_string());
        Err(Error::ModelFile {
            path: path.to_path_buf(),
            msg: format!("malformed HDF5 data: the HDF5 reader failed ({reason})"),
        })
    })
}

//! [`MpiError`] (starting MPI failed) and the conversion of MPI return codes into
//! [`CommError`]s with MPI's own text. It does NOT decide what a failed collective means for
//! training (the caller returns the error; the job's launcher ends the other ranks).

use std::os::raw::{c_char, c_int};

use kiln::distributed::CommError;
use mpi::ffi;

/// Starting MPI failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MpiError {
    /// `MPI_Init_thread` had already been called in this process (one `init` per process).
    #[error("MPI is already initialized in this process (call kiln_mpi::init once)")]
    AlreadyInitialized,
    /// The MPI library does not grant `MPI_THREAD_MULTIPLE`, which the overlapped sums need.
    #[error(
        "the MPI library grants threading level {granted}, not MPI_THREAD_MULTIPLE (rebuild Open MPI/MPICH with thread support)"
    )]
    NoThreadMultiple {
        /// The level it granted (`Single`, `Funneled` or `Serialized`).
        granted: String,
    },
    /// An MPI call while setting up the world's communicators failed.
    #[error(transparent)]
    Comm(#[from] CommError),
}

/// `Ok(())` for `MPI_SUCCESS`, else a [`CommError::Transport`] naming `call`, with MPI's text.
pub(crate) fn check(code: c_int, call: &str) -> Result<(), CommError> {
    if code == ffi::MPI_SUCCESS as c_int {
        return Ok(());
    }
    Err(CommError::Transport(format!(
        "{call} failed: {} (MPI error {code})",
        error_text(code)
    )))
}

/// MPI's description of an error code (`MPI_Error_string`).
fn error_text(code: c_int) -> String {
    let mut text = vec![0 as c_char; ffi::MPI_MAX_ERROR_STRING as usize + 1];
    let mut len: c_int = 0;
    // SAFETY: `text` holds MPI_MAX_ERROR_STRING characters, as the call requires.
    let rc = unsafe { ffi::MPI_Error_string(code, text.as_mut_ptr(), &mut len) };
    if rc != 0 {
        return "unknown error".into();
    }
    let bytes: Vec<u8> = text[..usize::try_from(len).unwrap_or(0)]
        .iter()
        .map(|&c| c as u8)
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The element count of a buffer as MPI's `int`, or an error (MPI counts are 32-bit).
pub(crate) fn count(len: usize) -> Result<c_int, CommError> {
    c_int::try_from(len).map_err(|_| {
        CommError::Transport(format!(
            "a buffer of {len} elements is over MPI's 2^31-1 count limit (split it into buckets)"
        ))
    })
}

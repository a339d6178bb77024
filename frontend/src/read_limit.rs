//! Reading a whole input file into memory with a stated maximum: the readers of formats that
//! parse from a byte buffer (HDF5, ONNX protobufs, images) call [`read_at_most`] instead of
//! `std::fs::read`, so a huge file, a device such as `/dev/zero` or an endless pipe is an
//! error naming the file instead of an allocation without bound.
//!
//! It does NOT parse anything or decide a format's limit: each caller states its own.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use crate::error::{Error, Result};

/// The largest model file (Keras `.h5`, `.keras`, JSON config) Kiln reads into memory:
/// 16 GiB, the size limit of one `.keras` archive member too.
pub const MAX_MODEL_FILE_BYTES: u64 = 16 << 30;

/// The largest ONNX file: 2 GiB, the most a protobuf message can hold (larger models keep
/// their weights in external data files, which are read tensor by tensor).
pub const MAX_ONNX_FILE_BYTES: u64 = 2 << 30;

/// The bytes of the file at `path`, or an [`Error::Io`] naming it when it holds more than
/// `limit` bytes (`what` says what the file should be, for the message). A regular file is
/// measured before anything is read; other inputs (pipes, devices) are read up to the limit.
pub fn read_at_most(path: &Path, limit: u64, what: &str) -> Result<Vec<u8>> {
    let io_error = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let too_large = |size: String| Error::Io {
        path: path.to_path_buf(),
        source: std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("it holds {size} bytes; {what} may hold at most {limit} bytes"),
        ),
    };
    let file = File::open(path).map_err(io_error)?;
    let metadata = file.metadata().map_err(io_error)?;
    if metadata.is_file() && metadata.len() > limit {
        return Err(too_large(metadata.len().to_string()));
    }
    let capacity = if metadata.is_file() {
        usize::try_from(metadata.len()).unwrap_or(0)
    } else {
        0
    };
    let mut bytes = Vec::with_capacity(capacity);
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(io_error)?;
    if bytes.len() as u64 > limit {
        return Err(too_large(format!("more than {limit}")));
    }
    Ok(bytes)
}

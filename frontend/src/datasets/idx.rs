//! Reading gzip-compressed IDX files (the MNIST file format) of unsigned bytes.
//!
//! An IDX file is a big-endian `u32` magic number `0x0000_08_RR` (`08` = u8 elements, `RR` =
//! rank), `RR` big-endian `u32` dimensions, then the row-major `u8` payload. Images use
//! rank 3 (magic 2051), labels rank 1 (magic 2049). The file is decompressed as a stream:
//! the header first, its dimensions checked (checked arithmetic, at most
//! [`MAX_PAYLOAD_BYTES`], and at most what the compressed length can expand to), then
//! exactly the payload it declares, then one more read that must find the end (which also
//! checks the gzip CRC). So a gzip bomb costs no more memory than its header justifies.
//! The gzip decoder honours the header flags (an optional stored file name, comment, extra
//! field) and reads concatenated members, so MNIST (name stored) and Fashion-MNIST (no
//! name) both load. Every malformed input is reported as an [`Error`] naming the file.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use flate2::read::MultiGzDecoder;

use crate::error::{Error, Result};

/// Magic number of a u8 IDX file with three dimensions (images: count, rows, columns).
pub const IMAGES_MAGIC: u32 = 2051;
/// Magic number of a u8 IDX file with one dimension (labels: count).
pub const LABELS_MAGIC: u32 = 2049;

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
/// Element-type code of unsigned bytes in the magic number's third byte.
const U8_TYPE_CODE: u32 = 0x08;
/// The most payload bytes (u8 elements) an IDX file may declare: 2 GiB, which become 8 GiB of
/// f32 features in a [`crate::Dataset`]. MNIST's training images are 47 MB.
pub const MAX_PAYLOAD_BYTES: u64 = 1 << 31;
/// Deflate cannot expand data by more than about 1032:1 (per member, headers aside).
const MAX_DEFLATE_RATIO: u64 = 1032;
/// The most memory reserved ahead of data actually decompressed.
const MAX_PREALLOCATION: usize = 1 << 24;
/// How many bytes after the payload are counted for the error message.
const TRAILING_COUNT_LIMIT: u64 = 1 << 20;

/// A u8 IDX array: its dimensions and row-major payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxArray {
    dims: Vec<usize>,
    data: Vec<u8>,
}

impl IdxArray {
    /// The dimensions from the header; the first is the number of examples.
    pub fn dims(&self) -> &[usize] {
        &self.dims
    }

    /// The row-major elements; their number is the product of [`IdxArray::dims`].
    pub fn data(&self) -> &[u8] {
        &self.data
    }
}

/// Reads a gzip-compressed u8 IDX file whose magic number must equal `expected_magic`
/// ([`IMAGES_MAGIC`] or [`LABELS_MAGIC`], or `0x0800 | rank` for other ranks).
pub fn read_gz_idx(path: &Path, expected_magic: u32) -> Result<IdxArray> {
    let io_error = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(io_error)?;
    let metadata = file.metadata().map_err(io_error)?;
    // A regular file's length bounds what it can expand to; a pipe's is unknown.
    let limit = if metadata.is_file() {
        MAX_PAYLOAD_BYTES.min(metadata.len().saturating_mul(MAX_DEFLATE_RATIO))
    } else {
        MAX_PAYLOAD_BYTES
    };
    let mut file = BufReader::new(file);
    let mut magic = [0u8; 2];
    let found = read_up_to(&mut file, &mut magic).map_err(io_error)?;
    if found < 2 || magic != GZIP_MAGIC {
        return Err(Error::NotGzip {
            path: path.to_path_buf(),
            found: magic[..found].to_vec(),
        });
    }
    let stream = MultiGzDecoder::new(std::io::Cursor::new(magic).chain(file));
    read_idx(path, stream, expected_magic, limit)
}

/// Parses decompressed IDX bytes held in memory; `path` only names the file in errors.
pub fn parse_idx(path: &Path, raw: Vec<u8>, expected_magic: u32) -> Result<IdxArray> {
    read_idx(path, raw.as_slice(), expected_magic, MAX_PAYLOAD_BYTES)
}

/// Reads one IDX array from the decompressed stream `input`: the header, then exactly the
/// payload it declares (at most `max_payload` bytes, else an error before any payload is
/// read), then checks that the stream ends there. Never reads more than the header, the
/// payload and one byte beyond (plus at most 1 MiB to count trailing bytes); `path` only
/// names the file in errors. A read error of `input` is an [`Error::Gzip`].
pub fn read_idx(
    path: &Path,
    mut input: impl Read,
    expected_magic: u32,
    max_payload: u64,
) -> Result<IdxArray> {
    let gzip_error = |source| Error::Gzip {
        path: path.to_path_buf(),
        source,
    };
    let truncated = |expected, found| Error::Truncated {
        path: path.to_path_buf(),
        expected,
        found,
    };
    let mut magic = [0u8; 4];
    let found = read_up_to(&mut input, &mut magic).map_err(gzip_error)?;
    if found < 4 {
        return Err(truncated(4, found));
    }
    let magic = u32::from_be_bytes(magic);
    if magic != expected_magic || magic >> 8 != U8_TYPE_CODE {
        return Err(Error::BadMagic {
            path: path.to_path_buf(),
            expected: expected_magic,
            found: magic,
        });
    }
    let rank = (magic & 0xff) as usize;
    let header_len = 4 + 4 * rank;
    let mut dim_bytes = vec![0u8; 4 * rank];
    let found = read_up_to(&mut input, &mut dim_bytes).map_err(gzip_error)?;
    if found < dim_bytes.len() {
        return Err(truncated(header_len, 4 + found));
    }
    let dims: Vec<usize> = dim_bytes
        .chunks_exact(4)
        .map(|chunk| u32::from_be_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]) as usize)
        .collect();
    let payload_len = payload_len(path, &dims, max_payload)?;
    let mut data = Vec::with_capacity(payload_len.min(MAX_PREALLOCATION));
    (&mut input)
        .take(payload_len as u64)
        .read_to_end(&mut data)
        .map_err(gzip_error)?;
    if data.len() < payload_len {
        return Err(truncated(
            header_len.saturating_add(payload_len),
            header_len + data.len(),
        ));
    }
    let extra = std::io::copy(&mut input.take(TRAILING_COUNT_LIMIT), &mut std::io::sink())
        .map_err(gzip_error)?;
    if extra > 0 {
        return Err(Error::TrailingData {
            path: path.to_path_buf(),
            extra: extra as usize,
        });
    }
    Ok(IdxArray { dims, data })
}

/// The payload bytes `dims` declare, or an error naming the file when the product overflows
/// or exceeds `max_payload`.
fn payload_len(path: &Path, dims: &[usize], max_payload: u64) -> Result<usize> {
    let what = format!("the IDX payload of shape {dims:?}");
    let checked = ir::size::checked_numel(dims).and_then(|n| {
        ir::size::ensure_within(&what, n as u64, max_payload)?;
        Ok(n)
    });
    checked.map_err(|size| {
        let msg = if matches!(size, ir::size::SizeError::TooLarge { .. }) {
            size.to_string()
        } else {
            format!("the IDX payload: {size}")
        };
        Error::Io {
            path: path.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidData, msg),
        }
    })
}

/// Reads until `buf` is full or the input ends; returns the bytes read.
fn read_up_to(input: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match input.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

//! Reading gzip-compressed IDX files (the MNIST file format) of unsigned bytes.
//!
//! An IDX file is a big-endian `u32` magic number `0x0000_08_RR` (`08` = u8 elements, `RR` =
//! rank), `RR` big-endian `u32` dimensions, then the row-major `u8` payload. Images use
//! rank 3 (magic 2051), labels rank 1 (magic 2049). The file is read into memory once and
//! decompressed in one pass; the gzip decoder honours the header flags (an optional stored
//! file name, comment, extra field), so MNIST (name stored) and Fashion-MNIST (no name) both
//! load. Every malformed input is reported as an [`Error`] naming the file.

use std::io::Read;
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
/// The most bytes the size hint in a gzip trailer may pre-allocate.
const MAX_PREALLOCATION: usize = 1 << 30;

/// A u8 IDX array: its dimensions and row-major payload (kept inside the decompressed file
/// bytes, so parsing copies nothing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxArray {
    dims: Vec<usize>,
    raw: Vec<u8>,
    header_len: usize,
}

impl IdxArray {
    /// The dimensions from the header; the first is the number of examples.
    pub fn dims(&self) -> &[usize] {
        &self.dims
    }

    /// The row-major elements; their number is the product of [`IdxArray::dims`].
    pub fn data(&self) -> &[u8] {
        &self.raw[self.header_len..]
    }
}

/// Reads a gzip-compressed u8 IDX file whose magic number must equal `expected_magic`
/// ([`IMAGES_MAGIC`] or [`LABELS_MAGIC`], or `0x0800 | rank` for other ranks).
pub fn read_gz_idx(path: &Path, expected_magic: u32) -> Result<IdxArray> {
    let compressed = std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let raw = gunzip(path, &compressed)?;
    parse_idx(path, raw, expected_magic)
}

/// Decompresses a whole gzip file (one or more members) held in memory.
fn gunzip(path: &Path, compressed: &[u8]) -> Result<Vec<u8>> {
    if !compressed.starts_with(&GZIP_MAGIC) {
        let found = compressed[..compressed.len().min(2)].to_vec();
        return Err(Error::NotGzip {
            path: path.to_path_buf(),
            found,
        });
    }
    let mut raw = Vec::with_capacity(size_hint(compressed));
    MultiGzDecoder::new(compressed)
        .read_to_end(&mut raw)
        .map_err(|source| Error::Gzip {
            path: path.to_path_buf(),
            source,
        })?;
    Ok(raw)
}

/// The uncompressed size a single-member gzip file records in its last four bytes (modulo
/// 2^32), bounded so that a corrupt trailer cannot trigger a huge allocation.
fn size_hint(compressed: &[u8]) -> usize {
    let Some(trailer) = compressed.last_chunk::<4>() else {
        return 0;
    };
    let recorded = u32::from_le_bytes(*trailer) as usize;
    // Deflate cannot expand data by more than about 1032:1.
    recorded
        .min(compressed.len().saturating_mul(1032))
        .min(MAX_PREALLOCATION)
}

/// Parses decompressed IDX bytes; `path` only names the file in errors.
pub fn parse_idx(path: &Path, raw: Vec<u8>, expected_magic: u32) -> Result<IdxArray> {
    let truncated = |expected| Error::Truncated {
        path: path.to_path_buf(),
        expected,
        found: raw.len(),
    };
    let magic = read_be_u32(&raw, 0).ok_or_else(|| truncated(4))?;
    if magic != expected_magic || magic >> 8 != U8_TYPE_CODE {
        return Err(Error::BadMagic {
            path: path.to_path_buf(),
            expected: expected_magic,
            found: magic,
        });
    }
    let rank = (magic & 0xff) as usize;
    let header_len = 4 + 4 * rank;
    let dims = (0..rank)
        .map(|axis| read_be_u32(&raw, 4 + 4 * axis).map(|dim| dim as usize))
        .collect::<Option<Vec<usize>>>()
        .ok_or_else(|| truncated(header_len))?;
    let payload_len = dims
        .iter()
        .fold(1usize, |acc, &dim| acc.saturating_mul(dim));
    let total_len = header_len.saturating_add(payload_len);
    if raw.len() < total_len {
        return Err(truncated(total_len));
    }
    if raw.len() > total_len {
        return Err(Error::TrailingData {
            path: path.to_path_buf(),
            extra: raw.len() - total_len,
        });
    }
    Ok(IdxArray {
        dims,
        raw,
        header_len,
    })
}

fn read_be_u32(bytes: &[u8], offset: usize) -> Option<u32> {
    let chunk = bytes.get(offset..offset + 4)?;
    Some(u32::from_be_bytes(chunk.try_into().ok()?))
}

//! The on-disk cache of an image folder: every image of the listing decoded and resized once,
//! stored as raw little-endian f32 in one file, and read back instead of decoding while the
//! folder and the options are unchanged.
//!
//! The file holds a key — the decode options and, per image, its path, size in bytes and
//! modification time — followed by the pixels. A key that differs (a file added, removed or
//! rewritten; another size or colour mode) or a damaged cache file means the cache is stale:
//! the images are decoded again and the file is rewritten (atomically). Does not decode.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use crate::atomic_file::write_atomically;
use crate::datasets::image_folder::decode::DecodeSpec;
use crate::error::{Error, Result};

const MAGIC: &[u8; 8] = b"KILNIMG1";

/// The key that a cache file must hold to be used for `files` decoded with `spec`.
pub(crate) fn cache_key(files: &[PathBuf], spec: &DecodeSpec) -> Result<String> {
    let mut key = format!(
        "{}x{} {:?} {:?} max_pixels={}\n",
        spec.height, spec.width, spec.color_mode, spec.interpolation, spec.max_pixels
    );
    for file in files {
        let meta = std::fs::metadata(file).map_err(|source| Error::Io {
            path: file.clone(),
            source,
        })?;
        let modified = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        let _ = writeln!(key, "{}\t{}\t{modified}", file.display(), meta.len());
    }
    Ok(key)
}

/// The cached pixels, if `path` holds a cache for `key` with `values` values.
pub(crate) fn read(path: &Path, key: &str, values: usize) -> Option<Vec<f32>> {
    let bytes = std::fs::read(path).ok()?;
    let rest = bytes.strip_prefix(MAGIC.as_slice())?;
    let (key_len, rest) = split_u64(rest)?;
    let key_len = usize::try_from(key_len).ok()?;
    if rest.get(..key_len)? != key.as_bytes() {
        return None;
    }
    let (count, pixels) = split_u64(&rest[key_len..])?;
    if usize::try_from(count).ok()? != values || pixels.len() != values.checked_mul(4)? {
        return None;
    }
    Some(
        pixels
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
    )
}

/// Writes `pixels` under `key` to `path`, replacing any older cache atomically.
pub(crate) fn write(path: &Path, key: &str, pixels: &[f32]) -> Result<()> {
    let mut bytes = Vec::with_capacity(24 + key.len() + pixels.len() * 4);
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&(key.len() as u64).to_le_bytes());
    bytes.extend_from_slice(key.as_bytes());
    bytes.extend_from_slice(&(pixels.len() as u64).to_le_bytes());
    for value in pixels {
        bytes.extend_from_slice(&value.to_le_bytes());
    }
    write_atomically(path, &bytes)
}

fn split_u64(bytes: &[u8]) -> Option<(u64, &[u8])> {
    let (head, rest) = bytes.split_first_chunk::<8>()?;
    Some((u64::from_le_bytes(*head), rest))
}

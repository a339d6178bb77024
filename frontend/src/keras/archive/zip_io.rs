//! The zip container of a `.keras` archive: reading named members with every size checked
//! against the archive's length before anything is allocated, and writing members stored
//! (uncompressed, as Keras does).
//!
//! Untrusted input: a member's declared size is believed only when the archive could hold
//! it — a stored member's size must equal its compressed size, a deflated member may not
//! claim more than [`MAX_DEFLATE_RATIO`] times its compressed size, and neither may exceed
//! [`MAX_MEMBER_BYTES`]; reading stops at the declared size and a member that gives fewer
//! or more bytes, or fails its CRC, is an error. The zip reader runs behind the same panic
//! boundary as the HDF5 parser. This file knows nothing of what the members contain.

use std::io::{Cursor, Read, Write};
use std::path::Path;

use zip::CompressionMethod;
use zip::write::SimpleFileOptions;

use super::super::guard::without_panics;
use crate::error::{Error, Result};

/// Deflate expands data by at most about 1032:1; a member claiming more is corrupt.
pub const MAX_DEFLATE_RATIO: u64 = 1100;

/// No member is read whose declared size exceeds this (16 GiB), whatever its compression.
pub const MAX_MEMBER_BYTES: u64 = 16 << 30;

/// An [`Error::ModelFile`] about `path`.
pub(crate) fn archive_error(path: &Path, msg: impl Into<String>) -> Error {
    Error::ModelFile {
        path: path.to_path_buf(),
        msg: msg.into(),
    }
}

/// Whether `bytes` start as a zip archive does (a local file header, `PK\x03\x04`, or the
/// end-of-central-directory record of an empty archive).
pub fn is_zip(bytes: &[u8]) -> bool {
    bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06")
}

/// The members of the zip archive `bytes` (the file `path`) named in `names`, in that
/// order; `None` for a name the archive does not hold. Errors name the file and member.
pub fn read_members(bytes: &[u8], path: &Path, names: &[&str]) -> Result<Vec<Option<Vec<u8>>>> {
    if !is_zip(bytes) {
        let start = &bytes[..bytes.len().min(4)];
        return Err(archive_error(
            path,
            format!("not a zip archive (a .keras file is one; starts with {start:02x?})"),
        ));
    }
    without_panics(path, || {
        let mut archive = zip::ZipArchive::new(Cursor::new(bytes))
            .map_err(|e| archive_error(path, format!("not a readable zip archive: {e}")))?;
        names
            .iter()
            .map(|name| read_member(&mut archive, bytes.len() as u64, path, name))
            .collect()
    })
}

/// The member names of the zip archive `bytes` (nothing is decompressed); `None` when it
/// cannot be read as a zip archive. For telling formats apart, not for reporting.
pub fn member_names(bytes: &[u8]) -> Option<Vec<String>> {
    std::panic::catch_unwind(|| {
        let archive = zip::ZipArchive::new(Cursor::new(bytes)).ok()?;
        archive
            .file_names()
            .map(|n| n.ok().map(|n| n.into_owned()))
            .collect()
    })
    .ok()
    .flatten()
}

/// One member, `None` when absent.
fn read_member(
    archive: &mut zip::ZipArchive<Cursor<&[u8]>>,
    archive_len: u64,
    path: &Path,
    name: &str,
) -> Result<Option<Vec<u8>>> {
    let error = |msg: String| archive_error(path, format!("zip member `{name}`: {msg}"));
    let mut member = match archive.by_name(name) {
        Ok(member) => member,
        Err(zip::result::ZipError::FileNotFound) => return Ok(None),
        Err(e) => return Err(error(format!("cannot be opened ({e})"))),
    };
    let (size, compressed) = (member.size(), member.compressed_size());
    let bound = match member.compression() {
        CompressionMethod::Stored if size != compressed => {
            return Err(error(format!(
                "stored uncompressed, but claims {size} bytes in {compressed}"
            )));
        }
        CompressionMethod::Stored => compressed,
        CompressionMethod::Deflated => compressed.saturating_mul(MAX_DEFLATE_RATIO),
        other => {
            return Err(error(format!(
                "compression method {other:?} is not supported (stored or deflate)"
            )));
        }
    };
    if compressed > archive_len || size > bound || size > MAX_MEMBER_BYTES {
        return Err(error(format!(
            "claims {size} bytes ({compressed} compressed), more than the {archive_len}-byte \
             archive can hold"
        )));
    }
    let mut data = Vec::with_capacity(size as usize);
    (&mut member)
        .take(size.saturating_add(1))
        .read_to_end(&mut data)
        .map_err(|e| error(format!("cannot be read ({e})")))?;
    if data.len() as u64 != size {
        return Err(error(format!(
            "declares {size} bytes but holds {}",
            data.len()
        )));
    }
    Ok(Some(data))
}

/// A zip archive holding `members` (name, bytes) in that order, each stored uncompressed.
pub fn write_members(members: &[(&str, &[u8])]) -> std::result::Result<Vec<u8>, String> {
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Stored)
        .large_file(
            members
                .iter()
                .any(|(_, b)| b.len() as u64 >= u32::MAX as u64),
        );
    for (name, bytes) in members {
        writer
            .start_file(*name, options)
            .and_then(|()| writer.write_all(bytes).map_err(Into::into))
            .map_err(|e| format!("zip member `{name}`: {e}"))?;
    }
    let cursor = writer.finish().map_err(|e| format!("zip writer: {e}"))?;
    Ok(cursor.into_inner())
}

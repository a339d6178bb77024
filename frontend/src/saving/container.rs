//! The Kiln model file format (version 1), one file, all integers little-endian:
//!
//! ```text
//! "KILN"                     magic, 4 bytes
//! u32 version                FORMAT_VERSION
//! u64 n, n bytes             model config, UTF-8 JSON (Keras' {"class_name": "Sequential", ...})
//! u64 n, n bytes             training config, UTF-8 JSON (Keras' training_config, or null)
//! u64 count                  number of tensors, then per tensor:
//!   u32 n, n bytes           name (UTF-8), e.g. "dense/kernel", "dense/kernel/m", "optimizer/iterations"
//!   u32 rank, rank × u64     shape
//!   numel × f32              data, row-major
//! u32 crc                    CRC-32 (IEEE 802.3, as zlib/gzip) of every byte before it
//! ```
//!
//! CRC-32 is written here (a 256-entry table, a few lines) instead of adding a dependency;
//! it catches every burst error up to 32 bits and is the checksum `gzip -l`/zlib users know.
//! Decoding checks every length against the bytes left before allocating, so a damaged or
//! foreign file gives an [`Error::ModelFile`] naming the file and the problem, never a panic.

use std::path::Path;

use ir::{Shape, Tensor};
use serde_json::Value;

use crate::error::{Error, Result};

/// The first bytes of every Kiln model file.
pub const MAGIC: &[u8; 4] = b"KILN";
/// The format version this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// The decoded contents of a model file.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelFile {
    /// Keras-style model config.
    pub model_config: Value,
    /// Keras-style training config, `null` when the file holds weights only.
    pub training_config: Value,
    /// Weights and optimizer state, by name, in file order.
    pub tensors: Vec<(String, Tensor)>,
}

/// CRC-32 (reflected polynomial 0xEDB88320) of `bytes`.
pub fn crc32(bytes: &[u8]) -> u32 {
    const TABLE: [u32; 256] = {
        let mut table = [0u32; 256];
        let mut i = 0;
        while i < 256 {
            let mut c = i as u32;
            let mut k = 0;
            while k < 8 {
                c = if c & 1 != 0 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
                k += 1;
            }
            table[i] = c;
            i += 1;
        }
        table
    };
    !bytes.iter().fold(!0u32, |crc, &b| {
        TABLE[((crc ^ b as u32) & 0xff) as usize] ^ (crc >> 8)
    })
}

/// The file's bytes.
pub fn encode(file: &ModelFile) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    for json in [&file.model_config, &file.training_config] {
        let text = json.to_string();
        out.extend_from_slice(&(text.len() as u64).to_le_bytes());
        out.extend_from_slice(text.as_bytes());
    }
    out.extend_from_slice(&(file.tensors.len() as u64).to_le_bytes());
    for (name, tensor) in &file.tensors {
        out.extend_from_slice(&(name.len() as u32).to_le_bytes());
        out.extend_from_slice(name.as_bytes());
        let dims = tensor.shape.dims();
        out.extend_from_slice(&(dims.len() as u32).to_le_bytes());
        for &d in dims {
            out.extend_from_slice(&(d as u64).to_le_bytes());
        }
        for &x in &tensor.data {
            out.extend_from_slice(&x.to_le_bytes());
        }
    }
    let crc = crc32(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// Reads the bytes of a file, checking each length against what is left.
struct Cursor<'a> {
    path: &'a Path,
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    /// The same file, read from offset `at`.
    fn clone_at(&self, at: usize) -> Cursor<'a> {
        Cursor {
            path: self.path,
            bytes: self.bytes,
            at,
        }
    }

    fn error(&self, msg: impl Into<String>) -> Error {
        Error::ModelFile {
            path: self.path.to_path_buf(),
            msg: msg.into(),
        }
    }

    /// The next `n` bytes, or a truncation error naming `what`.
    fn take(&mut self, n: u64, what: &str) -> Result<&'a [u8]> {
        let left = self.bytes.len() - self.at;
        if n > left as u64 {
            return Err(self.error(format!(
                "truncated or damaged: {what} needs {n} bytes at offset {}, only {left} remain (file size {})",
                self.at,
                self.bytes.len()
            )));
        }
        let slice = &self.bytes[self.at..self.at + n as usize];
        self.at += n as usize;
        Ok(slice)
    }

    fn u32(&mut self, what: &str) -> Result<u32> {
        Ok(u32::from_le_bytes(
            self.take(4, what)?.try_into().expect("4 bytes"),
        ))
    }

    fn u64(&mut self, what: &str) -> Result<u64> {
        Ok(u64::from_le_bytes(
            self.take(8, what)?.try_into().expect("8 bytes"),
        ))
    }

    fn text(&mut self, n: u64, what: &str) -> Result<&'a str> {
        let at = self.at;
        let bytes = self.take(n, what)?;
        std::str::from_utf8(bytes)
            .map_err(|e| self.error(format!("{what} at offset {at} is not UTF-8: {e}")))
    }

    fn json(&mut self, what: &str) -> Result<Value> {
        let n = self.u64(&format!("the length of the {what}"))?;
        let text = self.text(n, what)?;
        serde_json::from_str(text)
            .map_err(|e| self.error(format!("the {what} is not valid JSON: {e}")))
    }

    fn tensor(&mut self, index: u64) -> Result<(String, Tensor)> {
        let what = format!("tensor {index}");
        let n = self.u32(&format!("the name length of {what}"))?;
        let name = self
            .text(n as u64, &format!("the name of {what}"))?
            .to_string();
        let rank = self.u32(&format!("the rank of tensor `{name}`"))?;
        let mut dims = Vec::new();
        let mut numel: u64 = 1;
        for _ in 0..rank {
            let d = self.u64(&format!("the shape of tensor `{name}`"))?;
            numel = numel
                .checked_mul(d)
                .ok_or_else(|| self.error(format!("tensor `{name}`: shape overflows")))?;
            dims.push(d);
        }
        let bytes = numel
            .checked_mul(4)
            .ok_or_else(|| self.error(format!("tensor `{name}`: shape overflows")))?;
        let data = self.take(bytes, &format!("the data of tensor `{name}`"))?;
        let data = data
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
            .collect();
        let shape = Shape::new(dims.into_iter().map(|d| d as usize).collect::<Vec<_>>());
        Ok((name, Tensor { shape, data }))
    }
}

/// Parses and verifies the bytes of the file at `path` (used in messages only).
pub fn decode(path: &Path, bytes: &[u8]) -> Result<ModelFile> {
    let mut cursor = Cursor { path, bytes, at: 0 };
    if bytes.len() < MAGIC.len() || &bytes[..4] != MAGIC {
        let start = &bytes[..bytes.len().min(8)];
        return Err(cursor.error(format!(
            "not a Kiln model file: it starts with {start:02x?}, expected the magic bytes \"KILN\""
        )));
    }
    cursor.at = 4;
    let version = cursor.u32("the format version")?;
    if version != FORMAT_VERSION {
        return Err(cursor.error(format!(
            "format version {version}, this build of Kiln reads version {FORMAT_VERSION}"
        )));
    }
    // The checksum first: on a damaged file it is the clearest message.
    let body_end = bytes.len().saturating_sub(4).max(cursor.at);
    let stored = cursor.clone_at(body_end).u32("the checksum")?;
    let computed = crc32(&bytes[..body_end]);
    if stored != computed {
        return Err(cursor.error(format!(
            "checksum mismatch (stored {stored:08x}, computed {computed:08x}): the file is damaged or truncated ({} bytes)",
            bytes.len()
        )));
    }
    let mut body = Cursor {
        path,
        bytes: &bytes[..body_end],
        at: cursor.at,
    };
    let model_config = body.json("model config")?;
    let training_config = body.json("training config")?;
    let count = body.u64("the tensor count")?;
    let mut tensors = Vec::new();
    for index in 0..count {
        tensors.push(body.tensor(index)?);
    }
    if body.at != body_end {
        return Err(body.error(format!(
            "{} unexpected bytes after the last tensor",
            body_end - body.at
        )));
    }
    Ok(ModelFile {
        model_config,
        training_config,
        tensors,
    })
}

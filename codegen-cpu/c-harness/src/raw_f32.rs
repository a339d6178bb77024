//! Tensors exchanged with C programs as raw little-endian f32 files (what their `fread` and
//! `fwrite` see), and f32 values as bits for bit-for-bit comparisons.

use std::path::Path;

/// Writes `data` to `path` as raw little-endian f32s; panics naming the file on failure.
pub fn write_f32(path: &Path, data: &[f32]) {
    let bytes: Vec<u8> = data.iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(path, bytes).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
}

/// The raw little-endian f32s in `path`; panics naming the file when it cannot be read.
pub fn read_f32(path: &Path) -> Vec<f32> {
    std::fs::read(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

/// The bit patterns of `values`, to compare results bit for bit (and print them readably).
pub fn bits(values: &[f32]) -> Vec<u32> {
    values.iter().map(|v| v.to_bits()).collect()
}

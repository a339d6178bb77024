//! Checksums recomputed over fuzzed bytes, so that a mutation reaches the parser behind a
//! checksum instead of its mismatch message: [`kiln_checksum`] (the CRC-32 trailer of a Kiln
//! model file) and [`zip_crcs`] (the CRC-32 of every zip member, in its central-directory
//! entry and its local header). Bytes that are not that format come back unchanged. It does
//! NOT repair anything else (lengths, offsets, sizes stay as the fuzzer made them).

use std::io::Read;

use flate2::read::DeflateDecoder;
use kiln::saving::{MAGIC, container::crc32};

/// The most bytes one zip member is inflated to while its CRC is recomputed.
const MAX_INFLATED: u64 = 16 << 20;

/// `bytes` with the last four bytes replaced by the CRC-32 of the rest, when they start with
/// the Kiln magic and hold at least a version and a checksum.
pub fn kiln_checksum(bytes: &[u8]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    if out.len() >= 12 && out.starts_with(MAGIC) {
        let body = out.len() - 4;
        let crc = crc32(&out[..body]);
        out[body..].copy_from_slice(&crc.to_le_bytes());
    }
    out
}

fn u16_at(bytes: &[u8], at: usize) -> Option<usize> {
    Some(u16::from_le_bytes(bytes.get(at..at + 2)?.try_into().ok()?) as usize)
}

fn u32_at(bytes: &[u8], at: usize) -> Option<usize> {
    Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?) as usize)
}

/// The offset of the end-of-central-directory record (signature `PK\x05\x06`), searched
/// backwards over the last 64 KiB + 22 bytes as zip readers do.
fn end_of_directory(bytes: &[u8]) -> Option<usize> {
    let lowest = bytes.len().saturating_sub(22 + 0xffff);
    (lowest..=bytes.len().checked_sub(22)?)
        .rev()
        .find(|&at| bytes[at..].starts_with(b"PK\x05\x06"))
}

/// `bytes` with every member's CRC-32 recomputed from its (inflated) data, when they are a
/// zip file whose directory can be walked; members that cannot be read keep their CRC.
pub fn zip_crcs(bytes: &[u8]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    let Some(end) = end_of_directory(bytes) else {
        return out;
    };
    let (Some(count), Some(mut entry)) = (u16_at(bytes, end + 10), u32_at(bytes, end + 16)) else {
        return out;
    };
    for _ in 0..count {
        if !bytes[entry.min(bytes.len())..].starts_with(b"PK\x01\x02") {
            break;
        }
        let Some(next) = fix_member(bytes, &mut out, entry) else {
            break;
        };
        entry = next;
    }
    out
}

/// Recomputes the CRC of the member whose central-directory entry is at `entry`; the offset
/// of the next entry.
fn fix_member(bytes: &[u8], out: &mut [u8], entry: usize) -> Option<usize> {
    let method = u16_at(bytes, entry + 10)?;
    let compressed = u32_at(bytes, entry + 20)?;
    let next = entry
        + 46
        + u16_at(bytes, entry + 28)?
        + u16_at(bytes, entry + 30)?
        + u16_at(bytes, entry + 32)?;
    let local = u32_at(bytes, entry + 42)?;
    if !bytes.get(local..)?.starts_with(b"PK\x03\x04") {
        return Some(next);
    }
    let start = local + 30 + u16_at(bytes, local + 26)? + u16_at(bytes, local + 28)?;
    let data = bytes.get(start..start.checked_add(compressed)?.min(bytes.len()))?;
    let crc = match method {
        0 => crc32(data),
        8 => {
            let mut inflated = Vec::new();
            let mut reader = DeflateDecoder::new(data).take(MAX_INFLATED);
            if reader.read_to_end(&mut inflated).is_err() {
                return Some(next);
            }
            crc32(&inflated)
        }
        _ => return Some(next),
    };
    out[entry + 16..entry + 20].copy_from_slice(&crc.to_le_bytes());
    out[local + 14..local + 18].copy_from_slice(&crc.to_le_bytes());
    Some(next)
}

//! The limits of a CSV load ([`CsvLimits`]) and the reader that enforces the row limit
//! while the CSV parser reads, so that one endless line (no newline in gigabytes) is an
//! error after the limit instead of a buffer the size of the file.
//!
//! Does not parse CSV; [`super`] checks the column count and the dataset size with these
//! limits.

use std::cell::Cell;
use std::io::Read;
use std::rc::Rc;

/// The most a CSV file may make [`super::CsvLoader::load`] hold. Each limit that is
/// exceeded is an [`crate::Error::Csv`] (or, for a row, an [`crate::Error::Io`]) naming
/// the file and the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CsvLimits {
    /// The longest row (and header) in bytes. Default 4 MiB.
    pub max_row_bytes: u64,
    /// The most columns the header may name. Default 100,000.
    pub max_columns: usize,
    /// The most bytes of f32 features or labels the dataset may hold (one-hot columns
    /// multiply a file's size by their vocabulary's). Default 4 GiB.
    pub max_dataset_bytes: u64,
}

impl Default for CsvLimits {
    fn default() -> Self {
        CsvLimits {
            max_row_bytes: 4 << 20,
            max_columns: 100_000,
            max_dataset_bytes: 4 << 30,
        }
    }
}

/// The CSV parser reads ahead at most this much past the current row.
const READ_AHEAD: u64 = 64 << 10;

/// A reader that fails once more than `max_row_bytes` (plus the parser's read-ahead) have
/// been read since the start of the current row, which the caller moves with
/// [`RowStart::set`] after each record.
pub(crate) struct RowLimitReader<R> {
    inner: R,
    consumed: u64,
    row_start: RowStart,
    max_row_bytes: u64,
}

/// The byte offset where the current row starts, shared with a [`RowLimitReader`].
#[derive(Clone, Default)]
pub(crate) struct RowStart(Rc<Cell<u64>>);

impl RowStart {
    /// The current row starts at byte `offset` of the file.
    pub(crate) fn set(&self, offset: u64) {
        self.0.set(offset);
    }
}

impl<R: Read> RowLimitReader<R> {
    /// `inner` read with rows of at most `max_row_bytes` bytes, rows starting at `row_start`.
    pub(crate) fn new(inner: R, row_start: RowStart, max_row_bytes: u64) -> Self {
        RowLimitReader {
            inner,
            consumed: 0,
            row_start,
            max_row_bytes,
        }
    }
}

impl<R: Read> Read for RowLimitReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let row_bytes = self.consumed.saturating_sub(self.row_start.0.get());
        if row_bytes > self.max_row_bytes.saturating_add(READ_AHEAD) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "a row (from byte {}) is longer than {} bytes (CsvLimits::max_row_bytes)",
                    self.row_start.0.get(),
                    self.max_row_bytes
                ),
            ));
        }
        let n = self.inner.read(buf)?;
        self.consumed += n as u64;
        Ok(n)
    }
}

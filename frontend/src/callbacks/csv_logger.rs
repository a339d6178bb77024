//! [`CSVLogger`]: one CSV row per epoch with the epoch's logged values, as Keras'
//! `keras.callbacks.CSVLogger` writes them. Does not log batches.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use crate::atomic_file::check_target;
use crate::callbacks::{Callback, Logs, Training};
use crate::error::{Error, Result};

/// Streams epoch results to a CSV file (Keras' `CSVLogger(filename, separator=",",
/// append=False)`).
///
/// The columns are `epoch` (0-based, as Keras writes it) and then the keys of the first
/// epoch's logs, sorted; when those hold no `val_` key, a `val_` column of every key is
/// added (filled with `NA` while there are no validation values). Rows end with `\r\n`
/// (Python's `csv` module's excel dialect, which Keras uses); a value is written as its
/// shortest decimal form that reads back to the same f32 (`nan`, `inf` and `-inf` as Python
/// writes them). Each row is flushed as soon as
/// it is written. With `append`, rows go after an existing file's, and the header is only
/// written when the file was missing or empty. The path must be absent or a regular file
/// (a symbolic link, FIFO or device node is refused when training begins).
///
/// ```no_run
/// # fn main() -> kiln::Result<()> {
/// use kiln::callbacks::CSVLogger;
/// use kiln::prelude::*;
/// let options = FitOptions::new(10, 32).callback(CSVLogger::new("training.log"));
/// # let _ = options;
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
#[allow(clippy::upper_case_acronyms)]
pub struct CSVLogger {
    filename: PathBuf,
    separator: u8,
    append: bool,
    keys: Option<Vec<String>>,
    writer: Option<csv::Writer<File>>,
    write_header: bool,
}

impl CSVLogger {
    /// Log to `filename`, comma-separated, replacing the file.
    pub fn new(filename: impl Into<PathBuf>) -> Self {
        CSVLogger {
            filename: filename.into(),
            separator: b',',
            append: false,
            keys: None,
            writer: None,
            write_header: true,
        }
    }

    /// The field separator (default `b','`).
    pub fn separator(mut self, separator: u8) -> Self {
        self.separator = separator;
        self
    }

    /// Append to an existing file instead of replacing it (default false).
    pub fn append(mut self, append: bool) -> Self {
        self.append = append;
        self
    }

    /// The file written to.
    pub fn filename(&self) -> &Path {
        &self.filename
    }

    fn write_error(&self, source: std::io::Error) -> Error {
        Error::WriteFile {
            path: self.filename.clone(),
            source,
        }
    }

    fn csv_error(&self, error: csv::Error) -> Error {
        match error.into_kind() {
            csv::ErrorKind::Io(source) => self.write_error(source),
            other => self.write_error(std::io::Error::other(format!("{other:?}"))),
        }
    }

    /// The columns after `epoch`: the first logs' keys sorted, plus `val_` ones if none.
    fn columns(logs: &Logs) -> Vec<String> {
        let mut keys: Vec<String> = logs.keys().map(str::to_string).collect();
        keys.sort();
        if !keys.iter().any(|k| k.starts_with("val_")) {
            let validation: Vec<String> = keys.iter().map(|k| format!("val_{k}")).collect();
            keys.extend(validation);
        }
        keys
    }
}

/// `value` as Python writes a float: the shortest round-trip decimal, `nan`, `inf`, `-inf`.
fn format_value(value: f32) -> String {
    if value.is_nan() {
        "nan".into()
    } else {
        value.to_string()
    }
}

impl Callback for CSVLogger {
    fn rank_zero_only(&self) -> bool {
        true
    }

    fn on_train_begin(&mut self, _training: &mut Training<'_>) -> Result<()> {
        // A link, FIFO or device node at the path is refused before anything opens it.
        check_target(&self.filename)?;
        self.write_header = true;
        if self.append {
            // The header is written unless the file already has a first line.
            if let Ok(file) = File::open(&self.filename) {
                let mut first = String::new();
                let read = BufReader::new(file).read_line(&mut first).unwrap_or(0);
                self.write_header = read == 0;
            }
        }
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .append(self.append)
            .truncate(!self.append)
            .open(&self.filename)
            .map_err(|e| self.write_error(e))?;
        self.writer = Some(
            csv::WriterBuilder::new()
                .delimiter(self.separator)
                .terminator(csv::Terminator::CRLF)
                .from_writer(file),
        );
        self.keys = None;
        Ok(())
    }

    fn on_epoch_end(
        &mut self,
        epoch: usize,
        logs: &Logs,
        _training: &mut Training<'_>,
    ) -> Result<()> {
        let header = self.keys.is_none() && self.write_header;
        let keys = self.keys.get_or_insert_with(|| Self::columns(logs)).clone();
        let mut row = vec![epoch.to_string()];
        row.extend(
            keys.iter()
                .map(|k| logs.get(k).map_or_else(|| "NA".to_string(), format_value)),
        );
        let Some(writer) = self.writer.as_mut() else {
            return Ok(());
        };
        let result = (|| {
            if header {
                writer.write_record(
                    std::iter::once("epoch").chain(keys.iter().map(String::as_str)),
                )?;
            }
            writer.write_record(&row)?;
            writer.flush().map_err(csv::Error::from)
        })();
        result.map_err(|e| self.csv_error(e))
    }

    fn on_train_end(&mut self, _training: &mut Training<'_>) -> Result<()> {
        if let Some(mut writer) = self.writer.take() {
            writer.flush().map_err(|e| self.write_error(e))?;
        }
        Ok(())
    }
}

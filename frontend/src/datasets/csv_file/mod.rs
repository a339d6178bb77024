//! [`CsvLoader`]: a [`Dataset`] from a CSV file with a header row, feature and label columns
//! chosen by name.
//!
//! - Numeric columns give one f32 each. Columns named with [`CsvLoader::categorical`] hold
//!   categories: their vocabulary is the distinct values sorted (numerically when every
//!   value is a number, else by string), and each becomes one-hot columns (the default) or
//!   one index column ([`CategoricalEncoding`]).
//! - The label column gives a number ([`CsvLabel::Value`], label shape `[1]`), a class
//!   index ([`CsvLabel::Int`], shape `[]`) or a one-hot row ([`CsvLabel::Categorical`]),
//!   the classes being the label column's sorted vocabulary.
//! - Values are trimmed of surrounding spaces; an empty cell is an error (no missing-value
//!   filling). Every error is an [`Error::Csv`] naming the file, the line and the column.
//!
//! Reads the whole file into memory, within [`CsvLimits`] (row length, column count,
//! dataset size: each an error naming the file); does not infer column types, parse dates
//! or stream.
//!
//! ```no_run
//! # fn main() -> kiln::Result<()> {
//! use kiln::datasets::csv_file::{CsvLabel, CsvLoader};
//! let iris = CsvLoader::new("datasets/iris/iris.csv")
//!     .label("species", CsvLabel::Categorical)
//!     .load()?;
//! assert_eq!(iris.dataset.feature_shape(), [4]);
//! assert_eq!(iris.class_names, ["setosa", "versicolor", "virginica"]);
//! # Ok(())
//! # }
//! ```

mod columns;
mod limits;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use columns::CategoricalEncoding;
pub use limits::CsvLimits;

use crate::datasets::dataset::Dataset;
use crate::error::{Error, Result};
use columns::{Column, Table};
use limits::{RowLimitReader, RowStart};

/// How the label column becomes labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CsvLabel {
    /// The number itself, label shape `[1]` (regression).
    #[default]
    Value,
    /// The index of the value in the column's sorted vocabulary, label shape `[]` (for the
    /// sparse losses).
    Int,
    /// A one-hot row over the column's sorted vocabulary, label shape `[num_classes]`.
    Categorical,
}

/// A loaded CSV file: the dataset and what each number means.
#[derive(Debug, Clone)]
pub struct CsvDataset {
    /// Features `[n, feature_names.len()]`, labels as the label mode says.
    pub dataset: Dataset,
    /// The name of each feature value: the column's name, or `column=value` for a one-hot
    /// column.
    pub feature_names: Vec<String>,
    /// The vocabulary of each categorical feature column, by column name.
    pub vocabularies: BTreeMap<String, Vec<String>>,
    /// The classes of the label column (label `i` is `class_names[i]`); empty for
    /// [`CsvLabel::Value`].
    pub class_names: Vec<String>,
}

/// Options of a CSV load. See the [module documentation](self).
#[derive(Debug, Clone)]
pub struct CsvLoader {
    path: PathBuf,
    features: Option<Vec<String>>,
    label: Option<(String, CsvLabel)>,
    categorical: Vec<String>,
    encoding: CategoricalEncoding,
    delimiter: u8,
    limits: CsvLimits,
}

impl CsvLoader {
    /// The file `path`: comma-separated, every column but the label a numeric feature.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        CsvLoader {
            path: path.into(),
            features: None,
            label: None,
            categorical: Vec::new(),
            encoding: CategoricalEncoding::OneHot,
            delimiter: b',',
            limits: CsvLimits::default(),
        }
    }

    /// The feature columns, in this order (default: every column but the label's, in file
    /// order).
    pub fn features<S: Into<String>>(mut self, names: impl IntoIterator<Item = S>) -> Self {
        self.features = Some(names.into_iter().map(Into::into).collect());
        self
    }

    /// The label column and how it becomes labels (required).
    pub fn label(mut self, name: impl Into<String>, mode: CsvLabel) -> Self {
        self.label = Some((name.into(), mode));
        self
    }

    /// Feature columns that hold categories rather than numbers.
    pub fn categorical<S: Into<String>>(mut self, names: impl IntoIterator<Item = S>) -> Self {
        self.categorical.extend(names.into_iter().map(Into::into));
        self
    }

    /// How categorical features are encoded (default [`CategoricalEncoding::OneHot`]).
    pub fn categorical_encoding(mut self, encoding: CategoricalEncoding) -> Self {
        self.encoding = encoding;
        self
    }

    /// The field separator (default `b','`).
    pub fn delimiter(mut self, delimiter: u8) -> Self {
        self.delimiter = delimiter;
        self
    }

    /// The limits of the load (default [`CsvLimits::default`]): the longest row, the most
    /// columns, the largest dataset.
    pub fn limits(mut self, limits: CsvLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Reads the file.
    pub fn load(&self) -> Result<CsvDataset> {
        let (label_name, label_mode) = self.label.clone().ok_or(Error::InvalidArgument {
            name: "label",
            msg: "name the label column with CsvLoader::label".into(),
        })?;
        let (header, rows) = self.read()?;
        let column_of = |name: &str| {
            header
                .iter()
                .position(|h| h == name)
                .ok_or_else(|| Error::Csv {
                    path: self.path.clone(),
                    line: 1,
                    column: Some(name.to_string()),
                    msg: format!("no such column (the header has: {})", header.join(", ")),
                })
        };
        let label_at = column_of(&label_name)?;
        let feature_names: Vec<String> = match &self.features {
            Some(names) => names.clone(),
            None => header
                .iter()
                .filter(|h| **h != label_name)
                .cloned()
                .collect(),
        };
        self.check_names(&feature_names, &label_name)?;
        let feature_at = feature_names
            .iter()
            .map(|n| column_of(n))
            .collect::<Result<Vec<_>>>()?;
        let column = |at: usize| Column {
            path: &self.path,
            name: &header[at],
            cells: rows
                .iter()
                .map(|(line, r)| (*line, r[at].as_str()))
                .collect(),
        };
        let columns: Vec<Column<'_>> = feature_at.iter().map(|&at| column(at)).collect();
        let (features, names, vocabularies) = self.encode_features(&columns)?;
        let label_column = column(label_at);
        let (labels, labels_shape, class_names) =
            encode_label(&label_column, label_mode, |rows, width| {
                self.check_size("the one-hot labels", rows, width)
            })?;
        let n = rows.len();
        let labels_shape: Vec<usize> = std::iter::once(n).chain(labels_shape).collect();
        Ok(CsvDataset {
            dataset: Dataset::new(features, &[n, names.len()], labels, &labels_shape)?,
            feature_names: names,
            vocabularies,
            class_names,
        })
    }

    /// The header and the rows with their 1-based line numbers, every row within
    /// [`CsvLimits::max_row_bytes`] and the header within [`CsvLimits::max_columns`].
    fn read(&self) -> Result<(Vec<String>, Rows)> {
        let error = |line: u64, msg: String| Error::Csv {
            path: self.path.clone(),
            line,
            column: None,
            msg,
        };
        let file = std::fs::File::open(&self.path).map_err(|source| Error::Io {
            path: self.path.clone(),
            source,
        })?;
        let row_start = RowStart::default();
        let input = RowLimitReader::new(file, row_start.clone(), self.limits.max_row_bytes);
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(self.delimiter)
            .has_headers(true)
            .from_reader(input);
        let header: Vec<String> = reader
            .headers()
            .map_err(|e| csv_error(&self.path, e))?
            .iter()
            .map(|h| h.trim().to_string())
            .collect();
        if header.iter().all(String::is_empty) {
            return Err(error(
                1,
                "no header row (a header naming the columns is required)".into(),
            ));
        }
        if header.len() > self.limits.max_columns {
            return Err(error(
                1,
                format!(
                    "{} columns, more than the {} allowed (CsvLimits::max_columns)",
                    header.len(),
                    self.limits.max_columns
                ),
            ));
        }
        let mut rows = Vec::new();
        let mut record = csv::StringRecord::new();
        loop {
            let start = reader.position().byte();
            row_start.set(start);
            if !reader
                .read_record(&mut record)
                .map_err(|e| csv_error(&self.path, e))?
            {
                break;
            }
            let line = record.position().map_or(0, |p| p.line());
            if reader.position().byte() - start > self.limits.max_row_bytes {
                return Err(error(
                    line,
                    format!(
                        "the row is longer than {} bytes (CsvLimits::max_row_bytes)",
                        self.limits.max_row_bytes
                    ),
                ));
            }
            rows.push((line, record.iter().map(str::to_string).collect()));
        }
        if rows.is_empty() {
            return Err(error(2, "no rows after the header".into()));
        }
        Ok((header, rows))
    }

    /// The chosen features are distinct, known as categorical only if chosen, and exclude
    /// the label.
    fn check_names(&self, features: &[String], label: &str) -> Result<()> {
        let bad = |name: &str, msg: &str| Error::Csv {
            path: self.path.clone(),
            line: 1,
            column: Some(name.to_string()),
            msg: msg.to_string(),
        };
        for (i, name) in features.iter().enumerate() {
            if name == label {
                return Err(bad(
                    name,
                    "is the label column and cannot also be a feature",
                ));
            }
            if features[..i].contains(name) {
                return Err(bad(name, "is named twice as a feature"));
            }
        }
        match self.categorical.iter().find(|c| !features.contains(c)) {
            Some(name) => Err(bad(
                name,
                "is named categorical but is not a feature column",
            )),
            None => Ok(()),
        }
    }

    /// Ok when a `rows × width` f32 matrix (`what`) fits [`CsvLimits::max_dataset_bytes`].
    fn check_size(&self, what: &str, rows: usize, width: usize) -> Result<()> {
        ir::size::f32_bytes(&[rows, width])
            .and_then(|bytes| {
                ir::size::ensure_within(
                    &format!("{what} ({rows} rows × {width} columns)"),
                    bytes,
                    self.limits.max_dataset_bytes,
                )
            })
            .map_err(|e| Error::Csv {
                path: self.path.clone(),
                line: 0,
                column: None,
                msg: format!("{e} (CsvLimits::max_dataset_bytes)"),
            })
    }

    /// The feature matrix, the name of each of its columns and the vocabularies.
    #[allow(clippy::type_complexity)]
    fn encode_features(
        &self,
        columns: &[Column<'_>],
    ) -> Result<(Vec<f32>, Vec<String>, BTreeMap<String, Vec<String>>)> {
        let rows = columns.first().map_or(0, |c| c.cells.len());
        let mut blocks = Vec::new();
        let mut names = Vec::new();
        let mut vocabularies = BTreeMap::new();
        for column in columns {
            if !self.categorical.iter().any(|c| c == column.name) {
                blocks.push(Block::Values(column.numbers()?));
                names.push(column.name.to_string());
                continue;
            }
            let (vocabulary, indices) = column.categories()?;
            match self.encoding {
                CategoricalEncoding::OneHot => {
                    names.extend(vocabulary.iter().map(|v| format!("{}={v}", column.name)));
                    blocks.push(Block::OneHot(indices, vocabulary.len()));
                }
                CategoricalEncoding::Index => {
                    names.push(column.name.to_string());
                    blocks.push(Block::Values(indices.iter().map(|&i| i as f32).collect()));
                }
            }
            vocabularies.insert(column.name.to_string(), vocabulary);
        }
        let width = names.len();
        self.check_size("the features", rows, width)?;
        let mut table = Table {
            rows,
            width,
            values: vec![0.0; rows * width],
        };
        let mut at = 0;
        for block in &blocks {
            match block {
                Block::Values(values) => {
                    table.set_column(at, values);
                    at += 1;
                }
                Block::OneHot(indices, classes) => {
                    table.set_one_hot(at, indices);
                    at += classes;
                }
            }
        }
        debug_assert_eq!(table.rows, rows);
        Ok((table.values, names, vocabularies))
    }
}

/// The rows of a file: each row's 1-based line and its cells.
type Rows = Vec<(u64, Vec<String>)>;

/// One feature column's encoded values.
enum Block {
    Values(Vec<f32>),
    OneHot(Vec<usize>, usize),
}

/// The labels, the label shape of one example and the class names; `check_size` is asked
/// before a one-hot matrix of `rows × classes` is allocated.
fn encode_label(
    column: &Column<'_>,
    mode: CsvLabel,
    check_size: impl Fn(usize, usize) -> Result<()>,
) -> Result<(Vec<f32>, Vec<usize>, Vec<String>)> {
    match mode {
        CsvLabel::Value => Ok((column.numbers()?, vec![1], Vec::new())),
        CsvLabel::Int | CsvLabel::Categorical => {
            let (classes, indices) = column.categories()?;
            if mode == CsvLabel::Int {
                let labels = indices.iter().map(|&i| i as f32).collect();
                return Ok((labels, Vec::new(), classes));
            }
            check_size(indices.len(), classes.len())?;
            let mut labels = vec![0.0; indices.len() * classes.len()];
            for (row, &index) in indices.iter().enumerate() {
                labels[row * classes.len() + index] = 1.0;
            }
            Ok((labels, vec![classes.len()], classes))
        }
    }
}

/// A reader error as an [`Error::Csv`] with its line (or an [`Error::Io`]).
fn csv_error(path: &Path, error: csv::Error) -> Error {
    let line = error.position().map_or(0, csv::Position::line);
    match error.into_kind() {
        csv::ErrorKind::Io(source) => Error::Io {
            path: path.to_path_buf(),
            source,
        },
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => Error::Csv {
            path: path.to_path_buf(),
            line,
            column: None,
            msg: format!("{len} fields where the header has {expected_len}"),
        },
        csv::ErrorKind::Utf8 { err, .. } => Error::Csv {
            path: path.to_path_buf(),
            line,
            column: None,
            msg: format!("not UTF-8 text ({err})"),
        },
        other => Error::Csv {
            path: path.to_path_buf(),
            line,
            column: None,
            msg: format!("{other:?}"),
        },
    }
}

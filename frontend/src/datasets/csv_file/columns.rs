//! One CSV column turned into f32 values: a number per row, or a category looked up in the
//! column's vocabulary (its distinct values, sorted — numerically when every value is a
//! number, else as strings by bytes) and written as an index or a one-hot row.
//!
//! Does not read files; [`super`] hands it the column's cells with their line numbers.

use std::collections::HashMap;
use std::path::Path;

use crate::error::{Error, Result};

/// How a categorical (string) column becomes numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CategoricalEncoding {
    /// One value per category, 1 for the row's category and 0 elsewhere (the default for
    /// categorical features).
    #[default]
    OneHot,
    /// The category's position in the sorted vocabulary, as an f32.
    Index,
}

/// The cells of one column, each with the 1-based line it came from.
pub(crate) struct Column<'a> {
    pub path: &'a Path,
    pub name: &'a str,
    pub cells: Vec<(u64, &'a str)>,
}

impl Column<'_> {
    fn error(&self, line: u64, msg: String) -> Error {
        Error::Csv {
            path: self.path.to_path_buf(),
            line,
            column: Some(self.name.to_string()),
            msg,
        }
    }

    /// Each cell as a number. An empty or non-numeric cell is an error naming its line.
    pub fn numbers(&self) -> Result<Vec<f32>> {
        self.cells
            .iter()
            .map(|&(line, cell)| {
                let cell = cell.trim();
                if cell.is_empty() {
                    return Err(self.error(line, "empty value".into()));
                }
                cell.parse::<f32>().map_err(|_| {
                    self.error(
                        line,
                        format!(
                            "`{cell}` is not a number (name the column as categorical to \
                             encode its values as categories)"
                        ),
                    )
                })
            })
            .collect()
    }

    /// The sorted vocabulary of the column and each row's index in it.
    pub fn categories(&self) -> Result<(Vec<String>, Vec<usize>)> {
        if let Some(&(line, _)) = self.cells.iter().find(|(_, c)| c.trim().is_empty()) {
            return Err(self.error(line, "empty value".into()));
        }
        let mut vocabulary: Vec<&str> = self.cells.iter().map(|&(_, c)| c.trim()).collect();
        vocabulary.sort_unstable();
        vocabulary.dedup();
        let numeric: Option<Vec<f64>> = vocabulary.iter().map(|v| v.parse().ok()).collect();
        if let Some(values) = numeric {
            let mut pairs: Vec<(f64, &str)> = values.into_iter().zip(vocabulary).collect();
            pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
            vocabulary = pairs.into_iter().map(|(_, v)| v).collect();
        }
        let index: HashMap<&str, usize> = vocabulary
            .iter()
            .enumerate()
            .map(|(i, &v)| (v, i))
            .collect();
        let indices = self.cells.iter().map(|&(_, c)| index[c.trim()]).collect();
        Ok((
            vocabulary.into_iter().map(str::to_string).collect(),
            indices,
        ))
    }
}

/// Row-major values of `rows` rows, `width` columns, filled one column block at a time.
pub(crate) struct Table {
    pub rows: usize,
    pub width: usize,
    pub values: Vec<f32>,
}

impl Table {
    /// Writes `values` (one per row) into column `at`.
    pub fn set_column(&mut self, at: usize, values: &[f32]) {
        for (row, &value) in values.iter().enumerate() {
            self.values[row * self.width + at] = value;
        }
    }

    /// Writes the one-hot rows of `indices` into columns `at..at + classes`.
    pub fn set_one_hot(&mut self, at: usize, indices: &[usize]) {
        for (row, &index) in indices.iter().enumerate() {
            self.values[row * self.width + at + index] = 1.0;
        }
    }
}

//! [`TrainingCurves`]: redraws the training-curve pictures ([`crate::plot`]) after every
//! epoch, so they can be watched while training runs. Does not draw anything else.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::callbacks::{Callback, Logs, Training};
use crate::error::Result;
use crate::plot::save_training_curves;

/// Writes the curves of every logged quantity (loss and each metric, training and
/// validation, one panel each) to each of its files after every epoch; a file is SVG or PNG
/// by its extension. The series start empty at the beginning of each `fit`.
///
/// ```no_run
/// # fn main() -> kiln::Result<()> {
/// use kiln::callbacks::TrainingCurves;
/// use kiln::prelude::*;
/// let curves = TrainingCurves::new(["curves.svg", "curves.png"]);
/// let options = FitOptions::new(10, 32).callback(curves);
/// # let _ = options;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct TrainingCurves {
    paths: Vec<PathBuf>,
    series: BTreeMap<String, Vec<f32>>,
}

impl TrainingCurves {
    /// Draw to each of `paths` (`.svg` or `.png`).
    pub fn new<P: Into<PathBuf>>(paths: impl IntoIterator<Item = P>) -> Self {
        TrainingCurves {
            paths: paths.into_iter().map(Into::into).collect(),
            series: BTreeMap::new(),
        }
    }

    /// The files drawn to.
    pub fn paths(&self) -> impl Iterator<Item = &Path> {
        self.paths.iter().map(PathBuf::as_path)
    }

    /// The series drawn so far in the current (or last) `fit`.
    pub fn series(&self) -> &BTreeMap<String, Vec<f32>> {
        &self.series
    }
}

impl Callback for TrainingCurves {
    fn rank_zero_only(&self) -> bool {
        true
    }

    fn on_train_begin(&mut self, _training: &mut Training<'_>) -> Result<()> {
        self.series.clear();
        Ok(())
    }

    fn on_epoch_end(
        &mut self,
        epoch: usize,
        logs: &Logs,
        _training: &mut Training<'_>,
    ) -> Result<()> {
        for (key, value) in logs.iter() {
            let values = self.series.entry(key.to_string()).or_default();
            // A key first logged in a later epoch (or a fit from a later `initial_epoch`)
            // has no values for the earlier epochs: gaps in the picture.
            if values.len() < epoch {
                values.resize(epoch, f32::NAN);
            }
            values.push(value);
        }
        for path in &self.paths {
            save_training_curves(&self.series, path)?;
        }
        Ok(())
    }
}

//! [`Dataset`]: examples held in memory as two contiguous row-major f32 buffers.
//!
//! Features have shape `[n, ...feature shape]`, labels `[n, ...label shape]`; example `i`
//! is row `i` of both. Labels are either class indices (label shape `[]`) or one-hot rows
//! (label shape `[num_classes]`); [`Dataset::one_hot`] converts the first into the second.
//! Transformations take the dataset by value and reuse its buffers where they can.

use std::fmt;

use crate::datasets::permutation::permutation;
use crate::error::{Error, Result};

/// An in-memory dataset of f32 features and f32 labels, one row per example.
///
/// `Debug` prints the length and shapes, not the (possibly millions of) values.
#[derive(Clone, PartialEq)]
pub struct Dataset {
    features: Vec<f32>,
    labels: Vec<f32>,
    /// Shape of one example's features (without the leading example axis).
    feature_shape: Vec<usize>,
    /// Shape of one example's labels (without the leading example axis).
    label_shape: Vec<usize>,
    len: usize,
}

impl Dataset {
    /// A dataset from features of shape `features_shape` (`[n, ...]`) and labels of shape
    /// `labels_shape` (`[n, ...]`). Fails unless both shapes have rank ≥ 1, agree on `n` and
    /// match the number of values given.
    pub fn new(
        features: Vec<f32>,
        features_shape: &[usize],
        labels: Vec<f32>,
        labels_shape: &[usize],
    ) -> Result<Self> {
        check_shape("features", features.len(), features_shape)?;
        check_shape("labels", labels.len(), labels_shape)?;
        if features_shape[0] != labels_shape[0] {
            return Err(Error::DatasetShape(format!(
                "features shape {features_shape:?} has {} examples but labels shape {labels_shape:?} has {}",
                features_shape[0], labels_shape[0]
            )));
        }
        Ok(Dataset {
            features,
            labels,
            feature_shape: features_shape[1..].to_vec(),
            label_shape: labels_shape[1..].to_vec(),
            len: features_shape[0],
        })
    }

    /// Like [`Dataset::new`], copying the values from slices.
    pub fn from_slices(
        features: &[f32],
        features_shape: &[usize],
        labels: &[f32],
        labels_shape: &[usize],
    ) -> Result<Self> {
        Dataset::new(
            features.to_vec(),
            features_shape,
            labels.to_vec(),
            labels_shape,
        )
    }

    /// Number of examples.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the dataset holds no examples.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Shape of one example's features, e.g. `[28, 28, 1]` for MNIST.
    pub fn feature_shape(&self) -> &[usize] {
        &self.feature_shape
    }

    /// Shape of one example's labels: `[num_classes]` when one-hot, `[]` for class indices.
    pub fn label_shape(&self) -> &[usize] {
        &self.label_shape
    }

    /// All features, row-major, shape `[len, ...feature_shape]`.
    pub fn features(&self) -> &[f32] {
        &self.features
    }

    /// All labels, row-major, shape `[len, ...label_shape]`.
    pub fn labels(&self) -> &[f32] {
        &self.labels
    }

    /// Number of f32 values in one example's features.
    pub fn feature_size(&self) -> usize {
        self.feature_shape.iter().product()
    }

    /// Number of f32 values in one example's labels.
    pub fn label_size(&self) -> usize {
        self.label_shape.iter().product()
    }

    /// Example `index` as `(features, labels)`, or `None` past the end.
    pub fn example(&self, index: usize) -> Option<(&[f32], &[f32])> {
        (index < self.len).then(|| {
            (
                self.feature_rows(index, index + 1),
                self.label_rows(index, index + 1),
            )
        })
    }

    /// The feature and label buffers, giving up the dataset.
    pub fn into_parts(self) -> (Vec<f32>, Vec<f32>) {
        (self.features, self.labels)
    }

    /// Splits into the first `⌊len · ratio⌋` examples and the rest, keeping the order (no
    /// shuffle, as KotlinDL's `split`). `ratio` must lie in `[0, 1]`. Only the second part
    /// is copied.
    pub fn split(mut self, ratio: f64) -> Result<(Dataset, Dataset)> {
        if !(0.0..=1.0).contains(&ratio) {
            return Err(Error::InvalidArgument {
                name: "ratio",
                msg: format!("{ratio} is not in [0, 1]"),
            });
        }
        let first_len = (self.len as f64 * ratio) as usize;
        let rest = Dataset {
            features: self.features.split_off(first_len * self.feature_size()),
            labels: self.labels.split_off(first_len * self.label_size()),
            feature_shape: self.feature_shape.clone(),
            label_shape: self.label_shape.clone(),
            len: self.len - first_len,
        };
        self.len = first_len;
        Ok((self, rest))
    }

    /// Reorders the examples by a random permutation determined by `seed`. The data is laid
    /// out again contiguously (one copy), so batches stay slices of it.
    pub fn shuffle(&mut self, seed: u64) {
        let order = permutation(self.len, seed);
        self.features = gather_rows(&self.features, self.feature_size(), &order);
        self.labels = gather_rows(&self.labels, self.label_size(), &order);
    }

    /// The dataset with its examples shuffled; see [`Dataset::shuffle`].
    pub fn shuffled(mut self, seed: u64) -> Dataset {
        self.shuffle(seed);
        self
    }

    /// Turns class-index labels (label shape `[]` or `[1]`) into one-hot rows of shape
    /// `[num_classes]`. Fails if a label is not a whole number in `0..num_classes`.
    pub fn one_hot(self, num_classes: usize) -> Result<Dataset> {
        if num_classes == 0 {
            return Err(Error::InvalidArgument {
                name: "num_classes",
                msg: "must be at least 1".into(),
            });
        }
        if self.label_size() != 1 {
            return Err(Error::DatasetShape(format!(
                "one_hot needs one class index per example, but the label shape is {:?}",
                self.label_shape
            )));
        }
        let mut one_hot = vec![0.0; self.len * num_classes];
        for (index, (&value, row)) in self
            .labels
            .iter()
            .zip(one_hot.chunks_exact_mut(num_classes))
            .enumerate()
        {
            let class = class_index(value, num_classes).ok_or(Error::InvalidLabel {
                index,
                value,
                num_classes,
            })?;
            row[class] = 1.0;
        }
        Ok(Dataset {
            labels: one_hot,
            label_shape: vec![num_classes],
            ..self
        })
    }

    /// Applies `f` to every feature value.
    pub fn map_features(mut self, f: impl Fn(f32) -> f32) -> Dataset {
        self.features.iter_mut().for_each(|x| *x = f(*x));
        self
    }

    /// Multiplies every feature value by `factor` (e.g. `1.0 / 255.0` for raw pixels).
    pub fn scale_features(self, factor: f32) -> Dataset {
        self.map_features(|x| x * factor)
    }

    /// The smallest and largest feature values, or `None` when there are none.
    pub fn feature_range(&self) -> Option<(f32, f32)> {
        let first = *self.features.first()?;
        Some(
            self.features
                .iter()
                .fold((first, first), |(lo, hi), &x| (lo.min(x), hi.max(x))),
        )
    }

    /// Features of examples `start..end`, contiguous.
    pub(crate) fn feature_rows(&self, start: usize, end: usize) -> &[f32] {
        let size = self.feature_size();
        &self.features[start * size..end * size]
    }

    /// Labels of examples `start..end`, contiguous.
    pub(crate) fn label_rows(&self, start: usize, end: usize) -> &[f32] {
        let size = self.label_size();
        &self.labels[start * size..end * size]
    }
}

impl fmt::Debug for Dataset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dataset")
            .field("len", &self.len)
            .field("feature_shape", &self.feature_shape)
            .field("label_shape", &self.label_shape)
            .finish_non_exhaustive()
    }
}

/// Checks that `shape` has rank ≥ 1 and `len` elements.
fn check_shape(what: &str, len: usize, shape: &[usize]) -> Result<()> {
    if shape.is_empty() {
        return Err(Error::DatasetShape(format!(
            "{what} shape is [], it needs a leading example axis"
        )));
    }
    let numel = shape
        .iter()
        .try_fold(1usize, |acc, &dim| acc.checked_mul(dim));
    if numel != Some(len) {
        return Err(Error::DatasetShape(format!(
            "{what} shape {shape:?} does not match {len} values"
        )));
    }
    Ok(())
}

/// `value` as a class index in `0..num_classes`, if it is one.
fn class_index(value: f32, num_classes: usize) -> Option<usize> {
    let in_range = value >= 0.0 && value < num_classes as f32 && value.fract() == 0.0;
    in_range.then_some(value as usize)
}

/// Rows of `row_size` values from `data`, in the order given.
fn gather_rows(data: &[f32], row_size: usize, order: &[usize]) -> Vec<f32> {
    let mut out = Vec::with_capacity(data.len());
    for &row in order {
        out.extend_from_slice(&data[row * row_size..(row + 1) * row_size]);
    }
    out
}

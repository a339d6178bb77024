//! [`MultiDataset`]: examples for models with several inputs or outputs — one feature tensor
//! per model input and one label tensor per model output, row `i` of each being example
//! `i` (Keras' `fit(x=[x1, x2], y=[y1, y2])`).
//!
//! It only holds and checks the tensors; which graph input each feeds is the model's
//! business. A one-input one-output [`super::Dataset`] converts into one.

use ir::Tensor;

use super::Dataset;
use crate::error::{Error, Result};

/// One tensor of a [`MultiDataset`]: values row-major, shape `[n, ...per-example shape]`.
#[derive(Debug, Clone, PartialEq)]
struct Column {
    values: Vec<f32>,
    /// Per-example shape (without the leading example axis).
    shape: Vec<usize>,
}

impl Column {
    fn of(what: &str, k: usize, tensor: Tensor) -> Result<(Column, usize)> {
        let dims = tensor.shape.dims().to_vec();
        let Some((&n, rest)) = dims.split_first() else {
            return Err(Error::DatasetShape(format!(
                "{what} {k} is a scalar; it needs a leading example axis"
            )));
        };
        if tensor.data.len() != tensor.shape.numel() {
            return Err(Error::DatasetShape(format!(
                "{what} {k} has shape {dims:?} but {} values",
                tensor.data.len()
            )));
        }
        let column = Column {
            values: tensor.data,
            shape: rest.to_vec(),
        };
        Ok((column, n))
    }

    fn size(&self) -> usize {
        self.shape.iter().product()
    }
}

/// Examples held in memory as several feature tensors and several label tensors with the
/// same number of rows: the data of a model with several inputs and outputs.
///
/// ```
/// # fn main() -> kiln::Result<()> {
/// use kiln::Tensor;
/// use kiln::datasets::MultiDataset;
/// let a = Tensor::new([3, 2], vec![0.0; 6]).expect("6 values");
/// let b = Tensor::new([3, 4], vec![0.0; 12]).expect("12 values");
/// let y = Tensor::new([3, 1], vec![1.0, 0.0, 1.0]).expect("3 values");
/// let data = MultiDataset::new(vec![a, b], vec![y])?;
/// assert_eq!((data.len(), data.feature_count(), data.label_count()), (3, 2, 1));
/// assert_eq!(data.feature_shape(1), Some(&[4][..]));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct MultiDataset {
    features: Vec<Column>,
    labels: Vec<Column>,
    len: usize,
}

impl MultiDataset {
    /// A dataset of `features` (one tensor per model input, in order) and `labels` (one per
    /// model output, in order), each shaped `[n, ...]` with the same `n`. Fails unless there
    /// is at least one of each and every tensor has a leading example axis of `n` rows.
    pub fn new(features: Vec<Tensor>, labels: Vec<Tensor>) -> Result<Self> {
        if features.is_empty() || labels.is_empty() {
            return Err(Error::DatasetShape(format!(
                "a MultiDataset needs at least one features and one labels tensor, got {} and {}",
                features.len(),
                labels.len()
            )));
        }
        let mut len = None;
        let mut columns = |what: &str, tensors: Vec<Tensor>| -> Result<Vec<Column>> {
            let mut out = Vec::with_capacity(tensors.len());
            for (k, tensor) in tensors.into_iter().enumerate() {
                let (column, n) = Column::of(what, k, tensor)?;
                let expected = *len.get_or_insert(n);
                if expected != n {
                    return Err(Error::DatasetShape(format!(
                        "{what} {k} has {n} examples but the first tensor has {expected}"
                    )));
                }
                out.push(column);
            }
            Ok(out)
        };
        let features = columns("features", features)?;
        let labels = columns("labels", labels)?;
        Ok(MultiDataset {
            features,
            labels,
            len: len.expect("at least one tensor"),
        })
    }

    /// Number of examples.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the dataset holds no examples.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Number of feature tensors (model inputs).
    pub fn feature_count(&self) -> usize {
        self.features.len()
    }

    /// Number of label tensors (model outputs).
    pub fn label_count(&self) -> usize {
        self.labels.len()
    }

    /// Per-example shape of feature tensor `k`.
    pub fn feature_shape(&self, k: usize) -> Option<&[usize]> {
        self.features.get(k).map(|c| c.shape.as_slice())
    }

    /// Per-example shape of label tensor `k`.
    pub fn label_shape(&self, k: usize) -> Option<&[usize]> {
        self.labels.get(k).map(|c| c.shape.as_slice())
    }

    /// Feature tensor `k`'s values, row-major, with the number of values per example.
    pub fn feature_values(&self, k: usize) -> Option<(&[f32], usize)> {
        self.features
            .get(k)
            .map(|c| (c.values.as_slice(), c.size()))
    }

    /// Label tensor `k`'s values, row-major, with the number of values per example.
    pub fn label_values(&self, k: usize) -> Option<(&[f32], usize)> {
        self.labels.get(k).map(|c| (c.values.as_slice(), c.size()))
    }
}

impl From<Dataset> for MultiDataset {
    /// The one features tensor and one labels tensor of `dataset`.
    fn from(dataset: Dataset) -> Self {
        let len = dataset.len();
        let feature_shape = dataset.feature_shape().to_vec();
        let label_shape = dataset.label_shape().to_vec();
        let (features, labels) = dataset.into_parts();
        MultiDataset {
            features: vec![Column {
                values: features,
                shape: feature_shape,
            }],
            labels: vec![Column {
                values: labels,
                shape: label_shape,
            }],
            len,
        }
    }
}

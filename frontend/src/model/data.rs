//! [`TrainingData`]: what `Model::fit`, `Model::evaluate` and validation accept — a
//! [`Dataset`], a [`MultiDataset`] (models with several inputs or outputs), either with one
//! weight per example, `(features, labels)` or `(features, labels, sample_weight)` ndarray
//! arrays (labels f32 or integer class indices), or a [`Generator`] of batches — each turned
//! into a [`DataSource`]. Also the per-example weights `fit` derives from `sample_weight` and
//! `class_weight`.
//!
//! Arrays are copied once into a [`Dataset`] (row-major f32); a dataset is borrowed. This
//! module does not batch or shuffle (that is `feed`).

use std::borrow::Cow;
use std::collections::BTreeMap;

use crate::datasets::{Dataset, Generator, MultiDataset};
use crate::error::{Error, Result};
use crate::model::feed::Rows;

/// Training or evaluation data in one of the forms `fit` and `evaluate` read.
pub enum DataSource<'a> {
    /// Examples in memory, optionally with one weight per example (Keras' `sample_weight`).
    Memory {
        /// The examples.
        dataset: Cow<'a, Dataset>,
        /// One weight per example, if given.
        sample_weight: Option<Cow<'a, [f32]>>,
    },
    /// Examples of a model with several inputs or outputs in memory, optionally with one
    /// weight per example (applied to every output's loss).
    Multi {
        /// The examples.
        dataset: &'a MultiDataset,
        /// One weight per example, if given.
        sample_weight: Option<Cow<'a, [f32]>>,
    },
    /// Batches read from a generator, as they come (`fit` needs `steps_per_epoch`; models
    /// with one input and one output only).
    Batches(Generator<'a>),
}

impl DataSource<'_> {
    /// The examples in memory as rows (unweighted) and their sample weights; `None` for a
    /// generator.
    pub(crate) fn rows(&self) -> Option<(Rows<'_>, Option<&[f32]>)> {
        match self {
            DataSource::Memory {
                dataset,
                sample_weight,
            } => Some((Rows::of(dataset, None), sample_weight.as_deref())),
            DataSource::Multi {
                dataset,
                sample_weight,
            } => Some((Rows::of_multi(dataset), sample_weight.as_deref())),
            DataSource::Batches(_) => None,
        }
    }
}

impl std::fmt::Debug for DataSource<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DataSource::Memory {
                dataset,
                sample_weight,
            } => f
                .debug_struct("Memory")
                .field("dataset", dataset)
                .field("weighted", &sample_weight.is_some())
                .finish(),
            DataSource::Multi {
                dataset,
                sample_weight,
            } => f
                .debug_struct("Multi")
                .field("dataset", dataset)
                .field("weighted", &sample_weight.is_some())
                .finish(),
            DataSource::Batches(generator) => f.debug_tuple("Batches").field(generator).finish(),
        }
    }
}

/// Data that `fit`, `evaluate` and `FitOptions::validation_data` accept: `&Dataset`
/// (or `&mut`), `(&Dataset, &[f32])` (with sample weights), `&MultiDataset` or
/// `(&MultiDataset, &[f32])` (several inputs or outputs), a [`Generator`] (by value or
/// `&mut`), and with the `ndarray` feature `(&x, &y)` or `(&x, &y, &sample_weight)` arrays.
///
/// ```
/// use kiln::prelude::*;
/// use kiln::{losses::SparseCategoricalCrossentropy, metrics::Accuracy, optimizers::SGD};
/// use ndarray::{Array1, Array2};
/// # fn main() -> kiln::Result<()> {
/// let x = Array2::<f32>::from_shape_fn((6, 2), |(i, j)| (i + j) as f32 / 6.0);
/// let y = Array1::<i64>::from_vec(vec![0, 1, 2, 0, 1, 2]);
/// let mut model = sequential![Input::new([2]), Dense::new(3).activation(Activation::Softmax)];
/// model.compile(SGD::new().learning_rate(0.1), SparseCategoricalCrossentropy::new(), [Accuracy])?;
/// let history = model.fit_with((&x, &y), FitOptions::new(2, 3).verbose(0))?;
/// assert_eq!(history.epochs(), 2);
/// let probabilities = model.predict(&x, 6)?; // an ndarray `[6, 3]`
/// assert_eq!(probabilities.shape(), &[6, 3]);
/// # Ok(())
/// # }
/// ```
pub trait TrainingData<'a> {
    /// The data as a [`DataSource`]; fails when arrays do not fit together.
    fn into_source(self) -> Result<DataSource<'a>>;
}

impl<'a> TrainingData<'a> for DataSource<'a> {
    fn into_source(self) -> Result<DataSource<'a>> {
        Ok(self)
    }
}

impl<'a> TrainingData<'a> for &'a Dataset {
    fn into_source(self) -> Result<DataSource<'a>> {
        Ok(DataSource::Memory {
            dataset: Cow::Borrowed(self),
            sample_weight: None,
        })
    }
}

impl<'a> TrainingData<'a> for &'a mut Dataset {
    fn into_source(self) -> Result<DataSource<'a>> {
        (&*self).into_source()
    }
}

impl<'a> TrainingData<'a> for (&'a Dataset, &'a [f32]) {
    fn into_source(self) -> Result<DataSource<'a>> {
        with_weights(Cow::Borrowed(self.0), Cow::Borrowed(self.1))
    }
}

impl<'a> TrainingData<'a> for &'a MultiDataset {
    fn into_source(self) -> Result<DataSource<'a>> {
        Ok(DataSource::Multi {
            dataset: self,
            sample_weight: None,
        })
    }
}

impl<'a> TrainingData<'a> for (&'a MultiDataset, &'a [f32]) {
    fn into_source(self) -> Result<DataSource<'a>> {
        check_weights(self.0.len(), self.1)?;
        Ok(DataSource::Multi {
            dataset: self.0,
            sample_weight: Some(Cow::Borrowed(self.1)),
        })
    }
}

impl<'a> TrainingData<'a> for Generator<'a> {
    fn into_source(self) -> Result<DataSource<'a>> {
        Ok(DataSource::Batches(self))
    }
}

impl<'a, 'g: 'a> TrainingData<'a> for &'a mut Generator<'g> {
    fn into_source(self) -> Result<DataSource<'a>> {
        Ok(DataSource::Batches(Generator::new(self)))
    }
}

#[cfg(feature = "ndarray")]
mod arrays {
    use std::borrow::Cow;

    use ndarray::{ArrayBase, Data, Dimension, Ix1};

    use super::{DataSource, TrainingData, with_weights};
    use crate::datasets::{Dataset, Label};
    use crate::error::Result;

    impl<'a, S, T, D, E> TrainingData<'a> for (&ArrayBase<S, D>, &ArrayBase<T, E>)
    where
        S: Data<Elem = f32>,
        T: Data,
        T::Elem: Label,
        D: Dimension,
        E: Dimension,
    {
        fn into_source(self) -> Result<DataSource<'a>> {
            Ok(DataSource::Memory {
                dataset: Cow::Owned(Dataset::from_ndarray(self.0, self.1)?),
                sample_weight: None,
            })
        }
    }

    impl<'a, S, T, W, D, E> TrainingData<'a>
        for (&ArrayBase<S, D>, &ArrayBase<T, E>, &ArrayBase<W, Ix1>)
    where
        S: Data<Elem = f32>,
        T: Data,
        T::Elem: Label,
        W: Data<Elem = f32>,
        D: Dimension,
        E: Dimension,
    {
        fn into_source(self) -> Result<DataSource<'a>> {
            let dataset = Dataset::from_ndarray(self.0, self.1)?;
            with_weights(Cow::Owned(dataset), Cow::Owned(self.2.to_vec()))
        }
    }
}

/// A memory source of `dataset` with one weight per example, checked.
fn with_weights<'a>(
    dataset: Cow<'a, Dataset>,
    sample_weight: Cow<'a, [f32]>,
) -> Result<DataSource<'a>> {
    check_weights(dataset.len(), &sample_weight)?;
    Ok(DataSource::Memory {
        dataset,
        sample_weight: Some(sample_weight),
    })
}

/// Fails unless there is one finite, non-negative weight per example of `len`.
pub(crate) fn check_weights(len: usize, weights: &[f32]) -> Result<()> {
    if weights.len() != len {
        return Err(Error::InvalidArgument {
            name: "sample_weight",
            msg: format!("holds {} weights for {len} examples", weights.len()),
        });
    }
    if let Some((i, w)) = weights
        .iter()
        .enumerate()
        .find(|(_, w)| !w.is_finite() || **w < 0.0)
    {
        return Err(Error::InvalidArgument {
            name: "sample_weight",
            msg: format!("weight {w} of example {i} is not a finite number ≥ 0"),
        });
    }
    Ok(())
}

/// The class of each example of `labels` (`label_size` values per example): the value of a
/// class index, or the position of the largest value of a one-hot row (Keras' `argmax`).
fn classes(labels: &[f32], label_size: usize) -> Result<Vec<usize>> {
    labels
        .chunks_exact(label_size.max(1))
        .enumerate()
        .map(|(index, row)| {
            if let [value] = row {
                let whole = *value >= 0.0 && value.fract() == 0.0;
                return whole
                    .then_some(*value as usize)
                    .ok_or(Error::InvalidArgument {
                        name: "class_weight",
                        msg: format!("label {value} of example {index} is not a class index"),
                    });
            }
            Ok(row
                .iter()
                .enumerate()
                .fold((0, f32::NEG_INFINITY), |best, (c, &v)| {
                    if v > best.1 { (c, v) } else { best }
                })
                .0)
        })
        .collect()
}

/// Keras' weights of the examples of a batch or dataset: `sample_weight` (default 1) times
/// `class_weight[class]` (a class missing from the map weighs 1, as in Keras 3); `None` when
/// neither is given.
pub(crate) fn example_weights(
    labels: &[f32],
    label_size: usize,
    sample_weight: Option<&[f32]>,
    class_weight: Option<&BTreeMap<usize, f32>>,
) -> Result<Option<Vec<f32>>> {
    let Some(class_weight) = class_weight else {
        return Ok(sample_weight.map(<[f32]>::to_vec));
    };
    let classes = classes(labels, label_size)?;
    Ok(Some(
        classes
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let sample = sample_weight.map_or(1.0, |w| w[i]);
                sample * class_weight.get(c).copied().unwrap_or(1.0)
            })
            .collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_weights_follow_indices_or_the_one_hot_argmax() {
        let weights = BTreeMap::from([(0, 2.0), (2, 0.5)]);
        let w = example_weights(&[0.0, 1.0, 2.0], 1, Some(&[1.0, 3.0, 4.0]), Some(&weights));
        assert_eq!(w.unwrap().unwrap(), [2.0, 3.0, 2.0]);
        let one_hot = [0.0, 0.0, 1.0, 1.0, 0.0, 0.0];
        let w = example_weights(&one_hot, 3, None, Some(&weights)).unwrap();
        assert_eq!(w.unwrap(), [0.5, 2.0]);
        assert!(example_weights(&[0.5], 1, None, Some(&weights)).is_err());
        assert_eq!(example_weights(&[0.0], 1, None, None).unwrap(), None);
    }

    #[test]
    fn sample_weights_must_match_the_examples() {
        assert!(check_weights(2, &[1.0]).is_err());
        assert!(check_weights(2, &[1.0, -1.0]).is_err());
        assert!(check_weights(2, &[1.0, 0.0]).is_ok());
    }
}

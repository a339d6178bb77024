//! The workloads' data: MNIST from the repository's `datasets/mnist` (the same files as the
//! peers' `../shared/datasets/mnist`; `$MNIST_DIR` overrides, as for the peers), cut to the
//! first 57,000 training images, and test accuracy by predicting the test set. It trains
//! and times nothing.

use std::path::PathBuf;

use kiln::prelude::*;
use kiln::{Shape, Tensor};

use crate::error::{BenchError, Result};
use crate::flops::N_TRAIN;

/// Test images predicted per call when measuring accuracy (the peers use 1000).
const PREDICT_BATCH: usize = 1000;

/// The training images (the first 57,000, one-hot labels) and the 10,000 test images.
pub struct Mnist {
    /// Images `[57000, 28, 28, 1]` in `[0, 1]`, labels one-hot `[57000, 10]`.
    pub train: Dataset,
    /// Images `[10000, 28, 28, 1]`, labels one-hot.
    pub test: Dataset,
}

/// `$MNIST_DIR`, else `datasets/mnist` in the working directory, else beside this crate.
fn mnist_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("MNIST_DIR") {
        return PathBuf::from(dir);
    }
    let local = PathBuf::from("datasets/mnist");
    if local.is_dir() {
        local
    } else {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../datasets/mnist")
    }
}

/// Load MNIST and keep the first [`N_TRAIN`] training images.
pub fn load() -> Result<Mnist> {
    let (train, test) = kiln::datasets::mnist::load(mnist_dir())?;
    Ok(Mnist {
        train: first_examples(&train, N_TRAIN)?,
        test,
    })
}

/// The first `n` examples of `dataset`, in order (a copy).
pub fn first_examples(dataset: &Dataset, n: usize) -> Result<Dataset> {
    if dataset.len() < n {
        return Err(BenchError::Data(format!(
            "the dataset holds {} examples, fewer than the {n} a workload needs",
            dataset.len()
        )));
    }
    let shape = |example: &[usize]| [&[n][..], example].concat();
    Ok(Dataset::from_slices(
        &dataset.features()[..n * dataset.feature_size()],
        &shape(dataset.feature_shape()),
        &dataset.labels()[..n * dataset.label_size()],
        &shape(dataset.label_shape()),
    )?)
}

/// The fraction of `test`'s images whose largest logit is their (one-hot) label.
pub fn accuracy(model: &Model, test: &Dataset) -> Result<f64> {
    let features = Tensor {
        shape: Shape::new([&[test.len()][..], test.feature_shape()].concat()),
        data: test.features().to_vec(),
    };
    let logits = model.predict(&features, PREDICT_BATCH)?;
    let classes = test.label_size();
    let correct = logits
        .data
        .chunks_exact(classes)
        .zip(test.labels().chunks_exact(classes))
        .filter(|(predicted, label)| argmax(predicted) == argmax(label))
        .count();
    Ok(correct as f64 / test.len() as f64)
}

/// The index of the largest value (the first one on ties; NaN never wins).
fn argmax(values: &[f32]) -> usize {
    values
        .iter()
        .enumerate()
        .fold((0, f32::NEG_INFINITY), |best, (i, &v)| {
            if v > best.1 { (i, v) } else { best }
        })
        .0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_examples_keeps_the_leading_rows_and_shapes() {
        let features: Vec<f32> = (0..12).map(|v| v as f32).collect();
        let labels = [1.0, 0.0, 0.0, 1.0, 1.0, 0.0];
        let dataset = Dataset::from_slices(&features, &[3, 2, 2], &labels, &[3, 2]).unwrap();
        let first = first_examples(&dataset, 2).unwrap();
        assert_eq!(first.len(), 2);
        assert_eq!(first.feature_shape(), [2, 2]);
        assert_eq!(first.features(), &features[..8]);
        assert_eq!(first.labels(), &labels[..4]);
        assert!(first_examples(&dataset, 4).is_err());
    }

    #[test]
    fn argmax_takes_the_first_largest() {
        assert_eq!(argmax(&[0.1, 0.7, 0.7, -1.0]), 1);
        assert_eq!(argmax(&[f32::NAN, 0.5]), 1);
    }
}

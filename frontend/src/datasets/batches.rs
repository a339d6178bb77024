//! Iterating over a [`Dataset`] in mini-batches that borrow its contiguous buffers.

use crate::datasets::dataset::Dataset;
use crate::error::{Error, Result};

/// One mini-batch: consecutive examples of a dataset, borrowed without copying.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Batch<'a> {
    features: &'a [f32],
    labels: &'a [f32],
    len: usize,
    feature_shape: &'a [usize],
    label_shape: &'a [usize],
}

impl<'a> Batch<'a> {
    /// Number of examples in this batch (the batch size, or fewer for the last batch).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the batch holds no examples (never true for batches from [`Dataset::batches`]).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The batch's features, row-major, shape [`Batch::features_shape`].
    pub fn features(&self) -> &'a [f32] {
        self.features
    }

    /// The batch's labels, row-major, shape [`Batch::labels_shape`].
    pub fn labels(&self) -> &'a [f32] {
        self.labels
    }

    /// `[len, ...feature shape]`.
    pub fn features_shape(&self) -> Vec<usize> {
        with_leading(self.len, self.feature_shape)
    }

    /// `[len, ...label shape]`.
    pub fn labels_shape(&self) -> Vec<usize> {
        with_leading(self.len, self.label_shape)
    }
}

/// Iterator over the batches of a dataset, in order; see [`Dataset::batches`].
#[derive(Debug, Clone)]
pub struct Batches<'a> {
    dataset: &'a Dataset,
    batch_size: usize,
    next_start: usize,
}

impl Dataset {
    /// The dataset in order as batches of `batch_size` examples. When `batch_size` does not
    /// divide the length, the last batch is smaller (it is included, not dropped). Each batch
    /// is a pair of slices into the dataset's buffers; shuffle the dataset to change the
    /// order between epochs.
    pub fn batches(&self, batch_size: usize) -> Result<Batches<'_>> {
        if batch_size == 0 {
            return Err(Error::InvalidArgument {
                name: "batch_size",
                msg: "must be at least 1".into(),
            });
        }
        Ok(Batches {
            dataset: self,
            batch_size,
            next_start: 0,
        })
    }
}

impl<'a> Iterator for Batches<'a> {
    type Item = Batch<'a>;

    fn next(&mut self) -> Option<Batch<'a>> {
        let start = self.next_start;
        if start >= self.dataset.len() {
            return None;
        }
        let end = (start + self.batch_size).min(self.dataset.len());
        self.next_start = end;
        Some(Batch {
            features: self.dataset.feature_rows(start, end),
            labels: self.dataset.label_rows(start, end),
            len: end - start,
            feature_shape: self.dataset.feature_shape(),
            label_shape: self.dataset.label_shape(),
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let remaining = self
            .dataset
            .len()
            .saturating_sub(self.next_start)
            .div_ceil(self.batch_size);
        (remaining, Some(remaining))
    }
}

impl ExactSizeIterator for Batches<'_> {}

fn with_leading(n: usize, shape: &[usize]) -> Vec<usize> {
    std::iter::once(n).chain(shape.iter().copied()).collect()
}

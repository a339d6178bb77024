//! Keras' one-batch methods: [`Model::train_on_batch`] (one optimizer step),
//! [`Model::test_on_batch`] (loss and metrics, no update) and [`Model::predict_on_batch`]
//! (outputs), each on the whole batch given as one step (compiled for its size on first use).
//!
//! The values returned are the batch's own (Keras' default `reset_metrics=True`): `loss`
//! first, then the metrics, named as `fit` names them (for several outputs `<output>_loss`,
//! then `<output>_<metric>`: tf-keras 2's `metrics_names`). The loss of `train_on_batch` is
//! the loss before the step's update, as in Keras. Epoch loops, shuffling and callbacks
//! are `fit`'s.

use ir::Tensor;

use super::Model;
use super::feed::{Column, Feed, Rows};
use super::graph::forward::features_input;
use super::training::{Role, labels_input};
use crate::error::{Error, Result};
use crate::progress::Logs;

/// The rows of one batch: `inputs` (one tensor per model input) then `labels` (one per
/// output), all `[n, ...]` with the same `n`.
fn batch_rows<'a>(inputs: &[&'a Tensor], labels: &[&'a Tensor]) -> Result<Rows<'a>> {
    let mut len = None;
    let mut column = |input: String, tensor: &'a Tensor| -> Result<Column<'a>> {
        let dims = tensor.shape.dims();
        let Some((&n, shape)) = dims.split_first() else {
            return Err(Error::InvalidArgument {
                name: "batch",
                msg: format!("`{input}` is a scalar; it needs a leading example axis"),
            });
        };
        let first = *len.get_or_insert(n);
        if n != first || tensor.shape.checked_numel().ok() != Some(tensor.data.len()) {
            return Err(Error::InvalidArgument {
                name: "batch",
                msg: format!(
                    "`{input}` has shape {} ({} values); every tensor needs {first} rows",
                    tensor.shape,
                    tensor.data.len()
                ),
            });
        }
        Ok(Column {
            input,
            values: &tensor.data,
            shape,
        })
    };
    let mut columns = Vec::with_capacity(inputs.len() + labels.len());
    for (k, x) in inputs.iter().enumerate() {
        columns.push(column(features_input(k, inputs.len()), x)?);
    }
    for (k, y) in labels.iter().enumerate() {
        columns.push(column(labels_input(k, labels.len()), y)?);
    }
    Ok(Rows {
        columns,
        features: inputs.len(),
        labels: labels.len(),
        len: len.unwrap_or(0),
    })
}

impl Model {
    /// One training step on the batch `inputs` (one tensor per model input) and `labels`
    /// (one per output); returns the batch's loss (before the update) and metrics, as
    /// Keras' `train_on_batch`.
    ///
    /// ```
    /// # fn main() -> kiln::Result<()> {
    /// use kiln::prelude::*;
    /// use kiln::{Tensor, losses::MeanSquaredError, optimizers::SGD};
    /// let mut model = Sequential::of([Input::new([2]).into(), Dense::new(1).into()]);
    /// model.compile(SGD::default().learning_rate(0.1), MeanSquaredError, [] as [kiln::metrics::Accuracy; 0])?;
    /// let x = Tensor::new([2, 2], vec![0.1, 0.2, 0.3, 0.4]).expect("4 values");
    /// let y = Tensor::new([2, 1], vec![1.0, 0.0]).expect("2 values");
    /// let before = model.test_on_batch(&[&x], &[&y])?.get("loss").unwrap();
    /// let step = model.train_on_batch(&[&x], &[&y])?.get("loss").unwrap();
    /// assert_eq!(before, step);
    /// assert!(model.test_on_batch(&[&x], &[&y])?.get("loss").unwrap() < before);
    /// # Ok(())
    /// # }
    /// ```
    pub fn train_on_batch(&mut self, inputs: &[&Tensor], labels: &[&Tensor]) -> Result<Logs> {
        self.on_batch(Role::Train, inputs, labels)
    }

    /// The loss and metrics of the batch `inputs`, `labels` without training, as Keras'
    /// `test_on_batch`.
    pub fn test_on_batch(&mut self, inputs: &[&Tensor], labels: &[&Tensor]) -> Result<Logs> {
        self.on_batch(Role::Eval, inputs, labels)
    }

    /// The model's outputs for the batch `inputs` (one tensor per model input), one tensor
    /// per output, as Keras' `predict_on_batch` (the batch runs as one step).
    pub fn predict_on_batch(&self, inputs: &[&Tensor]) -> Result<Vec<Tensor>> {
        let n = inputs
            .first()
            .and_then(|x| x.shape.dims().first().copied())
            .unwrap_or(0);
        if n == 0 {
            return Err(Error::InvalidArgument {
                name: "inputs",
                msg: "predict_on_batch needs a non-empty batch for every model input".into(),
            });
        }
        self.predict_many(inputs, n)
    }

    /// `role`'s step on one whole batch.
    fn on_batch(&mut self, role: Role, inputs: &[&Tensor], labels: &[&Tensor]) -> Result<Logs> {
        self.training_state_mut()?;
        let rows = batch_rows(inputs, labels)?;
        self.check_rows(&rows, "batch")?;
        let len = rows.len;
        self.run_pass(role, &mut Feed::memory(rows, len, None, 0), None)
    }
}

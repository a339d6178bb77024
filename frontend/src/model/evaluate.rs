//! [`Sequential::evaluate`] (loss and metrics over a dataset) and [`Sequential::predict`].

use std::collections::BTreeMap;

use ir::{Shape, Tensor};

use crate::datasets::Dataset;
use crate::error::{Error, Result};
use crate::model::Sequential;
use crate::model::compile::{LOSS_OUTPUT, PREDICTIONS_OUTPUT, Role};
use crate::model::fit::Rows;
use crate::model::sequential::FEATURES_INPUT;

/// What [`Sequential::evaluate`] returns: the mean loss and each metric's mean, weighted by
/// batch size (so the partial last batch counts for what it holds).
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    /// Mean loss (including regularizer penalties, as Keras reports it).
    pub loss: f32,
    /// Metric values by name (`"accuracy"`).
    pub metrics: BTreeMap<String, f32>,
}

impl Sequential {
    /// The loss and metrics over `dataset`, in batches of `batch_size`.
    pub fn evaluate(&mut self, dataset: &Dataset, batch_size: usize) -> Result<Evaluation> {
        self.compiled_mut()?;
        self.check_dataset(dataset, "evaluation")?;
        let values = self.run_pass(Role::Eval, Rows::of(dataset), None, batch_size)?;
        let loss = values
            .iter()
            .find(|(k, _)| k == LOSS_OUTPUT)
            .map(|(_, v)| *v)
            .expect("run_pass reports the loss");
        let metrics = values
            .into_iter()
            .filter(|(k, _)| k != LOSS_OUTPUT)
            .collect();
        Ok(Evaluation { loss, metrics })
    }

    /// The model's outputs for `features` (`[n, ...input shape]`), computed in batches of
    /// `batch_size`; shape `[n, ...output shape]`.
    pub fn predict(&mut self, features: &Tensor, batch_size: usize) -> Result<Tensor> {
        self.compiled_mut()?;
        if batch_size == 0 {
            return Err(Error::InvalidArgument {
                name: "batch_size",
                msg: "must be at least 1".into(),
            });
        }
        let input = self.input_shape()?;
        let output = self.output_shape()?;
        let dims = features.shape.dims();
        if dims.is_empty() || dims[1..] != *input.dims() {
            return Err(self.model_error(format!(
                "predict features have shape {} but the model takes [n, {}]",
                features.shape,
                input
                    .dims()
                    .iter()
                    .map(|d| d.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        if features.data.len() != features.shape.numel() {
            return Err(Error::InvalidArgument {
                name: "features",
                msg: format!(
                    "{} values for shape {}",
                    features.data.len(),
                    features.shape
                ),
            });
        }
        let n = dims[0];
        let (in_size, out_size) = (input.numel(), output.numel());
        let mut data = Vec::with_capacity(n * out_size);
        for start in (0..n).step_by(batch_size) {
            let end = (start + batch_size).min(n);
            let batch = &features.data[start * in_size..end * in_size];
            let outputs = self
                .runner(Role::Predict, end - start)?
                .run(&[(FEATURES_INPUT, batch)])?;
            let predictions = outputs
                .into_iter()
                .find(|(name, _)| name == PREDICTIONS_OUTPUT)
                .ok_or_else(|| {
                    self.model_error("the compiled predictor returned no predictions")
                })?;
            data.extend_from_slice(&predictions.1.data);
        }
        let mut shape = vec![n];
        shape.extend_from_slice(output.dims());
        Ok(Tensor {
            shape: Shape::new(shape),
            data,
        })
    }
}

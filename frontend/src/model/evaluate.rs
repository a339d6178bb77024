//! [`Model::evaluate`]: loss and metrics over a dataset.

use std::collections::BTreeMap;

use super::Model;
use super::fit::Rows;
use super::training::{LOSS_OUTPUT, Role};
use crate::datasets::{Dataset, MultiDataset};
use crate::error::Result;

/// What [`Model::evaluate`] returns: the mean loss and each metric's mean, weighted by
/// batch size (so the partial last batch counts for what it holds), or for metrics summed
/// over the pass (precision, recall, AUC) the value of their summed counts.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    /// Mean loss (including regularizer penalties, as Keras reports it).
    pub loss: f32,
    /// Metric values by name (`"accuracy"`).
    pub metrics: BTreeMap<String, f32>,
}

impl Model {
    /// The loss and metrics over `dataset`, in batches of `batch_size` (models with one
    /// input and one output; see [`Model::evaluate_multi`] for others).
    pub fn evaluate(&mut self, dataset: &Dataset, batch_size: usize) -> Result<Evaluation> {
        self.evaluate_rows(&Rows::of(dataset), batch_size)
    }

    /// [`Model::evaluate`] for a model with several inputs or outputs: `loss` is the
    /// weighted total, `metrics` holds each output's `<output>_loss` and
    /// `<output>_<metric>` (see [`crate::model::OutputLosses`]).
    pub fn evaluate_multi(&mut self, data: &MultiDataset, batch_size: usize) -> Result<Evaluation> {
        self.evaluate_rows(&Rows::of_multi(data), batch_size)
    }

    /// The loss and metrics over `rows`.
    fn evaluate_rows(&mut self, rows: &Rows<'_>, batch_size: usize) -> Result<Evaluation> {
        self.training_state_mut()?;
        self.check_rows(rows, "evaluation")?;
        let values = self.run_pass(Role::Eval, rows, batch_size)?;
        let loss = values.get(LOSS_OUTPUT).expect("run_pass reports the loss");
        let metrics = values
            .iter()
            .filter(|(k, _)| *k != LOSS_OUTPUT)
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        Ok(Evaluation { loss, metrics })
    }
}

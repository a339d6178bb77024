//! [`Model::evaluate`]: loss and metrics over a dataset.

use std::collections::BTreeMap;

use super::Model;
use super::fit::Rows;
use super::training::{LOSS_OUTPUT, Role};
use crate::datasets::Dataset;
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
    /// input and one output only, like `fit`).
    pub fn evaluate(&mut self, dataset: &Dataset, batch_size: usize) -> Result<Evaluation> {
        self.graph.require_single_io("evaluate")?;
        self.training_state_mut()?;
        self.check_dataset(dataset, "evaluation")?;
        let values = self.run_pass(Role::Eval, Rows::of(dataset), batch_size)?;
        let loss = values.get(LOSS_OUTPUT).expect("run_pass reports the loss");
        let metrics = values
            .iter()
            .filter(|(k, _)| *k != LOSS_OUTPUT)
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        Ok(Evaluation { loss, metrics })
    }
}

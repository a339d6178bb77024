//! [`Model::evaluate`]: loss and metrics over any [`TrainingData`] — a dataset, arrays
//! (optionally with sample weights, which weigh the loss as in `fit`; metrics stay
//! unweighted), or a generator read until it runs out.

use std::collections::BTreeMap;

use super::Model;
use super::data::{DataSource, TrainingData, check_weights};
use super::feed::{Feed, Rows};
use super::pass::check_batch_size;
use super::training::{LOSS_OUTPUT, Role};
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
    /// The loss and metrics over `data` (a `&Dataset`, `(&x, &y)` or `(&x, &y, &weights)`
    /// arrays, a generator), in batches of `batch_size` (a generator's batches keep their
    /// size); models with one input and one output only, like `fit`.
    pub fn evaluate<'a>(
        &mut self,
        data: impl TrainingData<'a>,
        batch_size: usize,
    ) -> Result<Evaluation> {
        self.graph.require_single_io("evaluate")?;
        self.training_state_mut()?;
        check_batch_size(batch_size)?;
        let values = match data.into_source()? {
            DataSource::Memory {
                dataset,
                sample_weight,
            } => {
                self.check_dataset(&dataset, "evaluation")?;
                if let Some(w) = &sample_weight {
                    check_weights(&dataset, w)?;
                }
                let rows = Rows::of(&dataset, sample_weight.as_deref());
                let mut feed = Feed::memory(rows, batch_size, None, 0);
                self.run_pass(Role::Eval, &mut feed, None)?
            }
            DataSource::Batches(batches) => {
                self.run_pass(Role::Eval, &mut Feed::stream(batches, None), None)?
            }
        };
        let loss = values.get(LOSS_OUTPUT).expect("run_pass reports the loss");
        let metrics = values
            .iter()
            .filter(|(k, _)| *k != LOSS_OUTPUT)
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        Ok(Evaluation { loss, metrics })
    }
}

//! [`Model::evaluate`]: loss and metrics over any [`TrainingData`] — a dataset, a
//! multi-dataset (several inputs or outputs), arrays
//! (optionally with sample weights, which weigh the loss as in `fit`; metrics stay
//! unweighted), or a generator read until it runs out.

use std::collections::BTreeMap;

use super::Model;
use super::data::{DataSource, TrainingData, check_weights};
use super::feed::Feed;
use super::pass::check_batch_size;
use super::training::{LOSS_OUTPUT, Role};
use crate::datasets::MultiDataset;
use crate::error::Result;
use crate::progress::Logs;

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

impl Evaluation {
    /// The loss and metrics of a pass's logs.
    pub(crate) fn from_logs(values: &Logs) -> Self {
        let loss = values.get(LOSS_OUTPUT).expect("a pass reports the loss");
        let metrics = values
            .iter()
            .filter(|(k, _)| *k != LOSS_OUTPUT)
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        Evaluation { loss, metrics }
    }
}

impl Model {
    /// The loss and metrics over `data` (a `&Dataset`, a `&MultiDataset`, `(&x, &y)` or
    /// `(&x, &y, &weights)` arrays, a generator), in batches of `batch_size` (a generator's
    /// batches keep their size). A dataset, arrays or a generator feed models with one input
    /// and one output; a [`MultiDataset`] any model (see [`Model::evaluate_multi`]).
    pub fn evaluate<'a>(
        &mut self,
        data: impl TrainingData<'a>,
        batch_size: usize,
    ) -> Result<Evaluation> {
        self.training_state_mut()?;
        check_batch_size(batch_size)?;
        let values = match data.into_source()? {
            DataSource::Batches(batches) => {
                self.require_generator_model()?;
                self.run_pass(Role::Eval, &mut Feed::stream(batches, None), None)?
            }
            memory => {
                let (rows, weights) = memory.rows().expect("in-memory data has rows");
                self.check_rows(&rows, "evaluation")?;
                if let Some(w) = weights {
                    check_weights(rows.len, w)?;
                }
                let mut feed = Feed::memory(rows.weighted(weights), batch_size, None, 0);
                self.run_pass(Role::Eval, &mut feed, None)?
            }
        };
        Ok(Evaluation::from_logs(&values))
    }

    /// [`Model::evaluate`] for a model with several inputs or outputs: `loss` is the
    /// weighted total, `metrics` holds each output's `<output>_loss` and
    /// `<output>_<metric>` (see [`crate::model::OutputLosses`]).
    pub fn evaluate_multi(&mut self, data: &MultiDataset, batch_size: usize) -> Result<Evaluation> {
        self.evaluate(data, batch_size)
    }
}

//! Metrics as IR builders: each emits its per-batch value into the training-step graph, and
//! says how `fit`/`evaluate` combine those values over an epoch ([`Aggregation`]). Names are
//! what Keras prints (`accuracy`, `mae`, `precision`, `auc`).
//!
//! Like Keras' stateful metrics, a metric is either a mean of per-example scores (the step
//! outputs the batch mean, the epoch value is the example-weighted mean over batches) or a
//! function of counts summed over the epoch (Precision, Recall, AUC: the step outputs the
//! batch's confusion counts, the epoch value is the ratio of the sums, not a mean of batch
//! ratios). The families: `accuracy` (accuracies, top-k), `regression` (mae, mse, msle,
//! mape) and `confusion` (precision, recall, AUC). This module owns the trait only; the
//! host-side accumulation is `fit`'s.

mod accuracy;
mod confusion;
mod regression;

pub use accuracy::{
    Accuracy, BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy,
    TopKCategoricalAccuracy,
};
pub use confusion::{AUC, Precision, Recall};
pub use regression::{
    MeanAbsoluteError, MeanAbsolutePercentageError, MeanSquaredError, MeanSquaredLogarithmicError,
};

use ir::{Graph, NodeId};

use crate::error::Error;

/// How a metric's per-batch outputs make its value over an epoch.
#[derive(Debug, Clone, Copy)]
pub enum Aggregation {
    /// The step outputs a scalar, the batch mean; the epoch value is the mean over all
    /// examples (each batch weighted by its size).
    Mean,
    /// The step outputs counts (any shape); each element is summed over the epoch, and the
    /// epoch value is this function of the sums (flattened, in the output's order).
    Sum(fn(&[f64]) -> f64),
}

/// A quantity reported per batch that emits its value into the graph.
pub trait Metric: Send + Sync + std::fmt::Debug {
    /// The name Keras prints, e.g. `"accuracy"`.
    fn name(&self) -> &str;

    /// Adds the metric of `predictions` against `labels`: a scalar node, the mean over the
    /// batch, for [`Aggregation::Mean`]; the batch's counts for [`Aggregation::Sum`].
    fn build(&self, g: &mut Graph, predictions: NodeId, labels: NodeId) -> Result<NodeId, Error>;

    /// Its hyper-parameters under Keras' names (`{"threshold": 0.5}`); metrics that have any
    /// override this. Saved models rebuild the metric from its name and this.
    fn config(&self) -> serde_json::Value {
        serde_json::json!({})
    }

    /// How batch values combine over an epoch; a mean unless overridden.
    fn aggregation(&self) -> Aggregation {
        Aggregation::Mean
    }
}

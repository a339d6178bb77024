//! Metrics as IR builders: each emits a scalar node, the batch mean of a per-sample score,
//! into the training-step graph. Names are what Keras prints (`accuracy`, `mae`, `mse`).
//!
//! [`Accuracy`] picks its variant from the shapes the way Keras resolves the string
//! `"accuracy"`: binary when the predictions' last axis is 1; sparse categorical when labels
//! have lower rank than predictions, or a last axis of 1 against a wider one; categorical
//! (argmax equality) otherwise.

use ir::{BinaryOp, Graph, NodeId, ReduceOp};

use crate::error::Error;
use crate::losses::{self, LastAxis, Loss, batch_mean, check_same_shape, mean_all};

/// A quantity reported per batch that emits its value into the graph.
pub trait Metric: Send + Sync + std::fmt::Debug {
    /// The name Keras prints, e.g. `"accuracy"`.
    fn name(&self) -> &str;

    /// Adds the metric of `predictions` against `labels`; returns a scalar node, the mean
    /// over the batch.
    fn build(&self, g: &mut Graph, predictions: NodeId, labels: NodeId) -> Result<NodeId, Error>;

    /// Its hyper-parameters under Keras' names (`{"threshold": 0.5}`); metrics that have any
    /// override this. Saved models rebuild the metric from its name and this.
    fn config(&self) -> serde_json::Value {
        serde_json::json!({})
    }
}

/// Keras `"accuracy"`: categorical, sparse categorical or binary accuracy, chosen from the
/// shapes (see the module doc).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Accuracy;

/// Keras `categorical_accuracy`: whether the argmax of the predictions equals the argmax of
/// the one-hot labels (last axis).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CategoricalAccuracy;

/// Keras `sparse_categorical_accuracy`: whether the argmax of the predictions equals the
/// class-index label (labels `[batch]` or `[batch, 1]`).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SparseCategoricalAccuracy;

/// Keras `binary_accuracy`: whether `prediction > threshold` equals the 0/1 label, averaged
/// over the last axis, then the batch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BinaryAccuracy {
    /// Predictions above this count as 1.
    pub threshold: f32,
}

/// Keras `"mae"`: mean absolute error.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct MeanAbsoluteError;

/// Keras `"mse"`: mean squared error.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct MeanSquaredError;

impl Default for BinaryAccuracy {
    fn default() -> Self {
        BinaryAccuracy { threshold: 0.5 }
    }
}

impl BinaryAccuracy {
    /// Threshold 0.5, Keras' default.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the threshold.
    pub fn threshold(mut self, threshold: f32) -> Self {
        self.threshold = threshold;
        self
    }
}

impl Metric for Accuracy {
    fn name(&self) -> &str {
        "accuracy"
    }

    fn build(&self, g: &mut Graph, predictions: NodeId, labels: NodeId) -> Result<NodeId, Error> {
        losses::check_node(g, self.name(), predictions)?;
        losses::check_node(g, self.name(), labels)?;
        let (p, l) = (g.shape(predictions), g.shape(labels));
        let (p_last, l_last) = (p.dims().last().copied(), l.dims().last().copied());
        if p_last == Some(1) {
            BinaryAccuracy::default().build(g, predictions, labels)
        } else if l.rank() < p.rank() || (l_last == Some(1) && p_last.is_some_and(|d| d > 1)) {
            SparseCategoricalAccuracy.build(g, predictions, labels)
        } else {
            CategoricalAccuracy.build(g, predictions, labels)
        }
    }
}

impl Metric for CategoricalAccuracy {
    fn name(&self) -> &str {
        "categorical_accuracy"
    }

    fn build(&self, g: &mut Graph, predictions: NodeId, labels: NodeId) -> Result<NodeId, Error> {
        check_same_shape(g, self.name(), predictions, labels)?;
        let last = g.shape(predictions).rank() - 1;
        let predicted = g.reduce(ReduceOp::ArgMax, predictions, &[last], false)?;
        let expected = g.reduce(ReduceOp::ArgMax, labels, &[last], false)?;
        let hits = g.binary(BinaryOp::Eq, predicted, expected)?;
        mean_all(g, hits)
    }
}

impl Metric for SparseCategoricalAccuracy {
    fn name(&self) -> &str {
        "sparse_categorical_accuracy"
    }

    fn build(&self, g: &mut Graph, predictions: NodeId, labels: NodeId) -> Result<NodeId, Error> {
        let column = losses::index_column(g, self.name(), predictions, labels)?;
        let last = g.shape(predictions).rank() - 1;
        let predicted = g.reduce(ReduceOp::ArgMax, predictions, &[last], true)?;
        let hits = g.binary(BinaryOp::Eq, predicted, column)?;
        mean_all(g, hits)
    }
}

impl Metric for BinaryAccuracy {
    fn name(&self) -> &str {
        "binary_accuracy"
    }

    fn config(&self) -> serde_json::Value {
        serde_json::json!({ "threshold": crate::config_json::f32_json(self.threshold) })
    }

    fn build(&self, g: &mut Graph, predictions: NodeId, labels: NodeId) -> Result<NodeId, Error> {
        check_same_shape(g, self.name(), predictions, labels)?;
        let threshold = g.scalar(self.threshold);
        let predicted = g.binary(BinaryOp::Gt, predictions, threshold)?;
        let hits = g.binary(BinaryOp::Eq, predicted, labels)?;
        batch_mean(g, hits, LastAxis::Mean)
    }
}

impl Metric for MeanAbsoluteError {
    fn name(&self) -> &str {
        "mae"
    }

    fn build(&self, g: &mut Graph, predictions: NodeId, labels: NodeId) -> Result<NodeId, Error> {
        losses::MeanAbsoluteError.build(g, predictions, labels)
    }
}

impl Metric for MeanSquaredError {
    fn name(&self) -> &str {
        "mse"
    }

    fn build(&self, g: &mut Graph, predictions: NodeId, labels: NodeId) -> Result<NodeId, Error> {
        losses::MeanSquaredError.build(g, predictions, labels)
    }
}

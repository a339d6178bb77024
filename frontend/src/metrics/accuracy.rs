//! Accuracy metrics, each the batch mean of a per-example hit (0 or 1), averaged over the
//! examples of an epoch: Keras' `accuracy` (variant picked from the shapes),
//! `categorical_accuracy`, `sparse_categorical_accuracy`, `binary_accuracy` and
//! `top_k_categorical_accuracy`.
//!
//! [`Accuracy`] picks its variant from the shapes the way Keras resolves the string
//! `"accuracy"`: binary when the predictions' last axis is 1; sparse categorical when labels
//! have lower rank than predictions, or a last axis of 1 against a wider one; categorical
//! (argmax equality) otherwise.

use ir::{BinaryOp, Graph, NodeId, ReduceOp, Shape, Tensor};

use super::Metric;
use crate::error::{Error, training_graph_error};
use crate::losses::{self, LastAxis, batch_mean, check_same_shape, mean_all};

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

/// Keras `top_k_categorical_accuracy`: whether the class of the one-hot label (its argmax)
/// is among the `k` highest predictions. As TensorFlow's `in_top_k`, a class tied with the
/// k-th highest counts as inside: the hit is "fewer than `k` predictions are higher".
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TopKCategoricalAccuracy {
    /// How many of the highest predictions count (>= 1).
    pub k: usize,
}

impl Default for TopKCategoricalAccuracy {
    fn default() -> Self {
        TopKCategoricalAccuracy { k: 5 }
    }
}

impl TopKCategoricalAccuracy {
    /// `k` 5, Keras' default.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `k`.
    pub fn k(mut self, k: usize) -> Self {
        self.k = k;
        self
    }
}

impl Metric for TopKCategoricalAccuracy {
    fn name(&self) -> &str {
        "top_k_categorical_accuracy"
    }

    fn config(&self) -> serde_json::Value {
        serde_json::json!({ "k": self.k })
    }

    fn build(&self, g: &mut Graph, predictions: NodeId, labels: NodeId) -> Result<NodeId, Error> {
        check_same_shape(g, self.name(), predictions, labels)?;
        if self.k == 0 {
            return Err(training_graph_error(self.name(), "k must be at least 1"));
        }
        let last = g.shape(predictions).rank() - 1;
        let classes = g.shape(predictions).dims()[last];
        let target = g.reduce(ReduceOp::ArgMax, labels, &[last], true)?;
        let iota = g.constant(Tensor {
            shape: Shape::from([classes]),
            data: (0..classes).map(|c| c as f32).collect(),
        });
        let one_hot = g.binary(BinaryOp::Eq, target, iota)?;
        let picked = g.binary(BinaryOp::Mul, predictions, one_hot)?;
        let target_score = g.reduce(ReduceOp::Sum, picked, &[last], true)?;
        let higher = g.binary(BinaryOp::Gt, predictions, target_score)?;
        let higher_count = g.reduce(ReduceOp::Sum, higher, &[last], false)?;
        let k = g.scalar(self.k as f32);
        let hits = g.binary(BinaryOp::Lt, higher_count, k)?;
        mean_all(g, hits)
    }
}

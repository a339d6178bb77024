//! Losses as IR builders: each emits the ops of a Keras loss into the training-step graph
//! and returns one scalar node, the batch mean (Keras' default `SUM_OVER_BATCH_SIZE`).
//!
//! Every loss first computes a per-element term, reduces it over the last axis (sum for the
//! cross-entropies, mean for the regression losses — as Keras' loss functions do) and then
//! averages what is left. Predictions and labels must have the same shape, except for
//! [`SparseCategoricalCrossentropy`], whose labels are class indices.

mod cosine;
mod crossentropy;
mod hinge;
mod probabilistic;
mod regression;
mod sparse;

pub(crate) use sparse::index_column;

pub use cosine::CosineSimilarity;
pub use crossentropy::{
    BinaryCrossentropy, CategoricalCrossentropy, SoftmaxCrossEntropyWithLogits,
};
pub use hinge::{Hinge, SquaredHinge};
pub use probabilistic::{KLDivergence, Poisson};
pub use regression::{
    Huber, LogCosh, MeanAbsoluteError, MeanAbsolutePercentageError, MeanSquaredError,
    MeanSquaredLogarithmicError,
};
pub(crate) use regression::{
    absolute_error, absolute_percentage_error, squared_error, squared_log_error,
};
pub use sparse::SparseCategoricalCrossentropy;

use ir::{BinaryOp, Graph, NodeId, ReduceOp, UnaryOp};

use crate::error::Error;
use crate::error::training_graph_error;

/// Keras' `backend.epsilon()`: the clipping margin of probabilities.
pub const EPSILON: f32 = 1e-7;

/// A training objective that emits its value into the graph.
pub trait Loss: Send + Sync + std::fmt::Debug {
    /// Keras' name for the loss, e.g. `"categorical_crossentropy"`.
    fn name(&self) -> &str;

    /// Adds the loss of `predictions` against `labels`; returns a scalar node, the mean over
    /// the batch.
    fn build(&self, g: &mut Graph, predictions: NodeId, labels: NodeId) -> Result<NodeId, Error>;

    /// Its hyper-parameters under Keras' names (`{"from_logits": true}`); losses that have
    /// any override this. Saved models rebuild the loss from its name and this.
    fn config(&self) -> serde_json::Value {
        serde_json::json!({})
    }
}

/// Defines unit structs that implement `$trait` (`Loss` or `Metric`) as a per-element term
/// reduced over the last axis and then averaged over the batch, one row per type:
/// `Type = "keras_name", term, Sum | Mean;`. The shapes are checked first (errors name the
/// type's Keras name), then the term `fn(&mut Graph, predictions, labels) -> Result<NodeId>`
/// adds the per-element values.
macro_rules! per_element_mean {
    ($trait:path; $($(#[$doc:meta])* $ty:ident = $name:literal, $term:path, $last:ident;)*) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, Default, PartialEq)]
        pub struct $ty;

        impl $trait for $ty {
            fn name(&self) -> &str {
                $name
            }

            fn build(
                &self,
                g: &mut ir::Graph,
                predictions: ir::NodeId,
                labels: ir::NodeId,
            ) -> Result<ir::NodeId, $crate::error::Error> {
                $crate::losses::check_same_shape(g, self.name(), predictions, labels)?;
                let term = $term(g, predictions, labels)?;
                $crate::losses::batch_mean(g, term, $crate::losses::LastAxis::$last)
            }
        }
    )*};
}
pub(crate) use per_element_mean;

/// How the per-element terms are combined along the last axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LastAxis {
    /// Summed (cross-entropies).
    Sum,
    /// Averaged (regression losses, binary cross-entropy).
    Mean,
}

/// Reduces `per_element` over its last axis with `how`, then takes the mean of the rest: a
/// scalar. A rank-0 input is returned as it is.
pub(crate) fn batch_mean(
    g: &mut Graph,
    per_element: NodeId,
    how: LastAxis,
) -> Result<NodeId, Error> {
    let rank = g.shape(per_element).rank();
    if rank == 0 {
        return Ok(per_element);
    }
    let op = match how {
        LastAxis::Sum => ReduceOp::Sum,
        LastAxis::Mean => ReduceOp::Mean,
    };
    let per_sample = g.reduce(op, per_element, &[rank - 1], false)?;
    mean_all(g, per_sample)
}

/// The mean of all elements of `x` (a scalar; `x` itself when it is one).
pub(crate) fn mean_all(g: &mut Graph, x: NodeId) -> Result<NodeId, Error> {
    let axes: Vec<usize> = (0..g.shape(x).rank()).collect();
    if axes.is_empty() {
        return Ok(x);
    }
    Ok(g.reduce(ReduceOp::Mean, x, &axes, false)?)
}

/// Fails unless `predictions` and `labels` have the same shape of rank >= 1.
pub(crate) fn check_same_shape(
    g: &Graph,
    owner: &str,
    predictions: NodeId,
    labels: NodeId,
) -> Result<(), Error> {
    check_node(g, owner, predictions)?;
    check_node(g, owner, labels)?;
    let (p, l) = (g.shape(predictions), g.shape(labels));
    if p != l || p.rank() == 0 {
        return Err(training_graph_error(
            owner,
            format!(
                "predictions {predictions} of shape {p} and labels {labels} of shape {l} must have the same shape of rank >= 1"
            ),
        ));
    }
    Ok(())
}

/// Fails when `node` is not in `g`.
pub(crate) fn check_node(g: &Graph, owner: &str, node: NodeId) -> Result<(), Error> {
    if node.index() < g.len() {
        Ok(())
    } else {
        Err(training_graph_error(
            owner,
            format!("node {node} is not in the graph"),
        ))
    }
}

/// `log_softmax(logits)` over the last axis, stabilised by subtracting the row maximum.
///
/// The result does not depend on the shift mathematically (`x - m - log Σ e^(x - m)` is the
/// same for every `m`), so the shift is a `stop_gradient`: its gradient would be a sum of
/// terms that cancel to rounding noise, at the cost of several kernels (the tie mask of the
/// maximum, its count, a division), as JAX and TensorFlow do it.
pub(crate) fn log_softmax(g: &mut Graph, logits: NodeId) -> Result<NodeId, Error> {
    let last = g.shape(logits).rank() - 1;
    let max = g.reduce(ReduceOp::Max, logits, &[last], true)?;
    let max = g.stop_gradient(max)?;
    let shifted = g.binary(BinaryOp::Sub, logits, max)?;
    let exp = g.unary(UnaryOp::Exp, shifted)?;
    let sum = g.reduce(ReduceOp::Sum, exp, &[last], true)?;
    let log_sum = g.unary(UnaryOp::Log, sum)?;
    Ok(g.binary(BinaryOp::Sub, shifted, log_sum)?)
}

/// `-sum(labels · log_softmax(logits))` over the last axis, averaged over the batch.
pub(crate) fn softmax_cross_entropy(
    g: &mut Graph,
    logits: NodeId,
    labels: NodeId,
) -> Result<NodeId, Error> {
    let log_probs = log_softmax(g, logits)?;
    let picked = g.binary(BinaryOp::Mul, labels, log_probs)?;
    let negated = g.unary(UnaryOp::Neg, picked)?;
    batch_mean(g, negated, LastAxis::Sum)
}

/// `clip(x, EPSILON, 1 - EPSILON)`.
pub(crate) fn clip_probabilities(g: &mut Graph, x: NodeId) -> Result<NodeId, Error> {
    let (low, high) = (g.scalar(EPSILON), g.scalar(1.0 - EPSILON));
    let floor = g.binary(BinaryOp::Max, x, low)?;
    Ok(g.binary(BinaryOp::Min, floor, high)?)
}

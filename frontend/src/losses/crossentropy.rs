//! Cross-entropies on dense labels: softmax cross-entropy on logits, categorical
//! cross-entropy on probabilities (or logits), binary cross-entropy, as tf.keras 2.x computes
//! them, with Keras' `label_smoothing`.

use ir::{BinaryOp, Graph, NodeId, ReduceOp, UnaryOp};

use super::{
    EPSILON, LastAxis, Loss, batch_mean, check_same_shape, clip_probabilities,
    softmax_cross_entropy,
};
use crate::error::{Error, training_graph_error};

/// Softmax cross-entropy of logits `[batch, classes]` against one-hot (or soft) labels of the
/// same shape: `mean_b(-sum_c y·log_softmax(z))`, computed stably.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SoftmaxCrossEntropyWithLogits;

impl Loss for SoftmaxCrossEntropyWithLogits {
    fn name(&self) -> &str {
        "softmax_cross_entropy_with_logits"
    }

    fn build(&self, g: &mut Graph, predictions: NodeId, labels: NodeId) -> Result<NodeId, Error> {
        check_same_shape(g, self.name(), predictions, labels)?;
        softmax_cross_entropy(g, predictions, labels)
    }
}

/// Keras `CategoricalCrossentropy`: labels one-hot (or soft). On probabilities, Keras first
/// rescales each row to sum to 1, clips to `[ε, 1-ε]` and takes `-sum(y·log p)`; with
/// `from_logits` it is [`SoftmaxCrossEntropyWithLogits`].
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CategoricalCrossentropy {
    /// Predictions are logits rather than probabilities.
    pub from_logits: bool,
    /// In `[0, 1]`: labels are smoothed towards uniform, `y·(1-s) + s/classes` (0: off).
    pub label_smoothing: f32,
}

impl CategoricalCrossentropy {
    /// On probabilities (Keras' default), no label smoothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets whether predictions are logits.
    pub fn from_logits(mut self, from_logits: bool) -> Self {
        self.from_logits = from_logits;
        self
    }

    /// Sets `label_smoothing` (in `[0, 1]`).
    pub fn label_smoothing(mut self, label_smoothing: f32) -> Self {
        self.label_smoothing = label_smoothing;
        self
    }
}

impl Loss for CategoricalCrossentropy {
    fn name(&self) -> &str {
        "categorical_crossentropy"
    }

    fn config(&self) -> serde_json::Value {
        serde_json::json!({
            "from_logits": self.from_logits,
            "label_smoothing": crate::config_json::f32_json(self.label_smoothing),
        })
    }

    fn build(&self, g: &mut Graph, predictions: NodeId, labels: NodeId) -> Result<NodeId, Error> {
        check_same_shape(g, self.name(), predictions, labels)?;
        let classes = *g.shape(labels).dims().last().expect("rank >= 1 checked");
        let labels = smooth_labels(g, self.name(), labels, self.label_smoothing, classes as f32)?;
        if self.from_logits {
            return softmax_cross_entropy(g, predictions, labels);
        }
        let last = g.shape(predictions).rank() - 1;
        let total = g.reduce(ReduceOp::Sum, predictions, &[last], true)?;
        let normalised = g.binary(BinaryOp::Div, predictions, total)?;
        let clipped = clip_probabilities(g, normalised)?;
        let log = g.unary(UnaryOp::Log, clipped)?;
        let picked = g.binary(BinaryOp::Mul, labels, log)?;
        let negated = g.unary(UnaryOp::Neg, picked)?;
        batch_mean(g, negated, LastAxis::Sum)
    }
}

/// Keras `BinaryCrossentropy`, averaged over the last axis then the batch. On probabilities:
/// `p = clip(p, ε, 1-ε)`, `-(y·log(p + ε) + (1-y)·log(1 - p + ε))` (Keras' exact form); with
/// `from_logits`: `max(z, 0) - z·y + log(1 + e^(-|z|))`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct BinaryCrossentropy {
    /// Predictions are logits rather than probabilities.
    pub from_logits: bool,
    /// In `[0, 1]`: labels are smoothed towards one half, `y·(1-s) + s/2` (0: off).
    pub label_smoothing: f32,
}

impl BinaryCrossentropy {
    /// On probabilities (Keras' default), no label smoothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets whether predictions are logits.
    pub fn from_logits(mut self, from_logits: bool) -> Self {
        self.from_logits = from_logits;
        self
    }

    /// Sets `label_smoothing` (in `[0, 1]`).
    pub fn label_smoothing(mut self, label_smoothing: f32) -> Self {
        self.label_smoothing = label_smoothing;
        self
    }
}

impl Loss for BinaryCrossentropy {
    fn name(&self) -> &str {
        "binary_crossentropy"
    }

    fn config(&self) -> serde_json::Value {
        serde_json::json!({
            "from_logits": self.from_logits,
            "label_smoothing": crate::config_json::f32_json(self.label_smoothing),
        })
    }

    fn build(&self, g: &mut Graph, predictions: NodeId, labels: NodeId) -> Result<NodeId, Error> {
        check_same_shape(g, self.name(), predictions, labels)?;
        let labels = smooth_labels(g, self.name(), labels, self.label_smoothing, 2.0)?;
        let per_element = if self.from_logits {
            logit_terms(g, predictions, labels)?
        } else {
            probability_terms(g, predictions, labels)?
        };
        batch_mean(g, per_element, LastAxis::Mean)
    }
}

/// Keras' label smoothing: `y·(1-s) + s/classes` (`labels` itself when `s` is 0); `s` must
/// lie in `[0, 1]`.
fn smooth_labels(
    g: &mut Graph,
    owner: &str,
    labels: NodeId,
    smoothing: f32,
    classes: f32,
) -> Result<NodeId, Error> {
    if !(0.0..=1.0).contains(&smoothing) {
        return Err(training_graph_error(
            owner,
            format!("label_smoothing must lie in [0, 1], got {smoothing}"),
        ));
    }
    if smoothing == 0.0 {
        return Ok(labels);
    }
    let (keep, spread) = (g.scalar(1.0 - smoothing), g.scalar(smoothing / classes));
    let kept = g.binary(BinaryOp::Mul, labels, keep)?;
    Ok(g.binary(BinaryOp::Add, kept, spread)?)
}

/// `-(y·log(p + ε) + (1-y)·log(1 - p + ε))` with `p` clipped to `[ε, 1-ε]`.
fn probability_terms(
    g: &mut Graph,
    probabilities: NodeId,
    labels: NodeId,
) -> Result<NodeId, Error> {
    let (one, epsilon) = (g.scalar(1.0), g.scalar(EPSILON));
    let p = clip_probabilities(g, probabilities)?;
    let p_shifted = g.binary(BinaryOp::Add, p, epsilon)?;
    let log_p = g.unary(UnaryOp::Log, p_shifted)?;
    let positive = g.binary(BinaryOp::Mul, labels, log_p)?;
    let complement = g.binary(BinaryOp::Sub, one, p)?;
    let complement_shifted = g.binary(BinaryOp::Add, complement, epsilon)?;
    let log_complement = g.unary(UnaryOp::Log, complement_shifted)?;
    let other_labels = g.binary(BinaryOp::Sub, one, labels)?;
    let negative = g.binary(BinaryOp::Mul, other_labels, log_complement)?;
    let sum = g.binary(BinaryOp::Add, positive, negative)?;
    Ok(g.unary(UnaryOp::Neg, sum)?)
}

/// `max(z, 0) - z·y + log1p(e^(-|z|))`, the stable sigmoid cross-entropy.
fn logit_terms(g: &mut Graph, logits: NodeId, labels: NodeId) -> Result<NodeId, Error> {
    let positive_part = g.unary(UnaryOp::Relu, logits)?;
    let product = g.binary(BinaryOp::Mul, logits, labels)?;
    let linear = g.binary(BinaryOp::Sub, positive_part, product)?;
    let magnitude = g.unary(UnaryOp::Abs, logits)?;
    let negated = g.unary(UnaryOp::Neg, magnitude)?;
    let exp = g.unary(UnaryOp::Exp, negated)?;
    let softplus = g.unary(UnaryOp::Log1p, exp)?;
    Ok(g.binary(BinaryOp::Add, linear, softplus)?)
}

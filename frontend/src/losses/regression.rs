//! Regression losses: mean squared error, mean absolute error, Huber, mean squared
//! logarithmic error, mean absolute percentage error and log-cosh, each the mean over the
//! last axis and then over the batch, as Keras computes them. Cosine similarity lives in
//! `cosine`.

use ir::{BinaryOp, Graph, NodeId, UnaryOp};

use super::{EPSILON, LastAxis, Loss, batch_mean, check_same_shape};
use crate::error::Error;
use crate::error::training_graph_error;

/// Keras `MeanSquaredError`: `mean((p - y)²)`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct MeanSquaredError;

/// Keras `MeanAbsoluteError`: `mean(|p - y|)`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct MeanAbsoluteError;

/// Keras `Huber`: with `e = p - y`, `½e²` where `|e| <= δ`, else `δ|e| - ½δ²`; mean.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Huber {
    /// Where the loss turns from quadratic to linear (> 0).
    pub delta: f32,
}

impl Default for Huber {
    fn default() -> Self {
        Huber { delta: 1.0 }
    }
}

impl Huber {
    /// Huber with Keras' default `delta` of 1.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `delta`.
    pub fn delta(mut self, delta: f32) -> Self {
        self.delta = delta;
        self
    }
}

impl Loss for MeanSquaredError {
    fn name(&self) -> &str {
        "mean_squared_error"
    }

    fn build(&self, g: &mut Graph, predictions: NodeId, labels: NodeId) -> Result<NodeId, Error> {
        elementwise_error(g, self.name(), predictions, labels, UnaryOp::Square)
    }
}

impl Loss for MeanAbsoluteError {
    fn name(&self) -> &str {
        "mean_absolute_error"
    }

    fn build(&self, g: &mut Graph, predictions: NodeId, labels: NodeId) -> Result<NodeId, Error> {
        elementwise_error(g, self.name(), predictions, labels, UnaryOp::Abs)
    }
}

impl Loss for Huber {
    fn name(&self) -> &str {
        "huber_loss"
    }

    fn config(&self) -> serde_json::Value {
        serde_json::json!({ "delta": crate::config_json::f32_json(self.delta) })
    }

    fn build(&self, g: &mut Graph, predictions: NodeId, labels: NodeId) -> Result<NodeId, Error> {
        if !(self.delta.is_finite() && self.delta > 0.0) {
            return Err(training_graph_error(
                self.name(),
                format!("delta must be finite and > 0, got {}", self.delta),
            ));
        }
        check_same_shape(g, self.name(), predictions, labels)?;
        let error = g.binary(BinaryOp::Sub, predictions, labels)?;
        let magnitude = g.unary(UnaryOp::Abs, error)?;
        let (half, delta) = (g.scalar(0.5), g.scalar(self.delta));
        let squared = g.unary(UnaryOp::Square, error)?;
        let quadratic = g.binary(BinaryOp::Mul, half, squared)?;
        let scaled = g.binary(BinaryOp::Mul, delta, magnitude)?;
        let offset = g.scalar(0.5 * self.delta * self.delta);
        let linear = g.binary(BinaryOp::Sub, scaled, offset)?;
        let inside = g.binary(BinaryOp::Le, magnitude, delta)?;
        let per_element = g.add(ir::Op::Select, &[inside, quadratic, linear])?;
        batch_mean(g, per_element, LastAxis::Mean)
    }
}

/// `mean(f(p - y))` over the last axis, then the batch.
fn elementwise_error(
    g: &mut Graph,
    owner: &str,
    predictions: NodeId,
    labels: NodeId,
    f: UnaryOp,
) -> Result<NodeId, Error> {
    check_same_shape(g, owner, predictions, labels)?;
    let error = g.binary(BinaryOp::Sub, predictions, labels)?;
    let per_element = g.unary(f, error)?;
    batch_mean(g, per_element, LastAxis::Mean)
}

/// Keras `MeanSquaredLogarithmicError`:
/// `mean((log(max(p, ε) + 1) - log(max(y, ε) + 1))²)`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct MeanSquaredLogarithmicError;

/// Keras `MeanAbsolutePercentageError`: `100·mean(|(y - p) / max(|y|, ε)|)`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct MeanAbsolutePercentageError;

/// Keras `LogCosh`: with `x = p - y`, `mean(x + softplus(-2x) - log 2)` (`log(cosh(x))`
/// computed without overflow).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LogCosh;

impl Loss for MeanSquaredLogarithmicError {
    fn name(&self) -> &str {
        "mean_squared_logarithmic_error"
    }

    fn build(&self, g: &mut Graph, predictions: NodeId, labels: NodeId) -> Result<NodeId, Error> {
        let per_element = squared_log_error(g, self.name(), predictions, labels)?;
        batch_mean(g, per_element, LastAxis::Mean)
    }
}

impl Loss for MeanAbsolutePercentageError {
    fn name(&self) -> &str {
        "mean_absolute_percentage_error"
    }

    fn build(&self, g: &mut Graph, predictions: NodeId, labels: NodeId) -> Result<NodeId, Error> {
        let per_element = absolute_percentage_error(g, self.name(), predictions, labels)?;
        batch_mean(g, per_element, LastAxis::Mean)
    }
}

impl Loss for LogCosh {
    fn name(&self) -> &str {
        "log_cosh"
    }

    fn build(&self, g: &mut Graph, predictions: NodeId, labels: NodeId) -> Result<NodeId, Error> {
        check_same_shape(g, self.name(), predictions, labels)?;
        let x = g.binary(BinaryOp::Sub, predictions, labels)?;
        let minus_two = g.scalar(-2.0);
        let scaled = g.binary(BinaryOp::Mul, minus_two, x)?;
        let soft = softplus(g, scaled)?;
        let sum = g.binary(BinaryOp::Add, x, soft)?;
        let log_two = g.scalar(std::f32::consts::LN_2);
        let per_element = g.binary(BinaryOp::Sub, sum, log_two)?;
        batch_mean(g, per_element, LastAxis::Mean)
    }
}

/// `(log(max(p, ε) + 1) - log(max(y, ε) + 1))²` per element (also the `msle` metric).
pub(crate) fn squared_log_error(
    g: &mut Graph,
    owner: &str,
    predictions: NodeId,
    labels: NodeId,
) -> Result<NodeId, Error> {
    check_same_shape(g, owner, predictions, labels)?;
    let (epsilon, one) = (g.scalar(EPSILON), g.scalar(1.0));
    let mut logs = [predictions, labels];
    for x in &mut logs {
        let floor = g.binary(BinaryOp::Max, *x, epsilon)?;
        let shifted = g.binary(BinaryOp::Add, floor, one)?;
        *x = g.unary(UnaryOp::Log, shifted)?;
    }
    let difference = g.binary(BinaryOp::Sub, logs[0], logs[1])?;
    Ok(g.unary(UnaryOp::Square, difference)?)
}

/// `100·|(y - p) / max(|y|, ε)|` per element (also the `mape` metric).
pub(crate) fn absolute_percentage_error(
    g: &mut Graph,
    owner: &str,
    predictions: NodeId,
    labels: NodeId,
) -> Result<NodeId, Error> {
    check_same_shape(g, owner, predictions, labels)?;
    let epsilon = g.scalar(EPSILON);
    let error = g.binary(BinaryOp::Sub, labels, predictions)?;
    let magnitude = g.unary(UnaryOp::Abs, labels)?;
    let floor = g.binary(BinaryOp::Max, magnitude, epsilon)?;
    let ratio = g.binary(BinaryOp::Div, error, floor)?;
    let absolute = g.unary(UnaryOp::Abs, ratio)?;
    let hundred = g.scalar(100.0);
    Ok(g.binary(BinaryOp::Mul, hundred, absolute)?)
}

/// `softplus(z) = max(z, 0) + log1p(e^(-|z|))`, stable for every `z`.
pub(crate) fn softplus(g: &mut Graph, z: NodeId) -> Result<NodeId, Error> {
    let positive_part = g.unary(UnaryOp::Relu, z)?;
    let magnitude = g.unary(UnaryOp::Abs, z)?;
    let negated = g.unary(UnaryOp::Neg, magnitude)?;
    let exp = g.unary(UnaryOp::Exp, negated)?;
    let tail = g.unary(UnaryOp::Log1p, exp)?;
    Ok(g.binary(BinaryOp::Add, positive_part, tail)?)
}

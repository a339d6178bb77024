//! Regression losses: mean squared error, mean absolute error, Huber, mean squared
//! logarithmic error, mean absolute percentage error and log-cosh, each the mean over the
//! last axis and then over the batch, as Keras computes them. Cosine similarity lives in
//! `cosine`.

use ir::{BinaryOp, Graph, NodeId, UnaryOp};

use super::{EPSILON, LastAxis, Loss, batch_mean, check_same_shape, per_element_mean};
use crate::error::Error;
use crate::error::training_graph_error;

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

per_element_mean! { Loss;
    /// Keras `MeanSquaredError`: `mean((p - y)²)`.
    MeanSquaredError = "mean_squared_error", squared_error, Mean;
    /// Keras `MeanAbsoluteError`: `mean(|p - y|)`.
    MeanAbsoluteError = "mean_absolute_error", absolute_error, Mean;
    /// Keras `MeanSquaredLogarithmicError`:
    /// `mean((log(max(p, ε) + 1) - log(max(y, ε) + 1))²)`.
    MeanSquaredLogarithmicError = "mean_squared_logarithmic_error", squared_log_error, Mean;
    /// Keras `MeanAbsolutePercentageError`: `100·mean(|(y - p) / max(|y|, ε)|)`.
    MeanAbsolutePercentageError = "mean_absolute_percentage_error", absolute_percentage_error, Mean;
    /// Keras `LogCosh`: with `x = p - y`, `mean(x + softplus(-2x) - log 2)` (`log(cosh(x))`
    /// computed without overflow).
    LogCosh = "log_cosh", log_cosh, Mean;
}

/// `(p - y)²` per element (also the `mse` metric).
pub(crate) fn squared_error(g: &mut Graph, p: NodeId, y: NodeId) -> Result<NodeId, Error> {
    let error = g.binary(BinaryOp::Sub, p, y)?;
    Ok(g.unary(UnaryOp::Square, error)?)
}

/// `|p - y|` per element (also the `mae` metric).
pub(crate) fn absolute_error(g: &mut Graph, p: NodeId, y: NodeId) -> Result<NodeId, Error> {
    let error = g.binary(BinaryOp::Sub, p, y)?;
    Ok(g.unary(UnaryOp::Abs, error)?)
}

/// `log(cosh(p - y))` per element, as `x + softplus(-2x) - log 2`.
fn log_cosh(g: &mut Graph, p: NodeId, y: NodeId) -> Result<NodeId, Error> {
    let x = g.binary(BinaryOp::Sub, p, y)?;
    let minus_two = g.scalar(-2.0);
    let scaled = g.binary(BinaryOp::Mul, minus_two, x)?;
    let soft = softplus(g, scaled)?;
    let sum = g.binary(BinaryOp::Add, x, soft)?;
    let log_two = g.scalar(std::f32::consts::LN_2);
    Ok(g.binary(BinaryOp::Sub, sum, log_two)?)
}

/// `(log(max(p, ε) + 1) - log(max(y, ε) + 1))²` per element (also the `msle` metric).
pub(crate) fn squared_log_error(g: &mut Graph, p: NodeId, y: NodeId) -> Result<NodeId, Error> {
    let (epsilon, one) = (g.scalar(EPSILON), g.scalar(1.0));
    let mut logs = [p, y];
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
    p: NodeId,
    y: NodeId,
) -> Result<NodeId, Error> {
    let epsilon = g.scalar(EPSILON);
    let error = g.binary(BinaryOp::Sub, y, p)?;
    let magnitude = g.unary(UnaryOp::Abs, y)?;
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

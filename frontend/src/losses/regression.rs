//! Regression losses: mean squared error, mean absolute error and Huber, each the mean over
//! the last axis and then over the batch, as Keras computes them.

use ir::{BinaryOp, Graph, NodeId, UnaryOp};

use super::{LastAxis, Loss, batch_mean, check_same_shape};
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

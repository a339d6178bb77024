//! Gradient clipping shared by every optimizer: Keras' `clipvalue`, `clipnorm` (per tensor)
//! and `global_clipnorm` (over all gradients together), emitted as graph ops.
//!
//! Order as in tf.keras 2.x: value clipping first, then per-tensor norm clipping, then
//! global norm clipping. Norm clipping follows `tf.clip_by_norm`:
//! `g * c / max(‖g‖₂, c)`, which leaves gradients with norm ≤ c unchanged (and is safe for a
//! zero gradient).

use ir::{BinaryOp, Graph, NodeId, ReduceOp, UnaryOp};

use crate::error::Error;
use crate::error::training_graph_error;

/// Which gradient clipping an optimizer applies before its update (all off by default).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct GradientClipping {
    /// Clip every gradient element to `[-v, v]`.
    pub clipvalue: Option<f32>,
    /// Rescale each gradient tensor to L2 norm at most this.
    pub clipnorm: Option<f32>,
    /// Rescale all gradients together to a joint L2 norm at most this.
    pub global_clipnorm: Option<f32>,
}

impl GradientClipping {
    /// Rejects non-positive thresholds and `clipnorm` together with `global_clipnorm` (as
    /// Keras does).
    pub fn validate(&self, optimizer: &str) -> Result<(), Error> {
        let options = [
            ("clipvalue", self.clipvalue),
            ("clipnorm", self.clipnorm),
            ("global_clipnorm", self.global_clipnorm),
        ];
        for (name, value) in options {
            if let Some(v) = value
                && !(v.is_finite() && v > 0.0)
            {
                return Err(training_graph_error(
                    optimizer,
                    format!("{name} must be finite and > 0, got {v}"),
                ));
            }
        }
        if self.clipnorm.is_some() && self.global_clipnorm.is_some() {
            return Err(training_graph_error(
                optimizer,
                "set at most one of clipnorm and global_clipnorm",
            ));
        }
        Ok(())
    }

    /// The clipped gradients (the same nodes when no clipping is set).
    pub fn apply(&self, g: &mut Graph, grads: &[NodeId]) -> Result<Vec<NodeId>, Error> {
        let mut grads = grads.to_vec();
        if let Some(v) = self.clipvalue {
            let (low, high) = (g.scalar(-v), g.scalar(v));
            for grad in &mut grads {
                let floor = g.binary(BinaryOp::Max, *grad, low)?;
                *grad = g.binary(BinaryOp::Min, floor, high)?;
            }
        }
        if let Some(c) = self.clipnorm {
            let limit = g.scalar(c);
            for grad in &mut grads {
                let norm = l2_norm(g, &[*grad])?;
                *grad = rescale(g, *grad, norm, limit)?;
            }
        }
        if let Some(c) = self.global_clipnorm
            && !grads.is_empty()
        {
            let limit = g.scalar(c);
            let norm = l2_norm(g, &grads)?;
            for grad in &mut grads {
                *grad = rescale(g, *grad, norm, limit)?;
            }
        }
        Ok(grads)
    }
}

/// `sqrt(sum over all tensors of sum(x²))`, a scalar.
fn l2_norm(g: &mut Graph, tensors: &[NodeId]) -> Result<NodeId, Error> {
    let mut total = None;
    for &t in tensors {
        let squares = g.unary(UnaryOp::Square, t)?;
        let axes: Vec<usize> = (0..g.shape(t).rank()).collect();
        let sum = g.reduce(ReduceOp::Sum, squares, &axes, false)?;
        total = Some(match total {
            None => sum,
            Some(acc) => g.binary(BinaryOp::Add, acc, sum)?,
        });
    }
    let total = total.expect("callers pass at least one tensor");
    Ok(g.unary(UnaryOp::Sqrt, total)?)
}

/// `grad * limit / max(norm, limit)`.
fn rescale(g: &mut Graph, grad: NodeId, norm: NodeId, limit: NodeId) -> Result<NodeId, Error> {
    let denominator = g.binary(BinaryOp::Max, norm, limit)?;
    let scale = g.binary(BinaryOp::Div, limit, denominator)?;
    Ok(g.binary(BinaryOp::Mul, grad, scale)?)
}

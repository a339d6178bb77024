//! Keras `CosineSimilarity` as a loss: the negated cosine similarity of labels and
//! predictions along the last axis (Keras' default `axis=-1`; other axes are not offered),
//! averaged over the batch.

use ir::{BinaryOp, Graph, NodeId, ReduceOp, UnaryOp};

use super::{LastAxis, Loss, batch_mean, check_same_shape};
use crate::error::Error;

/// Keras `CosineSimilarity` (axis -1): `-sum(l2_normalize(y)·l2_normalize(p))`, where
/// `l2_normalize(x) = x / √max(sum(x²), 1e-12)`; -1 for parallel vectors, 1 for opposite.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CosineSimilarity;

/// Keras' floor of the squared norm in `l2_normalize`.
const NORM_FLOOR: f32 = 1e-12;

impl Loss for CosineSimilarity {
    fn name(&self) -> &str {
        "cosine_similarity"
    }

    fn config(&self) -> serde_json::Value {
        serde_json::json!({ "axis": -1 })
    }

    fn build(&self, g: &mut Graph, predictions: NodeId, labels: NodeId) -> Result<NodeId, Error> {
        check_same_shape(g, self.name(), predictions, labels)?;
        let y = l2_normalize(g, labels)?;
        let p = l2_normalize(g, predictions)?;
        let product = g.binary(BinaryOp::Mul, y, p)?;
        let negated = g.unary(UnaryOp::Neg, product)?;
        batch_mean(g, negated, LastAxis::Sum)
    }
}

/// `x · rsqrt(max(sum(x²), 1e-12))` along the last axis.
fn l2_normalize(g: &mut Graph, x: NodeId) -> Result<NodeId, Error> {
    let last = g.shape(x).rank() - 1;
    let squared = g.unary(UnaryOp::Square, x)?;
    let sum = g.reduce(ReduceOp::Sum, squared, &[last], true)?;
    let floor = g.scalar(NORM_FLOOR);
    let floored = g.binary(BinaryOp::Max, sum, floor)?;
    let inverse = g.unary(UnaryOp::Rsqrt, floored)?;
    Ok(g.binary(BinaryOp::Mul, x, inverse)?)
}

//! Hinge losses for labels in {-1, 1} (or {0, 1}, converted as Keras does): `Hinge` and
//! `SquaredHinge`, each the mean over the last axis and then over the batch.

use ir::{BinaryOp, Graph, NodeId, Op, ReduceOp, UnaryOp};

use super::{LastAxis, Loss, batch_mean, check_same_shape};
use crate::error::Error;

/// Keras `Hinge`: `mean(max(1 - y·p, 0))`. When every label of the batch is 0 or 1, the
/// labels are first mapped to -1 and 1 (Keras' `_maybe_convert_labels`).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Hinge;

/// Keras `SquaredHinge`: `mean(max(1 - y·p, 0)²)`, with [`Hinge`]'s label conversion.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SquaredHinge;

impl Loss for Hinge {
    fn name(&self) -> &str {
        "hinge"
    }

    fn build(&self, g: &mut Graph, predictions: NodeId, labels: NodeId) -> Result<NodeId, Error> {
        let margin = hinge_margin(g, self.name(), predictions, labels)?;
        batch_mean(g, margin, LastAxis::Mean)
    }
}

impl Loss for SquaredHinge {
    fn name(&self) -> &str {
        "squared_hinge"
    }

    fn build(&self, g: &mut Graph, predictions: NodeId, labels: NodeId) -> Result<NodeId, Error> {
        let margin = hinge_margin(g, self.name(), predictions, labels)?;
        let squared = g.unary(UnaryOp::Square, margin)?;
        batch_mean(g, squared, LastAxis::Mean)
    }
}

/// `max(1 - y·p, 0)` per element, the labels converted from {0, 1} to {-1, 1} when the whole
/// batch's labels are 0 or 1.
fn hinge_margin(
    g: &mut Graph,
    owner: &str,
    predictions: NodeId,
    labels: NodeId,
) -> Result<NodeId, Error> {
    check_same_shape(g, owner, predictions, labels)?;
    let (zero, one, two) = (g.scalar(0.0), g.scalar(1.0), g.scalar(2.0));
    let are_zeros = g.binary(BinaryOp::Eq, labels, zero)?;
    let are_ones = g.binary(BinaryOp::Eq, labels, one)?;
    let either = g.binary(BinaryOp::Max, are_zeros, are_ones)?;
    let axes: Vec<usize> = (0..g.shape(labels).rank()).collect();
    let is_binary = g.reduce(ReduceOp::Min, either, &axes, false)?;
    let doubled = g.binary(BinaryOp::Mul, two, labels)?;
    let converted = g.binary(BinaryOp::Sub, doubled, one)?;
    let labels = g.add(Op::Select, &[is_binary, converted, labels])?;
    let product = g.binary(BinaryOp::Mul, labels, predictions)?;
    let margin = g.binary(BinaryOp::Sub, one, product)?;
    Ok(g.binary(BinaryOp::Max, margin, zero)?)
}

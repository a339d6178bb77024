//! Hinge losses for labels in {-1, 1} (or {0, 1}, converted as Keras does): `Hinge` and
//! `SquaredHinge`, each the mean over the last axis and then over the batch.

use ir::{BinaryOp, Graph, NodeId, Op, ReduceOp, UnaryOp};

use super::{Loss, per_element_mean};
use crate::error::Error;

per_element_mean! { Loss;
    /// Keras `Hinge`: `mean(max(1 - y·p, 0))`. When every label of the batch is 0 or 1, the
    /// labels are first mapped to -1 and 1 (Keras' `_maybe_convert_labels`).
    Hinge = "hinge", hinge_margin, Mean;
    /// Keras `SquaredHinge`: `mean(max(1 - y·p, 0)²)`, with [`Hinge`]'s label conversion.
    SquaredHinge = "squared_hinge", squared_hinge_margin, Mean;
}

/// `max(1 - y·p, 0)²` per element, with [`hinge_margin`]'s label conversion.
fn squared_hinge_margin(g: &mut Graph, p: NodeId, y: NodeId) -> Result<NodeId, Error> {
    let margin = hinge_margin(g, p, y)?;
    Ok(g.unary(UnaryOp::Square, margin)?)
}

/// `max(1 - y·p, 0)` per element, the labels converted from {0, 1} to {-1, 1} when the whole
/// batch's labels are 0 or 1.
fn hinge_margin(g: &mut Graph, p: NodeId, y: NodeId) -> Result<NodeId, Error> {
    let (zero, one, two) = (g.scalar(0.0), g.scalar(1.0), g.scalar(2.0));
    let are_zeros = g.binary(BinaryOp::Eq, y, zero)?;
    let are_ones = g.binary(BinaryOp::Eq, y, one)?;
    let either = g.binary(BinaryOp::Max, are_zeros, are_ones)?;
    let axes: Vec<usize> = (0..g.shape(y).rank()).collect();
    let is_binary = g.reduce(ReduceOp::Min, either, &axes, false)?;
    let doubled = g.binary(BinaryOp::Mul, two, y)?;
    let converted = g.binary(BinaryOp::Sub, doubled, one)?;
    let y = g.add(Op::Select, &[is_binary, converted, y])?;
    let product = g.binary(BinaryOp::Mul, y, p)?;
    let margin = g.binary(BinaryOp::Sub, one, product)?;
    Ok(g.binary(BinaryOp::Max, margin, zero)?)
}

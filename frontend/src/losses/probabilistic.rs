//! Losses between distributions or counts: `KLDivergence` (summed over the last axis) and
//! `Poisson` (averaged over it), then the batch mean, as Keras computes them. The
//! cross-entropies live in `crossentropy` and `sparse`.

use ir::{BinaryOp, Graph, NodeId, UnaryOp};

use super::{EPSILON, LastAxis, Loss, batch_mean, check_same_shape};
use crate::error::Error;

/// Keras `KLDivergence`: with `y` and `p` clipped to `[ε, 1]`, `sum(y·log(y / p))`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct KLDivergence;

/// Keras `Poisson`: `mean(p - y·log(p + ε))`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Poisson;

impl Loss for KLDivergence {
    fn name(&self) -> &str {
        "kl_divergence"
    }

    fn build(&self, g: &mut Graph, predictions: NodeId, labels: NodeId) -> Result<NodeId, Error> {
        check_same_shape(g, self.name(), predictions, labels)?;
        let (low, high) = (g.scalar(EPSILON), g.scalar(1.0));
        let mut clipped = [labels, predictions];
        for x in &mut clipped {
            let floor = g.binary(BinaryOp::Max, *x, low)?;
            *x = g.binary(BinaryOp::Min, floor, high)?;
        }
        let [y, p] = clipped;
        let ratio = g.binary(BinaryOp::Div, y, p)?;
        let log = g.unary(UnaryOp::Log, ratio)?;
        let per_element = g.binary(BinaryOp::Mul, y, log)?;
        batch_mean(g, per_element, LastAxis::Sum)
    }
}

impl Loss for Poisson {
    fn name(&self) -> &str {
        "poisson"
    }

    fn build(&self, g: &mut Graph, predictions: NodeId, labels: NodeId) -> Result<NodeId, Error> {
        check_same_shape(g, self.name(), predictions, labels)?;
        let epsilon = g.scalar(EPSILON);
        let shifted = g.binary(BinaryOp::Add, predictions, epsilon)?;
        let log = g.unary(UnaryOp::Log, shifted)?;
        let weighted = g.binary(BinaryOp::Mul, labels, log)?;
        let per_element = g.binary(BinaryOp::Sub, predictions, weighted)?;
        batch_mean(g, per_element, LastAxis::Mean)
    }
}

//! Losses between distributions or counts: `KLDivergence` (summed over the last axis) and
//! `Poisson` (averaged over it), then the batch mean, as Keras computes them. The
//! cross-entropies live in `crossentropy` and `sparse`.

use ir::{BinaryOp, Graph, NodeId, UnaryOp};

use super::{EPSILON, Loss, per_element_mean};
use crate::error::Error;

per_element_mean! { Loss;
    /// Keras `KLDivergence`: with `y` and `p` clipped to `[ε, 1]`, `sum(y·log(y / p))`.
    KLDivergence = "kl_divergence", kl_divergence_term, Sum;
    /// Keras `Poisson`: `mean(p - y·log(p + ε))`.
    Poisson = "poisson", poisson_term, Mean;
}

/// `y·log(y / p)` per element, `y` and `p` clipped to `[ε, 1]`.
fn kl_divergence_term(g: &mut Graph, p: NodeId, y: NodeId) -> Result<NodeId, Error> {
    let (low, high) = (g.scalar(EPSILON), g.scalar(1.0));
    let mut clipped = [y, p];
    for x in &mut clipped {
        let floor = g.binary(BinaryOp::Max, *x, low)?;
        *x = g.binary(BinaryOp::Min, floor, high)?;
    }
    let [y, p] = clipped;
    let ratio = g.binary(BinaryOp::Div, y, p)?;
    let log = g.unary(UnaryOp::Log, ratio)?;
    Ok(g.binary(BinaryOp::Mul, y, log)?)
}

/// `p - y·log(p + ε)` per element.
fn poisson_term(g: &mut Graph, p: NodeId, y: NodeId) -> Result<NodeId, Error> {
    let epsilon = g.scalar(EPSILON);
    let shifted = g.binary(BinaryOp::Add, p, epsilon)?;
    let log = g.unary(UnaryOp::Log, shifted)?;
    let weighted = g.binary(BinaryOp::Mul, y, log)?;
    Ok(g.binary(BinaryOp::Sub, p, weighted)?)
}

//! One reverse-mode rule per primitive op: given a forward node `y = op(operands)` and the
//! gradient `dy` of the loss with respect to `y`, build the gradient with respect to one
//! operand. Each rule states its math in a comment. `None` means "no gradient flows to this
//! operand" (a zero gradient that needs no node).
//!
//! Tie and kink conventions (the subgradient each rule picks):
//! - `relu`, `abs` at 0: gradient 0 (`relu`: `y > 0`, the same mask as `x > 0`; `abs`: `sign(0) = 0`).
//! - binary `max`/`min` on a tie: the whole gradient goes to `a`.
//! - `reduce.max`/`reduce.min` on a tie: the gradient is split evenly among the tied
//!   elements (so the sum over them is `dy`).
//! - `pow`: `db = dy * y * ln(a)` where `a > 0`, and 0 where `a <= 0` (where `ln` is undefined).
//! - max pooling: the gradient goes to the first maximum of each window (see `Pool2dGrad`);
//!   differentiating that again with respect to `dy` needs non-overlapping windows.
//! - `sign`, `floor`, comparisons, `argmax`, `random_uniform`'s seed, `select`'s condition
//!   and the ids of `gather`/`scatter_add` are piecewise constant: no gradient.
//!   `stop_gradient` passes none by definition.
//!
//! Layout: this file dispatches each op to its family's rule; one file per family
//! ([`unary`], [`broadcasting`] for binary ops and `select`, [`reduce`], [`contraction`] for
//! matmul and the convolutions, [`pooling`], [`movement`], [`indexing`] for gather and
//! scatter-add), and [`site`] holds the forward
//! node every rule reads.

mod broadcasting;
mod contraction;
mod indexing;
mod movement;
mod pooling;
mod reduce;
mod site;
mod unary;

use ir::infer::op_name;
use ir::{Graph, NodeId, Op};

use super::emit::{Res, zeros};
use crate::error::PassError;
use broadcasting::broadcasting_grad;
use contraction::contraction_grad;
use indexing::indexing_grad;
use movement::movement_grad;
use pooling::pooling_grad;
use reduce::reduce_grad;
pub(crate) use site::Site;
use unary::unary_grad;

/// The gradient of the loss with respect to operand `i` of `site`, shaped like that operand,
/// or `None` when no gradient flows to it. Dispatches to one rule function per op family.
pub(crate) fn operand_grad(g: &mut Graph, site: &Site, i: usize) -> Res<Option<NodeId>> {
    let (y, dy, x) = (site.node, site.dy, site.operands[i]);
    match &site.op {
        Op::Input { .. } | Op::Param { .. } | Op::Const(_) => Ok(None),
        Op::Unary(u) => unary_grad(g, *u, x, y, dy),
        Op::Binary(_) | Op::Select => broadcasting_grad(g, site, i),
        Op::Reduce {
            op,
            axes,
            keep_dims,
        } => reduce_grad(g, *op, axes, *keep_dims, x, y, dy),
        Op::MatMul { .. }
        | Op::Conv2d(_)
        | Op::Conv2dBackpropInput { .. }
        | Op::Conv2dBackpropFilter { .. }
        | Op::DepthwiseConv2d(_)
        | Op::DepthwiseConv2dBackpropInput { .. }
        | Op::DepthwiseConv2dBackpropFilter { .. } => contraction_grad(g, site, i).map(Some),
        Op::Pool2d(_) | Op::Pool2dGrad(_) => pooling_grad(g, site, i),
        Op::Reshape(_)
        | Op::Transpose(_)
        | Op::Broadcast(_)
        | Op::Slice { .. }
        | Op::Concat { .. }
        | Op::Pad { .. } => movement_grad(g, site, i).map(Some),
        Op::Gather | Op::ScatterAdd { .. } => indexing_grad(g, site, i),
        // y = uniform(seed): piecewise constant in the seed.
        Op::RandomUniform(_) => Ok(None),
        // y = stop_gradient(x): a constant to autodiff by definition.
        Op::StopGradient => Ok(None),
        Op::Fused(_) | Op::Extract { .. } => Err(PassError::Autodiff(format!(
            "node {y} ({}) is a fused op; run autodiff before fusion",
            op_name(&site.op)
        ))),
    }
}

/// A zero gradient shaped like `x` (for callers that need a node where a rule gave none).
pub(crate) fn zero_grad(g: &mut Graph, x: NodeId) -> NodeId {
    let shape = g.shape(x).clone();
    zeros(g, &shape)
}

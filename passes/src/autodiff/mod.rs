//! Reverse-mode automatic differentiation as a graph-to-graph transform.
//!
//! [`grad`] clones the forward graph and appends, in one reverse sweep over the nodes, the
//! gradient of a scalar loss with respect to each requested node. The per-op math lives in
//! `rules/` (one file per op family); this module owns the sweep:
//!
//! - Only nodes on a path from some `wrt` node to the loss get gradient nodes: the sweep
//!   visits the nodes that both depend on a `wrt` node and feed the loss, and asks a rule
//!   only for the operands that are themselves on such a path.
//! - A node used several times (fan-out) sums its gradient contributions with `add`, once
//!   all have arrived; zero-padded pieces of disjoint ranges (the gradients of slices) are
//!   joined by one `concat` instead (`accumulate.rs`).
//! - Node ids are in topological order, so visiting them in reverse guarantees that a node's
//!   gradient is complete (all its users are done) before its own rule runs.
//! - A `wrt` node that does not influence the loss (or only through piecewise-constant ops
//!   like `sign` or comparisons) gets a zeros constant of its shape.
//! - Fused ops are rejected: autodiff runs before fusion.
//!
//! The result is an ordinary graph, so [`grad`] can be applied to it again (double backward).

mod accumulate;
mod emit;
mod rules;

use ir::{Graph, NodeId, Tensor};

use crate::error::PassError;
use accumulate::Adjoint;
use rules::{Site, operand_grad, zero_grad};

/// Appends gradient nodes to a clone of `graph`: d(loss)/d(x) for each x in `wrt`.
///
/// Every original [`NodeId`] stays valid in the returned graph, and the returned gradient
/// nodes have the shapes of their `wrt` nodes. `loss` must have exactly one element. A `wrt`
/// node that does not influence the loss gets a zeros constant of its shape. Outputs and
/// updates are copied unchanged; the caller adds the gradients as outputs if it wants them.
///
/// Errors: a node id outside `graph`, a loss with more than one element, a fused op on a
/// path from `wrt` to the loss, or the one unsupported case: the gradient of a max-pooling
/// `pool2d_grad` with respect to its `dy` (double backward through max pooling) when the
/// pooling windows overlap.
pub fn grad(
    graph: &Graph,
    loss: NodeId,
    wrt: &[NodeId],
) -> Result<(Graph, Vec<NodeId>), PassError> {
    let n = graph.len();
    for &id in wrt.iter().chain([&loss]) {
        if id.index() >= n {
            return Err(PassError::Autodiff(format!(
                "node {id} is not in the graph ({n} nodes)"
            )));
        }
    }
    let loss_shape = graph.shape(loss).clone();
    if loss_shape.numel() != 1 {
        return Err(PassError::Autodiff(format!(
            "the loss {loss} must have exactly one element, but has shape {loss_shape}"
        )));
    }

    let on_path = nodes_on_path(graph, loss, wrt);
    let mut g = graph.clone();
    let mut adjoint: Vec<Adjoint> = vec![Adjoint::default(); n];
    if on_path[loss.index()] {
        let one = g.constant(Tensor::full(loss_shape, 1.0));
        adjoint[loss.index()].push(&mut g, one)?;
    }

    for id in (0..=loss.index()).rev().map(NodeId::from_index) {
        if adjoint[id.index()].is_empty() {
            continue;
        }
        let operands = graph.operands(id);
        if !operands.iter().any(|o| on_path[o.index()]) {
            continue;
        }
        let dy = adjoint[id.index()].finish(&mut g)?.expect("not empty");
        let site = Site {
            node: id,
            op: graph.op(id).clone(),
            operands,
            dy,
        };
        for (i, &x) in site.operands.iter().enumerate() {
            if !on_path[x.index()] {
                continue;
            }
            let Some(dx) = operand_grad(&mut g, &site, i)? else {
                continue;
            };
            if g.shape(dx) != graph.shape(x) {
                return Err(PassError::Autodiff(format!(
                    "rule for node {id} produced a gradient of shape {} for operand {x} of shape {}",
                    g.shape(dx),
                    graph.shape(x)
                )));
            }
            adjoint[x.index()].push(&mut g, dx)?;
        }
    }

    let mut grads = Vec::with_capacity(wrt.len());
    for &x in wrt {
        grads.push(match adjoint[x.index()].finish(&mut g)? {
            Some(dx) => dx,
            None => zero_grad(&mut g, x),
        });
    }
    Ok((g, grads))
}

/// Whether each node lies on a path from some `wrt` node to `loss` (both ends included).
fn nodes_on_path(graph: &Graph, loss: NodeId, wrt: &[NodeId]) -> Vec<bool> {
    let n = graph.len();
    let mut from_wrt = vec![false; n];
    for &x in wrt {
        from_wrt[x.index()] = true;
    }
    for id in graph.node_ids() {
        if !from_wrt[id.index()] && graph.operands(id).iter().any(|o| from_wrt[o.index()]) {
            from_wrt[id.index()] = true;
        }
    }
    let mut to_loss = vec![false; n];
    to_loss[loss.index()] = true;
    for id in (0..loss.index()).rev().map(NodeId::from_index) {
        to_loss[id.index()] = graph.users(id).iter().any(|u| to_loss[u.index()]);
    }
    (0..n).map(|i| from_wrt[i] && to_loss[i]).collect()
}

#[cfg(test)]
mod tests;

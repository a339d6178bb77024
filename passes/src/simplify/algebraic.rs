//! Cheap algebraic identities, from one table.
//!
//! Guarantees: `x * 1`, `1 * x`, `x + 0`, `0 + x`, `x - 0`, `x / 1` become `x`, and
//! `neg(neg(x))` and `stop_gradient(x)` become `x` (the latter only tells autodiff, which
//! runs before the pipeline, not to differentiate through `x`), but only when the result has exactly `x`'s shape (a constant
//! that broadcasts `x` up is a real op and stays). The constant may have any shape as long as
//! every element is the identity value. These are exact in IEEE arithmetic except that
//! `-0.0 + 0.0` is `+0.0`: dropping `x + 0` keeps a `-0.0` that the op would have turned
//! into `+0.0` (equal under every comparison).
//!
//! Deliberately not done: no reassociation, no `x * 0 -> 0` (wrong for NaN and infinities),
//! no `x - x -> 0`; identities are matched on the graph being built, so chains collapse
//! (`neg(neg(neg(x)))` becomes `neg(x)`), but nothing is dropped (run [`super::dce()`] after).

use ir::{BinaryOp, Graph, NodeId, Op, UnaryOp};

use crate::error::PassError;
use crate::rebuild::Rebuild;

/// Which operand of a binary op may be the identity constant.
#[derive(Clone, Copy, PartialEq)]
enum Side {
    /// Either operand (`x op c` or `c op x`).
    Either,
    /// Only the right operand (`x op c`).
    Right,
}

/// `(op, identity value, where the constant may sit)`.
const IDENTITIES: [(BinaryOp, f32, Side); 4] = [
    (BinaryOp::Mul, 1.0, Side::Either),
    (BinaryOp::Add, 0.0, Side::Either),
    (BinaryOp::Sub, 0.0, Side::Right),
    (BinaryOp::Div, 1.0, Side::Right),
];

/// Remove identity operations.
pub fn algebraic(graph: &Graph) -> Result<Graph, PassError> {
    let mut rebuild = Rebuild::new(graph);
    for id in graph.node_ids() {
        let operands = graph
            .operands(id)
            .into_iter()
            .map(|o| rebuild.mapped(o))
            .collect::<Result<Vec<_>, _>>()?;
        match simplified(rebuild.new_graph(), graph.op(id), &operands) {
            Some(same) if rebuild.new_graph().shape(same) == graph.shape(id) => {
                rebuild.set(id, same)
            }
            _ => {
                rebuild.copy(id)?;
            }
        }
    }
    rebuild.finish()
}

/// The (new) node that `op` applied to the (new) `operands` equals, if it is an identity.
fn simplified(new: &Graph, op: &Op, operands: &[NodeId]) -> Option<NodeId> {
    match *op {
        Op::StopGradient => Some(operands[0]),
        Op::Unary(UnaryOp::Neg) => match new.op(operands[0]) {
            Op::Unary(UnaryOp::Neg) => Some(new.operands(operands[0])[0]),
            _ => None,
        },
        Op::Binary(b) => {
            let &(_, value, side) = IDENTITIES.iter().find(|(op, ..)| *op == b)?;
            let is_identity =
                |n: NodeId| matches!(new.op(n), Op::Const(t) if t.data.iter().all(|&v| v == value));
            if is_identity(operands[1]) {
                Some(operands[0])
            } else if side == Side::Either && is_identity(operands[0]) {
                Some(operands[1])
            } else {
                None
            }
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ir::Tensor;

    #[test]
    fn removes_identities_that_keep_the_shape() {
        let mut g = Graph::new();
        let x = g.input("x", [2, 3]);
        let one = g.scalar(1.0);
        let zero_row = g.constant(Tensor::full([3], 0.0));
        let a = g.binary(BinaryOp::Mul, one, x).unwrap();
        let b = g.binary(BinaryOp::Add, a, zero_row).unwrap();
        let c = g.binary(BinaryOp::Div, b, one).unwrap();
        let n1 = g.unary(UnaryOp::Neg, c).unwrap();
        let n2 = g.unary(UnaryOp::Neg, n1).unwrap();
        g.add_output("y", n2).unwrap();
        let out = algebraic(&g).unwrap();
        assert_eq!(out.output("y"), out.find_leaf("x"));
    }

    #[test]
    fn keeps_identities_that_broadcast_and_non_identities() {
        let mut g = Graph::new();
        let x = g.input("x", [3]);
        let zeros = g.constant(Tensor::full([2, 3], 0.0));
        let one = g.scalar(1.0);
        let widened = g.binary(BinaryOp::Add, x, zeros).unwrap();
        let one_minus = g.binary(BinaryOp::Sub, one, x).unwrap();
        let one_over = g.binary(BinaryOp::Div, one, x).unwrap();
        for (name, id) in [("w", widened), ("m", one_minus), ("d", one_over)] {
            g.add_output(name, id).unwrap();
        }
        let out = algebraic(&g).unwrap();
        for name in ["w", "m", "d"] {
            assert!(
                matches!(out.op(out.output(name).unwrap()), Op::Binary(_)),
                "{name} was dropped"
            );
        }
    }
}

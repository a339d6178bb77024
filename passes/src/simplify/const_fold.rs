//! Constant folding.
//!
//! Guarantees: an op whose operands are all constants becomes one `Const` holding exactly
//! what the reference interpreter ([`ir::interp::eval_op`]) computes for it, so results are
//! bit-identical to evaluating the op. Folds cascade in one sweep (a folded node is a
//! constant for its users).
//!
//! Deliberately not done: a fold whose result has more than [`FOLD_LIMIT`] elements *and*
//! more elements than its largest operand is skipped, so `broadcast(0.0)` to a large shape
//! (or random numbers from a constant seed) stays a cheap op instead of a large literal.
//! Dead constants are left for [`super::dce()`]; identities with one non-constant operand
//! are [`super::algebraic()`]'s job. A multi-result kernel (`fused.multi`) is never folded:
//! its node holds no value (its `extract`s do).

use ir::shape::Shape;
use ir::{Graph, Op, Tensor};

use crate::error::PassError;
use crate::rebuild::Rebuild;

/// Largest number of elements a fold may create beyond its largest operand.
pub const FOLD_LIMIT: usize = 4096;

/// Replace ops on constants by their value.
pub fn const_fold(graph: &Graph) -> Result<Graph, PassError> {
    let mut rebuild = Rebuild::new(graph);
    for id in graph.node_ids() {
        let operands = graph
            .operands(id)
            .into_iter()
            .map(|o| rebuild.mapped(o))
            .collect::<Result<Vec<_>, _>>()?;
        let constants: Option<Vec<&Tensor>> = operands
            .iter()
            .map(|&o| match rebuild.new_graph().op(o) {
                Op::Const(t) => Some(t),
                _ => None,
            })
            .collect();
        let multi = matches!(graph.op(id), Op::Fused(ir::FusedOp::Multi(_)));
        let folded = match constants {
            Some(values) if !values.is_empty() && !multi => {
                fold(graph.op(id), graph.shape(id), &values)?
            }
            _ => None,
        };
        match folded {
            Some(value) => {
                let new = rebuild.add(Op::Const(value), &[])?;
                rebuild.set(id, new);
            }
            None => {
                rebuild.copy(id)?;
            }
        }
    }
    rebuild.finish()
}

/// The value of `op` (result shape `shape`) on constant operands, or `None` when the result
/// would be too large a literal.
fn fold(op: &Op, shape: &Shape, operands: &[&Tensor]) -> Result<Option<Tensor>, PassError> {
    let largest = operands.iter().map(|t| t.data.len()).max().unwrap_or(0);
    if shape.numel() > FOLD_LIMIT && shape.numel() > largest {
        return Ok(None);
    }
    Ok(Some(ir::interp::eval_op(op, operands)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ir::{BinaryOp, UnaryOp};

    #[test]
    fn folds_broadcasting_binary_and_cascades() {
        let mut g = Graph::new();
        let a = g.constant(Tensor::new([2, 1], vec![1.0, 2.0]).unwrap());
        let b = g.constant(Tensor::new([3], vec![10.0, 20.0, 30.0]).unwrap());
        let sum = g.binary(BinaryOp::Add, a, b).unwrap();
        let neg = g.unary(UnaryOp::Neg, sum).unwrap();
        let x = g.input("x", [2, 3]);
        let y = g.binary(BinaryOp::Mul, x, neg).unwrap();
        g.add_output("y", y).unwrap();

        let out = const_fold(&g).unwrap();
        let y = out.output("y").unwrap();
        let folded = out.operands(y)[1];
        let Op::Const(t) = out.op(folded) else {
            panic!("operand not folded: {:?}", out.op(folded))
        };
        assert_eq!(t.shape, Shape::from([2, 3]));
        assert_eq!(t.data, vec![-11.0, -21.0, -31.0, -12.0, -22.0, -32.0]);
    }

    #[test]
    fn large_broadcast_of_a_scalar_is_not_folded() {
        let mut g = Graph::new();
        let zero = g.scalar(0.0);
        let big = g
            .add(Op::Broadcast(Shape::from([100, 100])), &[zero])
            .unwrap();
        let small = g.add(Op::Broadcast(Shape::from([2, 2])), &[zero]).unwrap();
        g.add_output("big", big).unwrap();
        g.add_output("small", small).unwrap();
        let out = const_fold(&g).unwrap();
        assert!(matches!(
            out.op(out.output("big").unwrap()),
            Op::Broadcast(_)
        ));
        assert_eq!(
            out.op(out.output("small").unwrap()),
            &Op::Const(Tensor::full([2, 2], 0.0))
        );
    }

    #[test]
    fn folds_non_elementwise_ops_through_the_interpreter() {
        let mut g = Graph::new();
        let a = g.constant(Tensor::new([2, 2], vec![1.0, 2.0, 3.0, 4.0]).unwrap());
        let prod = g.matmul(a, a, false, false).unwrap();
        let total = g.reduce(ir::ReduceOp::Sum, prod, &[0, 1], false).unwrap();
        g.add_output("total", total).unwrap();
        let out = const_fold(&g).unwrap();
        // [[7, 10], [15, 22]] sums to 54.
        assert_eq!(
            out.op(out.output("total").unwrap()),
            &Op::Const(Tensor::scalar(54.0))
        );
    }
}

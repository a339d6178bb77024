//! Constant folding.
//!
//! Guarantees: an elementwise op (unary, binary, select), `Reshape` or `Broadcast` whose
//! operands are all constants becomes one `Const` holding exactly what the reference scalar
//! semantics ([`ir::UnaryOp::eval`], [`ir::BinaryOp::eval`]) compute, so results are
//! bit-identical to evaluating the op. Folds cascade in one sweep (a folded node is a
//! constant for its users).
//!
//! Deliberately not done: reductions, contractions, convolutions, movement ops other than
//! reshape/broadcast, random numbers and fused ops stay as they are (they are rare on
//! constants and folding them would duplicate the interpreter). A fold whose result has more
//! than [`FOLD_LIMIT`] elements *and* more elements than its largest operand is skipped, so
//! `broadcast(0.0)` to a large shape stays a cheap scalar instead of a large literal. Dead
//! constants are left for [`super::dce`].

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
        let operands = graph.operands(id).into_iter().map(|o| rebuild.mapped(o)).collect::<Result<Vec<_>, _>>()?;
        let constants: Option<Vec<&Tensor>> = operands
            .iter()
            .map(|&o| match rebuild.new_graph().op(o) {
                Op::Const(t) => Some(t),
                _ => None,
            })
            .collect();
        let folded = match constants {
            Some(values) if !values.is_empty() => fold(graph.op(id), graph.shape(id), &values),
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

/// The value of `op` (result shape `shape`) on constant operands, or `None` when this pass
/// does not fold it.
fn fold(op: &Op, shape: &Shape, operands: &[&Tensor]) -> Option<Tensor> {
    let largest = operands.iter().map(|t| t.data.len()).max().unwrap_or(0);
    if shape.numel() > FOLD_LIMIT && shape.numel() > largest {
        return None;
    }
    match op {
        Op::Unary(u) => Some(broadcast_map(shape, operands, |v| u.eval(v[0]))),
        Op::Binary(b) => Some(broadcast_map(shape, operands, |v| b.eval(v[0], v[1]))),
        Op::Select => Some(broadcast_map(shape, operands, |v| if v[0] != 0.0 { v[1] } else { v[2] })),
        Op::Broadcast(_) => Some(broadcast_map(shape, operands, |v| v[0])),
        Op::Reshape(_) => Some(Tensor { shape: shape.clone(), data: operands[0].data.clone() }),
        _ => None,
    }
}

/// Apply `f` to every element of `shape`, reading each operand numpy-broadcast to it.
/// Callers guarantee each operand broadcasts to `shape` (shape inference checked it).
pub fn broadcast_map(shape: &Shape, operands: &[&Tensor], f: impl Fn(&[f32]) -> f32) -> Tensor {
    let out_strides = shape.strides();
    let strides: Vec<Vec<usize>> = operands.iter().map(|t| t.shape.broadcast_strides(shape)).collect();
    let mut values = vec![0.0; operands.len()];
    let data = (0..shape.numel())
        .map(|linear| {
            for (k, operand) in operands.iter().enumerate() {
                let (mut rest, mut offset) = (linear, 0);
                for (&out_stride, &stride) in out_strides.iter().zip(&strides[k]) {
                    offset += rest / out_stride * stride;
                    rest %= out_stride;
                }
                values[k] = operand.data[offset];
            }
            f(&values)
        })
        .collect();
    Tensor { shape: shape.clone(), data }
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
        let Op::Const(t) = out.op(folded) else { panic!("operand not folded: {:?}", out.op(folded)) };
        assert_eq!(t.shape, Shape::from([2, 3]));
        assert_eq!(t.data, vec![-11.0, -21.0, -31.0, -12.0, -22.0, -32.0]);
    }

    #[test]
    fn large_broadcast_of_a_scalar_is_not_folded() {
        let mut g = Graph::new();
        let zero = g.scalar(0.0);
        let big = g.add(Op::Broadcast(Shape::from([100, 100])), &[zero]).unwrap();
        let small = g.add(Op::Broadcast(Shape::from([2, 2])), &[zero]).unwrap();
        g.add_output("big", big).unwrap();
        g.add_output("small", small).unwrap();
        let out = const_fold(&g).unwrap();
        assert!(matches!(out.op(out.output("big").unwrap()), Op::Broadcast(_)));
        assert_eq!(out.op(out.output("small").unwrap()), &Op::Const(Tensor::full([2, 2], 0.0)));
    }

    #[test]
    fn broadcast_map_handles_size_one_axes() {
        let shape = Shape::from([2, 1, 3]);
        let a = Tensor::new([2, 1, 1], vec![1.0, 2.0]).unwrap();
        let b = Tensor::new([1, 3], vec![10.0, 20.0, 30.0]).unwrap();
        let t = broadcast_map(&shape, &[&a, &b], |v| v[0] + v[1]);
        assert_eq!(t.data, vec![11.0, 21.0, 31.0, 12.0, 22.0, 32.0]);
    }
}

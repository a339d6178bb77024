//! Shape inference: the result shape of an op from its operands' shapes, or an error that
//! names the op, the operand shapes and what is wrong.
//!
//! [`infer_shape`] dispatches each op to its family's shape rule, one file per family:
//! `source` (leaves, constants, random numbers), `elementwise`, `reduce`, `contraction`
//! (matmul, convolutions and their backprops), `pooling`, `movement`, `indexing` (gather, scatter-add), `fused`. `operands`
//! holds the operand checks they share and `name` the text-form name of each op.

mod contraction;
mod elementwise;
mod fused;
mod indexing;
mod movement;
mod name;
mod operands;
mod pooling;
mod reduce;
mod source;

use crate::error::{IrError, Result};
use crate::op::Op;
use crate::shape::Shape;
use contraction::contraction_shape;
use elementwise::elementwise_shape;
use fused::{extract_shape, infer_fused};
use indexing::indexing_shape;
use movement::movement_shape;
use operands::expect_operands;
use pooling::pooling_shape;
use source::source_shape;

pub use contraction::{conv2d_shape, depthwise_conv2d_shape, matmul_shape};
pub use name::op_name;
pub use pooling::pool2d_shape;
pub use reduce::reduce_shape;

/// Infer the result shape of `op` applied to operands of `shapes`.
///
/// One function per op family checks the operands and computes the shape; what it finds
/// wrong becomes an [`IrError::Shape`] that names the op and the operand shapes.
pub fn infer_shape(op: &Op, shapes: &[&Shape]) -> Result<Shape> {
    let inferred = match op {
        Op::Input { .. } | Op::Param { .. } | Op::Const(_) | Op::RandomUniform(_) => {
            source_shape(op, shapes)
        }
        Op::Unary(_) | Op::Binary(_) | Op::Select => elementwise_shape(op, shapes),
        Op::Reduce {
            op: reduce,
            axes,
            keep_dims,
        } => expect_operands(shapes, 1)
            .and_then(|()| reduce_shape(shapes[0], *reduce, axes, *keep_dims)),
        Op::MatMul { .. }
        | Op::Conv2d(_)
        | Op::Conv2dBackpropInput { .. }
        | Op::Conv2dBackpropFilter { .. }
        | Op::DepthwiseConv2d(_)
        | Op::DepthwiseConv2dBackpropInput { .. }
        | Op::DepthwiseConv2dBackpropFilter { .. } => contraction_shape(op, shapes),
        Op::Pool2d(_) | Op::Pool2dGrad(_) => pooling_shape(op, shapes),
        Op::Reshape(_)
        | Op::Transpose(_)
        | Op::Broadcast(_)
        | Op::StopGradient
        | Op::Slice { .. }
        | Op::Concat { .. }
        | Op::Pad { .. } => movement_shape(op, shapes),
        Op::Gather | Op::ScatterAdd { .. } => indexing_shape(op, shapes),
        Op::Fused(f) => infer_fused(f, shapes, infer_shape),
        Op::Extract { shape, .. } => extract_shape(shapes, shape),
    };
    inferred.map_err(|msg| IrError::Shape {
        op: op_name(op),
        operands: shapes
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
            .join(", "),
        msg,
    })
}

#[cfg(test)]
mod tests {
    use super::infer_shape;
    use crate::op::Op;
    use crate::shape::Shape;

    #[test]
    fn matmul_error_names_op_and_shapes() {
        let matmul = Op::MatMul {
            transpose_a: false,
            transpose_b: false,
        };
        let (a, b) = (Shape::from([2, 3]), Shape::from([4, 5]));
        let err = infer_shape(&matmul, &[&a, &b]).unwrap_err().to_string();
        assert!(
            err.contains("matmul") && err.contains("[2, 3], [4, 5]") && err.contains("3 vs 4"),
            "{err}"
        );
    }
}

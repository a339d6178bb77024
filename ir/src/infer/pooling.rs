//! Shapes of pooling and its gradient `pool2d_grad`.

use super::name::op_name;
use super::operands::{expect_forward_output, expect_operands};
use crate::op::{Op, Pool2dAttrs};
use crate::shape::Shape;

/// Pooling and its gradient (operands `x`, `dy`, the result shaped like `x`).
pub(super) fn pooling_shape(op: &Op, shapes: &[&Shape]) -> Result<Shape, String> {
    match op {
        Op::Pool2d(attrs) => {
            expect_operands(shapes, 1)?;
            pool2d_shape(shapes[0], attrs)
        }
        Op::Pool2dGrad(attrs) => {
            expect_operands(shapes, 2)?;
            expect_forward_output(&pool2d_shape(shapes[0], attrs)?, shapes[1])?;
            Ok(shapes[0].clone())
        }
        other => unreachable!("{} is not a pooling op", op_name(other)),
    }
}

/// Result shape of a pooling op.
pub fn pool2d_shape(x: &Shape, attrs: &Pool2dAttrs) -> Result<Shape, String> {
    if x.rank() != 4 {
        return Err("input must be [n, h, w, c]".into());
    }
    let mut out = [0; 2];
    for (axis, out_dim) in out.iter_mut().enumerate() {
        *out_dim = attrs
            .padding
            .resolve(axis, x.0[1 + axis], attrs.window[axis], attrs.strides[axis])
            .ok_or_else(|| {
                format!(
                    "the {:?} window does not fit the {}x{} input",
                    attrs.window, x.0[1], x.0[2]
                )
            })?
            .out;
    }
    Ok(Shape(vec![x.0[0], out[0], out[1], x.0[3]]))
}

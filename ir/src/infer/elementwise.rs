//! Shapes of the elementwise ops (unary, binary, select): the numpy broadcast of their
//! operands.

use super::name::op_name;
use super::operands::expect_operands;
use crate::op::Op;
use crate::shape::Shape;

/// Elementwise ops (unary, binary, select): the numpy broadcast of their operands.
pub(super) fn elementwise_shape(op: &Op, shapes: &[&Shape]) -> Result<Shape, String> {
    match op {
        Op::Unary(_) => {
            expect_operands(shapes, 1)?;
            Ok(shapes[0].clone())
        }
        Op::Binary(_) => {
            expect_operands(shapes, 2)?;
            Shape::broadcast(shapes[0], shapes[1]).ok_or_else(|| "shapes do not broadcast".into())
        }
        Op::Select => {
            expect_operands(shapes, 3)?;
            broadcast_all(shapes).ok_or_else(|| "shapes do not broadcast".into())
        }
        other => unreachable!("{} is not an elementwise op", op_name(other)),
    }
}

/// The numpy broadcast of all of `shapes` (a scalar when there are none); `None` when they
/// do not broadcast.
pub(super) fn broadcast_all(shapes: &[&Shape]) -> Option<Shape> {
    shapes
        .iter()
        .try_fold(Shape::scalar(), |acc, s| Shape::broadcast(&acc, s))
}

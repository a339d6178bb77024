//! Shapes of the source ops, which make a value from their attributes alone: leaves,
//! constants and random numbers.

use super::name::op_name;
use super::operands::expect_operands;
use crate::op::Op;
use crate::shape::Shape;

/// Ops that make a value from their attributes alone (leaves, constants, random numbers):
/// the shape they state, after checking it against their data or seed.
pub(super) fn source_shape(op: &Op, shapes: &[&Shape]) -> Result<Shape, String> {
    match op {
        Op::Input { shape, .. } | Op::Param { shape, .. } => {
            expect_operands(shapes, 0)?;
            Ok(shape.clone())
        }
        Op::Const(t) => {
            expect_operands(shapes, 0)?;
            if t.data.len() != t.shape.numel() {
                return Err(format!(
                    "constant of shape {} holds {} values",
                    t.shape,
                    t.data.len()
                ));
            }
            Ok(t.shape.clone())
        }
        Op::RandomUniform(shape) => {
            expect_operands(shapes, 1)?;
            if shapes[0].numel() != 1 {
                return Err("the seed must be a single value".into());
            }
            Ok(shape.clone())
        }
        other => unreachable!("{} is not a source op", op_name(other)),
    }
}

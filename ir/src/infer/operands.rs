//! The operand checks several op families share: the operand count, and a gradient op's
//! `dy` against its forward op's result.

use crate::shape::Shape;

/// `Ok` when there are exactly `n` operands.
pub(super) fn expect_operands(shapes: &[&Shape], n: usize) -> Result<(), String> {
    if shapes.len() == n {
        Ok(())
    } else {
        Err(format!("expects {n} operands, got {}", shapes.len()))
    }
}

/// `Ok` when a gradient op's `dy` operand has the shape of the forward op's result.
pub(super) fn expect_forward_output(forward_out: &Shape, dy: &Shape) -> Result<(), String> {
    if forward_out == dy {
        Ok(())
    } else {
        Err(format!(
            "dy must have the forward output shape {forward_out}"
        ))
    }
}

//! Fused ops, evaluated as their definition in [`crate::fused`] says: the primitive anchor
//! (the same code as the unfused op) followed or preceded by [`Program::eval`] at every
//! element, so fused and unfused graphs agree by construction.

use super::{contraction, depthwise, elementwise, pool, reduce};
use crate::fused::{FusedOp, Program};
use crate::shape::Shape;
use crate::tensor::Tensor;

/// Evaluate the fused op `op` on `args` into the inferred shape `out`.
pub(crate) fn eval_fused(op: &FusedOp, args: &[&Tensor], out: &Shape) -> Tensor {
    match op {
        FusedOp::Elementwise(program) => elementwise::program(out, program, args),
        FusedOp::MatMul {
            transpose_a,
            transpose_b,
            epilogue,
        } => {
            let anchor = contraction::matmul(args[0], args[1], *transpose_a, *transpose_b, out);
            apply_epilogue(anchor, epilogue, &args[2..])
        }
        FusedOp::Conv2d { attrs, epilogue } => {
            let anchor = contraction::conv2d(args[0], args[1], attrs, out);
            apply_epilogue(anchor, epilogue, &args[2..])
        }
        FusedOp::DepthwiseConv2d { attrs, epilogue } => {
            let anchor = depthwise::depthwise_conv2d(args[0], args[1], attrs, out);
            apply_epilogue(anchor, epilogue, &args[2..])
        }
        FusedOp::Pool2d { attrs, epilogue } => {
            let anchor = pool::pool2d(args[0], attrs, out);
            apply_epilogue(anchor, epilogue, &args[1..])
        }
        FusedOp::Reduce {
            op,
            axes,
            input_shape,
            prologue,
            ..
        } => {
            let pre = elementwise::program(input_shape, prologue, args);
            reduce::reduce(&pre, *op, axes, out)
        }
        // The node's own value; its results come from `eval_multi`.
        FusedOp::Multi(_) => Tensor::zeros(out.clone()),
    }
}

/// `epilogue(anchor, extra...)`: program input 0 is the anchor's element, input `i >= 1`
/// is `extra[i - 1]` broadcast to the anchor's shape.
fn apply_epilogue(anchor: Tensor, epilogue: &Program, extra: &[&Tensor]) -> Tensor {
    if epilogue.is_identity() {
        return anchor;
    }
    let inputs: Vec<&Tensor> = std::iter::once(&anchor)
        .chain(extra.iter().copied())
        .collect();
    elementwise::program(&anchor.shape, epilogue, &inputs)
}

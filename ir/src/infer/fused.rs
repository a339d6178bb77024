//! Shapes of the fused ops: an elementwise kernel's broadcast, an anchored kernel's anchor
//! shape (with its epilogue's extra operands checked against it), a fused reduction's
//! reduced prologue shape, a multi-result kernel's empty `[0]` and its `extract`s' shapes;
//! and the checks on each kernel's program.

use super::elementwise::broadcast_all;
use super::operands::expect_operands;
use super::reduce::reduce_shape;
use crate::error::{IrError, Result};
use crate::fused::FusedOp;
use crate::multi::MultiKernel;
use crate::op::Op;
use crate::shape::Shape;

/// The shape of fused op `f` on operands of `shapes`. `infer_shape` is the whole-op shape
/// inference ([`super::infer_shape`]) that gives an anchored kernel its anchor's shape; it is
/// passed in so that this family does not import the dispatcher that calls it.
pub(super) fn infer_fused(
    f: &FusedOp,
    shapes: &[&Shape],
    infer_shape: fn(&Op, &[&Shape]) -> Result<Shape>,
) -> Result<Shape, String> {
    let need = |n: usize| {
        if shapes.len() >= n {
            Ok(())
        } else {
            Err(format!("expects at least {n} operands"))
        }
    };
    let check_extra = |out: &Shape, extra: &[&Shape]| -> Result<(), String> {
        match extra.iter().find(|s| !s.broadcasts_to(out)) {
            Some(s) => Err(format!("epilogue operand {s} does not broadcast to {out}")),
            None => Ok(()),
        }
    };
    match f {
        FusedOp::Elementwise(p) => {
            if p.n_inputs() > shapes.len() {
                return Err("program reads more inputs than the kernel has".into());
            }
            broadcast_all(shapes).ok_or_else(|| "shapes do not broadcast".to_string())
        }
        FusedOp::MatMul { .. }
        | FusedOp::Conv2d { .. }
        | FusedOp::DepthwiseConv2d { .. }
        | FusedOp::Pool2d { .. } => {
            let k = f
                .anchored_epilogue()
                .ok_or("an epilogue kernel without an anchor")?;
            need(k.arity)?;
            // The anchor's own shape rules, its error message without the op prefix.
            let out = infer_shape(&k.anchor, &shapes[..k.arity]).map_err(|e| match e {
                IrError::Shape { msg, .. } => msg,
                other => other.to_string(),
            })?;
            check_extra(&out, &shapes[k.arity..])?;
            check_program(k.epilogue, shapes.len() - k.arity + 1)?;
            Ok(out)
        }
        FusedOp::Reduce {
            op,
            axes,
            keep_dims,
            input_shape,
            prologue,
        } => {
            check_extra(input_shape, shapes)?;
            check_program(prologue, shapes.len())?;
            reduce_shape(input_shape, *op, axes, *keep_dims)
        }
        FusedOp::Multi(kernel) => {
            kernel.check(shapes)?;
            Ok(MultiKernel::node_shape())
        }
    }
}

/// The shape of an `extract`: the one it carries, read from a multi-result kernel's node
/// (whether the kernel has that result of that shape needs the graph: the verifier checks it).
pub(super) fn extract_shape(shapes: &[&Shape], shape: &Shape) -> Result<Shape, String> {
    expect_operands(shapes, 1)?;
    if *shapes[0] != MultiKernel::node_shape() {
        return Err(format!(
            "reads a node of shape {}, not a multi-result kernel's {}",
            shapes[0],
            MultiKernel::node_shape()
        ));
    }
    Ok(shape.clone())
}

/// `Ok` when `p` is not empty and reads no more than `n_inputs` inputs.
fn check_program(p: &crate::fused::Program, n_inputs: usize) -> Result<(), String> {
    if p.instrs.is_empty() {
        return Err("empty program".into());
    }
    if p.n_inputs() > n_inputs {
        return Err(format!(
            "program reads input {} but the kernel has {n_inputs}",
            p.n_inputs() - 1
        ));
    }
    Ok(())
}

//! Decoding, text to op: the op called by a parsed name, built from its attributes and, for
//! fused ops, its program ([`decode`]).

use super::atoms::parse_usize;
use super::attrs::Attrs;
use super::names::{binary_named, reduce_op_named, unary_named};
use crate::fused::{FusedOp, Program};
use crate::multi::{Loop, LoopResult};
use crate::op::Op;

/// The non-leaf op called `name` with `attrs` and, for fused ops, `program`. Errors are
/// prefixed with the op name.
pub(in crate::text) fn decode(
    name: &str,
    mut attrs: Attrs,
    program: Option<Program>,
) -> Result<Op, String> {
    let mut program = program;
    let op = decode_op(name, &mut attrs, &mut program).map_err(|e| format!("`{name}`: {e}"))?;
    attrs.finish().map_err(|e| format!("`{name}`: {e}"))?;
    if program.is_some() {
        return Err(format!("`{name}` takes no `{{ ... }}` program"));
    }
    Ok(op)
}

/// The op called `name`: an elementwise op, a reduction, another primitive, or a fused op
/// (see [`decode_fused`]).
fn decode_op(name: &str, a: &mut Attrs, program: &mut Option<Program>) -> Result<Op, String> {
    if let Some(u) = unary_named(name) {
        return Ok(Op::Unary(u));
    }
    if let Some(b) = binary_named(name) {
        return Ok(Op::Binary(b));
    }
    if let Some(r) = name.strip_prefix("reduce.") {
        let op = reduce_op_named(r).ok_or_else(|| format!("unknown reduction `{r}`"))?;
        return Ok(Op::Reduce {
            op,
            axes: a.ints("axes")?,
            keep_dims: a.flag("keep_dims")?,
        });
    }
    if let Some(kind) = name.strip_prefix("fused.") {
        return decode_fused(kind, a, program).map(Op::Fused);
    }
    Ok(match name {
        "input" | "param" | "const" => return Err("misplaced leaf syntax".into()),
        "select" => Op::Select,
        "stop_gradient" => Op::StopGradient,
        "matmul" => Op::MatMul {
            transpose_a: a.flag("transpose_a")?,
            transpose_b: a.flag("transpose_b")?,
        },
        "conv2d" => Op::Conv2d(a.conv()?),
        "conv2d_backprop_input" => Op::Conv2dBackpropInput {
            attrs: a.conv()?,
            input_shape: a.shape("input_shape")?,
        },
        "conv2d_backprop_filter" => Op::Conv2dBackpropFilter {
            attrs: a.conv()?,
            filter_shape: a.shape("filter_shape")?,
        },
        "depthwise_conv2d" => Op::DepthwiseConv2d(a.conv()?),
        "depthwise_conv2d_backprop_input" => Op::DepthwiseConv2dBackpropInput {
            attrs: a.conv()?,
            input_shape: a.shape("input_shape")?,
        },
        "depthwise_conv2d_backprop_filter" => Op::DepthwiseConv2dBackpropFilter {
            attrs: a.conv()?,
            filter_shape: a.shape("filter_shape")?,
        },
        "pool2d" => Op::Pool2d(a.pool()?),
        "pool2d_grad" => Op::Pool2dGrad(a.pool()?),
        "reshape" => Op::Reshape(a.shape("shape")?),
        "transpose" => Op::Transpose(a.ints("perm")?),
        "broadcast" => Op::Broadcast(a.shape("shape")?),
        "slice" => Op::Slice {
            starts: a.ints("starts")?,
            ends: a.ints("ends")?,
        },
        "concat" => Op::Concat {
            axis: a.int("axis")?,
        },
        "pad" => Op::Pad {
            before: a.ints("before")?,
            after: a.ints("after")?,
            value: a.float("value")?,
        },
        "gather" => Op::Gather,
        "scatter_add" => Op::ScatterAdd {
            rows: a.int("rows")?,
        },
        "random_uniform" => Op::RandomUniform(a.shape("shape")?),
        "extract" => Op::Extract {
            index: a.int("index")?,
            shape: a.shape("shape")?,
        },
        _ => return Err("unknown op".into()),
    })
}

/// One `loop` line of a `fused.multi` from its attributes (`domain`, `axes` when it reduces,
/// `results`) and its body. Errors are prefixed with `loop`.
pub(in crate::text) fn decode_loop(mut a: Attrs, body: Program) -> Result<Loop, String> {
    let lp = (|| {
        let domain = a.shape("domain")?;
        let axes = a.optional_ints("axes")?.unwrap_or_default();
        let results = a
            .words("results")?
            .iter()
            .map(|r| loop_result(r))
            .collect::<Result<Vec<_>, _>>()?;
        a.finish()?;
        Ok(Loop {
            domain,
            axes,
            body,
            results,
        })
    })();
    lp.map_err(|e: String| format!("`loop`: {e}"))
}

/// A loop result as written: `r3`, `sum.r3` or `max.r3.keep_dims`.
fn loop_result(text: &str) -> Result<LoopResult, String> {
    let reg = |r: &str| {
        r.strip_prefix('r')
            .and_then(|n| parse_usize(n).ok())
            .ok_or_else(|| format!("`{text}` is not a result like `r3` or `sum.r3.keep_dims`"))
    };
    let parts: Vec<&str> = text.split('.').collect();
    match parts.as_slice() {
        [r] => Ok(LoopResult::Element(reg(r)?)),
        [op, r, rest @ ..] if rest.is_empty() || rest == ["keep_dims"] => Ok(LoopResult::Reduce {
            op: reduce_op_named(op).ok_or_else(|| format!("`{text}`: unknown reduction `{op}`"))?,
            reg: reg(r)?,
            keep_dims: !rest.is_empty(),
        }),
        _ => Err(format!(
            "`{text}` is not a result like `r3` or `sum.r3.keep_dims`"
        )),
    }
}

/// The fused op `fused.<kind>`: its attributes, then its program (taken out of `program`).
fn decode_fused(
    kind: &str,
    a: &mut Attrs,
    program: &mut Option<Program>,
) -> Result<FusedOp, String> {
    let mut take_program = || {
        program
            .take()
            .ok_or_else(|| "needs a `{ ... }` program".to_string())
    };
    Ok(match kind {
        "elementwise" => FusedOp::Elementwise(take_program()?),
        "matmul" => FusedOp::MatMul {
            transpose_a: a.flag("transpose_a")?,
            transpose_b: a.flag("transpose_b")?,
            epilogue: take_program()?,
        },
        "conv2d" => FusedOp::Conv2d {
            attrs: a.conv()?,
            epilogue: take_program()?,
        },
        "depthwise_conv2d" => FusedOp::DepthwiseConv2d {
            attrs: a.conv()?,
            epilogue: take_program()?,
        },
        "pool2d" => FusedOp::Pool2d {
            attrs: a.pool()?,
            epilogue: take_program()?,
        },
        "multi" => return Err("needs its loops, one `loop ... { ... }` per line".into()),
        "reduce" => FusedOp::Reduce {
            op: a.reduce_op()?,
            axes: a.ints("axes")?,
            keep_dims: a.flag("keep_dims")?,
            input_shape: a.shape("input_shape")?,
            prologue: take_program()?,
        },
        _ => return Err("unknown op".into()),
    })
}

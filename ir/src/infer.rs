//! Shape inference: the result shape of an op from its operands' shapes, or an error that
//! names the op, the operand shapes and what is wrong.

use crate::error::{IrError, Result};
use crate::fused::FusedOp;
use crate::op::{Conv2dAttrs, Op, Pool2dAttrs, ReduceOp};
use crate::shape::Shape;

/// The text-form name of an op (used in errors and by the printer).
pub fn op_name(op: &Op) -> String {
    match op {
        Op::Input { .. } => "input".into(),
        Op::Param { .. } => "param".into(),
        Op::Const(_) => "const".into(),
        Op::Unary(u) => u.name().into(),
        Op::Binary(b) => b.name().into(),
        Op::Select => "select".into(),
        Op::Reduce { op, .. } => format!("reduce.{}", op.name()),
        Op::MatMul { .. } => "matmul".into(),
        Op::Conv2d(_) => "conv2d".into(),
        Op::Conv2dBackpropInput { .. } => "conv2d_backprop_input".into(),
        Op::Conv2dBackpropFilter { .. } => "conv2d_backprop_filter".into(),
        Op::DepthwiseConv2d(_) => "depthwise_conv2d".into(),
        Op::DepthwiseConv2dBackpropInput { .. } => "depthwise_conv2d_backprop_input".into(),
        Op::DepthwiseConv2dBackpropFilter { .. } => "depthwise_conv2d_backprop_filter".into(),
        Op::Pool2d(_) => "pool2d".into(),
        Op::Pool2dGrad(_) => "pool2d_grad".into(),
        Op::Reshape(_) => "reshape".into(),
        Op::Transpose(_) => "transpose".into(),
        Op::Broadcast(_) => "broadcast".into(),
        Op::Slice { .. } => "slice".into(),
        Op::Concat { .. } => "concat".into(),
        Op::Pad { .. } => "pad".into(),
        Op::RandomUniform(_) => "random_uniform".into(),
        Op::Fused(f) => f.name().into(),
    }
}

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
        | Op::Slice { .. }
        | Op::Concat { .. }
        | Op::Pad { .. } => movement_shape(op, shapes),
        Op::Fused(f) => infer_fused(f, shapes),
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

/// `Ok` when there are exactly `n` operands.
fn expect_operands(shapes: &[&Shape], n: usize) -> Result<(), String> {
    if shapes.len() == n {
        Ok(())
    } else {
        Err(format!("expects {n} operands, got {}", shapes.len()))
    }
}

/// Ops that make a value from their attributes alone (leaves, constants, random numbers):
/// the shape they state, after checking it against their data or seed.
fn source_shape(op: &Op, shapes: &[&Shape]) -> Result<Shape, String> {
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

/// Elementwise ops (unary, binary, select): the numpy broadcast of their operands.
fn elementwise_shape(op: &Op, shapes: &[&Shape]) -> Result<Shape, String> {
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

/// Contractions (matmul, the convolutions and their backprops), all with two operands.
fn contraction_shape(op: &Op, shapes: &[&Shape]) -> Result<Shape, String> {
    expect_operands(shapes, 2)?;
    let (a, b) = (shapes[0], shapes[1]);
    match op {
        Op::MatMul {
            transpose_a,
            transpose_b,
        } => matmul_shape(a, b, *transpose_a, *transpose_b),
        Op::Conv2d(attrs) => conv2d_shape(a, b, attrs),
        Op::DepthwiseConv2d(attrs) => depthwise_conv2d_shape(a, b, attrs),
        Op::Conv2dBackpropInput { attrs, input_shape } => {
            backprop_input_shape(conv2d_shape, attrs, input_shape, a, b)
        }
        Op::Conv2dBackpropFilter {
            attrs,
            filter_shape,
        } => backprop_filter_shape(conv2d_shape, attrs, filter_shape, a, b),
        Op::DepthwiseConv2dBackpropInput { attrs, input_shape } => {
            backprop_input_shape(depthwise_conv2d_shape, attrs, input_shape, a, b)
        }
        Op::DepthwiseConv2dBackpropFilter {
            attrs,
            filter_shape,
        } => backprop_filter_shape(depthwise_conv2d_shape, attrs, filter_shape, a, b),
        other => unreachable!("{} is not a contraction", op_name(other)),
    }
}

/// The shape rule of a forward convolution: its result from input, filter and attributes.
type ForwardConvShape = fn(&Shape, &Shape, &Conv2dAttrs) -> Result<Shape, String>;

/// A convolution's gradient with respect to its input (operands `dy`, filter): the given
/// `input_shape`, once `dy` is checked against the forward result.
fn backprop_input_shape(
    forward: ForwardConvShape,
    attrs: &Conv2dAttrs,
    input_shape: &Shape,
    dy: &Shape,
    filter: &Shape,
) -> Result<Shape, String> {
    expect_forward_output(&forward(input_shape, filter, attrs)?, dy)?;
    Ok(input_shape.clone())
}

/// A convolution's gradient with respect to its filter (operands input, `dy`): the given
/// `filter_shape`, once `dy` is checked against the forward result.
fn backprop_filter_shape(
    forward: ForwardConvShape,
    attrs: &Conv2dAttrs,
    filter_shape: &Shape,
    input: &Shape,
    dy: &Shape,
) -> Result<Shape, String> {
    expect_forward_output(&forward(input, filter_shape, attrs)?, dy)?;
    Ok(filter_shape.clone())
}

/// `Ok` when a gradient op's `dy` operand has the shape of the forward op's result.
fn expect_forward_output(forward_out: &Shape, dy: &Shape) -> Result<(), String> {
    if forward_out == dy {
        Ok(())
    } else {
        Err(format!(
            "dy must have the forward output shape {forward_out}"
        ))
    }
}

/// Pooling and its gradient (operands `x`, `dy`, the result shaped like `x`).
fn pooling_shape(op: &Op, shapes: &[&Shape]) -> Result<Shape, String> {
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

/// Movement ops: the same elements rearranged (reshape, transpose, broadcast, slice,
/// concat, pad).
fn movement_shape(op: &Op, shapes: &[&Shape]) -> Result<Shape, String> {
    if let Op::Concat { axis } = op {
        return concat_shape(shapes, *axis);
    }
    expect_operands(shapes, 1)?;
    let x = shapes[0];
    match op {
        Op::Reshape(target) => {
            if target.numel() != x.numel() {
                return Err(format!("cannot reshape {} elements to {target}", x.numel()));
            }
            Ok(target.clone())
        }
        Op::Transpose(perm) => transpose_shape(x, perm),
        Op::Broadcast(target) => {
            if !x.broadcasts_to(target) {
                return Err(format!("does not broadcast to {target}"));
            }
            Ok(target.clone())
        }
        Op::Slice { starts, ends } => slice_shape(x, starts, ends),
        Op::Pad { before, after, .. } => pad_shape(x, before, after),
        other => unreachable!("{} is not a movement op", op_name(other)),
    }
}

/// Result shape of a transpose: axis `i` is `x`'s axis `perm[i]`.
fn transpose_shape(x: &Shape, perm: &[usize]) -> Result<Shape, String> {
    let mut seen = vec![false; perm.len()];
    if perm.len() != x.rank()
        || perm
            .iter()
            .any(|&p| p >= perm.len() || std::mem::replace(&mut seen[p], true))
    {
        return Err(format!(
            "{perm:?} is not a permutation of the operand's axes"
        ));
    }
    Ok(Shape(perm.iter().map(|&p| x.0[p]).collect()))
}

/// Result shape of a slice: `ends - starts` per axis, each range inside `x`.
fn slice_shape(x: &Shape, starts: &[usize], ends: &[usize]) -> Result<Shape, String> {
    if starts.len() != x.rank() || ends.len() != x.rank() {
        return Err("starts/ends need one entry per axis".into());
    }
    let mut dims = Vec::with_capacity(x.rank());
    for i in 0..x.rank() {
        if starts[i] > ends[i] || ends[i] > x.0[i] {
            return Err(format!(
                "axis {i}: range {}..{} outside 0..{}",
                starts[i], ends[i], x.0[i]
            ));
        }
        dims.push(ends[i] - starts[i]);
    }
    Ok(Shape(dims))
}

/// Result shape of a concat along `axis`: the operands' sizes there summed, all other axes
/// equal.
fn concat_shape(shapes: &[&Shape], axis: usize) -> Result<Shape, String> {
    if shapes.is_empty() {
        return Err("needs at least one operand".into());
    }
    let first = shapes[0];
    if axis >= first.rank() {
        return Err(format!("axis {axis} out of range"));
    }
    let mut dims = first.0.clone();
    dims[axis] = 0;
    for s in shapes {
        let same_rest =
            s.rank() == first.rank() && (0..s.rank()).all(|i| i == axis || s.0[i] == first.0[i]);
        if !same_rest {
            return Err(format!("all axes but {axis} must be equal"));
        }
        dims[axis] = dims[axis]
            .checked_add(s.0[axis])
            .ok_or_else(|| "joined size overflows".to_string())?;
    }
    Ok(Shape(dims))
}

/// Result shape of a pad: `before + x + after` per axis.
fn pad_shape(x: &Shape, before: &[usize], after: &[usize]) -> Result<Shape, String> {
    if before.len() != x.rank() || after.len() != x.rank() {
        return Err("before/after need one entry per axis".into());
    }
    let dims = (0..x.rank())
        .map(|i| x.0[i].checked_add(before[i])?.checked_add(after[i]))
        .collect::<Option<Vec<_>>>();
    dims.map(Shape)
        .ok_or_else(|| "padded size overflows".into())
}

fn broadcast_all(shapes: &[&Shape]) -> Option<Shape> {
    shapes
        .iter()
        .try_fold(Shape::scalar(), |acc, s| Shape::broadcast(&acc, s))
}

/// Result shape of a reduction.
pub fn reduce_shape(
    x: &Shape,
    op: ReduceOp,
    axes: &[usize],
    keep_dims: bool,
) -> Result<Shape, String> {
    if axes.windows(2).any(|w| w[0] >= w[1]) || axes.iter().any(|&a| a >= x.rank()) {
        return Err(format!(
            "axes {axes:?} must be strictly increasing and below rank {}",
            x.rank()
        ));
    }
    if op == ReduceOp::ArgMax && axes.len() != 1 {
        return Err("argmax reduces exactly one axis".into());
    }
    if axes.iter().any(|&a| x.0[a] == 0) {
        return Err("cannot reduce an empty axis".into());
    }
    let dims = (0..x.rank())
        .filter_map(|i| match (axes.contains(&i), keep_dims) {
            (false, _) => Some(x.0[i]),
            (true, true) => Some(1),
            (true, false) => None,
        })
        .collect();
    Ok(Shape(dims))
}

/// Result shape of a (batched, optionally transposed) matmul.
pub fn matmul_shape(a: &Shape, b: &Shape, ta: bool, tb: bool) -> Result<Shape, String> {
    if a.rank() < 2 || b.rank() < 2 || a.rank() != b.rank() {
        return Err("operands must have equal rank >= 2".into());
    }
    let r = a.rank();
    if a.0[..r - 2] != b.0[..r - 2] {
        return Err("batch axes differ".into());
    }
    let (m, ka) = if ta {
        (a.0[r - 1], a.0[r - 2])
    } else {
        (a.0[r - 2], a.0[r - 1])
    };
    let (kb, n) = if tb {
        (b.0[r - 1], b.0[r - 2])
    } else {
        (b.0[r - 2], b.0[r - 1])
    };
    if ka != kb {
        return Err(format!("contraction sizes differ: {ka} vs {kb}"));
    }
    let mut dims = a.0[..r - 2].to_vec();
    dims.extend([m, n]);
    Ok(Shape(dims))
}

/// Result shape of a convolution.
pub fn conv2d_shape(x: &Shape, w: &Shape, attrs: &Conv2dAttrs) -> Result<Shape, String> {
    if x.rank() != 4 || w.rank() != 4 {
        return Err("input must be [n, h, w, c] and filter [kh, kw, c, o]".into());
    }
    if x.0[3] != w.0[2] {
        return Err(format!(
            "input has {} channels but the filter expects {}",
            x.0[3], w.0[2]
        ));
    }
    if attrs.dilation.contains(&0) {
        return Err("dilation must be >= 1".into());
    }
    let mut out = [0; 2];
    for (axis, out_dim) in out.iter_mut().enumerate() {
        let window = w.0[axis]
            .checked_sub(1)
            .and_then(|k| k.checked_mul(attrs.dilation[axis]))
            .map(|k| k + 1);
        *out_dim = window
            .and_then(|window| {
                attrs
                    .padding
                    .resolve(axis, x.0[1 + axis], window, attrs.strides[axis])
            })
            .ok_or_else(|| {
                format!(
                    "the {}x{} filter does not fit the {}x{} input",
                    w.0[0], w.0[1], x.0[1], x.0[2]
                )
            })?
            .out;
    }
    Ok(Shape(vec![x.0[0], out[0], out[1], w.0[3]]))
}

/// Result shape of a depthwise convolution: input `[n, h, w, c]`, filter `[kh, kw, c, m]`,
/// result `[n, oh, ow, c * m]`.
pub fn depthwise_conv2d_shape(x: &Shape, w: &Shape, attrs: &Conv2dAttrs) -> Result<Shape, String> {
    if x.rank() != 4 || w.rank() != 4 {
        return Err("input must be [n, h, w, c] and filter [kh, kw, c, multiplier]".into());
    }
    let out_channels = w.0[2]
        .checked_mul(w.0[3])
        .ok_or("the filter's channel count overflows")?;
    let mut out = conv2d_shape(x, &Shape(vec![w.0[0], w.0[1], w.0[2], out_channels]), attrs)?;
    out.0[3] = out_channels;
    Ok(out)
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

fn infer_fused(f: &FusedOp, shapes: &[&Shape]) -> Result<Shape, String> {
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
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::Graph;
    use crate::op::Padding;

    #[test]
    fn matmul_error_names_op_and_shapes() {
        let mut g = Graph::new();
        let a = g.input("a", [2, 3]);
        let b = g.input("b", [4, 5]);
        let err = g.matmul(a, b, false, false).unwrap_err().to_string();
        assert!(
            err.contains("matmul") && err.contains("[2, 3], [4, 5]") && err.contains("3 vs 4"),
            "{err}"
        );
    }

    #[test]
    fn conv_same_stride_two_on_odd_input() {
        let attrs = Conv2dAttrs {
            strides: [2, 2],
            dilation: [1, 1],
            padding: Padding::Same,
        };
        let s = conv2d_shape(
            &Shape::from([1, 7, 7, 3]),
            &Shape::from([3, 3, 3, 8]),
            &attrs,
        )
        .unwrap();
        assert_eq!(s, Shape::from([1, 4, 4, 8]));
    }
}

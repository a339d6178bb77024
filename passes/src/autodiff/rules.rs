//! One reverse-mode rule per primitive op: given a forward node `y = op(operands)` and the
//! gradient `dy` of the loss with respect to `y`, build the gradient with respect to one
//! operand. Each rule states its math in a comment. `None` means "no gradient flows to this
//! operand" (a zero gradient that needs no node).
//!
//! Tie and kink conventions (the subgradient each rule picks):
//! - `relu`, `abs` at 0: gradient 0 (`relu`: `x > 0`; `abs`: `sign(0) = 0`).
//! - binary `max`/`min` on a tie: the whole gradient goes to `a`.
//! - `reduce.max`/`reduce.min` on a tie: the gradient is split evenly among the tied
//!   elements (so the sum over them is `dy`).
//! - `pow`: `db = dy * y * ln(a)` where `a > 0`, and 0 where `a <= 0` (where `ln` is undefined).
//! - max pooling: the gradient goes to the first maximum of each window (see `Pool2dGrad`);
//!   differentiating that again with respect to `dy` needs non-overlapping windows.
//! - `sign`, `floor`, comparisons, `argmax`, `random_uniform`'s seed and `select`'s condition
//!   are piecewise constant: no gradient.

use ir::infer::op_name;
use ir::{
    BinaryOp, Conv2dAttrs, Graph, NodeId, Op, Pool2dAttrs, PoolKind, ReduceOp, Shape, Tensor,
    UnaryOp,
};

use super::emit::{Emit, Res, zeros};
use crate::error::PassError;

/// One forward node as a rule sees it.
pub(crate) struct Site {
    /// The forward node `y`.
    pub node: NodeId,
    /// Its op.
    pub op: Op,
    /// Its operands, in order.
    pub operands: Vec<NodeId>,
    /// The gradient of the loss with respect to `y` (shape of `y`).
    pub dy: NodeId,
}

/// The gradient of the loss with respect to operand `i` of `site`, shaped like that operand,
/// or `None` when no gradient flows to it. Dispatches to one rule function per op family.
pub(crate) fn operand_grad(g: &mut Graph, site: &Site, i: usize) -> Res<Option<NodeId>> {
    let (y, dy, x) = (site.node, site.dy, site.operands[i]);
    match &site.op {
        Op::Input { .. } | Op::Param { .. } | Op::Const(_) => Ok(None),
        Op::Unary(u) => unary_grad(g, *u, x, y, dy),
        Op::Binary(_) | Op::Select => broadcasting_grad(g, site, i),
        Op::Reduce {
            op,
            axes,
            keep_dims,
        } => reduce_grad(g, *op, axes, *keep_dims, x, y, dy),
        Op::MatMul { .. }
        | Op::Conv2d(_)
        | Op::Conv2dBackpropInput { .. }
        | Op::Conv2dBackpropFilter { .. }
        | Op::DepthwiseConv2d(_)
        | Op::DepthwiseConv2dBackpropInput { .. }
        | Op::DepthwiseConv2dBackpropFilter { .. } => contraction_grad(g, site, i).map(Some),
        Op::Pool2d(_) | Op::Pool2dGrad(_) => pooling_grad(g, site, i),
        Op::Reshape(_)
        | Op::Transpose(_)
        | Op::Broadcast(_)
        | Op::Slice { .. }
        | Op::Concat { .. }
        | Op::Pad { .. } => movement_grad(g, site, i).map(Some),
        // y = uniform(seed): piecewise constant in the seed.
        Op::RandomUniform(_) => Ok(None),
        Op::Fused(_) => Err(PassError::Autodiff(format!(
            "node {y} ({}) is a fused op; run autodiff before fusion",
            op_name(&site.op)
        ))),
    }
}

/// The gradient for operand `i` of a broadcasting elementwise op (binary, select): its rule's
/// gradient, shaped like `y`, summed back to the operand's shape.
fn broadcasting_grad(g: &mut Graph, site: &Site, i: usize) -> Res<Option<NodeId>> {
    let (y, dy, ops) = (site.node, site.dy, &site.operands);
    let x_shape = g.shape(ops[i]).clone();
    let full = match &site.op {
        Op::Binary(b) => binary_grad(g, *b, ops[0], ops[1], y, dy, i)?,
        Op::Select => select_grad(g, ops[0], dy, i)?,
        other => unreachable!("{} is not a broadcasting op", op_name(other)),
    };
    match full {
        Some(full) => Ok(Some(g.reduce_to(full, &x_shape)?)),
        None => Ok(None),
    }
}

/// The gradient for operand `i` of `y = cond ? a : b`, still shaped like `y`:
/// `da = cond ? dy : 0`, `db = cond ? 0 : dy`; none to `cond`.
fn select_grad(g: &mut Graph, cond: NodeId, dy: NodeId, i: usize) -> Res<Option<NodeId>> {
    let zero = g.scalar(0.0);
    let full = match i {
        1 => g.select(cond, dy, zero)?,
        2 => g.select(cond, zero, dy)?,
        _ => return Ok(None),
    };
    Ok(Some(full))
}

/// The gradient for operand `i` of a contraction: a matmul, or a member of a convolution
/// family (see [`conv_grad`]).
fn contraction_grad(g: &mut Graph, site: &Site, i: usize) -> Res {
    let (family, role, attrs) = match &site.op {
        Op::MatMul {
            transpose_a,
            transpose_b,
        } => {
            let (a, b) = (site.operands[0], site.operands[1]);
            return matmul_grad(g, *transpose_a, *transpose_b, a, b, site.dy, i);
        }
        Op::Conv2d(attrs) => (&DENSE_CONV, ConvRole::Forward, attrs),
        Op::Conv2dBackpropInput { attrs, .. } => (&DENSE_CONV, ConvRole::BackpropInput, attrs),
        Op::Conv2dBackpropFilter { attrs, .. } => (&DENSE_CONV, ConvRole::BackpropFilter, attrs),
        Op::DepthwiseConv2d(attrs) => (&DEPTHWISE_CONV, ConvRole::Forward, attrs),
        Op::DepthwiseConv2dBackpropInput { attrs, .. } => {
            (&DEPTHWISE_CONV, ConvRole::BackpropInput, attrs)
        }
        Op::DepthwiseConv2dBackpropFilter { attrs, .. } => {
            (&DEPTHWISE_CONV, ConvRole::BackpropFilter, attrs)
        }
        other => unreachable!("{} is not a contraction", op_name(other)),
    };
    conv_grad(g, family, role, *attrs, site, i)
}

/// The gradient for operand `i` of a pooling op or its gradient.
fn pooling_grad(g: &mut Graph, site: &Site, i: usize) -> Res<Option<NodeId>> {
    let (y, dy, ops) = (site.node, site.dy, &site.operands);
    let grad = match &site.op {
        // y = pool(x): dx = pool2d_grad(x, dy) (max: to the window's first maximum;
        // avg: spread over the window's non-padding elements).
        Op::Pool2d(attrs) => g.add(Op::Pool2dGrad(*attrs), &[ops[i], dy])?,
        // z = pool2d_grad(x, d) = J(x)^T d, piecewise constant in x (no gradient to x).
        // Average pooling: J is the pooling itself, so dd = avg_pool(dz). Max pooling: see
        // `max_pool_grad_wrt_dy`.
        Op::Pool2dGrad(attrs) => match (i, attrs.kind) {
            (0, _) => return Ok(None),
            (_, PoolKind::Avg) => g.add(Op::Pool2d(*attrs), &[dy])?,
            (_, PoolKind::Max) => max_pool_grad_wrt_dy(g, *attrs, ops[0], ops[1], dy, y)?,
        },
        other => unreachable!("{} is not a pooling op", op_name(other)),
    };
    Ok(Some(grad))
}

/// The gradient for operand `i` of a movement op: the inverse movement of `dy`.
fn movement_grad(g: &mut Graph, site: &Site, i: usize) -> Res {
    let (dy, ops) = (site.dy, &site.operands);
    let x_shape = g.shape(ops[i]).clone();
    let dx = match &site.op {
        // y = reshape(x): dx = reshape(dy, shape(x)).
        Op::Reshape(_) => g.reshape_to(dy, &x_shape)?,
        // y axis k = x axis perm[k]: dx = transpose(dy, perm^-1).
        Op::Transpose(perm) => {
            let mut inverse = vec![0; perm.len()];
            for (k, &p) in perm.iter().enumerate() {
                inverse[p] = k;
            }
            g.add(Op::Transpose(inverse), &[dy])?
        }
        // y = broadcast(x): dx = sum of dy over the broadcast axes.
        Op::Broadcast(_) => g.reduce_to(dy, &x_shape)?,
        // y = x[starts..ends]: dx = pad(dy, starts, dims - ends, 0).
        Op::Slice { starts, ends } => {
            let after = x_shape.0.iter().zip(ends).map(|(d, e)| d - e).collect();
            let pad = Op::Pad {
                before: starts.clone(),
                after,
                value: 0.0,
            };
            g.add(pad, &[dy])?
        }
        // y = concat(x_0, .., x_n): dx_i = dy[offset_i .. offset_i + len_i] along the axis.
        Op::Concat { axis } => {
            let offset: usize = ops[..i].iter().map(|&o| g.shape(o).0[*axis]).sum();
            let mut starts = vec![0; x_shape.rank()];
            starts[*axis] = offset;
            let mut ends = x_shape.0.clone();
            ends[*axis] += offset;
            g.add(Op::Slice { starts, ends }, &[dy])?
        }
        // y = pad(x, before, after): dx = dy[before .. before + dims].
        Op::Pad { before, .. } => {
            let ends = before.iter().zip(&x_shape.0).map(|(b, d)| b + d).collect();
            let slice = Op::Slice {
                starts: before.clone(),
                ends,
            };
            g.add(slice, &[dy])?
        }
        other => unreachable!("{} is not a movement op", op_name(other)),
    };
    Ok(dx)
}

/// A convolution and its two adjoints, as op constructors: dense and depthwise convolution
/// share one gradient rule.
struct ConvFamily {
    /// `conv(x, w)`.
    forward: fn(Conv2dAttrs) -> Op,
    /// `backprop_input(dy, w)`, given the forward input's shape.
    backprop_input: fn(Conv2dAttrs, Shape) -> Op,
    /// `backprop_filter(x, dy)`, given the forward filter's shape.
    backprop_filter: fn(Conv2dAttrs, Shape) -> Op,
}

const DENSE_CONV: ConvFamily = ConvFamily {
    forward: Op::Conv2d,
    backprop_input: |attrs, input_shape| Op::Conv2dBackpropInput { attrs, input_shape },
    backprop_filter: |attrs, filter_shape| Op::Conv2dBackpropFilter {
        attrs,
        filter_shape,
    },
};

const DEPTHWISE_CONV: ConvFamily = ConvFamily {
    forward: Op::DepthwiseConv2d,
    backprop_input: |attrs, input_shape| Op::DepthwiseConv2dBackpropInput { attrs, input_shape },
    backprop_filter: |attrs, filter_shape| Op::DepthwiseConv2dBackpropFilter {
        attrs,
        filter_shape,
    },
};

/// Which member of a [`ConvFamily`] is being differentiated.
#[derive(Clone, Copy)]
enum ConvRole {
    Forward,
    BackpropInput,
    BackpropFilter,
}

/// The gradient with respect to operand `i` of `site`, one member of a convolution family.
/// `conv` is bilinear and the backprops are its adjoints, so every gradient is another member
/// of the family.
fn conv_grad(
    g: &mut Graph,
    f: &ConvFamily,
    role: ConvRole,
    attrs: Conv2dAttrs,
    site: &Site,
    i: usize,
) -> Res<NodeId> {
    let (dy, ops) = (site.dy, &site.operands);
    let x_shape = g.shape(ops[i]).clone();
    let (op, args) = match (role, i) {
        // y = conv(x, w): dx = backprop_input(dy, w), dw = backprop_filter(x, dy).
        (ConvRole::Forward, 0) => ((f.backprop_input)(attrs, x_shape), [dy, ops[1]]),
        (ConvRole::Forward, _) => ((f.backprop_filter)(attrs, x_shape), [ops[0], dy]),
        // z = bpi(d, w) with <dz, bpi(d, w)> = <conv(dz, w), d> = <bpf(dz, d), w>:
        // dd = conv(dz, w), dw = backprop_filter(dz, d).
        (ConvRole::BackpropInput, 0) => ((f.forward)(attrs), [dy, ops[1]]),
        (ConvRole::BackpropInput, _) => ((f.backprop_filter)(attrs, x_shape), [dy, ops[0]]),
        // z = bpf(x, d) with <dz, bpf(x, d)> = <conv(x, dz), d> = <bpi(d, dz), x>:
        // dx = backprop_input(d, dz), dd = conv(x, dz).
        (ConvRole::BackpropFilter, 0) => ((f.backprop_input)(attrs, x_shape), [ops[1], dy]),
        (ConvRole::BackpropFilter, _) => ((f.forward)(attrs), [ops[0], dy]),
    };
    Ok(g.add(op, &args)?)
}

/// `dx` for `y = u(x)`, as `dy * u'(x)` written with `x` or `y`.
fn unary_grad(g: &mut Graph, u: UnaryOp, x: NodeId, y: NodeId, dy: NodeId) -> Res<Option<NodeId>> {
    use UnaryOp::*;
    let dx = match u {
        // y = -x: dx = -dy
        Neg => g.un(Neg, dy)?,
        // y = |x|: dx = dy * sign(x)
        Abs => {
            let s = g.un(Sign, x)?;
            g.mul2(dy, s)?
        }
        // y = sign(x), y = floor(x): piecewise constant, no gradient.
        Sign | Floor => return Ok(None),
        // y = e^x: dx = dy * y
        Exp => g.mul2(dy, y)?,
        // y = e^x - 1: dx = dy * (y + 1)
        Expm1 => {
            let one = g.scalar(1.0);
            let ex = g.add2(y, one)?;
            g.mul2(dy, ex)?
        }
        // y = ln x: dx = dy / x
        Log => g.div2(dy, x)?,
        // y = ln(1 + x): dx = dy / (1 + x)
        Log1p => {
            let one = g.scalar(1.0);
            let d = g.add2(x, one)?;
            g.div2(dy, d)?
        }
        // y = sqrt(x): dx = dy / (2 y)
        Sqrt => {
            let two_y = g.scale(y, 2.0)?;
            g.div2(dy, two_y)?
        }
        // y = x^(-1/2): dx = dy * (-1/2) x^(-3/2) = dy * (-1/2) * y / x
        Rsqrt => {
            let r = g.div2(y, x)?;
            let r = g.scale(r, -0.5)?;
            g.mul2(dy, r)?
        }
        // y = 1/x: dx = -dy * y^2
        Recip => {
            let y2 = g.un(Square, y)?;
            let d = g.mul2(dy, y2)?;
            g.un(Neg, d)?
        }
        // y = x^2: dx = dy * 2x
        Square => {
            let two_x = g.scale(x, 2.0)?;
            g.mul2(dy, two_x)?
        }
        Relu | Sigmoid | Tanh | Erf => activation_grad(g, u, x, y, dy)?,
    };
    Ok(Some(dx))
}

/// `dx` for the activation functions among the unary ops (`relu`, `sigmoid`, `tanh`, `erf`).
fn activation_grad(g: &mut Graph, u: UnaryOp, x: NodeId, y: NodeId, dy: NodeId) -> Res<NodeId> {
    use UnaryOp::*;
    Ok(match u {
        // y = max(x, 0): dx = dy * (x > 0)
        Relu => {
            let zero = g.scalar(0.0);
            let pos = g.bin(BinaryOp::Gt, x, zero)?;
            g.mul2(dy, pos)?
        }
        // y = 1/(1 + e^-x): dx = dy * y * (1 - y)
        Sigmoid => {
            let one = g.scalar(1.0);
            let one_minus = g.sub2(one, y)?;
            let d = g.mul2(y, one_minus)?;
            g.mul2(dy, d)?
        }
        // y = tanh x: dx = dy * (1 - y^2)
        Tanh => {
            let one = g.scalar(1.0);
            let y2 = g.un(Square, y)?;
            let d = g.sub2(one, y2)?;
            g.mul2(dy, d)?
        }
        // y = erf x: dx = dy * 2/sqrt(pi) * e^(-x^2)
        Erf => {
            let x2 = g.un(Square, x)?;
            let neg = g.un(Neg, x2)?;
            let e = g.un(Exp, neg)?;
            let d = g.scale(e, std::f32::consts::FRAC_2_SQRT_PI)?;
            g.mul2(dy, d)?
        }
        other => unreachable!("{other:?} is not an activation"),
    })
}

/// The gradient for operand `i` of `y = op(a, b)`, still shaped like `y` (the caller sums
/// it back to the operand's shape).
fn binary_grad(
    g: &mut Graph,
    op: BinaryOp,
    a: NodeId,
    b: NodeId,
    y: NodeId,
    dy: NodeId,
    i: usize,
) -> Res<Option<NodeId>> {
    use BinaryOp::*;
    let full = match (op, i) {
        // y = a + b: da = dy, db = dy
        (Add, _) => dy,
        // y = a - b: da = dy, db = -dy
        (Sub, 0) => dy,
        (Sub, _) => g.un(UnaryOp::Neg, dy)?,
        // y = a * b: da = dy * b, db = dy * a
        (Mul, 0) => g.mul2(dy, b)?,
        (Mul, _) => g.mul2(dy, a)?,
        // y = a / b: da = dy / b, db = -dy * a / b^2 = -dy * y / b
        (Div, 0) => g.div2(dy, b)?,
        (Div, _) => {
            let q = g.div2(y, b)?;
            let d = g.mul2(dy, q)?;
            g.un(UnaryOp::Neg, d)?
        }
        // y = max(a, b): da = dy * (a >= b), db = dy * (a < b)  (ties go to a)
        (Max, 0) => masked(g, Ge, a, b, dy)?,
        (Max, _) => masked(g, Lt, a, b, dy)?,
        // y = min(a, b): da = dy * (a <= b), db = dy * (a > b)  (ties go to a)
        (Min, 0) => masked(g, Le, a, b, dy)?,
        (Min, _) => masked(g, Gt, a, b, dy)?,
        // y = a^b: da = dy * b * a^(b - 1)
        (Pow, 0) => {
            let one = g.scalar(1.0);
            let b1 = g.sub2(b, one)?;
            let p = g.bin(Pow, a, b1)?;
            let d = g.mul2(b, p)?;
            g.mul2(dy, d)?
        }
        // y = a^b: db = dy * y * ln(a) where a > 0, else 0
        (Pow, _) => {
            let zero = g.scalar(0.0);
            let pos = g.bin(Gt, a, zero)?;
            let ln = g.un(UnaryOp::Log, a)?;
            let d = g.mul2(y, ln)?;
            let d = g.mul2(dy, d)?;
            g.select(pos, d, zero)?
        }
        // Comparisons are piecewise constant: no gradient.
        (Eq | Ne | Lt | Le | Gt | Ge, _) => return Ok(None),
    };
    Ok(Some(full))
}

/// `dy * cmp(a, b)`: the gradient routed where the comparison holds.
fn masked(g: &mut Graph, cmp: BinaryOp, a: NodeId, b: NodeId, dy: NodeId) -> Res {
    let mask = g.bin(cmp, a, b)?;
    g.mul2(dy, mask)
}

/// `dx` for a reduction `y = reduce(x, axes)`.
fn reduce_grad(
    g: &mut Graph,
    op: ReduceOp,
    axes: &[usize],
    keep_dims: bool,
    x: NodeId,
    y: NodeId,
    dy: NodeId,
) -> Res<Option<NodeId>> {
    let x_shape = g.shape(x).clone();
    let kept = Shape(
        x_shape
            .0
            .iter()
            .enumerate()
            .map(|(k, &d)| if axes.contains(&k) { 1 } else { d })
            .collect(),
    );
    // Reinsert the reduced axes as size 1 so `dy` (and `y`) broadcast against `x`.
    let dy_kept = if keep_dims {
        dy
    } else {
        g.reshape_to(dy, &kept)?
    };
    let dx = match op {
        // y = sum_axes x: dx = broadcast(dy)
        ReduceOp::Sum => g.broadcast_to(dy_kept, &x_shape)?,
        // y = mean_axes x = sum / n: dx = broadcast(dy) / n
        ReduceOp::Mean => {
            let n: usize = axes.iter().map(|&a| x_shape.0[a]).product();
            let scaled = g.scale(dy_kept, 1.0 / n as f32)?;
            g.broadcast_to(scaled, &x_shape)?
        }
        // y = max_axes x (or min): dx = (x == y) * dy / count(x == y), the gradient split
        // evenly among the elements that attain the extremum.
        ReduceOp::Max | ReduceOp::Min => {
            let y_kept = if keep_dims {
                y
            } else {
                g.reshape_to(y, &kept)?
            };
            let hit = g.bin(BinaryOp::Eq, x, y_kept)?;
            let count = g.sum(hit, axes, true)?;
            let share = g.div2(dy_kept, count)?;
            g.mul2(hit, share)?
        }
        // y = argmax x: piecewise constant, no gradient.
        ReduceOp::ArgMax => return Ok(None),
    };
    Ok(Some(dx))
}

/// The gradient of operand `i` of `y = A' @ B'` where `A' = ta ? A^T : A`, `B' = tb ? B^T : B`
/// (transposes of the last two axes; batch axes are equal, so nothing is summed).
/// `dA' = dy @ B'^T` and `dB' = A'^T @ dy`, transposed back where the operand was:
/// - `!ta`: dA = dy @ B'^T          = matmul(dy, B, false, !tb)
/// - ` ta`: dA = (dy @ B'^T)^T = B' @ dy^T = matmul(B, dy, tb, true)
/// - `!tb`: dB = A'^T @ dy          = matmul(A, dy, !ta, false)
/// - ` tb`: dB = (A'^T @ dy)^T = dy^T @ A' = matmul(dy, A, true, ta)
fn matmul_grad(
    g: &mut Graph,
    ta: bool,
    tb: bool,
    a: NodeId,
    b: NodeId,
    dy: NodeId,
    i: usize,
) -> Res {
    let res = match (i, ta, tb) {
        (0, false, _) => g.matmul(dy, b, false, !tb)?,
        (0, true, _) => g.matmul(b, dy, tb, true)?,
        (_, _, false) => g.matmul(a, dy, !ta, false)?,
        (_, _, true) => g.matmul(dy, a, true, ta)?,
    };
    Ok(res)
}

/// `dd` for `z = pool2d_grad_max(x, d)`, which puts `d[o]` on the first maximum of window `o`:
/// `dd[o] = dz` at that maximum `= sum over window o of mask * dz`, with
/// `mask = pool2d_grad_max(x, 1)` marking the first maxima. This is exact when windows do not
/// overlap (stride >= window on both axes), so that each element lies in at most one window
/// and `mask` is 0/1; overlapping windows are rejected. The window sum is computed as
/// `avg_pool(mask * dz) * (the window's non-padding element count)`.
fn max_pool_grad_wrt_dy(
    g: &mut Graph,
    attrs: Pool2dAttrs,
    x: NodeId,
    d: NodeId,
    dz: NodeId,
    node: NodeId,
) -> Res {
    if attrs.strides[0] < attrs.window[0] || attrs.strides[1] < attrs.window[1] {
        return Err(PassError::Autodiff(format!(
            "node {node} (pool2d_grad of max pooling): the gradient with respect to dy (double backward of max pooling) needs non-overlapping windows, but the window is {:?} with strides {:?}",
            attrs.window, attrs.strides
        )));
    }
    let d_shape = g.shape(d).clone();
    let ones = g.constant(Tensor::full(d_shape, 1.0));
    let mask = g.add(Op::Pool2dGrad(attrs), &[x, ones])?;
    let picked = g.mul2(mask, dz)?;
    let mean = g.add(
        Op::Pool2d(Pool2dAttrs {
            kind: PoolKind::Avg,
            ..attrs
        }),
        &[picked],
    )?;
    let counts = window_counts(g.shape(x), &attrs)?;
    let counts = g.constant(counts);
    g.mul2(mean, counts)
}

/// The number of non-padding elements in each pooling window, as a `[1, oh, ow, 1]` tensor.
fn window_counts(x: &Shape, attrs: &Pool2dAttrs) -> Res<Tensor> {
    let mut per_axis = [Vec::new(), Vec::new()];
    for (axis, counts) in per_axis.iter_mut().enumerate() {
        let input = x.0[1 + axis];
        let (window, stride) = (attrs.window[axis], attrs.strides[axis]);
        let resolved = attrs
            .padding
            .resolve(axis, input, window, stride)
            .ok_or_else(|| {
                PassError::Autodiff(format!(
                    "the {:?} pooling window does not fit the input {x}",
                    attrs.window
                ))
            })?;
        *counts = (0..resolved.out)
            .map(|o| {
                let start = (o * stride) as isize - resolved.pad_before as isize;
                let end = start + window as isize;
                (end.min(input as isize) - start.max(0)).max(0) as f32
            })
            .collect();
    }
    let [rows, cols] = per_axis;
    let data = rows
        .iter()
        .flat_map(|r| cols.iter().map(move |c| r * c))
        .collect();
    Ok(Tensor {
        shape: Shape::from([1, rows.len(), cols.len(), 1]),
        data,
    })
}

/// A zero gradient shaped like `x` (for callers that need a node where a rule gave none).
pub(crate) fn zero_grad(g: &mut Graph, x: NodeId) -> NodeId {
    let shape = g.shape(x).clone();
    zeros(g, &shape)
}

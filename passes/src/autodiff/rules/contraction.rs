//! Rules for the contractions: matmul, and the dense and depthwise convolution families
//! (each convolution with its two adjoints, whose gradients are members of the same family).

use ir::infer::op_name;
use ir::{Conv2dAttrs, Graph, NodeId, Op, Shape};

use super::site::Site;
use crate::autodiff::emit::Res;

/// The gradient for operand `i` of a contraction: a matmul, or a member of a convolution
/// family (see [`conv_grad`]).
pub(super) fn contraction_grad(g: &mut Graph, site: &Site, i: usize) -> Res {
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

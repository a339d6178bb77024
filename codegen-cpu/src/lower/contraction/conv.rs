//! Dense and depthwise convolution passes (forward, and the gradients for the input and the
//! filter) as calls of their `kiln_conv2d*` and `kiln_depthwise_conv2d*` kernels: which
//! kernel, which geometry, and which of the node's buffers is the kernel's `x`, `w` and `y`.

use std::mem::offset_of;

use cranelift_module::Module;
use ir::{FusedOp, NodeId, Op, Shape};

use super::args::{call_with_args, threads, words};
use super::error::not_a_contraction;
use super::geometry::{conv_geometry, depthwise_geometry};
use crate::abi::Loc;
use crate::contract::{Conv2dArgs, Conv2dGeometry, DepthwiseArgs};
use crate::error::Result;
use crate::lowerer::Lowerer;

/// A dense convolution pass (forward, or the gradient for its input or its filter) as a
/// call of its `kiln_conv2d*` kernel.
pub(super) fn conv_kernel<M: Module>(
    l: &mut Lowerer<'_, M>,
    id: NodeId,
    op: &Op,
    locs: &[Loc; 3],
    shapes: [&Shape; 2],
) -> Result<()> {
    let (symbol, g, order) = match op {
        // x = operand 0, w = operand 1, y = result.
        Op::Conv2d(attrs) | Op::Fused(FusedOp::Conv2d { attrs, .. }) => (
            "kiln_conv2d",
            conv_geometry(l, id, attrs, shapes[0], shapes[1])?,
            [0, 1, 2],
        ),
        // dy = operand 0, w = operand 1, dx = result.
        Op::Conv2dBackpropInput { attrs, input_shape } => (
            "kiln_conv2d_backprop_input",
            conv_geometry(l, id, attrs, input_shape, shapes[1])?,
            [2, 1, 0],
        ),
        // x = operand 0, dy = operand 1, dw = result.
        Op::Conv2dBackpropFilter {
            attrs,
            filter_shape,
        } => (
            "kiln_conv2d_backprop_filter",
            conv_geometry(l, id, attrs, shapes[0], filter_shape)?,
            [0, 2, 1],
        ),
        other => return Err(not_a_contraction(id, other)),
    };
    call_conv(l, id, symbol, g, order, locs)
}

/// A depthwise convolution pass (forward, or a gradient) as a call of its
/// `kiln_depthwise_conv2d*` kernel; the geometry's filter is the dense-equivalent
/// `[kh, kw, c, c * m]`.
pub(super) fn depthwise_kernel<M: Module>(
    l: &mut Lowerer<'_, M>,
    id: NodeId,
    op: &Op,
    locs: &[Loc; 3],
    shapes: [&Shape; 2],
) -> Result<()> {
    let (symbol, (g, m), order) = match op {
        Op::DepthwiseConv2d(attrs) | Op::Fused(FusedOp::DepthwiseConv2d { attrs, .. }) => (
            "kiln_depthwise_conv2d",
            depthwise_geometry(l, id, attrs, shapes[0], shapes[1])?,
            [0, 1, 2],
        ),
        Op::DepthwiseConv2dBackpropInput { attrs, input_shape } => (
            "kiln_depthwise_conv2d_backprop_input",
            depthwise_geometry(l, id, attrs, input_shape, shapes[1])?,
            [2, 1, 0],
        ),
        Op::DepthwiseConv2dBackpropFilter {
            attrs,
            filter_shape,
        } => (
            "kiln_depthwise_conv2d_backprop_filter",
            depthwise_geometry(l, id, attrs, shapes[0], filter_shape)?,
            [0, 2, 1],
        ),
        other => return Err(not_a_contraction(id, other)),
    };
    call_depthwise(l, id, symbol, g, m, order, locs)
}

/// A convolution pass: `order` maps (x, w, y) of [`Conv2dArgs`] to indices of `locs`.
fn call_conv<M: Module>(
    l: &mut Lowerer<'_, M>,
    id: NodeId,
    symbol: &str,
    g: Conv2dGeometry,
    order: [usize; 3],
    locs: &[Loc; 3],
) -> Result<()> {
    // Room for every thread: Winograd gives each worker its own tiles in the scratch.
    let threads = threads();
    let scratch_len = g.scratch_len_for(threads);
    l.need_scratch(scratch_len);
    let scratch = l.scratch_loc();
    let template = Conv2dArgs {
        geometry: g,
        x: std::ptr::null_mut(),
        w: std::ptr::null_mut(),
        y: std::ptr::null_mut(),
        scratch: std::ptr::null_mut(),
        scratch_len,
        threads,
    };
    let fields = [
        offset_of!(Conv2dArgs, x),
        offset_of!(Conv2dArgs, w),
        offset_of!(Conv2dArgs, y),
        offset_of!(Conv2dArgs, scratch),
    ];
    let all = [locs[order[0]], locs[order[1]], locs[order[2]], scratch];
    call_with_args(l, id, symbol, &words(&template), &fields, &all)
}

/// A depthwise convolution pass: `order` maps (x, w, y) of [`DepthwiseArgs`] to indices of `locs`.
fn call_depthwise<M: Module>(
    l: &mut Lowerer<'_, M>,
    id: NodeId,
    symbol: &str,
    g: Conv2dGeometry,
    multiplier: usize,
    order: [usize; 3],
    locs: &[Loc; 3],
) -> Result<()> {
    let template = DepthwiseArgs {
        geometry: g,
        multiplier,
        x: std::ptr::null_mut(),
        w: std::ptr::null_mut(),
        y: std::ptr::null_mut(),
        threads: threads(),
    };
    let fields = [
        offset_of!(DepthwiseArgs, x),
        offset_of!(DepthwiseArgs, w),
        offset_of!(DepthwiseArgs, y),
    ];
    let all = [locs[order[0]], locs[order[1]], locs[order[2]]];
    call_with_args(l, id, symbol, &words(&template), &fields, &all)
}

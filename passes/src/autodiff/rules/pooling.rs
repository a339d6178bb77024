//! Rules for pooling and its gradient `pool2d_grad`, including the double backward of max
//! pooling (non-overlapping windows only).

use ir::infer::op_name;
use ir::{Graph, NodeId, Op, Pool2dAttrs, PoolKind, Shape, Tensor};

use super::site::Site;
use crate::autodiff::emit::{Emit, Res};
use crate::error::PassError;

/// The gradient for operand `i` of a pooling op or its gradient.
pub(super) fn pooling_grad(g: &mut Graph, site: &Site, i: usize) -> Res<Option<NodeId>> {
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

//! Reductions over a set of axes: sum, mean, max, min and argmax (index of the first
//! maximum along one axis, as f32).
//!
//! Elements are combined in row-major order of the input. Max and min use
//! [`crate::op::nan_max`] / [`crate::op::nan_min`] like [`crate::BinaryOp::Max`] (a NaN
//! element makes the result NaN, as numpy's `max`); argmax only moves to a later index on a
//! strictly greater value, so ties keep the first.

use super::index::{View, for_each_index};
use crate::op::{ReduceOp, nan_max, nan_min};
use crate::shape::Shape;
use crate::tensor::Tensor;

/// Reduce `x` over `axes` (strictly increasing, checked by shape inference) into `out`.
pub(crate) fn reduce(x: &Tensor, op: ReduceOp, axes: &[usize], out: &Shape) -> Tensor {
    // Walk the input; the output view repeats (stride 0) along reduced axes. The output's
    // layout is the same with or without keep_dims.
    let kept = Shape(
        (0..x.shape.rank())
            .map(|i| if axes.contains(&i) { 1 } else { x.shape.0[i] })
            .collect(),
    );
    let mut out_view = View::contiguous(&kept);
    for &axis in axes {
        out_view.strides[axis] = 0;
    }
    let views = [View::contiguous(&x.shape), out_view];
    let count: usize = axes.iter().map(|&a| x.shape.0[a]).product();
    let init = match op {
        ReduceOp::Sum | ReduceOp::Mean | ReduceOp::ArgMax => 0.0,
        ReduceOp::Max => f32::NEG_INFINITY,
        ReduceOp::Min => f32::INFINITY,
    };
    let mut data = vec![init; out.numel()];
    // For argmax: the best value seen so far per output element.
    let mut best = vec![
        f32::NEG_INFINITY;
        if op == ReduceOp::ArgMax {
            out.numel()
        } else {
            0
        }
    ];
    for_each_index(x.shape.dims(), &views, |index, offsets| {
        let (v, o) = (x.data[offsets[0]], offsets[1]);
        match op {
            ReduceOp::Sum | ReduceOp::Mean => data[o] += v,
            ReduceOp::Max => data[o] = nan_max(data[o], v),
            ReduceOp::Min => data[o] = nan_min(data[o], v),
            ReduceOp::ArgMax => {
                let position = index[axes[0]];
                if position == 0 || v > best[o] {
                    best[o] = v;
                    data[o] = position as f32;
                }
            }
        }
    });
    if op == ReduceOp::Mean {
        for v in &mut data {
            *v /= count as f32;
        }
    }
    Tensor {
        shape: out.clone(),
        data,
    }
}

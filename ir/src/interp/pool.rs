//! Pooling over NHWC inputs and its gradient (TF semantics).
//!
//! Padding cells never take part: max pooling takes the maximum of the window's input
//! cells, average pooling divides by the number of input cells in the window. A NaN cell
//! makes its windows' maxima NaN (numpy's `np.maximum`), and the first NaN counts as the
//! window's maximum. Max pooling's
//! gradient goes to the first maximum of each window (row-major within the window); average
//! pooling's gradient is spread as `dy / count` over the window's input cells. A window that
//! lies entirely in explicit padding has no input cells: its max is `-inf`, its average 0,
//! and it passes no gradient.

use super::window::Window2d;
use crate::op::{Pool2dAttrs, PoolKind, beats_max};
use crate::shape::Shape;
use crate::tensor::Tensor;

/// The window a pooling of an input of shape `x` walks.
fn pool_window(x: &Shape, attrs: &Pool2dAttrs) -> Window2d {
    Window2d::new(x, attrs.window, attrs.strides, [1, 1], attrs.padding)
        .expect("shape inference accepted this pooling")
}

/// Per output element, the window's maximum and the flat input index it was read from
/// (the first one on ties; `None` for a window without input cells).
fn window_maxima(win: &Window2d, x: &Tensor) -> (Vec<f32>, Vec<Option<usize>>) {
    let c = x.shape.0[3];
    let n_out = win.n_out_positions() * c;
    let mut best = vec![f32::NEG_INFINITY; n_out];
    let mut source = vec![None; n_out];
    win.for_each_tap(|t| {
        for ci in 0..c {
            let (o, i) = (t.out_pos * c + ci, t.in_pos * c + ci);
            if source[o].is_none() || beats_max(x.data[i], best[o]) {
                best[o] = x.data[i];
                source[o] = Some(i);
            }
        }
    });
    (best, source)
}

/// Per output position, the number of the window's cells inside the input.
fn window_counts(win: &Window2d) -> Vec<usize> {
    let mut counts = vec![0; win.n_out_positions()];
    win.for_each_tap(|t| counts[t.out_pos] += 1);
    counts
}

/// Max or average pooling of `x` into `out`.
pub(crate) fn pool2d(x: &Tensor, attrs: &Pool2dAttrs, out: &Shape) -> Tensor {
    let win = pool_window(&x.shape, attrs);
    let data = match attrs.kind {
        PoolKind::Max => window_maxima(&win, x).0,
        PoolKind::Avg => {
            let c = x.shape.0[3];
            let mut sums = vec![0.0; out.numel()];
            win.for_each_tap(|t| {
                for ci in 0..c {
                    sums[t.out_pos * c + ci] += x.data[t.in_pos * c + ci];
                }
            });
            let counts = window_counts(&win);
            sums.iter()
                .enumerate()
                .map(|(o, s)| {
                    if counts[o / c] == 0 {
                        0.0
                    } else {
                        s / counts[o / c] as f32
                    }
                })
                .collect()
        }
    };
    Tensor {
        shape: out.clone(),
        data,
    }
}

/// The gradient of [`pool2d`] with respect to `x`, given the output gradient `dy`.
pub(crate) fn pool2d_grad(x: &Tensor, dy: &Tensor, attrs: &Pool2dAttrs) -> Tensor {
    let win = pool_window(&x.shape, attrs);
    let mut dx = vec![0.0; x.shape.numel()];
    match attrs.kind {
        PoolKind::Max => {
            for (o, source) in window_maxima(&win, x).1.into_iter().enumerate() {
                if let Some(i) = source {
                    dx[i] += dy.data[o];
                }
            }
        }
        PoolKind::Avg => {
            let c = x.shape.0[3];
            let counts = window_counts(&win);
            win.for_each_tap(|t| {
                for ci in 0..c {
                    dx[t.in_pos * c + ci] += dy.data[t.out_pos * c + ci] / counts[t.out_pos] as f32;
                }
            });
        }
    }
    Tensor {
        shape: x.shape.clone(),
        data: dx,
    }
}

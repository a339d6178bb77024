//! Depthwise convolution (NHWC input, `[kh, kw, c, m]` filter) and its two backprops.
//!
//! Output channel `ci * m + mi` is input channel `ci` convolved with filter column
//! `[.., .., ci, mi]`. All three ops walk the same taps of one [`Window2d`], so the
//! backprops are the exact adjoints of the forward op.

use super::window::Window2d;
use crate::op::Conv2dAttrs;
use crate::shape::Shape;
use crate::tensor::Tensor;

/// The window a depthwise convolution of `input` by `filter` walks.
fn window(input: &Shape, filter: &Shape, attrs: &Conv2dAttrs) -> Window2d {
    Window2d::new(
        input,
        [filter.0[0], filter.0[1]],
        attrs.strides,
        attrs.dilation,
        attrs.padding,
    )
    .expect("shape inference accepted this convolution")
}

/// `y[n, oy, ox, ci*m + mi] = Σ_{ky, kx} x[n, iy, ix, ci] * w[ky, kx, ci, mi]`, padding
/// cells reading 0.
pub(crate) fn depthwise_conv2d(x: &Tensor, w: &Tensor, attrs: &Conv2dAttrs, out: &Shape) -> Tensor {
    let win = window(&x.shape, &w.shape, attrs);
    let (c, m) = (w.shape.0[2], w.shape.0[3]);
    let mut y = vec![0.0; out.numel()];
    win.for_each_tap(|t| {
        let x_row = &x.data[t.in_pos * c..(t.in_pos + 1) * c];
        let w_row = &w.data[t.tap * c * m..(t.tap + 1) * c * m];
        let y_row = &mut y[t.out_pos * c * m..(t.out_pos + 1) * c * m];
        for (k, (yv, wv)) in y_row.iter_mut().zip(w_row).enumerate() {
            *yv += x_row[k / m] * wv;
        }
    });
    Tensor {
        shape: out.clone(),
        data: y,
    }
}

/// `dx[n, iy, ix, ci] = Σ dy[n, oy, ox, ci*m + mi] * w[ky, kx, ci, mi]` over the taps that
/// read `x[n, iy, ix, ci]`: the adjoint of [`depthwise_conv2d`] in its input.
pub(crate) fn depthwise_conv2d_backprop_input(
    dy: &Tensor,
    w: &Tensor,
    attrs: &Conv2dAttrs,
    input_shape: &Shape,
) -> Tensor {
    let win = window(input_shape, &w.shape, attrs);
    let (c, m) = (w.shape.0[2], w.shape.0[3]);
    let mut dx = vec![0.0; input_shape.numel()];
    win.for_each_tap(|t| {
        let dy_row = &dy.data[t.out_pos * c * m..(t.out_pos + 1) * c * m];
        let w_row = &w.data[t.tap * c * m..(t.tap + 1) * c * m];
        for (k, (d, wv)) in dy_row.iter().zip(w_row).enumerate() {
            dx[t.in_pos * c + k / m] += d * wv;
        }
    });
    Tensor {
        shape: input_shape.clone(),
        data: dx,
    }
}

/// `dw[ky, kx, ci, mi] = Σ_{n, oy, ox} x[n, iy, ix, ci] * dy[n, oy, ox, ci*m + mi]` over the
/// taps of window cell `(ky, kx)`: the adjoint of [`depthwise_conv2d`] in its filter.
pub(crate) fn depthwise_conv2d_backprop_filter(
    x: &Tensor,
    dy: &Tensor,
    attrs: &Conv2dAttrs,
    filter_shape: &Shape,
) -> Tensor {
    let win = window(&x.shape, filter_shape, attrs);
    let (c, m) = (filter_shape.0[2], filter_shape.0[3]);
    let mut dw = vec![0.0; filter_shape.numel()];
    win.for_each_tap(|t| {
        let x_row = &x.data[t.in_pos * c..(t.in_pos + 1) * c];
        let dy_row = &dy.data[t.out_pos * c * m..(t.out_pos + 1) * c * m];
        let dw_row = &mut dw[t.tap * c * m..(t.tap + 1) * c * m];
        for (k, (dwv, d)) in dw_row.iter_mut().zip(dy_row).enumerate() {
            *dwv += x_row[k / m] * d;
        }
    });
    Tensor {
        shape: filter_shape.clone(),
        data: dw,
    }
}

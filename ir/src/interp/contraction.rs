//! Contractions: batched matmul, Conv2d (NHWC input, HWIO filter) and its two backprops.
//!
//! Plain loops in a cache-friendly order (the innermost loop runs over contiguous output
//! elements). Each output element accumulates its products in increasing order of the
//! contracted index. The three convolution ops walk the same taps of one [`Window2d`], so
//! the backprops are the exact adjoints of the forward op.

use super::window::Window2d;
use crate::op::Conv2dAttrs;
use crate::shape::Shape;
use crate::tensor::Tensor;

/// `[.., m, k] x [.., k, n] -> [.., m, n]` after the optional transposes of the last two
/// axes; `out` is the inferred result shape.
pub(crate) fn matmul(
    a: &Tensor,
    b: &Tensor,
    transpose_a: bool,
    transpose_b: bool,
    out: &Shape,
) -> Tensor {
    let rank = out.rank();
    let (m, n) = (out.0[rank - 2], out.0[rank - 1]);
    let k = if transpose_a {
        a.shape.0[rank - 2]
    } else {
        a.shape.0[rank - 1]
    };
    let batch: usize = out.0[..rank - 2].iter().product();
    // Steps between consecutive rows and columns of the logical (untransposed) operands.
    let (a_row, a_col) = if transpose_a { (1, m) } else { (k, 1) };
    let (b_row, b_col) = if transpose_b { (1, k) } else { (n, 1) };
    let mut data = vec![0.0; out.numel()];
    for bi in 0..batch {
        let (a0, b0, out0) = (bi * m * k, bi * k * n, bi * m * n);
        for i in 0..m {
            let out_row = &mut data[out0 + i * n..out0 + (i + 1) * n];
            for p in 0..k {
                let av = a.data[a0 + i * a_row + p * a_col];
                let b_start = b0 + p * b_row;
                for (j, o) in out_row.iter_mut().enumerate() {
                    *o += av * b.data[b_start + j * b_col];
                }
            }
        }
    }
    Tensor {
        shape: out.clone(),
        data,
    }
}

/// The window a convolution of `input` by `filter_shape` walks.
fn conv_window(input: &Shape, filter: &Shape, attrs: &Conv2dAttrs) -> Window2d {
    Window2d::new(
        input,
        [filter.0[0], filter.0[1]],
        attrs.strides,
        attrs.dilation,
        attrs.padding,
    )
    .expect("shape inference accepted this convolution")
}

/// `y[n, oy, ox, o] = Σ_{ky, kx, c} x[n, oy*sh + ky*dh - pt, ox*sw + kx*dw - pl, c] * w[ky, kx, c, o]`,
/// with padding cells reading 0.
pub(crate) fn conv2d(x: &Tensor, w: &Tensor, attrs: &Conv2dAttrs, out: &Shape) -> Tensor {
    let win = conv_window(&x.shape, &w.shape, attrs);
    let (c, o) = (w.shape.0[2], w.shape.0[3]);
    let mut y = vec![0.0; out.numel()];
    win.for_each_tap(|t| {
        let y_row = &mut y[t.out_pos * o..(t.out_pos + 1) * o];
        for ci in 0..c {
            let xv = x.data[t.in_pos * c + ci];
            let w_row = &w.data[(t.tap * c + ci) * o..(t.tap * c + ci + 1) * o];
            for (yv, wv) in y_row.iter_mut().zip(w_row) {
                *yv += xv * wv;
            }
        }
    });
    Tensor {
        shape: out.clone(),
        data: y,
    }
}

/// `dx[n, iy, ix, c] = Σ dy[n, oy, ox, o] * w[ky, kx, c, o]` over the taps that read
/// `x[n, iy, ix, c]`: the adjoint of [`conv2d`] in its input.
pub(crate) fn conv2d_backprop_input(
    dy: &Tensor,
    w: &Tensor,
    attrs: &Conv2dAttrs,
    input_shape: &Shape,
) -> Tensor {
    let win = conv_window(input_shape, &w.shape, attrs);
    let (c, o) = (w.shape.0[2], w.shape.0[3]);
    let mut dx = vec![0.0; input_shape.numel()];
    win.for_each_tap(|t| {
        let dy_row = &dy.data[t.out_pos * o..(t.out_pos + 1) * o];
        for ci in 0..c {
            let w_row = &w.data[(t.tap * c + ci) * o..(t.tap * c + ci + 1) * o];
            dx[t.in_pos * c + ci] += dy_row.iter().zip(w_row).map(|(d, wv)| d * wv).sum::<f32>();
        }
    });
    Tensor {
        shape: input_shape.clone(),
        data: dx,
    }
}

/// `dw[ky, kx, c, o] = Σ_{n, oy, ox} x[n, iy, ix, c] * dy[n, oy, ox, o]` over the taps of
/// window cell `(ky, kx)`: the adjoint of [`conv2d`] in its filter.
pub(crate) fn conv2d_backprop_filter(
    x: &Tensor,
    dy: &Tensor,
    attrs: &Conv2dAttrs,
    filter_shape: &Shape,
) -> Tensor {
    let win = conv_window(&x.shape, filter_shape, attrs);
    let (c, o) = (filter_shape.0[2], filter_shape.0[3]);
    let mut dw = vec![0.0; filter_shape.numel()];
    win.for_each_tap(|t| {
        let dy_row = &dy.data[t.out_pos * o..(t.out_pos + 1) * o];
        for ci in 0..c {
            let xv = x.data[t.in_pos * c + ci];
            let dw_row = &mut dw[(t.tap * c + ci) * o..(t.tap * c + ci + 1) * o];
            for (dwv, d) in dw_row.iter_mut().zip(dy_row) {
                *dwv += xv * d;
            }
        }
    });
    Tensor {
        shape: filter_shape.clone(),
        data: dw,
    }
}

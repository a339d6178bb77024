//! Matmul and convolutions: hand values, an independent brute-force convolution, and the
//! adjoint identities `<conv2d(x, w), dy> == <x, backprop_input(dy, w)> == <w, backprop_filter(x, dy)>`.

use crate::support::{apply_ok, assert_close, dot, random, t};
use ir::{Conv2dAttrs, Op, Padding, Shape, Tensor};

#[test]
fn matmul_plain_and_transposed() {
    // [2, 3] x [3, 2].
    let a = t([2, 3], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    let b = t([3, 2], vec![7.0, 8.0, 9.0, 10.0, 11.0, 12.0]);
    let want = [58.0, 64.0, 139.0, 154.0];
    let mm = |ta, tb| Op::MatMul {
        transpose_a: ta,
        transpose_b: tb,
    };
    assert_close(
        &apply_ok(mm(false, false), &[a.clone(), b.clone()]),
        &[2, 2],
        &want,
        0.0,
    );
    let a_t = t([3, 2], vec![1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
    let b_t = t([2, 3], vec![7.0, 9.0, 11.0, 8.0, 10.0, 12.0]);
    assert_close(
        &apply_ok(mm(true, false), &[a_t.clone(), b.clone()]),
        &[2, 2],
        &want,
        0.0,
    );
    assert_close(
        &apply_ok(mm(false, true), &[a.clone(), b_t.clone()]),
        &[2, 2],
        &want,
        0.0,
    );
    assert_close(&apply_ok(mm(true, true), &[a_t, b_t]), &[2, 2], &want, 0.0);
}

#[test]
fn matmul_is_batched_over_leading_axes() {
    // Batch 2: identity, then 2 * identity, times the same [2, 2].
    let a = t([2, 2, 2], vec![1.0, 0.0, 0.0, 1.0, 2.0, 0.0, 0.0, 2.0]);
    let b = t([2, 2, 2], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]);
    let got = apply_ok(
        Op::MatMul {
            transpose_a: false,
            transpose_b: false,
        },
        &[a, b],
    );
    assert_close(
        &got,
        &[2, 2, 2],
        &[1.0, 2.0, 3.0, 4.0, 10.0, 12.0, 14.0, 16.0],
        0.0,
    );
}

/// x[0, i, j, 0] = 5 i + j + 1 on a 5x5 image.
fn ramp_5x5() -> Tensor {
    t([1, 5, 5, 1], (1..=25).map(|v| v as f32).collect())
}

#[test]
fn conv_same_padding_stride_two_on_odd_input() {
    // 5x5 input, 3x3 filter, stride 2, SAME: 3x3 output, one padding row/column on each
    // side. The filter picks 1 * top-left + 2 * bottom-right of each window, so
    // y[oy, ox] = x[2oy-1, 2ox-1] + 2 x[2oy+1, 2ox+1] with padding reading 0.
    let mut w = vec![0.0; 9];
    w[0] = 1.0;
    w[8] = 2.0;
    let attrs = Conv2dAttrs {
        strides: [2, 2],
        dilation: [1, 1],
        padding: Padding::Same,
    };
    let got = apply_ok(Op::Conv2d(attrs), &[ramp_5x5(), t([3, 3, 1, 1], w)]);
    let want = [14.0, 18.0, 0.0, 34.0, 45.0, 9.0, 0.0, 17.0, 19.0];
    assert_close(&got, &[1, 3, 3, 1], &want, 0.0);
}

#[test]
fn conv_same_padding_puts_the_extra_cell_bottom_right() {
    // 4x4 input, 3x3 filter, stride 2: total padding 1, all of it after. With the
    // top-left-only filter, y[oy, ox] = x[2oy, 2ox] (no shift).
    let x = t([1, 4, 4, 1], (0..16).map(|v| v as f32).collect());
    let mut w = vec![0.0; 9];
    w[0] = 1.0;
    let attrs = Conv2dAttrs {
        strides: [2, 2],
        dilation: [1, 1],
        padding: Padding::Same,
    };
    assert_close(
        &apply_ok(Op::Conv2d(attrs), &[x, t([3, 3, 1, 1], w)]),
        &[1, 2, 2, 1],
        &[0.0, 2.0, 8.0, 10.0],
        0.0,
    );
}

#[test]
fn conv_dilation_spreads_the_taps() {
    // 2x2 filter at dilation 2 over 5x5, valid: a 3x3 window, 3x3 output;
    // y[oy, ox] = x[oy, ox] + 10 x[oy, ox+2] + 100 x[oy+2, ox] + 1000 x[oy+2, ox+2].
    let w = t([2, 2, 1, 1], vec![1.0, 10.0, 100.0, 1000.0]);
    let attrs = Conv2dAttrs {
        strides: [1, 1],
        dilation: [2, 2],
        padding: Padding::Valid,
    };
    let got = apply_ok(Op::Conv2d(attrs), &[ramp_5x5(), w]);
    let x = |i: usize, j: usize| (5 * i + j + 1) as f32;
    let mut want = Vec::new();
    for oy in 0..3 {
        for ox in 0..3 {
            want.push(
                x(oy, ox)
                    + 10.0 * x(oy, ox + 2)
                    + 100.0 * x(oy + 2, ox)
                    + 1000.0 * x(oy + 2, ox + 2),
            );
        }
    }
    assert_eq!(want[0], 14131.0);
    assert_close(&got, &[1, 3, 3, 1], &want, 0.0);
}

/// The attribute sets the adjoint and brute-force checks run over.
pub(crate) fn attr_cases() -> Vec<Conv2dAttrs> {
    let c = |s, d, padding| Conv2dAttrs {
        strides: [s, s],
        dilation: [d, d],
        padding,
    };
    vec![
        c(1, 1, Padding::Valid),
        c(1, 1, Padding::Same),
        c(2, 1, Padding::Same),
        c(2, 1, Padding::Valid),
        c(1, 2, Padding::Same),
        c(2, 2, Padding::Valid),
        Conv2dAttrs {
            strides: [2, 1],
            dilation: [1, 2],
            padding: Padding::Explicit([2, 0, 1, 1]),
        },
    ]
}

/// Direct formula with signed coordinates, independent of the interpreter's window walker.
pub(crate) fn brute_force_conv(
    x: &Tensor,
    w: &Tensor,
    attrs: &Conv2dAttrs,
    out: &Shape,
) -> Vec<f32> {
    let [n, h, wd, c] = [x.shape.0[0], x.shape.0[1], x.shape.0[2], x.shape.0[3]];
    let [kh, kw, _, o] = [w.shape.0[0], w.shape.0[1], w.shape.0[2], w.shape.0[3]];
    let [oh, ow] = [out.0[1], out.0[2]];
    let pad = |axis: usize, input: usize, k: usize| {
        let window = (k - 1) * attrs.dilation[axis] + 1;
        attrs
            .padding
            .resolve(axis, input, window, attrs.strides[axis])
            .unwrap()
            .pad_before as i64
    };
    let (pt, pl) = (pad(0, h, kh), pad(1, wd, kw));
    let mut y = vec![0.0f64; n * oh * ow * o];
    for b in 0..n {
        for oy in 0..oh {
            for ox in 0..ow {
                for ky in 0..kh {
                    for kx in 0..kw {
                        let iy = (oy * attrs.strides[0] + ky * attrs.dilation[0]) as i64 - pt;
                        let ix = (ox * attrs.strides[1] + kx * attrs.dilation[1]) as i64 - pl;
                        if iy < 0 || ix < 0 || iy >= h as i64 || ix >= wd as i64 {
                            continue;
                        }
                        for ci in 0..c {
                            let xv =
                                x.data[((b * h + iy as usize) * wd + ix as usize) * c + ci] as f64;
                            for oi in 0..o {
                                y[((b * oh + oy) * ow + ox) * o + oi] +=
                                    xv * w.data[((ky * kw + kx) * c + ci) * o + oi] as f64;
                            }
                        }
                    }
                }
            }
        }
    }
    y.into_iter().map(|v| v as f32).collect()
}

#[test]
fn conv_matches_a_brute_force_reference() {
    for (i, attrs) in attr_cases().into_iter().enumerate() {
        let x = random([2, 7, 6, 3], 10 + i as u32, -1.0, 1.0);
        let w = random([3, 2, 3, 4], 20 + i as u32, -1.0, 1.0);
        let got = apply_ok(Op::Conv2d(attrs), &[x.clone(), w.clone()]);
        let want = brute_force_conv(&x, &w, &attrs, &got.shape);
        let shape = got.shape.0.clone();
        assert_close(&got, &shape, &want, 1e-5);
    }
}

#[test]
fn conv_backprops_are_exact_adjoints() {
    for (i, attrs) in attr_cases().into_iter().enumerate() {
        let seed = 100 + 10 * i as u32;
        let x = random([2, 7, 6, 3], seed, -1.0, 1.0);
        let w = random([3, 2, 3, 4], seed + 1, -1.0, 1.0);
        let y = apply_ok(Op::Conv2d(attrs), &[x.clone(), w.clone()]);
        let dy = random(y.shape.clone(), seed + 2, -1.0, 1.0);
        let dx = apply_ok(
            Op::Conv2dBackpropInput {
                attrs,
                input_shape: x.shape.clone(),
            },
            &[dy.clone(), w.clone()],
        );
        let dw = apply_ok(
            Op::Conv2dBackpropFilter {
                attrs,
                filter_shape: w.shape.clone(),
            },
            &[x.clone(), dy.clone()],
        );
        let (forward, via_input, via_filter) = (dot(&y, &dy), dot(&x, &dx), dot(&w, &dw));
        let tol = 1e-4 * forward.abs().max(1.0);
        assert!(
            (forward - via_input).abs() < tol,
            "case {i}: <y,dy> {forward} vs <x,dx> {via_input}"
        );
        assert!(
            (forward - via_filter).abs() < tol,
            "case {i}: <y,dy> {forward} vs <w,dw> {via_filter}"
        );
    }
}

//! The checked depthwise kernel wrapper: a hand case, every pass against naive loops on 1
//! and 2 threads (the split must not change the result beyond summation order), and clear
//! errors for short slices and a geometry whose output channels are not `in_c * multiplier`.

use codegen_cpu::contract::{
    ContractError, Conv2dGeometry, ConvPass, depthwise_conv2d, depthwise_sizes,
};
use ir::{Conv2dAttrs, Padding};

fn geometry(c: usize, m: usize) -> Conv2dGeometry {
    let attrs = Conv2dAttrs {
        strides: [1, 1],
        dilation: [1, 1],
        padding: Padding::Valid,
    };
    Conv2dGeometry::resolve([1, 2, 2, c], [2, 1, c, c * m], &attrs).unwrap()
}

#[test]
fn forward_hand_case() {
    // 2x2 image, 2 channels, 2x1 filter, multiplier 2: output 1x2, 4 channels.
    // x[y, x, c]: channel 0 = [1, 2; 3, 4], channel 1 = [10, 20; 30, 40].
    let mut x = vec![1.0, 10.0, 2.0, 20.0, 3.0, 30.0, 4.0, 40.0];
    // w[ky, 0, c, m]: ky 0 = [[1, 2], [3, 4]], ky 1 = [[5, 6], [7, 8]].
    let mut w = vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0];
    let mut y = vec![f32::NAN; 8];
    depthwise_conv2d(
        ConvPass::Forward,
        &geometry(2, 2),
        2,
        &mut x,
        &mut w,
        &mut y,
        1,
    )
    .unwrap();
    // Pixel (0, 0): c0 taps 1, 3; c1 taps 10, 30.
    let want = [
        1.0 + 15.0,
        2.0 + 18.0,
        30.0 + 210.0,
        40.0 + 240.0,
        2.0 + 20.0,
        4.0 + 24.0,
        60.0 + 280.0,
        80.0 + 320.0,
    ];
    assert_eq!(y, want);
}

#[test]
fn short_slices_and_bad_multipliers_are_errors() {
    let g = geometry(2, 2);
    let (mut x, mut w, mut y) = (vec![0.0; 8], vec![0.0; 7], vec![0.0; 8]);
    let err =
        depthwise_conv2d(ConvPass::BackpropFilter, &g, 2, &mut x, &mut w, &mut y, 2).unwrap_err();
    assert_eq!(
        err,
        ContractError::OperandTooShort {
            operand: "dw",
            needed: 8,
            len: 7
        }
    );
    let mut w = vec![0.0; 8];
    let err = depthwise_conv2d(ConvPass::Forward, &g, 3, &mut x, &mut w, &mut y, 2).unwrap_err();
    assert!(
        matches!(err, ContractError::InvalidGeometry(ref m) if m.contains("multiplier 3")),
        "{err}"
    );
}

/// Deterministic values in `[-1, 1)`.
fn values(len: usize, seed: usize) -> Vec<f32> {
    (0..len)
        .map(|i| ((i * 7919 + seed * 104_729) % 2000) as f32 / 1000.0 - 1.0)
        .collect()
}

/// Calls `f(x_index, w_index, y_index)` for every multiply-add of the depthwise convolution.
fn for_each_product(g: &Conv2dGeometry, m: usize, mut f: impl FnMut(usize, usize, usize)) {
    for n in 0..g.batch {
        for oh in 0..g.out_h {
            for ow in 0..g.out_w {
                for kh in 0..g.kernel_h {
                    for kw in 0..g.kernel_w {
                        let ih =
                            (oh * g.stride_h + kh * g.dilation_h) as isize - g.pad_top as isize;
                        let iw =
                            (ow * g.stride_w + kw * g.dilation_w) as isize - g.pad_left as isize;
                        if ih < 0 || iw < 0 || ih as usize >= g.in_h || iw as usize >= g.in_w {
                            continue;
                        }
                        let x_pixel = ((n * g.in_h + ih as usize) * g.in_w + iw as usize) * g.in_c;
                        let y_pixel = ((n * g.out_h + oh) * g.out_w + ow) * g.out_c;
                        for k in 0..g.out_c {
                            f(
                                x_pixel + k / m,
                                (kh * g.kernel_w + kw) * g.out_c + k,
                                y_pixel + k,
                            );
                        }
                    }
                }
            }
        }
    }
}

/// `|got - want| <= 1e-5 * (|want| + 1)` elementwise (sums of at most a few hundred products
/// of values in `[-1, 1)`, accumulated in `f64` for `want`).
fn assert_close(got: &[f32], want: &[f64], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g as f64 - w).abs() <= 1e-5 * (w.abs() + 1.0),
            "{what}: element {i}: got {g}, want {w}"
        );
    }
}

#[test]
fn every_pass_matches_naive_loops_on_one_and_two_threads() {
    let attrs = |strides, dilation, padding| Conv2dAttrs {
        strides,
        dilation,
        padding,
    };
    let cases = [
        (attrs([1, 1], [1, 1], Padding::Same), [2, 12, 13, 72], 1),
        (attrs([2, 2], [1, 1], Padding::Same), [3, 9, 7, 40], 1),
        (attrs([2, 1], [2, 2], Padding::Valid), [2, 11, 9, 8], 2),
        (attrs([1, 1], [1, 1], Padding::Valid), [1, 5, 6, 3], 3),
        (attrs([1, 1], [1, 1], Padding::Same), [0, 5, 6, 3], 1),
    ];
    for (a, x_dims, m) in cases {
        let c = x_dims[3];
        let g = Conv2dGeometry::resolve(x_dims, [3, 3, c, c * m], &a).unwrap();
        let [sx, sw, sy] = depthwise_sizes(&g, m).unwrap();
        let (x, w, dy) = (values(sx, 1), values(sw, 2), values(sy, 3));
        let (mut y_want, mut dx_want, mut dw_want) = (vec![0.0; sy], vec![0.0; sx], vec![0.0; sw]);
        for_each_product(&g, m, |xi, wi, yi| {
            y_want[yi] += x[xi] as f64 * w[wi] as f64;
            dx_want[xi] += dy[yi] as f64 * w[wi] as f64;
            dw_want[wi] += x[xi] as f64 * dy[yi] as f64;
        });
        for threads in [1, 2] {
            let what = |pass: &str| format!("{pass} {x_dims:?} m {m} {a:?} on {threads} threads");
            let (mut xc, mut wc, mut yc) = (x.clone(), w.clone(), vec![f32::NAN; sy]);
            depthwise_conv2d(ConvPass::Forward, &g, m, &mut xc, &mut wc, &mut yc, threads).unwrap();
            assert_close(&yc, &y_want, &what("forward"));
            let (mut dx, mut dyc) = (vec![f32::NAN; sx], dy.clone());
            depthwise_conv2d(
                ConvPass::BackpropInput,
                &g,
                m,
                &mut dx,
                &mut wc,
                &mut dyc,
                threads,
            )
            .unwrap();
            assert_close(&dx, &dx_want, &what("backprop-input"));
            let mut dw = vec![f32::NAN; sw];
            depthwise_conv2d(
                ConvPass::BackpropFilter,
                &g,
                m,
                &mut xc,
                &mut dw,
                &mut dyc,
                threads,
            )
            .unwrap();
            assert_close(&dw, &dw_want, &what("backprop-filter"));
        }
    }
}

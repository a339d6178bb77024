//! Convolution forward, backprop-input and backprop-filter against naive loops over
//! paddings, strides, dilations and a batch of 2; the adjoint identity
//! `<conv(x,w), dy> = <x, bpi(dy,w)> = <w, bpf(x,dy)>`; and the checked wrappers' refusals.

use codegen_cpu::contract::{
    ContractError, Conv2dArgs, Conv2dGeometry, KILN_OK, KILN_SCRATCH_TOO_SMALL, conv2d,
    conv2d_backprop_filter, conv2d_backprop_input, kiln_conv2d,
};
use ir::{Conv2dAttrs, Padding};

/// Deterministic pseudo-random values in [-1, 1).
fn values(len: usize, seed: u64) -> Vec<f32> {
    let mut s = seed
        .wrapping_mul(2862933555777941757)
        .wrapping_add(3037000493);
    (0..len)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

/// Calls `f(x_index, w_index, y_index)` for every (output, tap) pair that reads a real
/// (non-padding) input element: the naive definition all three references share.
fn for_each_product(g: &Conv2dGeometry, mut f: impl FnMut(usize, usize, usize)) {
    for n in 0..g.batch {
        for oh in 0..g.out_h {
            for ow in 0..g.out_w {
                for kh in 0..g.kernel_h {
                    for kw in 0..g.kernel_w {
                        let ih =
                            (oh * g.stride_h + kh * g.dilation_h) as isize - g.pad_top as isize;
                        let iw =
                            (ow * g.stride_w + kw * g.dilation_w) as isize - g.pad_left as isize;
                        if ih < 0 || iw < 0 || ih >= g.in_h as isize || iw >= g.in_w as isize {
                            continue;
                        }
                        for ci in 0..g.in_c {
                            for co in 0..g.out_c {
                                let x = ((n * g.in_h + ih as usize) * g.in_w + iw as usize)
                                    * g.in_c
                                    + ci;
                                let w = ((kh * g.kernel_w + kw) * g.in_c + ci) * g.out_c + co;
                                let y = ((n * g.out_h + oh) * g.out_w + ow) * g.out_c + co;
                                f(x, w, y);
                            }
                        }
                    }
                }
            }
        }
    }
}

fn naive_forward(g: &Conv2dGeometry, x: &[f32], w: &[f32], y_len: usize) -> Vec<f64> {
    let mut y = vec![0.0; y_len];
    for_each_product(g, |xi, wi, yi| y[yi] += x[xi] as f64 * w[wi] as f64);
    y
}

fn naive_backprop_input(g: &Conv2dGeometry, dy: &[f32], w: &[f32], x_len: usize) -> Vec<f64> {
    let mut dx = vec![0.0; x_len];
    for_each_product(g, |xi, wi, yi| dx[xi] += dy[yi] as f64 * w[wi] as f64);
    dx
}

fn naive_backprop_filter(g: &Conv2dGeometry, x: &[f32], dy: &[f32], w_len: usize) -> Vec<f64> {
    let mut dw = vec![0.0; w_len];
    for_each_product(g, |xi, wi, yi| dw[wi] += x[xi] as f64 * dy[yi] as f64);
    dw
}

/// Relative 1e-4 scaled by the number of summed terms.
fn assert_close(got: &[f32], want: &[f64], terms: usize, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    let tol = 1e-4 * terms.max(1) as f64;
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (*g as f64 - w).abs() <= tol * w.abs().max(1.0),
            "{what}: element {i}: got {g}, want {w}"
        );
    }
}

fn dot(a: &[f32], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum()
}

/// (input NHWC, filter HWIO, strides, dilation, padding)
type Case = ([usize; 4], [usize; 4], [usize; 2], [usize; 2], Padding);

fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for padding in [
        Padding::Valid,
        Padding::Same,
        Padding::Explicit([2, 0, 1, 3]),
    ] {
        for strides in [[1, 1], [2, 2], [1, 2]] {
            for dilation in [[1, 1], [2, 2], [2, 1]] {
                cases.push(([2, 9, 8, 3], [3, 3, 3, 4], strides, dilation, padding));
            }
        }
    }
    // 1x1 filters: the direct (no im2col) path and its strided/padded neighbours.
    cases.push(([2, 5, 6, 7], [1, 1, 7, 5], [1, 1], [1, 1], Padding::Valid));
    cases.push(([2, 5, 6, 7], [1, 1, 7, 5], [2, 2], [1, 1], Padding::Valid));
    cases.push((
        [2, 5, 6, 7],
        [1, 1, 7, 5],
        [1, 1],
        [1, 1],
        Padding::Explicit([1, 0, 0, 1]),
    ));
    // Even filter, single channel, filter as large as the input.
    cases.push(([2, 7, 7, 1], [2, 4, 1, 2], [2, 1], [1, 1], Padding::Same));
    cases.push(([2, 4, 5, 2], [4, 5, 2, 3], [1, 1], [1, 1], Padding::Valid));
    // Deep enough (depth 4104 > 2^20 / 256) that blocks are 256 rows: 288 rows span two.
    cases.push((
        [2, 12, 12, 456],
        [3, 3, 456, 2],
        [1, 1],
        [1, 1],
        Padding::Same,
    ));
    // MNIST-like single-channel images: 8*26*26 rows of depth 9 fill im2col in two chunks.
    cases.push(([8, 28, 28, 1], [3, 3, 1, 4], [1, 1], [1, 1], Padding::Valid));
    cases
}

#[test]
fn conv_passes_match_naive_loops_and_adjoint_identity_holds() {
    for (case, (input, filter, strides, dilation, padding)) in cases().into_iter().enumerate() {
        let attrs = Conv2dAttrs {
            strides,
            dilation,
            padding,
        };
        let g = Conv2dGeometry::resolve(input, filter, &attrs).unwrap();
        let sizes = g.sizes().unwrap();
        let what =
            |pass: &str, threads: usize| format!("case {case} {pass} threads={threads}: {g:?}");
        let (x, w, dy) = (
            values(sizes.x, case as u64),
            values(sizes.w, 100 + case as u64),
            values(sizes.y, 200 + case as u64),
        );
        let terms = sizes.depth.max(sizes.rows);
        for threads in [1, 2] {
            let mut scratch = vec![f32::NAN; g.scratch_len()];
            let mut y = vec![f32::NAN; sizes.y];
            conv2d(&g, &x, &w, &mut y, &mut scratch, threads).unwrap();
            assert_close(
                &y,
                &naive_forward(&g, &x, &w, sizes.y),
                terms,
                &what("forward", threads),
            );

            let mut dx = vec![f32::NAN; sizes.x];
            conv2d_backprop_input(&g, &dy, &w, &mut dx, &mut scratch, threads).unwrap();
            assert_close(
                &dx,
                &naive_backprop_input(&g, &dy, &w, sizes.x),
                terms,
                &what("backprop-input", threads),
            );

            let mut dw = vec![f32::NAN; sizes.w];
            conv2d_backprop_filter(&g, &x, &dy, &mut dw, &mut scratch, threads).unwrap();
            assert_close(
                &dw,
                &naive_backprop_filter(&g, &x, &dy, sizes.w),
                terms,
                &what("backprop-filter", threads),
            );

            let (forward, input_side, filter_side) = (dot(&y, &dy), dot(&x, &dx), dot(&w, &dw));
            let scale = forward.abs().max(1.0) * 1e-4;
            assert!(
                (forward - input_side).abs() <= scale,
                "{}: <y,dy>={forward} <x,dx>={input_side}",
                what("adjoint", threads)
            );
            assert!(
                (forward - filter_side).abs() <= scale,
                "{}: <y,dy>={forward} <w,dw>={filter_side}",
                what("adjoint", threads)
            );
        }
    }
}

#[test]
fn deep_case_spans_several_blocks() {
    let attrs = Conv2dAttrs {
        strides: [1, 1],
        dilation: [1, 1],
        padding: Padding::Same,
    };
    let sizes = Conv2dGeometry::resolve([2, 12, 12, 456], [3, 3, 456, 2], &attrs)
        .unwrap()
        .sizes()
        .unwrap();
    assert!(sizes.block_rows < sizes.rows, "{sizes:?}");
    assert_eq!(sizes.scratch, sizes.block_rows * sizes.depth);
}

#[test]
fn resolve_follows_ir_padding_semantics() {
    let attrs = Conv2dAttrs {
        strides: [2, 2],
        dilation: [1, 1],
        padding: Padding::Same,
    };
    let g = Conv2dGeometry::resolve([1, 5, 4, 2], [3, 3, 2, 6], &attrs).unwrap();
    assert_eq!((g.out_h, g.pad_top, g.out_w, g.pad_left), (3, 1, 2, 0));
    let err = Conv2dGeometry::resolve([1, 5, 4, 2], [3, 3, 5, 6], &attrs);
    assert!(
        matches!(err, Err(ContractError::InvalidGeometry(_))),
        "{err:?}"
    );
    let valid = Conv2dAttrs {
        padding: Padding::Valid,
        ..attrs
    };
    assert!(matches!(
        Conv2dGeometry::resolve([1, 2, 2, 1], [3, 3, 1, 1], &valid),
        Err(ContractError::InvalidGeometry(_))
    ));
}

#[test]
fn checked_wrappers_refuse_short_slices_and_bad_geometry() {
    let attrs = Conv2dAttrs {
        strides: [1, 1],
        dilation: [1, 1],
        padding: Padding::Same,
    };
    let g = Conv2dGeometry::resolve([1, 4, 4, 2], [3, 3, 2, 2], &attrs).unwrap();
    let sizes = g.sizes().unwrap();
    let (x, w) = (vec![1.0; sizes.x], vec![1.0; sizes.w]);
    let mut y = vec![0.0; sizes.y];
    let mut scratch = vec![0.0; g.scratch_len()];
    let err = conv2d(&g, &x[1..], &w, &mut y, &mut scratch, 1);
    assert_eq!(
        err,
        Err(ContractError::OperandTooShort {
            operand: "x",
            needed: sizes.x,
            len: sizes.x - 1
        })
    );
    let err = conv2d(&g, &x, &w, &mut y, &mut scratch[1..], 1);
    assert!(
        matches!(
            err,
            Err(ContractError::OperandTooShort {
                operand: "scratch",
                ..
            })
        ),
        "{err:?}"
    );
    let err = conv2d_backprop_filter(
        &g,
        &x,
        &y.clone(),
        &mut vec![0.0; sizes.w - 1],
        &mut scratch,
        1,
    );
    assert!(
        matches!(
            err,
            Err(ContractError::OperandTooShort { operand: "dw", .. })
        ),
        "{err:?}"
    );
    let zero_stride = Conv2dGeometry { stride_h: 0, ..g };
    assert!(matches!(
        conv2d(&zero_stride, &x, &w, &mut y, &mut scratch, 1),
        Err(ContractError::InvalidGeometry(_))
    ));
    assert_eq!(y, vec![0.0; sizes.y], "refused calls must not write");
}

#[test]
fn c_abi_entry_point_reports_status() {
    let attrs = Conv2dAttrs {
        strides: [1, 1],
        dilation: [1, 1],
        padding: Padding::Valid,
    };
    let g = Conv2dGeometry::resolve([1, 4, 4, 1], [3, 3, 1, 1], &attrs).unwrap();
    let sizes = g.sizes().unwrap();
    let (mut x, mut w) = (values(sizes.x, 1), values(sizes.w, 2));
    let mut y = vec![0.0; sizes.y];
    let mut scratch = vec![0.0; g.scratch_len()];
    let mut args = Conv2dArgs {
        geometry: g,
        x: x.as_mut_ptr(),
        w: w.as_mut_ptr(),
        y: y.as_mut_ptr(),
        scratch: scratch.as_mut_ptr(),
        scratch_len: scratch.len(),
        threads: 1,
    };
    // SAFETY: buffers sized by the geometry; y and scratch are written only.
    assert_eq!(unsafe { kiln_conv2d(&args) }, KILN_OK);
    assert_close(
        &y,
        &naive_forward(&g, &x, &w, sizes.y),
        sizes.depth,
        "kiln_conv2d",
    );
    args.scratch_len -= 1;
    // SAFETY: as above; the short scratch is reported before anything is touched.
    assert_eq!(unsafe { kiln_conv2d(&args) }, KILN_SCRATCH_TOO_SMALL);
}

#[test]
fn empty_extents_give_zero_results() {
    let attrs = Conv2dAttrs {
        strides: [1, 1],
        dilation: [1, 1],
        padding: Padding::Same,
    };
    // No input channels: the output is all zeros.
    let g = Conv2dGeometry::resolve([1, 3, 3, 0], [3, 3, 0, 2], &attrs).unwrap();
    let mut y = vec![f32::NAN; g.sizes().unwrap().y];
    conv2d(&g, &[], &[], &mut y, &mut [], 1).unwrap();
    assert_eq!(y, vec![0.0; 18]);
    // An empty batch: the filter gradient is all zeros.
    let g = Conv2dGeometry::resolve([0, 3, 3, 2], [3, 3, 2, 2], &attrs).unwrap();
    let mut dw = vec![f32::NAN; g.sizes().unwrap().w];
    conv2d_backprop_filter(&g, &[], &[], &mut dw, &mut vec![0.0; g.scratch_len()], 2).unwrap();
    assert_eq!(dw, vec![0.0; 36]);
}

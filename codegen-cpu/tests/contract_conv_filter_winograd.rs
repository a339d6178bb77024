//! The filter gradient of 3×3 stride-1 convolutions with at least 16 input and output
//! channels, which runs by Winograd F(3×3, 2×2), against an f64 reference.
//!
//! Stated error bound: every element of `dw` is within `BOUND · Σ|x·dy|` of the exact
//! sum, where `Σ|x·dy|` is the sum of the absolute values of the products that element
//! adds up (f32 summation over K products alone can reach a few `√K · ε` of it; the
//! transforms' coefficients are ±1 and ±½). A wrong transform coefficient gives errors of
//! the order of the values themselves, far outside the bound.

use codegen_cpu::contract::{Conv2dGeometry, conv2d_backprop_filter};
use ir::{Conv2dAttrs, Padding};

/// Relative to `Σ|x·dy|` per element; about 170 f32 epsilons.
const BOUND: f64 = 1e-5;

/// Deterministic pseudo-random values in [-1, 1).
fn values(len: usize, seed: u32) -> Vec<f32> {
    (0..len as u32)
        .map(|i| 2.0 * ir::random::uniform(seed, i) - 1.0)
        .collect()
}

/// Exact `dw` and, per element, `Σ|x·dy|`.
fn reference(g: &Conv2dGeometry, x: &[f32], dy: &[f32]) -> (Vec<f64>, Vec<f64>) {
    let len = 9 * g.in_c * g.out_c;
    let (mut sum, mut abs) = (vec![0.0f64; len], vec![0.0f64; len]);
    for n in 0..g.batch {
        for oh in 0..g.out_h {
            for ow in 0..g.out_w {
                let dy_at = ((n * g.out_h + oh) * g.out_w + ow) * g.out_c;
                for tap in 0..9 {
                    let ih = (oh + tap / 3)
                        .checked_sub(g.pad_top)
                        .filter(|&h| h < g.in_h);
                    let iw = (ow + tap % 3)
                        .checked_sub(g.pad_left)
                        .filter(|&w| w < g.in_w);
                    let (Some(ih), Some(iw)) = (ih, iw) else {
                        continue;
                    };
                    let x_at = ((n * g.in_h + ih) * g.in_w + iw) * g.in_c;
                    for ci in 0..g.in_c {
                        let xv = x[x_at + ci] as f64;
                        let row = (tap * g.in_c + ci) * g.out_c;
                        for co in 0..g.out_c {
                            let p = xv * dy[dy_at + co] as f64;
                            sum[row + co] += p;
                            abs[row + co] += p.abs();
                        }
                    }
                }
            }
        }
    }
    (sum, abs)
}

fn geometry(input: [usize; 4], out_c: usize, padding: Padding) -> Conv2dGeometry {
    let attrs = Conv2dAttrs {
        strides: [1, 1],
        dilation: [1, 1],
        padding,
    };
    Conv2dGeometry::resolve(input, [3, 3, input[3], out_c], &attrs).unwrap()
}

/// `dw` on `threads` threads with the scratch the geometry asks for.
fn filter_gradient(g: &Conv2dGeometry, x: &[f32], dy: &[f32], threads: usize) -> Vec<f32> {
    let mut dw = vec![f32::NAN; 9 * g.in_c * g.out_c];
    let mut scratch = vec![f32::NAN; g.scratch_len()];
    conv2d_backprop_filter(g, x, dy, &mut dw, &mut scratch, threads).unwrap();
    dw
}

#[test]
fn filter_gradient_is_within_the_stated_bound() {
    let cases = [
        // Odd output sizes (half-empty blocks at the bottom and right), valid padding.
        ([2, 9, 8, 16], 16, Padding::Valid),
        // Odd channel counts, same padding.
        ([3, 7, 11, 17], 19, Padding::Same),
        // Asymmetric explicit padding.
        ([2, 6, 5, 16], 24, Padding::Explicit([2, 0, 1, 3])),
        // Enough blocks that the scratch holds them in two chunks (M accumulates).
        ([2, 64, 66, 16], 16, Padding::Same),
        // The small CNN's second layer: six chunks.
        ([100, 13, 13, 32], 64, Padding::Valid),
    ];
    for (case, (input, out_c, padding)) in cases.into_iter().enumerate() {
        let g = geometry(input, out_c, padding);
        let sizes = g.sizes().unwrap();
        let x = values(sizes.x, 2 * case as u32);
        let dy = values(sizes.y, 2 * case as u32 + 1);
        let (want, abs) = reference(&g, &x, &dy);
        for threads in [1, 2] {
            let got = filter_gradient(&g, &x, &dy, threads);
            for (i, ((&got, want), abs)) in got.iter().zip(&want).zip(&abs).enumerate() {
                let err = (got as f64 - want).abs();
                assert!(
                    err <= BOUND * abs,
                    "case {case} threads {threads} element {i}: got {got}, want {want}, \
                     error {err:e} > {BOUND:e} * {abs}"
                );
            }
        }
    }
}

/// A NaN input element makes NaN every tap of its input channel (Winograd spreads it over
/// the channel's 3×3 taps) and leaves the other channels finite.
#[test]
fn a_nan_input_poisons_its_channel_only() {
    let g = geometry([1, 6, 6, 16], 16, Padding::Same);
    let sizes = g.sizes().unwrap();
    let mut x = values(sizes.x, 7);
    let nan_channel = 5;
    x[(2 * 6 + 3) * 16 + nan_channel] = f32::NAN;
    let dy = values(sizes.y, 8);
    let dw = filter_gradient(&g, &x, &dy, 2);
    for (i, v) in dw.iter().enumerate() {
        let ci = (i / g.out_c) % g.in_c;
        assert_eq!(
            v.is_nan(),
            ci == nan_channel,
            "dw[{i}] (input channel {ci}) = {v}"
        );
    }
}

//! Pooling and its gradient: hand values, TF "same" counts, first-maximum routing, and
//! finite differences of pool2d.

use crate::support::{apply_ok, assert_close, dot, random, t};
use ir::{Op, Padding, Pool2dAttrs, PoolKind, Tensor};

fn attrs(kind: PoolKind, window: usize, stride: usize, padding: Padding) -> Pool2dAttrs {
    Pool2dAttrs {
        kind,
        window: [window, window],
        strides: [stride, stride],
        padding,
    }
}

/// 1..=9 on a 3x3 single-channel image.
fn ramp_3x3() -> Tensor {
    t([1, 3, 3, 1], (1..=9).map(|v| v as f32).collect())
}

#[test]
fn max_pool_valid_two_channels() {
    // 4x4 image, 2 channels (channel 1 = -channel 0), 2x2 windows at stride 2.
    let c0: Vec<f32> = vec![
        1.0, 5.0, 2.0, 0.0, 3.0, 4.0, 8.0, 7.0, 0.0, 0.0, 1.0, 1.0, 9.0, 0.0, 1.0, 2.0,
    ];
    let x = t([1, 4, 4, 2], c0.iter().flat_map(|&v| [v, -v]).collect());
    let got = apply_ok(Op::Pool2d(attrs(PoolKind::Max, 2, 2, Padding::Valid)), &[x]);
    assert_close(
        &got,
        &[1, 2, 2, 2],
        &[5.0, -1.0, 8.0, 0.0, 9.0, 0.0, 2.0, -1.0],
        0.0,
    );
}

#[test]
fn max_pool_padding_never_wins() {
    // All-negative 3x3 input, 2x2 windows at stride 2, SAME: the bottom/right windows
    // overlap the padding, which must not contribute a 0.
    let x = t([1, 3, 3, 1], (1..=9).map(|v| -(v as f32)).collect());
    let got = apply_ok(Op::Pool2d(attrs(PoolKind::Max, 2, 2, Padding::Same)), &[x]);
    assert_close(&got, &[1, 2, 2, 1], &[-1.0, -3.0, -7.0, -9.0], 0.0);
}

#[test]
fn avg_pool_same_divides_by_the_non_padding_count() {
    // 2x2 windows at stride 1, SAME on 3x3: one padding row/column at the bottom/right.
    let got = apply_ok(
        Op::Pool2d(attrs(PoolKind::Avg, 2, 1, Padding::Same)),
        &[ramp_3x3()],
    );
    let want = [3.0, 4.0, 4.5, 6.0, 7.0, 7.5, 7.5, 8.5, 9.0];
    assert_close(&got, &[1, 3, 3, 1], &want, 1e-6);
    // 3x3 windows at stride 1, SAME: corner windows hold 4 cells, edges 6, centre 9.
    let ones = t([1, 3, 3, 1], vec![1.0; 9]);
    let got = apply_ok(
        Op::Pool2d(attrs(PoolKind::Avg, 3, 1, Padding::Same)),
        &[ones],
    );
    assert_close(&got, &[1, 3, 3, 1], &[1.0; 9], 1e-6);
    let got = apply_ok(
        Op::Pool2d(attrs(PoolKind::Avg, 3, 1, Padding::Same)),
        &[ramp_3x3()],
    );
    let want = [3.0, 3.5, 4.0, 4.5, 5.0, 5.5, 6.0, 6.5, 7.0];
    assert_close(&got, &[1, 3, 3, 1], &want, 1e-6);
}

#[test]
fn avg_pool_grad_spreads_over_the_non_padding_cells() {
    // Same geometry as above with dy = 1: each cell gets the sum of 1/count over the
    // windows that contain it (counts 4, 2 on the last column/row, 1 in the corner).
    let p = attrs(PoolKind::Avg, 2, 1, Padding::Same);
    let got = apply_ok(
        Op::Pool2dGrad(p),
        &[ramp_3x3(), t([1, 3, 3, 1], vec![1.0; 9])],
    );
    let want = [0.25, 0.5, 0.75, 0.5, 1.0, 1.5, 0.75, 1.5, 2.25];
    assert_close(&got, &[1, 3, 3, 1], &want, 1e-6);
}

#[test]
fn max_pool_grad_routes_to_the_first_maximum() {
    // Two overlapping 2x2 windows (stride 1) over a 2x3 image of ties: each window's
    // gradient goes to its top-left cell.
    let x = t([1, 2, 3, 1], vec![4.0; 6]);
    let dy = t([1, 1, 2, 1], vec![10.0, 20.0]);
    let got = apply_ok(
        Op::Pool2dGrad(attrs(PoolKind::Max, 2, 1, Padding::Valid)),
        &[x, dy],
    );
    assert_close(&got, &[1, 2, 3, 1], &[10.0, 20.0, 0.0, 0.0, 0.0, 0.0], 0.0);
    // A tie between the second and fourth cells in row-major order: the second wins.
    let x = t([1, 2, 2, 1], vec![0.0, 5.0, 1.0, 5.0]);
    let got = apply_ok(
        Op::Pool2dGrad(attrs(PoolKind::Max, 2, 2, Padding::Valid)),
        &[x, t([1, 1, 1, 1], vec![3.0])],
    );
    assert_close(&got, &[1, 2, 2, 1], &[0.0, 3.0, 0.0, 0.0], 0.0);
}

#[test]
fn pool_grad_matches_finite_differences() {
    // Inputs with distinct values 0.1 apart, so max pooling has no ties and a step of
    // 0.01 never changes a window's winner; avg pooling is linear.
    let n = 2 * 5 * 5 * 2;
    let x = t(
        [2, 5, 5, 2],
        (0..n).map(|i| ((i * 37) % n) as f32 * 0.1).collect(),
    );
    let cases = [
        attrs(PoolKind::Max, 2, 2, Padding::Valid),
        attrs(PoolKind::Max, 3, 2, Padding::Same),
        attrs(PoolKind::Max, 3, 1, Padding::Explicit([1, 0, 0, 2])),
        attrs(PoolKind::Avg, 3, 2, Padding::Same),
        attrs(PoolKind::Avg, 2, 1, Padding::Valid),
    ];
    let eps = 0.01;
    for (case, p) in cases.into_iter().enumerate() {
        let y = apply_ok(Op::Pool2d(p), std::slice::from_ref(&x));
        let r = random(y.shape.clone(), 50 + case as u32, -1.0, 1.0);
        let grad = apply_ok(Op::Pool2dGrad(p), &[x.clone(), r.clone()]);
        let loss = |x: &Tensor| dot(&apply_ok(Op::Pool2d(p), std::slice::from_ref(x)), &r);
        for i in 0..n {
            let (mut up, mut down) = (x.clone(), x.clone());
            up.data[i] += eps;
            down.data[i] -= eps;
            let fd = (loss(&up) - loss(&down)) / (2.0 * eps as f64);
            assert!(
                (fd - grad.data[i] as f64).abs() < 1e-3,
                "case {case} element {i}: fd {fd} vs grad {}",
                grad.data[i]
            );
        }
    }
}

#[test]
fn windows_entirely_in_padding_are_minus_infinity_or_zero_and_pass_no_gradient() {
    // Three padding rows on top of a 3x3 input (and one column on the right), 2x2 windows
    // at stride 2: the first output row's windows see only padding, the second sees input
    // row 0, the third input rows 1 and 2.
    let padding = Padding::Explicit([3, 0, 0, 1]);
    let max = apply_ok(
        Op::Pool2d(attrs(PoolKind::Max, 2, 2, padding)),
        &[ramp_3x3()],
    );
    assert_close(
        &max,
        &[1, 3, 2, 1],
        &[f32::NEG_INFINITY, f32::NEG_INFINITY, 2.0, 3.0, 8.0, 9.0],
        0.0,
    );
    let avg = apply_ok(
        Op::Pool2d(attrs(PoolKind::Avg, 2, 2, padding)),
        &[ramp_3x3()],
    );
    assert_close(&avg, &[1, 3, 2, 1], &[0.0, 0.0, 1.5, 3.0, 6.0, 7.5], 0.0);
    let dy = t([1, 3, 2, 1], vec![100.0, 100.0, 1.0, 1.0, 1.0, 1.0]);
    let grad = apply_ok(
        Op::Pool2dGrad(attrs(PoolKind::Avg, 2, 2, padding)),
        &[ramp_3x3(), dy],
    );
    assert_close(
        &grad,
        &[1, 3, 3, 1],
        &[0.5, 0.5, 1.0, 0.25, 0.25, 0.5, 0.25, 0.25, 0.5],
        0.0,
    );
}

//! Reshape, transpose, broadcast, slice, concat and pad.

use crate::support::{apply_ok, assert_close, t};
use ir::{Op, Shape};

/// 0..6 as [2, 3].
fn m23() -> ir::Tensor {
    t([2, 3], (0..6).map(|v| v as f32).collect())
}

#[test]
fn reshape_keeps_row_major_order() {
    let got = apply_ok(Op::Reshape(Shape::from([3, 1, 2])), &[m23()]);
    assert_close(&got, &[3, 1, 2], &[0.0, 1.0, 2.0, 3.0, 4.0, 5.0], 0.0);
}

#[test]
fn transpose_result_axis_i_is_operand_axis_perm_i() {
    assert_close(
        &apply_ok(Op::Transpose(vec![1, 0]), &[m23()]),
        &[3, 2],
        &[0.0, 3.0, 1.0, 4.0, 2.0, 5.0],
        0.0,
    );
    // x[i, j, k] = 100 i + 10 j + k of shape [2, 3, 4]; perm [2, 0, 1] gives y[k, i, j].
    let x = t(
        [2, 3, 4],
        (0..24)
            .map(|f| (100 * (f / 12) + 10 * (f / 4 % 3) + f % 4) as f32)
            .collect(),
    );
    let got = apply_ok(Op::Transpose(vec![2, 0, 1]), &[x]);
    let mut want = Vec::new();
    for k in 0..4 {
        for i in 0..2 {
            for j in 0..3 {
                want.push((100 * i + 10 * j + k) as f32);
            }
        }
    }
    assert_close(&got, &[4, 2, 3], &want, 0.0);
}

#[test]
fn broadcast_repeats_size_one_and_missing_axes() {
    let got = apply_ok(
        Op::Broadcast(Shape::from([2, 2, 3])),
        &[t([2, 1], vec![1.0, 2.0])],
    );
    assert_close(
        &got,
        &[2, 2, 3],
        &[1.0, 1.0, 1.0, 2.0, 2.0, 2.0, 1.0, 1.0, 1.0, 2.0, 2.0, 2.0],
        0.0,
    );
    let got = apply_ok(
        Op::Broadcast(Shape::from([2])),
        &[t(Shape::scalar(), vec![7.0])],
    );
    assert_close(&got, &[2], &[7.0, 7.0], 0.0);
}

#[test]
fn slice_takes_the_box() {
    let x = t([3, 4], (0..12).map(|v| v as f32).collect());
    let got = apply_ok(
        Op::Slice {
            starts: vec![1, 1],
            ends: vec![3, 3],
        },
        std::slice::from_ref(&x),
    );
    assert_close(&got, &[2, 2], &[5.0, 6.0, 9.0, 10.0], 0.0);
    let empty = apply_ok(
        Op::Slice {
            starts: vec![2, 0],
            ends: vec![2, 4],
        },
        &[x],
    );
    assert_close(&empty, &[0, 4], &[], 0.0);
}

#[test]
fn concat_joins_along_the_axis() {
    let b = t([2, 1], vec![10.0, 20.0]);
    let got = apply_ok(Op::Concat { axis: 1 }, &[m23(), b.clone(), m23()]);
    let want = [
        0.0, 1.0, 2.0, 10.0, 0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 20.0, 3.0, 4.0, 5.0,
    ];
    assert_close(&got, &[2, 7], &want, 0.0);
    let got = apply_ok(Op::Concat { axis: 0 }, &[m23(), t([1, 3], vec![-1.0; 3])]);
    assert_close(
        &got,
        &[3, 3],
        &[0.0, 1.0, 2.0, 3.0, 4.0, 5.0, -1.0, -1.0, -1.0],
        0.0,
    );
}

#[test]
fn pad_surrounds_with_the_value() {
    let got = apply_ok(
        Op::Pad {
            before: vec![1, 0],
            after: vec![0, 2],
            value: -1.0,
        },
        &[m23()],
    );
    let want = [
        -1.0, -1.0, -1.0, -1.0, -1.0, 0.0, 1.0, 2.0, -1.0, -1.0, 3.0, 4.0, 5.0, -1.0, -1.0,
    ];
    assert_close(&got, &[3, 5], &want, 0.0);
}

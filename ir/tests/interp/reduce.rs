//! Reductions: sum, mean, max, min, argmax; keep_dims; argmax ties.

use crate::support::{apply_ok, assert_close, t};
use ir::{Op, ReduceOp};

fn reduce(op: ReduceOp, axes: &[usize], keep_dims: bool) -> Op {
    Op::Reduce {
        op,
        axes: axes.to_vec(),
        keep_dims,
    }
}

/// x[i, j, k] = 100 i + 10 j + k, shape [2, 3, 2].
fn x() -> ir::Tensor {
    let mut data = Vec::new();
    for i in 0..2 {
        for j in 0..3 {
            for k in 0..2 {
                data.push((100 * i + 10 * j + k) as f32);
            }
        }
    }
    t([2, 3, 2], data)
}

#[test]
fn sum_and_mean_over_axes() {
    // Over axis 1: sum_j (100 i + 10 j + k) = 300 i + 30 + 3 k.
    assert_close(
        &apply_ok(reduce(ReduceOp::Sum, &[1], false), &[x()]),
        &[2, 2],
        &[30.0, 33.0, 330.0, 333.0],
        0.0,
    );
    assert_close(
        &apply_ok(reduce(ReduceOp::Mean, &[1], true), &[x()]),
        &[2, 1, 2],
        &[10.0, 11.0, 110.0, 111.0],
        1e-5,
    );
    // Over axes 0 and 2: sum_{i,k} = 4*10 j + 200 + 2 = 40 j + 202.
    assert_close(
        &apply_ok(reduce(ReduceOp::Sum, &[0, 2], false), &[x()]),
        &[3],
        &[202.0, 242.0, 282.0],
        0.0,
    );
    // Over everything.
    assert_close(
        &apply_ok(reduce(ReduceOp::Mean, &[0, 1, 2], false), &[x()]),
        &[],
        &[60.5],
        1e-4,
    );
}

#[test]
fn max_and_min() {
    let v = t([2, 3], vec![3.0, -1.0, 2.0, -5.0, -4.0, -6.0]);
    assert_close(
        &apply_ok(reduce(ReduceOp::Max, &[1], false), std::slice::from_ref(&v)),
        &[2],
        &[3.0, -4.0],
        0.0,
    );
    assert_close(
        &apply_ok(reduce(ReduceOp::Min, &[0], true), std::slice::from_ref(&v)),
        &[1, 3],
        &[-5.0, -4.0, -6.0],
        0.0,
    );
    assert_close(
        &apply_ok(reduce(ReduceOp::Max, &[0, 1], false), &[v]),
        &[],
        &[3.0],
        0.0,
    );
}

#[test]
fn argmax_takes_the_first_maximum() {
    let v = t([3, 3], vec![1.0, 3.0, 3.0, 2.0, 2.0, 1.0, -7.0, -7.0, -7.0]);
    assert_close(
        &apply_ok(
            reduce(ReduceOp::ArgMax, &[1], false),
            std::slice::from_ref(&v),
        ),
        &[3],
        &[1.0, 0.0, 0.0],
        0.0,
    );
    assert_close(
        &apply_ok(reduce(ReduceOp::ArgMax, &[0], true), &[v]),
        &[1, 3],
        &[1.0, 0.0, 0.0],
        0.0,
    );
    // All -inf: the first index.
    let v = t([1, 2], vec![f32::NEG_INFINITY; 2]);
    assert_close(
        &apply_ok(reduce(ReduceOp::ArgMax, &[1], false), &[v]),
        &[1],
        &[0.0],
        0.0,
    );
}

//! Unary, binary, select and random_uniform, including numpy broadcasting.

use crate::support::{apply_ok, assert_close, t};
use ir::{BinaryOp, Op, Shape, UnaryOp};

#[test]
fn unary_ops_match_hand_values() {
    let x = t([4], vec![-2.0, 0.0, 0.25, 4.0]);
    let cases: [(UnaryOp, [f32; 4]); 6] = [
        (UnaryOp::Neg, [2.0, 0.0, -0.25, -4.0]),
        (UnaryOp::Abs, [2.0, 0.0, 0.25, 4.0]),
        (UnaryOp::Relu, [0.0, 0.0, 0.25, 4.0]),
        (UnaryOp::Square, [4.0, 0.0, 0.0625, 16.0]),
        (UnaryOp::Sign, [-1.0, 0.0, 1.0, 1.0]),
        (UnaryOp::Exp, [0.135_335_28, 1.0, 1.284_025_4, 54.598_15]),
    ];
    for (op, want) in cases {
        assert_close(
            &apply_ok(Op::Unary(op), std::slice::from_ref(&x)),
            &[4],
            &want,
            1e-5,
        );
    }
    let pos = t([2, 2], vec![0.25, 1.0, 4.0, 16.0]);
    assert_close(
        &apply_ok(Op::Unary(UnaryOp::Sqrt), std::slice::from_ref(&pos)),
        &[2, 2],
        &[0.5, 1.0, 2.0, 4.0],
        1e-6,
    );
    assert_close(
        &apply_ok(Op::Unary(UnaryOp::Rsqrt), &[pos]),
        &[2, 2],
        &[2.0, 1.0, 0.5, 0.25],
        1e-6,
    );
}

#[test]
fn binary_broadcasts_like_numpy() {
    // [2, 1, 3] op [4, 1] -> [2, 4, 3]: out[i, j, k] = a[i, 0, k] - b[j, 0].
    let a = t([2, 1, 3], vec![1.0, 2.0, 3.0, 10.0, 20.0, 30.0]);
    let b = t([4, 1], vec![0.0, 1.0, 2.0, 3.0]);
    let got = apply_ok(Op::Binary(BinaryOp::Sub), &[a, b]);
    let mut want = Vec::new();
    for base in [[1.0, 2.0, 3.0], [10.0, 20.0, 30.0]] {
        for j in 0..4 {
            want.extend(base.iter().map(|v| v - j as f32));
        }
    }
    assert_close(&got, &[2, 4, 3], &want, 0.0);
}

#[test]
fn binary_scalar_and_comparisons() {
    let a = t([3], vec![1.0, 2.0, 3.0]);
    let two = t(Shape::scalar(), vec![2.0]);
    assert_close(
        &apply_ok(Op::Binary(BinaryOp::Ge), &[a.clone(), two.clone()]),
        &[3],
        &[0.0, 1.0, 1.0],
        0.0,
    );
    assert_close(
        &apply_ok(Op::Binary(BinaryOp::Pow), &[two.clone(), a.clone()]),
        &[3],
        &[2.0, 4.0, 8.0],
        0.0,
    );
    assert_close(
        &apply_ok(Op::Binary(BinaryOp::Div), &[a.clone(), two]),
        &[3],
        &[0.5, 1.0, 1.5],
        0.0,
    );
    assert_close(
        &apply_ok(Op::Binary(BinaryOp::Max), &[a, t([1], vec![2.5])]),
        &[3],
        &[2.5, 2.5, 3.0],
        0.0,
    );
}

#[test]
fn select_broadcasts_all_three_operands() {
    // cond [2, 1], a [3], b scalar -> [2, 3].
    let cond = t([2, 1], vec![1.0, 0.0]);
    let a = t([3], vec![1.0, 2.0, 3.0]);
    let b = t(Shape::scalar(), vec![-1.0]);
    assert_close(
        &apply_ok(Op::Select, &[cond, a, b]),
        &[2, 3],
        &[1.0, 2.0, 3.0, -1.0, -1.0, -1.0],
        0.0,
    );
    // Any non-zero condition (even negative or NaN) is true.
    let cond = t([3], vec![-0.5, f32::NAN, 0.0]);
    let got = apply_ok(
        Op::Select,
        &[cond, t([3], vec![7.0; 3]), t([3], vec![9.0; 3])],
    );
    assert_close(&got, &[3], &[7.0, 7.0, 9.0], 0.0);
}

#[test]
fn random_uniform_is_the_counter_generator_at_the_truncated_seed() {
    let got = apply_ok(
        Op::RandomUniform(Shape::from([2, 3])),
        &[t(Shape::scalar(), vec![3.7])],
    );
    let want: Vec<f32> = (0..6).map(|i| ir::random::uniform(3, i)).collect();
    assert_close(&got, &[2, 3], &want, 0.0);
    assert!(got.data.iter().all(|v| (0.0..1.0).contains(v)));
}

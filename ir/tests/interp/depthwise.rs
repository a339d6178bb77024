//! Depthwise convolution: a hand case, agreement with a dense brute-force convolution by a
//! block-diagonal filter, and the adjoint identities of its two backprops.

use crate::contraction::{attr_cases, brute_force_conv};
use crate::support::{apply, apply_ok, assert_close, dot, random, t};
use ir::{Conv2dAttrs, Op, Padding, Shape, Tensor};

/// The dense `[kh, kw, c, c*m]` filter equal to depthwise filter `w`: zero except
/// `dense[ky, kx, ci, ci*m + mi] = w[ky, kx, ci, mi]`.
fn block_diagonal(w: &Tensor) -> Tensor {
    let [kh, kw, c, m] = [w.shape.0[0], w.shape.0[1], w.shape.0[2], w.shape.0[3]];
    let mut dense = Tensor::zeros([kh, kw, c, c * m]);
    for tap in 0..kh * kw {
        for ci in 0..c {
            for mi in 0..m {
                dense.data[(tap * c + ci) * c * m + ci * m + mi] = w.data[(tap * c + ci) * m + mi];
            }
        }
    }
    dense
}

#[test]
fn depthwise_hand_case_orders_outputs_channel_major() {
    // 1x2x2 input with 2 channels, 1x1 filter, multiplier 2: y[.., ci*2 + mi] = x[.., ci] * w[ci, mi].
    let x = t([1, 1, 2, 2], vec![1.0, 2.0, 3.0, 4.0]);
    let w = t([1, 1, 2, 2], vec![10.0, 100.0, -1.0, 0.5]);
    let attrs = Conv2dAttrs {
        strides: [1, 1],
        dilation: [1, 1],
        padding: Padding::Valid,
    };
    let got = apply_ok(Op::DepthwiseConv2d(attrs), &[x, w]);
    assert_close(
        &got,
        &[1, 1, 2, 4],
        &[10.0, 100.0, -2.0, 1.0, 30.0, 300.0, -4.0, 2.0],
        0.0,
    );
}

#[test]
fn depthwise_matches_a_dense_conv_by_a_block_diagonal_filter() {
    for (i, attrs) in attr_cases().into_iter().enumerate() {
        for m in [1, 3] {
            let x = random([2, 7, 6, 3], 30 + i as u32, -1.0, 1.0);
            let w = random([3, 2, 3, m], 40 + i as u32, -1.0, 1.0);
            let got = apply_ok(Op::DepthwiseConv2d(attrs), &[x.clone(), w.clone()]);
            assert_eq!(got.shape.0[3], 3 * m);
            let want = brute_force_conv(&x, &block_diagonal(&w), &attrs, &got.shape);
            let shape = got.shape.0.clone();
            assert_close(&got, &shape, &want, 1e-5);
        }
    }
}

#[test]
fn depthwise_backprops_are_exact_adjoints() {
    for (i, attrs) in attr_cases().into_iter().enumerate() {
        let seed = 200 + 10 * i as u32;
        let x = random([2, 7, 6, 3], seed, -1.0, 1.0);
        let w = random([3, 2, 3, 2], seed + 1, -1.0, 1.0);
        let y = apply_ok(Op::DepthwiseConv2d(attrs), &[x.clone(), w.clone()]);
        let dy = random(y.shape.clone(), seed + 2, -1.0, 1.0);
        let dx = apply_ok(
            Op::DepthwiseConv2dBackpropInput {
                attrs,
                input_shape: x.shape.clone(),
            },
            &[dy.clone(), w.clone()],
        );
        let dw = apply_ok(
            Op::DepthwiseConv2dBackpropFilter {
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

#[test]
fn depthwise_rejects_a_channel_mismatch_by_name() {
    let attrs = Conv2dAttrs {
        strides: [1, 1],
        dilation: [1, 1],
        padding: Padding::Valid,
    };
    let err = apply(
        Op::DepthwiseConv2d(attrs),
        &[Tensor::zeros([1, 4, 4, 3]), Tensor::zeros([2, 2, 2, 1])],
    )
    .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("depthwise_conv2d") && text.contains("3 channels"),
        "{text}"
    );
    let dy = Tensor::zeros(Shape::from([1, 3, 3, 5]));
    let err = apply(
        Op::DepthwiseConv2dBackpropInput {
            attrs,
            input_shape: Shape::from([1, 4, 4, 3]),
        },
        &[dy, Tensor::zeros([2, 2, 3, 1])],
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("forward output shape [1, 3, 3, 3]"),
        "{err}"
    );
}

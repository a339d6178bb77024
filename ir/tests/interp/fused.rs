//! Fused ops agree with hand values and with the unfused graphs they replace.

use crate::support::{apply_ok, assert_close, random, t};
use ir::fused::{FusedOp, Instr, Program};
use ir::{BinaryOp, Conv2dAttrs, Op, Padding, Pool2dAttrs, PoolKind, ReduceOp, Shape, UnaryOp};

/// `relu(in0 + in1)`.
fn bias_relu() -> Program {
    Program {
        instrs: vec![
            Instr::Input(0),
            Instr::Input(1),
            Instr::Binary(BinaryOp::Add, 0, 1),
            Instr::Unary(UnaryOp::Relu, 2),
        ],
    }
}

#[test]
fn elementwise_program_with_broadcast_inputs() {
    // select(in0 > 0, in1 * 2, in2) with in0 [2, 1], in1 [2], in2 scalar.
    let p = Program {
        instrs: vec![
            Instr::Input(0),
            Instr::Const(0.0),
            Instr::Binary(BinaryOp::Gt, 0, 1),
            Instr::Input(1),
            Instr::Const(2.0),
            Instr::Binary(BinaryOp::Mul, 3, 4),
            Instr::Input(2),
            Instr::Select(2, 5, 6),
        ],
    };
    let args = [
        t([2, 1], vec![1.0, -1.0]),
        t([2], vec![3.0, 4.0]),
        t(Shape::scalar(), vec![9.0]),
    ];
    let got = apply_ok(Op::Fused(FusedOp::Elementwise(p)), &args);
    assert_close(&got, &[2, 2], &[6.0, 8.0, 9.0, 9.0], 0.0);
}

#[test]
fn matmul_with_bias_relu_epilogue() {
    let a = t([2, 2], vec![1.0, 2.0, 3.0, 4.0]);
    let b = t([2, 2], vec![1.0, -1.0, 1.0, -1.0]);
    let bias = t([2], vec![0.5, 10.0]);
    // a x b = [[3, -3], [7, -7]]; + bias = [[3.5, 7], [7.5, 3]]; relu keeps all.
    let op = FusedOp::MatMul {
        transpose_a: false,
        transpose_b: false,
        epilogue: bias_relu(),
    };
    assert_close(
        &apply_ok(Op::Fused(op), &[a.clone(), b.clone(), bias]),
        &[2, 2],
        &[3.5, 7.0, 7.5, 3.0],
        0.0,
    );
    let op = FusedOp::MatMul {
        transpose_a: false,
        transpose_b: false,
        epilogue: bias_relu(),
    };
    assert_close(
        &apply_ok(Op::Fused(op), &[a, b, t([2], vec![-4.0, 0.0])]),
        &[2, 2],
        &[0.0, 0.0, 3.0, 0.0],
        0.0,
    );
}

#[test]
fn conv_and_pool_epilogues_agree_with_unfused() {
    let attrs = Conv2dAttrs {
        strides: [2, 1],
        dilation: [1, 1],
        padding: Padding::Same,
    };
    let x = random([2, 5, 4, 3], 1, -1.0, 1.0);
    let w = random([3, 3, 3, 2], 2, -1.0, 1.0);
    let bias = random([2], 3, -0.5, 0.5);
    let conv = apply_ok(Op::Conv2d(attrs), &[x.clone(), w.clone()]);
    let unfused = apply_ok(
        Op::Unary(UnaryOp::Relu),
        &[apply_ok(Op::Binary(BinaryOp::Add), &[conv, bias.clone()])],
    );
    let fused = apply_ok(
        Op::Fused(FusedOp::Conv2d {
            attrs,
            epilogue: bias_relu(),
        }),
        &[x.clone(), w, bias.clone()],
    );
    assert_eq!(fused, unfused);

    // Depthwise with channel multiplier 2: 3 input channels, 6 output channels.
    let dw = random([3, 3, 3, 2], 5, -1.0, 1.0);
    let dw_bias = random([6], 6, -0.5, 0.5);
    let conv = apply_ok(Op::DepthwiseConv2d(attrs), &[x.clone(), dw.clone()]);
    let unfused = apply_ok(
        Op::Unary(UnaryOp::Relu),
        &[apply_ok(
            Op::Binary(BinaryOp::Add),
            &[conv, dw_bias.clone()],
        )],
    );
    let fused = apply_ok(
        Op::Fused(FusedOp::DepthwiseConv2d {
            attrs,
            epilogue: bias_relu(),
        }),
        &[x.clone(), dw, dw_bias],
    );
    assert_eq!(fused, unfused);

    let p = Pool2dAttrs {
        kind: PoolKind::Avg,
        window: [2, 2],
        strides: [2, 2],
        padding: Padding::Same,
    };
    let pooled = apply_ok(Op::Pool2d(p), std::slice::from_ref(&x));
    let shift = random([3], 4, -0.5, 0.5);
    let unfused = apply_ok(
        Op::Unary(UnaryOp::Relu),
        &[apply_ok(
            Op::Binary(BinaryOp::Add),
            &[pooled, shift.clone()],
        )],
    );
    let fused = apply_ok(
        Op::Fused(FusedOp::Pool2d {
            attrs: p,
            epilogue: bias_relu(),
        }),
        &[x, shift],
    );
    assert_eq!(fused, unfused);
}

#[test]
fn reduce_with_prologue_is_sum_of_squared_differences() {
    // sum over axis 1 of (in0 - in1)^2, in1 broadcast from [2, 1].
    let p = Program {
        instrs: vec![
            Instr::Input(0),
            Instr::Input(1),
            Instr::Binary(BinaryOp::Sub, 0, 1),
            Instr::Unary(UnaryOp::Square, 2),
        ],
    };
    let op = FusedOp::Reduce {
        op: ReduceOp::Sum,
        axes: vec![1],
        keep_dims: true,
        input_shape: Shape::from([2, 3]),
        prologue: p,
    };
    let x = t([2, 3], vec![1.0, 2.0, 3.0, 4.0, 6.0, 8.0]);
    let mean = t([2, 1], vec![2.0, 6.0]);
    assert_close(
        &apply_ok(Op::Fused(op), &[x, mean]),
        &[2, 1],
        &[2.0, 8.0],
        0.0,
    );
}

/// A softmax denominator and an unrelated scalar as one multi-result kernel.
fn multi_graph() -> (ir::Graph, ir::interp::Bindings) {
    use ir::{Loop, LoopResult, MultiKernel};
    let mut g = ir::Graph::new();
    let x = g.input("x", [2, 3]);
    let m = g.input("m", [2, 1]);
    let s = g.input("s", []);
    let rows = Loop {
        domain: Shape::from([2, 3]),
        axes: vec![1],
        body: Program {
            instrs: vec![
                Instr::Input(0),
                Instr::Input(1),
                Instr::Binary(BinaryOp::Sub, 0, 1),
                Instr::Unary(UnaryOp::Exp, 2),
            ],
        },
        results: vec![
            LoopResult::Element(3),
            LoopResult::Reduce {
                op: ReduceOp::Sum,
                reg: 3,
                keep_dims: true,
            },
            LoopResult::Reduce {
                op: ReduceOp::ArgMax,
                reg: 2,
                keep_dims: false,
            },
        ],
    };
    let scalar = Loop {
        domain: Shape::scalar(),
        axes: vec![],
        body: Program {
            instrs: vec![Instr::Input(2), Instr::Unary(UnaryOp::Neg, 0)],
        },
        results: vec![LoopResult::Element(1)],
    };
    let kernel = MultiKernel {
        loops: vec![rows, scalar],
    };
    let multi = g
        .add(Op::Fused(FusedOp::Multi(kernel)), &[x, m, s])
        .unwrap();
    for (index, shape, name) in [
        (0, vec![2, 3], "e"),
        (1, vec![2, 1], "sum"),
        (2, vec![2], "argmax"),
        (3, vec![], "neg"),
    ] {
        let shape = Shape::new(shape);
        let r = g.add(Op::Extract { index, shape }, &[multi]).unwrap();
        g.add_output(name, r).unwrap();
    }
    let bindings = [
        ("x".to_string(), random([2, 3], 7, -2.0, 2.0)),
        ("m".to_string(), t([2, 1], vec![0.5, -1.0])),
        ("s".to_string(), t(Shape::scalar(), vec![4.0])),
    ]
    .into();
    (g, bindings)
}

#[test]
fn a_multi_result_kernel_equals_the_ops_it_stands_for() {
    let (g, bindings) = multi_graph();
    let got = ir::interp::run(&g, &bindings).unwrap().outputs;
    let x = &bindings["x"];
    let e: Vec<f32> = (0..6)
        .map(|i| (x.data[i] - bindings["m"].data[i / 3]).exp())
        .collect();
    assert_close(&got[0].1, &[2, 3], &e, 0.0);
    let sums: Vec<f32> = e.chunks(3).map(|r| r.iter().sum()).collect();
    assert_close(&got[1].1, &[2, 1], &sums, 1e-6);
    let argmax: Vec<f32> = e
        .chunks(3)
        .map(|r| {
            let best = r.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
            r.iter().position(|&v| v == best).unwrap() as f32
        })
        .collect();
    assert_close(&got[2].1, &[2], &argmax, 0.0);
    assert_close(&got[3].1, &[], &[-4.0], 0.0);
}

#[test]
fn a_multi_result_node_holds_nothing_and_an_extract_alone_has_no_value() {
    let (g, bindings) = multi_graph();
    let values = ir::interp::eval(&g, &bindings).unwrap();
    assert_eq!(values[3].shape, Shape::from([0]));
    let extract = Op::Extract {
        index: 0,
        shape: Shape::from([2, 3]),
    };
    let err = ir::interp::eval_op(&extract, &[&values[3]]).unwrap_err();
    assert!(err.to_string().contains("eval_multi"), "{err}");
}

//! Differential tests against the reference interpreter (`ir::interp`), which defines what
//! every op means: every op kind, seeded random elementwise graphs (fused by the real
//! pipeline), and training steps built by autodiff, each run both under the naive memory
//! plan and through `passes::pipeline::optimize` + `passes::memory_plan::plan`.
//!
//! Tolerances: `|got - want| <= REL * |want| + ABS` with REL = 2e-5, ABS = 1e-5 by default
//! (the transcendentals are within 1e-6 relative of `f32` std; contractions sum in a
//! different order than the interpreter's loops); random programs use 1e-4 / 1e-5 because
//! approximation errors compound through a dozen ops.

mod common;

use common::{compare_steps, values};
use ir::interp::Bindings;
use ir::{
    BinaryOp, Conv2dAttrs, Graph, MemoryPlan, NodeId, Op, Padding, Pool2dAttrs, PoolKind, ReduceOp,
    Shape, Tensor, UnaryOp,
};

const REL: f32 = 2e-5;
const ABS: f32 = 1e-5;

/// Random bindings for every input and param of `graph` (values in `[-2, 2)`).
fn bindings(graph: &Graph, seed: u32) -> Bindings {
    graph
        .node_ids()
        .filter_map(|id| match graph.op(id) {
            Op::Input { name, shape } | Op::Param { name, shape } => Some((
                name.clone(),
                Tensor::new(
                    shape.clone(),
                    values(shape.numel(), seed + id.index() as u32, -2.0, 2.0),
                )
                .unwrap(),
            )),
            _ => None,
        })
        .collect()
}

/// Compare under the naive plan, then after the optimization pipeline under the real plan.
fn check(what: &str, graph: &Graph, seed: u32, steps: usize, rel: f32, abs: f32) {
    let b = bindings(graph, seed);
    compare_steps(
        &format!("{what} (naive)"),
        graph,
        &MemoryPlan::naive(graph),
        &b,
        steps,
        rel,
        abs,
    );
    let optimized = passes::pipeline::optimize(graph).unwrap_or_else(|e| panic!("{what}: {e}"));
    let plan = passes::memory_plan::plan(&optimized).unwrap_or_else(|e| panic!("{what}: {e}"));
    compare_steps(
        &format!("{what} (optimized)"),
        &optimized,
        &plan,
        &b,
        steps,
        rel,
        abs,
    );
}

/// A graph with one node of `op` over inputs of `shapes`, its result the output `y`.
fn single(op: Op, shapes: &[Shape]) -> Graph {
    let mut g = Graph::new();
    let ins: Vec<NodeId> = shapes
        .iter()
        .enumerate()
        .map(|(i, s)| g.input(format!("in{i}"), s.clone()))
        .collect();
    let y = g.add(op, &ins).unwrap();
    g.add_output("y", y).unwrap();
    g
}

/// One single-op case: its name, the op and its operands' shapes.
type Case = (String, Op, Vec<Shape>);

/// The shape with dimensions `d`.
fn s(d: &[usize]) -> Shape {
    Shape::new(d.to_vec())
}

/// Every unary and binary op, and select.
fn elementwise_cases() -> Vec<Case> {
    let mut cases: Vec<Case> = vec![];
    for u in UnaryOp::ALL {
        cases.push((u.name().into(), Op::Unary(u), vec![s(&[3, 5])]));
    }
    for b in BinaryOp::ALL {
        cases.push((b.name().into(), Op::Binary(b), vec![s(&[3, 5]), s(&[5])]));
    }
    cases.push((
        "select".into(),
        Op::Select,
        vec![s(&[3, 1]), s(&[3, 5]), s(&[])],
    ));
    cases
}

/// A transposed batched matmul, and every convolution pass, dense and depthwise.
fn contraction_cases() -> Vec<Case> {
    let conv = Conv2dAttrs {
        strides: [2, 1],
        dilation: [1, 2],
        padding: Padding::Same,
    };
    vec![
        (
            "matmul".into(),
            Op::MatMul {
                transpose_a: true,
                transpose_b: false,
            },
            vec![s(&[2, 4, 3]), s(&[2, 4, 5])],
        ),
        (
            "conv2d".into(),
            Op::Conv2d(conv),
            vec![s(&[2, 7, 6, 3]), s(&[3, 2, 3, 4])],
        ),
        (
            "conv2d_backprop_input".into(),
            Op::Conv2dBackpropInput {
                attrs: conv,
                input_shape: s(&[2, 7, 6, 3]),
            },
            vec![s(&[2, 4, 6, 4]), s(&[3, 2, 3, 4])],
        ),
        (
            "conv2d_backprop_filter".into(),
            Op::Conv2dBackpropFilter {
                attrs: conv,
                filter_shape: s(&[3, 2, 3, 4]),
            },
            vec![s(&[2, 7, 6, 3]), s(&[2, 4, 6, 4])],
        ),
        // Depthwise, multiplier 2: 3 input channels, 6 output channels.
        (
            "depthwise_conv2d".into(),
            Op::DepthwiseConv2d(conv),
            vec![s(&[2, 7, 6, 3]), s(&[3, 2, 3, 2])],
        ),
        (
            "depthwise_conv2d_backprop_input".into(),
            Op::DepthwiseConv2dBackpropInput {
                attrs: conv,
                input_shape: s(&[2, 7, 6, 3]),
            },
            vec![s(&[2, 4, 6, 6]), s(&[3, 2, 3, 2])],
        ),
        (
            "depthwise_conv2d_backprop_filter".into(),
            Op::DepthwiseConv2dBackpropFilter {
                attrs: conv,
                filter_shape: s(&[3, 2, 3, 2]),
            },
            vec![s(&[2, 7, 6, 3]), s(&[2, 4, 6, 6])],
        ),
        (
            "depthwise_conv2d multiplier 1 valid".into(),
            Op::DepthwiseConv2d(Conv2dAttrs {
                strides: [1, 1],
                dilation: [1, 1],
                padding: Padding::Valid,
            }),
            vec![s(&[1, 5, 5, 4]), s(&[3, 3, 4, 1])],
        ),
    ]
}

/// Max and average pooling and their gradients.
fn pool_cases() -> Vec<Case> {
    let pool = Pool2dAttrs {
        kind: PoolKind::Max,
        window: [3, 2],
        strides: [2, 2],
        padding: Padding::Same,
    };
    let avg = Pool2dAttrs {
        kind: PoolKind::Avg,
        ..pool
    };
    vec![
        ("max_pool".into(), Op::Pool2d(pool), vec![s(&[2, 7, 6, 3])]),
        ("avg_pool".into(), Op::Pool2d(avg), vec![s(&[2, 7, 6, 3])]),
        (
            "max_pool_grad".into(),
            Op::Pool2dGrad(pool),
            vec![s(&[2, 7, 6, 3]), s(&[2, 4, 3, 3])],
        ),
        (
            "avg_pool_grad".into(),
            Op::Pool2dGrad(avg),
            vec![s(&[2, 7, 6, 3]), s(&[2, 4, 3, 3])],
        ),
    ]
}

/// Reshape, transpose, broadcast, slice, concat and pad, then random numbers.
fn movement_and_random_cases() -> Vec<Case> {
    vec![
        (
            "reshape".into(),
            Op::Reshape(s(&[6, 5])),
            vec![s(&[2, 3, 5])],
        ),
        (
            "transpose".into(),
            Op::Transpose(vec![1, 2, 0]),
            vec![s(&[2, 3, 5])],
        ),
        (
            "broadcast".into(),
            Op::Broadcast(s(&[4, 3, 5])),
            vec![s(&[3, 1])],
        ),
        (
            "stop_gradient".into(),
            Op::StopGradient,
            vec![s(&[2, 3, 5])],
        ),
        (
            "slice".into(),
            Op::Slice {
                starts: vec![1, 0, 2],
                ends: vec![2, 3, 5],
            },
            vec![s(&[2, 3, 5])],
        ),
        (
            "concat".into(),
            Op::Concat { axis: 2 },
            vec![s(&[2, 3, 5]), s(&[2, 3, 1]), s(&[2, 3, 2])],
        ),
        (
            "pad".into(),
            Op::Pad {
                before: vec![0, 2, 1],
                after: vec![1, 0, 3],
                value: 0.5,
            },
            vec![s(&[2, 3, 5])],
        ),
        (
            "random_uniform".into(),
            Op::RandomUniform(s(&[7, 9])),
            vec![s(&[])],
        ),
    ]
}

/// Every folding reduction over several axis sets, and argmax.
fn reduction_cases() -> Vec<Case> {
    let mut cases: Vec<Case> = vec![];
    for op in [ReduceOp::Sum, ReduceOp::Mean, ReduceOp::Max, ReduceOp::Min] {
        for axes in [vec![0], vec![2], vec![0, 2], vec![0, 1, 2]] {
            cases.push((
                format!("reduce.{} {axes:?}", op.name()),
                Op::Reduce {
                    op,
                    axes,
                    keep_dims: true,
                },
                vec![s(&[2, 3, 5])],
            ));
        }
    }
    cases.push((
        "reduce.argmax".into(),
        Op::Reduce {
            op: ReduceOp::ArgMax,
            axes: vec![1],
            keep_dims: false,
        },
        vec![s(&[2, 3, 5])],
    ));
    cases
}

#[test]
fn every_primitive_op_kind_matches_the_interpreter() {
    let cases = [
        elementwise_cases(),
        contraction_cases(),
        pool_cases(),
        movement_and_random_cases(),
        reduction_cases(),
    ]
    .concat();
    for (i, (name, op, shapes)) in cases.into_iter().enumerate() {
        // pow needs a positive base to stay real; log-like ops see negatives and give NaN on
        // both sides.
        let mut g = single(op.clone(), &shapes);
        if matches!(op, Op::Binary(BinaryOp::Pow)) {
            g = Graph::new();
            let a = g.input("in0", [3, 5]);
            let b = g.input("in1", [5]);
            let abs = g.unary(UnaryOp::Abs, a).unwrap();
            let y = g.binary(BinaryOp::Pow, abs, b).unwrap();
            g.add_output("y", y).unwrap();
        }
        check(&name, &g, 100 + i as u32, 1, REL, ABS);
    }
}

/// Depthwise convolution passes over geometries that reach every path of the kernel: stride
/// 2 over odd sizes, dilation, multipliers above 1, same and valid padding, channel counts
/// with full vector blocks and tails, and sizes large enough to be split over the pool.
#[test]
fn depthwise_passes_match_the_interpreter_across_geometries() {
    let attrs = |strides, dilation, padding| Conv2dAttrs {
        strides,
        dilation,
        padding,
    };
    let cases = [
        // (what, attrs, input [n, h, w, c], filter [kh, kw, c, m])
        (
            "stride 2 odd same",
            attrs([2, 2], [1, 1], Padding::Same),
            [2, 9, 11, 70],
            [3, 3, 70, 1],
        ),
        (
            "stride 2 odd valid",
            attrs([2, 2], [1, 1], Padding::Valid),
            [1, 7, 5, 6],
            [3, 3, 6, 1],
        ),
        (
            "dilation 2 same",
            attrs([1, 1], [2, 2], Padding::Same),
            [2, 8, 9, 33],
            [3, 3, 33, 1],
        ),
        (
            "multiplier 3 valid",
            attrs([1, 2], [1, 1], Padding::Valid),
            [2, 6, 7, 5],
            [2, 3, 5, 3],
        ),
        (
            "multiplier 2 big same",
            attrs([1, 1], [1, 1], Padding::Same),
            [2, 10, 12, 40],
            [3, 3, 40, 2],
        ),
        (
            "5x5 stride 1 same",
            attrs([1, 1], [1, 1], Padding::Same),
            [1, 6, 6, 16],
            [5, 5, 16, 1],
        ),
    ];
    for (i, (what, a, x, w)) in cases.into_iter().enumerate() {
        let (xs, ws) = (Shape::from(x), Shape::from(w));
        let y = ir::infer::depthwise_conv2d_shape(&xs, &ws, &a).unwrap();
        let passes = [
            (
                "forward",
                Op::DepthwiseConv2d(a),
                vec![xs.clone(), ws.clone()],
            ),
            (
                "backprop-input",
                Op::DepthwiseConv2dBackpropInput {
                    attrs: a,
                    input_shape: xs.clone(),
                },
                vec![y.clone(), ws.clone()],
            ),
            (
                "backprop-filter",
                Op::DepthwiseConv2dBackpropFilter {
                    attrs: a,
                    filter_shape: ws.clone(),
                },
                vec![xs.clone(), y.clone()],
            ),
        ];
        for (pass, op, shapes) in passes {
            check(
                &format!("depthwise {what} {pass}"),
                &single(op, &shapes),
                300 + i as u32,
                1,
                REL,
                ABS,
            );
        }
    }
}

/// A random graph of primitive elementwise ops (with broadcasting) that fusion merges.
fn random_elementwise_graph(seed: u32) -> Graph {
    let pick = |i: u32, n: usize| (ir::random::uniform(seed, i) * n as f32) as usize % n;
    let mut g = Graph::new();
    let mut nodes = vec![
        g.input("a", [4, 6]),
        g.input("b", [6]),
        g.input("c", [4, 1]),
        g.scalar(0.5),
    ];
    for step in 0..10u32 {
        let (x, y) = (
            nodes[pick(step * 4, nodes.len())],
            nodes[pick(step * 4 + 1, nodes.len())],
        );
        let node = match pick(step * 4 + 2, 3) {
            0 => {
                // keep transcendental inputs tame: tanh first squashes to [-1, 1]
                let u = [
                    UnaryOp::Tanh,
                    UnaryOp::Sigmoid,
                    UnaryOp::Neg,
                    UnaryOp::Abs,
                    UnaryOp::Square,
                    UnaryOp::Relu,
                    UnaryOp::Erf,
                    UnaryOp::Exp,
                ][pick(step * 4 + 3, 8)];
                let t = g.unary(UnaryOp::Tanh, x).unwrap();
                g.unary(u, t).unwrap()
            }
            1 => {
                let b = [
                    BinaryOp::Add,
                    BinaryOp::Sub,
                    BinaryOp::Mul,
                    BinaryOp::Max,
                    BinaryOp::Min,
                    BinaryOp::Gt,
                ][pick(step * 4 + 3, 6)];
                g.binary(b, x, y).unwrap()
            }
            _ => {
                let z = nodes[pick(step * 4 + 3, nodes.len())];
                g.add(Op::Select, &[x, y, z]).unwrap()
            }
        };
        nodes.push(node);
    }
    let last = *nodes.last().unwrap();
    let out = g.binary(BinaryOp::Add, last, nodes[0]).unwrap();
    g.add_output("y", out).unwrap();
    g
}

#[test]
fn random_elementwise_graphs_match_the_interpreter() {
    for seed in 0..30 {
        check(
            &format!("random graph {seed}"),
            &random_elementwise_graph(seed),
            seed,
            1,
            1e-4,
            1e-5,
        );
    }
}

/// Dense + relu + dense + softmax cross-entropy, SGD updates from autodiff.
fn mlp_training_graph() -> Graph {
    let mut g = Graph::new();
    let x = g.input("x", [8, 12]);
    let labels = g.input("labels", [8, 5]);
    let w1 = g.param("w1", [12, 16]);
    let b1 = g.param("b1", [16]);
    let w2 = g.param("w2", [16, 5]);
    let b2 = g.param("b2", [5]);
    let z1 = g.matmul(x, w1, false, false).unwrap();
    let z1 = g.binary(BinaryOp::Add, z1, b1).unwrap();
    let h = g.unary(UnaryOp::Relu, z1).unwrap();
    let z2 = g.matmul(h, w2, false, false).unwrap();
    let logits = g.binary(BinaryOp::Add, z2, b2).unwrap();
    // log-softmax: logits - max - log(sum(exp(logits - max)))
    let m = g.reduce(ReduceOp::Max, logits, &[1], true).unwrap();
    let shifted = g.binary(BinaryOp::Sub, logits, m).unwrap();
    let e = g.unary(UnaryOp::Exp, shifted).unwrap();
    let s = g.reduce(ReduceOp::Sum, e, &[1], true).unwrap();
    let ls = g.unary(UnaryOp::Log, s).unwrap();
    let logp = g.binary(BinaryOp::Sub, shifted, ls).unwrap();
    let picked = g.binary(BinaryOp::Mul, logp, labels).unwrap();
    let total = g.reduce(ReduceOp::Sum, picked, &[0, 1], false).unwrap();
    let scale = g.scalar(-1.0 / 8.0);
    let loss = g.binary(BinaryOp::Mul, total, scale).unwrap();
    let params = [w1, b1, w2, b2];
    let (mut g, grads) = passes::autodiff::grad(&g, loss, &params).unwrap();
    let lr = g.scalar(0.05);
    for (p, d) in params.into_iter().zip(grads) {
        let step = g.binary(BinaryOp::Mul, d, lr).unwrap();
        let new = g.binary(BinaryOp::Sub, p, step).unwrap();
        g.add_update(p, new).unwrap();
    }
    let argmax = g.reduce(ReduceOp::ArgMax, logits, &[1], false).unwrap();
    g.add_output("loss", loss).unwrap();
    g.add_output("predicted", argmax).unwrap();
    g
}

#[test]
fn autodiff_mlp_training_steps_match_the_interpreter() {
    check("mlp training", &mlp_training_graph(), 7, 3, 1e-4, 1e-5);
}

/// Conv + bias + relu + max pool + dense, SGD updates from autodiff.
fn cnn_training_graph() -> Graph {
    let (g, loss, params) = common::cnn::cnn_loss();
    let (mut g, grads) = passes::autodiff::grad(&g, loss, &params).unwrap();
    let lr = g.scalar(0.01);
    for (p, d) in params.into_iter().zip(grads) {
        let step = g.binary(BinaryOp::Mul, d, lr).unwrap();
        let new = g.binary(BinaryOp::Sub, p, step).unwrap();
        g.add_update(p, new).unwrap();
    }
    g.add_output("loss", loss).unwrap();
    g
}

#[test]
fn autodiff_cnn_training_steps_match_the_interpreter() {
    check("cnn training", &cnn_training_graph(), 11, 3, 1e-4, 1e-5);
}

/// A separable conv block: depthwise (multiplier 2) + bias + relu6-like clamp, then a
/// pointwise 1x1 conv + bias + tanh.
fn separable_block_graph() -> Graph {
    let mut g = Graph::new();
    let x = g.input("x", [2, 9, 7, 5]);
    let dw = g.param("dw", [3, 3, 5, 2]);
    let db = g.param("db", [10]);
    let pw = g.param("pw", [1, 1, 10, 4]);
    let pb = g.param("pb", [4]);
    let attrs = Conv2dAttrs {
        strides: [2, 1],
        dilation: [1, 1],
        padding: Padding::Same,
    };
    let d = g.add(Op::DepthwiseConv2d(attrs), &[x, dw]).unwrap();
    let d = g.binary(BinaryOp::Add, d, db).unwrap();
    let d = g.unary(UnaryOp::Relu, d).unwrap();
    let six = g.scalar(6.0);
    let d = g.binary(BinaryOp::Min, d, six).unwrap();
    let pointwise = Conv2dAttrs {
        strides: [1, 1],
        dilation: [1, 1],
        padding: Padding::Valid,
    };
    let p = g.add(Op::Conv2d(pointwise), &[d, pw]).unwrap();
    let p = g.binary(BinaryOp::Add, p, pb).unwrap();
    let y = g.unary(UnaryOp::Tanh, p).unwrap();
    g.add_output("y", y).unwrap();
    g
}

#[test]
fn separable_conv_block_fuses_its_depthwise_epilogue_and_matches_the_interpreter() {
    let g = separable_block_graph();
    let optimized = passes::pipeline::optimize(&g).unwrap();
    let fused: Vec<&str> = optimized
        .node_ids()
        .filter_map(|id| {
            if let Op::Fused(f) = optimized.op(id) {
                Some(f.name())
            } else {
                None
            }
        })
        .collect();
    assert_eq!(
        fused,
        ["fused.depthwise_conv2d", "fused.conv2d"],
        "{}",
        ir::text::print(&optimized)
    );
    check("separable conv block", &g, 13, 1, 1e-4, 1e-5);
}

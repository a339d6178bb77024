//! The catalogue of small test graphs: every node kind the GPU backend lowers, one family per
//! function (elementwise, reductions, matmuls, convolutions and their backprops, pooling,
//! movement, random, gather and scatter-add), plus graphs whose optimised form holds every
//! fused op kind.

use ir::{
    BinaryOp, Conv2dAttrs, Graph, NodeId, Op, Padding, Pool2dAttrs, PoolKind, ReduceOp, Shape,
    UnaryOp,
};

use super::{CONTRACTION_TOL, ELEMENTWISE_TOL};

/// One test graph: bindings are uniform in `[lo, hi)`; results must agree within `tol`
/// relative (see [`super::close`]).
pub struct Case {
    pub name: String,
    pub graph: Graph,
    pub lo: f32,
    pub hi: f32,
    pub tol: f32,
}

fn case(name: impl Into<String>, graph: Graph, lo: f32, hi: f32, tol: f32) -> Case {
    Case {
        name: name.into(),
        graph,
        lo,
        hi,
        tol,
    }
}

/// A graph with one op on fresh inputs of `shapes`, its result the output `y`.
fn single(op: Op, shapes: &[&[usize]]) -> Graph {
    let mut g = Graph::new();
    let args: Vec<NodeId> = shapes
        .iter()
        .enumerate()
        .map(|(k, s)| g.input(format!("x{k}"), Shape::from(*s)))
        .collect();
    let y = g.add(op, &args).expect("catalogue graphs are well formed");
    g.add_output("y", y).unwrap();
    g
}

/// `graph` after the optimising pipeline (so it holds fused ops).
pub fn optimized(graph: &Graph) -> Graph {
    passes::pipeline::optimize(graph).expect("catalogue graphs optimise")
}

fn conv(strides: [usize; 2], dilation: [usize; 2], padding: Padding) -> Conv2dAttrs {
    Conv2dAttrs {
        strides,
        dilation,
        padding,
    }
}

/// Every node kind, small.
pub fn catalogue() -> Vec<Case> {
    let mut cases = elementwise_cases();
    cases.extend(reduction_cases());
    cases.extend(matmul_cases());
    cases.extend(convolution_cases());
    cases.extend(pooling_cases());
    cases.extend(movement_cases());
    cases.push(random_case());
    cases.push(gather_case());
    cases.extend(fused_cases());
    cases
}

/// Every unary and binary op, comparisons on equal values, and select.
fn elementwise_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for op in UnaryOp::ALL {
        let positive = matches!(
            op,
            UnaryOp::Log | UnaryOp::Sqrt | UnaryOp::Rsqrt | UnaryOp::Recip
        );
        let lo = if positive { 0.1 } else { -3.0 };
        cases.push(case(
            format!("unary_{}", op.name()),
            single(Op::Unary(op), &[&[3, 5]]),
            lo,
            3.0,
            ELEMENTWISE_TOL,
        ));
    }
    for op in BinaryOp::ALL {
        let (lo, hi) = if op == BinaryOp::Pow {
            (0.1, 2.0)
        } else {
            (-2.0, 2.0)
        };
        cases.push(case(
            format!("binary_{}", op.name()),
            single(Op::Binary(op), &[&[3, 4], &[4]]),
            lo,
            hi,
            ELEMENTWISE_TOL,
        ));
    }
    cases.push(compare_equal_values_case());
    cases.push(select_case());
    cases
}

/// Comparisons on equal values: the second operand a broadcast slice of the first.
fn compare_equal_values_case() -> Case {
    let mut g = Graph::new();
    let x = g.input("x", [4, 3]);
    let row = g
        .add(
            Op::Slice {
                starts: vec![1, 0],
                ends: vec![2, 3],
            },
            &[x],
        )
        .unwrap();
    let eq = g.binary(BinaryOp::Eq, x, row).unwrap();
    let ge = g.binary(BinaryOp::Ge, x, row).unwrap();
    g.add_output("eq", eq).unwrap();
    g.add_output("ge", ge).unwrap();
    case("compare_equal_values", g, -1.0, 1.0, 0.0)
}

/// Select with a broadcast 0/1 condition and a broadcast second branch.
fn select_case() -> Case {
    let mut g = Graph::new();
    let c = g.input("c", [4, 1]);
    let c = g.unary(UnaryOp::Floor, c).unwrap();
    let a = g.input("a", [4, 3]);
    let b = g.input("b", [3]);
    let y = g.add(Op::Select, &[c, a, b]).unwrap();
    g.add_output("y", y).unwrap();
    case("select", g, -1.0, 1.5, 0.0)
}

/// Every reduce op over inner, outer, middle and all axes, with and without kept dims.
fn reduction_cases() -> Vec<Case> {
    [
        ("sum_last", ReduceOp::Sum, vec![2], false),
        ("sum_outer", ReduceOp::Sum, vec![0, 2], true),
        ("mean_all", ReduceOp::Mean, vec![0, 1, 2], false),
        ("max_middle", ReduceOp::Max, vec![1], false),
        ("min_first", ReduceOp::Min, vec![0], true),
        ("argmax_last", ReduceOp::ArgMax, vec![2], false),
        ("argmax_middle", ReduceOp::ArgMax, vec![1], true),
    ]
    .into_iter()
    .map(|(name, op, axes, keep)| {
        case(
            format!("reduce_{name}"),
            single(
                Op::Reduce {
                    op,
                    axes,
                    keep_dims: keep,
                },
                &[&[3, 70, 5]],
            ),
            -2.0,
            2.0,
            CONTRACTION_TOL,
        )
    })
    .collect()
}

/// Batched matmuls with every transposition, and one larger than a tile.
fn matmul_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
        let a: &[usize] = if ta { &[2, 7, 5] } else { &[2, 5, 7] };
        let b: &[usize] = if tb { &[2, 6, 7] } else { &[2, 7, 6] };
        cases.push(case(
            format!("matmul_{ta}_{tb}"),
            single(
                Op::MatMul {
                    transpose_a: ta,
                    transpose_b: tb,
                },
                &[a, b],
            ),
            -1.0,
            1.0,
            CONTRACTION_TOL,
        ));
    }
    cases.push(case(
        "matmul_large",
        single(
            Op::MatMul {
                transpose_a: false,
                transpose_b: false,
            },
            &[&[67, 129], &[129, 35]],
        ),
        -1.0,
        1.0,
        CONTRACTION_TOL,
    ));
    cases
}

/// Conv2d, depthwise conv2d and the four backprops, each under several strides, dilations
/// and paddings.
fn convolution_cases() -> Vec<Case> {
    let convs = [
        ("same", conv([1, 1], [1, 1], Padding::Same), [3, 3]),
        (
            "valid_stride2",
            conv([2, 2], [1, 1], Padding::Valid),
            [3, 3],
        ),
        ("same_stride2", conv([2, 2], [1, 1], Padding::Same), [2, 2]),
        (
            "dilated_explicit",
            conv([1, 2], [2, 1], Padding::Explicit([1, 2, 0, 1])),
            [2, 3],
        ),
    ];
    let mut cases = Vec::new();
    for (name, attrs, kernel) in convs {
        let [kh, kw] = kernel;
        let x: &[usize] = &[2, 7, 6, 3];
        cases.push(case(
            format!("conv2d_{name}"),
            single(Op::Conv2d(attrs), &[x, &[kh, kw, 3, 4]]),
            -1.0,
            1.0,
            CONTRACTION_TOL,
        ));
        cases.push(case(
            format!("depthwise_{name}"),
            single(Op::DepthwiseConv2d(attrs), &[x, &[kh, kw, 3, 2]]),
            -1.0,
            1.0,
            CONTRACTION_TOL,
        ));
        cases.extend(convolution_backprop_cases(name, attrs, kernel));
    }
    cases
}

/// The input and filter backprops of conv2d and depthwise conv2d on a `[2, 7, 6, 3]` input
/// with a `kernel` window.
fn convolution_backprop_cases(name: &str, attrs: Conv2dAttrs, kernel: [usize; 2]) -> Vec<Case> {
    let [kh, kw] = kernel;
    let x: &[usize] = &[2, 7, 6, 3];
    let y = ir::infer::infer_shape(
        &Op::Conv2d(attrs),
        &[&Shape::from([2, 7, 6, 3]), &Shape::from([kh, kw, 3, 4])],
    )
    .unwrap();
    let dy = ir::infer::infer_shape(
        &Op::DepthwiseConv2d(attrs),
        &[&Shape::from([2, 7, 6, 3]), &Shape::from([kh, kw, 3, 2])],
    )
    .unwrap();
    let (input_shape, filter) = (Shape::from([2, 7, 6, 3]), Shape::from([kh, kw, 3, 4]));
    let dfilter = Shape::from([kh, kw, 3, 2]);
    let graphs = [
        (
            format!("conv2d_backprop_input_{name}"),
            single(
                Op::Conv2dBackpropInput {
                    attrs,
                    input_shape: input_shape.clone(),
                },
                &[y.dims(), filter.dims()],
            ),
        ),
        (
            format!("conv2d_backprop_filter_{name}"),
            single(
                Op::Conv2dBackpropFilter {
                    attrs,
                    filter_shape: filter.clone(),
                },
                &[x, y.dims()],
            ),
        ),
        (
            format!("depthwise_backprop_input_{name}"),
            single(
                Op::DepthwiseConv2dBackpropInput {
                    attrs,
                    input_shape: input_shape.clone(),
                },
                &[dy.dims(), dfilter.dims()],
            ),
        ),
        (
            format!("depthwise_backprop_filter_{name}"),
            single(
                Op::DepthwiseConv2dBackpropFilter {
                    attrs,
                    filter_shape: dfilter,
                },
                &[x, dy.dims()],
            ),
        ),
    ];
    graphs
        .into_iter()
        .map(|(name, graph)| case(name, graph, -1.0, 1.0, CONTRACTION_TOL))
        .collect()
}

/// Max and average pooling and their gradients, with disjoint, padded and overlapping
/// windows.
fn pooling_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for kind in [PoolKind::Max, PoolKind::Avg] {
        for (name, window, strides, padding) in [
            ("2x2", [2, 2], [2, 2], Padding::Valid),
            ("3x3_same", [3, 3], [2, 2], Padding::Same),
            ("overlap", [3, 2], [1, 1], Padding::Explicit([1, 1, 0, 1])),
        ] {
            let attrs = Pool2dAttrs {
                kind,
                window,
                strides,
                padding,
            };
            let k = if kind == PoolKind::Max { "max" } else { "avg" };
            cases.push(case(
                format!("pool_{k}_{name}"),
                single(Op::Pool2d(attrs), &[&[2, 7, 6, 3]]),
                -1.0,
                1.0,
                CONTRACTION_TOL,
            ));
            let y =
                ir::infer::infer_shape(&Op::Pool2d(attrs), &[&Shape::from([2, 7, 6, 3])]).unwrap();
            cases.push(case(
                format!("pool_grad_{k}_{name}"),
                single(Op::Pool2dGrad(attrs), &[&[2, 7, 6, 3], y.dims()]),
                -1.0,
                1.0,
                CONTRACTION_TOL,
            ));
        }
    }
    cases
}

/// Reshape, transpose, broadcast, slice, concat and pad: exact results.
fn movement_cases() -> Vec<Case> {
    let graphs = [
        (
            "reshape",
            single(Op::Reshape(Shape::from([6, 4])), &[&[2, 3, 4]]),
        ),
        (
            "transpose",
            single(Op::Transpose(vec![2, 0, 1]), &[&[2, 3, 4]]),
        ),
        (
            "broadcast",
            single(Op::Broadcast(Shape::from([2, 3, 4])), &[&[3, 1]]),
        ),
        ("stop_gradient", single(Op::StopGradient, &[&[2, 3, 4]])),
        (
            "slice",
            single(
                Op::Slice {
                    starts: vec![1, 0, 2],
                    ends: vec![2, 3, 4],
                },
                &[&[2, 3, 4]],
            ),
        ),
        (
            "concat",
            single(
                Op::Concat { axis: 1 },
                &[&[2, 3, 4], &[2, 1, 4], &[2, 2, 4]],
            ),
        ),
        (
            "pad",
            single(
                Op::Pad {
                    before: vec![1, 0, 2],
                    after: vec![0, 2, 1],
                    value: -7.5,
                },
                &[&[2, 3, 4]],
            ),
        ),
    ];
    graphs
        .into_iter()
        .map(|(name, graph)| case(name, graph, -1.0, 1.0, 0.0))
        .collect()
}

/// Uniform random numbers from a seed input: bit-exact.
fn random_case() -> Case {
    let mut g = Graph::new();
    let seed = g.input("seed", Shape::scalar());
    let r = g
        .add(Op::RandomUniform(Shape::from([5, 40])), &[seed])
        .unwrap();
    g.add_output("y", r).unwrap();
    case("random_uniform", g, 3.0, 900.0, 0.0)
}

/// `gather` of a `[5, 4]` table by ids computed in the graph (`floor(5 x)` for `x` in
/// `[-0.1, 1.1)`: valid ids, repeated ones, and invalid ones below 0 and at 5 that read
/// zeros), and the `scatter_add` of the rows back (exact: sums in id order).
fn gather_case() -> Case {
    let mut g = Graph::new();
    let table = g.input("table", Shape::from([5, 4]));
    let x = g.input("x", Shape::from([3, 4]));
    let five = g.scalar(5.0);
    let scaled = g.binary(BinaryOp::Mul, x, five).unwrap();
    let ids = g.unary(UnaryOp::Floor, scaled).unwrap();
    let rows = g.add(Op::Gather, &[table, ids]).unwrap();
    let back = g.add(Op::ScatterAdd { rows: 5 }, &[ids, rows]).unwrap();
    g.add_output("rows", rows).unwrap();
    g.add_output("back", back).unwrap();
    case("gather_scatter_add", g, -0.1, 1.1, 0.0)
}

/// Graphs whose optimised form holds every fused op kind.
fn fused_cases() -> Vec<Case> {
    [
        ("fused_dense", dense_graph()),
        ("fused_conv_pool", conv_pool_graph()),
        ("fused_separable_conv", separable_conv_graph()),
        ("fused_elementwise", elementwise_graph()),
        ("fused_reduce", reduce_graph()),
        ("fused_multi", elementwise_reduce_graph()),
    ]
    .into_iter()
    .map(|(name, graph)| case(name, optimized(&graph), -1.0, 1.0, CONTRACTION_TOL))
    .collect()
}

/// Dense layer: fused matmul with a bias + relu epilogue.
fn dense_graph() -> Graph {
    let mut g = Graph::new();
    let x = g.input("x", [9, 13]);
    let w = g.param("w", [13, 10]);
    let b = g.param("b", [10]);
    let z = g.matmul(x, w, false, false).unwrap();
    let z = g.binary(BinaryOp::Add, z, b).unwrap();
    let y = g.unary(UnaryOp::Relu, z).unwrap();
    g.add_output("y", y).unwrap();
    g
}

/// Conv + bias + relu, then max pool + scale: fused conv2d and fused pool2d.
fn conv_pool_graph() -> Graph {
    let mut g = Graph::new();
    let x = g.input("x", [2, 8, 8, 3]);
    let w = g.param("w", [3, 3, 3, 4]);
    let b = g.param("b", [4]);
    let z = g
        .add(Op::Conv2d(conv([1, 1], [1, 1], Padding::Same)), &[x, w])
        .unwrap();
    let z = g.binary(BinaryOp::Add, z, b).unwrap();
    let z = g.unary(UnaryOp::Relu, z).unwrap();
    let p = g
        .add(
            Op::Pool2d(Pool2dAttrs {
                kind: PoolKind::Max,
                window: [2, 2],
                strides: [2, 2],
                padding: Padding::Valid,
            }),
            &[z],
        )
        .unwrap();
    let s = g.input("s", [4]);
    let y = g.binary(BinaryOp::Mul, p, s).unwrap();
    g.add_output("y", y).unwrap();
    g
}

/// Separable conv: depthwise (multiplier 2) + bias + relu, then pointwise conv + bias:
/// fused depthwise_conv2d and fused conv2d.
fn separable_conv_graph() -> Graph {
    let mut g = Graph::new();
    let x = g.input("x", [2, 7, 6, 3]);
    let dw = g.param("dw", [3, 3, 3, 2]);
    let db = g.param("db", [6]);
    let pw = g.param("pw", [1, 1, 6, 4]);
    let pb = g.param("pb", [4]);
    let z = g
        .add(
            Op::DepthwiseConv2d(conv([2, 1], [1, 1], Padding::Same)),
            &[x, dw],
        )
        .unwrap();
    let z = g.binary(BinaryOp::Add, z, db).unwrap();
    let z = g.unary(UnaryOp::Relu, z).unwrap();
    let z = g
        .add(Op::Conv2d(conv([1, 1], [1, 1], Padding::Valid)), &[z, pw])
        .unwrap();
    let y = g.binary(BinaryOp::Add, z, pb).unwrap();
    g.add_output("y", y).unwrap();
    g
}

/// An elementwise chain alone: one fused elementwise kernel.
fn elementwise_graph() -> Graph {
    let mut g = Graph::new();
    let a = g.input("a", [6, 11]);
    let t = g.input("t", [11]);
    let e = g.unary(UnaryOp::Exp, a).unwrap();
    let th = g.unary(UnaryOp::Tanh, t).unwrap();
    let mix = g.binary(BinaryOp::Mul, e, th).unwrap();
    g.add_output("mix", mix).unwrap();
    g
}

/// A reduction with a prologue alone: a mean squared error, one fused reduction.
fn reduce_graph() -> Graph {
    let mut g = Graph::new();
    let a = g.input("a", [6, 11]);
    let t = g.input("t", [6, 11]);
    let d = g.binary(BinaryOp::Sub, a, t).unwrap();
    let sq = g.unary(UnaryOp::Square, d).unwrap();
    let loss = g.reduce(ReduceOp::Mean, sq, &[0, 1], false).unwrap();
    g.add_output("loss", loss).unwrap();
    g
}

/// An elementwise chain beside a reduction with a prologue over the same inputs (a mean
/// squared error): siblings over one domain, one multi-result kernel.
fn elementwise_reduce_graph() -> Graph {
    let mut g = Graph::new();
    let a = g.input("a", [6, 11]);
    let t = g.input("t", [6, 11]);
    let d = g.binary(BinaryOp::Sub, a, t).unwrap();
    let sq = g.unary(UnaryOp::Square, d).unwrap();
    let loss = g.reduce(ReduceOp::Mean, sq, &[0, 1], false).unwrap();
    let e = g.unary(UnaryOp::Exp, a).unwrap();
    let th = g.unary(UnaryOp::Tanh, t).unwrap();
    let mix = g.binary(BinaryOp::Mul, e, th).unwrap();
    let half = g.scalar(0.5);
    let mix = g.binary(BinaryOp::Add, mix, half).unwrap();
    g.add_output("loss", loss).unwrap();
    g.add_output("mix", mix).unwrap();
    g
}

/// The fused op kinds (text names) `graph` holds, sorted, each once.
pub fn fused_kinds(graph: &Graph) -> Vec<&'static str> {
    let mut kinds: Vec<&'static str> = graph
        .node_ids()
        .filter_map(|id| {
            if let Op::Fused(f) = graph.op(id) {
                Some(f.name())
            } else {
                None
            }
        })
        .collect();
    kinds.sort();
    kinds.dedup();
    kinds
}

//! Unit tests of the fusion rules, on graphs built through the `Graph` API.

use ir::{
    BinaryOp, Conv2dAttrs, FusedOp, Graph, Instr, NodeId, Op, Padding, Pool2dAttrs, PoolKind,
    ReduceOp, Shape, Tensor, UnaryOp,
};

use super::{fuse, fuse_nodes};

/// Fuse `g`, check the result against `g` on the reference interpreter (random bindings in
/// `[-2, 2)`, relative tolerance 1e-6: fusion runs the same scalar ops in the same order),
/// and return it.
fn fuse_checked(g: &Graph) -> Graph {
    same_values(g, fuse(g).unwrap())
}

/// [`fuse_checked`] with the node rules only (no kernel merging).
fn nodes_checked(g: &Graph) -> Graph {
    same_values(g, fuse_nodes(g).unwrap())
}

/// `out`, after checking that it computes what `g` does (see [`fuse_checked`]).
fn same_values(g: &Graph, out: Graph) -> Graph {
    ir::verify::verify(&out).unwrap();
    let mut bindings = ir::interp::Bindings::new();
    for (k, id) in g.node_ids().enumerate() {
        if let Op::Input { name, shape } | Op::Param { name, shape } = g.op(id) {
            let data = (0..shape.numel() as u32)
                .map(|i| 4.0 * ir::random::uniform(k as u32, i) - 2.0)
                .collect();
            bindings.insert(
                name.clone(),
                Tensor {
                    shape: shape.clone(),
                    data,
                },
            );
        }
    }
    let want = ir::interp::run(g, &bindings).unwrap();
    let got = ir::interp::run(&out, &bindings).unwrap();
    let pairs = want
        .outputs
        .iter()
        .chain(&want.updates)
        .zip(got.outputs.iter().chain(&got.updates));
    for ((name, w), (_, v)) in pairs {
        assert_eq!(w.shape, v.shape, "{name}");
        for (a, b) in w.data.iter().zip(&v.data) {
            assert!(
                (a.is_nan() && b.is_nan()) || (a - b).abs() <= 1e-6 * a.abs().max(b.abs()).max(1.0),
                "{name}: {a} vs {b}"
            );
        }
    }
    out
}

/// The fused ops of `g`, in order.
fn fused_ops(g: &Graph) -> Vec<&FusedOp> {
    g.node_ids()
        .filter_map(|n| match g.op(n) {
            Op::Fused(f) => Some(f),
            _ => None,
        })
        .collect()
}

/// How many nodes of `g` are primitive elementwise ops.
fn primitive_elementwise(g: &Graph) -> usize {
    g.node_ids()
        .filter(|&n| super::elementwise::is_elementwise(g.op(n)))
        .count()
}

fn operand_names(g: &Graph, id: NodeId) -> Vec<String> {
    g.operands(id)
        .into_iter()
        .map(|o| match g.op(o) {
            Op::Input { name, .. } | Op::Param { name, .. } => name.clone(),
            other => ir::infer::op_name(other),
        })
        .collect()
}

#[test]
fn dense_layer_becomes_one_matmul_with_bias_and_relu_epilogue() {
    let mut g = Graph::new();
    let x = g.input("x", [4, 3]);
    let w = g.param("w", [3, 5]);
    let b = g.param("b", [5]);
    let mm = g.matmul(x, w, false, false).unwrap();
    let biased = g.binary(BinaryOp::Add, mm, b).unwrap();
    let y = g.unary(UnaryOp::Relu, biased).unwrap();
    g.add_output("y", y).unwrap();

    let out = fuse_checked(&g);
    let y = out.output("y").unwrap();
    let Op::Fused(FusedOp::MatMul {
        transpose_a: false,
        transpose_b: false,
        epilogue,
    }) = out.op(y)
    else {
        panic!("not a fused matmul: {:?}", out.op(y))
    };
    assert_eq!(
        epilogue.instrs,
        [
            Instr::Input(0),
            Instr::Input(1),
            Instr::Binary(BinaryOp::Add, 0, 1),
            Instr::Unary(UnaryOp::Relu, 2)
        ]
    );
    assert_eq!(operand_names(&out, y), ["x", "w", "b"]);
    assert_eq!(primitive_elementwise(&out), 0);
    assert!(
        out.node_ids()
            .all(|n| !matches!(out.op(n), Op::MatMul { .. }))
    );
}

#[test]
fn matmul_needed_elsewhere_is_not_fused_or_duplicated() {
    let mut g = Graph::new();
    let x = g.input("x", [2, 2]);
    let mm = g.matmul(x, x, false, true).unwrap();
    let y = g.unary(UnaryOp::Tanh, mm).unwrap();
    g.add_output("logits", mm).unwrap();
    g.add_output("y", y).unwrap();
    let out = fuse_checked(&g);
    assert!(fused_ops(&out).is_empty());
    assert_eq!(out.len(), g.len());
}

#[test]
fn elementwise_diamond_is_one_kernel_with_shared_registers() {
    let mut g = Graph::new();
    let x = g.input("x", [8]);
    let y = g.input("y", [8]);
    let a = g.unary(UnaryOp::Exp, x).unwrap();
    let b = g.binary(BinaryOp::Mul, a, y).unwrap();
    let c = g.binary(BinaryOp::Add, a, b).unwrap();
    g.add_output("c", c).unwrap();
    let out = fuse_checked(&g);
    let c = out.output("c").unwrap();
    let Op::Fused(FusedOp::Elementwise(p)) = out.op(c) else {
        panic!("{:?}", out.op(c))
    };
    assert_eq!(
        p.instrs,
        [
            Instr::Input(0),
            Instr::Unary(UnaryOp::Exp, 0),
            Instr::Input(1),
            Instr::Binary(BinaryOp::Mul, 1, 2),
            Instr::Binary(BinaryOp::Add, 1, 3)
        ]
    );
    assert_eq!(operand_names(&out, c), ["x", "y"]);
}

#[test]
fn value_used_by_two_kernels_is_materialized_once() {
    let mut g = Graph::new();
    let x = g.input("x", [8]);
    let shared = g.unary(UnaryOp::Exp, x).unwrap();
    let s1 = g.unary(UnaryOp::Log, shared).unwrap();
    let r1 = g.unary(UnaryOp::Neg, s1).unwrap();
    let mm_in = g.reshape(shared, [2, 4]).unwrap();
    let r2 = g.unary(UnaryOp::Sqrt, mm_in).unwrap();
    let r3 = g.unary(UnaryOp::Abs, r2).unwrap();
    g.add_output("r1", r1).unwrap();
    g.add_output("r3", r3).unwrap();
    let out = nodes_checked(&g);
    // exp stays primitive (two consumers); log+neg and sqrt+abs become kernels.
    assert_eq!(primitive_elementwise(&out), 1);
    assert_eq!(fused_ops(&out).len(), 2);
    // Merged, exp is written by the log+neg kernel as a second result, read by sqrt+abs.
    let out = fuse_checked(&g);
    assert_eq!(primitive_elementwise(&out), 0);
    let names: Vec<&str> = fused_ops(&out).iter().map(|f| f.name()).collect();
    assert_eq!(names, ["fused.multi", "fused.elementwise"]);
}

#[test]
fn a_member_a_broadcast_would_recompute_stays_outside() {
    let mut g = Graph::new();
    let x = g.input("x", [8]);
    let y = g.input("y", [100, 8]);
    let e = g.unary(UnaryOp::Exp, x).unwrap();
    let s = g.binary(BinaryOp::Add, e, y).unwrap();
    let r = g.unary(UnaryOp::Relu, s).unwrap();
    g.add_output("r", r).unwrap();
    let out = fuse_checked(&g);
    let r = out.output("r").unwrap();
    let Op::Fused(FusedOp::Elementwise(p)) = out.op(r) else {
        panic!("{:?}", out.op(r))
    };
    assert_eq!(p.instrs.len(), 4, "add + relu only: {p:?}");
    assert_eq!(operand_names(&out, r), ["exp", "y"]);
}

#[test]
fn scalar_constants_are_inlined_unless_they_would_change_the_rank() {
    let mut g = Graph::new();
    let x = g.input("x", [3]);
    let half = g.scalar(0.5);
    let one_one = g.constant(Tensor::new([1, 1], vec![2.0]).unwrap());
    let a = g.binary(BinaryOp::Mul, x, half).unwrap();
    let b = g.unary(UnaryOp::Tanh, a).unwrap();
    g.add_output("b", b).unwrap();
    let c = g.binary(BinaryOp::Mul, x, one_one).unwrap();
    let c2 = g.binary(BinaryOp::Add, c, half).unwrap();
    let d = g.unary(UnaryOp::Exp, c2).unwrap();
    g.add_output("d", d).unwrap();
    let out = nodes_checked(&g);
    let b = out.output("b").unwrap();
    let Op::Fused(FusedOp::Elementwise(p)) = out.op(b) else {
        panic!()
    };
    assert!(p.instrs.contains(&Instr::Const(0.5)));
    assert_eq!(out.operands(b).len(), 1);
    let d = out.output("d").unwrap();
    assert_eq!(out.shape(d), &Shape::from([1, 3]));
    assert_eq!(
        out.operands(d).len(),
        2,
        "the [1, 1] constant stays an operand, x is the other"
    );
    let Op::Fused(FusedOp::Elementwise(p)) = out.op(d) else {
        panic!()
    };
    assert!(
        p.instrs.contains(&Instr::Const(0.5)),
        "the rank-0 constant is still inlined"
    );
}

#[test]
fn variance_prologue_fuses_into_the_reduction() {
    let mut g = Graph::new();
    let x = g.input("x", [4, 6]);
    let mean = g.reduce(ReduceOp::Mean, x, &[1], true).unwrap();
    let centered = g.binary(BinaryOp::Sub, x, mean).unwrap();
    let sq = g.unary(UnaryOp::Square, centered).unwrap();
    let var = g.reduce(ReduceOp::Mean, sq, &[1], false).unwrap();
    g.add_output("var", var).unwrap();
    let out = fuse_checked(&g);
    let var = out.output("var").unwrap();
    let Op::Fused(FusedOp::Reduce {
        op: ReduceOp::Mean,
        axes,
        keep_dims: false,
        input_shape,
        prologue,
    }) = out.op(var)
    else {
        panic!("{:?}", out.op(var))
    };
    assert_eq!(
        (axes.as_slice(), input_shape),
        (&[1][..], &Shape::from([4, 6]))
    );
    assert_eq!(prologue.instrs.len(), 4);
    assert_eq!(operand_names(&out, var), ["x", "reduce.mean"]);
}

#[test]
fn conv_and_pool_take_epilogues() {
    let mut g = Graph::new();
    let x = g.input("x", [1, 6, 6, 2]);
    let w = g.param("w", [3, 3, 2, 4]);
    let b = g.param("b", [4]);
    let conv_attrs = Conv2dAttrs {
        strides: [1, 1],
        dilation: [1, 1],
        padding: Padding::Same,
    };
    let conv = g.add(Op::Conv2d(conv_attrs), &[x, w]).unwrap();
    let biased = g.binary(BinaryOp::Add, conv, b).unwrap();
    let act = g.unary(UnaryOp::Relu, biased).unwrap();
    let pool_attrs = Pool2dAttrs {
        kind: PoolKind::Avg,
        window: [2, 2],
        strides: [2, 2],
        padding: Padding::Valid,
    };
    let pool = g.add(Op::Pool2d(pool_attrs), &[act]).unwrap();
    let scale = g.scalar(3.0);
    let y = g.binary(BinaryOp::Mul, pool, scale).unwrap();
    g.add_output("y", y).unwrap();
    let out = fuse_checked(&g);
    let y = out.output("y").unwrap();
    let Op::Fused(FusedOp::Pool2d { epilogue, .. }) = out.op(y) else {
        panic!("{:?}", out.op(y))
    };
    assert_eq!(
        epilogue.instrs,
        [
            Instr::Input(0),
            Instr::Const(3.0),
            Instr::Binary(BinaryOp::Mul, 0, 1)
        ]
    );
    let conv = out.operands(y)[0];
    assert!(matches!(out.op(conv), Op::Fused(FusedOp::Conv2d { .. })));
    assert_eq!(operand_names(&out, conv), ["x", "w", "b"]);
}

#[test]
fn depthwise_conv_takes_bias_and_activation_but_not_when_needed_elsewhere() {
    let mut g = Graph::new();
    let x = g.input("x", [1, 6, 6, 2]);
    let w = g.param("w", [3, 3, 2, 3]);
    let b = g.param("b", [6]);
    let attrs = Conv2dAttrs {
        strides: [2, 2],
        dilation: [1, 1],
        padding: Padding::Same,
    };
    let conv = g.add(Op::DepthwiseConv2d(attrs), &[x, w]).unwrap();
    let biased = g.binary(BinaryOp::Add, conv, b).unwrap();
    let y = g.unary(UnaryOp::Relu, biased).unwrap();
    g.add_output("y", y).unwrap();
    let out = fuse_checked(&g);
    let y = out.output("y").unwrap();
    let Op::Fused(FusedOp::DepthwiseConv2d {
        attrs: fused_attrs,
        epilogue,
    }) = out.op(y)
    else {
        panic!("{:?}", out.op(y))
    };
    assert_eq!(*fused_attrs, attrs);
    assert_eq!(
        epilogue.instrs,
        [
            Instr::Input(0),
            Instr::Input(1),
            Instr::Binary(BinaryOp::Add, 0, 1),
            Instr::Unary(UnaryOp::Relu, 2)
        ]
    );
    assert_eq!(operand_names(&out, y), ["x", "w", "b"]);

    // The raw convolution is also an output: it stays a plain depthwise_conv2d.
    g.add_output("conv", conv).unwrap();
    let out = fuse_checked(&g);
    assert!(matches!(
        out.op(out.output("conv").unwrap()),
        Op::DepthwiseConv2d(_)
    ));
}

#[test]
fn update_values_fuse_and_updates_are_kept() {
    let mut g = Graph::new();
    let w = g.param("w", [5]);
    let grad = g.input("grad", [5]);
    let lr = g.scalar(0.1);
    let step = g.binary(BinaryOp::Mul, grad, lr).unwrap();
    let w_new = g.binary(BinaryOp::Sub, w, step).unwrap();
    g.add_update(w, w_new).unwrap();
    let out = fuse_checked(&g);
    let (p, v) = out.updates[0];
    assert_eq!(out.op(p), g.op(w));
    assert!(matches!(out.op(v), Op::Fused(FusedOp::Elementwise(_))));
    assert_eq!(operand_names(&out, v), ["grad", "w"]);
}

#[test]
fn fusing_twice_changes_nothing() {
    let mut g = Graph::new();
    let x = g.input("x", [2, 3]);
    let w = g.param("w", [3, 3]);
    let mm = g.matmul(x, w, false, false).unwrap();
    let s = g.unary(UnaryOp::Sigmoid, mm).unwrap();
    let y = g.binary(BinaryOp::Mul, mm, s).unwrap();
    let total = g.reduce(ReduceOp::Sum, y, &[0, 1], false).unwrap();
    g.add_output("total", total).unwrap();
    let once = fuse_checked(&g);
    let twice = fuse(&once).unwrap();
    assert_eq!(
        format!(
            "{:?}",
            once.node_ids()
                .map(|n| once.node(n).clone())
                .collect::<Vec<_>>()
        ),
        format!(
            "{:?}",
            twice
                .node_ids()
                .map(|n| twice.node(n).clone())
                .collect::<Vec<_>>()
        )
    );
    assert_eq!(
        fused_ops(&once).len(),
        1,
        "swish epilogue on the matmul; the sum stays plain"
    );
}

/// The kernels of `g` (nodes that run one): fused or primitive ops, not leaves, views or
/// extracts.
fn kernels(g: &Graph) -> Vec<NodeId> {
    g.node_ids()
        .filter(|&n| {
            !matches!(
                g.op(n),
                Op::Input { .. }
                    | Op::Param { .. }
                    | Op::Const(_)
                    | Op::Reshape(_)
                    | Op::Extract { .. }
            )
        })
        .collect()
}

#[test]
fn a_producer_needed_elsewhere_joins_its_consumer_as_a_second_result() {
    let mut g = Graph::new();
    let x = g.input("x", [3, 5]);
    let m = g.input("m", [3, 1]);
    let s = g.binary(BinaryOp::Sub, x, m).unwrap();
    let e = g.unary(UnaryOp::Exp, s).unwrap();
    let sum = g.reduce(ReduceOp::Sum, e, &[1], true).unwrap();
    g.add_output("e", e).unwrap();
    g.add_output("sum", sum).unwrap();
    let out = fuse_checked(&g);
    let [k] = kernels(&out)[..] else {
        panic!("{}", ir::text::print(&out))
    };
    let Op::Fused(FusedOp::Multi(kernel)) = out.op(k) else {
        panic!("{}", ir::text::print(&out))
    };
    assert_eq!(kernel.loops.len(), 1);
    assert_eq!(
        kernel.n_results(),
        2,
        "e whole and its row sums; s stays in registers"
    );
}

#[test]
fn a_reduction_is_never_read_in_the_loop_that_reduces_it() {
    // softmax: e / sum(e) needs the sum of every row first: the division is its own kernel.
    let mut g = Graph::new();
    let x = g.input("x", [3, 5]);
    let e = g.unary(UnaryOp::Exp, x).unwrap();
    let sum = g.reduce(ReduceOp::Sum, e, &[1], true).unwrap();
    let y = g.binary(BinaryOp::Div, e, sum).unwrap();
    g.add_output("y", y).unwrap();
    let out = fuse_checked(&g);
    assert_eq!(kernels(&out).len(), 2, "{}", ir::text::print(&out));
    assert!(matches!(
        out.op(out.output("y").unwrap()),
        Op::Binary(BinaryOp::Div)
    ));
}

#[test]
fn independent_updates_become_one_kernel_of_several_loops() {
    let mut g = Graph::new();
    let lr = g.scalar(0.5);
    for (name, shape) in [
        ("w", Shape::from([4, 3])),
        ("b", Shape::from([3])),
        ("c", Shape::scalar()),
    ] {
        let grad = g.input(format!("d{name}"), shape.clone());
        let p = g.param(name, shape);
        let step = g.binary(BinaryOp::Mul, grad, lr).unwrap();
        let new = g.binary(BinaryOp::Sub, p, step).unwrap();
        g.add_update(p, new).unwrap();
    }
    let out = fuse_checked(&g);
    let [k] = kernels(&out)[..] else {
        panic!("{}", ir::text::print(&out))
    };
    let Op::Fused(FusedOp::Multi(kernel)) = out.op(k) else {
        panic!()
    };
    let domains: Vec<&Shape> = kernel.loops.iter().map(|l| &l.domain).collect();
    assert_eq!(
        domains,
        [&Shape::from([4, 3]), &Shape::from([3]), &Shape::scalar()]
    );
}

#[test]
fn kernels_that_a_path_through_another_kernel_joins_stay_apart() {
    // q -> matmul -> c, and q -> c: one loop for q and c would run before and after the
    // matmul.
    let mut g = Graph::new();
    let x = g.input("x", [4, 4]);
    let w = g.param("w", [4, 4]);
    let q = g.unary(UnaryOp::Neg, x).unwrap();
    let mm = g.matmul(q, w, false, false).unwrap();
    let c = g.binary(BinaryOp::Mul, q, mm).unwrap();
    g.add_output("mm", mm).unwrap();
    g.add_output("c", c).unwrap();
    let out = fuse_checked(&g);
    assert_eq!(kernels(&out).len(), 3, "{}", ir::text::print(&out));
}

//! Shared test fixtures: one graph that uses every op kind and attribute form, a coverage
//! check over it, and node-by-node graph comparison (floats by bits).
// Each test binary compiles this module and uses only part of it.
#![allow(dead_code)]

use std::collections::HashSet;

use ir::op::{Conv2dAttrs, Padding, Pool2dAttrs, PoolKind, ReduceOp};
use ir::{
    BinaryOp, FusedOp, Graph, Instr, Loop, LoopResult, MultiKernel, NodeId, Op, Program, Shape,
    Tensor, UnaryOp,
};

/// Every reduction.
pub const REDUCE_OPS: [ReduceOp; 5] = [
    ReduceOp::Sum,
    ReduceOp::Mean,
    ReduceOp::Max,
    ReduceOp::Min,
    ReduceOp::ArgMax,
];

/// A distinct index per op kind, fused kinds included. Exhaustive on purpose: a new variant
/// does not compile here until the coverage graph is taught about it.
pub fn op_kind(op: &Op) -> usize {
    match op {
        Op::Input { .. } => 0,
        Op::Param { .. } => 1,
        Op::Const(_) => 2,
        Op::Unary(_) => 3,
        Op::Binary(_) => 4,
        Op::Select => 5,
        Op::Reduce { .. } => 6,
        Op::MatMul { .. } => 7,
        Op::Conv2d(_) => 8,
        Op::Conv2dBackpropInput { .. } => 9,
        Op::Conv2dBackpropFilter { .. } => 10,
        Op::Pool2d(_) => 11,
        Op::Pool2dGrad(_) => 12,
        Op::Reshape(_) => 13,
        Op::Transpose(_) => 14,
        Op::Broadcast(_) => 15,
        Op::Slice { .. } => 16,
        Op::Concat { .. } => 17,
        Op::Pad { .. } => 18,
        Op::RandomUniform(_) => 19,
        Op::Fused(FusedOp::Elementwise(_)) => 20,
        Op::Fused(FusedOp::MatMul { .. }) => 21,
        Op::Fused(FusedOp::Conv2d { .. }) => 22,
        Op::Fused(FusedOp::Pool2d { .. }) => 23,
        Op::Fused(FusedOp::Reduce { .. }) => 24,
        Op::DepthwiseConv2d(_) => 25,
        Op::DepthwiseConv2dBackpropInput { .. } => 26,
        Op::DepthwiseConv2dBackpropFilter { .. } => 27,
        Op::Fused(FusedOp::DepthwiseConv2d { .. }) => 28,
        Op::StopGradient => 29,
        Op::Fused(FusedOp::Multi(_)) => 30,
        Op::Extract { .. } => 31,
        Op::Gather => 32,
        Op::ScatterAdd { .. } => 33,
    }
}

/// The number of kinds [`op_kind`] distinguishes.
pub const N_OP_KINDS: usize = 34;

fn conv(strides: [usize; 2], dilation: [usize; 2], padding: Padding) -> Conv2dAttrs {
    Conv2dAttrs {
        strides,
        dilation,
        padding,
    }
}

fn pool(kind: PoolKind, window: [usize; 2], strides: [usize; 2], padding: Padding) -> Pool2dAttrs {
    Pool2dAttrs {
        kind,
        window,
        strides,
        padding,
    }
}

/// A program reading inputs 0 and 1 that applies every unary op in a chain, then folds in
/// every binary op, then a select: every instruction kind and every scalar op.
fn every_scalar_op_program() -> Program {
    let mut instrs = vec![Instr::Input(0), Instr::Input(1), Instr::Const(-2.5)];
    for u in UnaryOp::ALL {
        instrs.push(Instr::Unary(u, instrs.len() - 1));
    }
    for b in BinaryOp::ALL {
        instrs.push(Instr::Binary(b, instrs.len() - 1, 1));
    }
    let last = instrs.len() - 1;
    instrs.push(Instr::Select(last, 0, 2));
    Program { instrs }
}

/// The leaves the op families of [`every_op_graph`] compute from.
struct Leaves {
    /// An input `[2, 4]`.
    x: NodeId,
    /// A param `[4, 3]`.
    w: NodeId,
    /// An NHWC input `[1, 5, 5, 2]`, its name needing quotes.
    img: NodeId,
    /// A conv filter param `[3, 3, 2, 4]`.
    filter: NodeId,
    /// The scalar constant 0.5.
    half: NodeId,
    /// A constant `[3]` with a negative zero.
    bias: NodeId,
}

/// One graph holding every op kind, every unary/binary/reduce op, every padding form and
/// pooling kind, flags both set and unset, outputs and updates. Each op family is added by
/// its own function, in this order.
pub fn every_op_graph() -> Graph {
    let mut g = Graph::new();
    let l = add_leaves(&mut g);
    let loss = add_elementwise_and_reductions(&mut g, &l);
    let (xt, wt, mm) = add_matmuls(&mut g, &l);
    let dfilter = add_convolutions(&mut g, &l);
    let dw_filter = add_depthwise_convolutions(&mut g, &l);
    add_pooling(&mut g, &l);
    add_movement(&mut g, &l);
    add_indexing(&mut g, &l);
    let logits = add_fused_contractions(&mut g, &l, xt, wt, dw_filter);
    add_fused_pooling_and_reductions(&mut g, &l);
    add_multi_result_kernel(&mut g, &l);

    let step = g.binary(BinaryOp::Mul, mm, l.half).unwrap();
    let new_w = g
        .add(
            Op::Slice {
                starts: vec![0, 0],
                ends: vec![2, 3],
            },
            &[step],
        )
        .unwrap();
    let new_w = g.add(Op::Concat { axis: 0 }, &[new_w, new_w]).unwrap();
    g.add_output("loss", loss).unwrap();
    g.add_output("logits", logits).unwrap();
    g.add_update(l.w, new_w).unwrap();
    g.add_update(l.filter, dfilter).unwrap();
    g
}

/// Inputs, params and constants, including edge-case floats and an empty constant.
fn add_leaves(g: &mut Graph) -> Leaves {
    let x = g.input("x", [2, 4]);
    let w = g.param("w", [4, 3]);
    let img = g.input("image \"batch\"", [1, 5, 5, 2]);
    let filter = g.param("filter", [3, 3, 2, 4]);
    let half = g.scalar(0.5);
    let bias = g.constant(Tensor::new([3], vec![0.1, -0.0, 3e-7]).unwrap());
    let _zeros = g.constant(Tensor::zeros([2, 2]));
    let _edge = g.constant(
        Tensor::new(
            [6],
            vec![
                f32::INFINITY,
                f32::NEG_INFINITY,
                1e-45,
                f32::MAX,
                f32::MIN_POSITIVE,
                -1.0 / 3.0,
            ],
        )
        .unwrap(),
    );
    let _empty = g.constant(Tensor::zeros([0, 3]));
    Leaves {
        x,
        w,
        img,
        filter,
        half,
        bias,
    }
}

/// Every unary and binary op, a select, and every reduction (`keep_dims` on and off).
/// Returns the last reduction, the graph's `loss` output.
fn add_elementwise_and_reductions(g: &mut Graph, l: &Leaves) -> NodeId {
    let (x, half) = (l.x, l.half);
    for u in UnaryOp::ALL {
        g.unary(u, x).unwrap();
    }
    let mut last = x;
    for b in BinaryOp::ALL {
        last = g.binary(b, x, half).unwrap();
    }
    g.add(Op::Select, &[last, x, half]).unwrap();
    let mut loss = x;
    for (i, r) in REDUCE_OPS.into_iter().enumerate() {
        loss = g.reduce(r, x, &[1], i % 2 == 0).unwrap();
    }
    g.reduce(ReduceOp::Sum, x, &[0, 1], false).unwrap();
    loss
}

/// Matmuls with every combination of transpose flags. Returns the transposes of `x` and
/// `w` and the plain product.
fn add_matmuls(g: &mut Graph, l: &Leaves) -> (NodeId, NodeId, NodeId) {
    let (x, w) = (l.x, l.w);
    let xt = g.add(Op::Transpose(vec![1, 0]), &[x]).unwrap();
    let wt = g.add(Op::Transpose(vec![1, 0]), &[w]).unwrap();
    let mm = g.matmul(x, w, false, false).unwrap();
    g.matmul(xt, w, true, false).unwrap();
    g.matmul(x, wt, false, true).unwrap();
    g.matmul(xt, wt, true, true).unwrap();
    (xt, wt, mm)
}

/// Convolutions with every padding form, and both backprops. Returns the filter gradient,
/// the filter's update.
fn add_convolutions(g: &mut Graph, l: &Leaves) -> NodeId {
    let (img, filter) = (l.img, l.filter);
    let valid = conv([1, 1], [1, 1], Padding::Valid);
    let dy = g.add(Op::Conv2d(valid), &[img, filter]).unwrap();
    g.add(
        Op::Conv2d(conv([2, 2], [1, 1], Padding::Same)),
        &[img, filter],
    )
    .unwrap();
    g.add(
        Op::Conv2d(conv([1, 2], [2, 1], Padding::Explicit([1, 0, 2, 1]))),
        &[img, filter],
    )
    .unwrap();
    g.add(
        Op::Conv2dBackpropInput {
            attrs: valid,
            input_shape: Shape::from([1, 5, 5, 2]),
        },
        &[dy, filter],
    )
    .unwrap();
    g.add(
        Op::Conv2dBackpropFilter {
            attrs: valid,
            filter_shape: Shape::from([3, 3, 2, 4]),
        },
        &[img, dy],
    )
    .unwrap()
}

/// A depthwise filter param and depthwise convolutions with both backprops. Returns the
/// depthwise filter.
fn add_depthwise_convolutions(g: &mut Graph, l: &Leaves) -> NodeId {
    let img = l.img;
    let valid = conv([1, 1], [1, 1], Padding::Valid);
    // Depthwise filter [3, 3, 2, 2]: 2 channels, multiplier 2, so 4 output channels.
    let dw_filter = g.param("depthwise", [3, 3, 2, 2]);
    let dw_y = g
        .add(Op::DepthwiseConv2d(valid), &[img, dw_filter])
        .unwrap();
    g.add(
        Op::DepthwiseConv2d(conv([2, 1], [1, 2], Padding::Explicit([0, 1, 1, 0]))),
        &[img, dw_filter],
    )
    .unwrap();
    g.add(
        Op::DepthwiseConv2dBackpropInput {
            attrs: valid,
            input_shape: Shape::from([1, 5, 5, 2]),
        },
        &[dw_y, dw_filter],
    )
    .unwrap();
    g.add(
        Op::DepthwiseConv2dBackpropFilter {
            attrs: valid,
            filter_shape: Shape::from([3, 3, 2, 2]),
        },
        &[img, dw_y],
    )
    .unwrap();
    dw_filter
}

/// Max and average pooling and a pooling gradient.
fn add_pooling(g: &mut Graph, l: &Leaves) {
    let img = l.img;
    let max_pool = pool(PoolKind::Max, [2, 2], [2, 2], Padding::Valid);
    let pooled = g.add(Op::Pool2d(max_pool), &[img]).unwrap();
    g.add(
        Op::Pool2d(pool(PoolKind::Avg, [3, 3], [1, 1], Padding::Same)),
        &[img],
    )
    .unwrap();
    g.add(Op::Pool2dGrad(max_pool), &[img, pooled]).unwrap();
}

/// Reshape, broadcast, stop_gradient, slice, concat (of several operands and of one), pad,
/// and random numbers.
fn add_movement(g: &mut Graph, l: &Leaves) {
    let (x, half) = (l.x, l.half);
    g.reshape(x, [4, 2]).unwrap();
    g.add(Op::StopGradient, &[x]).unwrap();
    g.add(Op::Broadcast(Shape::from([3, 2, 4])), &[x]).unwrap();
    g.add(
        Op::Slice {
            starts: vec![0, 1],
            ends: vec![2, 3],
        },
        &[x],
    )
    .unwrap();
    g.add(Op::Concat { axis: 1 }, &[x, x, x]).unwrap();
    g.add(Op::Concat { axis: 0 }, &[x]).unwrap();
    g.add(
        Op::Pad {
            before: vec![1, 0],
            after: vec![0, 2],
            value: f32::NEG_INFINITY,
        },
        &[x],
    )
    .unwrap();
    g.add(Op::RandomUniform(Shape::from([3, 3])), &[half])
        .unwrap();
}

/// A gather of the rows of `w` by the values of `x` (ids of any shape) and its scatter-add.
fn add_indexing(g: &mut Graph, l: &Leaves) {
    let rows = g.add(Op::Gather, &[l.w, l.x]).unwrap();
    g.add(Op::ScatterAdd { rows: 4 }, &[l.x, rows]).unwrap();
}

/// A fused elementwise program with every scalar op, and fused matmuls and convolutions
/// with epilogues. Returns the fused matmul with a bias epilogue, the `logits` output.
fn add_fused_contractions(
    g: &mut Graph,
    l: &Leaves,
    xt: NodeId,
    wt: NodeId,
    dw_filter: NodeId,
) -> NodeId {
    let (x, w, img, filter, half) = (l.x, l.w, l.img, l.filter, l.half);
    g.add(
        Op::Fused(FusedOp::Elementwise(every_scalar_op_program())),
        &[x, half],
    )
    .unwrap();
    let epilogue = Program {
        instrs: vec![
            Instr::Input(0),
            Instr::Input(1),
            Instr::Binary(BinaryOp::Add, 0, 1),
            Instr::Unary(UnaryOp::Tanh, 2),
        ],
    };
    let logits = g
        .add(
            Op::Fused(FusedOp::MatMul {
                transpose_a: false,
                transpose_b: true,
                epilogue,
            }),
            &[x, wt, l.bias],
        )
        .unwrap();
    g.add(
        Op::Fused(FusedOp::MatMul {
            transpose_a: true,
            transpose_b: false,
            epilogue: Program::identity(),
        }),
        &[xt, w],
    )
    .unwrap();
    let relu = Program {
        instrs: vec![Instr::Input(0), Instr::Unary(UnaryOp::Relu, 0)],
    };
    g.add(
        Op::Fused(FusedOp::Conv2d {
            attrs: conv([2, 2], [1, 1], Padding::Same),
            epilogue: relu,
        }),
        &[img, filter],
    )
    .unwrap();
    let dw_fused = FusedOp::DepthwiseConv2d {
        attrs: conv([1, 2], [2, 1], Padding::Same),
        epilogue: scale_program(),
    };
    g.add(Op::Fused(dw_fused), &[img, dw_filter, half]).unwrap();
    logits
}

/// A program multiplying inputs 0 and 1.
fn scale_program() -> Program {
    Program {
        instrs: vec![
            Instr::Input(0),
            Instr::Input(1),
            Instr::Binary(BinaryOp::Mul, 0, 1),
        ],
    }
}

/// A fused pooling with an epilogue, and fused reductions with and without a prologue.
fn add_fused_pooling_and_reductions(g: &mut Graph, l: &Leaves) {
    let (x, img, half) = (l.x, l.img, l.half);
    let avg = pool(
        PoolKind::Avg,
        [2, 2],
        [2, 2],
        Padding::Explicit([0, 1, 0, 1]),
    );
    g.add(
        Op::Fused(FusedOp::Pool2d {
            attrs: avg,
            epilogue: scale_program(),
        }),
        &[img, half],
    )
    .unwrap();
    let square = Program {
        instrs: vec![Instr::Input(0), Instr::Unary(UnaryOp::Square, 0)],
    };
    let prologue_reduce = FusedOp::Reduce {
        op: ReduceOp::Mean,
        axes: vec![0],
        keep_dims: true,
        input_shape: Shape::from([2, 4]),
        prologue: square,
    };
    g.add(Op::Fused(prologue_reduce), &[x]).unwrap();
    let argmax = FusedOp::Reduce {
        op: ReduceOp::ArgMax,
        axes: vec![1],
        keep_dims: false,
        input_shape: Shape::from([2, 4]),
        prologue: Program::identity(),
    };
    g.add(Op::Fused(argmax), &[x]).unwrap();
}

/// A multi-result kernel of two loops: `e = exp(x * 0.5)` over `[2, 4]` written whole, with
/// its row sums (kept) and the argmax of each row; and a scalar loop. Every result but the
/// argmax is extracted.
fn add_multi_result_kernel(g: &mut Graph, l: &Leaves) {
    let rows = Loop {
        domain: Shape::from([2, 4]),
        axes: vec![1],
        body: Program {
            instrs: vec![
                Instr::Input(0),
                Instr::Input(1),
                Instr::Binary(BinaryOp::Mul, 0, 1),
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
            instrs: vec![
                Instr::Input(1),
                Instr::Const(-1.5),
                Instr::Binary(BinaryOp::Add, 0, 1),
            ],
        },
        results: vec![LoopResult::Element(2)],
    };
    let kernel = MultiKernel {
        loops: vec![rows, scalar],
    };
    let multi = g
        .add(Op::Fused(FusedOp::Multi(kernel)), &[l.x, l.half])
        .unwrap();
    for (index, shape) in [(0, [2, 4].as_slice()), (1, &[2, 1]), (3, &[])] {
        g.add(
            Op::Extract {
                index,
                shape: Shape::from(shape),
            },
            &[multi],
        )
        .unwrap();
    }
}

/// Panics (with the node) unless `g` uses every op kind, scalar op, padding form and pool
/// kind. Scalar ops inside fused programs count.
pub fn assert_covers_everything(g: &Graph) {
    let mut kinds = HashSet::new();
    let mut names = HashSet::new();
    let mut paddings = HashSet::new();
    let mut pool_kinds = HashSet::new();
    for id in g.node_ids() {
        let op = g.op(id);
        kinds.insert(op_kind(op));
        names.insert(ir::infer::op_name(op));
        let (conv_attrs, pool_attrs, program) = match op {
            Op::Conv2d(c)
            | Op::Conv2dBackpropInput { attrs: c, .. }
            | Op::Conv2dBackpropFilter { attrs: c, .. }
            | Op::DepthwiseConv2d(c)
            | Op::DepthwiseConv2dBackpropInput { attrs: c, .. }
            | Op::DepthwiseConv2dBackpropFilter { attrs: c, .. } => (Some(c), None, None),
            Op::Pool2d(p) | Op::Pool2dGrad(p) => (None, Some(p), None),
            Op::Fused(
                FusedOp::Conv2d { attrs, epilogue } | FusedOp::DepthwiseConv2d { attrs, epilogue },
            ) => (Some(attrs), None, Some(epilogue)),
            Op::Fused(FusedOp::Pool2d { attrs, epilogue }) => (None, Some(attrs), Some(epilogue)),
            Op::Fused(
                FusedOp::Elementwise(p)
                | FusedOp::MatMul { epilogue: p, .. }
                | FusedOp::Reduce { prologue: p, .. },
            ) => (None, None, Some(p)),
            Op::Fused(FusedOp::Multi(k)) => (None, None, Some(&k.loops[0].body)),
            _ => (None, None, None),
        };
        if let Some(c) = conv_attrs {
            paddings.insert(std::mem::discriminant(&c.padding));
        }
        if let Some(p) = pool_attrs {
            paddings.insert(std::mem::discriminant(&p.padding));
            pool_kinds.insert(p.kind);
        }
        for instr in program.map(|p| p.instrs.as_slice()).unwrap_or_default() {
            match instr {
                Instr::Unary(u, _) => names.insert(format!("program {}", u.name())),
                Instr::Binary(b, _, _) => names.insert(format!("program {}", b.name())),
                _ => false,
            };
        }
    }
    assert_eq!(kinds.len(), N_OP_KINDS, "op kinds covered: {kinds:?}");
    for u in UnaryOp::ALL {
        assert!(
            names.contains(u.name()) && names.contains(&format!("program {}", u.name())),
            "{u:?} missing"
        );
    }
    for b in BinaryOp::ALL {
        assert!(
            names.contains(b.name()) && names.contains(&format!("program {}", b.name())),
            "{b:?} missing"
        );
    }
    for r in REDUCE_OPS {
        assert!(
            names.contains(&format!("reduce.{}", r.name())),
            "{r:?} missing"
        );
    }
    assert_eq!(paddings.len(), 3, "padding forms covered");
    assert_eq!(pool_kinds.len(), 2, "pool kinds covered");
}

/// An op with every float replaced by its bits, so NaNs compare equal to themselves.
fn op_bits(op: &Op) -> String {
    match op {
        Op::Const(t) => format!(
            "const {} {:?}",
            t.shape,
            t.data.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        ),
        Op::Pad {
            before,
            after,
            value,
        } => format!("pad {before:?} {after:?} {}", value.to_bits()),
        Op::Fused(f) => {
            let mut text = format!("{f:?}");
            for instr in f.programs().iter().flat_map(|p| &p.instrs) {
                if let Instr::Const(c) = instr {
                    text.push_str(&format!(" const bits {}", c.to_bits()));
                }
            }
            text
        }
        other => format!("{other:?}"),
    }
}

/// Panics unless `a` and `b` are the same graph node by node (ops, floats bit for bit,
/// shapes, operands), with the same outputs and updates.
pub fn assert_same_graph(a: &Graph, b: &Graph) {
    assert_eq!(a.len(), b.len(), "node counts");
    for id in a.node_ids() {
        assert_eq!(op_bits(a.op(id)), op_bits(b.op(id)), "op of {id}");
        assert_eq!(a.shape(id), b.shape(id), "shape of {id}");
        assert_eq!(a.operands(id), b.operands(id), "operands of {id}");
    }
    assert_eq!(a.outputs, b.outputs);
    assert_eq!(a.updates, b.updates);
}

//! Shared by the tests: a catalogue of small graphs covering every node kind the GPU
//! backend lowers (each checked against `ir::interp`), deterministic bindings, and the
//! tolerance check.

#![allow(dead_code)]

pub mod training_step;

use ir::interp::Bindings;
use ir::{
    BinaryOp, Conv2dAttrs, Graph, NodeId, Op, Padding, Pool2dAttrs, PoolKind, ReduceOp, Shape,
    Tensor, UnaryOp,
};

/// One test graph: bindings are uniform in `[lo, hi)`; results must agree within `tol`
/// relative (see [`close`]).
pub struct Case {
    pub name: String,
    pub graph: Graph,
    pub lo: f32,
    pub hi: f32,
    pub tol: f32,
}

/// Relative tolerance of elementwise results (transcendentals may differ by a few ulps).
pub const ELEMENTWISE_TOL: f32 = 1e-5;
/// Relative tolerance of contractions, reductions and windows (summation order differs).
pub const CONTRACTION_TOL: f32 = 1e-4;

/// `|a - b| <= tol * max(1, |a|, |b|)`, NaN matching only NaN.
pub fn close(a: f32, b: f32, tol: f32) -> bool {
    if a.is_nan() || b.is_nan() {
        return a.is_nan() && b.is_nan();
    }
    a == b || (a - b).abs() <= tol * 1f32.max(a.abs()).max(b.abs())
}

/// Compare two value lists, naming the first mismatch.
pub fn assert_close(what: &str, got: &[f32], want: &[f32], tol: f32) {
    assert_eq!(
        got.len(),
        want.len(),
        "{what}: {} values, expected {}",
        got.len(),
        want.len()
    );
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            close(*g, *w, tol),
            "{what}: element {i} is {g}, expected {w} (tolerance {tol})"
        );
    }
}

/// Deterministic bindings for every input and param of `g`, uniform in `[lo, hi)`.
pub fn bindings(g: &Graph, lo: f32, hi: f32) -> Bindings {
    g.node_ids()
        .filter_map(|id| match g.op(id) {
            Op::Input { name, shape } | Op::Param { name, shape } => {
                let data = (0..shape.numel())
                    .map(|i| {
                        lo + (hi - lo) * ir::random::uniform(1000 + id.index() as u32, i as u32)
                    })
                    .collect();
                Some((
                    name.clone(),
                    Tensor {
                        shape: shape.clone(),
                        data,
                    },
                ))
            }
            _ => None,
        })
        .collect()
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
    // Comparisons on equal values: the second operand a broadcast slice of the first.
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
    cases.push(case("compare_equal_values", g, -1.0, 1.0, 0.0));
    let mut g = Graph::new();
    let c = g.input("c", [4, 1]);
    let c = g.unary(UnaryOp::Floor, c).unwrap();
    let a = g.input("a", [4, 3]);
    let b = g.input("b", [3]);
    let y = g.add(Op::Select, &[c, a, b]).unwrap();
    g.add_output("y", y).unwrap();
    cases.push(case("select", g, -1.0, 1.5, 0.0));

    for (name, op, axes, keep) in [
        ("sum_last", ReduceOp::Sum, vec![2], false),
        ("sum_outer", ReduceOp::Sum, vec![0, 2], true),
        ("mean_all", ReduceOp::Mean, vec![0, 1, 2], false),
        ("max_middle", ReduceOp::Max, vec![1], false),
        ("min_first", ReduceOp::Min, vec![0], true),
        ("argmax_last", ReduceOp::ArgMax, vec![2], false),
        ("argmax_middle", ReduceOp::ArgMax, vec![1], true),
    ] {
        cases.push(case(
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
        ));
    }

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
    for (name, attrs, [kh, kw]) in convs {
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
        cases.push(case(
            format!("conv2d_backprop_input_{name}"),
            single(
                Op::Conv2dBackpropInput {
                    attrs,
                    input_shape: input_shape.clone(),
                },
                &[y.dims(), filter.dims()],
            ),
            -1.0,
            1.0,
            CONTRACTION_TOL,
        ));
        cases.push(case(
            format!("conv2d_backprop_filter_{name}"),
            single(
                Op::Conv2dBackpropFilter {
                    attrs,
                    filter_shape: filter.clone(),
                },
                &[x, y.dims()],
            ),
            -1.0,
            1.0,
            CONTRACTION_TOL,
        ));
        let dfilter = Shape::from([kh, kw, 3, 2]);
        cases.push(case(
            format!("depthwise_backprop_input_{name}"),
            single(
                Op::DepthwiseConv2dBackpropInput {
                    attrs,
                    input_shape: input_shape.clone(),
                },
                &[dy.dims(), dfilter.dims()],
            ),
            -1.0,
            1.0,
            CONTRACTION_TOL,
        ));
        cases.push(case(
            format!("depthwise_backprop_filter_{name}"),
            single(
                Op::DepthwiseConv2dBackpropFilter {
                    attrs,
                    filter_shape: dfilter,
                },
                &[x, dy.dims()],
            ),
            -1.0,
            1.0,
            CONTRACTION_TOL,
        ));
    }

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

    cases.push(case(
        "reshape",
        single(Op::Reshape(Shape::from([6, 4])), &[&[2, 3, 4]]),
        -1.0,
        1.0,
        0.0,
    ));
    cases.push(case(
        "transpose",
        single(Op::Transpose(vec![2, 0, 1]), &[&[2, 3, 4]]),
        -1.0,
        1.0,
        0.0,
    ));
    cases.push(case(
        "broadcast",
        single(Op::Broadcast(Shape::from([2, 3, 4])), &[&[3, 1]]),
        -1.0,
        1.0,
        0.0,
    ));
    cases.push(case(
        "slice",
        single(
            Op::Slice {
                starts: vec![1, 0, 2],
                ends: vec![2, 3, 4],
            },
            &[&[2, 3, 4]],
        ),
        -1.0,
        1.0,
        0.0,
    ));
    cases.push(case(
        "concat",
        single(
            Op::Concat { axis: 1 },
            &[&[2, 3, 4], &[2, 1, 4], &[2, 2, 4]],
        ),
        -1.0,
        1.0,
        0.0,
    ));
    cases.push(case(
        "pad",
        single(
            Op::Pad {
                before: vec![1, 0, 2],
                after: vec![0, 2, 1],
                value: -7.5,
            },
            &[&[2, 3, 4]],
        ),
        -1.0,
        1.0,
        0.0,
    ));
    let mut g = Graph::new();
    let seed = g.input("seed", Shape::scalar());
    let r = g
        .add(Op::RandomUniform(Shape::from([5, 40])), &[seed])
        .unwrap();
    g.add_output("y", r).unwrap();
    cases.push(case("random_uniform", g, 3.0, 900.0, 0.0));

    cases.extend(fused_cases());
    cases
}

/// Graphs whose optimised form holds every fused op kind.
fn fused_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    // Dense layer: fused matmul with a bias + relu epilogue.
    let mut g = Graph::new();
    let x = g.input("x", [9, 13]);
    let w = g.param("w", [13, 10]);
    let b = g.param("b", [10]);
    let z = g.matmul(x, w, false, false).unwrap();
    let z = g.binary(BinaryOp::Add, z, b).unwrap();
    let y = g.unary(UnaryOp::Relu, z).unwrap();
    g.add_output("y", y).unwrap();
    cases.push(case(
        "fused_dense",
        optimized(&g),
        -1.0,
        1.0,
        CONTRACTION_TOL,
    ));
    // Conv + bias + relu, then max pool + scale: fused conv2d and fused pool2d.
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
    cases.push(case(
        "fused_conv_pool",
        optimized(&g),
        -1.0,
        1.0,
        CONTRACTION_TOL,
    ));
    // Separable conv: depthwise (multiplier 2) + bias + relu, then pointwise conv + bias:
    // fused depthwise_conv2d and fused conv2d.
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
    cases.push(case(
        "fused_separable_conv",
        optimized(&g),
        -1.0,
        1.0,
        CONTRACTION_TOL,
    ));
    // Elementwise chain and a reduction with a prologue: a mean squared error.
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
    cases.push(case(
        "fused_elementwise_reduce",
        optimized(&g),
        -1.0,
        1.0,
        CONTRACTION_TOL,
    ));
    cases
}

/// Whether `graph` holds a node of each fused kind in `kinds` (text names).
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

/// The GPU every test of one binary shares, or `None` where GPU tests do not run (see
/// [`codegen_gpu::gpu_tests_enabled`]: no adapter, or `KILN_GPU_TESTS=skip`).
pub fn gpu() -> Option<&'static codegen_gpu::Gpu> {
    static GPU: std::sync::OnceLock<Option<codegen_gpu::Gpu>> = std::sync::OnceLock::new();
    GPU.get_or_init(|| {
        give_mesa_a_runtime_dir();
        codegen_gpu::gpu_tests_enabled()
            .then(|| codegen_gpu::Gpu::new().unwrap_or_else(|e| panic!("{e}")))
    })
    .as_ref()
}

/// Mesa warns without a runtime dir; give it a private one unless there is one.
fn give_mesa_a_runtime_dir() {
    if std::env::var_os("XDG_RUNTIME_DIR").is_some() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("kiln-xdg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir is writable");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))
            .expect("own temp dir");
    }
    // SAFETY: set once, inside the OnceLock initialiser of `gpu`, before any GPU code of this
    // process reads the environment.
    unsafe { std::env::set_var("XDG_RUNTIME_DIR", &dir) };
}

/// The outputs of every step, and the parameters after the last.
pub type GpuRun = (Vec<Vec<(String, Tensor)>>, Vec<(String, Vec<f32>)>);

/// Run `graph` under `plan` on the GPU for `steps` steps from `bindings` (params set
/// once, inputs every step); the outputs of each step and the final params.
pub fn run_gpu(
    gpu: &codegen_gpu::Gpu,
    graph: &Graph,
    plan: &ir::MemoryPlan,
    bindings: &Bindings,
    steps: usize,
) -> Result<GpuRun, codegen_gpu::GpuError> {
    let exe = gpu.compile(graph, plan)?;
    let mut state = exe.new_state()?;
    for p in exe.params() {
        state.set_param(&p.name, &bindings[&p.name].data)?;
    }
    let inputs: Vec<(&str, &[f32])> = exe
        .inputs()
        .iter()
        .map(|l| (l.name.as_str(), bindings[&l.name].data.as_slice()))
        .collect();
    let mut outputs = Vec::new();
    for _ in 0..steps {
        outputs.push(exe.run(&mut state, &inputs)?);
    }
    let params = exe
        .params()
        .iter()
        .map(|p| Ok((p.name.clone(), state.param(&p.name)?)))
        .collect::<Result<_, codegen_gpu::GpuError>>()?;
    Ok((outputs, params))
}

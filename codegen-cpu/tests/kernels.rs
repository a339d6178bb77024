//! Reductions, movement ops, pooling and random numbers against small reference
//! computations written out in plain Rust.

mod common;

use common::{assert_close, run, values};
use ir::{
    BinaryOp, FusedOp, Graph, Instr, Op, Padding, Pool2dAttrs, PoolKind, Program, ReduceOp, Shape,
    UnaryOp,
};

/// Reference reduction over `axes` of a row-major tensor.
fn reduce_ref(op: ReduceOp, x: &[f32], shape: &[usize], axes: &[usize]) -> Vec<f32> {
    let s = Shape::new(shape.to_vec());
    let out_dims: Vec<usize> = (0..shape.len())
        .map(|a| if axes.contains(&a) { 1 } else { shape[a] })
        .collect();
    let out_shape = Shape::new(out_dims.clone());
    let n_out = out_shape.numel();
    let mut acc: Vec<Vec<(usize, f32)>> = vec![Vec::new(); n_out];
    for (flat, &v) in x.iter().enumerate() {
        let idx: Vec<usize> = s
            .strides()
            .iter()
            .zip(shape)
            .map(|(&st, &d)| flat / st % d)
            .collect();
        let o: usize = idx
            .iter()
            .zip(out_shape.strides())
            .enumerate()
            .map(|(a, (&i, st))| if axes.contains(&a) { 0 } else { i * st })
            .sum();
        let along = if axes.len() == 1 { idx[axes[0]] } else { 0 };
        acc[o].push((along, v));
    }
    acc.iter()
        .map(|vals| match op {
            ReduceOp::Sum => vals.iter().map(|p| p.1).sum(),
            ReduceOp::Mean => vals.iter().map(|p| p.1).sum::<f32>() / vals.len() as f32,
            ReduceOp::Max => vals.iter().fold(f32::NEG_INFINITY, |m, p| m.max(p.1)),
            ReduceOp::Min => vals.iter().fold(f32::INFINITY, |m, p| m.min(p.1)),
            ReduceOp::ArgMax => {
                vals.iter()
                    .fold((0, f32::NEG_INFINITY), |(bi, bv), &(i, v)| {
                        if v > bv { (i, v) } else { (bi, bv) }
                    })
                    .0 as f32
            }
        })
        .collect()
}

#[test]
fn reductions_over_any_axes_match_the_reference() {
    let shape = [3, 4, 5];
    let x = values(60, 11, -2.0, 2.0);
    let axes_sets: [&[usize]; 6] = [&[0], &[1], &[2], &[0, 2], &[1, 2], &[0, 1, 2]];
    for op in [
        ReduceOp::Sum,
        ReduceOp::Mean,
        ReduceOp::Max,
        ReduceOp::Min,
        ReduceOp::ArgMax,
    ] {
        for axes in axes_sets {
            if op == ReduceOp::ArgMax && axes.len() != 1 {
                continue;
            }
            for keep_dims in [false, true] {
                let mut g = Graph::new();
                let xi = g.input("x", shape);
                let y = g.reduce(op, xi, axes, keep_dims).unwrap();
                g.add_output("y", y).unwrap();
                let out = run(&g, &[("x", &x)]);
                let want = reduce_ref(op, &x, &shape, axes);
                assert_close(
                    &format!("{op:?} {axes:?}"),
                    &out[0].1.data,
                    &want,
                    1e-6,
                    1e-6,
                );
            }
        }
    }
}

#[test]
fn fused_reduce_runs_its_prologue_per_element() {
    // sum over axis 1 of (x - b)^2 with b broadcast along rows.
    let prologue = Program {
        instrs: vec![
            Instr::Input(0),
            Instr::Input(1),
            Instr::Binary(BinaryOp::Sub, 0, 1),
            Instr::Unary(UnaryOp::Square, 2),
        ],
    };
    let mut g = Graph::new();
    let x = g.input("x", [4, 6]);
    let b = g.input("b", [4, 1]);
    let rows = FusedOp::Reduce {
        op: ReduceOp::Sum,
        axes: vec![1],
        keep_dims: false,
        input_shape: Shape::from([4, 6]),
        prologue: prologue.clone(),
    };
    let cols = FusedOp::Reduce {
        op: ReduceOp::Mean,
        axes: vec![0],
        keep_dims: true,
        input_shape: Shape::from([4, 6]),
        prologue,
    };
    let y = g.add(Op::Fused(rows), &[x, b]).unwrap();
    let z = g.add(Op::Fused(cols), &[x, b]).unwrap();
    g.add_output("y", y).unwrap();
    g.add_output("z", z).unwrap();
    let (xv, bv) = (values(24, 12, -1.0, 1.0), values(4, 13, -1.0, 1.0));
    let out = run(&g, &[("x", &xv), ("b", &bv)]);
    let want: Vec<f32> = (0..4)
        .map(|r| (0..6).map(|c| (xv[r * 6 + c] - bv[r]).powi(2)).sum())
        .collect();
    assert_close("fused row reduce", &out[0].1.data, &want, 1e-6, 1e-6);
    let want: Vec<f32> = (0..6)
        .map(|c| (0..4).map(|r| (xv[r * 6 + c] - bv[r]).powi(2)).sum::<f32>() / 4.0)
        .collect();
    assert_close("fused column reduce", &out[1].1.data, &want, 1e-6, 1e-6);
}

/// Transpose, slice, concat (with a slice), pad, broadcast and reshape of one `[2, 3, 4]`
/// input `x`, as the outputs `t`, `s`, `c`, `p`, `b` and `r`.
fn movement_graph() -> Graph {
    let mut g = Graph::new();
    let xi = g.input("x", [2, 3, 4]);
    let t = g.add(Op::Transpose(vec![2, 0, 1]), &[xi]).unwrap();
    let s = g
        .add(
            Op::Slice {
                starts: vec![0, 1, 1],
                ends: vec![2, 3, 4],
            },
            &[xi],
        )
        .unwrap();
    let rows = g
        .add(
            Op::Slice {
                starts: vec![0, 1, 0],
                ends: vec![2, 3, 4],
            },
            &[xi],
        )
        .unwrap();
    let c = g.add(Op::Concat { axis: 1 }, &[xi, rows]).unwrap();
    let p = g
        .add(
            Op::Pad {
                before: vec![1, 0, 2],
                after: vec![0, 1, 0],
                value: -5.0,
            },
            &[xi],
        )
        .unwrap();
    let b = g
        .add(Op::Broadcast(Shape::from([2, 2, 3, 4])), &[xi])
        .unwrap();
    let r = g.reshape(xi, [6, 4]).unwrap();
    for (name, id) in [("t", t), ("s", s), ("c", c), ("p", p), ("b", b), ("r", r)] {
        g.add_output(name, id).unwrap();
    }
    g
}

/// The expected outputs of [`movement_graph`] for input `x`, by index arithmetic: the op
/// name, the output name and its values, in output order.
fn movement_references(x: &[f32]) -> Vec<(&'static str, &'static str, Vec<f32>)> {
    let at = |i: usize, j: usize, k: usize| x[i * 12 + j * 4 + k];
    let mut t_want = vec![];
    for k in 0..4 {
        for i in 0..2 {
            for j in 0..3 {
                t_want.push(at(i, j, k));
            }
        }
    }
    let mut s_want = vec![];
    for i in 0..2 {
        for j in 1..3 {
            for k in 1..4 {
                s_want.push(at(i, j, k));
            }
        }
    }
    let mut c_want = vec![];
    for i in 0..2 {
        for j in 0..3 {
            for k in 0..4 {
                c_want.push(at(i, j, k));
            }
        }
        for j in 1..3 {
            for k in 0..4 {
                c_want.push(at(i, j, k));
            }
        }
    }
    let mut p_want = vec![];
    for i in 0..3 {
        for j in 0..4 {
            for k in 0..6 {
                let inside = i >= 1 && j < 3 && k >= 2;
                p_want.push(if inside { at(i - 1, j, k - 2) } else { -5.0 });
            }
        }
    }
    let b_want: Vec<f32> = x.iter().chain(x).copied().collect();
    vec![
        ("transpose", "t", t_want),
        ("slice", "s", s_want),
        ("concat", "c", c_want),
        ("pad", "p", p_want),
        ("broadcast", "b", b_want),
        ("reshape", "r", x.to_vec()),
    ]
}

#[test]
fn movement_ops_match_index_arithmetic() {
    let x = values(24, 14, -1.0, 1.0);
    let out = run(&movement_graph(), &[("x", &x)]);
    let get = |n: &str| &out.iter().find(|(m, _)| m == n).unwrap().1.data;
    for (what, name, want) in movement_references(&x) {
        assert_close(what, get(name), &want, 0.0, 0.0);
    }
}

/// Reference pooling (TF semantics) and its gradient, straight from the definitions.
fn pool_ref(attrs: &Pool2dAttrs, x: &[f32], d: [usize; 4], dy: &[f32]) -> (Vec<f32>, Vec<f32>) {
    let [n, h, w, c] = d;
    let rows = attrs
        .padding
        .resolve(0, h, attrs.window[0], attrs.strides[0])
        .unwrap();
    let cols = attrs
        .padding
        .resolve(1, w, attrs.window[1], attrs.strides[1])
        .unwrap();
    let (oh, ow) = (rows.out, cols.out);
    let mut y = vec![0.0; n * oh * ow * c];
    let mut dx = vec![0.0; x.len()];
    for b in 0..n {
        for i in 0..oh {
            for j in 0..ow {
                for ch in 0..c {
                    let mut window = vec![];
                    for ki in 0..attrs.window[0] {
                        for kj in 0..attrs.window[1] {
                            let (ih, iw) = (
                                (i * attrs.strides[0] + ki) as isize - rows.pad_before as isize,
                                (j * attrs.strides[1] + kj) as isize - cols.pad_before as isize,
                            );
                            if ih >= 0 && iw >= 0 && (ih as usize) < h && (iw as usize) < w {
                                let at = ((b * h + ih as usize) * w + iw as usize) * c + ch;
                                window.push(at);
                            }
                        }
                    }
                    let o = ((b * oh + i) * ow + j) * c + ch;
                    match attrs.kind {
                        PoolKind::Max => {
                            let best = window
                                .iter()
                                .copied()
                                .fold(None, |best: Option<usize>, at| match best {
                                    Some(bi) if x[bi] >= x[at] => Some(bi),
                                    _ => Some(at),
                                })
                                .unwrap();
                            y[o] = x[best];
                            dx[best] += dy[o];
                        }
                        PoolKind::Avg => {
                            y[o] =
                                window.iter().map(|&at| x[at]).sum::<f32>() / window.len() as f32;
                            for &at in &window {
                                dx[at] += dy[o] / window.len() as f32;
                            }
                        }
                    }
                }
            }
        }
    }
    (y, dx)
}

/// Pooling cases: windows that tile the input (the gradient stores its shares; odd sizes
/// leave an uncovered bottom row and right column), overlapping windows, padding, and a
/// window too large to unroll.
const POOL_CASES: [([usize; 2], [usize; 2], Padding); 7] = [
    ([2, 2], [2, 2], Padding::Valid),
    ([3, 3], [3, 3], Padding::Valid),
    ([2, 2], [3, 2], Padding::Valid),
    ([3, 3], [2, 2], Padding::Same),
    ([3, 2], [1, 1], Padding::Same),
    ([2, 3], [2, 1], Padding::Explicit([1, 0, 0, 2])),
    ([5, 4], [1, 1], Padding::Valid),
];

#[test]
fn pooling_and_its_gradient_follow_tf_semantics() {
    // Six channels: one four-lane group and a scalar tail.
    for d in [[2, 5, 6, 6], [1, 7, 9, 6]] {
        pool_cases_on(d);
    }
}

fn pool_cases_on(d: [usize; 4]) {
    let x = values(d.iter().product(), 15, -1.0, 1.0);
    for kind in [PoolKind::Max, PoolKind::Avg] {
        for (window, strides, padding) in POOL_CASES {
            let attrs = Pool2dAttrs {
                kind,
                window,
                strides,
                padding,
            };
            let mut g = Graph::new();
            let xi = g.input("x", d);
            let y = g.add(Op::Pool2d(attrs), &[xi]).unwrap();
            let dyi = g.input("dy", g.shape(y).clone());
            let dx = g.add(Op::Pool2dGrad(attrs), &[xi, dyi]).unwrap();
            let relu = Program {
                instrs: vec![Instr::Input(0), Instr::Unary(UnaryOp::Relu, 0)],
            };
            let fused = g
                .add(
                    Op::Fused(FusedOp::Pool2d {
                        attrs,
                        epilogue: relu,
                    }),
                    &[xi],
                )
                .unwrap();
            g.add_output("y", y).unwrap();
            g.add_output("dx", dx).unwrap();
            g.add_output("fused", fused).unwrap();
            let dy = values(g.shape(y).numel(), 16, -1.0, 1.0);
            let out = run(&g, &[("x", &x), ("dy", &dy)]);
            let (y_want, dx_want) = pool_ref(&attrs, &x, d, &dy);
            let what = format!("{d:?} {kind:?} {window:?} {strides:?} {padding:?}");
            assert_close(&what, &out[0].1.data, &y_want, 1e-6, 1e-7);
            assert_close(
                &format!("grad {what}"),
                &out[1].1.data,
                &dx_want,
                1e-5,
                1e-6,
            );
            let relu_want: Vec<f32> = y_want.iter().map(|v| v.max(0.0)).collect();
            assert_close(
                &format!("fused {what}"),
                &out[2].1.data,
                &relu_want,
                1e-6,
                1e-7,
            );
        }
    }
}

#[test]
fn random_uniform_is_bit_identical_to_the_ir_generator() {
    for seed in [0.0f32, 7.9, 123456.0, -3.0] {
        let mut g = Graph::new();
        let s = g.input("seed", []);
        let r = g.add(Op::RandomUniform(Shape::from([1000])), &[s]).unwrap();
        g.add_output("r", r).unwrap();
        let out = run(&g, &[("seed", &[seed])]);
        let want: Vec<f32> = (0..1000)
            .map(|i| ir::random::uniform(ir::random::seed_from_f32(seed), i))
            .collect();
        assert_eq!(out[0].1.data, want, "seed {seed}");
    }
}

#[test]
fn large_kernels_split_over_the_pool_give_the_same_result() {
    let n = 300 * 257;
    let x = values(n, 17, -3.0, 3.0);
    let mut g = Graph::new();
    let xi = g.input("x", [300, 257]);
    let y = g.unary(UnaryOp::Tanh, xi).unwrap();
    let s = g.reduce(ReduceOp::Sum, xi, &[1], false).unwrap();
    g.add_output("y", y).unwrap();
    g.add_output("s", s).unwrap();
    let out = run(&g, &[("x", &x)]);
    let want: Vec<f32> = x.iter().map(|v| v.tanh()).collect();
    assert_close("tanh", &out[0].1.data, &want, 1e-6, 1e-38);
    let sums: Vec<f32> = x.chunks(257).map(|r| r.iter().sum()).collect();
    assert_close("row sums", &out[1].1.data, &sums, 1e-5, 1e-5);
}

/// The gradient of 2x2/2 max pooling on a 5x7 image (a bottom row and a right column that
/// no window covers) written into an arena slot that an earlier, dead tensor filled with
/// non-zero values: every element of `dx` must be written, the uncovered ones with zero.
#[test]
fn pool_grad_writes_every_element_of_a_reused_buffer() {
    let d = [2, 5, 7, 4];
    let attrs = Pool2dAttrs {
        kind: PoolKind::Max,
        window: [2, 2],
        strides: [2, 2],
        padding: Padding::Valid,
    };
    let mut g = Graph::new();
    let xi = g.input("x", d);
    let one = g.scalar(1.0);
    let filler = g.binary(BinaryOp::Add, xi, one).unwrap();
    let total = g
        .reduce(ReduceOp::Sum, filler, &[0, 1, 2, 3], false)
        .unwrap();
    let dyi = g.input("dy", [2, 2, 3, 4]);
    let dx = g.add(Op::Pool2dGrad(attrs), &[xi, dyi]).unwrap();
    g.add_output("total", total).unwrap();
    g.add_output("dx", dx).unwrap();
    let mut plan = ir::MemoryPlan::naive(&g);
    plan.storage[dx.index()] = plan.storage[filler.index()];
    let exe = codegen_cpu::compile(&g, &plan).expect("compiles");
    let x = values(d.iter().product(), 21, 0.5, 1.0);
    let dy = values(2 * 2 * 3 * 4, 22, -1.0, 1.0);
    let out = exe
        .run(&mut exe.new_state(), &[("x", &x), ("dy", &dy)])
        .expect("runs");
    let (_, dx_want) = pool_ref(&attrs, &x, d, &dy);
    assert_close("dx", &out[1].1.data, &dx_want, 1e-6, 1e-7);
}

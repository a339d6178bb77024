//! Contractions through the contract kernels: matmuls (transposed, batched, with fused
//! epilogues), the three convolution passes, and a two-layer MLP training step written out
//! by hand (forward, backward, SGD update) against a plain-Rust reference.

mod common;

use codegen_cpu::compile;
use common::{assert_close, run, values};
use ir::{
    BinaryOp, Conv2dAttrs, FusedOp, Graph, Instr, MemoryPlan, Op, Padding, Program, ReduceOp,
    Shape, UnaryOp,
};

/// `a [m,k] x b [k,n]`, row-major.
fn matmul_ref(a: &[f32], b: &[f32], m: usize, k: usize, n: usize) -> Vec<f32> {
    (0..m * n)
        .map(|ij| (0..k).map(|l| a[ij / n * k + l] * b[l * n + ij % n]).sum())
        .collect()
}

fn transpose_ref(x: &[f32], r: usize, c: usize) -> Vec<f32> {
    (0..r * c).map(|ji| x[ji % r * c + ji / r]).collect()
}

#[test]
fn matmul_with_transposes_and_batches() {
    let (m, k, n) = (5, 7, 3);
    for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
        let mut g = Graph::new();
        let sa = if ta { [2, k, m] } else { [2, m, k] };
        let sb = if tb { [2, n, k] } else { [2, k, n] };
        let a = g.input("a", sa);
        let b = g.input("b", sb);
        let c = g.matmul(a, b, ta, tb).unwrap();
        g.add_output("c", c).unwrap();
        let (av, bv) = (
            values(2 * m * k, 20, -1.0, 1.0),
            values(2 * k * n, 21, -1.0, 1.0),
        );
        let out = run(&g, &[("a", &av), ("b", &bv)]);
        let mut want = vec![];
        for batch in 0..2 {
            let a1 = &av[batch * m * k..][..m * k];
            let b1 = &bv[batch * k * n..][..k * n];
            let a1 = if ta {
                transpose_ref(a1, k, m)
            } else {
                a1.to_vec()
            };
            let b1 = if tb {
                transpose_ref(b1, n, k)
            } else {
                b1.to_vec()
            };
            want.extend(matmul_ref(&a1, &b1, m, k, n));
        }
        assert_close(
            &format!("matmul ta={ta} tb={tb}"),
            &out[0].1.data,
            &want,
            1e-5,
            1e-6,
        );
    }
}

#[test]
fn fused_matmul_runs_its_epilogue_over_the_product() {
    // relu(a x b + bias)
    let epilogue = Program {
        instrs: vec![
            Instr::Input(0),
            Instr::Input(1),
            Instr::Binary(BinaryOp::Add, 0, 1),
            Instr::Unary(UnaryOp::Relu, 2),
        ],
    };
    let mut g = Graph::new();
    let a = g.input("a", [4, 6]);
    let b = g.input("b", [6, 5]);
    let bias = g.input("bias", [5]);
    let y = g
        .add(
            Op::Fused(FusedOp::MatMul {
                transpose_a: false,
                transpose_b: false,
                epilogue,
            }),
            &[a, b, bias],
        )
        .unwrap();
    g.add_output("y", y).unwrap();
    let (av, bv, biasv) = (
        values(24, 22, -1.0, 1.0),
        values(30, 23, -1.0, 1.0),
        values(5, 24, -1.0, 1.0),
    );
    let out = run(&g, &[("a", &av), ("b", &bv), ("bias", &biasv)]);
    let want: Vec<f32> = matmul_ref(&av, &bv, 4, 6, 5)
        .iter()
        .enumerate()
        .map(|(i, v)| (v + biasv[i % 5]).max(0.0))
        .collect();
    assert_close("fused matmul", &out[0].1.data, &want, 1e-5, 1e-6);
}

#[test]
fn products_split_across_threads_run_their_epilogue_on_every_part() {
    // Over 2 MFLOP each, so they are split into one chunk per thread (on a multi-core
    // host): along the rows of C when m >= n, else along its columns. The epilogue reads a
    // bias row, a column and a full matrix: relu(c + bias[j]) * col[i] + extra[i, j].
    let epilogue = Program {
        instrs: vec![
            Instr::Input(0),
            Instr::Input(1),
            Instr::Binary(BinaryOp::Add, 0, 1),
            Instr::Unary(UnaryOp::Relu, 2),
            Instr::Input(2),
            Instr::Binary(BinaryOp::Mul, 3, 4),
            Instr::Input(3),
            Instr::Binary(BinaryOp::Add, 5, 6),
        ],
    };
    for (m, k, n, ta, tb) in [
        (100, 120, 90, false, false),
        (40, 200, 141, true, false),
        (97, 131, 83, false, true),
    ] {
        let mut g = Graph::new();
        let a = g.input("a", if ta { [k, m] } else { [m, k] });
        let b = g.input("b", if tb { [n, k] } else { [k, n] });
        let bias = g.input("bias", [n]);
        let col = g.input("col", [m, 1]);
        let extra = g.input("extra", [m, n]);
        let op = Op::Fused(FusedOp::MatMul {
            transpose_a: ta,
            transpose_b: tb,
            epilogue: epilogue.clone(),
        });
        let y = g.add(op, &[a, b, bias, col, extra]).unwrap();
        g.add_output("y", y).unwrap();
        let (av, bv) = (values(m * k, 40, -1.0, 1.0), values(k * n, 41, -1.0, 1.0));
        let (biasv, colv, extrav) = (
            values(n, 42, -1.0, 1.0),
            values(m, 43, -1.0, 1.0),
            values(m * n, 44, -1.0, 1.0),
        );
        let out = run(
            &g,
            &[
                ("a", &av),
                ("b", &bv),
                ("bias", &biasv),
                ("col", &colv),
                ("extra", &extrav),
            ],
        );
        let a_rm = if ta {
            transpose_ref(&av, k, m)
        } else {
            av.clone()
        };
        let b_rm = if tb {
            transpose_ref(&bv, n, k)
        } else {
            bv.clone()
        };
        let want: Vec<f32> = matmul_ref(&a_rm, &b_rm, m, k, n)
            .iter()
            .enumerate()
            .map(|(ij, v)| (v + biasv[ij % n]).max(0.0) * colv[ij / n] + extrav[ij])
            .collect();
        assert_close(
            &format!("split {m}x{k}x{n} ta={ta} tb={tb}"),
            &out[0].1.data,
            &want,
            1e-4,
            1e-4,
        );
    }
}

/// Direct convolution (TF semantics) with its input and filter gradients.
fn conv_ref(
    x: &[f32],
    xd: [usize; 4],
    w: &[f32],
    wd: [usize; 4],
    attrs: &Conv2dAttrs,
    dy: &[f32],
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let [n, h, wi, c] = xd;
    let [kh, kw, _, o] = wd;
    let rows = attrs
        .padding
        .resolve(0, h, (kh - 1) * attrs.dilation[0] + 1, attrs.strides[0])
        .unwrap();
    let cols = attrs
        .padding
        .resolve(1, wi, (kw - 1) * attrs.dilation[1] + 1, attrs.strides[1])
        .unwrap();
    let (oh, ow) = (rows.out, cols.out);
    let (mut y, mut dx, mut dw) = (
        vec![0.0; n * oh * ow * o],
        vec![0.0; x.len()],
        vec![0.0; w.len()],
    );
    for b in 0..n {
        for i in 0..oh {
            for j in 0..ow {
                for ki in 0..kh {
                    for kj in 0..kw {
                        let ih = (i * attrs.strides[0] + ki * attrs.dilation[0]) as isize
                            - rows.pad_before as isize;
                        let iw = (j * attrs.strides[1] + kj * attrs.dilation[1]) as isize
                            - cols.pad_before as isize;
                        if ih < 0 || iw < 0 || ih as usize >= h || iw as usize >= wi {
                            continue;
                        }
                        for ci in 0..c {
                            for co in 0..o {
                                let xi = ((b * h + ih as usize) * wi + iw as usize) * c + ci;
                                let wi_ = ((ki * kw + kj) * c + ci) * o + co;
                                let yi = ((b * oh + i) * ow + j) * o + co;
                                y[yi] += x[xi] * w[wi_];
                                dx[xi] += dy[yi] * w[wi_];
                                dw[wi_] += x[xi] * dy[yi];
                            }
                        }
                    }
                }
            }
        }
    }
    (y, dx, dw)
}

/// A convolution of `x` (`xd`) with `w` (`wd`) under `attrs`, its input and filter
/// gradients for the input `dy`, and the convolution again with a fused tanh epilogue: the
/// outputs `y`, `dx`, `dw` and `fused`.
fn conv_passes_graph(attrs: Conv2dAttrs, xd: [usize; 4], wd: [usize; 4]) -> Graph {
    let mut g = Graph::new();
    let x = g.input("x", xd);
    let w = g.input("w", wd);
    let y = g.add(Op::Conv2d(attrs), &[x, w]).unwrap();
    let dy = g.input("dy", g.shape(y).clone());
    let dx = g
        .add(
            Op::Conv2dBackpropInput {
                attrs,
                input_shape: Shape::from(xd),
            },
            &[dy, w],
        )
        .unwrap();
    let dw = g
        .add(
            Op::Conv2dBackpropFilter {
                attrs,
                filter_shape: Shape::from(wd),
            },
            &[x, dy],
        )
        .unwrap();
    let tanh = Program {
        instrs: vec![Instr::Input(0), Instr::Unary(UnaryOp::Tanh, 0)],
    };
    let fused = g
        .add(
            Op::Fused(FusedOp::Conv2d {
                attrs,
                epilogue: tanh,
            }),
            &[x, w],
        )
        .unwrap();
    for (name, id) in [("y", y), ("dx", dx), ("dw", dw), ("fused", fused)] {
        g.add_output(name, id).unwrap();
    }
    g
}

#[test]
fn conv2d_and_both_gradients_match_the_direct_loops() {
    let (xd, wd) = ([2, 6, 5, 3], [3, 2, 3, 4]);
    for attrs in [
        Conv2dAttrs {
            strides: [1, 1],
            dilation: [1, 1],
            padding: Padding::Same,
        },
        Conv2dAttrs {
            strides: [2, 1],
            dilation: [1, 1],
            padding: Padding::Valid,
        },
        Conv2dAttrs {
            strides: [1, 2],
            dilation: [2, 1],
            padding: Padding::Explicit([1, 2, 0, 1]),
        },
    ] {
        let g = conv_passes_graph(attrs, xd, wd);
        let y = g.output("y").unwrap();
        let (xv, wv) = (
            values(xd.iter().product(), 25, -1.0, 1.0),
            values(wd.iter().product(), 26, -1.0, 1.0),
        );
        let dyv = values(g.shape(y).numel(), 27, -1.0, 1.0);
        let out = run(&g, &[("x", &xv), ("w", &wv), ("dy", &dyv)]);
        let (y_want, dx_want, dw_want) = conv_ref(&xv, xd, &wv, wd, &attrs, &dyv);
        assert_close(
            &format!("conv {attrs:?}"),
            &out[0].1.data,
            &y_want,
            1e-5,
            1e-5,
        );
        assert_close(
            &format!("dx {attrs:?}"),
            &out[1].1.data,
            &dx_want,
            1e-5,
            1e-5,
        );
        assert_close(
            &format!("dw {attrs:?}"),
            &out[2].1.data,
            &dw_want,
            1e-5,
            1e-5,
        );
        let tanh_want: Vec<f32> = y_want.iter().map(|v| v.tanh()).collect();
        assert_close(
            &format!("fused {attrs:?}"),
            &out[3].1.data,
            &tanh_want,
            1e-5,
            1e-5,
        );
    }
}

/// A 2-layer MLP with mean-squared-error loss and an SGD update, gradients by hand.
fn mlp_step_graph(batch: usize, d_in: usize, hidden: usize, d_out: usize, lr: f32) -> Graph {
    let mut g = Graph::new();
    let x = g.input("x", [batch, d_in]);
    let t = g.input("t", [batch, d_out]);
    let w1 = g.param("w1", [d_in, hidden]);
    let b1 = g.param("b1", [hidden]);
    let w2 = g.param("w2", [hidden, d_out]);
    // forward
    let z1 = g.matmul(x, w1, false, false).unwrap();
    let z1 = g.binary(BinaryOp::Add, z1, b1).unwrap();
    let h = g.unary(UnaryOp::Relu, z1).unwrap();
    let y = g.matmul(h, w2, false, false).unwrap();
    let e = g.binary(BinaryOp::Sub, y, t).unwrap();
    let se = g.unary(UnaryOp::Square, e).unwrap();
    let loss = g.reduce(ReduceOp::Mean, se, &[0, 1], false).unwrap();
    // backward: dL/dy = 2 e / (batch * d_out)
    let scale = g.scalar(2.0 / (batch * d_out) as f32);
    let dy = g.binary(BinaryOp::Mul, e, scale).unwrap();
    let dw2 = g.matmul(h, dy, true, false).unwrap();
    let dh = g.matmul(dy, w2, false, true).unwrap();
    let zero = g.scalar(0.0);
    let active = g.binary(BinaryOp::Gt, z1, zero).unwrap();
    let dz1 = g.binary(BinaryOp::Mul, dh, active).unwrap();
    let dw1 = g.matmul(x, dz1, true, false).unwrap();
    let db1 = g.reduce(ReduceOp::Sum, dz1, &[0], false).unwrap();
    let lr = g.scalar(lr);
    for (p, d) in [(w1, dw1), (b1, db1), (w2, dw2)] {
        let step = g.binary(BinaryOp::Mul, d, lr).unwrap();
        let new = g.binary(BinaryOp::Sub, p, step).unwrap();
        g.add_update(p, new).unwrap();
    }
    g.add_output("loss", loss).unwrap();
    g
}

/// The same step in plain Rust; returns the loss and updates the parameters.
fn mlp_step_ref(
    x: &[f32],
    t: &[f32],
    w1: &mut [f32],
    b1: &mut [f32],
    w2: &mut [f32],
    dims: (usize, usize, usize, usize),
    lr: f32,
) -> f32 {
    let (b, di, hd, dout) = dims;
    let z1: Vec<f32> = matmul_ref(x, w1, b, di, hd)
        .iter()
        .enumerate()
        .map(|(i, v)| v + b1[i % hd])
        .collect();
    let h: Vec<f32> = z1.iter().map(|v| v.max(0.0)).collect();
    let y = matmul_ref(&h, w2, b, hd, dout);
    let e: Vec<f32> = y.iter().zip(t).map(|(a, b)| a - b).collect();
    let loss = e.iter().map(|v| v * v).sum::<f32>() / (b * dout) as f32;
    let dy: Vec<f32> = e.iter().map(|v| v * 2.0 / (b * dout) as f32).collect();
    let dw2 = matmul_ref(&transpose_ref(&h, b, hd), &dy, hd, b, dout);
    let dh = matmul_ref(&dy, &transpose_ref(w2, hd, dout), b, dout, hd);
    let dz1: Vec<f32> = dh
        .iter()
        .zip(&z1)
        .map(|(d, z)| if *z > 0.0 { *d } else { 0.0 })
        .collect();
    let dw1 = matmul_ref(&transpose_ref(x, b, di), &dz1, di, b, hd);
    let db1: Vec<f32> = (0..hd)
        .map(|j| (0..b).map(|i| dz1[i * hd + j]).sum())
        .collect();
    for (p, d) in [(w1, dw1), (b1, db1), (w2, dw2)] {
        p.iter_mut().zip(d).for_each(|(p, d)| *p -= lr * d);
    }
    loss
}

#[test]
fn mlp_training_steps_match_the_reference() {
    let dims = (16, 10, 32, 4);
    let (b, di, hd, dout) = dims;
    let lr = 0.1;
    let g = mlp_step_graph(b, di, hd, dout, lr);
    let exe = compile(&g, &MemoryPlan::naive(&g)).unwrap();
    let mut state = exe.new_state();
    let (mut w1, mut b1, mut w2) = (
        values(di * hd, 30, -0.5, 0.5),
        values(hd, 31, -0.1, 0.1),
        values(hd * dout, 32, -0.5, 0.5),
    );
    state.set_param("w1", &w1).unwrap();
    state.set_param("b1", &b1).unwrap();
    state.set_param("w2", &w2).unwrap();
    let (x, t) = (
        values(b * di, 33, -1.0, 1.0),
        values(b * dout, 34, -1.0, 1.0),
    );
    let mut losses = vec![];
    for _ in 0..5 {
        let out = exe.run(&mut state, &[("x", &x), ("t", &t)]).unwrap();
        let want = mlp_step_ref(&x, &t, &mut w1, &mut b1, &mut w2, dims, lr);
        assert_close("loss", &out[0].1.data, &[want], 1e-4, 1e-6);
        losses.push(want);
    }
    assert!(
        losses[4] < losses[0],
        "training lowers the loss: {losses:?}"
    );
    assert_close("w1", state.param("w1").unwrap(), &w1, 1e-4, 1e-5);
    assert_close("b1", state.param("b1").unwrap(), &b1, 1e-4, 1e-5);
    assert_close("w2", state.param("w2").unwrap(), &w2, 1e-4, 1e-5);
}

//! Elementwise ops against their reference scalar semantics (`UnaryOp::eval`,
//! `BinaryOp::eval`): every op over wide ranges and edge cases, broadcasting shapes, and
//! seeded random fused programs.

mod common;

use common::{assert_close, run, values};
use ir::{BinaryOp, FusedOp, Graph, Instr, Op, Program, UnaryOp};

/// Tolerance per unary op: (relative, absolute). Exact ops are exact; the transcendentals
/// meet the bounds documented in the backend's math module.
fn unary_tolerance(op: UnaryOp) -> (f32, f32) {
    match op {
        UnaryOp::Exp
        | UnaryOp::Expm1
        | UnaryOp::Log
        | UnaryOp::Log1p
        | UnaryOp::Sigmoid
        | UnaryOp::Tanh => (1e-6, 1e-38),
        UnaryOp::Erf => (1e-6, 1e-38),
        UnaryOp::Rsqrt | UnaryOp::Recip => (1e-7, 0.0),
        _ => (0.0, 0.0),
    }
}

fn edge_cases() -> Vec<f32> {
    let mut v = vec![
        0.0,
        -0.0,
        1.0,
        -1.0,
        1e-30,
        -1e-30,
        1e-7,
        -1e-7,
        0.5,
        -0.5,
        2.0,
        88.0,
        88.7,
        89.0,
        -87.0,
        -100.0,
        -104.0,
        1e30,
        -1e30,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NAN,
        1e-40,
        f32::MIN_POSITIVE,
        0.3466,
        -0.3466,
        0.625,
        4.0,
        -4.0,
        9.5,
        -9.5,
    ];
    v.extend(values(997, 1, -20.0, 20.0));
    v.extend(values(501, 2, -1.0, 1.0));
    v.extend(values(301, 3, -100.0, 100.0));
    v.extend(values(200, 4, 0.0, 1e-3));
    v
}

#[test]
fn every_unary_op_matches_the_reference() {
    let x = edge_cases();
    for op in UnaryOp::ALL {
        let mut g = Graph::new();
        let xi = g.input("x", [x.len()]);
        let y = g.unary(op, xi).unwrap();
        g.add_output("y", y).unwrap();
        let out = run(&g, &[("x", &x)]);
        let want: Vec<f32> = x.iter().map(|&v| op.eval(v)).collect();
        let (rel, abs) = unary_tolerance(op);
        assert_close(op.name(), &out[0].1.data, &want, rel, abs);
    }
}

#[test]
fn every_binary_op_matches_the_reference_with_broadcasting() {
    let a = values(6 * 7, 5, -3.0, 3.0);
    let mut b = values(7, 6, -3.0, 3.0);
    b[2] = a[2]; // equal operands exercise the comparisons' equal case
    for op in BinaryOp::ALL {
        let mut g = Graph::new();
        let ai = g.input("a", [6, 7]);
        let bi = g.input("b", [7]);
        let (ai, bi) = if op == BinaryOp::Pow {
            let abs = g.unary(UnaryOp::Abs, ai).unwrap();
            (abs, bi)
        } else {
            (ai, bi)
        };
        let y = g.binary(op, ai, bi).unwrap();
        g.add_output("y", y).unwrap();
        let out = run(&g, &[("a", &a), ("b", &b)]);
        let want: Vec<f32> = (0..42)
            .map(|i| {
                op.eval(
                    if op == BinaryOp::Pow {
                        a[i].abs()
                    } else {
                        a[i]
                    },
                    b[i % 7],
                )
            })
            .collect();
        let rel = if op == BinaryOp::Pow { 2e-6 } else { 0.0 };
        assert_close(op.name(), &out[0].1.data, &want, rel, 0.0);
    }
}

#[test]
fn pow_special_cases_follow_powf() {
    let a = [
        -2.0,
        -2.0,
        -2.0,
        0.0,
        0.0,
        -0.0,
        1.0,
        5.0,
        f32::NAN,
        2.0,
        0.5,
        10.0,
    ];
    let b = [
        3.0,
        2.0,
        0.5,
        2.0,
        -1.0,
        3.0,
        f32::NAN,
        0.0,
        0.0,
        -3.0,
        100.0,
        -30.0,
    ];
    let mut g = Graph::new();
    let ai = g.input("a", [a.len()]);
    let bi = g.input("b", [b.len()]);
    let y = g.binary(BinaryOp::Pow, ai, bi).unwrap();
    g.add_output("y", y).unwrap();
    let out = run(&g, &[("a", &a), ("b", &b)]);
    let want: Vec<f32> = a.iter().zip(&b).map(|(&x, &y)| x.powf(y)).collect();
    assert_close("pow", &out[0].1.data, &want, 1e-5, 0.0);
}

#[test]
fn broadcast_shapes_cover_scalar_column_row_and_general() {
    let cases: [(&[usize], &[usize]); 5] = [
        (&[5, 9], &[]),
        (&[5, 9], &[5, 1]),
        (&[5, 9], &[9]),
        (&[2, 3, 5], &[3, 1]),
        (&[4, 1, 6], &[3, 1]),
    ];
    for (sa, sb) in cases {
        let mut g = Graph::new();
        let ai = g.input("a", sa);
        let bi = g.input("b", sb);
        let y = g.binary(BinaryOp::Sub, ai, bi).unwrap();
        g.add_output("y", y).unwrap();
        let (na, nb): (usize, usize) = (sa.iter().product(), sb.iter().product());
        let (a, b) = (values(na, 7, -1.0, 1.0), values(nb, 8, -1.0, 1.0));
        let out = run(&g, &[("a", &a), ("b", &b)]);
        let shape = g.shape(y).clone();
        let (sa_s, sb_s) = (
            ir::Shape::new(sa.to_vec()).broadcast_strides(&shape),
            ir::Shape::new(sb.to_vec()).broadcast_strides(&shape),
        );
        let ostr = shape.strides();
        let want: Vec<f32> = (0..shape.numel())
            .map(|flat| {
                let idx: Vec<usize> = ostr
                    .iter()
                    .zip(shape.dims())
                    .map(|(&s, &d)| flat / s % d)
                    .collect();
                let ia: usize = idx.iter().zip(&sa_s).map(|(i, s)| i * s).sum();
                let ib: usize = idx.iter().zip(&sb_s).map(|(i, s)| i * s).sum();
                a[ia] - b[ib]
            })
            .collect();
        assert_close(&format!("{sa:?} - {sb:?}"), &out[0].1.data, &want, 0.0, 0.0);
    }
}

/// A random straight-line program over `n_inputs` inputs, avoiding ops whose domain the
/// random values would leave (log of negatives is fine: NaN matches NaN).
fn random_program(seed: u32, n_inputs: usize) -> Program {
    let pick = |i: u32, n: usize| (ir::random::uniform(seed, i) * n as f32) as usize % n;
    let mut instrs: Vec<Instr> = (0..n_inputs).map(Instr::Input).collect();
    instrs.push(Instr::Const(0.75));
    for step in 0..12u32 {
        let len = instrs.len();
        let (r1, r2, r3) = (
            pick(step * 5 + 1, len),
            pick(step * 5 + 2, len),
            pick(step * 5 + 3, len),
        );
        let instr = match pick(step * 5 + 4, 3) {
            0 => Instr::Unary(UnaryOp::ALL[pick(step * 5 + 5, UnaryOp::ALL.len())], r1),
            1 => {
                let op = BinaryOp::ALL[pick(step * 5 + 6, BinaryOp::ALL.len())];
                if op == BinaryOp::Pow {
                    Instr::Binary(BinaryOp::Mul, r1, r2)
                } else {
                    Instr::Binary(op, r1, r2)
                }
            }
            _ => Instr::Select(r1, r2, r3),
        };
        instrs.push(instr);
    }
    Program { instrs }
}

#[test]
fn random_fused_programs_match_program_eval() {
    for seed in 0..40 {
        let program = random_program(seed, 3);
        let mut g = Graph::new();
        let a = g.input("a", [3, 10]);
        let b = g.input("b", [10]);
        let c = g.input("c", []);
        let y = g
            .add(Op::Fused(FusedOp::Elementwise(program.clone())), &[a, b, c])
            .unwrap();
        g.add_output("y", y).unwrap();
        let (av, bv, cv) = (
            values(30, seed * 3 + 100, -2.0, 2.0),
            values(10, seed * 3 + 101, -2.0, 2.0),
            values(1, seed * 3 + 102, -2.0, 2.0),
        );
        let out = run(&g, &[("a", &av), ("b", &bv), ("c", &cv)]);
        let want: Vec<f32> = (0..30)
            .map(|i| program.eval(&[av[i], bv[i % 10], cv[0]]))
            .collect();
        // Chains of approximations compound; discontinuous ops (floor, sign, comparisons)
        // may flip on values within rounding of their threshold, so a few mismatches are
        // allowed only where the reference itself sits near such a threshold.
        let bad = out[0]
            .1
            .data
            .iter()
            .zip(&want)
            .filter(|(g, w)| {
                !((g.is_nan() && w.is_nan()) || (*g - *w).abs() <= 1e-4 * w.abs() + 1e-5)
            })
            .count();
        assert!(
            bad == 0,
            "seed {seed}: {bad} mismatches\n{program:?}\ngot  {:?}\nwant {want:?}",
            out[0].1.data
        );
    }
}

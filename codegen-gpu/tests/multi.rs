//! Multi-result kernels (`fused.multi`) on the GPU: every generated module validates with
//! naga (no GPU needed), a kernel binding more buffers than a device allows is split into
//! several dispatches, and on a GPU the results and in-place param updates agree with the
//! interpreter (elementwise loops, reducing loops over inner, outer and several axes with
//! argmax and NaN inputs, horizontal kernels, unread results).

mod common;

use codegen_gpu::{generate, generate_within, validate};
use common::{CONTRACTION_TOL, assert_close, bindings};
use ir::interp::Bindings;
use ir::{
    BinaryOp, FusedOp, Graph, Instr, Loop, LoopResult, MemoryPlan, MultiKernel, Op, Program,
    ReduceOp, Shape, UnaryOp,
};

/// Named leaves and their shapes.
type Leaves<'a> = &'a [(&'a str, &'a [usize])];

/// A reducing loop to check: name, domain, the second input's shape, reduced axes,
/// reductions.
type ReducingCase = (
    &'static str,
    &'static [usize],
    &'static [usize],
    &'static [usize],
    &'static [ReduceOp],
);

/// A graph of one multi-result kernel over `inputs` then `params` (its operands in that
/// order): results `outputs` become outputs `r<k>`, and each `(param, result)` of `updates`
/// that param's new value.
fn kernel_graph(
    leaves: (Leaves, Leaves),
    loops: Vec<Loop>,
    outputs: &[usize],
    updates: &[(&str, usize)],
) -> Graph {
    let (inputs, params) = leaves;
    let mut g = Graph::new();
    let mut operands: Vec<_> = inputs
        .iter()
        .map(|&(n, s)| g.input(n, Shape::from(s)))
        .collect();
    operands.extend(params.iter().map(|&(n, s)| g.param(n, Shape::from(s))));
    let kernel = MultiKernel { loops };
    let shapes = kernel.result_shapes().unwrap();
    let multi = g.add(Op::Fused(FusedOp::Multi(kernel)), &operands).unwrap();
    for (index, shape) in shapes.into_iter().enumerate() {
        let update = updates.iter().find(|&&(_, r)| r == index);
        if outputs.contains(&index) || update.is_some() {
            let e = g.add(Op::Extract { index, shape }, &[multi]).unwrap();
            if outputs.contains(&index) {
                g.add_output(format!("r{index}"), e).unwrap();
            }
            if let Some(&(name, _)) = update {
                g.add_update(g.find_leaf(name).unwrap(), e).unwrap();
            }
        }
    }
    g
}

/// `p' = p - lr * (0.9 m + g)` in place over `p` (operand `p`), from the gradient (operand
/// `grad`) and rate (operand `rate`), plus `exp(g)` as a second result.
fn sgd_momentum_loop(domain: &[usize], [grad, rate, p, m]: [usize; 4]) -> Loop {
    use BinaryOp::{Add, Mul, Sub};
    use Instr::{Binary, Const, Input, Unary};
    Loop {
        domain: Shape::from(domain),
        axes: vec![],
        body: Program {
            instrs: vec![
                Input(grad),
                Input(rate),
                Input(p),
                Input(m),
                Const(0.9),
                Binary(Mul, 4, 3),
                Binary(Add, 5, 0), // r6 m'
                Binary(Mul, 1, 6),
                Binary(Sub, 2, 7), // r8 p'
                Unary(UnaryOp::Exp, 0),
            ],
        },
        results: vec![
            LoopResult::Element(6),
            LoopResult::Element(8),
            LoopResult::Element(9),
        ],
    }
}

/// A loop reducing `axes` of `domain`: `x * y` and `tanh(x)` as elements, then every op of
/// `ops` over the product.
fn reducing_loop(domain: &[usize], axes: &[usize], ops: &[ReduceOp], [x, y]: [usize; 2]) -> Loop {
    let mut results = vec![LoopResult::Element(2), LoopResult::Element(3)];
    results.extend(ops.iter().map(|&op| LoopResult::Reduce {
        op,
        reg: 2,
        keep_dims: op == ReduceOp::Max,
    }));
    Loop {
        domain: Shape::from(domain),
        axes: axes.to_vec(),
        body: Program {
            instrs: vec![
                Instr::Input(x),
                Instr::Input(y),
                Instr::Binary(BinaryOp::Mul, 0, 1),
                Instr::Unary(UnaryOp::Tanh, 0),
            ],
        },
        results,
    }
}

/// The test graphs: an in-place update loop, reducing loops of every shape of reduction,
/// and a horizontal kernel of both kinds with one unread result.
fn cases() -> Vec<(&'static str, Graph)> {
    use ReduceOp::{ArgMax, Max, Mean, Min, Sum};
    let d: &[usize] = &[7, 13];
    let mut cases = vec![(
        "in place",
        kernel_graph(
            (&[("g", d), ("lr", &[])], &[("p", d), ("m", d)]),
            vec![sgd_momentum_loop(d, [0, 1, 2, 3])],
            &[2],
            &[("m", 0), ("p", 1)],
        ),
    )];
    let reducing: [ReducingCase; 4] = [
        ("rows", &[6, 37], &[37], &[1], &[Sum, Max, ArgMax, Mean]),
        ("columns", &[37, 19], &[19], &[0], &[Sum, Min]),
        (
            "bias gradient",
            &[3, 5, 5, 7],
            &[7],
            &[0, 1, 2],
            &[Sum, Mean],
        ),
        ("outer and inner", &[4, 9, 6], &[9, 1], &[0, 2], &[Max, Sum]),
    ];
    for (name, domain, other, axes, ops) in reducing {
        let outputs: Vec<usize> = (0..2 + ops.len()).collect();
        let loops = vec![reducing_loop(domain, axes, ops, [0, 1])];
        let g = kernel_graph((&[("x", domain), ("y", other)], &[]), loops, &outputs, &[]);
        cases.push((name, g));
    }
    let big: &[usize] = &[65, 67];
    cases.push((
        "horizontal",
        kernel_graph(
            (
                &[("g", big), ("lr", &[]), ("x", &[9, 40]), ("y", &[40])],
                &[("p", big), ("m", big)],
            ),
            vec![
                sgd_momentum_loop(big, [0, 1, 4, 5]),
                reducing_loop(&[9, 40], &[1], &[Sum, ArgMax], [2, 3]),
            ],
            // The momentum's exp (result 2) is not read.
            &[3, 4, 5, 6],
            &[("m", 0), ("p", 1)],
        ),
    ));
    cases
}

#[test]
fn multi_result_kernels_validate_and_split_under_a_binding_limit() {
    for (name, g) in cases() {
        ir::verify::verify(&g).unwrap();
        for plan in [
            MemoryPlan::naive(&g),
            passes::memory_plan::plan(&g).unwrap(),
        ] {
            let kernels = generate(&g, &plan).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(kernels.len(), 1, "{name}: one dispatch");
            for k in &kernels {
                validate(k).unwrap_or_else(|e| panic!("{name}: {e}\n{}", k.wgsl));
            }
        }
    }
    // The horizontal kernel binds the arena, g, lr, x, y, p and m: four at a time splits it.
    let (_, g) = cases().pop().unwrap();
    let plan = passes::memory_plan::plan(&g).unwrap();
    let split = generate_within(&g, &plan, 4).unwrap();
    assert_eq!(split.len(), 2, "one dispatch per loop");
    for k in &split {
        assert!(k.bindings.len() <= 4, "{}", k.wgsl);
        validate(k).unwrap_or_else(|e| panic!("{e}\n{}", k.wgsl));
    }
    assert!(
        generate_within(&g, &plan, 2).is_err(),
        "a loop needs more than two"
    );
}

/// Bindings in `[-2, 2)` with a NaN in every eleventh element of the inputs.
fn bindings_with_nans(g: &Graph) -> Bindings {
    let mut b = bindings(g, -2.0, 2.0);
    for id in g.inputs() {
        if let Op::Input { name, .. } = g.op(id) {
            let t = b.get_mut(name).unwrap();
            t.data.iter_mut().step_by(11).for_each(|v| *v = f32::NAN);
        }
    }
    b
}

#[test]
fn multi_result_kernels_agree_with_the_interpreter() {
    let Some(gpu) = common::gpu() else { return };
    for (name, g) in cases() {
        let b = bindings_with_nans(&g);
        for plan in [
            MemoryPlan::naive(&g),
            passes::memory_plan::plan(&g).unwrap(),
        ] {
            let (outputs, params) =
                common::run_gpu(gpu, &g, &plan, &b, 2).unwrap_or_else(|e| panic!("{name}: {e}"));
            let mut reference = b.clone();
            for (step, got) in outputs.iter().enumerate() {
                let want = ir::interp::run(&g, &reference).unwrap();
                for ((out, got), (_, want)) in got.iter().zip(&want.outputs) {
                    let what = format!("{name} step {step} {out}");
                    assert_close(&what, &got.data, &want.data, CONTRACTION_TOL);
                }
                for (param, value) in want.updates {
                    reference.insert(param, value);
                }
            }
            for (param, got) in params {
                let what = format!("{name} param {param}");
                assert_close(&what, &got, &reference[&param].data, CONTRACTION_TOL);
            }
        }
    }
}

#[test]
fn a_reducing_loop_writes_an_element_result_in_place() {
    let Some(gpu) = common::gpu() else { return };
    // p' = p * x written over p, and p''s column sums.
    let d: &[usize] = &[37, 19];
    let lp = Loop {
        domain: Shape::from(d),
        axes: vec![0],
        body: Program {
            instrs: vec![
                Instr::Input(1),
                Instr::Input(0),
                Instr::Binary(BinaryOp::Mul, 0, 1),
            ],
        },
        results: vec![
            LoopResult::Element(2),
            LoopResult::Reduce {
                op: ReduceOp::Sum,
                reg: 2,
                keep_dims: false,
            },
        ],
    };
    let g = kernel_graph((&[("x", d)], &[("p", d)]), vec![lp], &[1], &[("p", 0)]);
    let plan = passes::memory_plan::plan(&g).unwrap();
    assert_eq!(plan.of(g.updates[0].1), ir::Storage::InPlace(0));
    let b = bindings(&g, -1.0, 1.0);
    let (outputs, params) = common::run_gpu(gpu, &g, &plan, &b, 2).unwrap();
    let mut reference = b.clone();
    for got in &outputs {
        let want = ir::interp::run(&g, &reference).unwrap();
        assert_close(
            "sums",
            &got[0].1.data,
            &want.outputs[0].1.data,
            CONTRACTION_TOL,
        );
        for (param, value) in want.updates {
            reference.insert(param, value);
        }
    }
    assert_close("p", &params[0].1, &reference["p"].data, CONTRACTION_TOL);
}

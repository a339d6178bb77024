//! Multi-result kernels (`fused.multi`) against the reference interpreter: elementwise loops
//! with several results updating params in place, reducing loops on every emitter path
//! (vectorised columns, four-lane rows, one element at a time for argmax) with element
//! results, NaN inputs, horizontal kernels whose big loops are split into chunks, and
//! results that are never stored. Each graph runs under the naive plan and the real one.
//!
//! Tolerance: `|got - want| <= 2e-5 |want| + 1e-5` (the compiled reductions add in a
//! different order than the interpreter; transcendentals are within 1e-6 relative).

mod common;

use codegen_cpu::compile;
use common::{assert_close, values};
use ir::interp::{self, Bindings};
use ir::{
    BinaryOp, FusedOp, Graph, Instr, Loop, LoopResult, MemoryPlan, MultiKernel, Op, Program,
    ReduceOp, Shape, Storage, Tensor, UnaryOp,
};

const REL: f32 = 2e-5;
const ABS: f32 = 1e-5;

/// A multi-result kernel over fresh leaves: `inputs` then `params` are its operands in
/// order; results `outputs` are graph outputs `r<k>`, and `updates` name a param and the
/// result that becomes its new value.
struct Spec<'a> {
    inputs: &'a [(&'a str, &'a [usize])],
    params: &'a [(&'a str, &'a [usize])],
    loops: Vec<Loop>,
    outputs: &'a [usize],
    updates: &'a [(&'a str, usize)],
}

impl Spec<'_> {
    fn graph(&self) -> Graph {
        let mut g = Graph::new();
        let mut operands: Vec<_> = self
            .inputs
            .iter()
            .map(|&(n, s)| g.input(n, Shape::from(s)))
            .collect();
        operands.extend(self.params.iter().map(|&(n, s)| g.param(n, Shape::from(s))));
        let kernel = MultiKernel {
            loops: self.loops.clone(),
        };
        let shapes = kernel.result_shapes().unwrap();
        let multi = g.add(Op::Fused(FusedOp::Multi(kernel)), &operands).unwrap();
        for (index, shape) in shapes.into_iter().enumerate() {
            let updated = self.updates.iter().find(|&&(_, r)| r == index);
            if !self.outputs.contains(&index) && updated.is_none() {
                continue;
            }
            let e = g.add(Op::Extract { index, shape }, &[multi]).unwrap();
            if self.outputs.contains(&index) {
                g.add_output(format!("r{index}"), e).unwrap();
            }
            if let Some(&(name, _)) = updated {
                g.add_update(g.find_leaf(name).unwrap(), e).unwrap();
            }
        }
        ir::verify::verify(&g).unwrap();
        g
    }
}

/// Bindings in `[-2, 2)` for every leaf, with NaN at every `nan_every`-th element of the
/// inputs when it is set.
fn bindings(g: &Graph, seed: u32, nan_every: Option<usize>) -> Bindings {
    g.node_ids()
        .filter_map(|id| match g.op(id) {
            Op::Input { name, shape } | Op::Param { name, shape } => {
                let mut data = values(shape.numel(), seed + id.index() as u32, -2.0, 2.0);
                if let (Some(n), Op::Input { .. }) = (nan_every, g.op(id)) {
                    data.iter_mut().step_by(n).for_each(|v| *v = f32::NAN);
                }
                Some((name.clone(), Tensor::new(shape.clone(), data).unwrap()))
            }
            _ => None,
        })
        .collect()
}

/// Run `steps` steps compiled under `plan` and by the interpreter; outputs and params must
/// agree after every step.
fn compare(what: &str, g: &Graph, plan: &MemoryPlan, b: &Bindings, steps: usize) {
    let exe = compile(g, plan).unwrap_or_else(|e| panic!("{what}: {e}"));
    let mut state = exe.new_state();
    for leaf in exe.params() {
        state.set_param(&leaf.name, &b[&leaf.name].data).unwrap();
    }
    let mut reference = b.clone();
    let inputs: Vec<(&str, &[f32])> = exe
        .inputs()
        .iter()
        .map(|l| (l.name.as_str(), b[&l.name].data.as_slice()))
        .collect();
    for step in 0..steps {
        let got = exe.run(&mut state, &inputs).unwrap();
        let want = interp::run(g, &reference).unwrap();
        for ((name, got), (_, want)) in got.iter().zip(&want.outputs) {
            assert_eq!(got.shape, want.shape, "{what}: {name}");
            let at = format!("{what} step {step} {name}");
            assert_close(&at, &got.data, &want.data, REL, ABS);
        }
        for (name, value) in want.updates {
            let at = format!("{what} step {step} param {name}");
            assert_close(&at, state.param(&name).unwrap(), &value.data, REL, ABS);
            reference.insert(name, value);
        }
    }
}

/// Compare under the naive plan and under the planner's; returns the planner's.
fn check(what: &str, spec: &Spec, nan_every: Option<usize>) -> MemoryPlan {
    let g = spec.graph();
    let b = bindings(&g, 11, nan_every);
    compare(
        &format!("{what} (naive)"),
        &g,
        &MemoryPlan::naive(&g),
        &b,
        2,
    );
    let plan = passes::memory_plan::plan(&g).unwrap();
    compare(&format!("{what} (planned)"), &g, &plan, &b, 3);
    plan
}

fn program(instrs: Vec<Instr>) -> Program {
    Program { instrs }
}

/// Kernel operand numbers of the values [`adam_loop`] reads.
struct AdamOperands {
    grad: usize,
    rate: usize,
    row: usize,
    p: usize,
    m: usize,
    v: usize,
}

/// Adam's updates of `p`, `m`, `v` (results 0, 1, 2: `m'`, `v'`, `p'`) from a gradient and a
/// rate, plus `tanh(grad) + row` (broadcast down the columns) as result 3.
fn adam_loop(domain: &[usize], o: &AdamOperands) -> Loop {
    use BinaryOp::{Add, Div, Mul, Sub};
    use Instr::{Binary, Const, Input, Unary};
    Loop {
        domain: Shape::from(domain),
        axes: vec![],
        body: program(vec![
            Input(o.grad),             // r0
            Input(o.rate),             // r1
            Input(o.p),                // r2
            Input(o.m),                // r3
            Input(o.v),                // r4
            Const(0.9),                // r5
            Binary(Mul, 5, 3),         // r6
            Binary(Add, 6, 0),         // r7 m'
            Unary(UnaryOp::Square, 0), // r8
            Binary(Add, 4, 8),         // r9 v'
            Unary(UnaryOp::Sqrt, 9),   // r10
            Const(1e-3),               // r11
            Binary(Add, 10, 11),       // r12
            Binary(Div, 7, 12),        // r13
            Binary(Mul, 1, 13),        // r14
            Binary(Sub, 2, 14),        // r15 p'
            Unary(UnaryOp::Tanh, 0),   // r16
            Input(o.row),              // r17
            Binary(Add, 16, 17),       // r18
        ]),
        results: vec![
            LoopResult::Element(7),
            LoopResult::Element(9),
            LoopResult::Element(15),
            LoopResult::Element(18),
        ],
    }
}

/// [`adam_loop`]'s operands when the kernel's operands are `g, lr, row, p, m, v`.
const ADAM_FIRST: AdamOperands = AdamOperands {
    grad: 0,
    rate: 1,
    row: 2,
    p: 3,
    m: 4,
    v: 5,
};

#[test]
fn an_elementwise_loop_writes_several_results_and_updates_params_in_place() {
    let d: &[usize] = &[7, 13];
    let spec = Spec {
        inputs: &[("g", d), ("lr", &[]), ("row", &[13])],
        params: &[("p", d), ("m", d), ("v", d)],
        loops: vec![adam_loop(d, &ADAM_FIRST)],
        outputs: &[3],
        updates: &[("m", 0), ("v", 1), ("p", 2)],
    };
    let plan = check("adam", &spec, None);
    let g = spec.graph();
    let in_place = g
        .updates
        .iter()
        .filter(|&&(_, v)| matches!(plan.of(v), Storage::InPlace(_)))
        .count();
    assert_eq!(in_place, 3, "m, v and p update in place");
}

/// A loop over `domain` reducing `axes`: `x * y` (operands `x` and `y`, broadcast) and
/// `exp(x)` as elements (results 0 and 1); `ops` applied to the product (results 2..), and
/// `sum` to `exp(x)` (the last result).
fn reducing_loop(domain: &[usize], axes: &[usize], ops: &[ReduceOp], [x, y]: [usize; 2]) -> Loop {
    let mut results = vec![LoopResult::Element(2), LoopResult::Element(3)];
    for &op in ops {
        results.push(LoopResult::Reduce {
            op,
            reg: 2,
            keep_dims: op == ReduceOp::Sum,
        });
    }
    results.push(LoopResult::Reduce {
        op: ReduceOp::Sum,
        reg: 3,
        keep_dims: false,
    });
    Loop {
        domain: Shape::from(domain),
        axes: axes.to_vec(),
        body: program(vec![
            Instr::Input(x),
            Instr::Input(y),
            Instr::Binary(BinaryOp::Mul, 0, 1),
            Instr::Unary(UnaryOp::Exp, 0),
        ]),
        results,
    }
}

/// A reducing loop to check: name, domain, the second input's shape, reduced axes,
/// reductions.
type ReducingCase = (
    &'static str,
    &'static [usize],
    &'static [usize],
    &'static [usize],
    &'static [ReduceOp],
);

#[test]
fn reducing_loops_agree_on_every_emitter_path() {
    use ReduceOp::{ArgMax, Max, Mean, Min, Sum};
    let cases: [ReducingCase; 6] = [
        ("rows", &[6, 37], &[37], &[1], &[Sum, Max, Mean, Min]),
        (
            "rows with argmax",
            &[6, 37],
            &[6, 1],
            &[1],
            &[ArgMax, Max, Sum],
        ),
        ("columns", &[37, 19], &[19], &[0], &[Sum, Max, Mean]),
        (
            "bias gradient",
            &[3, 5, 5, 7],
            &[7],
            &[0, 1, 2],
            &[Sum, Mean],
        ),
        ("middle axis", &[4, 9, 6], &[9, 1], &[1], &[Sum, Min]),
        (
            "outer and inner axes",
            &[4, 9, 6],
            &[6],
            &[0, 2],
            &[Sum, Max],
        ),
    ];
    for (name, domain, other, axes, ops) in cases {
        let n_results = 3 + ops.len();
        let outputs: Vec<usize> = (0..n_results).collect();
        let spec = Spec {
            inputs: &[("x", domain), ("y", other)],
            params: &[],
            loops: vec![reducing_loop(domain, axes, ops, [0, 1])],
            outputs: &outputs,
            updates: &[],
        };
        check(name, &spec, None);
        check(&format!("{name} with NaNs"), &spec, Some(5));
    }
}

#[test]
fn a_horizontal_kernel_runs_every_loop_once_big_ones_in_chunks() {
    let big: &[usize] = &[300, 100];
    // `count + lr` in place: run twice in a step, it would add twice.
    let scalar = Loop {
        domain: Shape::scalar(),
        axes: vec![],
        body: program(vec![
            Instr::Input(8),
            Instr::Input(1),
            Instr::Binary(BinaryOp::Add, 0, 1),
        ]),
        results: vec![LoopResult::Element(2)],
    };
    // Operands: g, lr, row, x, y, then the params p, m, v, count.
    let adam = AdamOperands {
        grad: 0,
        rate: 1,
        row: 2,
        p: 5,
        m: 6,
        v: 7,
    };
    let spec = Spec {
        inputs: &[
            ("g", big),
            ("lr", &[]),
            ("row", &[100]),
            ("x", &[200, 120]),
            ("y", &[120]),
        ],
        params: &[("p", big), ("m", big), ("v", big), ("count", &[])],
        loops: vec![
            adam_loop(big, &adam),
            reducing_loop(&[200, 120], &[1], &[ReduceOp::Max], [3, 4]),
            scalar,
        ],
        outputs: &[3, 4, 5, 6, 7],
        updates: &[("m", 0), ("v", 1), ("p", 2), ("count", 8)],
    };
    // Three steps in place: a loop run twice in a step would move the params twice.
    check("horizontal", &spec, None);
    let g = spec.graph();
    let plan = passes::memory_plan::plan(&g).unwrap();
    let clif = codegen_cpu::clif(&g, &plan, None).unwrap();
    assert_eq!(clif.len(), 2, "one kernel and the step");
    assert!(
        clif[1].text.contains("kiln_parallel_for"),
        "the big loops are split into chunks:\n{}",
        clif[1].text
    );
}

#[test]
fn results_nobody_reads_are_not_stored() {
    let d: &[usize] = &[5, 9];
    let spec = Spec {
        inputs: &[("x", d), ("y", &[9])],
        params: &[],
        loops: vec![reducing_loop(
            d,
            &[1],
            &[ReduceOp::Max, ReduceOp::Mean],
            [0, 1],
        )],
        // Element 1 (exp x) and the max (result 2) have no extract.
        outputs: &[0, 3, 4],
        updates: &[],
    };
    check("dead results", &spec, None);
}

#[test]
fn a_reducing_loop_writes_an_element_result_in_place() {
    use ReduceOp::{ArgMax, Max, Sum};
    // p' = 0.9 p + x, written over p, and a reduction of p' over `axes`, on the columns, rows
    // and one-element-at-a-time paths.
    let cases: [(&[usize], &[usize], ReduceOp); 3] = [
        (&[37, 19], &[0], Sum),
        (&[6, 37], &[1], Max),
        (&[6, 37], &[1], ArgMax),
    ];
    for (domain, axes, op) in cases {
        let lp = Loop {
            domain: Shape::from(domain),
            axes: axes.to_vec(),
            body: program(vec![
                Instr::Input(1),
                Instr::Const(0.9),
                Instr::Binary(BinaryOp::Mul, 0, 1),
                Instr::Input(0),
                Instr::Binary(BinaryOp::Add, 2, 3),
            ]),
            results: vec![
                LoopResult::Element(4),
                LoopResult::Reduce {
                    op,
                    reg: 4,
                    keep_dims: false,
                },
            ],
        };
        let spec = Spec {
            inputs: &[("x", domain)],
            params: &[("p", domain)],
            loops: vec![lp],
            outputs: &[1],
            updates: &[("p", 0)],
        };
        let plan = check(&format!("in place {op:?}"), &spec, None);
        let g = spec.graph();
        assert_eq!(plan.of(g.updates[0].1), Storage::InPlace(0), "{op:?}");
    }
}

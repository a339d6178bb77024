//! Helpers shared by the integration tests: compile a graph with the naive plan, run it,
//! compare against reference values with a stated tolerance, and run several steps of a
//! graph beside the interpreter ([`compare_steps`]).

#![allow(dead_code)]

pub mod cnn;

use codegen_cpu::compile;
use ir::interp::{self, Bindings};
use ir::{Graph, MemoryPlan, Tensor};

/// Deterministic pseudo-random values in `[lo, hi)`.
pub fn values(n: usize, seed: u32, lo: f32, hi: f32) -> Vec<f32> {
    (0..n as u32)
        .map(|i| lo + (hi - lo) * ir::random::uniform(seed, i))
        .collect()
}

/// Compile with the naive plan and run once; outputs by name.
pub fn run(graph: &Graph, inputs: &[(&str, &[f32])]) -> Vec<(String, Tensor)> {
    let exe = compile(graph, &MemoryPlan::naive(graph)).expect("compiles");
    let mut state = exe.new_state();
    exe.run(&mut state, inputs).expect("runs")
}

/// Assert `got` matches `want` elementwise: `|got - want| <= rel * |want| + abs`, NaN
/// matching NaN.
pub fn assert_close(what: &str, got: &[f32], want: &[f32], rel: f32, abs: f32) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let ok = (g.is_nan() && w.is_nan()) || g == w || (g - w).abs() <= rel * w.abs() + abs;
        assert!(ok, "{what}[{i}]: got {g}, want {w}");
    }
}

/// Compile `graph` under `plan`, run `steps` steps from `b`, and compare outputs and
/// parameters with the interpreter after every step.
pub fn compare_steps(
    what: &str,
    graph: &Graph,
    plan: &MemoryPlan,
    b: &Bindings,
    steps: usize,
    rel: f32,
    abs: f32,
) {
    let exe = compile(graph, plan).unwrap_or_else(|e| panic!("{what}: {e}"));
    let mut state = exe.new_state();
    for leaf in exe.params() {
        state.set_param(&leaf.name, &b[&leaf.name].data).unwrap();
    }
    let mut reference = b.clone();
    for step in 0..steps {
        let inputs: Vec<(&str, &[f32])> = exe
            .inputs()
            .iter()
            .map(|l| (l.name.as_str(), b[&l.name].data.as_slice()))
            .collect();
        let got = exe
            .run(&mut state, &inputs)
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        let want = interp::run(graph, &reference).unwrap();
        for ((name, g), (_, w)) in got.iter().zip(&want.outputs) {
            assert_eq!(g.shape, w.shape, "{what}: output {name}");
            assert_close(
                &format!("{what} step {step} output {name}"),
                &g.data,
                &w.data,
                rel,
                abs,
            );
        }
        for (name, value) in want.updates {
            assert_close(
                &format!("{what} step {step} param {name}"),
                state.param(&name).unwrap(),
                &value.data,
                rel,
                abs,
            );
            reference.insert(name, value);
        }
    }
}

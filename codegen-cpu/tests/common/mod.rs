//! Helpers shared by the integration tests: compile a graph with the naive plan, run it,
//! and compare against reference values with a stated tolerance.

#![allow(dead_code)]

use codegen_cpu::compile;
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

//! The differential fuzzer: a random small graph ([`generate`]) run on the reference
//! interpreter (`ir::interp`, which defines what every op means) and on the CPU JIT twice —
//! as built, under the naive memory plan, and after `passes::pipeline::optimize` with the
//! real memory plan — comparing every output and every updated parameter.
//!
//! Tolerance, per output: `|got - want| <= REL · |want| + ABS · max(1, max|want|)` with
//! [`REL`] = 1e-4 and [`ABS`] = 1e-5 (fusion and the kernels sum in another order than the
//! interpreter's loops, and errors compound over a dozen ops; scaling `ABS` by the output's
//! largest value covers cancellation in sums and products); NaN matches NaN only, and an
//! infinity matches the same infinity only. In training mode the JIT's parameters are set to
//! the interpreter's before each step, so both backends start every step from one state.
//! It does NOT fuzz the GPU backend (no device in CI) or generate graphs by itself.

mod generate;

pub use generate::{Case, generate};

use codegen_cpu::compile;
use ir::interp::{self, Bindings};
use ir::{Graph, MemoryPlan, Tensor};

/// Relative tolerance.
pub const REL: f32 = 1e-4;
/// Absolute tolerance, scaled by the output's largest magnitude (at least 1).
pub const ABS: f32 = 1e-5;

/// What one case did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Both plans of the JIT matched the interpreter; `nodes` is the graph's size.
    Matched {
        /// Nodes in the generated graph.
        nodes: usize,
        /// Whether it was a training graph (autodiff and updates, two steps).
        train: bool,
    },
    /// The input made no case (autodiff refused the graph).
    Skipped,
}

/// Generates the case `data` describes and compares the backends on it; a mismatch, a
/// failed compile or a failed run is an `Err` describing it and the graph.
pub fn run_case(data: &[u8]) -> Result<Outcome, String> {
    let Some(case) = generate(data) else {
        return Ok(Outcome::Skipped);
    };
    compare(&case).map_err(|e| format!("{e}\ngraph:\n{}", case.graph))?;
    Ok(Outcome::Matched {
        nodes: case.graph.len(),
        train: case.steps > 1,
    })
}

/// Compares the interpreter with the JIT under both plans.
pub fn compare(case: &Case) -> Result<(), String> {
    compare_plan(
        "naive plan",
        &case.graph,
        &MemoryPlan::naive(&case.graph),
        case,
    )?;
    let optimized =
        passes::pipeline::optimize(&case.graph).map_err(|e| format!("optimize: {e}"))?;
    let plan = passes::memory_plan::plan(&optimized).map_err(|e| format!("memory plan: {e}"))?;
    compare_plan("optimized", &optimized, &plan, case)
}

/// Runs `graph` (the case's graph or its optimized form) under `plan` for the case's steps.
fn compare_plan(what: &str, graph: &Graph, plan: &MemoryPlan, case: &Case) -> Result<(), String> {
    let exe = compile(graph, plan).map_err(|e| format!("{what}: compile: {e}"))?;
    let mut state = exe.new_state();
    let mut reference: Bindings = case.bindings.clone();
    for step in 0..case.steps {
        for leaf in exe.params() {
            state
                .set_param(&leaf.name, &reference[&leaf.name].data)
                .map_err(|e| format!("{what}: set {}: {e}", leaf.name))?;
        }
        let inputs: Vec<(&str, &[f32])> = exe
            .inputs()
            .iter()
            .map(|l| (l.name.as_str(), reference[&l.name].data.as_slice()))
            .collect();
        let got = exe
            .run(&mut state, &inputs)
            .map_err(|e| format!("{what}: run: {e}"))?;
        let want = interp::run(&case.graph, &reference).map_err(|e| format!("interp: {e}"))?;
        for ((name, g), (_, w)) in got.iter().zip(&want.outputs) {
            check(&format!("{what}, step {step}, output {name}"), g, w)?;
        }
        for (name, value) in want.updates {
            let g = state
                .param(&name)
                .ok_or_else(|| format!("{what}: no param {name}"))?;
            let g = Tensor::new(value.shape.clone(), g.to_vec()).ok_or("param size")?;
            check(&format!("{what}, step {step}, param {name}"), &g, &value)?;
            reference.insert(name, value);
        }
    }
    Ok(())
}

/// Whether `got` matches `want` within the tolerance (see the module doc).
fn check(what: &str, got: &Tensor, want: &Tensor) -> Result<(), String> {
    if got.shape != want.shape {
        return Err(format!("{what}: shape {} vs {}", got.shape, want.shape));
    }
    let scale = want
        .data
        .iter()
        .filter(|w| w.is_finite())
        .fold(1f32, |m, w| m.max(w.abs()));
    for (i, (&g, &w)) in got.data.iter().zip(&want.data).enumerate() {
        let ok = if g.is_finite() && w.is_finite() {
            (g - w).abs() <= REL * w.abs() + ABS * scale
        } else {
            g == w || (g.is_nan() && w.is_nan())
        };
        if !ok {
            return Err(format!("{what}[{i}]: jit {g}, interpreter {w}"));
        }
    }
    Ok(())
}

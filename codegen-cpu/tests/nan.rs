//! NaN propagation in the CPU backend: every case of `ir/tests/nan_cases` (each op that
//! takes a maximum or a minimum or selects on a comparison, an MLP, a CNN with max pooling;
//! all-NaN and single-NaN inputs) compiled as given (one kernel per node) and after the
//! pass pipeline (fused epilogues, prologues and multi-result kernels), NaN exactly where a
//! NaN input reaches and equal to the interpreter elsewhere.

#[path = "../../ir/tests/nan_cases/mod.rs"]
mod nan_cases;

use codegen_cpu::compile;
use ir::{Graph, MemoryPlan, interp};

/// Run `graph` under `plan` once; the output `y`.
fn run(graph: &Graph, plan: &MemoryPlan, case: &nan_cases::Case) -> Vec<f32> {
    let exe = compile(graph, plan).unwrap_or_else(|e| panic!("{}: {e}", case.name));
    let mut state = exe.new_state();
    for leaf in exe.params() {
        state
            .set_param(&leaf.name, &case.bindings[&leaf.name].data)
            .unwrap();
    }
    let inputs: Vec<(&str, &[f32])> = exe
        .inputs()
        .iter()
        .map(|l| (l.name.as_str(), case.bindings[&l.name].data.as_slice()))
        .collect();
    let out = exe.run(&mut state, &inputs).unwrap();
    out.into_iter().find(|(n, _)| n == "y").unwrap().1.data
}

#[test]
fn every_case_is_nan_exactly_where_a_nan_input_reaches() {
    for case in nan_cases::cases() {
        let want = interp::run(&case.graph, &case.bindings).unwrap().outputs[0]
            .1
            .data
            .clone();
        let naive = run(&case.graph, &MemoryPlan::naive(&case.graph), &case);
        nan_cases::check(&case, &naive, &want, 1e-5);
        let fused = passes::pipeline::optimize(&case.graph).unwrap();
        let plan = passes::memory_plan::plan(&fused).unwrap();
        nan_cases::check(&case, &run(&fused, &plan, &case), &want, 1e-5);
    }
}

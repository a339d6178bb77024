//! NaN propagation in the GPU backend (WGSL lets a compiler assume no NaN, so the kernels
//! test NaN on its bits): every case of `ir/tests/nan_cases` (each op that takes a maximum
//! or a minimum or selects on a comparison, an MLP, a CNN with max pooling; all-NaN and
//! single-NaN inputs) compiled as given and after the pass pipeline, NaN exactly where a
//! NaN input reaches and equal to the interpreter elsewhere. Skips itself without a GPU
//! (see `codegen_gpu::gpu_tests_enabled`).

mod common;
#[path = "../../ir/tests/nan_cases/mod.rs"]
mod nan_cases;

use ir::{MemoryPlan, interp};

#[test]
fn every_case_is_nan_exactly_where_a_nan_input_reaches() {
    let Some(gpu) = common::gpu() else { return };
    for case in nan_cases::cases() {
        let want = interp::run(&case.graph, &case.bindings).unwrap().outputs[0]
            .1
            .data
            .clone();
        let fused = passes::pipeline::optimize(&case.graph).unwrap();
        let fused_plan = passes::memory_plan::plan(&fused).unwrap();
        for (graph, plan) in [
            (&case.graph, MemoryPlan::naive(&case.graph)),
            (&fused, fused_plan),
        ] {
            let (outputs, _) = common::run_gpu(gpu, graph, &plan, &case.bindings, 1)
                .unwrap_or_else(|e| panic!("{}: {e}", case.name));
            let y = &outputs[0].iter().find(|(n, _)| n == "y").unwrap().1.data;
            nan_cases::check(&case, y, &want, 1e-4);
        }
    }
}

//! Every node kind on the GPU against the reference interpreter, under the naive memory
//! plan (every node its own slot) and the real one (reused slots, aliases, in-place
//! updates). Tolerances: [`common::ELEMENTWISE_TOL`] relative for elementwise ops (exact
//! for movement ops and random numbers), [`common::CONTRACTION_TOL`] for contractions,
//! windows and reductions. Runs on lavapipe in CI; `KILN_GPU_TESTS=skip` skips.

mod common;

use ir::MemoryPlan;

#[test]
fn every_node_kind_agrees_with_the_interpreter() {
    let Some(gpu) = common::gpu() else { return };
    let mut failures = Vec::new();
    let cases = common::catalogue();
    for case in &cases {
        let bindings = common::bindings(&case.graph, case.lo, case.hi);
        let want = ir::interp::run(&case.graph, &bindings).unwrap();
        for (plan_name, plan) in [("naive", MemoryPlan::naive(&case.graph)), ("planned", passes::memory_plan::plan(&case.graph).unwrap())] {
            let got = match common::run_gpu(gpu, &case.graph, &plan, &bindings, 1) {
                Ok((outputs, _)) => outputs.into_iter().next().unwrap(),
                Err(e) => {
                    failures.push(format!("{} ({plan_name}): {e}", case.name));
                    continue;
                }
            };
            for ((name, g), (_, w)) in got.iter().zip(&want.outputs) {
                let what = format!("{} ({plan_name}) output {name}", case.name);
                if let Err(msg) = std::panic::catch_unwind(|| common::assert_close(&what, &g.data, &w.data, case.tol)) {
                    failures.push(msg.downcast_ref::<String>().cloned().unwrap_or(what));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), cases.len(), failures.join("\n"));
}

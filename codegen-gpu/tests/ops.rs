//! Every node kind on the GPU against the reference interpreter, under the naive memory
//! plan (every node its own slot) and the real one (reused slots, aliases, in-place
//! updates). Tolerances: [`common::ELEMENTWISE_TOL`] relative for elementwise ops (exact
//! for movement ops, gather/scatter-add and random numbers), [`common::CONTRACTION_TOL`]
//! for contractions, windows and reductions. Runs on lavapipe in CI; skipped where no GPU adapter exists
//! (see `codegen_gpu::gpu_tests_enabled`).

mod common;

use ir::MemoryPlan;

/// The catalogue cases whose names start with one of `prefixes` (each test takes a share,
/// so the harness runs them in parallel).
fn check(prefixes: &[&str]) {
    let Some(gpu) = common::gpu() else { return };
    let mut failures = Vec::new();
    let cases: Vec<common::Case> = common::catalogue()
        .into_iter()
        .filter(|c| prefixes.iter().any(|p| c.name.starts_with(p)))
        .collect();
    assert!(!cases.is_empty(), "no cases start with {prefixes:?}");
    for case in &cases {
        let bindings = common::bindings(&case.graph, case.lo, case.hi);
        let want = ir::interp::run(&case.graph, &bindings).unwrap();
        for (plan_name, plan) in [
            ("naive", MemoryPlan::naive(&case.graph)),
            ("planned", passes::memory_plan::plan(&case.graph).unwrap()),
        ] {
            let got = match common::run_gpu(gpu, &case.graph, &plan, &bindings, 1) {
                Ok((outputs, _)) => outputs.into_iter().next().unwrap(),
                Err(e) => {
                    failures.push(format!("{} ({plan_name}): {e}", case.name));
                    continue;
                }
            };
            for ((name, g), (_, w)) in got.iter().zip(&want.outputs) {
                let what = format!("{} ({plan_name}) output {name}", case.name);
                if let Err(msg) = std::panic::catch_unwind(|| {
                    common::assert_close(&what, &g.data, &w.data, case.tol)
                }) {
                    failures.push(msg.downcast_ref::<String>().cloned().unwrap_or(what));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn elementwise_ops_agree() {
    check(&["unary_", "binary_", "compare_", "select"]);
}

#[test]
fn reductions_agree() {
    check(&["reduce_"]);
}

#[test]
fn matmuls_and_convolutions_agree() {
    check(&["matmul_", "conv2d_"]);
}

#[test]
fn depthwise_convolutions_and_pooling_agree() {
    check(&["depthwise_", "pool_"]);
}

#[test]
fn movement_ops_gather_and_random_numbers_agree() {
    check(&[
        "reshape",
        "transpose",
        "broadcast",
        "stop_gradient",
        "slice",
        "concat",
        "pad",
        "random_",
        "gather_",
    ]);
}

#[test]
fn fused_ops_agree() {
    check(&["fused_"]);
}

#[test]
fn the_tests_cover_the_whole_catalogue() {
    let prefixes = [
        "unary_",
        "binary_",
        "compare_",
        "select",
        "reduce_",
        "matmul_",
        "conv2d_",
        "depthwise_",
        "pool_",
        "reshape",
        "transpose",
        "broadcast",
        "stop_gradient",
        "slice",
        "concat",
        "pad",
        "random_",
        "gather_",
        "fused_",
    ];
    for case in common::catalogue() {
        assert!(
            prefixes.iter().any(|p| case.name.starts_with(p)),
            "no test runs {}",
            case.name
        );
    }
}

#[test]
fn grids_past_the_per_axis_workgroup_limit_fold_into_y() {
    let Some(gpu) = common::gpu() else { return };
    // 64 * 65535 elements fill the x axis of a flat kernel; one reduction workgroup per
    // output fills it at 65535 outputs.
    let n = 64 * 65535 + 100;
    let mut g = ir::Graph::new();
    let x = g.input("x", [n]);
    let y = g.unary(ir::UnaryOp::Neg, x).unwrap();
    let rows = 65535 + 50;
    let head = g
        .add(
            ir::Op::Slice {
                starts: vec![0],
                ends: vec![2 * rows],
            },
            &[x],
        )
        .unwrap();
    let pairs = g.reshape(head, [rows, 2]).unwrap();
    let sums = g.reduce(ir::ReduceOp::Sum, pairs, &[1], false).unwrap();
    g.add_output("y", y).unwrap();
    g.add_output("sums", sums).unwrap();
    let data: Vec<f32> = (0..n).map(|i| (i % 1000) as f32).collect();
    let exe = gpu
        .compile(&g, &passes::memory_plan::plan(&g).unwrap())
        .unwrap();
    assert!(
        exe.kernels().filter(|k| k.workgroups[1] > 1).count() == 2,
        "the flat and the reduction kernels fold their grids"
    );
    let mut state = exe.new_state().unwrap();
    let out = exe.run(&mut state, &[("x", &data)]).unwrap();
    let neg: Vec<f32> = data.iter().map(|v| -v).collect();
    let pair_sums: Vec<f32> = data[..2 * rows].chunks(2).map(|p| p[0] + p[1]).collect();
    common::assert_close("neg", &out[0].1.data, &neg, 0.0);
    common::assert_close("pair sums", &out[1].1.data, &pair_sums, 0.0);
}
